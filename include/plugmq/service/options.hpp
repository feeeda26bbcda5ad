// Everything the network layer needs to know, with the documented defaults.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace plugmq::service {

struct Endpoint {
  std::string address = "0.0.0.0";
  std::uint16_t port = 1883;
};

// The TLS listener (SPEC 2): on when both a certificate and a key are configured.
struct TlsOptions {
  Endpoint listen{"0.0.0.0", 8883};
  std::filesystem::path cert;  // PEM: the server certificate, then any intermediates
  std::filesystem::path key;   // PEM private key, unencrypted
  bool enabled() const { return !cert.empty() && !key.empty(); }
};

// The HTTP REST API (SPEC 10): plain `http`, and `https` on the MQTT TLS certificate and key.
struct HttpOptions {
  std::optional<Endpoint> listen = Endpoint{"0.0.0.0", 8080};      // nothing: no http listener
  std::optional<Endpoint> tls_listen = Endpoint{"0.0.0.0", 8443};  // used when TLS is configured
  std::size_t max_body_bytes = 1024 * 1024;                        // a larger request body gets 413
  std::size_t max_records_per_publish = 1000;  // records in one PUT /iot/data; more gets 413
  // A request must arrive whole (headers and body) within this once its first byte did.
  std::chrono::milliseconds request_timeout{30000};
  // A keep-alive connection with no request for this long is closed.
  std::chrono::milliseconds idle_timeout{60000};
  // The origins whose browser pages may call the API (CORS, http/cors.hpp): "scheme://host[:port]"
  // or "*" for any; none: cross-origin requests are not allowed.
  std::vector<std::string> cors_origins;
  // GET /metrics needs "Authorization: Bearer" this when set (the config's metrics.token);
  // without it, only loopback peers may scrape (SPEC 12).
  std::string metrics_token;
};

struct ServerOptions {
  Endpoint mqtt;
  TlsOptions mqtts;
  HttpOptions http;
  std::filesystem::path data_dir;
  unsigned io_threads = 0;    // 0: one per core
  unsigned read_threads = 2;  // reader threads (and SQLite read connections)
  std::size_t max_connections = 100000;
  std::size_t max_packet_size = 1024 * 1024;  // bytes of remaining length
  // Filters one session may hold; a SUBSCRIBE past it gets 0x80 for each further new filter.
  std::size_t max_subscriptions = 1000;
  // Per-session outgoing queue, QoS 1/2 messages not yet acknowledged included: data past either
  // limit is dropped for that subscriber.
  std::size_t queue_max_messages = 10000;
  std::size_t queue_max_bytes = 8 * 1024 * 1024;
  // Unacknowledged QoS 1/2 messages sent to one session at a time (SPEC 11); the rest wait in
  // order, counted in the queue above.
  std::size_t max_inflight = 32;
  // A persistent session not resumed for this many days is deleted; 0: never (SPEC 11).
  int session_expiry_days = 30;
  // A resumed persistent session replays at most this many positions of what it missed: the
  // oldest past it are skipped, counted and logged.
  std::int64_t max_replay = 1'000'000;
  // A subscriber whose queue stays full (it keeps losing messages) this long is disconnected.
  std::chrono::milliseconds slow_subscriber_timeout{10000};
  std::chrono::milliseconds connect_timeout{10000};   // first packet must be CONNECT by then
  std::chrono::milliseconds directory_refresh{1000};  // how often admin changes are picked up
  std::chrono::milliseconds enroll_timeout{30000};    // enrollment sessions end by then
  // Failed enrollments per minute allowed per client address and per serial, then 429.
  unsigned enroll_attempts_per_minute = 10;
  // Failed logins (MQTT and HTTP) per minute allowed per client address, and per identity whose
  // secret is a person's password (an account, a prototype with a password); past them a login
  // is refused unchecked (CONNACK 5, HTTP 429). Attempts in flight count (service/attempt.hpp).
  unsigned login_failures_per_address = 30;
  unsigned login_failures_per_identity = 10;
  // Threads that check people's passwords (slow hashes), 0: one per two cores; checks queued
  // past max_queued_hashes are refused as "server unavailable" (service/hash_pool.hpp).
  unsigned hash_threads = 0;
  std::size_t max_queued_hashes = 256;
  // QoS 0 records are committed at most this often (store::DataWriterOptions).
  std::chrono::milliseconds commit_interval{100};
};

}  // namespace plugmq::service
