#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <set>

#include "data_fixture.hpp"
#include "plugmq/store/data.hpp"

namespace plugmq::store {
namespace {

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

// ---- records ----

TEST_F(DataTest, UpperCaseIdsAreStoredLowercase) {
  insert_all({rec("00000064000000000000ABCD", dev1_, "c", 1)});
  EXPECT_EQ(ids_of(data_.query(mask("c"))), std::vector<std::string>{"00000064000000000000abcd"});
}

// OIDs are unique by construction (SPEC 1); the store refuses a record it holds already, whether
// its `at` is in its OID's second or not.
TEST_F(DataTest, RepeatedRecordIsRefused) {
  insert_all({rec(oid(1, 1), dev1_, "c", 1500), rec(oid(1, 2), dev1_, "c", 7)});
  for (const auto& again : {rec(oid(1, 1), dev1_, "c", 1500), rec(oid(1, 2), dev1_, "c", 7)}) {
    try {
      data_.insert(again);
      ADD_FAILURE() << "no Error for " << again.id;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kExists);
    }
  }
  EXPECT_EQ(data_.count(), 2);
  try {
    data_.insert(rec(oid(1, 2), dev1_, "c", 8));
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kExists);
  }
}

TEST_F(DataTest, MalformedIdIsRefused) {
  for (const char* bad : {"", "123", "zz0000000000000000000000", "0000000000000000000000000"}) {
    try {
      data_.insert(rec(bad, dev1_, "c", 1));
      FAIL() << "no Error for '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kInvalid);
    }
  }
  EXPECT_EQ(data_.count(), 0);
}

TEST_F(DataTest, RolledBackSeriesAreForgotten) {
  // The first record of a series creates it; a rollback removes the series row too, and the
  // next insert must create it again rather than use a stale cached id.
  EXPECT_THROW(db_.transaction([&] {
    data_.insert(rec(oid(1, 0), dev1_, "new/channel", 1));
    throw std::runtime_error("abort");
  }),
               std::runtime_error);
  EXPECT_EQ(data_.count(), 0);
  insert_all({rec(oid(2, 0), dev1_, "new/channel", 2)});
  auto q = mask("new/+");
  q.of = {dev1_};
  EXPECT_EQ(ids_of(data_.query(q)), V{oid(2, 0)});
  EXPECT_EQ(data_.last_value(dev1_, "new/channel"), "1");
}

// ---- epochs ----

