// Counters that many threads add to on hot paths (every publish, every delivery) without
// sharing a cache line: each thread adds to a shard of its own, and a reader (a /metrics
// scrape) sums the shards. An add is a load and a store on memory no other thread writes,
// where one shared atomic would bounce between the cores at every message.
//
// A thread finds its shard through a thread_local cache keyed by the counters' identity, so one
// process may hold several (tests run several servers); a thread that switches between them
// looks its shard up again under a lock. Shards live as long as the counters: a thread that
// ends leaves its counts in.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace plugmq::base {

template <std::size_t N>
class ShardedCounters {
 public:
  ShardedCounters() : id_(next_id()) {}
  ShardedCounters(const ShardedCounters&) = delete;
  ShardedCounters& operator=(const ShardedCounters&) = delete;

  // Adds `n` to counter `i` (< N). Any thread; never blocks after the thread's first add.
  void add(std::size_t i, std::uint64_t n = 1) noexcept {
    auto& v = shard().v[i];
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  // Counter `i` summed over every thread: what was added before the call, maybe some of what
  // is added during it.
  std::uint64_t sum(std::size_t i) const {
    std::uint64_t total = 0;
    std::lock_guard lock(mu_);
    for (const auto& [thread, s] : shards_) total += s->v[i].load(std::memory_order_relaxed);
    return total;
  }

 private:
  struct alignas(64) Shard {
    std::array<std::atomic<std::uint64_t>, N> v{};
  };
  struct Cache {
    std::uint64_t owner = 0;
    Shard* shard = nullptr;
  };

  static std::uint64_t next_id() {
    static std::atomic<std::uint64_t> ids{0};
    return ++ids;  // never 0, never reused: a cache entry cannot name counters since destroyed
  }

  Shard& shard() {
    thread_local Cache cache;
    if (cache.owner != id_) {
      cache.shard = &lookup();
      cache.owner = id_;
    }
    return *cache.shard;
  }

  Shard& lookup() {
    const auto me = std::this_thread::get_id();
    std::lock_guard lock(mu_);
    for (auto& [thread, s] : shards_) {
      if (thread == me) return *s;
    }
    shards_.emplace_back(me, std::make_unique<Shard>());
    return *shards_.back().second;
  }

  const std::uint64_t id_;
  mutable std::mutex mu_;
  std::vector<std::pair<std::thread::id, std::unique_ptr<Shard>>> shards_;
};

}  // namespace plugmq::base
