// The deadlines of one io thread's sessions (the pre-CONNECT deadline, keep alive, the end of
// an enrollment session), checked together by one timer instead of one timer per session.
//
// An idle fleet is mostly deadlines that never fire; a timer of its own costs a session about
// 230 bytes (the timer, its pending wait and its place in the timer queue), a slot here 24
// (plus 16 in the session: Watched's vtable pointer and slot index). With many sessions a tick
// scans many slots: 100,000 on a thread are 2.4 MB, read ten times a second. Every kTick the
// watchdog looks at its slots, a contiguous array, and calls watchdog_expired() on the sessions
// whose deadline has passed, which set the next one or leave. Deadlines are therefore met within
// one tick.
//
// A service of the io_context (use_service): its state is touched only by the thread that runs
// that io_context, the thread of every session it watches. A watched session is kept alive by
// its slot until it calls unwatch().
#pragma once

#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace plugmq::net {

class Watchdog;

// What a Watchdog watches: a session of its thread.
class Watched {
 public:
  virtual ~Watched() = default;
  // Its deadline passed: check it, and set the next deadline or unwatch.
  virtual void watchdog_expired() = 0;

 private:
  friend class Watchdog;
  static constexpr std::uint32_t kNone = UINT32_MAX;
  std::uint32_t watch_slot_ = kNone;
};

class Watchdog final : public boost::asio::execution_context::service {
 public:
  static constexpr std::chrono::milliseconds kTick{100};
  static boost::asio::execution_context::id id;

  explicit Watchdog(boost::asio::execution_context& ctx);
  ~Watchdog() override;

  // The watchdog of the io_context `ioc` (made on first use).
  static Watchdog& of(boost::asio::io_context& ioc) {
    return boost::asio::use_service<Watchdog>(ioc);
  }

  // Sets (or moves) `w`'s deadline; time_point::max() for none. The slot holds `w` alive.
  void watch(const std::shared_ptr<Watched>& w, std::chrono::steady_clock::time_point deadline);
  // Forgets `w`; nothing when it is not watched.
  void unwatch(Watched& w);

  std::size_t size() const { return slots_.size(); }

 private:
  struct Slot {
    std::shared_ptr<Watched> who;
    std::chrono::steady_clock::time_point deadline;
  };
  void shutdown() override;
  void arm();
  void tick();

  boost::asio::io_context& ioc_;
  std::vector<Slot> slots_;
  std::optional<boost::asio::steady_timer> timer_;  // made on first watch
  bool armed_ = false;
  bool ticking_ = false;  // tick() runs: watch/unwatch may reorder the slots
};

}  // namespace plugmq::net
