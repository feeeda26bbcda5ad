// Names of decode errors, for logs and test failure messages. The decoder lives in decode.cpp,
// the encoder in encode.cpp, UTF-8 in utf8.cpp and topic/filter checks in topic_rules.cpp.
#include "plugmq/codec/codec.hpp"

namespace plugmq::codec {

const char* to_string(DecodeError e) {
  switch (e) {
    case DecodeError::kNone:
      return "none";
    case DecodeError::kBadPacketType:
      return "bad packet type";
    case DecodeError::kBadFlags:
      return "bad fixed-header flags";
    case DecodeError::kBadRemainingLength:
      return "bad remaining length";
    case DecodeError::kPacketTooLarge:
      return "packet too large";
    case DecodeError::kMalformed:
      return "malformed packet";
    case DecodeError::kBadUtf8:
      return "bad UTF-8 string";
    case DecodeError::kBadProtocol:
      return "unsupported protocol name or level";
    case DecodeError::kBadConnectFlags:
      return "bad CONNECT flags";
    case DecodeError::kBadQos:
      return "bad QoS";
    case DecodeError::kBadTopic:
      return "bad topic name";
    case DecodeError::kBadPacketId:
      return "bad packet identifier";
    case DecodeError::kEmptyPayload:
      return "no topic filter";
  }
  // Only reachable through a cast of an out-of-range value; never crash a log line over it.
  return "unknown decode error";
}

}  // namespace plugmq::codec
