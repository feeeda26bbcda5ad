#include "plugmq/os/fd_limit.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <limits>

#include "no_free_fds.hpp"

namespace plugmq::os {
namespace {

constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();

struct PlanCase {
  const char* what;
  FdLimit current;
  std::uint64_t wanted, reserve;
  std::uint64_t soft, max_connections;  // the plan expected
};

TEST(FdLimit, Plans) {
  const PlanCase cases[] = {
      {"enough already: nothing changes", {1048576, 1048576}, 100000, 100, 1048576, 100000},
      {"the soft limit rises as far as needed", {1024, 1048576}, 100000, 100, 100100, 100000},
      {"to an unlimited hard limit as well", {1024, kUnlimited}, 100000, 100, 100100, 100000},
      {"below the hard limit, fewer connections", {1024, 4096}, 100000, 100, 4096, 3996},
      {"soft and hard at 64", {64, 64}, 1000, 40, 64, 24},
      {"at least one connection", {32, 32}, 1000, 100, 32, 1},
      {"a higher soft limit is kept", {500000, 1048576}, 1000, 100, 500000, 1000},
      {"unlimited", {kUnlimited, kUnlimited}, 10000000, 100, kUnlimited, 10000000},
      {"no overflow near the top", {1024, kUnlimited}, kUnlimited - 10, 100, kUnlimited,
       kUnlimited - 100},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const FdPlan plan = plan_fd_limit(c.current, c.wanted, c.reserve);
    EXPECT_EQ(plan.soft, c.soft);
    EXPECT_EQ(plan.max_connections, c.max_connections);
    EXPECT_EQ(plan.lowered(c.wanted), c.max_connections < c.wanted);
  }
}

// Restores the process's limit when a test changed it.
class ProcessLimit : public ::testing::Test {
 protected:
  void SetUp() override {
    auto lim = read_fd_limit();
    ASSERT_TRUE(lim);
    saved_ = *lim;
  }
  void TearDown() override { set_fd_soft_limit(saved_.soft, saved_.hard); }
  FdLimit saved_;
};

TEST_F(ProcessLimit, FitRaisesTheSoftLimitOfThisProcess) {
  if (saved_.hard < 2048) GTEST_SKIP() << "hard limit " << saved_.hard << " below 2048";
  ASSERT_TRUE(set_fd_soft_limit(256, saved_.hard));
  auto fit = fit_fd_limit(1900, 100);
  ASSERT_TRUE(fit);
  EXPECT_EQ(fit->before.soft, 256u);
  EXPECT_EQ(fit->before.hard, saved_.hard);
  EXPECT_EQ(fit->soft, 2000u);
  EXPECT_EQ(fit->max_connections, 1900u);
  EXPECT_EQ(read_fd_limit()->soft, 2000u);
}

TEST_F(ProcessLimit, FitNeverLowersTheSoftLimit) {
  auto fit = fit_fd_limit(1, 1);
  ASSERT_TRUE(fit);
  EXPECT_EQ(fit->soft, saved_.soft);
  EXPECT_EQ(fit->max_connections, 1u);
  EXPECT_EQ(read_fd_limit()->soft, saved_.soft);
}

TEST(SpareFd, HeldReleasedAndRestored) {
  SpareFd spare;
  ASSERT_TRUE(spare.held());
  spare.release();
  EXPECT_FALSE(spare.held());
  spare.release();  // twice is harmless
  EXPECT_TRUE(spare.restore());
  EXPECT_TRUE(spare.held());
}

TEST(SpareFd, IsADescriptorWhenNoneAreLeft) {
  SpareFd spare;
  ASSERT_TRUE(spare.held());
  plugmq::testing::NoFreeFds none;
  ASSERT_TRUE(none.ok());
  EXPECT_LT(::open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
  spare.release();
  const int got = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_GE(got, 0) << "the spare's descriptor is free for someone else";
  if (got >= 0) ::close(got);
  EXPECT_TRUE(spare.restore());
  EXPECT_FALSE(SpareFd().held()) << "no descriptor left for a second one";
}

}  // namespace
}  // namespace plugmq::os
