// Malformed input for every DecodeError value. Tests are named after the spec statement they
// enforce where there is one.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "plugmq/codec/codec.hpp"

namespace plugmq::codec {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kMax = 1 << 20;

// Whether filters are decoded or left in place, the same error.
::testing::AssertionResult FailsWith(const Bytes& wire, DecodeError want, std::size_t max = kMax) {
  for (const Filters filters : {Filters::kDecoded, Filters::kInPlace}) {
    const char* mode = filters == Filters::kDecoded ? "decoded: " : "in place: ";
    const DecodeResult r = decode(wire, max, filters);
    if (r.status != DecodeStatus::kError) {
      return ::testing::AssertionFailure() << mode << "status " << static_cast<int>(r.status)
                                           << ", want error " << to_string(want);
    }
    if (r.error != want) {
      return ::testing::AssertionFailure()
             << mode << "error '" << to_string(r.error) << "', want '" << to_string(want) << "'";
    }
    if (r.consumed != 0) return ::testing::AssertionFailure() << mode << "consumed " << r.consumed;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Decodes(const Bytes& wire) {
  const DecodeResult r = decode(wire, kMax);
  if (r.status != DecodeStatus::kComplete || r.consumed != wire.size()) {
    return ::testing::AssertionFailure()
           << "status " << static_cast<int>(r.status) << " error " << to_string(r.error);
  }
  return ::testing::AssertionSuccess();
}

// Prepends a CONNECT fixed header to a body shorter than 128 bytes.
Bytes ConnectPacket(std::initializer_list<std::uint8_t> body) {
  // Built by push_back: GCC 12 gives a false -Warray-bounds on insert into a 2-element vector.
  Bytes b;
  b.reserve(2 + body.size());
  b.push_back(0x10);
  b.push_back(static_cast<std::uint8_t>(body.size()));
  for (const std::uint8_t x : body) b.push_back(x);
  return b;
}

// ---- kBadPacketType ----------------------------------------------------------------------

TEST(Decode, MQTT_2_2_1_ReservedPacketTypes) {
  EXPECT_TRUE(FailsWith({0x00, 0x00}, DecodeError::kBadPacketType));  // type 0
  EXPECT_TRUE(FailsWith({0xF0, 0x00}, DecodeError::kBadPacketType));  // type 15
  // Known from the first byte: no need to wait for the length.
  EXPECT_TRUE(FailsWith({0x0F}, DecodeError::kBadPacketType));
  EXPECT_TRUE(FailsWith({0xFF}, DecodeError::kBadPacketType));
}

// ---- kBadFlags ---------------------------------------------------------------------------

TEST(Decode, MQTT_2_2_2_2_ReservedFlagBitsOfEveryType) {
  for (std::uint8_t type = 1; type <= 14; ++type) {
    if (type == 3) continue;  // PUBLISH flags carry DUP, QoS and RETAIN
    const std::uint8_t required = (type == 6 || type == 8 || type == 10) ? 0b0010 : 0;
    for (std::uint8_t flags = 0; flags < 16; ++flags) {
      if (flags == required) continue;
      const auto first = static_cast<std::uint8_t>(type << 4 | flags);
      EXPECT_TRUE(FailsWith({first}, DecodeError::kBadFlags)) << int{type} << "/" << int{flags};
    }
  }
}

TEST(Decode, MQTT_3_6_1_1_PubrelFlags) {
  EXPECT_TRUE(FailsWith({0x60, 0x02, 0x00, 0x01}, DecodeError::kBadFlags));  // 0b0000
  EXPECT_TRUE(Decodes({0x62, 0x02, 0x00, 0x01}));                            // 0b0010
}

TEST(Decode, MQTT_3_8_1_1_SubscribeFlags) {
  const Bytes wire = {
      0x80,             // SUBSCRIBE with flags 0b0000
      0x06,             // remaining length 6
      0x00, 0x01,       // packet id 1
      0x00, 0x01, 'a',  // filter "a"
      0x00,             // QoS 0
  };
  EXPECT_TRUE(FailsWith(wire, DecodeError::kBadFlags));
}

TEST(Decode, MQTT_3_10_1_1_UnsubscribeFlags) {
  const Bytes wire = {
      0xA0,             // UNSUBSCRIBE with flags 0b0000
      0x05,             // remaining length 5
      0x00, 0x01,       // packet id 1
      0x00, 0x01, 'a',  // filter "a"
  };
  EXPECT_TRUE(FailsWith(wire, DecodeError::kBadFlags));
}

// ---- kBadRemainingLength, kPacketTooLarge (boundaries in remaining_length_test) ------------

TEST(Decode, MQTT_2_2_3_RemainingLengthOverFourBytes) {
  EXPECT_TRUE(FailsWith({0xC0, 0x80, 0x80, 0x80, 0x80, 0x00}, DecodeError::kBadRemainingLength));
}

TEST(Decode, PacketTooLargeBeforeTheBody) {
  const Bytes header = {0x30, 0x0B};  // PUBLISH, remaining length 11, no body yet
  EXPECT_TRUE(FailsWith(header, DecodeError::kPacketTooLarge, 10));
  EXPECT_EQ(decode(header, 11).status, DecodeStatus::kNeedMore);
}

// ---- kMalformed: sizes -------------------------------------------------------------------

TEST(Decode, TrailingBytesInFixedSizePackets) {
  EXPECT_TRUE(FailsWith({0xC0, 0x01, 0x00}, DecodeError::kMalformed));  // PINGREQ + 1 byte
  EXPECT_TRUE(FailsWith({0xD0, 0x01, 0x00}, DecodeError::kMalformed));  // PINGRESP + 1 byte
  EXPECT_TRUE(FailsWith({0xE0, 0x01, 0x00}, DecodeError::kMalformed));  // DISCONNECT + 1 byte
  EXPECT_TRUE(FailsWith({0x40, 0x03, 0x00, 0x01, 0x00}, DecodeError::kMalformed));  // PUBACK
  EXPECT_TRUE(FailsWith({0x20, 0x03, 0x00, 0x00, 0x00}, DecodeError::kMalformed));  // CONNACK
  EXPECT_TRUE(FailsWith({0xB0, 0x03, 0x00, 0x01, 0x00}, DecodeError::kMalformed));  // UNSUBACK
  // The header alone gives it away.
  EXPECT_TRUE(FailsWith({0xC0, 0x01}, DecodeError::kMalformed));
}

TEST(Decode, TruncatedFixedSizePackets) {
  EXPECT_TRUE(FailsWith({0x40, 0x01, 0x00}, DecodeError::kMalformed));  // PUBACK, 1-byte id
  EXPECT_TRUE(FailsWith({0x50, 0x00}, DecodeError::kMalformed));        // PUBREC, no id
  EXPECT_TRUE(FailsWith({0x62, 0x01, 0x00}, DecodeError::kMalformed));  // PUBREL, 1-byte id
  EXPECT_TRUE(FailsWith({0x70, 0x00}, DecodeError::kMalformed));        // PUBCOMP, no id
  EXPECT_TRUE(FailsWith({0x20, 0x01, 0x00}, DecodeError::kMalformed));  // CONNACK, no code
}

TEST(Decode, ConnectTruncatedBeforeTheProtocolFields) {
  // Structural errors come first: the protocol cannot be judged from a cut-off name.
  EXPECT_TRUE(FailsWith(ConnectPacket({}), DecodeError::kMalformed));
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04,  // protocol name length 4
                            'M', 'Q',    // ... but only 2 bytes in the packet
                        }),
                        DecodeError::kMalformed));
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
                                                             // level missing
                        }),
                        DecodeError::kMalformed));
}

