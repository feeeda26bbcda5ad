#include "plugmq/store/property_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <set>

#include "data_fixture.hpp"

namespace plugmq::store {
namespace {

using platform::PropOutcome;
using platform::Record;
using testing::channels_of;
using testing::count_rows;
using testing::DataTest;
using testing::ids_of;
using testing::mask;
using testing::oid;
using testing::plug_ids;
using testing::rec;
using testing::V;

TEST_F(DataTest, PropsSetAndGet) {
  auto r =
      data_.properties().set(dev1_, R"({ "temp" : 21.5, "loc": {"y": 2, "x": 1}, "on": true })");
  EXPECT_EQ(r.outcome, PropOutcome::kOk) << r.msg;
  EXPECT_TRUE(r.json.empty());
  r = data_.properties().get(dev1_, "");
  EXPECT_EQ(r.outcome, PropOutcome::kOk);
  // Sorted by name; values compact, members in the order sent.
  EXPECT_EQ(r.json, R"({"loc":{"y":2,"x":1},"on":true,"temp":21.5})");
  r = data_.properties().get(dev1_, R"(["temp","missing","loc","temp"])");
  EXPECT_EQ(r.outcome, PropOutcome::kOk);
  EXPECT_EQ(r.json, R"({"temp":21.5,"loc":{"y":2,"x":1}})");
  EXPECT_EQ(data_.properties().get(dev1_, "[]").json, "{}");
  EXPECT_EQ(data_.properties().get(dev1_, " \n").json, data_.properties().get(dev1_, "").json);
  EXPECT_EQ(data_.properties().get(dev2_, "").json, "{}");
  // Overwrite one, keep the others.
  EXPECT_EQ(data_.properties().set(dev1_, R"({"temp":"hot"})").outcome, PropOutcome::kOk);
  EXPECT_EQ(data_.properties().get(dev1_, R"(["temp"])").json, R"({"temp":"hot"})");
  // An empty object changes nothing.
  EXPECT_EQ(data_.properties().set(dev1_, "{}").outcome, PropOutcome::kOk);
  EXPECT_EQ(data_.properties().raw(dev1_), R"({"loc":{"y":2,"x":1},"on":true,"temp":"hot"})");
}

TEST_F(DataTest, PropsNullDeletes) {
  ASSERT_EQ(data_.properties().set(dev1_, R"({"a":1,"b":2})").outcome, PropOutcome::kOk);
  EXPECT_EQ(data_.properties().set(dev1_, R"({"a":null,"never":null})").outcome, PropOutcome::kOk);
  EXPECT_EQ(data_.properties().get(dev1_, "").json, R"({"b":2})");
}

TEST_F(DataTest, PropsSetRefusesBadPayloads) {
  for (const char* bad : {"", "[1]", "1", "\"x\"", "null", "{", "{\"a\":1,}", "\xff"}) {
    auto r = data_.properties().set(dev1_, bad);
    EXPECT_EQ(r.outcome, PropOutcome::kBadPayload) << bad;
    EXPECT_EQ(r.msg, "payload must be a JSON object") << bad;
  }
  // Too deep to store safely.
  const std::string deep = "{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}";
  EXPECT_EQ(data_.properties().set(dev1_, deep).outcome, PropOutcome::kBadPayload);
}

TEST_F(DataTest, PropsSetIsAllOrNothing) {
  ASSERT_EQ(data_.properties().set(dev1_, R"({"keep":1})").outcome, PropOutcome::kOk);
  const std::string long_name(257, 'n');
  auto r = data_.properties().set(dev1_, R"({"keep":2,"new":3,")" + long_name + R"(":4})");
  EXPECT_EQ(r.outcome, PropOutcome::kBadPayload);
  EXPECT_NE(r.msg.find("name must be 1..256 bytes"), std::string::npos) << r.msg;
  r = data_.properties().set(dev1_, R"({"keep":null,"":1})");
  EXPECT_EQ(r.outcome, PropOutcome::kBadPayload);
  EXPECT_NE(r.msg.find("\"\""), std::string::npos) << r.msg;
  r = data_.properties().set(dev1_, R"({"keep":2,"l":{"channel":"a/+"}})");
  EXPECT_EQ(r.outcome, PropOutcome::kBadPayload);
  EXPECT_NE(r.msg.find("property \"l\""), std::string::npos) << r.msg;
  EXPECT_EQ(data_.properties().raw(dev1_), R"({"keep":1})");
  // 256 bytes is fine.
  EXPECT_EQ(data_.properties().set(dev1_, R"({")" + std::string(256, 'n') + R"(":1})").outcome,
            PropOutcome::kOk);
}

TEST_F(DataTest, PropsAllOrNothingInsideATransaction) {
  // Called inside the caller's transaction, a failing set leaves the caller's work alone.
  db_.transaction([&] {
    data_.insert(rec(oid(1, 0), dev1_, "c", 1));
    EXPECT_EQ(data_.properties().set(dev1_, R"({"a":1})").outcome, PropOutcome::kOk);
    EXPECT_EQ(data_.properties().set(dev1_, R"({"b":1,"":2})").outcome, PropOutcome::kBadPayload);
  });
  EXPECT_EQ(data_.count(), 1);
  EXPECT_EQ(data_.properties().raw(dev1_), R"({"a":1})");
}

TEST_F(DataTest, PropsGetRefusesBadPayloads) {
  for (const char* bad : {"{}", "1", "[1]", "[\"a\",null]", "[", "\"a\""}) {
    auto r = data_.properties().get(dev1_, bad);
    EXPECT_EQ(r.outcome, PropOutcome::kBadPayload) << bad;
    EXPECT_EQ(r.msg, "payload must be empty or a JSON array of property names") << bad;
  }
}

TEST_F(DataTest, PropsUnknownDevice) {
  EXPECT_EQ(data_.properties().set("dev-000000000000000000000000", R"({"a":1})").outcome,
            PropOutcome::kUnknownDevice);
  EXPECT_EQ(data_.properties().get("dev-000000000000000000000000", "").outcome,
            PropOutcome::kUnknownDevice);
  EXPECT_EQ(data_.properties().raw("dev-000000000000000000000000"), "{}");
}

TEST_F(DataTest, PropsLinks) {
  auto r = data_.properties().set(dev1_, R"({"t":{ "channel" : "room/temp" },"x":{"channel":1},)"
                                         R"("y":{"channel":"a","other":1}})");
  ASSERT_EQ(r.outcome, PropOutcome::kOk) << r.msg;
  // Nothing published yet: null. Objects that only look like links are static values.
  EXPECT_EQ(data_.properties().get(dev1_, "").json,
            R"({"t":null,"x":{"channel":1},"y":{"channel":"a","other":1}})");
  insert_all({
      rec(oid(1, 0), dev1_, "room/temp", 10, "20"),
      rec(oid(2, 0), dev1_, "room/temp", 20, R"({"v":21})"),
      rec(oid(3, 0), dev2_, "room/temp", 30, "99"),  // another device's channel
  });
  EXPECT_EQ(data_.properties().get(dev1_, R"(["t"])").json, R"({"t":{"v":21}})");
  // As stored: the link itself.
  EXPECT_EQ(data_.properties().raw(dev1_),
            R"({"t":{"channel":"room/temp"},"x":{"channel":1},"y":{"channel":"a","other":1}})");
  // A link replaced by a static value, and deleted.
  EXPECT_EQ(data_.properties().set(dev1_, R"({"t":5})").outcome, PropOutcome::kOk);
  EXPECT_EQ(data_.properties().get(dev1_, R"(["t"])").json, R"({"t":5})");
  EXPECT_EQ(data_.properties().set(dev1_, R"({"t":null})").outcome, PropOutcome::kOk);
  EXPECT_EQ(data_.properties().get(dev1_, R"(["t"])").json, "{}");
}

TEST_F(DataTest, PropsNamesAreEscaped) {
  ASSERT_EQ(data_.properties().set(dev1_, R"({"q\"uote":1,"ü":"ä"})").outcome, PropOutcome::kOk);
  EXPECT_EQ(data_.properties().get(dev1_, "").json, R"({"q\"uote":1,"ü":"ä"})");
  EXPECT_EQ(data_.properties().get(dev1_, R"(["ü"])").json, R"({"ü":"ä"})");
}

TEST_F(DataTest, DeletingADeviceDeletesItsProperties) {
  ASSERT_EQ(data_.properties().set(dev1_, R"({"a":1})").outcome, PropOutcome::kOk);
  ASSERT_EQ(data_.properties().set(dev2_, R"({"b":1})").outcome, PropOutcome::kOk);
  auto del = db_.prepare("DELETE FROM devices WHERE id = ?1");
  del.bind(1, dev1_);
  del.step();
  EXPECT_EQ(data_.properties().raw(dev1_), "{}");
  EXPECT_EQ(data_.properties().raw(dev2_), R"({"b":1})");
}

TEST_F(DataTest, CheckProps) {
  EXPECT_EQ(PropertyStore::check(R"({"a":1,"b":{"channel":"x/y"},"c":null})").outcome,
            PropOutcome::kOk);
  EXPECT_EQ(PropertyStore::check("[1]").outcome, PropOutcome::kBadPayload);
  EXPECT_EQ(PropertyStore::check(R"({"":1})").outcome, PropOutcome::kBadPayload);
  EXPECT_EQ(PropertyStore::check(R"({"l":{"channel":"a/+"}})").outcome, PropOutcome::kBadPayload);
  EXPECT_EQ(data_.count(), 0);
}

}  // namespace
}  // namespace plugmq::store
