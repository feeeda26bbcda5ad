#include "plugmq/base/topic_filter.hpp"

#include <gtest/gtest.h>

#include "filter_cases.hpp"

namespace plugmq::base {
namespace {

TEST(FilterMatches, Table) {
  for (const auto& c : testing::kFilterCases) {
    EXPECT_EQ(filter_matches(c.filter, c.topic), c.match) << c.filter << " ~ " << c.topic;
  }
}

// Channels are not MQTT topics: a channel may begin with '$', and a mask's wildcards match it.
TEST(FilterMatches, DollarChannelsArePlain) {
  EXPECT_TRUE(filter_matches("#", "$x/y", DollarTopics::kPlain));
  EXPECT_TRUE(filter_matches("+/y", "$x/y", DollarTopics::kPlain));
  EXPECT_FALSE(filter_matches("#", "$x/y"));
}

}  // namespace
}  // namespace plugmq::base
