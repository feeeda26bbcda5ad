// What the HTTP listeners need from the server they run on: its context, its io threads, its
// TLS context, its way of binding and of recovering from accept errors, and the MQTT sessions
// that take over a connection upgraded to MQTT over WebSocket. The application implements it
// over net::Server, so that http depends on service and not on the MQTT transport. Every
// member may be called from any thread once the server started.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream_fwd.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "plugmq/service/context.hpp"
#include "plugmq/service/options.hpp"

namespace plugmq::http {

// The streams of the HTTP listeners: typed with their io thread's executor, as the MQTT
// sessions' sockets are (net/transport.hpp), so that a connection upgraded to MQTT over
// WebSocket goes on as it is, on its thread.
using IoExecutor = boost::asio::io_context::executor_type;
using TcpStream = boost::beast::basic_stream<boost::asio::ip::tcp, IoExecutor>;
using TlsStream = boost::beast::ssl_stream<TcpStream>;
// A connection of the http (WsStream) or https (WssStream) listener whose WebSocket handshake
// was answered (SPEC 12). No permessage-deflate: MQTT payloads are the device's, and a
// compressor per connection is memory an idle fleet would pay for.
using WsStream = boost::beast::websocket::stream<TcpStream, false>;
using WssStream = boost::beast::websocket::stream<TlsStream, false>;

class Host {
 public:
  virtual ~Host() = default;

  virtual service::Context& context() = 0;
  // The io context that runs accept loops.
  virtual boost::asio::io_context& acceptor_context() = 0;
  // The io context for a new connection (spread over the io threads).
  virtual boost::asio::io_context& next_context() = 0;
  // The current TLS context; nullptr without TLS.
  virtual std::shared_ptr<boost::asio::ssl::context> tls_context() = 0;
  // Binds and listens (throws std::system_error naming the listener); returns the port.
  virtual std::uint16_t listen(boost::asio::ip::tcp::acceptor& acceptor, const char* name,
                               const service::Endpoint& ep) = 0;
  // What an accept loop on acceptor_context() does when accepting fails; `listener` names it
  // in the log.
  virtual boost::asio::awaitable<void> accept_failed(boost::asio::ip::tcp::acceptor& acceptor,
                                                     const boost::system::error_code& ec,
                                                     const char* listener) = 0;

  // MQTT over WebSocket (SPEC 12): an MQTT session takes over `stream`, on the stream's io
  // thread, as a connection of the MQTT listeners would be. It stays one connection for
  // limits.max_connections: the HTTP connection that counted it (service::admit) no longer
  // does, having moved its count to listener ws (wss), and the session calls
  // ctx.connection_ended(Listener::kWs or kWss) when it ends. `peer` is "address:port".
  // REQUIRES: the stream's handshake was answered, it has no operation pending, and the caller
  // runs on the stream's executor and has left the context's SessionSet.
  virtual void start_mqtt(WsStream stream, std::string peer) = 0;
  // The same over TLS; `keep` is the TLS context the stream was made with, held for its life.
  virtual void start_mqtt(WssStream stream, std::string peer, std::shared_ptr<const void> keep) = 0;
};

}  // namespace plugmq::http
