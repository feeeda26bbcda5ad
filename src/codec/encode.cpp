// MQTT 3.1.1 encoder.
//
// Each packet is sized first, so that an over-long field fails before anything is appended and
// the output grows by exactly one reservation: a PUBLISH is encoded once and shared by every
// subscriber, so its buffer should not be reallocated or over-allocated.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "plugmq/codec/codec.hpp"

namespace plugmq::codec {
namespace {

constexpr std::size_t kMaxStringLength = 65535;           // 16-bit length prefix [MQTT-1.5.3]
constexpr std::size_t kMaxRemainingLength = 268'435'455;  // four 7-bit bytes [MQTT-2.2.3]

constexpr std::size_t kPacketIdSize = 2;
constexpr std::size_t string_size(std::string_view s) { return 2 + s.size(); }
constexpr bool fits(std::string_view s) { return s.size() <= kMaxStringLength; }

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  // Appends the fixed header and reserves room for the body. Fails, appending nothing, when the
  // body is too long for the remaining-length field.
  bool header(PacketType type, std::uint8_t flags, std::size_t remaining) {
    if (remaining > kMaxRemainingLength) return false;
    std::uint8_t len[4];
    const std::size_t n = encode_remaining_length(remaining, len);
    out_.reserve(out_.size() + 1 + n + remaining);
    u8(static_cast<std::uint8_t>((static_cast<std::uint8_t>(type) << 4) | flags));
    out_.append(reinterpret_cast<const char*>(len), n);
    return true;
  }

  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }

  void u16(std::uint16_t v) {
    const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)};
    out_.append(b, 2);
  }

  // REQUIRES: s.size() <= kMaxStringLength (checked by the caller while sizing).
  void string(std::string_view s) {
    u16(static_cast<std::uint16_t>(s.size()));
    out_.append(s);
  }

  void raw(std::string_view s) { out_.append(s); }

 private:
  std::string& out_;
};

bool encode_packet(const Connect& c, Writer& w) {
  std::size_t size = string_size(c.protocol_name) + 1 + 1 + 2 + string_size(c.client_id);
  bool ok = fits(c.protocol_name) && fits(c.client_id);
  std::uint8_t flags = c.clean_session ? 0x02 : 0x00;  // bit 0 stays 0 [MQTT-3.1.2-3]
  if (c.will) {
    size += string_size(c.will->topic) + string_size(c.will->payload);
    ok = ok && fits(c.will->topic) && fits(c.will->payload);
    flags |= 0x04 | ((c.will->qos & 0x03) << 3) | (c.will->retain ? 0x20 : 0x00);
  }
  if (c.username) {
    size += string_size(*c.username);
    ok = ok && fits(*c.username);
    flags |= 0x80;
  }
  if (c.password) {
    size += string_size(*c.password);
    ok = ok && fits(*c.password);
    flags |= 0x40;
  }
  if (!ok || !w.header(PacketType::kConnect, 0, size)) return false;
  w.string(c.protocol_name);
  w.u8(c.protocol_level);
  w.u8(flags);
  w.u16(c.keep_alive);
  // Payload order is fixed [MQTT-3.1.3-1].
  w.string(c.client_id);
  if (c.will) {
    w.string(c.will->topic);
    w.string(c.will->payload);
  }
  if (c.username) w.string(*c.username);
  if (c.password) w.string(*c.password);
  return true;
}

bool encode_packet(const Connack& c, Writer& w) {
  if (!w.header(PacketType::kConnack, 0, 2)) return false;
  w.u8(c.session_present ? 0x01 : 0x00);
  w.u8(static_cast<std::uint8_t>(c.code));
  return true;
}

bool encode_packet(const Publish& p, Writer& w) {
  if (!fits(p.topic)) return false;
  const std::size_t size =
      string_size(p.topic) + (p.qos > 0 ? kPacketIdSize : 0) + p.payload.size();
  const auto flags = static_cast<std::uint8_t>((p.dup ? 0x08 : 0x00) | ((p.qos & 0x03) << 1) |
                                               (p.retain ? 0x01 : 0x00));
  if (!w.header(PacketType::kPublish, flags, size)) return false;
  w.string(p.topic);
  if (p.qos > 0) w.u16(p.packet_id);  // only QoS 1 and 2 carry one [MQTT-2.3.1-5]
  w.raw(p.payload);
  return true;
}

template <typename Ack>
bool encode_ack(PacketType type, std::uint8_t flags, const Ack& a, Writer& w) {
  if (!w.header(type, flags, kPacketIdSize)) return false;
  w.u16(a.packet_id);
  return true;
}

bool encode_packet(const Puback& a, Writer& w) { return encode_ack(PacketType::kPuback, 0, a, w); }
bool encode_packet(const Pubrec& a, Writer& w) { return encode_ack(PacketType::kPubrec, 0, a, w); }
bool encode_packet(const Pubrel& a, Writer& w) {
  return encode_ack(PacketType::kPubrel, 0b0010, a, w);  // [MQTT-3.6.1-1]
}
bool encode_packet(const Pubcomp& a, Writer& w) {
  return encode_ack(PacketType::kPubcomp, 0, a, w);
}
bool encode_packet(const Unsuback& a, Writer& w) {
  return encode_ack(PacketType::kUnsuback, 0, a, w);
}