TEST(Decode, ConnectTruncatedVariableHeader) {
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
                            0x04,                            // level 4
                            0x02,                            // flags: clean session
                            0x00,                            // keep alive: one byte of two
                        }),
                        DecodeError::kMalformed));
}

TEST(Decode, ConnectMissingPayloadFields) {
  // No client id at all [MQTT-3.1.3-3].
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
                            0x04,                            // level 4
                            0x02,                            // flags: clean session
                            0x00, 0x3C,                      // keep alive 60
                        }),
                        DecodeError::kMalformed));
  // Will flag set, will topic present, will message missing.
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
                            0x04,                            // level 4
                            0x06,                            // flags: will | clean session
                            0x00, 0x3C,                      // keep alive 60
                            0x00, 0x01, 'c',                 // client id "c"
                            0x00, 0x01, 't',                 // will topic "t"
                        }),
                        DecodeError::kMalformed));
  // Username flag set, no username.
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
                            0x04,                            // level 4
                            0x82,                            // flags: username | clean
                            0x00, 0x3C,                      // keep alive 60
                            0x00, 0x01, 'c',                 // client id "c"
                        }),
                        DecodeError::kMalformed));
  // Password length says 5, one byte follows.
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
                            0x04,                            // level 4
                            0xC2,                            // flags: user | password | clean
                            0x00, 0x3C,                      // keep alive 60
                            0x00, 0x01, 'c',                 // client id "c"
                            0x00, 0x01, 'u',                 // username "u"
                            0x00, 0x05, 'p',                 // password: truncated
                        }),
                        DecodeError::kMalformed));
}

