// Updates by id (SPEC 4, docs/decisions/019): DataStore::find, and insert() of a Record with
// `update`, which replaces the record of the same id, publisher and channel, gives it a new
// position, keeps it its topic's retained message and takes its new expiry.
#include <gtest/gtest.h>

#include "data_fixture.hpp"
#include "plugmq/store/data.hpp"

namespace plugmq::store {
namespace {

using platform::Record;
using testing::count_rows;
using testing::DataTest;
using testing::ids_of;
using testing::mask;
using testing::oid;
using testing::qrec;
using testing::rec;
using testing::seqs_of;
using testing::V;

Record update_of(std::string id, std::string of, std::string channel, std::int64_t at,
                 std::string data, std::optional<std::int64_t> expire_at = std::nullopt) {
  Record r = qrec(std::move(id), std::move(of), std::move(channel), at, 1, std::move(data));
  r.expire_at = expire_at;
  r.update = true;
  return r;
}

class RecordUpdateTest : public DataTest {
 protected:
  ReplayQuery session(std::int64_t after) {
    ReplayQuery q;
    q.account_id = account_;
    q.filters = {"#"};
    q.after_seq = after;
    return q;
  }
  std::int64_t rows(const char* table) {
    return count_rows(db_, std::string("SELECT count(*) FROM ") + table);
  }
};

TEST_F(RecordUpdateTest, FindNamesOnlyTheRecordOfThatPublisherAndChannel) {
  insert_all({rec(oid(1, 0), dev1_, "t", 1'000, "7"), rec(oid(1, 1), dev2_, "t", 1'000)});
  const auto found = data_.find(oid(1, 0), dev1_, "t");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, oid(1, 0));
  EXPECT_EQ(found->data_json, "7");
  insert_all({rec(oid(0xabcd, 0), dev1_, "t", 0xabcd * 1'000)});
  EXPECT_TRUE(data_.find("0000ABCD0000000000000000", dev1_, "t")) << "an OID in capitals";
  EXPECT_FALSE(data_.find(oid(1, 1), dev1_, "t")) << "another device's record";
  EXPECT_FALSE(data_.find(oid(1, 0), dev1_, "u")) << "on another channel";
  EXPECT_FALSE(data_.find(oid(1, 0), dev1_, "never-used"));
  EXPECT_FALSE(data_.find(oid(1, 2), dev1_, "t")) << "no such record";
  EXPECT_FALSE(data_.find("not-an-oid", dev1_, "t"));
  EXPECT_FALSE(data_.find("", dev1_, "t"));
  // A record whose `at` is outside its OID's second is found through data_at.
  insert_all({rec(oid(1, 3), dev1_, "t", 99'000'000)});
  EXPECT_TRUE(data_.find(oid(1, 3), dev1_, "t"));
  // Inside the writer's transaction, before its runs are written.
  db_.transaction([&] {
    data_.insert(rec(oid(1, 4), dev1_, "t", 1'000));
    EXPECT_TRUE(data_.find(oid(1, 4), dev1_, "t"));
  });
}

TEST_F(RecordUpdateTest, AnUpdateReplacesDataTimeAndExpiryAndTakesANewPosition) {
  insert_all(
      {qrec(oid(1, 0), dev1_, "t", 1'000, 1, "\"old\""), qrec(oid(1, 1), dev1_, "t", 1'500, 1)});
  const std::int64_t last = data_.last_seq();
  insert_all({update_of(oid(1, 0), dev1_, "t", 9'000'000, "\"new\"", 9'500'000)});
  const auto all = data_.query(mask("#"));
  ASSERT_EQ(ids_of(all), (V{oid(1, 0), oid(1, 1)})) << "one record per id, newest first by at";
  EXPECT_EQ(all[0].data_json, "\"new\"");
  EXPECT_EQ(all[0].at, 9'000'000);
  EXPECT_EQ(all[0].expire_at, 9'500'000);
  EXPECT_EQ(data_.count(), 2);
  // Its `at` is no longer in its OID's second: data_at places it, and finds it by id.
  EXPECT_EQ(rows("data_at"), 1);
  EXPECT_EQ(data_.find(oid(1, 0), dev1_, "t")->at, 9'000'000);
  // A session past both earlier positions gets the update again; one that had neither gets
  // each record once.
  const auto missed = data_.replay(session(last));
  ASSERT_EQ(ids_of(missed), (V{oid(1, 0)}));
  EXPECT_EQ(seqs_of(missed), (std::vector<std::int64_t>{last + 1}));
  EXPECT_EQ(missed[0].data_json, "\"new\"");
  EXPECT_EQ(ids_of(data_.replay(session(0))), (V{oid(1, 1), oid(1, 0)}));
  // Back into its OID's second: the data_at row goes with the record it placed.
  insert_all({update_of(oid(1, 0), dev1_, "t", 1'200, "3")});
  EXPECT_EQ(rows("data_at"), 0);
  EXPECT_EQ(data_.count(), 2);
}

TEST_F(RecordUpdateTest, TheExpiryThatCountsIsTheUpdates) {
  insert_all({rec(oid(1, 0), dev1_, "t", 1'000, "1", 2'000), rec(oid(1, 1), dev1_, "t", 1'000)});
  insert_all({update_of(oid(1, 0), dev1_, "t", 1'000, "2", 50'000)});
  EXPECT_EQ(data_.delete_expired(10'000, 100), 0u) << "the replaced record's expiry is gone";
  EXPECT_EQ(data_.count(), 2);
  insert_all({update_of(oid(1, 1), dev1_, "t", 1'000, "3", 3'000)});  // one that never expired
  EXPECT_EQ(data_.delete_expired(10'000, 100), 1u);
  EXPECT_EQ(ids_of(data_.query(mask("#"))), (V{oid(1, 0)}));
  EXPECT_EQ(data_.delete_expired(60'000, 100), 1u);
  EXPECT_EQ(data_.count(), 0);
}

// The record and its update in one transaction (one batch of the writer), and an update of an
// update: one record, whose run is the last one's.
TEST_F(RecordUpdateTest, UpdatesInTheTransactionThatStoredTheRecord) {
  db_.transaction([&] {
    data_.insert(qrec(oid(1, 0), dev1_, "t", 1'000, 1, "1"));
    data_.insert(qrec(oid(1, 1), dev1_, "t", 1'001, 1, "x"));
    data_.insert(update_of(oid(1, 0), dev1_, "t", 1'002, "2"));
    data_.insert(update_of(oid(1, 0), dev1_, "t", 1'003, "3"));
  });
  const auto all = data_.query(mask("#"));
  ASSERT_EQ(ids_of(all), (V{oid(1, 0), oid(1, 1)}));
  EXPECT_EQ(all[0].data_json, "3");
  DataQuery at = mask("t");
  at.at = 1'003;
  EXPECT_EQ(ids_of(data_.query(at)), (V{oid(1, 0)}));
  DataQuery by_device = mask("#");
  by_device.of = {dev1_};  // through the series' runs
  EXPECT_EQ(ids_of(data_.query(by_device)), (V{oid(1, 0), oid(1, 1)}));
  EXPECT_EQ(ids_of(data_.replay(session(0))), (V{oid(1, 1), oid(1, 0)}));
}

// Stored again at its `at`, the record ends where the run that held it ended: the two runs are
// one, which series reads and replay still find it through.
TEST_F(RecordUpdateTest, AnUpdateAtTheSameTimeEndsWhereItsRunEnded) {
  insert_all(
      {qrec(oid(1, 0), dev1_, "t", 1'000, 1, "1"), qrec(oid(1, 1), dev1_, "t", 1'000, 0, "2")});
  const std::int64_t last = data_.last_seq();
  insert_all({update_of(oid(1, 1), dev1_, "t", 1'000, "3", 7'000)});
  EXPECT_EQ(rows("runs"), 1);
  DataQuery by_device = mask("#");
  by_device.of = {dev1_};
  const auto all = data_.query(by_device);
  ASSERT_EQ(ids_of(all), (V{oid(1, 1), oid(1, 0)}));
  EXPECT_EQ(all[0].data_json, "3");
  EXPECT_EQ(ids_of(data_.replay(session(last))), (V{oid(1, 1)}));
  EXPECT_EQ(ids_of(data_.replay(session(0))), (V{oid(1, 0), oid(1, 1)}));
  EXPECT_EQ(data_.delete_expired(8'000, 100), 1u) << "the merged run carries the new expiry";
  EXPECT_EQ(ids_of(data_.query(by_device)), (V{oid(1, 0)}));
}

TEST_F(RecordUpdateTest, AnUpdateOfARecordGoneIsStoredAllTheSame) {
  insert_all({update_of(oid(1, 0), dev1_, "t", 1'000, "1")});
  EXPECT_EQ(data_.count(), 1);
  EXPECT_TRUE(data_.find(oid(1, 0), dev1_, "t"));
}

TEST_F(RecordUpdateTest, TheRetainedMessageFollowsItsRecord) {
  Record kept = qrec(oid(1, 0), dev1_, "t", 1'000, 1, "\"first\"");
  kept.retain = true;
  insert_all({kept, qrec(oid(1, 1), dev1_, "u", 1'000, 1)});
  insert_all({update_of(oid(1, 0), dev1_, "t", 5'000, "\"second\"")});
  auto got = data_.retained(account_, {"#"});
  ASSERT_EQ(ids_of(got), (V{oid(1, 0)}));
  EXPECT_EQ(got[0].data_json, "\"second\"");
  EXPECT_EQ(got[0].at, 5'000);
  EXPECT_EQ(got[0].seq, data_.last_seq());
  // Updating a record that is not retained retains nothing.
  insert_all({update_of(oid(1, 1), dev1_, "u", 5'000, "2")});
  EXPECT_EQ(ids_of(data_.retained(account_, {"#"})), (V{oid(1, 0)}));
  // An update to data "" removes the topic's retained message, as a retained empty publish does.
  insert_all({update_of(oid(1, 0), dev1_, "t", 6'000, "\"\"")});
  EXPECT_TRUE(data_.retained(account_, {"#"}).empty());
  EXPECT_EQ(data_.count(), 2);
}

}  // namespace
}  // namespace plugmq::store
