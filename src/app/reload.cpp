#include "reload.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <map>
#include <set>
#include <string>

#include "plugmq/os/service_manager.hpp"

namespace plugmq::app {

namespace {

// The keys (to_json's paths) that apply while the server runs: Context::apply_live, the log
// level, and retention.default_days (read by `account add`, not by the server).
const std::set<std::string>& live_keys() {
  static const std::set<std::string> keys = {
      "log_level",
      "limits.max_connections",
      "limits.max_packet_size",
      "limits.max_subscriptions",
      "limits.queue_max_messages",
      "limits.queue_max_bytes",
      "limits.slow_subscriber_timeout_s",
      "limits.connect_timeout_s",
      "sessions.max_inflight",
      "sessions.expiry_days",
      "sessions.max_replay",
      "enrollment.session_timeout_s",
      "enrollment.attempts_per_minute",
      "logins.failures_per_address",
      "logins.failures_per_identity",
      "retention.default_days",
      "http.cors_origins",
      "metrics.token",
  };
  return keys;
}

// The keys whose values the log never shows.
const std::set<std::string>& secret_keys() {
  static const std::set<std::string> keys = {"metrics.token"};
  return keys;
}

// "limits.max_connections" -> its value as JSON text, for every leaf.
void flatten(const nlohmann::ordered_json& j, const std::string& prefix,
             std::map<std::string, std::string>& out) {
  if (!j.is_object()) {
    out[prefix] = j.dump();
    return;
  }
  for (const auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, out);
}

std::map<std::string, std::string> flat(const Config& c) {
  std::map<std::string, std::string> out;
  flatten(to_json(c), "", out);
  return out;
}

// What apply_live() changes, copied from `next` into the running configuration.
void adopt_live(Config& running, const Config& next) {
  service::ServerOptions& r = running.server;
  const service::ServerOptions& n = next.server;
  running.log_level = next.log_level;
  running.retention_days = next.retention_days;
  r.max_connections = n.max_connections;
  r.max_packet_size = n.max_packet_size;
  r.max_subscriptions = n.max_subscriptions;
  r.queue_max_messages = n.queue_max_messages;
  r.queue_max_bytes = n.queue_max_bytes;
  r.slow_subscriber_timeout = n.slow_subscriber_timeout;
  r.connect_timeout = n.connect_timeout;
  r.max_inflight = n.max_inflight;
  r.session_expiry_days = n.session_expiry_days;
  r.max_replay = n.max_replay;
  r.enroll_timeout = n.enroll_timeout;
  r.enroll_attempts_per_minute = n.enroll_attempts_per_minute;
  r.login_failures_per_address = n.login_failures_per_address;
  r.login_failures_per_identity = n.login_failures_per_identity;
  r.http.cors_origins = n.http.cors_origins;
  r.http.metrics_token = n.http.metrics_token;
}

}  // namespace

void Reloader::reload() {
  os::notify_reloading();
  reload_config();
  reload_tls();
  os::notify_ready(status_);
}

// A failure keeps the old certificate and key, and the server keeps serving.
void Reloader::reload_tls() {
  const service::TlsOptions& tls = server_.context().options.mqtts;
  if (!tls.enabled()) {
    spdlog::info("SIGHUP: no TLS certificate configured, nothing to reload");
    return;
  }
  try {
    server_.reload_tls();
    spdlog::info("TLS certificate reloaded ({}, {})", tls.cert.string(), tls.key.string());
  } catch (const std::exception& e) {
    spdlog::error("TLS certificate not reloaded, keeping the previous one: {}", e.what());
  }
}

void Reloader::reload_config() {
  Config next;
  try {
    next = serve_config(args_);
    fit_connections_to_fd_limit(next.server);
  } catch (const std::exception& e) {
    spdlog::error("SIGHUP: configuration not reloaded, nothing changed: {}", e.what());
    return;
  }
  const auto before = flat(running_);
  const auto after = flat(next);
  int applied = 0;
  int pending = 0;
  for (const auto& [key, value] : after) {
    const auto old = before.find(key);
    if (old != before.end() && old->second == value) continue;
    std::string from = old == before.end() ? "unset" : old->second;
    std::string to = value;
    if (secret_keys().count(key)) {  // said to have changed, never shown
      from = from == "\"\"" || from == "unset" ? "(none)" : "(set)";
      to = to == "\"\"" ? "(none)" : "(a new one)";
    }
    if (live_keys().count(key)) {
      spdlog::info("SIGHUP: {} changed from {} to {}", key, from, to);
      ++applied;
    } else {
      spdlog::warn("SIGHUP: {} changed from {} to {}: takes effect after a restart", key, from, to);
      ++pending;
    }
  }
  adopt_live(running_, next);
  spdlog::set_level(*parse_log_level(running_.log_level));
  server_.context().apply_live(running_.server);
  spdlog::info("SIGHUP: configuration reloaded{}: {} setting(s) changed, {} waiting for a restart",
               running_.source.empty() ? "" : " from " + running_.source, applied, pending);
}

}  // namespace plugmq::app