TEST(Decode, ConnectTrailingBytes) {
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
                            0x04,                            // level 4
                            0x02,                            // flags: clean session, no user
                            0x00, 0x3C,                      // keep alive 60
                            0x00, 0x01, 'c',                 // client id "c"
                            0x00, 0x01, 'u',                 // a username nobody flagged
                        }),
                        DecodeError::kMalformed));
}

TEST(Decode, PublishTruncatedFields) {
  EXPECT_TRUE(FailsWith({0x30, 0x00}, DecodeError::kMalformed));        // no topic length
  EXPECT_TRUE(FailsWith({0x30, 0x01, 0x00}, DecodeError::kMalformed));  // half a length
  EXPECT_TRUE(FailsWith(
      {
          0x30,             // PUBLISH QoS 0
          0x03,             // remaining length 3
          0x00, 0x05, 'a',  // topic length 5, one byte present
      },
      DecodeError::kMalformed));
  EXPECT_TRUE(FailsWith(
      {
          0x32,             // PUBLISH QoS 1
          0x04,             // remaining length 4
          0x00, 0x01, 't',  // topic "t"
          0x00,             // packet id: one byte of two
      },
      DecodeError::kMalformed));
}

TEST(Decode, SubscribeTruncatedFields) {
  EXPECT_TRUE(FailsWith({0x82, 0x01, 0x00}, DecodeError::kMalformed));  // half a packet id
  EXPECT_TRUE(FailsWith(
      {
          0x82,             // SUBSCRIBE
          0x05,             // remaining length 5
          0x00, 0x01,       // packet id 1
          0x00, 0x01, 'a',  // filter "a", then no QoS byte
      },
      DecodeError::kMalformed));
  EXPECT_TRUE(FailsWith(
      {
          0x82,             // SUBSCRIBE
          0x05,             // remaining length 5
          0x00, 0x01,       // packet id 1
          0x00, 0x09, 'a',  // filter length 9, one byte present
      },
      DecodeError::kMalformed));
}

TEST(Decode, MQTT_3_8_3_4_SubscribeReservedQosBits) {
  for (const std::uint8_t qos : {0x04, 0x10, 0x80, 0xFC, 0x41}) {
    EXPECT_TRUE(FailsWith(
        {
            0x82,             // SUBSCRIBE
            0x06,             // remaining length 6
            0x00, 0x01,       // packet id 1
            0x00, 0x01, 'a',  // filter "a"
            qos,              // requested QoS byte with reserved bits 7-2 set
        },
        DecodeError::kMalformed))
        << int{qos};
  }
}

TEST(Decode, UnsubscribeTruncatedFilter) {
  EXPECT_TRUE(FailsWith(
      {
          0xA2,             // UNSUBSCRIBE
          0x05,             // remaining length 5
          0x00, 0x01,       // packet id 1
          0x00, 0x02, 'a',  // filter length 2, one byte present
      },
      DecodeError::kMalformed));
  EXPECT_TRUE(FailsWith(
      {
          0xA2,             // UNSUBSCRIBE
          0x06,             // remaining length 6
          0x00, 0x01,       // packet id 1
          0x00, 0x01, 'a',  // filter "a"
          0x00,             // half of the next filter's length
      },
      DecodeError::kMalformed));
}

