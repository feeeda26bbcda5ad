// Plain TCP (MQTT on 1883).
#pragma once

#include <boost/asio/write.hpp>

#include "transport.hpp"

namespace plugmq::net {

template <>
struct Transport<Socket> {
  using Keep = NoKeep;
  static constexpr bool kIdleWait = true;
  static constexpr bool kJoinWrites = false;
  static constexpr service::Listener kListener = service::Listener::kMqtt;
  static constexpr bool kHandshake = false;
  static constexpr bool kMessages = false;
  static Socket& socket(Socket& s) { return s; }
  template <class Buffers, class Token>
  static auto write(Socket& s, const Buffers& buffers, Token token) {
    return boost::asio::async_write(s, buffers, token);
  }
};

}  // namespace plugmq::net
