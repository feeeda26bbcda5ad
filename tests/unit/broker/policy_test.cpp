// EndReason policy: which ends publish the will, the keep-alive limit, names.
#include "plugmq/broker/policy.hpp"

#include <gtest/gtest.h>

#include <string>

namespace plugmq::broker {
namespace {

TEST(Policy, WillOnEveryEndButACleanOneAShutdownOrARevocation) {  // [MQTT-3.1.2-8]
  const std::pair<EndReason, bool> table[] = {
      {EndReason::kDisconnect, false},  // [MQTT-3.14.4-3]
      {EndReason::kClosedByPeer, true},
      {EndReason::kKeepAliveExpired, true},
      {EndReason::kProtocolViolation, true},
      {EndReason::kTakenOver, true},
      {EndReason::kServerShutdown, false},
      {EndReason::kSlowConsumer, true},
      {EndReason::kRefused, true},  // the connection never logged in, so it has no will
      {EndReason::kRevoked, false},
      {EndReason::kEnrollDone, true},  // an enrollment session has no will
      {EndReason::kStoreFailed, true},
  };
  static_assert(std::size(table) == static_cast<std::size_t>(EndReason::kStoreFailed) + 1);
  for (const auto& [why, will] : table) EXPECT_EQ(publishes_will(why), will) << to_string(why);
}

TEST(Policy, KeepAliveLimitIsOneAndAHalfTimes) {  // [MQTT-3.1.2-24]
  EXPECT_EQ(keep_alive_limit(0), std::chrono::milliseconds(0));
  EXPECT_EQ(keep_alive_limit(1), std::chrono::milliseconds(1500));
  EXPECT_EQ(keep_alive_limit(60), std::chrono::milliseconds(90000));
  EXPECT_EQ(keep_alive_limit(65535), std::chrono::milliseconds(98302500));
}

TEST(Policy, EveryEndReasonHasAName) {
  for (int r = 0; r <= static_cast<int>(EndReason::kStoreFailed); ++r) {
    EXPECT_STRNE(to_string(static_cast<EndReason>(r)), "unknown") << r;
  }
}

}  // namespace
}  // namespace plugmq::broker