TEST(Decode, MQTT_3_2_2_1_ConnackReservedFlagBits) {
  for (const std::uint8_t flags : {0x02, 0x80, 0xFE, 0xFF}) {
    EXPECT_TRUE(FailsWith({0x20, 0x02, flags, 0x00}, DecodeError::kMalformed)) << int{flags};
  }
}

TEST(Decode, MQTT_3_2_2_3_ConnackReservedReturnCodes) {
  for (const std::uint8_t code : {6, 7, 0x80, 0xFF}) {
    EXPECT_TRUE(FailsWith({0x20, 0x02, 0x00, code}, DecodeError::kMalformed)) << int{code};
  }
}

TEST(Decode, MQTT_3_9_3_2_SubackReturnCodes) {
  for (const std::uint8_t code : {3, 4, 0x7F, 0x81, 0xFF}) {
    EXPECT_TRUE(FailsWith(
        {
            0x90,        // SUBACK
            0x04,        // remaining length 4
            0x00, 0x01,  // packet id 1
            0x00,        // return code QoS 0
            code,        // a reserved return code
        },
        DecodeError::kMalformed))
        << int{code};
  }
  // A SUBACK answers at least one filter.
  EXPECT_TRUE(FailsWith({0x90, 0x02, 0x00, 0x01}, DecodeError::kMalformed));
}

// ---- kBadUtf8 ----------------------------------------------------------------------------

TEST(Decode, MQTT_1_5_3_2_NulInClientId) {
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
                            0x04,                            // level 4
                            0x02,                            // flags: clean session
                            0x00, 0x3C,                      // keep alive 60
                            0x00, 0x03, 'a', 0x00, 'b',      // client id "a\0b"
                        }),
                        DecodeError::kBadUtf8));
}

TEST(Decode, MQTT_1_5_3_1_SurrogateInPublishTopic) {
  EXPECT_TRUE(FailsWith(
      {
          0x30,                          // PUBLISH QoS 0
          0x06,                          // remaining length 6
          0x00, 0x03, 0xED, 0xA0, 0x80,  // topic: U+D800 encoded, a surrogate
          'x',                           // payload
      },
      DecodeError::kBadUtf8));
}

TEST(Decode, MQTT_1_5_3_1_OverlongInPublishTopic) {
  EXPECT_TRUE(FailsWith(
      {
          0x30,                    // PUBLISH QoS 0
          0x04,                    // remaining length 4
          0x00, 0x02, 0xC0, 0xAF,  // topic: '/' in an overlong two-byte form
      },
      DecodeError::kBadUtf8));
}

TEST(Decode, Utf8IsCheckedBeforeTheTopicRules) {
  EXPECT_TRUE(FailsWith(
      {
          0x30,                   // PUBLISH QoS 0
          0x04,                   // remaining length 4
          0x00, 0x02, '#', 0xFF,  // topic: a wildcard and an invalid byte
      },
      DecodeError::kBadUtf8));
}

TEST(Decode, MQTT_3_1_3_10_WillTopicUtf8) {
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M',  'Q',  'T', 'T',  // "MQTT"
                            0x04,                              // level 4
                            0x06,                              // flags: will | clean session
                            0x00, 0x3C,                        // keep alive 60
                            0x00, 0x01, 'c',                   // client id "c"
                            0x00, 0x02, 0xC3, 0x28,            // will topic: bad continuation
                            0x00, 0x00,                        // will message: empty
                        }),
                        DecodeError::kBadUtf8));
}

TEST(Decode, MQTT_3_1_3_11_UsernameUtf8) {
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
                            0x04,                            // level 4
                            0x82,                            // flags: username | clean
                            0x00, 0x3C,                      // keep alive 60
                            0x00, 0x01, 'c',                 // client id "c"
                            0x00, 0x01, 0x80,                // username: lone continuation
                        }),
                        DecodeError::kBadUtf8));
}

