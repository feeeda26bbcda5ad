#include "plugmq/broker/registry.hpp"

namespace plugmq::broker {

std::string Registry::key(std::string_view identity, std::string_view client_id) {
  std::string k;
  k.reserve(identity.size() + 1 + client_id.size());
  k.append(identity).push_back('\n');  // '\n' never appears in a Plug-ID or account id
  k.append(client_id);
  return k;
}

bool Registry::claim(std::string_view identity, std::string_view client_id, Sink* sink) {
  std::lock_guard lock(mu_);
  auto& slot = live_[key(identity, client_id)];
  Sink* previous = slot;
  slot = sink;
  if (previous == nullptr || previous == sink) return false;
  // A sink leaves the registry (release, under this lock) before it is destroyed, so
  // `previous` is alive here. close() only schedules the close.
  previous->close(EndReason::kTakenOver);  // [MQTT-3.1.4-2]
  return true;
}

void Registry::release(std::string_view identity, std::string_view client_id, Sink* sink) {
  std::lock_guard lock(mu_);
  auto it = live_.find(key(identity, client_id));
  if (it != live_.end() && it->second == sink) live_.erase(it);
}

std::size_t Registry::close_identity(std::string_view identity, EndReason why) {
  const std::string prefix = key(identity, "");
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  // A linear scan: this runs when a device is deleted, not per message.
  for (const auto& [k, sink] : live_) {
    if (k.compare(0, prefix.size(), prefix) == 0) {
      sink->close(why);  // only schedules the close; the session releases its entry itself
      ++n;
    }
  }
  return n;
}

std::size_t Registry::size() const {
  std::lock_guard lock(mu_);
  return live_.size();
}

}  // namespace plugmq::broker
