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

#include "plugmq/base/utf8.hpp"
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

// What decode() makes of the filters of a SUBSCRIBE or UNSUBSCRIBE: copies in the packet, or
// (kInPlace) nothing but the check: a receiver that handles a large one in turns then reads
// them from its buffer (DecodeResult::filters, FilterCursor) instead of holding ten times the
// packet's size decoded (a 1 MiB SUBSCRIBE of 1-byte filters is 262,143 strings).
enum class Filters : std::uint8_t { kDecoded, kInPlace };

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMore;
  DecodeError error = DecodeError::kNone;
  std::size_t consumed = 0;  // bytes of `in` that make up the packet (when complete)
  Packet packet;             // valid only when status == kComplete
  // Filters::kInPlace: a SUBSCRIBE's or UNSUBSCRIBE's filters, the bytes of `in` after its
  // packet id (its filter list in the packet is left empty).
  std::span<const std::uint8_t> filters;
};

// Reads, one at a time, the filters of a SUBSCRIBE or UNSUBSCRIBE that decode() accepted
// with Filters::kInPlace (DecodeResult::filters).
class FilterCursor {
 public:
  // `subscribe`: each filter is followed by its requested QoS (SUBSCRIBE).
  FilterCursor(std::span<const std::uint8_t> filters, bool subscribe)
      : p_(filters.data()), end_(filters.data() + filters.size()), subscribe_(subscribe) {}

  bool done() const { return p_ == end_; }

  // REQUIRES: !done(). The next filter; `qos` gets its requested QoS (0 in an UNSUBSCRIBE).
  std::string_view next(std::uint8_t& qos) {
    const std::size_t len = (std::size_t{p_[0]} << 8) | p_[1];
    const std::string_view filter(reinterpret_cast<const char*>(p_ + 2), len);
    p_ += 2 + len;
    qos = subscribe_ ? *p_++ : 0;
    return filter;
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  bool subscribe_;
};

// The largest remaining length a CONNECT can have [MQTT-3.1]: the protocol name "MQTT" (6
// bytes), level, flags and keep alive (4), then at most five length-prefixed fields (client id,
// will topic, will message, user name, password) of at most 65,535 bytes each.
inline constexpr std::size_t kMaxConnectRemainingLength = 10 + 5 * (2 + 65535);

// The size of the packet `in` starts with, fixed header included, once `in` holds its whole
// fixed header; 0 before that, and for a remaining length in more than 4 bytes.
std::size_t packet_size(std::span<const std::uint8_t> in);

// Decodes the first packet in `in`. kNeedMore when `in` holds only part of a packet (a
// partial header that is still valid so far, or a complete header whose body has not all
// arrived). A remaining length over `max_packet_size` is reported as kPacketTooLarge as soon
// as the header is known, without waiting for the body. Filters in SUBSCRIBE and
// UNSUBSCRIBE are not validated here beyond UTF-8 (a bad filter gets SUBACK 0x80, not a
// close); use valid_filter().
DecodeResult decode(std::span<const std::uint8_t> in, std::size_t max_packet_size,
                    Filters filters = Filters::kDecoded);

// Appends the wire form of `p` to `out`. Returns false (and appends nothing) when a field is
// longer than the wire format allows (strings over 65535 bytes, remaining length over
// 268435455).
bool encode(const Packet& p, std::string& out);

// Convenience: the wire form of `p` as a new string (empty on failure).
std::string encode(const Packet& p);

// Appends `qos0`, a complete QoS 0 PUBLISH as encode() writes it (the one a message is encoded
// to once and shared by its subscribers), re-encoded at `qos` (1 or 2) with `packet_id` and the
// DUP flag `dup`: the same topic, payload and RETAIN flag, in one reservation. Returns false,
// appending nothing, when `qos0` is not a whole QoS 0 PUBLISH or the result does not fit the
// wire format.
bool encode_publish_as(std::string_view qos0, std::uint8_t qos, std::uint16_t packet_id, bool dup,
                       std::string& out);

// The topic of `qos0`, a complete QoS 0 PUBLISH as encode() writes it: a view into it; empty
// when `qos0` is not one.
std::string_view publish_topic(std::string_view qos0);

// Writes the remaining-length varint; returns the number of bytes (1..4).
std::size_t encode_remaining_length(std::size_t len, std::uint8_t out[4]);

// Well-formed UTF-8, no U+0000, no surrogates, no overlong forms.
inline bool valid_utf8(std::string_view s) { return base::valid_utf8(s, base::Nul::kRejected); }

// A topic name a client may PUBLISH to: 1..65535 bytes, valid UTF-8, no + or #.
bool valid_topic(std::string_view topic);

// A topic filter: 1..65535 bytes, valid UTF-8, + alone in its level, # alone and last.
bool valid_filter(std::string_view filter);

}  // namespace plugmq::codec
