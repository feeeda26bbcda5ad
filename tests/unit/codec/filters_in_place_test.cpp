// Filters::kInPlace: a SUBSCRIBE's or UNSUBSCRIBE's filters checked as decoded ones are, then
// read from the input with a FilterCursor; packet_size() and the largest CONNECT.
#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "plugmq/codec/codec.hpp"

namespace plugmq::codec {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr std::size_t kMax = 1 << 20;

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::vector<std::pair<std::string, std::uint8_t>> read_all(std::span<const std::uint8_t> filters,
                                                           bool subscribe) {
  std::vector<std::pair<std::string, std::uint8_t>> out;
  for (FilterCursor at(filters, subscribe); !at.done();) {
    std::uint8_t qos = 9;
    const std::string_view f = at.next(qos);
    out.emplace_back(std::string(f), qos);
  }
  return out;
}

TEST(FiltersInPlace, SubscribeFiltersAreReadFromTheInput) {
  const std::string wire = encode(Subscribe{10, {{"a/+", 1}, {"#", 2}, {"a#b", 0}}});
  const DecodeResult r = decode(bytes_of(wire), kMax, Filters::kInPlace);
  ASSERT_EQ(r.status, DecodeStatus::kComplete) << to_string(r.error);
  EXPECT_EQ(r.consumed, wire.size());
  const auto& s = std::get<Subscribe>(r.packet);
  EXPECT_EQ(s.packet_id, 10);
  EXPECT_TRUE(s.subscriptions.empty());                    // not copied
  EXPECT_EQ(r.filters.data(), bytes_of(wire).data() + 4);  // after the header and packet id
  using F = std::vector<std::pair<std::string, std::uint8_t>>;
  EXPECT_EQ(read_all(r.filters, true), (F{{"a/+", 1}, {"#", 2}, {"a#b", 0}}));
}

TEST(FiltersInPlace, UnsubscribeFiltersAreReadFromTheInput) {
  const std::string wire = encode(Unsubscribe{11, {"a/+", "b", ""}});
  const DecodeResult r = decode(bytes_of(wire), kMax, Filters::kInPlace);
  ASSERT_EQ(r.status, DecodeStatus::kComplete) << to_string(r.error);
  EXPECT_TRUE(std::get<Unsubscribe>(r.packet).filters.empty());
  using F = std::vector<std::pair<std::string, std::uint8_t>>;
  EXPECT_EQ(read_all(r.filters, false), (F{{"a/+", 0}, {"b", 0}, {"", 0}}));
}

TEST(FiltersInPlace, OtherPacketsAreDecodedAsUsual) {
  const std::string wire = encode(Publish{false, 0, false, "d/data/x", 0, "1"});
  const DecodeResult r = decode(bytes_of(wire), kMax, Filters::kInPlace);
  ASSERT_EQ(r.status, DecodeStatus::kComplete);
  EXPECT_EQ(std::get<Publish>(r.packet).topic, "d/data/x");
  EXPECT_TRUE(r.filters.empty());
}

TEST(FiltersInPlace, TheLargestSubscribeOfOneByteFilters) {
  // 1 MiB of remaining length: a packet id and 262,143 filters of one byte.
  Subscribe big{1, {}};
  while (2 + 4 * (big.subscriptions.size() + 1) <= kMax) {
    big.subscriptions.push_back(
        {std::string(1, static_cast<char>('a' + big.subscriptions.size() % 26)), 0});
  }
  const std::string wire = encode(big);
  ASSERT_EQ(big.subscriptions.size(), 262143u);
  // Decoded, the filters are all there (and take ten times the packet).
  const DecodeResult full = decode(bytes_of(wire), kMax);
  ASSERT_EQ(full.status, DecodeStatus::kComplete);
  EXPECT_TRUE(full.packet == Packet(big));
  // In place, the same filters, read from the input.
  const DecodeResult r = decode(bytes_of(wire), kMax, Filters::kInPlace);
  ASSERT_EQ(r.status, DecodeStatus::kComplete);
  std::size_t n = 0;
  for (FilterCursor at(r.filters, true); !at.done(); ++n) {
    std::uint8_t qos;
    ASSERT_EQ(at.next(qos), big.subscriptions[n].filter) << n;
  }
  EXPECT_EQ(n, big.subscriptions.size());
}

TEST(PacketSize, KnownOnceTheFixedHeaderIsComplete) {
  EXPECT_EQ(packet_size({}), 0u);
  EXPECT_EQ(packet_size(Bytes{0x10}), 0u);
  EXPECT_EQ(packet_size(Bytes{0xC0, 0x00}), 2u);              // PINGREQ
  EXPECT_EQ(packet_size(Bytes{0x10, 0x80}), 0u);              // more length bytes to come
  EXPECT_EQ(packet_size(Bytes{0x10, 0x80, 0x01}), 3u + 128);  // 128 in two bytes
  EXPECT_EQ(packet_size(Bytes{0x10, 0xFF, 0xFF, 0xFF, 0x7F}), 5u + 268435455);
  EXPECT_EQ(packet_size(Bytes{0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}), 0u);  // a fifth byte
}

TEST(MaxConnect, TheLargestConnectFitsAndOneByteMoreCannot) {
  const std::string big(65535, 'x');
  Connect c;
  c.protocol_name = "MQTT";
  c.protocol_level = 4;
  c.client_id = big;
  c.will = Will{big, big, 0, false};
  c.username = big;
  c.password = big;
  const std::string wire = encode(c);
  ASSERT_FALSE(wire.empty());
  const DecodeResult r = decode(bytes_of(wire), kMaxConnectRemainingLength);
  ASSERT_EQ(r.status, DecodeStatus::kComplete) << to_string(r.error);
  EXPECT_EQ(packet_size(bytes_of(wire)), wire.size());
  EXPECT_EQ(wire.size(), 1 + 3 + kMaxConnectRemainingLength);  // a 3-byte remaining length
  Bytes header(5, 0x10);
  header.resize(1 + encode_remaining_length(kMaxConnectRemainingLength + 1, header.data() + 1));
  EXPECT_EQ(decode(header, kMaxConnectRemainingLength).error, DecodeError::kPacketTooLarge);
}

}  // namespace
}  // namespace plugmq::codec
