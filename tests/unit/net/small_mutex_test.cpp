#include "plugmq/net/small_mutex.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace plugmq::net {
namespace {

TEST(SmallMutex, IsFourBytes) { static_assert(sizeof(SmallMutex) == 4); }

TEST(SmallMutex, TryLockFailsWhileHeld) {
  SmallMutex mu;
  ASSERT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock());
  mu.unlock();
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

// More threads than this machine has cores, each holding the lock across a preemption point
// now and then, so that waiters spin out and sleep: the sleeping path must hand the lock on
// and lose no update.
TEST(SmallMutex, SerializesUpdatesUnderContention) {
  SmallMutex mu;
  std::uint64_t plain = 0;  // updated only under the lock
  constexpr int kThreads = 8;
  constexpr int kRounds = 20000;
  std::atomic<int> inside{0};
  std::atomic<bool> overlap{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        std::lock_guard lock(mu);
        if (inside.fetch_add(1) != 0) overlap = true;
        ++plain;
        if (i % 512 == 0) std::this_thread::yield();
        inside.fetch_sub(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_EQ(plain, std::uint64_t{kThreads} * kRounds);
}

TEST(SmallMutex, WakesASleepingWaiter) {
  SmallMutex mu;
  mu.lock();
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    std::lock_guard lock(mu);  // spins out, then sleeps until unlock()
    got = true;
  });
  // The waiter cannot get the lock while it is held.
  for (int i = 0; i < 1000 && !got; ++i) std::this_thread::yield();
  EXPECT_FALSE(got.load());
  mu.unlock();
  waiter.join();
  EXPECT_TRUE(got.load());
}

}  // namespace
}  // namespace plugmq::net
