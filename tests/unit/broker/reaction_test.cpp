// The one table from a protocol violation to the connection's reaction, checked as a table.
#include <gtest/gtest.h>

#include <string>

#include "plugmq/broker/connection.hpp"

namespace plugmq::broker {
namespace {

using codec::ConnackCode;
using codec::DecodeError;

struct Row {
  Violation violation;
  Phase phase;
  std::optional<ConnackCode> connack;
  EndReason reason;
  LogLevel level;
  const char* throttle;  // nullptr: always logged
  const char* message;
};

constexpr auto kNo = std::nullopt;
constexpr auto kPV = EndReason::kProtocolViolation;

const Row kTable[] = {
    {Violation::kMalformedPacket, Phase::kAwaitConnect, kNo, kPV, LogLevel::kInfo,
     "mqtt malformed packet", "malformed packet ({}); closing"},
    {Violation::kMalformedPacket, Phase::kConnected, kNo, kPV, LogLevel::kInfo,
     "mqtt malformed packet", "malformed packet ({}); closing"},
    {Violation::kUnsupportedProtocol, Phase::kAwaitConnect, ConnackCode::kBadProtocolVersion,
     EndReason::kRefused, LogLevel::kInfo, "mqtt unsupported protocol",
     "unsupported protocol name or level; CONNACK 1"},
    {Violation::kUnsupportedProtocol, Phase::kConnected, kNo, kPV, LogLevel::kInfo,
     "mqtt malformed packet", "malformed packet ({}); closing"},
    {Violation::kPacketTooLarge, Phase::kConnected, kNo, kPV, LogLevel::kWarn, nullptr,
     "packet larger than max_packet_size ({} bytes); closing"},
    {Violation::kPacketTooLarge, Phase::kAwaitConnect, kNo, kPV, LogLevel::kWarn, nullptr,
     "packet larger than max_packet_size ({} bytes); closing"},
    {Violation::kPacketTooLargeForPhase, Phase::kAwaitConnect, kNo, kPV, LogLevel::kInfo, nullptr,
     "packet larger than any CONNECT ({} bytes); closing"},
    {Violation::kPacketTooLargeForPhase, Phase::kEnrolling, kNo, kPV, LogLevel::kInfo, nullptr,
     "packet larger than any enrollment SUBSCRIBE ({} bytes); closing"},
    {Violation::kFirstPacketNotConnect, Phase::kAwaitConnect, kNo, kPV, LogLevel::kInfo,
     "mqtt first packet", "first packet is not CONNECT; closing"},
    {Violation::kSecondConnect, Phase::kConnected, kNo, kPV, LogLevel::kInfo, nullptr,
     "second CONNECT; closing"},
    {Violation::kServerOnlyPacket, Phase::kConnected, kNo, kPV, LogLevel::kInfo, nullptr,
     "client sent a server-only packet; closing"},
    {Violation::kInvalidWillTopic, Phase::kAwaitConnect, kNo, kPV, LogLevel::kInfo, nullptr,
     "will topic is not a valid topic name; closing"},
    {Violation::kClientIdRejected, Phase::kAwaitConnect, ConnackCode::kIdentifierRejected,
     EndReason::kRefused, LogLevel::kDebug, nullptr,
     "empty client id with clean session 0; CONNACK 2"},
    {Violation::kNoConnectInTime, Phase::kAwaitConnect, kNo, kPV, LogLevel::kInfo,
     "mqtt no CONNECT", "no CONNECT within {} ms; closing"},
    {Violation::kKeepAliveExpired, Phase::kConnected, kNo, EndReason::kKeepAliveExpired,
     LogLevel::kInfo, nullptr, "keep alive {} s expired"},
    {Violation::kEnrollTimeUp, Phase::kEnrolling, kNo, EndReason::kEnrollDone, LogLevel::kInfo,
     nullptr, "enrollment session time is up"},
    {Violation::kEnrollPacketNotAllowed, Phase::kEnrolling, kNo, kPV, LogLevel::kInfo, nullptr,
     "an enrollment session may only SUBSCRIBE to an enrollment topic; closing"},
    {Violation::kEnrollSubscribeMisuse, Phase::kEnrolling, kNo, kPV, LogLevel::kInfo, nullptr,
     "an enrollment session subscribes to exactly one topic, once; closing"},
};

TEST(Reaction, Table) {
  for (const auto& row : kTable) {
    SCOPED_TRACE(std::string(to_string(row.violation)) + " while " + to_string(row.phase));
    const Reaction r = react(row.violation, row.phase);
    EXPECT_EQ(r.connack, row.connack);
    EXPECT_EQ(r.reason, row.reason);
    EXPECT_EQ(r.level, row.level);
    EXPECT_STREQ(r.message, row.message);
    if (row.throttle == nullptr) {
      EXPECT_EQ(r.throttle, nullptr);
    } else {
      EXPECT_STREQ(r.throttle, row.throttle);
    }
  }
}

TEST(Reaction, EveryViolationInEveryPhaseEnds) {
  for (int v = 0; v <= static_cast<int>(Violation::kEnrollSubscribeMisuse); ++v) {
    for (int p = 0; p <= static_cast<int>(Phase::kClosed); ++p) {
      const Reaction r = react(static_cast<Violation>(v), static_cast<Phase>(p));
      EXPECT_NE(r.message, nullptr);
      EXPECT_NE(r.reason, EndReason::kDisconnect);  // a violation never ends cleanly
      // A CONNACK answers a CONNECT only, and a refused one never publishes a will.
      if (r.connack) {
        EXPECT_EQ(r.reason, EndReason::kRefused);
      }
      EXPECT_STRNE(to_string(static_cast<Violation>(v)), "unknown violation");
      EXPECT_STRNE(to_string(static_cast<Phase>(p)), "unknown phase");
    }
  }
}

TEST(Reaction, DecodeErrorsAsViolations) {
  EXPECT_EQ(violation_of(DecodeError::kBadProtocol, Phase::kAwaitConnect, true),
            Violation::kUnsupportedProtocol);
  EXPECT_EQ(violation_of(DecodeError::kBadProtocol, Phase::kConnected, false),
            Violation::kMalformedPacket);
  EXPECT_EQ(violation_of(DecodeError::kPacketTooLarge, Phase::kAwaitConnect, true),
            Violation::kPacketTooLargeForPhase);
  EXPECT_EQ(violation_of(DecodeError::kPacketTooLarge, Phase::kAwaitConnect, false),
            Violation::kPacketTooLarge);
  EXPECT_EQ(violation_of(DecodeError::kPacketTooLarge, Phase::kConnected, false),
            Violation::kPacketTooLarge);
  for (auto e : {DecodeError::kBadPacketType, DecodeError::kBadFlags,
                 DecodeError::kBadRemainingLength, DecodeError::kMalformed, DecodeError::kBadUtf8,
                 DecodeError::kBadConnectFlags, DecodeError::kBadQos, DecodeError::kBadTopic,
                 DecodeError::kBadPacketId, DecodeError::kEmptyPayload}) {
    EXPECT_EQ(violation_of(e, Phase::kAwaitConnect, true), Violation::kMalformedPacket)
        << codec::to_string(e);
    EXPECT_EQ(violation_of(e, Phase::kConnected, false), Violation::kMalformedPacket)
        << codec::to_string(e);
  }
}

}  // namespace
}  // namespace plugmq::broker