TEST(Decode, PasswordAndWillMessageAreBinary) {
  EXPECT_TRUE(Decodes(ConnectPacket({
      0x00, 0x04, 'M',  'Q',  'T',  'T',  // "MQTT"
      0x04,                               // level 4
      0xC6,                               // flags: user | password | will | clean
      0x00, 0x3C,                         // keep alive 60
      0x00, 0x01, 'c',                    // client id "c"
      0x00, 0x01, 't',                    // will topic "t"
      0x00, 0x02, 0x00, 0xFF,             // will message: NUL and 0xFF are fine
      0x00, 0x01, 'u',                    // username "u"
      0x00, 0x03, 0xC0, 0x00, 0xFF,       // password: not UTF-8, and that is fine
  })));
}

TEST(Decode, MQTT_4_7_3_1_SubscribeFilterUtf8) {
  EXPECT_TRUE(FailsWith(
      {
          0x82,                   // SUBSCRIBE
          0x07,                   // remaining length 7
          0x00, 0x01,             // packet id 1
          0x00, 0x02, 'a', 0x00,  // filter "a\0"
          0x00,                   // QoS 0
      },
      DecodeError::kBadUtf8));
}

TEST(Decode, MQTT_3_10_3_1_UnsubscribeFilterUtf8) {
  EXPECT_TRUE(FailsWith(
      {
          0xA2,              // UNSUBSCRIBE
          0x05,              // remaining length 5
          0x00, 0x01,        // packet id 1
          0x00, 0x01, 0xFE,  // filter: 0xFE never appears in UTF-8
      },
      DecodeError::kBadUtf8));
}

// ---- kBadProtocol ------------------------------------------------------------------------

TEST(Decode, MQTT_3_1_2_2_ProtocolLevel3) {
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
                            0x03,                            // level 3: unsupported
                            0x02,                            // flags: clean session
                            0x00, 0x3C,                      // keep alive 60
                            0x00, 0x01, 'c',                 // client id "c"
                        }),
                        DecodeError::kBadProtocol));
}

TEST(Decode, MQTT_3_1_2_2_Mqtt5ConnectGetsBadProtocol) {
  // MQTT 5 inserts a properties length before the client id; the rest must not be judged by
  // 3.1.1 rules, or the client would be closed instead of told CONNACK 1.
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
                            0x05,                            // level 5
                            0x03,                            // flags: reserved bit set too
                            0x00, 0x3C,                      // keep alive 60
                            0x00,                            // properties length 0
                            0x00, 0x01, 'c',                 // client id "c"
                        }),
                        DecodeError::kBadProtocol));
}

TEST(Decode, MQTT_3_1_2_1_ProtocolName) {
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p',  // "MQIsdp" (3.1)
                            0x03,                                      // level 3
                            0x02,                                      // flags: clean
                            0x00, 0x3C,                                // keep alive 60
                            0x00, 0x01, 'c',                           // client id "c"
                        }),
                        DecodeError::kBadProtocol));
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'm', 'q', 't', 't',  // "mqtt": case matters
                            0x04,                            // level 4
                            0x02,                            // flags: clean session
                            0x00, 0x3C,                      // keep alive 60
                            0x00, 0x01, 'c',                 // client id "c"
                        }),
                        DecodeError::kBadProtocol));
}

// ---- kBadConnectFlags --------------------------------------------------------------------

// A CONNECT whose flags byte is `flags` and whose payload is just a client id, so payload
// structure never matters: flag errors are reported first.
Bytes ConnectFlags(std::uint8_t flags) {
  return ConnectPacket({
      0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
      0x04,                            // level 4
      flags,                           // connect flags under test
      0x00, 0x3C,                      // keep alive 60
      0x00, 0x01, 'c',                 // client id "c"
  });
}

TEST(Decode, MQTT_3_1_2_3_ReservedConnectFlag) {
  EXPECT_TRUE(FailsWith(ConnectFlags(0x01), DecodeError::kBadConnectFlags));
  EXPECT_TRUE(FailsWith(ConnectFlags(0x03), DecodeError::kBadConnectFlags));
  EXPECT_TRUE(Decodes(ConnectFlags(0x02)));
}

