// The sections of a configuration file, each read into its part of the Config: every key
// checked for its type and range, an unknown key named with the closest known one.
#include "config_sections.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "plugmq/http/cors.hpp"

namespace plugmq::app {

namespace {

using ojson = nlohmann::ordered_json;

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// One JSON object of the configuration, at key path `prefix` ("" for the top level). Its keys
// must be among `known`; the first one that is not is an error, with a suggestion when a known
// key is close.
class Section {
 public:
  Section(const Source& src, const ojson& obj, std::string prefix,
          std::initializer_list<std::string_view> known)
      : src_(src), obj_(obj), prefix_(std::move(prefix)) {
    for (const auto& [key, value] : obj_.items()) {
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string message = "unknown key " + quoted(join(prefix_, key));
      std::string_view best;
      std::size_t best_distance = 3;  // suggest only close matches
      for (std::string_view k : known) {
        if (auto d = edit_distance(key, k); d < best_distance) {
          best = k;
          best_distance = d;
        }
      }
      if (!best.empty()) message += " (did you mean " + quoted(join(prefix_, best)) + "?)";
      src_.fail(message);
    }
  }

  const Source& source() const { return src_; }

  std::optional<long long> integer(std::string_view key, long long lo, long long hi) const {
    const ojson* v = find(key);
    if (!v) return std::nullopt;
    const std::string expect = "an integer " + std::to_string(lo) + ".." + std::to_string(hi);
    if (!v->is_number_integer()) bad(key, expect, *v);
    if (v->is_number_unsigned()) {
      const auto u = v->get<std::uint64_t>();
      // Non-negative numbers parse as unsigned, maybe beyond any long long: hi is checked first.
      if (u > static_cast<std::uint64_t>(hi) || static_cast<long long>(u) < lo) {
        bad(key, expect, *v);
      }
      return static_cast<long long>(u);
    }
    const auto n = v->get<std::int64_t>();
    if (n < lo || n > hi) bad(key, expect, *v);
    return n;
  }

  std::optional<std::string> string(std::string_view key, bool allow_empty) const {
    const ojson* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_string() || (!allow_empty && v->get_ref<const std::string&>().empty())) {
      bad(key, allow_empty ? "a string" : "a non-empty string", *v);
    }
    return v->get<std::string>();
  }

  // An array of strings; nothing when the key is absent.
  std::optional<std::vector<std::string>> strings(std::string_view key) const {
    const ojson* v = find(key);
    if (!v) return std::nullopt;
    std::vector<std::string> out;
    if (!v->is_array()) bad(key, "an array of strings", *v);
    for (const auto& item : *v) {
      if (!item.is_string()) bad(key, "an array of strings", *v);
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  // ADDR:PORT, or "off": the listener is off (an empty optional inside).
  std::optional<std::optional<service::Endpoint>> endpoint_or_off(std::string_view key) const {
    const ojson* v = find(key);
    if (!v) return std::nullopt;
    if (v->is_string() && v->get_ref<const std::string&>() == kOff) {
      return std::optional<service::Endpoint>();
    }
    if (!v->is_string()) bad(key, "a string \"ADDR:PORT\" or \"off\"", *v);
    try {
      return std::optional<service::Endpoint>(parse_endpoint(v->get_ref<const std::string&>()));
    } catch (const std::invalid_argument& e) {
      bad(key, std::string("ADDR:PORT or \"off\" (") + e.what() + ")", *v);
    }
  }

  std::optional<service::Endpoint> endpoint(std::string_view key) const {
    const ojson* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) bad(key, "a string \"ADDR:PORT\"", *v);
    try {
      return parse_endpoint(v->get_ref<const std::string&>());
    } catch (const std::invalid_argument& e) {
      bad(key, std::string("ADDR:PORT (") + e.what() + ")", *v);
    }
  }

  // A nested object; nothing when the key is absent.
  std::optional<Section> section(std::string_view key,
                                 std::initializer_list<std::string_view> known) const {
    const ojson* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_object()) bad(key, "an object", *v);
    return Section(src_, *v, join(prefix_, key), known);
  }

