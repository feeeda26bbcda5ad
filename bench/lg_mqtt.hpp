// The load generator's own MQTT 3.1.1 client packets: encoders for what a client sends and a
// streaming decoder for what a broker sends back. No I/O, no allocation on the hot path beyond
// appending to a caller's buffer. Deliberately independent of plugmq's codec, so the load
// generator measures any broker with the same code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lg {

enum PacketType : std::uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
};

inline void put_varint(std::string& b, std::size_t n) {
  do {
    auto digit = static_cast<std::uint8_t>(n % 128);
    n /= 128;
    if (n != 0) digit |= 0x80;
    b.push_back(static_cast<char>(digit));
  } while (n != 0);
}

inline void put_u16(std::string& b, std::uint16_t v) {
  b.push_back(static_cast<char>(v >> 8));
  b.push_back(static_cast<char>(v & 0xff));
}

inline void put_str(std::string& b, std::string_view s) {
  put_u16(b, static_cast<std::uint16_t>(s.size()));
  b.append(s);
}

// CONNECT; username and password only when `login` is set.
inline std::string connect_packet(std::string_view client_id, bool login, std::string_view user,
                                  std::string_view pass, std::uint16_t keep_alive,
                                  bool clean_session = true) {
  std::string body;
  put_str(body, "MQTT");
  body.push_back(4);  // protocol level 3.1.1
  std::uint8_t flags = clean_session ? 0x02 : 0;
  if (login) flags |= 0x80 | 0x40;
  body.push_back(static_cast<char>(flags));
  put_u16(body, keep_alive);
  put_str(body, client_id);
  if (login) {
    put_str(body, user);
    put_str(body, pass);
  }
  std::string p(1, static_cast<char>(kConnect << 4));
  put_varint(p, body.size());
  return p + body;
}

inline std::string subscribe_packet(std::uint16_t packet_id, std::string_view filter,
                                    std::uint8_t qos) {
  std::string body;
  put_u16(body, packet_id);
  put_str(body, filter);
  body.push_back(static_cast<char>(qos));
  std::string p(1, static_cast<char>((kSubscribe << 4) | 0x02));
  put_varint(p, body.size());
  return p + body;
}

// Appends PUBLISH(topic, payload) to `b`; a packet id only for QoS 1.
inline void append_publish(std::string& b, std::string_view topic, std::string_view payload,
                           int qos, std::uint16_t packet_id) {
  std::size_t remaining = 2 + topic.size() + payload.size() + (qos > 0 ? 2 : 0);
  b.push_back(static_cast<char>((kPublish << 4) | (qos > 0 ? 0x02 : 0)));
  put_varint(b, remaining);
  put_str(b, topic);
  if (qos > 0) put_u16(b, packet_id);
  b.append(payload);
}

// Appends PUBACK, PUBREC or PUBCOMP (`type`) of `packet_id` to `b`.
inline void append_ack(std::string& b, PacketType type, std::uint16_t packet_id) {
  b.push_back(static_cast<char>(type << 4));
  b.push_back(2);
  put_u16(b, packet_id);
}

inline std::string_view pingreq_packet() { return std::string_view("\xc0\x00", 2); }
inline std::string_view disconnect_packet() { return std::string_view("\xe0\x00", 2); }

// One decoded packet: views into the caller's buffer, valid until it is compacted.
struct Packet {
  std::uint8_t type = 0;
  std::uint8_t flags = 0;
  const std::uint8_t* body = nullptr;
  std::size_t body_len = 0;
};

enum class Decode { kPacket, kNeedMore, kMalformed };

// Decodes one packet from [data, data + len). On kPacket, `used` is its full length.
inline Decode decode(const std::uint8_t* data, std::size_t len, Packet& out, std::size_t& used) {
  if (len < 2) return Decode::kNeedMore;
  std::size_t remaining = 0, mult = 1, i = 1;
  for (;; ++i) {
    if (i > 4) return Decode::kMalformed;
    if (i >= len) return Decode::kNeedMore;
    remaining += static_cast<std::size_t>(data[i] & 0x7f) * mult;
    mult *= 128;
    if ((data[i] & 0x80) == 0) break;
  }
  std::size_t header = i + 1;
  if (len - header < remaining) return Decode::kNeedMore;
  out.type = data[0] >> 4;
  out.flags = data[0] & 0x0f;
  out.body = data + header;
  out.body_len = remaining;
  used = header + remaining;
  return Decode::kPacket;
}

inline int publish_qos(const Packet& p) { return (p.flags >> 1) & 3; }

// The packet id of a PUBLISH of QoS 1 or 2, or of PUBACK, PUBREC, PUBREL, PUBCOMP; 0 when the
// body is too short.
inline std::uint16_t packet_id(const Packet& p) {
  std::size_t at = 0;
  if (p.type == kPublish) {
    if (p.body_len < 2) return 0;
    at = 2 + ((std::size_t{p.body[0]} << 8) | p.body[1]);
  }
  if (at + 2 > p.body_len) return 0;
  return static_cast<std::uint16_t>((p.body[at] << 8) | p.body[at + 1]);
}

// The payload of a PUBLISH body (topic and, for QoS > 0, the packet id skipped); empty view
// when the body is too short.
inline std::string_view publish_payload(const Packet& p) {
  if (p.body_len < 2) return {};
  std::size_t topic_len = (std::size_t{p.body[0]} << 8) | p.body[1];
  std::size_t skip = 2 + topic_len + (((p.flags >> 1) & 3) != 0 ? 2 : 0);
  if (skip > p.body_len) return {};
  return {reinterpret_cast<const char*>(p.body) + skip, p.body_len - skip};
}

}  // namespace lg