TEST(Decode, MQTT_3_1_2_13_WillQosWithoutWill) {
  EXPECT_TRUE(FailsWith(ConnectFlags(0x08), DecodeError::kBadConnectFlags));  // will QoS 1
  EXPECT_TRUE(FailsWith(ConnectFlags(0x10), DecodeError::kBadConnectFlags));  // will QoS 2
  EXPECT_TRUE(FailsWith(ConnectFlags(0x18), DecodeError::kBadConnectFlags));  // will QoS 3
}

TEST(Decode, MQTT_3_1_2_15_WillRetainWithoutWill) {
  EXPECT_TRUE(FailsWith(ConnectFlags(0x20), DecodeError::kBadConnectFlags));
}

TEST(Decode, MQTT_3_1_2_22_PasswordWithoutUsername) {
  EXPECT_TRUE(FailsWith(ConnectFlags(0x40), DecodeError::kBadConnectFlags));
}

// ---- kBadQos -----------------------------------------------------------------------------

TEST(Decode, MQTT_3_3_1_4_PublishQos3) {
  EXPECT_TRUE(FailsWith({0x36}, DecodeError::kBadQos));  // known from the first byte
  EXPECT_TRUE(FailsWith({0x3F, 0x05, 0x00, 0x01, 't', 0x00, 0x01}, DecodeError::kBadQos));
}

TEST(Decode, MQTT_3_1_2_14_WillQos3) {
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
                            0x04,                            // level 4
                            0x1C,                            // flags: will QoS 3 | will
                            0x00, 0x3C,                      // keep alive 60
                            0x00, 0x01, 'c',                 // client id "c"
                            0x00, 0x01, 't',                 // will topic "t"
                            0x00, 0x00,                      // will message: empty
                        }),
                        DecodeError::kBadQos));
}

TEST(Decode, MQTT_3_8_3_4_SubscribeQos3) {
  EXPECT_TRUE(FailsWith(
      {
          0x82,             // SUBSCRIBE
          0x06,             // remaining length 6
          0x00, 0x01,       // packet id 1
          0x00, 0x01, 'a',  // filter "a"
          0x03,             // requested QoS 3
      },
      DecodeError::kBadQos));
}

// ---- kBadTopic ---------------------------------------------------------------------------

TEST(Decode, MQTT_3_3_2_2_PublishTopicWithWildcards) {
  for (const char w : {'+', '#'}) {
    EXPECT_TRUE(FailsWith(
        {
            0x30,                          // PUBLISH QoS 0
            0x05,                          // remaining length 5
            0x00, 0x03, 'a', '/',          // topic "a/" followed by ...
            static_cast<std::uint8_t>(w),  // ... a wildcard level
        },
        DecodeError::kBadTopic))
        << w;
    EXPECT_TRUE(FailsWith(
        {
            0x30,                          // PUBLISH QoS 0
            0x04,                          // remaining length 4
            0x00, 0x02, 'a',               // topic "a" followed by ...
            static_cast<std::uint8_t>(w),  // ... a wildcard inside a level
        },
        DecodeError::kBadTopic))
        << w;
  }
}

TEST(Decode, MQTT_4_7_3_1_PublishEmptyTopic) {
  EXPECT_TRUE(FailsWith(
      {
          0x32,        // PUBLISH QoS 1
          0x04,        // remaining length 4
          0x00, 0x00,  // topic length 0
          0x00, 0x01,  // packet id 1
      },
      DecodeError::kBadTopic));
}

