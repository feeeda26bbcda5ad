// How many sessions of one io thread log in at once.
//
// A burst of connections (a fleet reconnecting after an outage) would otherwise all be logging
// in together: each CONNECT in progress holds a coroutine, a read buffer and a store request.
// Those are freed once the CONNACK is sent, but the sessions that logged in meanwhile have
// placed their long-lived parts between them, so the heap keeps the holes. scripts/bench, 10,000
// connections with 256 connecting at a time: 910 bytes of RSS per connection; with 16 at a
// time, 804.
//
// So a session that has not logged in reads its socket only with a place here: at most
// kPlaces per thread, given in arrival order. Waiting for bytes holds no place (a client that
// sends its CONNECT slowly holds one only while a part of it is processed), and a session
// waiting for a place holds nothing else. The pre-CONNECT deadline runs from accept whatever
// the session waits for (a session whose whole CONNECT is on its socket, waiting here behind
// a storm of slow account logins, counts as having sent it); a session that ends while it
// waits gives its turn up: what waits for it here holds it only weakly.
//
// A service of the io_context (use_service): used only by the thread that runs it.
#pragma once

#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <deque>
#include <functional>

namespace plugmq::net {

class LoginGate final : public boost::asio::execution_context::service {
 public:
  static constexpr std::size_t kPlaces = 16;
  static boost::asio::execution_context::id id;

  explicit LoginGate(boost::asio::execution_context& ctx);

  // The gate of the io_context `ioc` (made on first use).
  static LoginGate& of(boost::asio::io_context& ioc) {
    return boost::asio::use_service<LoginGate>(ioc);
  }

  // Takes a place and runs `go()` at once if one is free; else `go()` runs (posted) once a
  // place is given to it. Whoever `go` runs for gives the place back with leave(); a `go` that
  // returns false (whoever it was for is gone) gives it back at once.
  using Go = std::function<bool()>;
  void enter(Go go);
  // Gives a place back: the next one waiting gets it.
  void leave();

  std::size_t taken() const { return taken_; }
  std::size_t waiting() const { return waiting_.size(); }

 private:
  void shutdown() override;

  boost::asio::io_context& ioc_;
  std::size_t taken_ = 0;
  std::deque<Go> waiting_;
};

}  // namespace plugmq::net
