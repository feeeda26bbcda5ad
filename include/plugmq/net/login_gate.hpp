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
// waiting for a place holds nothing else. The pre-CONNECT deadline does not run while a
// session waits for a place (a storm of slow account logins would otherwise be cut by it),
// and it starts over when the session gets its place after waiting: it bounds how long the
// session then holds the place, and a session that has waited is not cut before it has read
// what it was let in for.
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

  // Takes a place and runs `go(false)` at once if one is free; else `go(true)` runs (posted)
  // once a place is given to it. Whoever `go` runs for gives the place back with leave().
  using Go = std::function<void(bool waited)>;
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
