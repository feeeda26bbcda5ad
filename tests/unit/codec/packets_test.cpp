// Byte vectors for every packet type: each must decode to the expected struct and the struct must
// encode to exactly the same bytes. Every field of every vector is commented.
#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "plugmq/codec/codec.hpp"
#include "plugmq/codec/packet.hpp"

namespace plugmq::codec {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kMax = 1 << 20;

std::string as_string(const Bytes& b) { return std::string(b.begin(), b.end()); }

// Decodes `wire` as one whole packet and encodes `expected` back to `wire`.
void ExpectRoundTrip(const Bytes& wire, const Packet& expected) {
  const DecodeResult r = decode(wire, kMax);
  ASSERT_EQ(r.status, DecodeStatus::kComplete) << to_string(r.error);
  EXPECT_EQ(r.error, DecodeError::kNone);
  EXPECT_EQ(r.consumed, wire.size());
  EXPECT_EQ(r.packet.index(), expected.index());
  EXPECT_TRUE(r.packet == expected);
  EXPECT_EQ(type_of(r.packet), static_cast<PacketType>(wire[0] >> 4));

  std::string out;
  ASSERT_TRUE(encode(expected, out));
  EXPECT_EQ(out, as_string(wire));
  EXPECT_EQ(encode(expected), as_string(wire));
}

TEST(Packets, ConnectMinimal) {
  const Bytes wire = {
      0x10,                  // CONNECT, flags 0
      0x10,                  // remaining length 16
      0x00, 0x04,            // protocol name length 4
      'M',  'Q',  'T', 'T',  // "MQTT"
      0x04,                  // protocol level 4 (3.1.1)
      0x02,                  // connect flags: clean session only
      0x00, 0x3C,            // keep alive 60 s
      0x00, 0x04,            // client id length 4
      'd',  'e',  'v', '1',  // client id "dev1"
  };
  Connect c;
  c.clean_session = true;
  c.keep_alive = 60;
  c.client_id = "dev1";
  ExpectRoundTrip(wire, c);
}

TEST(Packets, ConnectEmptyClientIdPersistentSession) {
  const Bytes wire = {
      0x10,                  // CONNECT
      0x0C,                  // remaining length 12
      0x00, 0x04,            // protocol name length 4
      'M',  'Q',  'T', 'T',  // "MQTT"
      0x04,                  // level 4
      0x00,                  // flags: nothing set, clean session 0
      0xFF, 0xFF,            // keep alive 65535 s
      0x00, 0x00,            // client id length 0 (zero-length id [MQTT-3.1.3-6])
  };
  Connect c;
  c.clean_session = false;
  c.keep_alive = 65535;
  ExpectRoundTrip(wire, c);
}

TEST(Packets, ConnectWithWillUsernamePassword) {
  const Bytes wire = {
      0x10,                // CONNECT
      0x20,                // remaining length 32
      0x00, 0x04,          // protocol name length 4
      'M', 'Q', 'T', 'T',  // "MQTT"
      0x04,                // level 4
      0xEE,                // flags: user 0x80 | password 0x40 | will retain 0x20 |
                           //        will QoS 1 (0x08) | will 0x04 | clean session 0x02
      0x01, 0xC2,          // keep alive 450 s
      0x00, 0x02,          // client id length 2
      'c', '1',            // client id "c1"
      0x00, 0x03,          // will topic length 3
      'w', '/', 't',       // will topic "w/t"
      0x00, 0x02,          // will message length 2
      0x00, 0xFF,          // will message: binary, not UTF-8
      0x00, 0x03,          // username length 3
      'u', '@', 'x',       // username "u@x"
      0x00, 0x02,          // password length 2
      0x00, 'p',           // password: binary, may contain NUL
  };
  Connect c;
  c.clean_session = true;
  c.keep_alive = 450;
  c.client_id = "c1";
  c.will = Will{"w/t", std::string("\x00\xFF", 2), 1, true};
  c.username = "u@x";
  c.password = std::string("\x00p", 2);
  ExpectRoundTrip(wire, c);
}

TEST(Packets, ConnectUsernameOnlyWillQos2) {
  const Bytes wire = {
      0x10,                  // CONNECT
      0x15,                  // remaining length 21
      0x00, 0x04,            // protocol name length 4
      'M',  'Q',  'T', 'T',  // "MQTT"
      0x04,                  // level 4
      0x94,                  // flags: user 0x80 | will QoS 2 (0x10) | will 0x04
      0x00, 0x00,            // keep alive 0 (disabled)
      0x00, 0x01,            // client id length 1
      'c',                   // client id "c"
      0x00, 0x01,            // will topic length 1
      't',                   // will topic "t"
      0x00, 0x00,            // will message length 0 (empty will)
      0x00, 0x01,            // username length 1
      'u',                   // username "u"
  };
  Connect c;
  c.clean_session = false;
  c.client_id = "c";
  c.will = Will{"t", "", 2, false};
  c.username = "u";
  ExpectRoundTrip(wire, c);
}

TEST(Packets, ConnackSessionPresent) {
  const Bytes wire = {
      0x20,  // CONNACK
      0x02,  // remaining length 2
      0x01,  // ack flags: session present
      0x00,  // return code 0: accepted
  };
  ExpectRoundTrip(wire, Connack{true, ConnackCode::kAccepted});
}

TEST(Packets, ConnackEveryReturnCode) {
  for (std::uint8_t code = 0; code <= 5; ++code) {
    const Bytes wire = {
        0x20,  // CONNACK
        0x02,  // remaining length 2
        0x00,  // ack flags: no session
        code,  // return code 0..5 [MQTT-3.2.2.3]
    };
    ExpectRoundTrip(wire, Connack{false, static_cast<ConnackCode>(code)});
  }
}

TEST(Packets, PublishQos0) {
  const Bytes wire = {
      0x30,           // PUBLISH, DUP 0, QoS 0, RETAIN 0
      0x07,           // remaining length 7
      0x00, 0x03,     // topic length 3
      'a', '/', 'b',  // topic "a/b"
                      // no packet id at QoS 0
      'h', 'i',       // payload "hi"
  };
  Publish p;
  p.topic = "a/b";
  p.payload = "hi";
  ExpectRoundTrip(wire, p);
}

TEST(Packets, PublishQos1RetainEmptyPayload) {
  const Bytes wire = {
      0x33,        // PUBLISH, DUP 0, QoS 1, RETAIN 1
      0x05,        // remaining length 5
      0x00, 0x01,  // topic length 1
      't',         // topic "t"
      0x12, 0x34,  // packet id 0x1234
                   // empty payload
  };
  Publish p;
  p.qos = 1;
  p.retain = true;
  p.topic = "t";
  p.packet_id = 0x1234;
  ExpectRoundTrip(wire, p);
}

TEST(Packets, PublishQos2DupUtf8TopicBinaryPayload) {
  const Bytes wire = {
      0x3C,              // PUBLISH, DUP 1, QoS 2, RETAIN 0
      0x09,              // remaining length 9
      0x00, 0x02,        // topic length 2
      0xC3, 0xA9,        // topic "é" (U+00E9, two bytes)
      0xFF, 0xFF,        // packet id 65535
      0x00, 0xFF, 0x7B,  // payload: binary, NUL and 0xFF allowed
  };
  Publish p;
  p.dup = true;
  p.qos = 2;
  p.topic = "\xC3\xA9";
  p.packet_id = 0xFFFF;
  p.payload = std::string("\x00\xFF{", 3);
  ExpectRoundTrip(wire, p);
}

TEST(Packets, Puback) {
  const Bytes wire = {
      0x40,        // PUBACK
      0x02,        // remaining length 2
      0x00, 0x07,  // packet id 7
  };
  ExpectRoundTrip(wire, Puback{7});
}

TEST(Packets, Pubrec) {
  const Bytes wire = {
      0x50,        // PUBREC
      0x02,        // remaining length 2
      0x01, 0x00,  // packet id 256
  };
  ExpectRoundTrip(wire, Pubrec{256});
}

TEST(Packets, Pubrel) {
  const Bytes wire = {
      0x62,        // PUBREL, flags 0b0010 [MQTT-3.6.1-1]
      0x02,        // remaining length 2
      0x00, 0x09,  // packet id 9
  };
  ExpectRoundTrip(wire, Pubrel{9});
}

TEST(Packets, Pubcomp) {
  const Bytes wire = {
      0x70,        // PUBCOMP
      0x02,        // remaining length 2
      0xAB, 0xCD,  // packet id 0xABCD
  };
  ExpectRoundTrip(wire, Pubcomp{0xABCD});
}

TEST(Packets, Subscribe) {
  const Bytes wire = {
      0x82,             // SUBSCRIBE, flags 0b0010 [MQTT-3.8.1-1]
      0x0C,             // remaining length 12
      0x00, 0x0A,       // packet id 10
      0x00, 0x03,       // filter length 3
      'a',  '/',  '+',  // filter "a/+"
      0x01,             // requested QoS 1
      0x00, 0x01,       // filter length 1
      '#',              // filter "#"
      0x02,             // requested QoS 2
  };
  ExpectRoundTrip(wire, Subscribe{10, {{"a/+", 1}, {"#", 2}}});
}

TEST(Packets, SubscribeKeepsInvalidFilterForSuback) {
  // The filter is not checked by the decoder: the server answers it with 0x80, not a close.
  const Bytes wire = {
      0x82,             // SUBSCRIBE
      0x08,             // remaining length 8
      0x00, 0x01,       // packet id 1
      0x00, 0x03,       // filter length 3
      'a',  '#',  'b',  // filter "a#b": invalid, but well-formed UTF-8
      0x00,             // requested QoS 0
  };
  ExpectRoundTrip(wire, Subscribe{1, {{"a#b", 0}}});
}

TEST(Packets, Suback) {
  const Bytes wire = {
      0x90,                    // SUBACK
      0x06,                    // remaining length 6
      0x00, 0x0A,              // packet id 10
      0x00, 0x01, 0x02, 0x80,  // return codes: QoS 0, 1, 2, failure
  };
  ExpectRoundTrip(wire, Suback{10, {0, 1, 2, kSubackFailure}});
}

TEST(Packets, Unsubscribe) {
  const Bytes wire = {
      0xA2,             // UNSUBSCRIBE, flags 0b0010 [MQTT-3.10.1-1]
      0x0A,             // remaining length 10
      0x00, 0x0B,       // packet id 11
      0x00, 0x03,       // filter length 3
      'a',  '/',  '+',  // filter "a/+"
      0x00, 0x01,       // filter length 1
      'b',              // filter "b"
  };
  ExpectRoundTrip(wire, Unsubscribe{11, {"a/+", "b"}});
}

TEST(Packets, Unsuback) {
  const Bytes wire = {
      0xB0,        // UNSUBACK
      0x02,        // remaining length 2
      0x00, 0x0B,  // packet id 11
  };
  ExpectRoundTrip(wire, Unsuback{11});
}

TEST(Packets, Pingreq) {
  const Bytes wire = {
      0xC0,  // PINGREQ
      0x00,  // remaining length 0
  };
  ExpectRoundTrip(wire, Pingreq{});
}

TEST(Packets, Pingresp) {
  const Bytes wire = {
      0xD0,  // PINGRESP
      0x00,  // remaining length 0
  };
  ExpectRoundTrip(wire, Pingresp{});
}

TEST(Packets, Disconnect) {
  const Bytes wire = {
      0xE0,  // DISCONNECT
      0x00,  // remaining length 0
  };
  ExpectRoundTrip(wire, Disconnect{});
}

TEST(Packets, DecodeIgnoresBytesAfterThePacket) {
  const Bytes wire = {
      0xC0, 0x00,  // PINGREQ
      0xE0,        // first byte of the next packet
  };
  const DecodeResult r = decode(wire, kMax);
  ASSERT_EQ(r.status, DecodeStatus::kComplete);
  EXPECT_EQ(r.consumed, 2u);
  EXPECT_TRUE(std::holds_alternative<Pingreq>(r.packet));
}

TEST(Packets, TypeOfMatchesVariantOrder) {
  EXPECT_EQ(type_of(Connect{}), PacketType::kConnect);
  EXPECT_EQ(type_of(Suback{}), PacketType::kSuback);
  EXPECT_EQ(type_of(Disconnect{}), PacketType::kDisconnect);
}

// A tolerated sender-side slip: DUP must be 0 at QoS 0 [MQTT-3.3.1-2], but the flag carries no
// meaning there and the server sets its own DUP on delivery [MQTT-3.3.1-3], so it is kept.
TEST(Packets, MQTT_3_3_1_2_DupAtQos0IsKept) {
  const Bytes wire = {
      0x38,        // PUBLISH, DUP 1, QoS 0
      0x04,        // remaining length 4
      0x00, 0x01,  // topic length 1
      't',         // topic "t"
      'x',         // payload "x"
  };
  Publish p;
  p.dup = true;
  p.topic = "t";
  p.payload = "x";
  ExpectRoundTrip(wire, p);
}

// MQTT 3.1.1 does not require the shortest remaining-length encoding; 0x80 0x00 is zero.
TEST(Packets, NonMinimalRemainingLengthIsAccepted) {
  const Bytes wire = {
      0xC0,        // PINGREQ
      0x80, 0x00,  // remaining length 0 in two bytes
  };
  const DecodeResult r = decode(wire, kMax);
  ASSERT_EQ(r.status, DecodeStatus::kComplete);
  EXPECT_EQ(r.consumed, 3u);
  EXPECT_EQ(encode(r.packet), std::string("\xC0\x00", 2));  // re-encoded minimally
}

}  // namespace
}  // namespace plugmq::codec
