// A mutex in four bytes, for objects there are many of (one per connection), where std::mutex
// would take forty. Uncontended lock and unlock are one atomic operation each; a contended
// lock spins briefly, then sleeps on the word (a futex). Meets Lockable, so std::lock_guard and
// std::unique_lock work with it. Not recursive.
#pragma once

#include <atomic>
#include <cstdint>

namespace plugmq::net {

class SmallMutex {
 public:
  SmallMutex() = default;
  SmallMutex(const SmallMutex&) = delete;
  SmallMutex& operator=(const SmallMutex&) = delete;

  bool try_lock() noexcept {
    std::uint32_t expected = kUnlocked;
    return state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  void lock() noexcept {
    if (try_lock()) return;
    // Critical sections here are a few instructions long: the holder is usually done within a
    // short spin, unless it was preempted.
    for (int i = 0; i < kSpins; ++i) {
      if (state_.load(std::memory_order_relaxed) == kUnlocked && try_lock()) return;
      pause();
    }
    // Mark the lock contended, so that unlock() wakes a sleeper, and sleep until it is free.
    while (state_.exchange(kContended, std::memory_order_acquire) != kUnlocked) {
      state_.wait(kContended, std::memory_order_relaxed);
    }
  }

  void unlock() noexcept {
    if (state_.exchange(kUnlocked, std::memory_order_release) == kContended) {
      state_.notify_one();
    }
  }

 private:
  static constexpr std::uint32_t kUnlocked = 0;
  static constexpr std::uint32_t kLocked = 1;     // held, nobody sleeps on it
  static constexpr std::uint32_t kContended = 2;  // held, and someone may sleep on it
  static constexpr int kSpins = 64;

  static void pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  std::atomic<std::uint32_t> state_{kUnlocked};
};

}  // namespace plugmq::net
