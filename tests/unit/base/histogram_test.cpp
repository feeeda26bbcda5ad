#include "plugmq/base/histogram.hpp"

#include <gtest/gtest.h>

namespace plugmq::base {
namespace {

TEST(FixedHistogram, CumulativeBucketsCountAndSum) {
  FixedHistogram h({0.01, 0.1, 1});
  for (double v : {0.005, 0.01, 0.05, 0.5, 3.0}) h.observe(v);
  const auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 3, 4, 5}));  // le is inclusive
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 0.005 + 0.01 + 0.05 + 0.5 + 3.0);
  EXPECT_EQ(h.bounds().size(), 3u);
}

}  // namespace
}  // namespace plugmq::base
