#include "plugmq/broker/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace plugmq::broker {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

TEST(RateLimiter, BlocksAfterMaxFailuresWithinTheWindow) {
  RateLimiter limiter(3, 60s);
  auto t0 = Clock::time_point{} + 1000s;
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(limiter.blocked("10.0.0.1", t0 + i * 1s)) << i;
    limiter.failed("10.0.0.1", t0 + i * 1s);
  }
  EXPECT_TRUE(limiter.blocked("10.0.0.1", t0 + 3s));
  EXPECT_FALSE(limiter.blocked("10.0.0.2", t0 + 3s));  // per address
  // The first failure leaves the window 60 s after it happened.
  EXPECT_TRUE(limiter.blocked("10.0.0.1", t0 + 59s));
  EXPECT_FALSE(limiter.blocked("10.0.0.1", t0 + 60s));
}

TEST(RateLimiter, ForgetsExpiredAddresses) {
  RateLimiter limiter(2, 10s);
  auto t0 = Clock::time_point{} + 1000s;
  limiter.failed("a", t0);
  EXPECT_EQ(limiter.tracked(), 1u);
  EXPECT_FALSE(limiter.blocked("a", t0 + 11s));
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(RateLimiter, MemoryIsBoundedByMaxKeys) {
  RateLimiter limiter(1, 60s, 4);
  auto t0 = Clock::time_point{} + 1000s;
  for (int i = 0; i < 10; ++i) limiter.failed("k" + std::to_string(i), t0 + i * 1s);
  EXPECT_EQ(limiter.tracked(), 4u);
  EXPECT_TRUE(limiter.blocked("k9", t0 + 10s));   // the newest are kept
  EXPECT_FALSE(limiter.blocked("k0", t0 + 10s));  // the oldest was forgotten
}

}  // namespace
}  // namespace plugmq::broker
