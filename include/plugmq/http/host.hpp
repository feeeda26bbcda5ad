// What the HTTP listeners need from the server they run on: its context, its io threads, its
// TLS context and its way of binding and of recovering from accept errors. The application
// implements it over net::Server, so that http depends on service and not on the MQTT
// transport. Every member may be called from any thread once the server started.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>

#include "plugmq/service/context.hpp"
#include "plugmq/service/options.hpp"

namespace plugmq::http {

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
};

}  // namespace plugmq::http
