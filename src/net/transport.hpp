// What a Session needs to know of its stream: one specialization of Transport per stream type,
// each in its own small header (tcp_transport.hpp, tls_transport.hpp, ws_transport.hpp for
// both WebSocket streams).
//
// A Transport<Stream> provides:
//   Keep            what the session keeps alive for the stream (a TLS context), or NoKeep;
//   kIdleWait       true when an idle session may wait for the socket to be readable with no
//                   coroutine and no buffer (the bytes on the socket are the MQTT bytes); false
//                   when the stream may hold bytes the socket no longer shows (TLS records), so
//                   the session's input() runs for the whole connection;
//   kJoinWrites     true when a gathered write costs one record per buffer: the batch is joined;
//   kListener       the listener its connections count under (plugmq_connections);
//   kMessages       true when the bytes come in messages (WebSocket): then binary(s) says
//                   whether the data just read is of a binary message, and close(s, code,
//                   reason, u) starts the closing handshake that refuses any other;
//   socket(s)       the TCP socket under the stream (shutdown, close, readiness, peer);
//   write(s, b, u)  the awaitable gathered write of buffer sequence `b` (all of it);
//   handshake(s, u) the awaitable opening handshake with completion token `u` (as_tuple), or
//                   nothing (kHandshake false).
#pragma once

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <memory>

#include "plugmq/service/metrics.hpp"

namespace plugmq::net {

// Sockets and timers typed with their io_context's executor rather than any_io_executor: the
// objects are smaller, and so is every pending operation (each holds a copy of the executor).
using IoExecutor = boost::asio::io_context::executor_type;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, IoExecutor>;
using Timer = boost::asio::basic_waitable_timer<
    std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, IoExecutor>;

// Nothing to keep: takes no room in the session ([[no_unique_address]]).
struct NoKeep {
  NoKeep() = default;
  explicit NoKeep(const std::shared_ptr<const void>&) {}
};

template <class Stream>
struct Transport;

}  // namespace plugmq::net
