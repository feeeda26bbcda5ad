#include "plugmq/service/context.hpp"

#include <spdlog/spdlog.h>

#include "plugmq/platform/ids.hpp"

namespace plugmq::service {

void Context::load_stored_sessions() {
  store::SessionStore& stored = writer.sessions();
  // A server killed with clients connected left their sessions online.
  const std::int64_t now = platform::now_ms();
  const std::int64_t marked = stored.all_offline(now);
  // Those not seen for sessions.expiry_days go before the server serves (the writer sweeps them
  // every minute from then on): a server that was down for long resumes none of them.
  const std::int64_t expired = stored.expire(options.session_expiry_days, now);
  if (expired > 0) {
    spdlog::info("sessions: deleted {} persistent sessions not seen for {} days (expiry_days)",
                 expired, options.session_expiry_days);
  }
  std::size_t n = 0;
  for (const auto& [identity, client_id] : stored.keys()) {
    session_table.note_stored(broker::Registry::key(identity, client_id));
    ++n;
  }
  if (n > 0) {
    spdlog::info("{} persistent sessions stored{}", n,
                 marked > 0 ? fmt::format(" ({} marked offline)", marked) : std::string());
  }
}

void Context::apply_live(const ServerOptions& o) {
  connection_limits.max_packet_size = o.max_packet_size;
  connection_limits.max_subscriptions = o.max_subscriptions;
  connection_limits.connect_timeout = o.connect_timeout;
  connection_limits.enroll_timeout = o.enroll_timeout;
  connection_limits.max_inflight = o.max_inflight;
  live.max_connections = o.max_connections;
  live.queue_max_messages = o.queue_max_messages;
  live.queue_max_bytes = o.queue_max_bytes;
  live.slow_subscriber_timeout = o.slow_subscriber_timeout;
  live.max_replay = o.max_replay;
  live.cors_origins.set(o.http.cors_origins);
  live.metrics_token.set(o.http.metrics_token);
  enroll_per_address.set_max_failures(o.enroll_attempts_per_minute);
  enroll_per_serial.set_max_failures(o.enroll_attempts_per_minute);
  login_per_address.set_max_failures(o.login_failures_per_address);
  login_per_identity.set_max_failures(o.login_failures_per_identity);
  writer.set_session_expiry_days(o.session_expiry_days);
}

void Context::mark_devices_offline(const char* when) {
  store.post([when](StoreExecutor::Repos& r) {
    const std::int64_t n = r.identity.all_devices_offline(platform::now_ms());
    if (n > 0) spdlog::info("{} devices marked offline ({})", n, when);
  });
}

}  // namespace plugmq::service
