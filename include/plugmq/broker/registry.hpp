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

#include "plugmq/broker/sink.hpp"

namespace plugmq::broker {

class Registry {
 public:
  // The key of (identity, client id). A sink keeps its key for as long as it is registered:
  // the registry holds a view of it, not a copy (one entry per live connection).
  static std::string key(std::string_view identity, std::string_view client_id);
  // The identity part of a key().
  static std::string_view identity_of(std::string_view key) {
    return key.substr(0, key.find(kSeparator));
  }
  // The client id part of a key().
  static std::string_view client_id_of(std::string_view key) {
    const auto sep = key.find(kSeparator);
    return sep == std::string_view::npos ? std::string_view() : key.substr(sep + 1);
  }

  // Makes `sink` the live session for `key`. The session it replaces, if any, is closed
  // (EndReason::kTakenOver) while the lock still guarantees it is alive. Returns whether there
  // was one.
  // REQUIRES: `key` (from key()) stays valid and unchanged until `sink` is released or replaced.
  bool claim(std::string_view key, Sink* sink);

  // Removes the entry only when `sink` still holds it (a session that was taken over must not
  // remove its successor).
  void release(std::string_view key, Sink* sink);

  // Closes every live session of `identity` (a device that was deleted); returns how many.
  std::size_t close_identity(std::string_view identity, EndReason why);

  std::size_t size() const;

 private:
  static constexpr char kSeparator = '\n';  // never appears in a Plug-ID or account id
  mutable std::mutex mu_;
  // Keys are views of the registered sinks' own key strings.
  std::unordered_map<std::string_view, Sink*> live_;
};

}  // namespace plugmq::broker
