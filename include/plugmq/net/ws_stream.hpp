// The streams of MQTT over WebSocket (SPEC 12): the HTTP listener's TCP and TLS streams, typed
// with their io thread's executor, under a WebSocket stream whose handshake the HTTP listener
// answered. http/host.hpp names the same types (http may not include net); the application,
// which hands one from the other, checks that they are (app/serve.cpp).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream_fwd.hpp>

namespace plugmq::net {

using WsTcpStream =
    boost::beast::basic_stream<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;
// No permessage-deflate (false).
using WsStream = boost::beast::websocket::stream<WsTcpStream, false>;  // ws://
using WssStream =
    boost::beast::websocket::stream<boost::beast::ssl_stream<WsTcpStream>, false>;  // wss://

}  // namespace plugmq::net
