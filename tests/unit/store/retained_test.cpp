// Retained messages (SPEC 11): set with their record, removed by an empty payload, gone with
// their record or their device, kept across a restart.
#include <gtest/gtest.h>

#include "data_fixture.hpp"
#include "plugmq/store/data.hpp"
#include "store_errors.hpp"
#include "temp_dir.hpp"

namespace plugmq::store {
namespace {

using platform::Record;
using testing::DataTest;
using testing::error_of;
using testing::ids_of;
using testing::mask;
using testing::oid;
using testing::qrec;
using testing::V;

Record retained_rec(std::string id, std::string of, std::string channel, std::int64_t at,
                    std::string data = "1", std::optional<std::int64_t> expire_at = std::nullopt) {
  Record r = qrec(std::move(id), std::move(of), std::move(channel), at, 1, std::move(data));
  r.retain = true;
  r.expire_at = expire_at;
  return r;
}

class RetainedTest : public DataTest {
 protected:
  std::vector<Record> retained(std::vector<std::string> filters = {"#"}) {
    return data_.retained(account_, filters);
  }
};

TEST_F(RetainedTest, ARetainedRecordIsItsTopicsRetainedMessage) {
  insert_all({retained_rec(oid(1, 0), dev1_, "t", 1'000, "\"first\""),
              qrec(oid(1, 1), dev1_, "t", 1'001, 1),  // not retained: changes nothing
              retained_rec(oid(1, 2), dev2_, "t", 1'002, "{\"v\":2}")});
  const auto got = retained();
  ASSERT_EQ(ids_of(got), (V{oid(1, 0), oid(1, 2)}));
  EXPECT_EQ(got[0].data_json, "\"first\"");
  EXPECT_EQ(got[0].of, dev1_);
  EXPECT_EQ(got[0].channel, "t");
  EXPECT_EQ(got[0].seq, 1);
  EXPECT_EQ(got[0].qos, 1);
  EXPECT_TRUE(got[0].retain);
  EXPECT_EQ(got[1].data_json, "{\"v\":2}");
  // A newer one replaces it, in the same transaction as it is stored.
  insert_all({retained_rec(oid(2, 0), dev1_, "t", 500, "\"second\"")});
  EXPECT_EQ(ids_of(retained()), (V{oid(1, 2), oid(2, 0)}));
  EXPECT_EQ(data_.retained_count(), 2);
}

// A retained record of QoS 0 (which stores no position) still shows its seq.
TEST_F(RetainedTest, QosZeroRecordsAreRetainedToo) {
  insert_all({qrec(oid(1, 0), dev1_, "u", 1'000, 1)});
  Record r = retained_rec(oid(1, 1), dev1_, "t", 1'000, "7");
  r.qos = 0;
  std::int64_t seq = 0;
  db_.transaction([&] { seq = data_.insert(r); });
  const auto got = retained();
  ASSERT_EQ(ids_of(got), V{oid(1, 1)});
  EXPECT_EQ(got[0].seq, seq);
  EXPECT_EQ(seq, 2);
  EXPECT_EQ(got[0].qos, 0);
}

TEST_F(RetainedTest, AnEmptyPayloadRemovesIt) {
  insert_all(
      {retained_rec(oid(1, 0), dev1_, "t", 1'000), retained_rec(oid(1, 1), dev1_, "u", 1'000)});
  insert_all({retained_rec(oid(2, 0), dev1_, "t", 2'000, "\"\"")});
  EXPECT_EQ(ids_of(retained()), V{oid(1, 1)});
  // The record itself is stored like any other.
  EXPECT_EQ(ids_of(data_.query(mask("t"))), (V{oid(2, 0), oid(1, 0)}));
  // Removing what is not there is no error.
  insert_all({retained_rec(oid(3, 0), dev2_, "t", 3'000, "\"\"")});
  EXPECT_EQ(ids_of(retained()), V{oid(1, 1)});
}

TEST_F(RetainedTest, RolledBackWithItsRecord) {
  insert_all({retained_rec(oid(1, 0), dev1_, "t", 1'000)});
  EXPECT_THROW(db_.transaction([&] {
    data_.insert(retained_rec(oid(2, 0), dev1_, "t", 2'000));
    throw std::runtime_error("abort");
  }),
               std::runtime_error);
  EXPECT_EQ(ids_of(retained()), V{oid(1, 0)});
}

TEST_F(RetainedTest, FiltersAndAccountsSelectThem) {
  const std::string other_account = ids_.add_account("x@y.z", "secret2").value().id;
  const std::string other = ids_.add_prototype(other_account, "other").value().device.id;
  insert_all({retained_rec(oid(1, 0), dev1_, "a/b", 1'000),
              retained_rec(oid(1, 1), dev2_, "a/c", 1'000),
              retained_rec(oid(1, 2), other, "a/b", 1'000)});
  EXPECT_EQ(ids_of(retained({"+/data/a/b"})), V{oid(1, 0)});
  EXPECT_EQ(ids_of(retained({dev2_ + "/data/#"})), V{oid(1, 1)});
  EXPECT_EQ(ids_of(retained({"+/data/a/+", dev1_ + "/#"})), (V{oid(1, 0), oid(1, 1)}));
  EXPECT_EQ(ids_of(retained({other + "/data/a/b"})), V{});
  EXPECT_EQ(ids_of(data_.retained(other_account, {"#"})), V{oid(1, 2)});
  EXPECT_EQ(ids_of(retained({})), V{});
  EXPECT_EQ(error_of([&] { retained({"a+"}); }), Error::Code::kInvalid);
}

// It lasts as long as its record, whoever deletes the record.
TEST_F(RetainedTest, ExpiresWithItsRecord) {
  insert_all({retained_rec(oid(1, 0), dev1_, "t", 1'000, "1", 5'000),
              retained_rec(oid(1, 1), dev1_, "u", 1'000, "1", 9'000)});
  EXPECT_EQ(data_.delete_expired(6'000, 100), 1u);
  EXPECT_EQ(ids_of(retained()), V{oid(1, 1)});
  EXPECT_EQ(data_.retained_count(), 1);
  // A new retained publish on the topic takes its place again.
  insert_all({retained_rec(oid(2, 0), dev1_, "t", 2'000)});
  EXPECT_EQ(ids_of(retained()), (V{oid(1, 1), oid(2, 0)}));
}

TEST_F(RetainedTest, GoesWithItsDeletedRecord) {
  insert_all({retained_rec(oid(1, 0), dev1_, "t", 1'000),
              retained_rec(oid(1, 1), dev1_, "u", 1'000),
              retained_rec(oid(1, 2), dev2_, "t", 1'000)});
  EXPECT_EQ(data_.delete_ids({oid(1, 0)}, {}, "#").value(), 1u);
  EXPECT_EQ(ids_of(retained()), (V{oid(1, 1), oid(1, 2)}));
  EXPECT_EQ(data_.delete_matching(mask("u"), 100), 1u);
  EXPECT_EQ(ids_of(retained()), V{oid(1, 2)});
  EXPECT_EQ(data_.delete_of(dev2_, 100), 1u);
  EXPECT_EQ(ids_of(retained()), V{});
  EXPECT_EQ(data_.retained_count(), 0);
}

// Deleting a device deletes its retained messages at once, before delete_of removes its
// records.
TEST_F(RetainedTest, GoesWithItsDevice) {
  insert_all(
      {retained_rec(oid(1, 0), dev1_, "t", 1'000), retained_rec(oid(1, 1), dev2_, "t", 1'000)});
  ASSERT_TRUE(ids_.delete_device(dev2_));
  EXPECT_EQ(ids_of(retained()), V{oid(1, 0)});
  EXPECT_EQ(data_.retained_count(), 1);
}

TEST(Retained, KeptAcrossARestart) {
  const plugmq::testing::TempDir dir("plugmq-retained-");
  const auto file = dir.path() / "plugmq.db";
  std::string account, dev;
  {
    Db db = Db::open(file);
    Identity ids(db);
    account = ids.add_account("a@b.c", "secret1").value().id;
    dev = ids.add_prototype(account, "one").value().device.id;
    DataStore data(db);
    data.insert(retained_rec(oid(1, 0), dev, "t", 1'000, "\"kept\""));
  }
  Db db = Db::open(file);
  DataStore data(db);
  const auto got = data.retained(account, {"#"});
  ASSERT_EQ(ids_of(got), V{oid(1, 0)});
  EXPECT_EQ(got[0].data_json, "\"kept\"");
}

}  // namespace
}  // namespace plugmq::store
