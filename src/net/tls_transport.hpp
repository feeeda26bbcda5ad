// TLS over TCP (MQTT on 8883, SPEC 2).
#pragma once

#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include "transport.hpp"

namespace plugmq::net {

using TlsStream = boost::asio::ssl::stream<Socket>;

template <>
struct Transport<TlsStream> {
  // The TLS context the stream was made with, which a certificate reload may replace.
  using Keep = std::shared_ptr<const void>;
  // A TLS record may be buffered with no bytes left on the socket.
  static constexpr bool kIdleWait = false;
  // A TLS stream writes one record per buffer: joined, small packets share records.
  static constexpr bool kJoinWrites = true;
  static constexpr service::Listener kListener = service::Listener::kMqtts;
  static constexpr bool kHandshake = true;
  static constexpr bool kMessages = false;
  static Socket& socket(TlsStream& s) { return s.next_layer(); }
  template <class Buffers, class Token>
  static auto write(TlsStream& s, const Buffers& buffers, Token token) {
    return boost::asio::async_write(s, buffers, token);
  }
  template <class Token>
  static auto handshake(TlsStream& s, Token token) {
    return s.async_handshake(boost::asio::ssl::stream_base::server, token);
  }
};

}  // namespace plugmq::net
