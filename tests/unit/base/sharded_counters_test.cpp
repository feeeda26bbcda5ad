#include "plugmq/base/sharded_counters.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace plugmq::base {
namespace {

TEST(ShardedCounters, SumsWhatEveryThreadAdded) {
  ShardedCounters<3> c;
  constexpr int kThreads = 4;
  constexpr int kAdds = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&c, t] {
      for (int i = 0; i < kAdds; ++i) c.add(0);
      c.add(1, static_cast<std::uint64_t>(t));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.sum(0), static_cast<std::uint64_t>(kThreads) * kAdds);
  EXPECT_EQ(c.sum(1), 0u + 1 + 2 + 3);
  EXPECT_EQ(c.sum(2), 0u);
}

TEST(ShardedCounters, OneThreadKeepsSeveralApart) {
  auto a = std::make_unique<ShardedCounters<1>>();
  ShardedCounters<1> b;
  a->add(0, 5);
  b.add(0, 7);
  a->add(0);
  EXPECT_EQ(a->sum(0), 6u);
  EXPECT_EQ(b.sum(0), 7u);
  // New counters where old ones were never see the old ones' counts.
  a.reset();
  ShardedCounters<1> c;
  c.add(0);
  EXPECT_EQ(c.sum(0), 1u);
  EXPECT_EQ(b.sum(0), 7u);
}

}  // namespace
}  // namespace plugmq::base
