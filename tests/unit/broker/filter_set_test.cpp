#include "plugmq/broker/filter_set.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace plugmq::broker {
namespace {

TEST(FilterSet, HoldsAtMostItsLimitAndAFilterOnce) {
  FilterSet set;
  EXPECT_EQ(set.add("a/#", 1, 2), FilterSet::Added::kNew);
  EXPECT_EQ(set.add("a/#", 1, 2), FilterSet::Added::kHeld);
  EXPECT_EQ(set.add("b/+", 0, 2), FilterSet::Added::kNew);
  EXPECT_EQ(set.add("c", 0, 2), FilterSet::Added::kOverLimit);
  // One held already is granted past the limit: nothing changes but its QoS [MQTT-3.8.4-3].
  EXPECT_EQ(set.add("b/+", 0, 2), FilterSet::Added::kHeld);
  EXPECT_EQ(set.add("b/+", 2, 2), FilterSet::Added::kRegranted);
  EXPECT_EQ(set.qos_of("b/+"), 2);
  EXPECT_EQ(set.qos_of("a/#"), 1);
  EXPECT_EQ(set.qos_of("c"), std::nullopt);
  EXPECT_EQ(set.size(), 2u);
  // A place given back can be taken again.
  EXPECT_FALSE(set.remove("c"));
  EXPECT_TRUE(set.remove("a/#"));
  EXPECT_FALSE(set.remove("a/#"));
  EXPECT_EQ(set.add("c", 0, 2), FilterSet::Added::kNew);
  EXPECT_EQ(set.size(), 2u);
}

TEST(FilterSet, TakesEveryFilterOnceAtTheEnd) {
  FilterSet set;
  for (const char* f : {"x", "y/#", "z/+/w"}) set.add(f, 1, 10);
  std::vector<std::string> taken;
  while (!set.empty()) taken.push_back(set.take_one());
  std::sort(taken.begin(), taken.end());
  EXPECT_EQ(taken, (std::vector<std::string>{"x", "y/#", "z/+/w"}));
}

TEST(FilterSet, ManyFiltersEachFoundWithoutAScan) {
  // 200,000 filters, added, refused past the limit, found again and removed: O(n log n) in
  // all (a scan per filter would be 2 x 10^10 comparisons).
  constexpr std::size_t kLimit = 200000;
  FilterSet set;
  auto filter = [](std::size_t i) { return "d/data/" + std::to_string(1000000 + i); };
  for (std::size_t i = 0; i < kLimit; ++i)
    ASSERT_EQ(set.add(filter(i), 0, kLimit), FilterSet::Added::kNew);
  for (std::size_t i = kLimit; i < 2 * kLimit; i += 1000) {
    ASSERT_EQ(set.add(filter(i), 0, kLimit), FilterSet::Added::kOverLimit);
  }
  for (std::size_t i = 0; i < kLimit; ++i)
    ASSERT_EQ(set.add(filter(i), 0, kLimit), FilterSet::Added::kHeld);
  for (std::size_t i = 0; i < kLimit; ++i) ASSERT_TRUE(set.remove(filter(i)));
  EXPECT_TRUE(set.empty());
}

}  // namespace
}  // namespace plugmq::broker
