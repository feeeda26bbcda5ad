#include "plugmq/service/context.hpp"

#include <spdlog/spdlog.h>

#include "plugmq/platform/ids.hpp"

namespace plugmq::service {

void Context::load_stored_sessions() {
  store::SessionStore& stored = writer.sessions();
  // A server killed with clients connected left their sessions online.
  const std::int64_t marked = stored.all_offline(platform::now_ms());
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

void Context::mark_devices_offline(const char* when) {
  store.post([when](StoreExecutor::Repos& r) {
    const std::int64_t n = r.identity.all_devices_offline(platform::now_ms());
    if (n > 0) spdlog::info("{} devices marked offline ({})", n, when);
  });
}

}  // namespace plugmq::service
