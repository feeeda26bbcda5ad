// The one table from a protocol violation to the connection's reaction, and the one from a
// login's result to its CONNACK.
#include "plugmq/broker/connection.hpp"

namespace plugmq::broker {

using codec::ConnackCode;
using codec::DecodeError;

Reaction react(Violation v, Phase p) {
  constexpr auto kViolation = EndReason::kProtocolViolation;
  switch (v) {
    case Violation::kUnsupportedProtocol:
      // Answered with CONNACK 1 only as the first packet [MQTT-3.1.2-2]; a later CONNECT is
      // malformed whatever it holds.
      if (p != Phase::kAwaitConnect) break;
      return {ConnackCode::kBadProtocolVersion, EndReason::kRefused, LogLevel::kInfo,
              "unsupported protocol name or level; CONNACK 1", "mqtt unsupported protocol"};
    case Violation::kMalformedPacket:
      break;
    case Violation::kPacketTooLarge:
      // Within the protocol, but over the operator's limit: worth a warning.
      return {std::nullopt, kViolation, LogLevel::kWarn,
              "packet larger than max_packet_size ({} bytes); closing", nullptr};
    case Violation::kPacketTooLargeForPhase:
      return {std::nullopt, kViolation, LogLevel::kInfo,
              p == Phase::kEnrolling
                  ? "packet larger than any enrollment SUBSCRIBE ({} bytes); closing"
                  : "packet larger than any CONNECT ({} bytes); closing",
              nullptr};
    case Violation::kFirstPacketNotConnect:  // [MQTT-3.1.0-1]
      return {std::nullopt, kViolation, LogLevel::kInfo, "first packet is not CONNECT; closing",
              "mqtt first packet"};
    case Violation::kSecondConnect:  // [MQTT-3.1.0-2]
      return {std::nullopt, kViolation, LogLevel::kInfo, "second CONNECT; closing", nullptr};
    case Violation::kServerOnlyPacket:
      return {std::nullopt, kViolation, LogLevel::kInfo,
              "client sent a server-only packet; closing", nullptr};
    case Violation::kInvalidWillTopic:  // [MQTT-3.1.2-14]
      return {std::nullopt, kViolation, LogLevel::kInfo,
              "will topic is not a valid topic name; closing", nullptr};
    case Violation::kClientIdRejected:  // [MQTT-3.1.3-8]
      return {ConnackCode::kIdentifierRejected, EndReason::kRefused, LogLevel::kDebug,
              "empty client id with clean session 0; CONNACK 2", nullptr};
    case Violation::kNoConnectInTime:
      return {std::nullopt, kViolation, LogLevel::kInfo, "no CONNECT within {} ms; closing",
              "mqtt no CONNECT"};
    case Violation::kKeepAliveExpired:  // [MQTT-3.1.2-24]
      return {std::nullopt, EndReason::kKeepAliveExpired, LogLevel::kInfo,
              "keep alive {} s expired", nullptr};
    case Violation::kEnrollTimeUp:  // SPEC 5: whatever happens
      return {std::nullopt, EndReason::kEnrollDone, LogLevel::kInfo,
              "enrollment session time is up", nullptr};
    case Violation::kEnrollPacketNotAllowed:
      return {std::nullopt, kViolation, LogLevel::kInfo,
              "an enrollment session may only SUBSCRIBE to an enrollment topic; closing", nullptr};
    case Violation::kEnrollSubscribeMisuse:
      return {std::nullopt, kViolation, LogLevel::kInfo,
              "an enrollment session subscribes to exactly one topic, once; closing", nullptr};
  }
  // Malformed: a client can send these at will, so the line is throttled per address.
  return {std::nullopt, kViolation, LogLevel::kInfo, "malformed packet ({}); closing",
          "mqtt malformed packet"};
}

Violation violation_of(DecodeError e, Phase phase, bool phase_limited) {
  if (e == DecodeError::kBadProtocol && phase == Phase::kAwaitConnect) {
    return Violation::kUnsupportedProtocol;
  }
  if (e == DecodeError::kPacketTooLarge) {
    return phase_limited ? Violation::kPacketTooLargeForPhase : Violation::kPacketTooLarge;
  }
  return Violation::kMalformedPacket;
}

ConnackCode connack_for(LoginResult r) {
  switch (r) {
    case LoginResult::kOk:
      return ConnackCode::kAccepted;
    case LoginResult::kBadCredentials:
      return ConnackCode::kBadCredentials;
    case LoginResult::kDisabled:
    case LoginResult::kLimited:
      return ConnackCode::kNotAuthorized;
    case LoginResult::kBusy:
    case LoginResult::kError:
      break;
  }
  return ConnackCode::kServerUnavailable;
}

const char* to_string(Violation v) {
  switch (v) {
    case Violation::kMalformedPacket:
      return "malformed packet";
    case Violation::kUnsupportedProtocol:
      return "unsupported protocol";
    case Violation::kPacketTooLarge:
      return "packet too large";
    case Violation::kPacketTooLargeForPhase:
      return "packet too large for the phase";
    case Violation::kFirstPacketNotConnect:
      return "first packet not CONNECT";
    case Violation::kSecondConnect:
      return "second CONNECT";
    case Violation::kServerOnlyPacket:
      return "server-only packet";
    case Violation::kInvalidWillTopic:
      return "invalid will topic";
    case Violation::kClientIdRejected:
      return "client id rejected";
    case Violation::kNoConnectInTime:
      return "no CONNECT in time";
    case Violation::kKeepAliveExpired:
      return "keep alive expired";
    case Violation::kEnrollTimeUp:
      return "enrollment time up";
    case Violation::kEnrollPacketNotAllowed:
      return "packet not allowed in an enrollment session";
    case Violation::kEnrollSubscribeMisuse:
      return "enrollment SUBSCRIBE misuse";
  }
  return "unknown violation";
}

const char* to_string(Phase p) {
  switch (p) {
    case Phase::kAwaitConnect:
      return "awaiting CONNECT";
    case Phase::kLoggingIn:
      return "logging in";
    case Phase::kEnrolling:
      return "enrolling";
    case Phase::kConnected:
      return "connected";
    case Phase::kClosing:
      return "closing";
    case Phase::kClosed:
      return "closed";
  }
  return "unknown phase";
}

}  // namespace plugmq::broker
