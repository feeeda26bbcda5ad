#include "plugmq/broker/registry.hpp"

namespace plugmq::broker {

std::string Registry::key(std::string_view identity, std::string_view client_id) {
  std::string k;
  k.reserve(identity.size() + 1 + client_id.size());
  k.append(identity).push_back(kSeparator);
  k.append(client_id);
  return k;
}

bool Registry::claim(std::string_view key, Sink* sink) {
  std::lock_guard lock(mu_);
  auto it = live_.find(key);
  if (it == live_.end()) {
    live_.emplace(key, sink);
    return false;
  }
  Sink* previous = it->second;
  // The entry now views the new sink's key: the previous sink's may go away with it.
  auto node = live_.extract(it);
  node.key() = key;
  node.mapped() = sink;
  live_.insert(std::move(node));
  if (previous == sink) return false;
  // A sink leaves the registry (release, under this lock) before it is destroyed, so
  // `previous` is alive here. close() only schedules the close.
  previous->close(EndReason::kTakenOver);  // [MQTT-3.1.4-2]
  return true;
}

void Registry::release(std::string_view key, Sink* sink) {
  std::lock_guard lock(mu_);
  auto it = live_.find(key);
  if (it != live_.end() && it->second == sink) live_.erase(it);
}

std::size_t Registry::close_identity(std::string_view identity, EndReason why) {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  // A linear scan: this runs when a device is deleted, not per message.
  for (const auto& [k, sink] : live_) {
    if (k.size() > identity.size() && k[identity.size()] == kSeparator &&
        k.substr(0, identity.size()) == identity) {
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
