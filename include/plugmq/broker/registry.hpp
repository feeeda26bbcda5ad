// Live sessions by login identity and client id, for takeover [MQTT-3.1.4-2].
//
// The key includes the login identity (a Plug-ID or an account id), so a device can never
// kick out another device by reusing its client id (SPEC 3). Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "plugmq/broker/message.hpp"

namespace plugmq::broker {

class Registry {
 public:
  // Makes `sink` the live session for (identity, client_id). The session it replaces, if any,
  // is closed (EndReason::kTakenOver) while the lock still guarantees it is alive. Returns
  // whether there was one.
  bool claim(std::string_view identity, std::string_view client_id, Sink* sink);

  // Removes the entry only when `sink` still holds it (a session that was taken over must not
  // remove its successor).
  void release(std::string_view identity, std::string_view client_id, Sink* sink);

  // Closes every live session of `identity` (a device that was deleted); returns how many.
  std::size_t close_identity(std::string_view identity, EndReason why);

  std::size_t size() const;

 private:
  static std::string key(std::string_view identity, std::string_view client_id);
  mutable std::mutex mu_;
  std::unordered_map<std::string, Sink*> live_;
};

}  // namespace plugmq::broker
