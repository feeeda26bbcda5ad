#include "plugmq/net/watchdog.hpp"

#include <algorithm>

namespace plugmq::net {

namespace asio = boost::asio;
using std::chrono::steady_clock;

asio::execution_context::id Watchdog::id;

Watchdog::Watchdog(asio::execution_context& ctx)
    : asio::execution_context::service(ctx), ioc_(static_cast<asio::io_context&>(ctx)) {}

Watchdog::~Watchdog() = default;

void Watchdog::shutdown() {
  // The io_context is going away: its handlers are destroyed without running, and so are the
  // sessions only the slots still hold.
  std::vector<Slot> slots;
  slots.swap(slots_);
  for (auto& s : slots) s.who->watch_slot_ = Watched::kNone;
  slots.clear();
  timer_.reset();
}

void Watchdog::watch(const std::shared_ptr<Watched>& w, steady_clock::time_point deadline) {
  if (w->watch_slot_ != Watched::kNone) {
    slots_[w->watch_slot_].deadline = deadline;
  } else {
    w->watch_slot_ = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back(Slot{w, deadline});
  }
  arm();
}

void Watchdog::unwatch(Watched& w) {
  const std::uint32_t i = w.watch_slot_;
  if (i == Watched::kNone) return;
  w.watch_slot_ = Watched::kNone;
  // The last slot takes its place. Destroying the shared_ptr may destroy the session: move it
  // out first, so that nothing here is touched afterwards.
  std::shared_ptr<Watched> gone = std::move(slots_[i].who);
  if (i + 1 != slots_.size()) {
    slots_[i] = std::move(slots_.back());
    slots_[i].who->watch_slot_ = i;
  }
  slots_.pop_back();
  // A watchdog that watched thousands gives the memory back once they are gone.
  if (slots_.empty()) slots_.shrink_to_fit();
}

void Watchdog::arm() {
  if (armed_ || ticking_ || slots_.empty()) return;
  if (!timer_) timer_.emplace(ioc_);
  armed_ = true;
  timer_->expires_after(kTick);
  timer_->async_wait([this](const boost::system::error_code& ec) {
    armed_ = false;
    if (ec) return;  // shutting down
    tick();
  });
}

void Watchdog::tick() {
  const auto now = steady_clock::now();
  ticking_ = true;
  // Whatever a session's call throws, the watchdog keeps ticking for the others.
  struct Rearm {
    Watchdog& dog;
    ~Rearm() {
      dog.ticking_ = false;
      dog.arm();
    }
  } rearm{*this};
  // Expired sessions set a new deadline or leave (which moves the last slot to theirs), so the
  // slots are walked by index and the one at `i` looked at again after a removal.
  std::size_t i = 0;
  while (i < slots_.size()) {
    if (slots_[i].deadline > now) {
      ++i;
      continue;
    }
    std::shared_ptr<Watched> who = slots_[i].who;  // alive through its own call
    // Looked at once per tick: until it sets another, its deadline is "none".
    slots_[i].deadline = steady_clock::time_point::max();
    who->watchdog_expired();
    if (i < slots_.size() && slots_[i].who == who) ++i;
  }
}

}  // namespace plugmq::net
