// Record positions (seq): assigned at insert, strictly increasing in commit order across
// connections, with the epochs' and runs' bounds that replay prunes with (docs/storage.md,
// "Positions").
#include <gtest/gtest.h>

#include <stdexcept>
#include <tuple>
#include <vector>

#include "data_fixture.hpp"
#include "plugmq/store/data.hpp"
#include "store_errors.hpp"
#include "temp_dir.hpp"

namespace plugmq::store {
namespace {

using testing::count_rows;
using testing::DataTest;
using testing::error_of;
using testing::oid;
using testing::qrec;
using testing::rec;

using Bounds = std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>>;

// (ep, min_seq, max_seq) of the epochs that have positions.
Bounds epoch_bounds(Db& db) {
  Bounds out;
  auto s =
      db.prepare("SELECT ep, min_seq, max_seq FROM epochs WHERE max_seq IS NOT NULL ORDER BY ep");
  while (s.step()) out.emplace_back(s.int64(0), s.int64(1), s.int64(2));
  return out;
}

TEST_F(DataTest, PositionsFollowInsertOrderNotTimeOrId) {
  EXPECT_EQ(data_.last_seq(), 0);
  std::vector<std::int64_t> seqs;
  db_.transaction([&] {
    seqs.push_back(data_.insert(rec(oid(9, 0), dev1_, "t", 9'000)));
    seqs.push_back(data_.insert(rec(oid(1, 0), dev2_, "t", -5)));  // older id and time
  });
  seqs.push_back(data_.insert(rec(oid(5, 0), dev1_, "u", 5'000)));  // a transaction of its own
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(data_.last_seq(), 3);
  EXPECT_EQ(count_rows(db_, "SELECT seq FROM data WHERE id = x'" + oid(1, 0) + "'"), 2);
}

TEST_F(DataTest, QosIsStoredAndChecked) {
  db_.transaction([&] {
    for (int qos = 0; qos <= 2; ++qos) data_.insert(qrec(oid(1, qos), dev1_, "t", 1'000, qos));
  });
  EXPECT_EQ(count_rows(db_, "SELECT sum(qos) FROM data"), 3);
  EXPECT_EQ(count_rows(db_, "SELECT max(qos) FROM runs"), 2);
  for (int bad : {-1, 3}) {
    EXPECT_EQ(error_of([&] { data_.insert(qrec(oid(2, 0), dev1_, "t", 2'000, bad)); }),
              Error::Code::kInvalid);
  }
  EXPECT_EQ(data_.count(), 3);
}

// A rolled-back transaction's positions were never committed: the next one takes them.
TEST_F(DataTest, RolledBackPositionsAreTakenAgain) {
  db_.transaction([&] { data_.insert(rec(oid(1, 0), dev1_, "t", 1'000)); });
  EXPECT_THROW(db_.transaction([&] {
    data_.insert(rec(oid(2, 0), dev1_, "t", 2'000));
    throw std::runtime_error("abort");
  }),
               std::runtime_error);
  EXPECT_EQ(data_.last_seq(), 1);
  std::int64_t seq = 0;
  db_.transaction([&] { seq = data_.insert(rec(oid(3, 0), dev1_, "t", 3'000)); });
  EXPECT_EQ(seq, 2);
  EXPECT_EQ(epoch_bounds(db_), (Bounds{{1, 1, 1}, {2, 2, 2}}));  // a rollback opens a new epoch
}

// A read inside the transaction writes the highest position (flush); inserts after it go on
// from there.
TEST_F(DataTest, PositionsGoOnAfterAReadInTheTransaction) {
  db_.transaction([&] {
    EXPECT_EQ(data_.insert(rec(oid(1, 0), dev1_, "t", 1'000)), 1);
    EXPECT_EQ(data_.last_seq(), 1);
    EXPECT_EQ(data_.insert(rec(oid(1, 1), dev1_, "t", 1'001)), 2);
  });
  EXPECT_EQ(data_.last_seq(), 2);
}

// Epochs hold disjoint position ranges in epoch order, each exact; a run knows its first and
// last position.
TEST(DataPositions, EpochsAndRunsBoundTheirPositions) {
  Db db = Db::open_memory();
  DataStore data(db, 3);
  const std::string a = "dev-0000000000000000000000a1";
  const std::string b = "dev-0000000000000000000000b1";
  db.transaction([&] {
    for (std::uint32_t i = 0; i < 4; ++i) data.insert(rec(oid(1, i), i % 2 ? b : a, "t", 1'000));
  });
  db.transaction([&] { data.insert(rec(oid(2, 0), a, "t", 2'000)); });
  EXPECT_EQ(epoch_bounds(db), (Bounds{{1, 1, 3}, {2, 4, 5}}));
  auto runs = db.prepare("SELECT ep, seq - seq_span, seq FROM runs ORDER BY ep, seq");
  Bounds got;
  while (runs.step()) got.emplace_back(runs.int64(0), runs.int64(1), runs.int64(2));
  // Epoch 1: a's records 1 and 3 (one run), b's 2; epoch 2: b's 4, a's 5.
  EXPECT_EQ(got, (Bounds{{1, 2, 2}, {1, 1, 3}, {2, 4, 4}, {2, 5, 5}}));
}

// Two connections writing in turn (the server's writer and an admin command): positions
// increase in commit order, and each transaction stores into the newest epoch, so that epochs
// stay in position order.
TEST(DataPositions, TwoConnectionsTakeTurns) {
  const plugmq::testing::TempDir dir("plugmq-seq-");
  const auto file = dir.path() / "plugmq.db";
  Db db1 = Db::open(file);
  Db db2 = Db::open(file);
  DataStore one(db1);
  DataStore two(db2);
  const std::string dev = "dev-0000000000000000000000c1";
  std::vector<std::int64_t> seqs;
  for (std::uint32_t round = 0; round < 3; ++round) {
    db1.transaction([&] {
      seqs.push_back(one.insert(rec(oid(1, round * 4), dev, "t", 1'000)));
      seqs.push_back(one.insert(rec(oid(1, round * 4 + 1), dev, "t", 1'000)));
    });
    seqs.push_back(two.insert(rec(oid(1, round * 4 + 2), dev, "t", 1'000)));
  }
  EXPECT_EQ(seqs, (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(epoch_bounds(db1),
            (Bounds{{1, 1, 2}, {2, 3, 3}, {3, 4, 5}, {4, 6, 6}, {5, 7, 8}, {6, 9, 9}}));
  EXPECT_EQ(one.last_seq(), 9);
}

// In a deferred transaction, an insert based on a position read before another connection's
// commit fails instead of repeating a position.
TEST(DataPositions, StaleDeferredTransactionFails) {
  const plugmq::testing::TempDir dir("plugmq-seq-");
  const auto file = dir.path() / "plugmq.db";
  Db db1 = Db::open(file);
  Db db2 = Db::open(file);
  DataStore one(db1);
  DataStore two(db2);
  const std::string dev = "dev-0000000000000000000000c2";
  one.insert(rec(oid(1, 0), dev, "t", 1'000));
  db1.exec("BEGIN");
  EXPECT_EQ(one.count(), 1);  // a read: the transaction has a snapshot
  two.insert(rec(oid(1, 1), dev, "t", 1'000));
  EXPECT_EQ(error_of([&] { one.insert(rec(oid(1, 2), dev, "t", 1'000)); }), Error::Code::kBusy);
  db1.exec("ROLLBACK");
  EXPECT_EQ(one.insert(rec(oid(1, 2), dev, "t", 1'000)), 3);
}

}  // namespace
}  // namespace plugmq::store