// A new record far outside the epoch's bounds widens them first; when that widening is rolled
// back, the next insert must widen again rather than trust what it cached, or reads would
// prune the epoch holding it.
TEST(DataEpochs, RolledBackBoundsAreWidenedAgain) {
  Db db = Db::open_memory();
  DataStore data(db, 100);
  const std::string dev = "dev-0000000000000000000000b1";
  db.transaction([&] { data.insert(rec(oid(1, 0), dev, "c", 1'000)); });
  EXPECT_THROW(db.transaction([&] {
    data.insert(rec(oid(2, 0), dev, "c", 50'000'000));
    throw std::runtime_error("abort");
  }),
               std::runtime_error);
  db.transaction([&] { data.insert(rec(oid(3, 0), dev, "c", 50'000'000)); });
  auto q = mask("c");
  q.of = {dev};
  q.after = 40'000'000;
  EXPECT_EQ(ids_of(data.query(q)), V{oid(3, 0)});
  EXPECT_EQ(data.last_value(dev, "c"), "1");
  auto channels_q = mask("#");
  channels_q.of = {dev};
  channels_q.after = 40'000'000;
  EXPECT_EQ(data.channels(channels_q), V{"c"});
}

// Records minutes apart in one epoch: its bounds follow each of them, past the slack.
TEST(DataEpochs, BoundsFollowEveryRecord) {
  Db db = Db::open_memory();
  DataStore data(db, 100);
  const std::string dev = "dev-0000000000000000000000e1";
  db.transaction([&] {
    for (std::uint32_t i = 0; i < 10; ++i) {
      data.insert(rec(oid(1, i), dev, "c", 1'000'000 + i * 300'000LL));
    }
    data.insert(rec(oid(1, 10), dev, "c", -5'000'000));
  });
  auto q = mask("c");
  q.of = {dev};
  q.after = 1'000'000 + 9 * 300'000LL - 1;
  EXPECT_EQ(ids_of(data.query(q)), V{oid(1, 9)});
  q.after.reset();
  q.before = -4'000'000;
  EXPECT_EQ(ids_of(data.query(q)), V{oid(1, 10)});
}

// A series that publishes, falls silent for many epochs, and publishes again: its reads skip
// the epochs in between without losing either end.
TEST(DataEpochs, SilentSeriesAcrossEpochs) {
  Db db = Db::open_memory();
  DataStore data(db, 4);
  const std::string quiet = "dev-0000000000000000000000c1";
  const std::string busy = "dev-0000000000000000000000c2";
  std::uint32_t n = 0;
  db.transaction([&] {
    data.insert(rec(oid(1, n++), quiet, "t", 1, "\"first\""));
    for (int i = 0; i < 200; ++i) data.insert(rec(oid(1, n++), busy, "t", 2 + i));
    data.insert(rec(oid(1, n++), quiet, "t", 500, "\"last\""));
  });
  auto q = mask("t");
  q.of = {quiet};
  const auto got = data.query(q);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].data_json, "\"last\"");
  EXPECT_EQ(got[1].data_json, "\"first\"");
  EXPECT_EQ(data.last_value(quiet, "t"), "\"last\"");
  EXPECT_EQ(data.delete_of(quiet, 1), 1u);
  EXPECT_EQ(data.delete_of(quiet, 10), 1u);
  EXPECT_EQ(data.delete_of(quiet, 10), 0u);
  EXPECT_EQ(data.count(), 200);
  q.of = {busy};
  q.limit = 1000;
  EXPECT_EQ(data.query(q).size(), 200u);
}

// ---- runs ----

// What one transaction inserts for one series is one run, its first and last records' range.
TEST_F(DataTest, OneRunPerSeriesPerTransaction) {
  std::vector<Record> rs;
  for (std::uint32_t i = 0; i < 40; ++i) {
    rs.push_back(rec(oid(1, 2 * i), dev1_, "t", 1'000 + i, std::to_string(i)));
    rs.push_back(rec(oid(1, 2 * i + 1), dev2_, "t", 1'000 + i, std::to_string(100 + i)));
  }
  insert_all(rs);
  EXPECT_EQ(count_rows(db_, "SELECT count(*) FROM runs"), 2);
  EXPECT_EQ(count_rows(db_, "SELECT count(*) FROM runs WHERE lo_at = 1000 AND hi_at = 1039"), 2);
  auto q = mask("t");
  q.of = {dev1_};
  q.limit = 3;
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(1, 78), oid(1, 76), oid(1, 74)}));
  q.before = 1'010;
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(1, 18), oid(1, 16), oid(1, 14)}));
  EXPECT_EQ(data_.last_value(dev2_, "t"), "139");
  // The next transaction starts a run of its own.
  insert_all({rec(oid(2, 0), dev1_, "t", 2'000, "\"late\"")});
  EXPECT_EQ(count_rows(db_, "SELECT count(*) FROM runs"), 3);
  EXPECT_EQ(data_.last_value(dev1_, "t"), "\"late\"");
}

// A record more than a second from the others of its run starts another: a series read scans
// each run's range of the channel, whoever's rows are in it.
TEST_F(DataTest, RunsSpreadOverAtMostASecond) {
  insert_all({
      rec(oid(1, 0), dev1_, "t", 10'000),
      rec(oid(1, 1), dev1_, "t", 10'900),
      rec(oid(1, 2), dev1_, "t", 11'001),  // 1,001 ms after the first: a new run
      rec(oid(1, 3), dev1_, "t", 500),     // far before: a new run
      rec(oid(1, 4), dev1_, "t", 900),
  });
  EXPECT_EQ(count_rows(db_, "SELECT count(*) FROM runs"), 3);
  auto q = mask("t");
  q.of = {dev1_};
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(1, 2), oid(1, 1), oid(1, 0), oid(1, 4), oid(1, 3)}));
  // Times at both ends of the 64-bit range: a span past what int64 holds is a new run too.
  insert_all({
      rec(oid(2, 0), dev2_, "t", std::numeric_limits<std::int64_t>::min()),
      rec(oid(2, 1), dev2_, "t", std::numeric_limits<std::int64_t>::max()),
  });
  EXPECT_EQ(count_rows(db_, "SELECT count(*) FROM runs"), 5);
  q.of = {dev2_};
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(2, 1), oid(2, 0)}));
}

// Runs of one series whose ranges overlap (records sent with older times later) reach some
// records twice; each is read once.
TEST_F(DataTest, OverlappingRunsReadEachRecordOnce) {
  insert_all({rec(oid(1, 0), dev1_, "t", 100), rec(oid(1, 1), dev1_, "t", 300)});
  insert_all({rec(oid(2, 0), dev1_, "t", 200), rec(oid(2, 1), dev1_, "t", 250)});
  auto q = mask("t");
  q.of = {dev1_};
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(1, 1), oid(2, 1), oid(2, 0), oid(1, 0)}));
  q.limit = 2;
  q.offset = 1;
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(2, 1), oid(2, 0)}));
  auto between = mask("t");
  between.of = {dev1_};
  between.after = 150;  // within both runs' ranges, holding the second's records
  between.before = 280;
  EXPECT_EQ(data_.channels(between), V{"t"});
  EXPECT_EQ(ids_of(data_.query(between)), (V{oid(2, 1), oid(2, 0)}));
  EXPECT_EQ(data_.delete_of(dev1_, 100), 4u);
  EXPECT_EQ(count_rows(db_, "SELECT count(*) FROM runs"), 0);
}