TEST(Decode, MQTT_4_7_1_1_WillTopicIsATopicName) {
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
                            0x04,                            // level 4
                            0x06,                            // flags: will | clean session
                            0x00, 0x3C,                      // keep alive 60
                            0x00, 0x01, 'c',                 // client id "c"
                            0x00, 0x03, 'a', '/', '#',       // will topic "a/#"
                            0x00, 0x00,                      // will message: empty
                        }),
                        DecodeError::kBadTopic));
  EXPECT_TRUE(FailsWith(ConnectPacket({
                            0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
                            0x04,                            // level 4
                            0x06,                            // flags: will | clean session
                            0x00, 0x3C,                      // keep alive 60
                            0x00, 0x01, 'c',                 // client id "c"
                            0x00, 0x00,                      // will topic: empty
                            0x00, 0x00,                      // will message: empty
                        }),
                        DecodeError::kBadTopic));
}

TEST(Decode, EmptyTopicLevelsAreValid) {
  EXPECT_TRUE(Decodes({
      0x30,                            // PUBLISH QoS 0
      0x06,                            // remaining length 6
      0x00, 0x04, '/', 'a', '/', '/',  // topic "/a//": empty levels are allowed
  }));
}

// ---- kBadPacketId ------------------------------------------------------------------------

TEST(Decode, MQTT_2_3_1_1_PublishPacketIdZero) {
  for (const std::uint8_t first : {0x32, 0x34}) {  // QoS 1, QoS 2
    EXPECT_TRUE(FailsWith(
        {
            first,            // PUBLISH QoS 1 or 2
            0x05,             // remaining length 5
            0x00, 0x01, 't',  // topic "t"
            0x00, 0x00,       // packet id 0
        },
        DecodeError::kBadPacketId))
        << int{first};
  }
}

TEST(Decode, MQTT_2_3_1_1_SubscribePacketIdZero) {
  EXPECT_TRUE(FailsWith(
      {
          0x82,             // SUBSCRIBE
          0x06,             // remaining length 6
          0x00, 0x00,       // packet id 0
          0x00, 0x01, 'a',  // filter "a"
          0x00,             // QoS 0
      },
      DecodeError::kBadPacketId));
}

TEST(Decode, MQTT_2_3_1_1_UnsubscribePacketIdZero) {
  EXPECT_TRUE(FailsWith(
      {
          0xA2,             // UNSUBSCRIBE
          0x05,             // remaining length 5
          0x00, 0x00,       // packet id 0
          0x00, 0x01, 'a',  // filter "a"
      },
      DecodeError::kBadPacketId));
}

TEST(Decode, AcksWithPacketIdZero) {
  // An ack echoes the id of a PUBLISH, SUBSCRIBE or UNSUBSCRIBE, which is never 0.
  for (const std::uint8_t first : {0x40, 0x50, 0x62, 0x70, 0xB0}) {
    EXPECT_TRUE(FailsWith({first, 0x02, 0x00, 0x00}, DecodeError::kBadPacketId)) << int{first};
  }
  EXPECT_TRUE(FailsWith({0x90, 0x03, 0x00, 0x00, 0x01}, DecodeError::kBadPacketId));  // SUBACK
}

// ---- kEmptyPayload -----------------------------------------------------------------------

TEST(Decode, MQTT_3_8_3_3_SubscribeWithoutFilters) {
  EXPECT_TRUE(FailsWith({0x82, 0x02, 0x00, 0x01}, DecodeError::kEmptyPayload));
}

TEST(Decode, MQTT_3_10_3_2_UnsubscribeWithoutFilters) {
  EXPECT_TRUE(FailsWith({0xA2, 0x02, 0x00, 0x01}, DecodeError::kEmptyPayload));
}

// ---- misc --------------------------------------------------------------------------------

TEST(Decode, EmptyInputNeedsMore) {
  const DecodeResult r = decode({}, kMax);
  EXPECT_EQ(r.status, DecodeStatus::kNeedMore);
  EXPECT_EQ(r.error, DecodeError::kNone);
  EXPECT_EQ(r.consumed, 0u);
}

TEST(DecodeErrorNames, EveryValueHasADistinctName) {
  std::set<std::string> names;
  for (int e = 0; e <= static_cast<int>(DecodeError::kEmptyPayload); ++e) {
    const std::string name = to_string(static_cast<DecodeError>(e));
    EXPECT_FALSE(name.empty());
    EXPECT_TRUE(names.insert(name).second) << name;
  }
}

}  // namespace
}  // namespace plugmq::codec
