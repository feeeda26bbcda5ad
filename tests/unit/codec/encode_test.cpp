// Encoder behaviour beyond the byte vectors of packets_test: appending, exact reservation, and
// refusing fields that do not fit the wire format.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "plugmq/codec/codec.hpp"

namespace plugmq::codec {
namespace {

constexpr std::size_t kMaxString = 65535;

::testing::AssertionResult Refused(const Packet& p) {
  std::string out = "prefix";
  if (encode(p, out)) return ::testing::AssertionFailure() << "encoded";
  if (out != "prefix") return ::testing::AssertionFailure() << "appended " << out.size() - 6;
  if (!encode(p).empty()) return ::testing::AssertionFailure() << "convenience overload";
  return ::testing::AssertionSuccess();
}

TEST(Encode, AppendsToExistingOutput) {
  std::string out("\xC0\x00", 2);  // a PINGREQ already queued
  ASSERT_TRUE(encode(Puback{5}, out));
  EXPECT_EQ(out, std::string("\xC0\x00\x40\x02\x00\x05", 6));
}

TEST(Encode, PublishReservesTheExactSize) {
  Publish p;
  p.qos = 1;
  p.packet_id = 1;
  p.topic = "dev/data";
  p.payload.assign(1000, 'x');
  std::string out;
  ASSERT_TRUE(encode(p, out));
  // 1 type byte + 2 length bytes (1012) + 2+8 topic + 2 id + 1000 payload.
  EXPECT_EQ(out.size(), 1015u);
  EXPECT_EQ(out.capacity(), out.size());
}

TEST(Encode, PublishQos0HasNoPacketId) {
  Publish p;
  p.topic = "t";
  p.packet_id = 77;  // ignored at QoS 0 [MQTT-2.3.1-5]
  EXPECT_EQ(encode(p), std::string("\x30\x03\x00\x01t", 5));
}

TEST(Encode, StringLengthLimits) {
  const std::string max(kMaxString, 'a');
  const std::string over(kMaxString + 1, 'a');

  Publish p;
  p.topic = max;
  EXPECT_EQ(encode(p).size(), 1 + 3 + 2 + kMaxString);
  p.topic = over;
  EXPECT_TRUE(Refused(p));

  Connect c;
  c.client_id = over;
  EXPECT_TRUE(Refused(c));
  c.client_id = "c";
  c.will = Will{"t", over, 0, false};
  EXPECT_TRUE(Refused(c));
  c.will = Will{over, "m", 0, false};
  EXPECT_TRUE(Refused(c));
  c.will.reset();
  c.username = over;
  EXPECT_TRUE(Refused(c));
  c.username = "u";
  c.password = over;
  EXPECT_TRUE(Refused(c));
  c.password = max;
  EXPECT_FALSE(encode(c).empty());

  EXPECT_TRUE(Refused(Subscribe{1, {{"a", 0}, {over, 1}}}));
  EXPECT_TRUE(Refused(Unsubscribe{1, {"a", over}}));
}

TEST(Encode, ConnectFlagsFollowTheOptionalFields) {
  Connect c;
  c.clean_session = false;
  c.client_id = "c";
  c.will = Will{"t", "m", 2, true};
  c.username = "u";
  const std::string wire = encode(c);
  ASSERT_GT(wire.size(), 9u);
  // user 0x80 | will retain 0x20 | will QoS 2 (0x10) | will 0x04; no password, not clean.
  EXPECT_EQ(static_cast<std::uint8_t>(wire[9]), 0xB4);
}

TEST(Encode, OutputDecodesBack) {
  Subscribe s{9, {{"a/+", 0}, {"#", 1}, {"x//y", 2}}};
  const std::string wire = encode(s);
  const DecodeResult r =
      decode({reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size()}, 1 << 20);
  ASSERT_EQ(r.status, DecodeStatus::kComplete);
  EXPECT_TRUE(r.packet == Packet{s});
}

// ---- A shared QoS 0 PUBLISH re-encoded for one subscriber at QoS 1 or 2 ----

TEST(EncodePublishAs, SameBytesAsEncodingAtThatQos) {
  // Payload sizes around the remaining length's 1-, 2- and 3-byte forms.
  for (std::size_t size : {0u, 1u, 100u, 117u, 118u, 119u, 16370u, 16371u, 16372u, 70000u}) {
    for (std::uint8_t qos : {1, 2}) {
      for (bool dup : {false, true}) {
        for (bool retain : {false, true}) {
          Publish p;
          p.topic = "dev-1/data/t";
          p.payload.assign(size, 'p');
          p.retain = retain;
          const std::string qos0 = encode(p);
          p.qos = qos;
          p.dup = dup;
          p.packet_id = 0xBEEF;
          std::string out = "x";
          ASSERT_TRUE(encode_publish_as(qos0, qos, 0xBEEF, dup, out)) << size;
          EXPECT_EQ(out, "x" + encode(p)) << size << " qos " << int(qos) << " dup " << dup;
        }
      }
    }
  }
}

TEST(EncodePublishAs, OnlyAWholeQos0Publish) {
  Publish p;
  p.topic = "t";
  p.payload = "hello";
  const std::string qos0 = encode(p);
  std::string out;
  EXPECT_FALSE(encode_publish_as(qos0.substr(0, qos0.size() - 1), 1, 1, false, out));  // cut
  EXPECT_FALSE(encode_publish_as(qos0 + "x", 1, 1, false, out));  // trailing byte
  p.qos = 1;
  p.packet_id = 3;
  EXPECT_FALSE(encode_publish_as(encode(p), 1, 1, false, out));          // QoS 1 already
  EXPECT_FALSE(encode_publish_as(encode(Puback{3}), 1, 1, false, out));  // not a PUBLISH
  EXPECT_FALSE(encode_publish_as(std::string("\x30\x01\x00", 3), 1, 1, false, out));
  EXPECT_FALSE(encode_publish_as({}, 1, 1, false, out));
  EXPECT_TRUE(out.empty());
}

TEST(PublishTopic, TheTopicOfAWholeQos0Publish) {
  for (std::size_t size : {0u, 117u, 118u, 16372u, 70000u}) {
    Publish p;
    p.topic = "dev-1/data/a/b";
    p.payload.assign(size, 'p');
    EXPECT_EQ(publish_topic(encode(p)), "dev-1/data/a/b") << size;
  }
  Publish p;
  p.topic = "t";
  p.payload = "hello";
  const std::string qos0 = encode(p);
  EXPECT_EQ(publish_topic(qos0.substr(0, qos0.size() - 1)), "");  // cut
  p.qos = 1;
  p.packet_id = 3;
  EXPECT_EQ(publish_topic(encode(p)), "");  // QoS 1
  EXPECT_EQ(publish_topic(encode(Puback{3})), "");
  EXPECT_EQ(publish_topic({}), "");
}

}  // namespace
}  // namespace plugmq::codec