bool encode_packet(const Subscribe& s, Writer& w) {
  std::size_t size = kPacketIdSize;
  for (const Subscription& sub : s.subscriptions) {
    if (!fits(sub.filter)) return false;
    size += string_size(sub.filter) + 1;
  }
  if (!w.header(PacketType::kSubscribe, 0b0010, size)) return false;  // [MQTT-3.8.1-1]
  w.u16(s.packet_id);
  for (const Subscription& sub : s.subscriptions) {
    w.string(sub.filter);
    w.u8(sub.qos);
  }
  return true;
}

bool encode_packet(const Suback& s, Writer& w) {
  if (!w.header(PacketType::kSuback, 0, kPacketIdSize + s.return_codes.size())) return false;
  w.u16(s.packet_id);
  w.raw(std::string_view(reinterpret_cast<const char*>(s.return_codes.data()),
                         s.return_codes.size()));
  return true;
}

bool encode_packet(const Unsubscribe& u, Writer& w) {
  std::size_t size = kPacketIdSize;
  for (const std::string& f : u.filters) {
    if (!fits(f)) return false;
    size += string_size(f);
  }
  if (!w.header(PacketType::kUnsubscribe, 0b0010, size)) return false;  // [MQTT-3.10.1-1]
  w.u16(u.packet_id);
  for (const std::string& f : u.filters) w.string(f);
  return true;
}

bool encode_packet(const Pingreq&, Writer& w) { return w.header(PacketType::kPingreq, 0, 0); }
bool encode_packet(const Pingresp&, Writer& w) { return w.header(PacketType::kPingresp, 0, 0); }
bool encode_packet(const Disconnect&, Writer& w) { return w.header(PacketType::kDisconnect, 0, 0); }

}  // namespace

std::size_t encode_remaining_length(std::size_t len, std::uint8_t out[4]) {
  // REQUIRES: len <= 268435455. Anything larger has no wire form; report 0 bytes rather than
  // write a length that silently means something else.
  if (len > kMaxRemainingLength) return 0;
  std::size_t n = 0;
  do {
    auto b = static_cast<std::uint8_t>(len & 0x7F);
    len >>= 7;
    if (len > 0) b |= 0x80;
    out[n++] = b;
  } while (len > 0);
  return n;
}

bool encode(const Packet& p, std::string& out) {
  Writer w(out);
  return std::visit([&w](const auto& packet) { return encode_packet(packet, w); }, p);
}

std::string encode(const Packet& p) {
  std::string out;
  if (!encode(p, out)) return {};
  return out;
}

namespace {

// Where the parts of `qos0`, a complete QoS 0 PUBLISH as encode() writes it, begin: the
// variable header (the topic's length) at `at`, the payload at `topic_end`.
struct Qos0Parts {
  std::size_t at;
  std::size_t topic_end;
  std::size_t remaining;
};

std::optional<Qos0Parts> qos0_parts(std::string_view qos0) {
  // The fixed header: type and flags, then the remaining length (1..4 bytes).
  if (qos0.size() < 2 || (static_cast<std::uint8_t>(qos0[0]) & 0xFE) != 0x30) return std::nullopt;
  std::size_t remaining = 0;
  std::size_t at = 1;
  for (unsigned shift = 0;; shift += 7) {
    if (at >= qos0.size() || shift > 21) return std::nullopt;
    const auto b = static_cast<std::uint8_t>(qos0[at++]);
    remaining |= std::size_t{b & 0x7Fu} << shift;
    if ((b & 0x80) == 0) break;
  }
  if (remaining != qos0.size() - at || remaining < 2) return std::nullopt;
  const std::size_t topic_end = at + 2 +
                                ((std::size_t{static_cast<std::uint8_t>(qos0[at])} << 8) |
                                 static_cast<std::uint8_t>(qos0[at + 1]));
  if (topic_end > qos0.size()) return std::nullopt;
  return Qos0Parts{at, topic_end, remaining};
}

}  // namespace

bool encode_publish_as(std::string_view qos0, std::uint8_t qos, std::uint16_t packet_id, bool dup,
                       std::string& out) {
  const auto parts = qos0_parts(qos0);
  if (!parts) return false;
  const bool retain = (static_cast<std::uint8_t>(qos0[0]) & 0x01) != 0;
  const auto flags =
      static_cast<std::uint8_t>((dup ? 0x08 : 0x00) | ((qos & 0x03) << 1) | (retain ? 0x01 : 0x00));
  Writer w(out);
  if (!w.header(PacketType::kPublish, flags, parts->remaining + kPacketIdSize)) return false;
  w.raw(qos0.substr(parts->at, parts->topic_end - parts->at));  // the topic, with its length
  w.u16(packet_id);
  w.raw(qos0.substr(parts->topic_end));  // the payload
  return true;
}

std::string_view publish_topic(std::string_view qos0) {
  const auto parts = qos0_parts(qos0);
  if (!parts) return {};
  return qos0.substr(parts->at + 2, parts->topic_end - parts->at - 2);
}

}  // namespace plugmq::codec
