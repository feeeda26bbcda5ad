// The configuration in force as JSON (serve --check-config --json): every key, with its value.
#include <chrono>
#include <string_view>

#include "config_sections.hpp"
#include "plugmq/app/config.hpp"

namespace plugmq::app {

using ojson = nlohmann::ordered_json;

nlohmann::ordered_json to_json(const Config& c) {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const service::ServerOptions& o = c.server;
  ojson j;
  if (c.data_dir) j["data_dir"] = c.data_dir->string();
  j["log_level"] = c.log_level;
  j["io_threads"] = o.io_threads;
  j["mqtt"] = {{"listen", to_string(o.mqtt)}};
  j["mqtts"] = {{"listen", to_string(o.mqtts.listen)},
                {"cert", o.mqtts.cert.string()},
                {"key", o.mqtts.key.string()}};
  auto listen = [](const std::optional<service::Endpoint>& ep) {
    return ep ? to_string(*ep) : std::string(kOff);
  };
  j["http"] = {{"listen", listen(o.http.listen)},
               {"max_body_bytes", o.http.max_body_bytes},
               {"max_records_per_publish", o.http.max_records_per_publish},
               {"request_timeout_s", duration_cast<seconds>(o.http.request_timeout).count()},
               {"idle_timeout_s", duration_cast<seconds>(o.http.idle_timeout).count()},
               {"cors_origins", o.http.cors_origins}};
  j["https"] = {{"listen", listen(o.http.tls_listen)}};
  j["limits"] = {
      {"max_connections", o.max_connections},
      {"max_packet_size", o.max_packet_size},
      {"max_subscriptions", o.max_subscriptions},
      {"queue_max_messages", o.queue_max_messages},
      {"queue_max_bytes", o.queue_max_bytes},
      {"slow_subscriber_timeout_s", duration_cast<seconds>(o.slow_subscriber_timeout).count()},
      {"connect_timeout_s", duration_cast<seconds>(o.connect_timeout).count()}};
  j["sessions"] = {{"max_inflight", o.max_inflight},
                   {"expiry_days", o.session_expiry_days},
                   {"max_replay", o.max_replay}};
  j["enrollment"] = {{"session_timeout_s", duration_cast<seconds>(o.enroll_timeout).count()},
                     {"attempts_per_minute", o.enroll_attempts_per_minute}};
  j["logins"] = {{"failures_per_address", o.login_failures_per_address},
                 {"failures_per_identity", o.login_failures_per_identity},
                 {"hash_threads", o.hash_threads},
                 {"max_queued_hashes", o.max_queued_hashes}};
  j["retention"] = {{"default_days", c.retention_days}};
  j["storage"] = {{"commit_interval_ms", o.commit_interval.count()}};
  j["metrics"] = {{"token", o.http.metrics_token}};
  return j;
}

}  // namespace plugmq::app
