// MQTT 3.1.1 decoder and encoder.
//
// Contract: decode() never throws on any input and never reads outside `in`. It is pure and
// thread-safe. The encoder assumes its input is valid (built by the server), except that it
// checks lengths that do not fit the wire format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "plugmq/codec/packet.hpp"

namespace plugmq::codec {

// Why a byte stream was rejected. Every value is a protocol violation that closes the
// connection, except kBadProtocol, which the server answers with CONNACK 1 first
// [MQTT-3.1.2-2].
enum class DecodeError : std::uint8_t {
  kNone = 0,
  kBadPacketType,       // type 0 or 15
  kBadFlags,            // reserved fixed-header flag bits [MQTT-2.2.2-1] [MQTT-2.2.2-2]
  kBadRemainingLength,  // a fifth length byte (more than 4 bytes) [MQTT-2.2.3]
  kPacketTooLarge,      // remaining length over the configured maximum
  kMalformed,           // truncated field, trailing bytes, bad lengths inside the packet
  kBadUtf8,             // ill-formed UTF-8 or U+0000 in a string field [MQTT-1.5.3-1/2]
  kBadProtocol,         // protocol name not "MQTT" or level not 4
  kBadConnectFlags,     // reserved bit set, will flags inconsistent, password without user
  kBadQos,              // QoS 3 in PUBLISH, SUBSCRIBE or will
  kBadTopic,            // PUBLISH topic empty or containing + or # [MQTT-3.3.2-2]
  kBadPacketId,         // packet id 0 where one is required [MQTT-2.3.1-1]
  kEmptyPayload,        // SUBSCRIBE / UNSUBSCRIBE without any filter
};

const char* to_string(DecodeError e);

enum class DecodeStatus : std::uint8_t { kComplete, kNeedMore, kError };

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMore;
  DecodeError error = DecodeError::kNone;
  std::size_t consumed = 0;  // bytes of `in` that make up the packet (when complete)
  Packet packet;             // valid only when status == kComplete
};

// Decodes the first packet in `in`. kNeedMore when `in` holds only part of a packet (a
// partial header that is still valid so far, or a complete header whose body has not all
// arrived). A remaining length over `max_packet_size` is reported as kPacketTooLarge as soon
// as the header is known, without waiting for the body. Filters in SUBSCRIBE and
// UNSUBSCRIBE are not validated here beyond UTF-8 (a bad filter gets SUBACK 0x80, not a
// close); use valid_filter().
DecodeResult decode(std::span<const std::uint8_t> in, std::size_t max_packet_size);

// Appends the wire form of `p` to `out`. Returns false (and appends nothing) when a field is
// longer than the wire format allows (strings over 65535 bytes, remaining length over
// 268435455).
bool encode(const Packet& p, std::string& out);

// Convenience: the wire form of `p` as a new string (empty on failure).
std::string encode(const Packet& p);

// Writes the remaining-length varint; returns the number of bytes (1..4).
std::size_t encode_remaining_length(std::size_t len, std::uint8_t out[4]);

// Well-formed UTF-8, no U+0000, no surrogates, no overlong forms.
bool valid_utf8(std::string_view s);

// A topic name a client may PUBLISH to: 1..65535 bytes, valid UTF-8, no + or #.
bool valid_topic(std::string_view topic);

// A topic filter: 1..65535 bytes, valid UTF-8, + alone in its level, # alone and last.
bool valid_filter(std::string_view filter);

}  // namespace plugmq::codec