  [[noreturn]] void bad(std::string_view key, const std::string& expect, const ojson& got) const {
    src_.fail(quoted(join(prefix_, key)) + " must be " + expect + ", got " + shown(got));
  }

 private:
  const ojson* find(std::string_view key) const {
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }

  const Source& src_;
  const ojson& obj_;
  std::string prefix_;
};

// The top level's own keys: data_dir, log_level, io_threads.
void parse_top(const Section& top, Config& cfg) {
  const Source& src = top.source();
  if (auto d = top.string("data_dir", false)) cfg.data_dir = src.resolve(*d);
  if (auto l = top.string("log_level", true)) {
    if (!parse_log_level(*l)) {
      top.bad("log_level", "one of " + std::string(kLogLevels), ojson(*l));
    }
    cfg.log_level = *l;
  }
  if (auto n = top.integer("io_threads", 0, kMaxIoThreads)) {
    cfg.server.io_threads = static_cast<unsigned>(*n);
  }
}

// "mqtt" and "mqtts".
void parse_mqtt(const Section& top, service::ServerOptions& o) {
  const Source& src = top.source();
  if (auto mqtt = top.section("mqtt", {"listen"})) {
    if (auto ep = mqtt->endpoint("listen")) o.mqtt = *ep;
  }
  if (auto mqtts = top.section("mqtts", {"listen", "cert", "key"})) {
    if (auto ep = mqtts->endpoint("listen")) o.mqtts.listen = *ep;
    if (auto c = mqtts->string("cert", true)) o.mqtts.cert = src.resolve(*c);
    if (auto k = mqtts->string("key", true)) o.mqtts.key = src.resolve(*k);
  }
}

// "http" and "https".
void parse_http(const Section& top, service::HttpOptions& o) {
  if (auto http = top.section("http", {"listen", "max_body_bytes", "max_records_per_publish",
                                       "request_timeout_s", "idle_timeout_s",
                                       "cors_origins"})) {
    if (auto ep = http->endpoint_or_off("listen")) o.listen = *ep;
    if (auto n = http->integer("max_body_bytes", kMinBodyBytes, kMaxBodyBytes)) {
      o.max_body_bytes = *n;
    }
    if (auto n = http->integer("max_records_per_publish", 1, kMaxRecordsPerPublish)) {
      o.max_records_per_publish = *n;
    }
    if (auto n = http->integer("request_timeout_s", 1, kMaxTimeoutS)) {
      o.request_timeout = std::chrono::seconds(*n);
    }
    if (auto n = http->integer("idle_timeout_s", 1, kMaxIdleTimeoutS)) {
      o.idle_timeout = std::chrono::seconds(*n);
    }
    if (auto origins = http->strings("cors_origins")) {
      for (const auto& origin : *origins) {
        if (auto why = http::check_cors_origin(origin); !why.empty()) {
          http->source().fail("\"http.cors_origins\": " + why);
        }
      }
      o.cors_origins = std::move(*origins);
    }
  }
  if (auto metrics = top.section("metrics", {"token"})) {
    if (auto t = metrics->string("token", true)) o.metrics_token = *t;
  }
  if (auto https = top.section("https", {"listen"})) {
    if (auto ep = https->endpoint_or_off("listen")) o.tls_listen = *ep;
  }
}

// "limits": connections, packets, subscriptions and outgoing queues.
void parse_limits(const Section& top, service::ServerOptions& o) {
  auto limits = top.section(
      "limits", {"max_connections", "max_packet_size", "max_subscriptions", "queue_max_messages",
                 "queue_max_bytes", "slow_subscriber_timeout_s", "connect_timeout_s"});
  if (!limits) return;
  if (auto n = limits->integer("max_connections", 1, kMaxConnections)) o.max_connections = *n;
  if (auto n = limits->integer("max_packet_size", kMinPacketSize, kMaxPacketSize)) {
    o.max_packet_size = *n;
  }
  if (auto n = limits->integer("max_subscriptions", 1, kMaxSubscriptions)) {
    o.max_subscriptions = *n;
  }
  if (auto n = limits->integer("queue_max_messages", 1, kMaxQueueMessages)) {
    o.queue_max_messages = *n;
  }
  if (auto n = limits->integer("queue_max_bytes", kMinQueueBytes, kMaxQueueBytes)) {
    o.queue_max_bytes = *n;
  }
  if (auto n = limits->integer("slow_subscriber_timeout_s", 1, kMaxTimeoutS)) {
    o.slow_subscriber_timeout = std::chrono::seconds(*n);
  }
  if (auto n = limits->integer("connect_timeout_s", 1, kMaxTimeoutS)) {
    o.connect_timeout = std::chrono::seconds(*n);
  }
}

// "sessions": MQTT sessions' QoS 1/2 delivery.
void parse_sessions(const Section& top, service::ServerOptions& o) {
  auto sessions = top.section("sessions", {"max_inflight", "expiry_days", "max_replay"});
  if (!sessions) return;
  if (auto n = sessions->integer("max_inflight", 1, kMaxInflight)) o.max_inflight = *n;
  if (auto n = sessions->integer("expiry_days", 0, kMaxExpiryDays)) {
    o.session_expiry_days = static_cast<int>(*n);
  }
  if (auto n = sessions->integer("max_replay", 0, kMaxReplay)) o.max_replay = *n;
}

// "enrollment" and "logins".
void parse_attempts(const Section& top, service::ServerOptions& o) {
  if (auto enroll = top.section("enrollment", {"session_timeout_s", "attempts_per_minute"})) {
    if (auto n = enroll->integer("session_timeout_s", 1, kMaxTimeoutS)) {
      o.enroll_timeout = std::chrono::seconds(*n);
    }
    if (auto n = enroll->integer("attempts_per_minute", 1, kMaxEnrollAttempts)) {
      o.enroll_attempts_per_minute = static_cast<unsigned>(*n);
    }
  }
  if (auto logins = top.section("logins", {"failures_per_address", "failures_per_identity",
                                           "hash_threads", "max_queued_hashes"})) {
    if (auto n = logins->integer("failures_per_address", 1, kMaxLoginFailures)) {
      o.login_failures_per_address = static_cast<unsigned>(*n);
    }
    if (auto n = logins->integer("failures_per_identity", 1, kMaxLoginFailures)) {
      o.login_failures_per_identity = static_cast<unsigned>(*n);
    }
    if (auto n = logins->integer("hash_threads", 0, kMaxIoThreads)) {
      o.hash_threads = static_cast<unsigned>(*n);
    }
    if (auto n = logins->integer("max_queued_hashes", 1, kMaxQueuedHashes)) {
      o.max_queued_hashes = *n;
    }
  }
}

// "storage" and "retention".
void parse_storage(const Section& top, Config& cfg) {
  if (auto storage = top.section("storage", {"commit_interval_ms"})) {
    if (auto n = storage->integer("commit_interval_ms", 0, kMaxCommitIntervalMs)) {
      cfg.server.commit_interval = std::chrono::milliseconds(*n);
    }
  }
  if (auto retention = top.section("retention", {"default_days"})) {
    if (auto n = retention->integer("default_days", 0, kMaxRetentionDays)) {
      cfg.retention_days = static_cast<int>(*n);
    }
  }
}

}  // namespace

void parse_sections(const ojson& root, const Source& src, Config& cfg) {
  const Section top(src, root, "",
                    {"data_dir", "log_level", "io_threads", "mqtt", "mqtts", "http", "https",
                     "limits", "sessions", "enrollment", "logins", "retention", "storage",
                     "metrics"});
  parse_top(top, cfg);
  parse_mqtt(top, cfg.server);
  parse_http(top, cfg.server.http);
  parse_limits(top, cfg.server);
  parse_sessions(top, cfg.server);
  parse_attempts(top, cfg.server);
  parse_storage(top, cfg);
}

}  // namespace plugmq::app
