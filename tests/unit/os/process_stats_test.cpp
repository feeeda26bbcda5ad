#include "plugmq/os/process_stats.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace plugmq::os {
namespace {

TEST(ProcessStats, ParsesAStatLineWhoseNameHasSpacesAndParentheses) {
  // Fields 3..24 of proc(5); the command name "(a) b" is the awkward kind.
  const std::string line =
      "4242 ((a) b) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 9 0 1000 "
      "123456789 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
  auto s = parse_proc_stat(line, 100, 4096, 1'700'000'000.0);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 4.0);  // (250 + 150) / 100
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1'700'000'010.0);
  EXPECT_EQ(s->virtual_bytes, 123456789u);
  EXPECT_EQ(s->resident_bytes, 300u * 4096);
}

TEST(ProcessStats, RefusesWhatIsNotAStatLine) {
  EXPECT_FALSE(parse_proc_stat("", 100, 4096, 0));
  EXPECT_FALSE(parse_proc_stat("1 (x) S 1 2 3", 100, 4096, 0));
  EXPECT_FALSE(parse_proc_stat("1 x S", 100, 4096, 0));
}

TEST(ProcessStats, ThisProcess) {
  auto s = process_stats();
  ASSERT_TRUE(s);
  EXPECT_GT(s->resident_bytes, 0u);
  EXPECT_GE(s->open_fds, 3u);  // stdin, stdout, stderr at least
  EXPECT_GE(s->max_fds, s->open_fds);
  EXPECT_GT(s->start_time_seconds, 1'600'000'000.0);
}

}  // namespace
}  // namespace plugmq::os
