// A stream of every packet type, as a socket might deliver it: split at every byte offset, and
// fed one byte at a time. Until a packet is whole the decoder must say kNeedMore (never an
// error, never a wrong packet); then it must return exactly that packet.
#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "plugmq/codec/codec.hpp"

namespace plugmq::codec {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kMax = 1 << 20;

std::vector<Packet> AllTypes() {
  Connect connect;
  connect.client_id = "client";
  connect.keep_alive = 30;
  connect.will = Will{"w", "gone", 1, false};
  connect.username = "user";
  connect.password = "secret";
  Publish small;
  small.topic = "a/b";
  small.payload = "x";
  Publish big;  // a two-byte remaining length, so the split also lands inside a varint
  big.qos = 1;
  big.packet_id = 2;
  big.topic = "dev/data";
  big.payload.assign(300, 'p');
  return {connect,
          Connack{true, ConnackCode::kAccepted},
          small,
          big,
          Puback{2},
          Pubrec{3},
          Pubrel{3},
          Pubcomp{3},
          Subscribe{4, {{"a/#", 1}, {"+/b", 0}}},
          Suback{4, {1, kSubackFailure}},
          Unsubscribe{5, {"a/#"}},
          Unsuback{5},
          Pingreq{},
          Pingresp{},
          Disconnect{}};
}

struct Stream {
  std::vector<Packet> packets;
  Bytes bytes;
  std::vector<std::size_t> ends;  // offset just past each packet
};

Stream MakeStream() {
  Stream s;
  s.packets = AllTypes();
  std::string wire;
  for (const Packet& p : s.packets) {
    EXPECT_TRUE(encode(p, wire));
    s.ends.push_back(wire.size());
  }
  s.bytes.assign(wire.begin(), wire.end());
  return s;
}

// Decodes everything complete in `buf`, as a read loop would, and drops the consumed bytes.
void DrainInto(Bytes& buf, std::vector<Packet>& got) {
  std::size_t pos = 0;
  for (;;) {
    const DecodeResult r = decode(std::span(buf).subspan(pos), kMax);
    if (r.status == DecodeStatus::kNeedMore) break;
    ASSERT_EQ(r.status, DecodeStatus::kComplete) << to_string(r.error);
    pos += r.consumed;
    got.push_back(r.packet);
  }
  buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(pos));
}

TEST(Stream, EveryPacketTypeFitsTheTest) {
  const Stream s = MakeStream();
  EXPECT_EQ(s.packets.size(), 15u);  // 14 types, PUBLISH twice
  for (std::size_t t = 1; t <= 14; ++t) {
    bool seen = false;
    for (const Packet& p : s.packets) seen = seen || type_of(p) == static_cast<PacketType>(t);
    EXPECT_TRUE(seen) << t;
  }
}

TEST(Stream, GrowingPrefixNeedsMoreUntilEachPacketIsWhole) {
  const Stream s = MakeStream();
  for (std::size_t k = 0; k <= s.bytes.size(); ++k) {
    const std::span<const std::uint8_t> prefix(s.bytes.data(), k);
    std::size_t pos = 0;
    std::size_t n = 0;
    for (;;) {
      const DecodeResult r = decode(prefix.subspan(pos), kMax);
      if (r.status != DecodeStatus::kComplete) {
        ASSERT_EQ(r.status, DecodeStatus::kNeedMore) << "prefix " << k << " " << to_string(r.error);
        EXPECT_EQ(r.error, DecodeError::kNone);
        break;
      }
      ASSERT_LT(n, s.packets.size());
      ASSERT_EQ(pos + r.consumed, s.ends[n]) << "prefix " << k;
      ASSERT_TRUE(r.packet == s.packets[n]) << "prefix " << k << " packet " << n;
      pos += r.consumed;
      ++n;
    }
    // Exactly the packets that end within the prefix were returned.
    std::size_t whole = 0;
    while (whole < s.ends.size() && s.ends[whole] <= k) ++whole;
    ASSERT_EQ(n, whole) << "prefix " << k;
  }
}

TEST(Stream, TwoChunksSplitAtEveryOffset) {
  const Stream s = MakeStream();
  for (std::size_t k = 0; k <= s.bytes.size(); ++k) {
    Bytes buf(s.bytes.begin(), s.bytes.begin() + static_cast<std::ptrdiff_t>(k));
    std::vector<Packet> got;
    DrainInto(buf, got);
    buf.insert(buf.end(), s.bytes.begin() + static_cast<std::ptrdiff_t>(k), s.bytes.end());
    DrainInto(buf, got);
    EXPECT_TRUE(buf.empty()) << "split " << k;
    ASSERT_EQ(got.size(), s.packets.size()) << "split " << k;
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(got[i] == s.packets[i]) << k;
  }
}

TEST(Stream, OneByteAtATime) {
  const Stream s = MakeStream();
  Bytes buf;
  std::vector<Packet> got;
  for (const std::uint8_t b : s.bytes) {
    buf.push_back(b);
    DrainInto(buf, got);
  }
  EXPECT_TRUE(buf.empty());
  ASSERT_EQ(got.size(), s.packets.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(got[i] == s.packets[i]) << i;
}

TEST(Stream, ErrorStopsTheStreamAtTheBadPacket) {
  const Bytes wire = {
      0xC0, 0x00,        // PINGREQ
      0xC0, 0x01, 0x00,  // PINGREQ with a trailing byte: malformed
      0xC0, 0x00,        // never reached
  };
  DecodeResult r = decode(wire, kMax);
  ASSERT_EQ(r.status, DecodeStatus::kComplete);
  r = decode(std::span(wire).subspan(r.consumed), kMax);
  EXPECT_EQ(r.status, DecodeStatus::kError);
  EXPECT_EQ(r.error, DecodeError::kMalformed);
}

}  // namespace
}  // namespace plugmq::codec
