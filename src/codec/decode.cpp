// MQTT 3.1.1 decoder.
//
// The fixed header is checked byte by byte as it arrives, so a peer that sends a bad first byte,
// a five-byte length or an oversized length is rejected without the server buffering anything
// more. The body is parsed only once all of it is in `in`, through a Reader that is bounded by
// the remaining length: no field can read past the packet, let alone past `in`.
//
// Receiver-side rules are enforced; a few sender-only obligations that do not change how the
// packet is understood are tolerated (DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2], Session Present
// with a non-zero CONNACK code [MQTT-3.2.2-4], a remaining length in more bytes than needed).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "plugmq/codec/codec.hpp"

namespace plugmq::codec {
namespace {

// The flag nibble each packet type must carry [MQTT-2.2.2-1] [MQTT-2.2.2-2]; PUBLISH (3) is
// handled separately because its nibble is DUP, QoS and RETAIN.
constexpr std::uint8_t kRequiredFlags[16] = {
    0,       // 0: reserved
    0,       // CONNECT
    0,       // CONNACK
    0,       // PUBLISH (unused)
    0,       // PUBACK
    0,       // PUBREC
    0b0010,  // PUBREL [MQTT-3.6.1-1]
    0,       // PUBCOMP
    0b0010,  // SUBSCRIBE [MQTT-3.8.1-1]
    0,       // SUBACK
    0b0010,  // UNSUBSCRIBE [MQTT-3.10.1-1]
    0,       // UNSUBACK
    0,       // PINGREQ
    0,       // PINGRESP
    0,       // DISCONNECT
    0,       // 15: reserved
};

// Remaining length of packets whose body has a fixed size, or -1. A mismatch is known from the
// header alone, so it is reported before the body arrives.
constexpr int kFixedRemainingLength[16] = {
    -1,  // 0: reserved
    -1,  // CONNECT
    2,   // CONNACK: ack flags, return code
    -1,  // PUBLISH
    2,   // PUBACK: packet id
    2,   // PUBREC: packet id
    2,   // PUBREL: packet id
    2,   // PUBCOMP: packet id
    -1,  // SUBSCRIBE
    -1,  // SUBACK
    -1,  // UNSUBSCRIBE
    2,   // UNSUBACK: packet id
    0,   // PINGREQ
    0,   // PINGRESP
    0,   // DISCONNECT
    -1,  // 15: reserved
};

// Reads big-endian fields from a packet body. Every read checks the bound first and fails
// without moving on a short buffer.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> body)
      : p_(body.data()), end_(body.data() + body.size()) {}

  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }

  bool u8(std::uint8_t& v) {
    if (p_ == end_) return false;
    v = *p_++;
    return true;
  }

  bool u16(std::uint16_t& v) {
    if (remaining() < 2) return false;
    v = static_cast<std::uint16_t>((p_[0] << 8) | p_[1]);
    p_ += 2;
    return true;
  }

  // A two-byte length followed by that many bytes [MQTT-1.5.3]; the view points into `in`.
  bool prefixed(std::string_view& v) {
    if (remaining() < 2) return false;
    const auto len = static_cast<std::uint16_t>((p_[0] << 8) | p_[1]);
    if (remaining() - 2 < len) return false;
    v = std::string_view(reinterpret_cast<const char*>(p_ + 2), len);
    p_ += 2 + std::size_t{len};
    return true;
  }

  std::string_view rest() {
    std::string_view v(reinterpret_cast<const char*>(p_), remaining());
    p_ = end_;
    return v;
  }

