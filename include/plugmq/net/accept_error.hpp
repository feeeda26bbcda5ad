// What every accept loop (MQTT, MQTTS, HTTP, HTTPS) does when accepting fails.
//
// Out of file descriptors (EMFILE, ENFILE), a connection would otherwise wait in the listen
// queue, unanswered, until one frees up. Instead the server gives up its spare descriptor for a
// moment to take each waiting connection and close it at once, counted as refused like one
// over max_connections. Any other failure, or one the spare cannot help with, pauses the loop
// briefly so that it does not spin. Either way the line is logged at most every 10 s, with the
// count of lines held back.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>

#include "plugmq/os/fd_limit.hpp"
#include "plugmq/service/context.hpp"

namespace plugmq::net {

struct Shed {
  std::size_t closed = 0;  // waiting connections taken and closed
  bool stuck = false;      // the spare could not take the next one: the loop should pause
};

// Takes the connections waiting on `acceptor` with `spare`'s descriptor and closes them, until
// none is waiting (or a bound, to share the thread). Call on the acceptor's thread.
Shed shed_waiting(boost::asio::ip::tcp::acceptor& acceptor, os::SpareFd& spare);

// The accept loop's answer to `ec` (not operation_aborted) on `acceptor`; `listener` names it
// in the log ("mqtt", "http"). Call on the acceptor's thread, the spare's only user.
boost::asio::awaitable<void> recover_from_accept_error(boost::asio::ip::tcp::acceptor& acceptor,
                                                       const boost::system::error_code& ec,
                                                       os::SpareFd& spare,
                                                       service::Counters& counters,
                                                       const char* listener);

}  // namespace plugmq::net
