// What every listener (MQTT, MQTTS, HTTP, HTTPS) does with a freshly accepted socket: count it,
// refuse it past max_connections (logged at most every 10 s per listener, naming the key; the
// next line says how many were not), or take it in.
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio/ip/tcp.hpp>
#include <optional>
#include <string>

#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/service/context.hpp"

namespace plugmq::service {

struct Admitted {
  std::string peer;     // "address:port", for logs
  std::string address;  // the address alone (rate limits)
};

// Counts the connection. Past ctx.live.max_connections.get() the socket is closed and nothing is
// returned; otherwise it gets TCP_NODELAY and counts as open on listener `from` (the session
// must call ctx.connection_ended(from) when it ends).
template <class Socket>  // a tcp socket, whatever its executor
std::optional<Admitted> admit(Context& ctx, Socket& socket, Listener from) {
  ctx.counters.accepted++;
  if (ctx.counters.connections >= ctx.live.max_connections.get()) {
    ctx.counters.refused++;
    const char* name = listener_name(from);
    if (auto t = platform::throttle_log("connection refused", name)) {
      spdlog::warn("{} connection refused: limit of {} connections reached (max_connections){}",
                   name, ctx.live.max_connections.get(), t->suffix());
    }
    boost::system::error_code ignored;
    socket.close(ignored);
    return std::nullopt;
  }
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  Admitted a;
  a.address = ec ? std::string("?") : remote.address().to_string();
  a.peer = a.address + ":" + (ec ? std::string("?") : std::to_string(remote.port()));
  socket.set_option(boost::asio::ip::tcp::no_delay(true), ec);
  ctx.counters.connections++;
  ctx.metrics.opened(from);
  return a;
}

}  // namespace plugmq::service
