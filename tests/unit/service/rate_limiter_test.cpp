#include "plugmq/service/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace plugmq::service {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;
using Admission = RateLimiter::Admission;

const auto t0 = Clock::time_point{} + 1000s;

// begin() for an attempt that must not wait.
std::optional<Admission> begin_now(RateLimiter& l, const std::string& key, Clock::time_point at) {
  return l.begin(key, at, [](Admission) { ADD_FAILURE() << "an attempt waited"; });
}

// A waiting attempt's admission, once told.
struct Waiter {
  std::optional<Admission> told;
  int calls = 0;
  RateLimiter::Resume resume() {
    return [this](Admission a) {
      told = a;
      ++calls;
    };
  }
};

TEST(RateLimiter, BlocksAfterMaxFailuresWithinTheWindow) {
  RateLimiter limiter(3, 60s);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(begin_now(limiter, "10.0.0.1", t0 + i * 1s), Admission::kGranted) << i;
    limiter.end("10.0.0.1", t0 + i * 1s, true);
  }
  EXPECT_EQ(begin_now(limiter, "10.0.0.1", t0 + 3s), Admission::kBlocked);
  EXPECT_EQ(begin_now(limiter, "10.0.0.2", t0 + 3s), Admission::kGranted);  // per key
  // The first failure leaves the window 60 s after it happened.
  EXPECT_EQ(begin_now(limiter, "10.0.0.1", t0 + 59s), Admission::kBlocked);
  EXPECT_EQ(begin_now(limiter, "10.0.0.1", t0 + 60s), Admission::kGranted);
}

TEST(RateLimiter, SuccessesCostNothing) {
  RateLimiter limiter(2, 60s);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(begin_now(limiter, "a", t0), Admission::kGranted) << i;
    limiter.end("a", t0, false);
  }
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(RateLimiter, AttemptsInFlightCountBeforeTheyFail) {
  // Attempts sent in parallel: only max_failures are let through to the check.
  RateLimiter limiter(3, 60s);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(begin_now(limiter, "a", t0), Admission::kGranted);
  EXPECT_EQ(limiter.in_flight("a"), 3u);
  std::vector<Waiter> waiters(5);
  for (auto& w : waiters) EXPECT_EQ(limiter.begin("a", t0, w.resume()), std::nullopt);
  // The three fail: no place is left, and every waiting attempt is refused without a check.
  for (int i = 0; i < 3; ++i) limiter.end("a", t0 + 1s, true);
  for (auto& w : waiters) {
    EXPECT_EQ(w.calls, 1);
    EXPECT_EQ(w.told, Admission::kBlocked);
  }
  EXPECT_EQ(limiter.in_flight("a"), 0u);
  EXPECT_EQ(begin_now(limiter, "a", t0 + 2s), Admission::kBlocked);
}

TEST(RateLimiter, AWaitingAttemptTakesThePlaceOfOneThatSucceeded) {
  RateLimiter limiter(2, 60s);
  EXPECT_EQ(begin_now(limiter, "a", t0), Admission::kGranted);
  EXPECT_EQ(begin_now(limiter, "a", t0), Admission::kGranted);
  Waiter first, second;
  EXPECT_EQ(limiter.begin("a", t0, first.resume()), std::nullopt);
  EXPECT_EQ(limiter.begin("a", t0, second.resume()), std::nullopt);
  limiter.end("a", t0, false);  // a success gives its place to the first in line
  EXPECT_EQ(first.told, Admission::kGranted);
  EXPECT_EQ(second.calls, 0);
  limiter.end("a", t0, true);  // a failure keeps its place: the second still waits
  EXPECT_EQ(second.calls, 0);
  limiter.end("a", t0, false);  // the first succeeds: one failure, one place
  EXPECT_EQ(second.told, Admission::kGranted);
  EXPECT_EQ(limiter.in_flight("a"), 1u);
}

TEST(RateLimiter, TryBeginNeverWaits) {
  RateLimiter limiter(2, 60s);
  EXPECT_TRUE(limiter.try_begin("a", t0));
  EXPECT_TRUE(limiter.try_begin("a", t0));
  EXPECT_FALSE(limiter.try_begin("a", t0));  // both places in flight
  limiter.end("a", t0, true);
  limiter.end("a", t0, false);
  EXPECT_TRUE(limiter.try_begin("a", t0));
  limiter.end("a", t0, true);
  EXPECT_FALSE(limiter.try_begin("a", t0 + 1s));  // two failures in the window
  EXPECT_TRUE(limiter.try_begin("a", t0 + 60s));
}

TEST(RateLimiter, WaitingIsBounded) {
  RateLimiter limiter(1, 60s, 100, 2);
  EXPECT_EQ(begin_now(limiter, "a", t0), Admission::kGranted);
  Waiter w1, w2;
  EXPECT_EQ(limiter.begin("a", t0, w1.resume()), std::nullopt);
  EXPECT_EQ(limiter.begin("a", t0, w2.resume()), std::nullopt);
  EXPECT_EQ(begin_now(limiter, "a", t0), Admission::kBlocked);
}

TEST(RateLimiter, CancelRefusesEveryWaitingAttempt) {
  RateLimiter limiter(1, 60s);
  EXPECT_EQ(begin_now(limiter, "a", t0), Admission::kGranted);
  Waiter w;
  EXPECT_EQ(limiter.begin("a", t0, w.resume()), std::nullopt);
  limiter.cancel_waiting();
  EXPECT_EQ(w.told, Admission::kBlocked);
  limiter.end("a", t0, false);
  EXPECT_EQ(w.calls, 1);
}

TEST(RateLimiter, ForgetsExpiredKeys) {
  RateLimiter limiter(2, 10s);
  EXPECT_EQ(begin_now(limiter, "a", t0), Admission::kGranted);
  limiter.end("a", t0, true);
  EXPECT_EQ(limiter.tracked(), 1u);
  EXPECT_EQ(begin_now(limiter, "b", t0 + 11s), Admission::kGranted);
  limiter.end("b", t0 + 11s, false);
  EXPECT_EQ(begin_now(limiter, "a", t0 + 11s), Admission::kGranted);
  limiter.end("a", t0 + 11s, false);
  EXPECT_EQ(limiter.tracked(), 0u);
}

TEST(RateLimiter, MemoryIsBoundedByMaxKeys) {
  RateLimiter limiter(1, 60s, 4);
  for (int i = 0; i < 10; ++i) {
    const std::string key = "k" + std::to_string(i);
    ASSERT_EQ(begin_now(limiter, key, t0 + i * 1s), Admission::kGranted);
    limiter.end(key, t0 + i * 1s, true);
  }
  EXPECT_EQ(limiter.tracked(), 4u);
  EXPECT_EQ(begin_now(limiter, "k9", t0 + 10s), Admission::kBlocked);  // the newest are kept
  EXPECT_EQ(begin_now(limiter, "k0", t0 + 10s), Admission::kGranted);  // the oldest forgotten
}

}  // namespace
}  // namespace plugmq::service
