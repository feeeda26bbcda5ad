// The remaining-length varint [MQTT-2.2.3] at every boundary of its 1..4 byte forms, in the
// encoder, in the decoder, and against the configured maximum packet size.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "plugmq/codec/codec.hpp"

namespace plugmq::codec {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kMaxRemainingLength = 268'435'455;

struct Boundary {
  std::size_t value;
  Bytes varint;
};

// The values where the encoding changes size, each with its wire form.
const Boundary kBoundaries[] = {
    {0, {0x00}},                              // smallest one-byte value
    {127, {0x7F}},                            // largest one-byte value
    {128, {0x80, 0x01}},                      // smallest two-byte value
    {16'383, {0xFF, 0x7F}},                   // largest two-byte value
    {16'384, {0x80, 0x80, 0x01}},             // smallest three-byte value
    {2'097'151, {0xFF, 0xFF, 0x7F}},          // largest three-byte value
    {2'097'152, {0x80, 0x80, 0x80, 0x01}},    // smallest four-byte value
    {268'435'455, {0xFF, 0xFF, 0xFF, 0x7F}},  // largest value MQTT allows
};

TEST(RemainingLength, EncoderAtEveryBoundary) {
  for (const Boundary& b : kBoundaries) {
    std::uint8_t out[4] = {0xEE, 0xEE, 0xEE, 0xEE};
    const std::size_t n = encode_remaining_length(b.value, out);
    ASSERT_EQ(n, b.varint.size()) << b.value;
    EXPECT_EQ(Bytes(out, out + n), b.varint) << b.value;
    for (std::size_t i = n; i < 4; ++i) EXPECT_EQ(out[i], 0xEE) << "wrote past the varint";
  }
}

TEST(RemainingLength, EncoderRejectsValuesWithoutAWireForm) {
  std::uint8_t out[4] = {};
  EXPECT_EQ(encode_remaining_length(kMaxRemainingLength + 1, out), 0u);
}

// A PUBLISH whose remaining length is exactly `rl`: topic "t" (3 bytes) and rl-3 payload bytes.
Publish PublishWithRemainingLength(std::size_t rl) {
  Publish p;
  p.topic = "t";
  p.payload.assign(rl - 3, 'x');
  return p;
}

// Full decode and encode of packets whose bodies are actually that long (up to 2 MiB).
TEST(RemainingLength, DecodeAndEncodeWholePacketsAtBoundaries) {
  for (const Boundary& b : kBoundaries) {
    if (b.value > 2'097'152) continue;  // 256 MiB is covered header-only below
    const Packet p = b.value == 0 ? Packet{Pingreq{}} : Packet{PublishWithRemainingLength(b.value)};
    const std::string wire = encode(p);
    ASSERT_EQ(wire.size(), 1 + b.varint.size() + b.value) << b.value;
    EXPECT_EQ(Bytes(wire.begin() + 1, wire.begin() + 1 + b.varint.size()), b.varint);

    const auto* data = reinterpret_cast<const std::uint8_t*>(wire.data());
    const DecodeResult r = decode({data, wire.size()}, b.value);  // max == length is allowed
    ASSERT_EQ(r.status, DecodeStatus::kComplete) << b.value << " " << to_string(r.error);
    EXPECT_EQ(r.consumed, wire.size());
    EXPECT_TRUE(r.packet == p);

    // One byte short of the body: the header is fine, the packet is not there yet.
    const DecodeResult partial = decode({data, wire.size() - 1}, b.value);
    EXPECT_EQ(partial.status, DecodeStatus::kNeedMore) << b.value;
  }
}

// Header-only: kNeedMore when the limit allows the length, kPacketTooLarge one below it. This
// pins the decoded value exactly without allocating the body.
TEST(RemainingLength, DecodeHeaderAtEveryBoundary) {
  for (const Boundary& b : kBoundaries) {
    if (b.value == 0) continue;  // no limit lies below 0; PINGREQ covers 0 above
    Bytes header = {0x30};       // PUBLISH QoS 0: no fixed body size
    header.insert(header.end(), b.varint.begin(), b.varint.end());
    EXPECT_EQ(decode(header, b.value).status, DecodeStatus::kNeedMore) << b.value;
    const DecodeResult r = decode(header, b.value - 1);
    EXPECT_EQ(r.status, DecodeStatus::kError) << b.value;
    EXPECT_EQ(r.error, DecodeError::kPacketTooLarge) << b.value;
  }
}

TEST(RemainingLength, MQTT_2_2_3_FiveByteLengthIsAnError) {
  const Bytes five = {
      0x30,                          // PUBLISH
      0x80, 0x80, 0x80, 0x80, 0x01,  // continuation bit on the fourth byte: a fifth byte
  };
  DecodeResult r = decode(five, SIZE_MAX);
  EXPECT_EQ(r.status, DecodeStatus::kError);
  EXPECT_EQ(r.error, DecodeError::kBadRemainingLength);

  // Known as soon as the fourth byte arrives, without waiting for the fifth.
  const Bytes four_continued = {0x30, 0xFF, 0xFF, 0xFF, 0xFF};
  r = decode(four_continued, SIZE_MAX);
  EXPECT_EQ(r.status, DecodeStatus::kError);
  EXPECT_EQ(r.error, DecodeError::kBadRemainingLength);
}

TEST(RemainingLength, PartialVarintNeedsMore) {
  for (const Bytes& b :
       {Bytes{0x30}, Bytes{0x30, 0x80}, Bytes{0x30, 0xFF, 0xFF}, Bytes{0x30, 0xFF, 0xFF, 0xFF}}) {
    const DecodeResult r = decode(b, SIZE_MAX);
    EXPECT_EQ(r.status, DecodeStatus::kNeedMore) << b.size();
    EXPECT_EQ(r.error, DecodeError::kNone);
    EXPECT_EQ(r.consumed, 0u);
  }
}

TEST(RemainingLength, TooLargeIsReportedFromTheHeaderAlone) {
  const Bytes header = {
      0x30,        // PUBLISH
      0xE5, 0x00,  // remaining length 101 (non-minimal second byte is fine)
  };
  EXPECT_EQ(decode(header, 101).status, DecodeStatus::kNeedMore);
  const DecodeResult r = decode(header, 100);
  EXPECT_EQ(r.status, DecodeStatus::kError);
  EXPECT_EQ(r.error, DecodeError::kPacketTooLarge);
}

TEST(RemainingLength, EncodeFailsAboveTheMaximumAndAppendsNothing) {
  // Remaining length 268435456: topic "t" (3) + id-less payload of 268435453 bytes.
  Publish p;
  p.topic = "t";
  p.payload.assign(kMaxRemainingLength + 1 - 3, '\0');
  std::string out = "keep";
  EXPECT_FALSE(encode(p, out));
  EXPECT_EQ(out, "keep");
  EXPECT_EQ(encode(p), "");
}

}  // namespace
}  // namespace plugmq::codec
