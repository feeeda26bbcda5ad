#include "plugmq/platform/ids.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <unordered_set>
#include <vector>

namespace plugmq::platform {
namespace {

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

TEST(Ids, OidIs24LowercaseHex) {
  const std::string oid = new_oid();
  EXPECT_EQ(oid.size(), 24u);
  EXPECT_TRUE(is_lower_hex(oid)) << oid;
}

TEST(Ids, OidStartsWithUnixSecondsBigEndian) {
  const auto before = now_ms() / 1000;
  const std::string oid = new_oid();
  const auto after = now_ms() / 1000;
  const auto secs = std::stoll(oid.substr(0, 8), nullptr, 16);
  EXPECT_GE(secs, before);
  EXPECT_LE(secs, after);
}

TEST(Ids, OidProcessPartIsFixed) {
  const std::string a = new_oid(), b = new_oid();
  EXPECT_EQ(a.substr(8, 10), b.substr(8, 10));
}

TEST(Ids, OidsAreUniqueOver100k) {
  std::unordered_set<std::string> seen;
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(seen.insert(new_oid()).second);
}

TEST(Ids, OidsUniqueAcrossThreads) {
  std::vector<std::vector<std::string>> per(4);
  std::vector<std::thread> threads;
  for (auto& v : per) {
    threads.emplace_back([&v] {
      for (int i = 0; i < 20000; ++i) v.push_back(new_oid());
    });
  }
  for (auto& t : threads) t.join();
  std::unordered_set<std::string> seen;
  for (const auto& v : per) {
    for (const auto& id : v) ASSERT_TRUE(seen.insert(id).second);
  }
}

TEST(Ids, OidsSortByTime) {
  // Ids sort by their leading seconds; within one second the counter orders them (except at
  // its 2^24 wrap, so only the time part is compared here).
  std::string prev = new_oid();
  for (int i = 0; i < 1000; ++i) {
    std::string next = new_oid();
    ASSERT_LE(prev.substr(0, 8), next.substr(0, 8));
    prev = std::move(next);
  }
}

TEST(Ids, CounterIncrements) {
  const std::string a = new_oid();
  const std::string b = new_oid();
  const auto ca = std::stoul(a.substr(18), nullptr, 16);
  const auto cb = std::stoul(b.substr(18), nullptr, 16);
  EXPECT_EQ(cb, (ca + 1) & 0xFFFFFF);
}

TEST(Ids, PlugIdPrefixes) {
  EXPECT_EQ(prefix_of(IdKind::kDevice), "dev-");
  EXPECT_EQ(prefix_of(IdKind::kModel), "mod-");
  EXPECT_EQ(prefix_of(IdKind::kAccount), "com-");
  for (IdKind k : {IdKind::kDevice, IdKind::kModel, IdKind::kAccount}) {
    const std::string id = new_plug_id(k);
    EXPECT_EQ(id.size(), 28u);
    EXPECT_EQ(id.substr(0, 4), prefix_of(k));
    EXPECT_TRUE(is_lower_hex(id.substr(4)));
    EXPECT_EQ(normalize_plug_id(id, k), id);
  }
}

TEST(Ids, NormalizePlugId) {
  const std::string hex = "0123456789abcdef01234567";
  EXPECT_EQ(normalize_plug_id("dev-" + hex), "dev-" + hex);
  EXPECT_EQ(normalize_plug_id("DEV-0123456789ABCDEF01234567"), "dev-" + hex);
  EXPECT_EQ(normalize_plug_id("Mod-0123456789AbCdEf01234567"), "mod-" + hex);
  EXPECT_EQ(normalize_plug_id("com-" + hex, IdKind::kAccount), "com-" + hex);
  EXPECT_EQ(normalize_plug_id("com-" + hex, IdKind::kDevice), std::nullopt);
  EXPECT_EQ(normalize_plug_id("dev-" + hex, IdKind::kModel), std::nullopt);

  EXPECT_EQ(normalize_plug_id(""), std::nullopt);
  EXPECT_EQ(normalize_plug_id(hex), std::nullopt);
  EXPECT_EQ(normalize_plug_id("xyz-" + hex), std::nullopt);
  EXPECT_EQ(normalize_plug_id("dev_" + hex), std::nullopt);
  EXPECT_EQ(normalize_plug_id("dev-" + hex.substr(1)), std::nullopt);
  EXPECT_EQ(normalize_plug_id("dev-" + hex + "0"), std::nullopt);
  EXPECT_EQ(normalize_plug_id("dev-0123456789abcdef0123456g"), std::nullopt);
  EXPECT_EQ(normalize_plug_id(" dev-0123456789abcdef0123456"), std::nullopt);
}

TEST(Ids, NormalizeOid) {
  EXPECT_EQ(normalize_oid("0123456789ABCDEF01234567"), "0123456789abcdef01234567");
  EXPECT_EQ(normalize_oid("0123456789abcdef0123456"), std::nullopt);
  EXPECT_EQ(normalize_oid("0123456789abcdef0123456z"), std::nullopt);
  EXPECT_EQ(normalize_oid(""), std::nullopt);
}

TEST(Ids, NowMsIsRecent) {
  // 2023-01-01 .. 2100-01-01: catches seconds-vs-ms mistakes.
  EXPECT_GT(now_ms(), 1672531200000);
  EXPECT_LT(now_ms(), 4102444800000);
}

}  // namespace
}  // namespace plugmq::platform