  // How many length-prefixed fields, each followed by `trailer` bytes, the rest holds (as far
  // as the lengths go; nothing is checked): sizes the vector a SUBSCRIBE or UNSUBSCRIBE fills.
  std::size_t count_fields(std::size_t trailer) const {
    std::size_t n = 0;
    for (const std::uint8_t* p = p_; end_ - p >= 2; ++n) {
      const std::size_t skip = 2 + ((std::size_t{p[0]} << 8) | p[1]) + trailer;
      if (static_cast<std::size_t>(end_ - p) < skip) return n + 1;
      p += skip;
    }
    return n;
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

// Two memchr scans: string_view::find_first_of calls memchr once per byte of `s`.
bool has_wildcard(std::string_view s) {
  return s.find('+') != std::string_view::npos || s.find('#') != std::string_view::npos;
}

// A string field that must be UTF-8: kMalformed if it does not fit, kBadUtf8 if ill-formed.
DecodeError read_utf8(Reader& r, std::string_view& v) {
  if (!r.prefixed(v)) return DecodeError::kMalformed;
  if (!valid_utf8(v)) return DecodeError::kBadUtf8;  // [MQTT-1.5.3-1] [MQTT-1.5.3-2]
  return DecodeError::kNone;
}

DecodeError read_packet_id(Reader& r, std::uint16_t& id) {
  if (!r.u16(id)) return DecodeError::kMalformed;
  // Required non-zero in SUBSCRIBE, UNSUBSCRIBE and QoS>0 PUBLISH [MQTT-2.3.1-1]; an ack echoes
  // one of those, so 0 there cannot match anything either.
  if (id == 0) return DecodeError::kBadPacketId;
  return DecodeError::kNone;
}

DecodeError decode_connect(Reader& r, Connect& c) {
  std::string_view name;
  std::uint8_t level;
  if (!r.prefixed(name) || !r.u8(level)) return DecodeError::kMalformed;
  // Checked before anything else in the body: another protocol version may lay out the rest
  // differently (MQTT 5 adds properties), and the server must answer CONNACK 1 to it
  // [MQTT-3.1.2-1] [MQTT-3.1.2-2].
  if (name != "MQTT" || level != 4) return DecodeError::kBadProtocol;

  std::uint8_t flags;
  if (!r.u8(flags) || !r.u16(c.keep_alive)) return DecodeError::kMalformed;
  const bool reserved = flags & 0x01;
  const bool will_flag = flags & 0x04;
  const std::uint8_t will_qos = (flags >> 3) & 0x03;
  const bool will_retain = flags & 0x20;
  const bool password_flag = flags & 0x40;
  const bool username_flag = flags & 0x80;
  if (reserved) return DecodeError::kBadConnectFlags;  // [MQTT-3.1.2-3]
  if (!will_flag && (will_qos != 0 || will_retain)) {
    return DecodeError::kBadConnectFlags;  // [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15]
  }
  if (will_qos == 3) return DecodeError::kBadQos;                             // [MQTT-3.1.2-14]
  if (password_flag && !username_flag) return DecodeError::kBadConnectFlags;  // [MQTT-3.1.2-22]
  c.protocol_name.assign(name);
  c.protocol_level = level;
  c.clean_session = flags & 0x02;

  std::string_view field;
  // Fields appear in this order, each present exactly when its flag says so [MQTT-3.1.3-1].
  if (auto e = read_utf8(r, field); e != DecodeError::kNone) return e;  // [MQTT-3.1.3-4]
  c.client_id.assign(field);
  if (will_flag) {
    Will& w = c.will.emplace();
    if (auto e = read_utf8(r, field); e != DecodeError::kNone) return e;  // [MQTT-3.1.3-10]
    // The will is published as if the client had sent it, so it needs a valid topic name.
    if (field.empty() || has_wildcard(field)) return DecodeError::kBadTopic;  // [MQTT-4.7.1-1]
    w.topic.assign(field);
    if (!r.prefixed(field)) return DecodeError::kMalformed;  // binary: no UTF-8 check
    w.payload.assign(field);
    w.qos = will_qos;
    w.retain = will_retain;
  }
  if (username_flag) {
    if (auto e = read_utf8(r, field); e != DecodeError::kNone) return e;  // [MQTT-3.1.3-11]
    c.username.emplace(field);
  }
  if (password_flag) {
    if (!r.prefixed(field)) return DecodeError::kMalformed;  // binary data [MQTT-3.1.3.5]
    c.password.emplace(field);
  }
  if (r.remaining() != 0) return DecodeError::kMalformed;
  return DecodeError::kNone;
}

DecodeError decode_connack(Reader& r, Connack& c) {
  std::uint8_t flags;
  std::uint8_t code;
  if (!r.u8(flags) || !r.u8(code)) return DecodeError::kMalformed;
  if ((flags & 0xFE) != 0) return DecodeError::kMalformed;  // reserved bits 7-1 [MQTT-3.2.2.1]
  if (code > 5) return DecodeError::kMalformed;             // codes 6-255 reserved [MQTT-3.2.2.3]
  c.session_present = flags & 0x01;
  c.code = static_cast<ConnackCode>(code);
  return DecodeError::kNone;
}

DecodeError decode_publish(Reader& r, std::uint8_t flags, Publish& p) {
  p.dup = flags & 0x08;
  p.qos = (flags >> 1) & 0x03;  // 3 was rejected with the header
  p.retain = flags & 0x01;
  std::string_view topic;
  if (auto e = read_utf8(r, topic); e != DecodeError::kNone) return e;  // [MQTT-3.3.2-1]
  if (topic.empty() || has_wildcard(topic)) {
    return DecodeError::kBadTopic;  // [MQTT-3.3.2-2] [MQTT-4.7.3-1]
  }
  if (p.qos > 0) {
    if (auto e = read_packet_id(r, p.packet_id); e != DecodeError::kNone) return e;
  }
  p.topic.assign(topic);
  p.payload.assign(r.rest());  // zero or more bytes of application data [MQTT-3.3.3]
  return DecodeError::kNone;
}

template <typename Ack>
DecodeError decode_ack(Reader& r, Ack& a) {
  return read_packet_id(r, a.packet_id);  // the size was checked against the header
}

DecodeError decode_subscribe(Reader& r, Subscribe& s, Filters keep) {
  if (auto e = read_packet_id(r, s.packet_id); e != DecodeError::kNone) return e;
  if (r.remaining() == 0) return DecodeError::kEmptyPayload;  // [MQTT-3.8.3-3]
  // Sized first: a 1 MiB packet of 1-byte filters is 262,143 of them.
  if (keep == Filters::kDecoded) s.subscriptions.reserve(r.count_fields(1));
  while (r.remaining() != 0) {
    std::string_view filter;
    std::uint8_t qos;
    // The filter's syntax is judged by the caller: a bad filter gets SUBACK 0x80, not a close.
    if (auto e = read_utf8(r, filter); e != DecodeError::kNone) return e;
    if (!r.u8(qos)) return DecodeError::kMalformed;
    if ((qos & 0xFC) != 0) return DecodeError::kMalformed;  // reserved bits [MQTT-3.8.3-4]
    if (qos == 3) return DecodeError::kBadQos;              // [MQTT-3.8.3-4]
    if (keep == Filters::kDecoded) {
      s.subscriptions.push_back(Subscription{std::string(filter), qos});
    }
  }
  return DecodeError::kNone;
}

DecodeError decode_suback(Reader& r, Suback& s) {
  if (auto e = read_packet_id(r, s.packet_id); e != DecodeError::kNone) return e;
  // One code per filter of the SUBSCRIBE, which has at least one.
  if (r.remaining() == 0) return DecodeError::kMalformed;
  const std::string_view codes = r.rest();
  for (const char ch : codes) {
    const auto code = static_cast<std::uint8_t>(ch);
    if (code > 2 && code != kSubackFailure) return DecodeError::kMalformed;  // [MQTT-3.9.3-2]
  }
  s.return_codes.assign(codes.begin(), codes.end());
  return DecodeError::kNone;
}

DecodeError decode_unsubscribe(Reader& r, Unsubscribe& u, Filters keep) {
  if (auto e = read_packet_id(r, u.packet_id); e != DecodeError::kNone) return e;
  if (r.remaining() == 0) return DecodeError::kEmptyPayload;  // [MQTT-3.10.3-2]
  if (keep == Filters::kDecoded) u.filters.reserve(r.count_fields(0));
  while (r.remaining() != 0) {
    std::string_view filter;
    if (auto e = read_utf8(r, filter); e != DecodeError::kNone) return e;  // [MQTT-3.10.3-1]
    if (keep == Filters::kDecoded) u.filters.emplace_back(filter);
  }
  return DecodeError::kNone;
}

DecodeError decode_body(Reader& r, std::uint8_t type, std::uint8_t flags, Filters filters,
                        Packet& out) {
  switch (static_cast<PacketType>(type)) {
    case PacketType::kConnect:
      return decode_connect(r, out.emplace<Connect>());
    case PacketType::kConnack:
      return decode_connack(r, out.emplace<Connack>());
    case PacketType::kPublish:
      return decode_publish(r, flags, out.emplace<Publish>());
    case PacketType::kPuback:
      return decode_ack(r, out.emplace<Puback>());
    case PacketType::kPubrec:
      return decode_ack(r, out.emplace<Pubrec>());
    case PacketType::kPubrel:
      return decode_ack(r, out.emplace<Pubrel>());
    case PacketType::kPubcomp:
      return decode_ack(r, out.emplace<Pubcomp>());
    case PacketType::kSubscribe:
      return decode_subscribe(r, out.emplace<Subscribe>(), filters);
    case PacketType::kSuback:
      return decode_suback(r, out.emplace<Suback>());
    case PacketType::kUnsubscribe:
      return decode_unsubscribe(r, out.emplace<Unsubscribe>(), filters);
    case PacketType::kUnsuback:
      return decode_ack(r, out.emplace<Unsuback>());
    case PacketType::kPingreq:
      out.emplace<Pingreq>();
      return DecodeError::kNone;
    case PacketType::kPingresp:
      out.emplace<Pingresp>();
      return DecodeError::kNone;
    case PacketType::kDisconnect:
      out.emplace<Disconnect>();
      return DecodeError::kNone;
  }
  return DecodeError::kBadPacketType;  // unreachable: 0 and 15 were rejected with the header
}

// The remaining length that follows the first byte of `in` [MQTT-2.2.3]: 7 bits per byte, least
// significant first, at most 4 bytes. Sets `header` to the fixed header's size.
enum class LengthStatus : std::uint8_t { kComplete, kNeedMore, kTooLong };
LengthStatus remaining_length(std::span<const std::uint8_t> in, std::size_t& remaining,
                              std::size_t& header) {
  remaining = 0;
  header = 1;
  for (;;) {
    if (header >= in.size()) return LengthStatus::kNeedMore;
    const std::uint8_t b = in[header];
    remaining |= std::size_t{b & 0x7Fu} << (7 * (header - 1));
    ++header;
    if ((b & 0x80) == 0) return LengthStatus::kComplete;
    if (header == 5) return LengthStatus::kTooLong;
  }
}

// Marks `r` as failed. decode() returns its one named result on every path, so that the result
// (a variant holding strings) is constructed in place rather than moved.
void fail(DecodeResult& r, DecodeError e) {
  r.status = DecodeStatus::kError;
  r.error = e;
}

}  // namespace

DecodeResult decode(std::span<const std::uint8_t> in, std::size_t max_packet_size,
                    Filters filters) {
  DecodeResult result;  // kNeedMore
  if (in.empty()) return result;

  // Fixed header byte 1: type and flags [MQTT-2.2].
  const std::uint8_t type = in[0] >> 4;
  const std::uint8_t flags = in[0] & 0x0F;
  if (type == 0 || type == 15) {
    fail(result, DecodeError::kBadPacketType);
    return result;
  }
  if (type == static_cast<std::uint8_t>(PacketType::kPublish)) {
    if (((flags >> 1) & 0x03) == 3) {
      fail(result, DecodeError::kBadQos);  // [MQTT-3.3.1-4]
      return result;
    }
  } else if (flags != kRequiredFlags[type]) {
    fail(result, DecodeError::kBadFlags);  // [MQTT-2.2.2-2]
    return result;
  }

  std::size_t remaining = 0;
  std::size_t header = 0;
  switch (remaining_length(in, remaining, header)) {
    case LengthStatus::kNeedMore:
      return result;
    case LengthStatus::kTooLong:
      fail(result, DecodeError::kBadRemainingLength);
      return result;
    case LengthStatus::kComplete:
      break;
  }
  if (remaining > max_packet_size) {
    fail(result, DecodeError::kPacketTooLarge);
    return result;
  }
  if (const int fixed = kFixedRemainingLength[type];
      fixed >= 0 && remaining != static_cast<std::size_t>(fixed)) {
    fail(result, DecodeError::kMalformed);  // truncated or trailing bytes
    return result;
  }
  if (in.size() - header < remaining) return result;  // kNeedMore

  const auto body = in.subspan(header, remaining);
  Reader reader(body);
  if (const DecodeError e = decode_body(reader, type, flags, filters, result.packet);
      e != DecodeError::kNone) {
    fail(result, e);  // the half-filled packet is not to be used
    return result;
  }
  if (filters == Filters::kInPlace &&
      (type == static_cast<std::uint8_t>(PacketType::kSubscribe) ||
       type == static_cast<std::uint8_t>(PacketType::kUnsubscribe))) {
    result.filters = body.subspan(2);  // after the packet id
  }
  result.status = DecodeStatus::kComplete;
  result.consumed = header + remaining;
  return result;
}

std::size_t packet_size(std::span<const std::uint8_t> in) {
  std::size_t remaining = 0;
  std::size_t header = 0;
  if (in.empty() || remaining_length(in, remaining, header) != LengthStatus::kComplete) return 0;
  return header + remaining;
}

}  // namespace plugmq::codec
