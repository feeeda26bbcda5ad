#include "plugmq/platform/log_throttle.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace plugmq::platform {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = LogThrottle::Clock;

const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);

TEST(LogThrottle, WithThousands) {
  EXPECT_EQ(with_thousands(0), "0");
  EXPECT_EQ(with_thousands(999), "999");
  EXPECT_EQ(with_thousands(1000), "1,000");
  EXPECT_EQ(with_thousands(1234567), "1,234,567");
  EXPECT_EQ(with_thousands(100000), "100,000");
}

TEST(LogThrottle, FirstAtOnceThenOncePerIntervalWithTheCount) {
  LogThrottle throttle;
  auto first = throttle.pass("bad credentials", "10.0.0.1", t0);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->suppressed, 0u);
  EXPECT_EQ(first->suffix(), "");
  for (int i = 1; i <= 3; ++i) {
    EXPECT_FALSE(throttle.pass("bad credentials", "10.0.0.1", t0 + seconds(i)));
  }
  EXPECT_FALSE(throttle.pass("bad credentials", "10.0.0.1", t0 + milliseconds(9999)));
  auto next = throttle.pass("bad credentials", "10.0.0.1", t0 + seconds(10));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->suppressed, 4u);
  EXPECT_EQ(next->over, seconds(10));
  EXPECT_EQ(next->suffix(), " (and 4 more like this in the last 10 s)");
  // The count starts again from the line just let through.
  EXPECT_FALSE(throttle.pass("bad credentials", "10.0.0.1", t0 + seconds(11)));
  auto later = throttle.pass("bad credentials", "10.0.0.1", t0 + seconds(45));
  ASSERT_TRUE(later);
  EXPECT_EQ(later->suffix(), " (and 1 more like this in the last 35 s)");
}

TEST(LogThrottle, AQuietLineIsLetThroughWithoutACount) {
  LogThrottle throttle;
  ASSERT_TRUE(throttle.pass("accept failed", "", t0));
  auto again = throttle.pass("accept failed", "", t0 + std::chrono::minutes(5));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->suppressed, 0u);
  EXPECT_EQ(again->suffix(), "");
}

TEST(LogThrottle, SitesAndKeysAreThrottledApart) {
  LogThrottle throttle;
  EXPECT_TRUE(throttle.pass("bad credentials", "10.0.0.1", t0));
  EXPECT_TRUE(throttle.pass("bad credentials", "10.0.0.2", t0));
  EXPECT_TRUE(throttle.pass("malformed packet", "10.0.0.1", t0));
  EXPECT_TRUE(throttle.pass("bad credentials", "", t0));
  EXPECT_FALSE(throttle.pass("bad credentials", "10.0.0.2", t0 + seconds(1)));
  EXPECT_FALSE(throttle.pass("malformed packet", "10.0.0.1", t0 + seconds(1)));
  EXPECT_EQ(throttle.entries(), 4u);
}

TEST(LogThrottle, TheSuffixShowsThousandsAndRoundsToASecond) {
  LogThrottle::Pass p{1234, milliseconds(10400)};
  EXPECT_EQ(p.suffix(), " (and 1,234 more like this in the last 10 s)");
  LogThrottle::Pass quick{2, milliseconds(20)};
  EXPECT_EQ(quick.suffix(), " (and 2 more like this in the last 1 s)");
}

TEST(LogThrottle, KeysPastTheBoundCountUnderTheirSite) {
  LogThrottle throttle({seconds(10), 3});
  for (const char* a : {"a", "b", "c"}) EXPECT_TRUE(throttle.pass("login", a, t0));
  // No room (every keyed entry is within its interval): the site's own line stands in.
  auto d = throttle.pass("login", "d", t0 + seconds(1));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->suppressed, 0u);
  EXPECT_FALSE(throttle.pass("login", "e", t0 + seconds(2)));
  EXPECT_FALSE(throttle.pass("login", "f", t0 + seconds(3)));
  EXPECT_EQ(throttle.entries(), 4u);
  auto g = throttle.pass("login", "g", t0 + seconds(11));
  ASSERT_TRUE(g) << "the quiet entries made room";
  EXPECT_EQ(g->suppressed, 0u);
  EXPECT_LE(throttle.entries(), 4u);
  auto site = throttle.pass("login", "", t0 + seconds(12));
  ASSERT_TRUE(site);
  EXPECT_EQ(site->suppressed, 2u);
  EXPECT_EQ(site->over, seconds(11));
}

TEST(LogThrottle, AnEntryDroppedForRoomHandsItsCountToItsSite) {
  LogThrottle throttle({seconds(10), 1});
  ASSERT_TRUE(throttle.pass("login", "a", t0));
  EXPECT_FALSE(throttle.pass("login", "a", t0 + seconds(1)));
  EXPECT_FALSE(throttle.pass("login", "a", t0 + seconds(2)));
  // "a" is quiet past its interval: it goes, and its two held-back lines go to the site.
  auto b = throttle.pass("login", "b", t0 + seconds(11));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->suppressed, 0u);
  auto c = throttle.pass("login", "c", t0 + seconds(12));  // no room: the site's line
  ASSERT_TRUE(c);
  EXPECT_EQ(c->suppressed, 2u);
  EXPECT_EQ(c->over, seconds(12));
  EXPECT_EQ(throttle.entries(), 2u);
}

TEST(LogThrottle, ManyKeysStayBounded) {
  LogThrottle throttle({seconds(10), 100});
  int passed = 0;
  for (int i = 0; i < 100000; ++i) {
    const auto now = t0 + milliseconds(i);  // 100 s of one new address per millisecond
    if (throttle.pass("malformed packet", std::to_string(i), now)) ++passed;
    ASSERT_LE(throttle.entries(), 101u);
  }
  // At most the bound per interval, plus the site's own line once per interval.
  EXPECT_LE(passed, 11 * 101);
  EXPECT_GE(passed, 100);
}

TEST(LogThrottle, ConcurrentCallersCountEveryLine) {
  LogThrottle throttle;
  constexpr int kThreads = 4;
  constexpr int kEach = 5000;
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        if (throttle.pass("accept failed", "", t0)) passed++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(passed.load(), 1);
  auto next = throttle.pass("accept failed", "", t0 + seconds(10));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->suppressed, static_cast<std::uint64_t>(kThreads * kEach - 1));
}

TEST(LogThrottle, TheProcessThrottleLetsTheFirstThrough) {
  EXPECT_TRUE(throttle_log("log_throttle_test site", "x"));
  EXPECT_FALSE(throttle_log("log_throttle_test site", "x"));
  EXPECT_TRUE(throttle_log("log_throttle_test site", "y"));
}

}  // namespace
}  // namespace plugmq::platform