// A run of one record is read without the table, so it goes with its record however that is
// deleted: otherwise a read would count a record that is gone and return too few.
TEST_F(DataTest, ARunOfOneRecordGoesWithIt) {
  for (std::uint32_t i = 0; i < 4; ++i) insert_all({rec(oid(1, i), dev1_, "t", 10 + i)});
  EXPECT_EQ(count_rows(db_, "SELECT count(*) FROM runs"), 4);
  EXPECT_EQ(data_.delete_ids({oid(1, 3)}, {}, "#").value(), 1u);
  auto newest = mask("t");
  newest.of = {dev1_};
  newest.at = 12;
  EXPECT_EQ(data_.delete_matching(newest, 10), 1u);
  EXPECT_EQ(count_rows(db_, "SELECT count(*) FROM runs"), 2);
  auto q = mask("t");
  q.of = {dev1_};
  q.limit = 2;
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(1, 1), oid(1, 0)}));
  q.after = 10;
  EXPECT_EQ(data_.channels(q), V{"t"});
  q.after = 11;
  EXPECT_EQ(data_.channels(q), V{});
}

// Reads on the writing connection see the transaction's own records before it commits.
TEST_F(DataTest, ReadsInsideTheTransactionSeeItsRecords) {
  db_.transaction([&] {
    data_.insert(rec(oid(1, 0), dev1_, "t", 10, "\"mine\""));
    EXPECT_EQ(data_.last_value(dev1_, "t"), "\"mine\"");
    data_.insert(rec(oid(1, 1), dev1_, "t", 20, "\"mine too\""));
  });
  EXPECT_EQ(data_.last_value(dev1_, "t"), "\"mine too\"");
  EXPECT_EQ(count_rows(db_, "SELECT count(*) FROM runs"), 2);
}

// A transaction committed past Db::transaction() without flush() would store records that
// series reads cannot find: its COMMIT fails and rolls back instead.
TEST_F(DataTest, CommitWithRunsNotWrittenIsRefused) {
  db_.exec("BEGIN");
  data_.insert(rec(oid(1, 0), dev1_, "t", 10));
  EXPECT_THROW(db_.exec("COMMIT"), Error);
  EXPECT_EQ(data_.count(), 0);
  // The store goes on as usual afterwards, also through that series.
  db_.exec("BEGIN");
  data_.insert(rec(oid(1, 0), dev1_, "t", 10));
  data_.flush();
  db_.exec("COMMIT");
  auto q = mask("t");
  q.of = {dev1_};
  EXPECT_EQ(ids_of(data_.query(q)), V{oid(1, 0)});
}

// Outside a transaction each record is its own run.
TEST_F(DataTest, InsertOutsideATransactionWritesItsRun) {
  data_.insert(rec(oid(1, 0), dev1_, "t", 10));
  data_.insert(rec(oid(1, 1), dev1_, "t", 20));
  EXPECT_EQ(count_rows(db_, "SELECT count(*) FROM runs"), 2);
  auto q = mask("t");
  q.of = {dev1_};
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(1, 1), oid(1, 0)}));
}

}  // namespace
}  // namespace plugmq::store
