#include "plugmq/net/watchdog.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

namespace plugmq::net {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Records when its deadline was reported; `on_expired` decides what happens next.
class Probe : public Watched {
 public:
  std::vector<steady_clock::time_point> fired;
  std::function<void(Probe&)> on_expired;
  void watchdog_expired() override {
    fired.push_back(steady_clock::now());
    if (on_expired) on_expired(*this);
  }
};

TEST(Watchdog, CallsEachSessionOnceItsDeadlinePassed) {
  boost::asio::io_context ioc;
  Watchdog& dog = Watchdog::of(ioc);
  const auto t0 = steady_clock::now();
  auto soon = std::make_shared<Probe>();
  auto later = std::make_shared<Probe>();
  auto never = std::make_shared<Probe>();
  dog.watch(soon, t0 + milliseconds(150));
  dog.watch(later, t0 + milliseconds(450));
  dog.watch(never, steady_clock::time_point::max());
  // Each leaves when it fires; `never` is forgotten at the end, which lets run() return.
  soon->on_expired = [&](Probe& p) { dog.unwatch(p); };
  later->on_expired = [&](Probe& p) {
    dog.unwatch(p);
    dog.unwatch(*never);
  };
  ioc.run();
  ASSERT_EQ(soon->fired.size(), 1u);
  ASSERT_EQ(later->fired.size(), 1u);
  EXPECT_TRUE(never->fired.empty());
  EXPECT_GE(soon->fired[0], t0 + milliseconds(150));
  EXPECT_GE(later->fired[0], t0 + milliseconds(450));
  EXPECT_LT(soon->fired[0], later->fired[0]);
  EXPECT_EQ(dog.size(), 0u);
}

TEST(Watchdog, AMovedDeadlineReplacesTheOldOne) {
  boost::asio::io_context ioc;
  Watchdog& dog = Watchdog::of(ioc);
  const auto t0 = steady_clock::now();
  auto p = std::make_shared<Probe>();
  dog.watch(p, t0 + milliseconds(100));
  dog.watch(p, t0 + milliseconds(400));  // as a keep-alive deadline moves with traffic
  EXPECT_EQ(dog.size(), 1u);
  // Fired three times: setting the next deadline from the call keeps the slot.
  p->on_expired = [&](Probe& self) {
    if (self.fired.size() < 3) {
      dog.watch(p, steady_clock::now() + milliseconds(50));
    } else {
      dog.unwatch(self);
    }
  };
  ioc.run();
  ASSERT_EQ(p->fired.size(), 3u);
  EXPECT_GE(p->fired[0], t0 + milliseconds(400));
  EXPECT_GE(p->fired[1], p->fired[0] + milliseconds(50));
}

TEST(Watchdog, SessionsLeavingDuringATickAreAllSeen) {
  boost::asio::io_context ioc;
  Watchdog& dog = Watchdog::of(ioc);
  const auto t0 = steady_clock::now();
  std::vector<std::shared_ptr<Probe>> all;
  for (int i = 0; i < 50; ++i) {
    auto p = std::make_shared<Probe>();
    // Every one expires in the same tick and leaves: the slot of each is taken by the last.
    p->on_expired = [&](Probe& self) { dog.unwatch(self); };
    dog.watch(p, t0 + milliseconds(10));
    all.push_back(p);
  }
  ioc.run();
  steady_clock::time_point first = steady_clock::time_point::max(), last{};
  for (const auto& p : all) {
    ASSERT_EQ(p->fired.size(), 1u);
    first = std::min(first, p->fired[0]);
    last = std::max(last, p->fired[0]);
  }
  // In the same tick: none skipped until the next one.
  EXPECT_LT(last - first, Watchdog::kTick / 2);
  EXPECT_EQ(dog.size(), 0u);
}

TEST(Watchdog, TheSlotKeepsTheSessionAliveUntilUnwatched) {
  boost::asio::io_context ioc;
  Watchdog& dog = Watchdog::of(ioc);
  std::weak_ptr<Probe> weak;
  {
    auto p = std::make_shared<Probe>();
    weak = p;
    dog.watch(p, steady_clock::now() + milliseconds(10));
    p->on_expired = [&](Probe& self) { dog.unwatch(self); };
  }
  EXPECT_FALSE(weak.expired());
  ioc.run();
  EXPECT_TRUE(weak.expired());
}

TEST(Watchdog, KeepsTickingAfterASessionThrew) {
  boost::asio::io_context ioc;
  Watchdog& dog = Watchdog::of(ioc);
  const auto t0 = steady_clock::now();
  auto bad = std::make_shared<Probe>();
  auto good = std::make_shared<Probe>();
  bad->on_expired = [&](Probe& self) {
    dog.unwatch(self);
    throw std::runtime_error("session failed");
  };
  good->on_expired = [&](Probe& self) { dog.unwatch(self); };
  dog.watch(bad, t0 + milliseconds(10));
  dog.watch(good, t0 + milliseconds(350));
  // As an io thread does: the exception leaves run(), which is called again.
  EXPECT_THROW(ioc.run(), std::runtime_error);
  ioc.restart();
  ioc.run();
  EXPECT_EQ(bad->fired.size(), 1u);
  EXPECT_EQ(good->fired.size(), 1u);
  EXPECT_EQ(dog.size(), 0u);
}

TEST(Watchdog, UnwatchingWhatIsNotWatchedDoesNothing) {
  boost::asio::io_context ioc;
  Watchdog& dog = Watchdog::of(ioc);
  Probe p;
  dog.unwatch(p);
  EXPECT_EQ(dog.size(), 0u);
}

}  // namespace
}  // namespace plugmq::net
