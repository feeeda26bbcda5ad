// Plain TCP (MQTT on 1883).
#pragma once

#include "transport.hpp"

namespace plugmq::net {

template <>
struct Transport<Socket> {
  using Keep = NoKeep;
  static constexpr bool kIdleWait = true;
  static constexpr bool kJoinWrites = false;
  static constexpr service::Listener kListener = service::Listener::kMqtt;
  static constexpr bool kHandshake = false;
  static Socket& socket(Socket& s) { return s; }
};

}  // namespace plugmq::net
