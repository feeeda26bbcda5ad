// MQTT over WebSocket (SPEC 12, MQTT 3.1.1 section 6) on the http and https listeners: the
// HTTP listener answers the handshake at /mqtt and the server starts a Session on the
// WebSocket stream (Server::start_websocket). MQTT packets travel in binary messages; the
// session reads the messages' payloads as one byte stream, so a packet may span frames and
// messages and one frame may hold several packets [MQTT-6.0.0-2]. Each gathered write is one
// binary message of one frame.
#pragma once

#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <memory>
#include <type_traits>

#include "plugmq/net/ws_stream.hpp"
#include "transport.hpp"

namespace plugmq::net {

namespace websocket = boost::beast::websocket;

static_assert(std::is_same_v<WsTcpStream::executor_type, IoExecutor>);

template <class Next>
struct Transport<websocket::stream<Next, false>> {
  using Stream = websocket::stream<Next, false>;
  static constexpr bool kTls = !std::is_same_v<Next, WsTcpStream>;
  // wss://: the TLS context the stream was made with.
  using Keep = std::conditional_t<kTls, std::shared_ptr<const void>, NoKeep>;
  // The stream reads frames ahead into a buffer of its own.
  static constexpr bool kIdleWait = false;
  // One frame per write: the header and the batch go out together (beast's ssl_stream joins
  // small buffers into one TLS record).
  static constexpr bool kJoinWrites = false;
  // Counted as the http (https) listener's until the handshake, then as ws's (wss's).
  static constexpr service::Listener kListener =
      kTls ? service::Listener::kWss : service::Listener::kWs;
  // Answered by the HTTP listener before the session starts.
  static constexpr bool kHandshake = false;
  static constexpr bool kMessages = true;

  static Socket& socket(Stream& s) { return boost::beast::get_lowest_layer(s).socket(); }

  // What the session's stream is set to once it is MQTT's.
  static void open(Stream& s) {
    s.binary(true);
    s.auto_fragment(false);
    // A message may hold any number of packets: the MQTT limits (limits.max_packet_size) apply
    // to the packets, whatever the messages.
    s.read_message_max(0);
    // Keep alive and the CONNECT deadline are the session's (its Watchdog). The closing
    // handshake the server starts (a text message refused) ends within this.
    websocket::stream_base::timeout t{};
    t.handshake_timeout = std::chrono::seconds(5);
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    s.set_option(t);
    // A client's close frame: the stream answers it, then, as a server, reads until the client
    // closes TCP, with no time limit. Nothing more is read from a client that closed: the
    // answer goes out and the connection ends (its will published, as for any end without
    // DISCONNECT) at once. The socket lives as long as the stream that holds this callback.
    s.control_callback(
        [socket = &socket(s)](websocket::frame_type kind, boost::beast::string_view) {
          if (kind != websocket::frame_type::close) return;
          boost::system::error_code ignored;
          socket->shutdown(boost::asio::socket_base::shutdown_receive, ignored);
        });
  }

  template <class Buffers, class Token>
  static auto write(Stream& s, const Buffers& buffers, Token token) {
    return s.async_write(buffers, token);
  }

  // [MQTT-6.0.0-1] MQTT packets travel in binary data frames only.
  static bool binary(const Stream& s) { return s.got_binary(); }

  // Starts the closing handshake with `code` and `reason` (at most 123 bytes).
  template <class Token>
  static auto close(Stream& s, websocket::close_code code, const char* reason, Token token) {
    return s.async_close(websocket::close_reason(code, reason), token);
  }
};

}  // namespace plugmq::net
