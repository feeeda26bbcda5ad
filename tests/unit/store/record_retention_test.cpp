#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <random>
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

// The sweeper deletes a run's expired records and keeps the run for the others, with their
// earliest expiry; a run with nothing left goes.
TEST_F(DataTest, SweepingKeepsRunsForWhatIsLeft) {
  insert_all({
      rec(oid(1, 0), dev1_, "t", 10, "1", 100),
      rec(oid(1, 1), dev1_, "t", 20, "1", 200),
      rec(oid(1, 2), dev1_, "t", 30),  // never expires
      rec(oid(1, 3), dev2_, "t", 15, "1", 100),
  });
  EXPECT_EQ(data_.delete_expired(150, 100), 2u);
  EXPECT_EQ(count_rows(db_, "SELECT count(*) FROM runs"), 1);
  EXPECT_EQ(count_rows(db_, "SELECT min_exp FROM runs"), 200);
  EXPECT_EQ(data_.delete_expired(250, 100), 1u);
  EXPECT_EQ(count_rows(db_, "SELECT count(*) FROM runs WHERE min_exp IS NULL"), 1);
  EXPECT_EQ(data_.delete_expired(1'000'000, 100), 0u);
  auto q = mask("t");
  q.of = {dev1_};
  EXPECT_EQ(ids_of(data_.query(q)), V{oid(1, 2)});
}

TEST_F(DataTest, DeleteExpiredInBatches) {
  std::vector<Record> rs;
  for (std::uint32_t i = 0; i < 10; ++i) {
    rs.push_back(rec(oid(1, i), dev1_, "c", i, "1", 100 + i));  // expire at 100..109
  }
  rs.push_back(rec(oid(2, 0), dev1_, "c", 0));  // never expires
  rs.push_back(rec(oid(2, 1), dev1_, "c", 0, "1", std::numeric_limits<std::int64_t>::max()));
  insert_all(rs);

  EXPECT_EQ(data_.delete_expired(99, 100), 0u);
  EXPECT_EQ(data_.delete_expired(104, 3), 3u);  // 100, 101, 102: the earliest first
  EXPECT_EQ(data_.count(), 9);
  EXPECT_EQ(data_.delete_expired(104, 3), 2u);  // 103, 104
  EXPECT_EQ(data_.delete_expired(104, 3), 0u);
  EXPECT_EQ(data_.delete_expired(1'000'000, 0), 0u);
  EXPECT_EQ(data_.delete_expired(1'000'000, 100), 5u);
  EXPECT_EQ(data_.delete_expired(std::numeric_limits<std::int64_t>::max() - 1, 100), 0u);
  EXPECT_EQ(data_.count(), 2);
  EXPECT_EQ(data_.delete_expired(std::numeric_limits<std::int64_t>::max(), 100), 1u);
  EXPECT_EQ(ids_of(data_.query(mask("#"))), V{oid(2, 0)});
}

// Random expiries over many epochs, swept at increasing times in random batch sizes, with
// records still arriving in the current epoch (some expiring earlier than what the sweeper
// found there): after every sweep exactly the records not yet expired are left.
TEST(DataRetention, SweepsEveryEpochExactly) {
  Db db = Db::open_memory();
  DataStore data(db, 9);
  const std::string dev = "dev-0000000000000000000000e1";
  std::mt19937 rng(3);
  std::vector<Record> live;
  std::uint32_t n = 0;
  auto add = [&](int count, std::int64_t from) {
    db.transaction([&] {
      for (int i = 0; i < count; ++i) {
        std::optional<std::int64_t> exp;
        if (rng() % 5 != 0) exp = from + static_cast<std::int64_t>(rng() % 400);
        Record r = rec(oid(7, n++), dev, rng() % 2 ? "x" : "y/z", rng() % 100, "1", exp);
        data.insert(r);
        live.push_back(r);
      }
    });
  };
  add(200, 0);
  for (std::int64_t now = 0; now < 700; now += 1 + static_cast<std::int64_t>(rng() % 30)) {
    if (rng() % 3 == 0) add(1 + static_cast<int>(rng() % 12), now);
    const std::size_t batch = 1 + rng() % 40;
    const auto want =
        static_cast<std::size_t>(std::count_if(live.begin(), live.end(), [&](const Record& r) {
          return r.expire_at && *r.expire_at <= now;
        }));
    std::size_t got = 0;
    for (;;) {
      const std::size_t k = data.delete_expired(now, batch);
      ASSERT_LE(k, batch);
      got += k;
      if (k < batch) break;
    }
    ASSERT_EQ(got, want) << "now " << now;
    std::erase_if(live, [&](const Record& r) { return r.expire_at && *r.expire_at <= now; });
    ASSERT_EQ(data.count(), std::ssize(live)) << "now " << now;
  }
  // Nothing expired is readable, nothing else is lost.
  DataQuery all;
  all.limit = 10000;
  std::set<std::string> left;
  for (const auto& r : data.query(all)) left.insert(r.id);
  std::set<std::string> want;
  for (const auto& r : live) want.insert(r.id);
  EXPECT_EQ(left, want);
  EXPECT_GT(std::count_if(live.begin(), live.end(), [](const Record& r) { return !r.expire_at; }),
            0);
}

TEST_F(DataTest, DeleteOf) {
  std::vector<Record> rs;
  for (std::uint32_t i = 0; i < 7; ++i)
    rs.push_back(rec(oid(1, i), dev1_, "c" + std::to_string(i % 3), i));
  rs.push_back(rec(oid(2, 0), dev2_, "c0", 0));
  insert_all(rs);
  EXPECT_EQ(data_.delete_of(dev1_, 5), 5u);
  EXPECT_EQ(data_.delete_of(dev1_, 5), 2u);
  EXPECT_EQ(data_.delete_of(dev1_, 5), 0u);
  EXPECT_EQ(ids_of(data_.query(mask("#"))), V{oid(2, 0)});
}

TEST_F(DataTest, DeleteMatchingInBatches) {
  std::vector<Record> rs;
  for (std::uint32_t i = 1; i <= 10; ++i) rs.push_back(rec(oid(i, 0), dev1_, "c", i * 10));
  rs.push_back(rec(oid(11, 0), dev2_, "c", 5));
  rs.push_back(rec(oid(12, 0), dev1_, "d", 5));
  insert_all(rs);
  auto q = mask("c");
  q.of = {dev1_};
  q.before = 80;  // 10..70: 7 records of dev1 on c
  q.limit = 1;    // ignored
  EXPECT_EQ(data_.delete_matching(q, 3), 3u);
  EXPECT_EQ(data_.delete_matching(q, 3), 3u);
  EXPECT_EQ(data_.delete_matching(q, 3), 1u);
  EXPECT_EQ(data_.delete_matching(q, 3), 0u);
  EXPECT_EQ(ids_of(data_.query(mask("#"))),
            (V{oid(10, 0), oid(9, 0), oid(8, 0), oid(12, 0), oid(11, 0)}));
}

TEST_F(DataTest, DeleteIds) {
  insert_all({
      rec(oid(1, 0), dev1_, "a", 10),
      rec(oid(2, 0), dev2_, "a", 20),
      rec(oid(3, 0), dev1_, "b", 30),
  });
  // Only dev1's records on channels under the mask go.
  EXPECT_EQ(data_.delete_ids({oid(1, 0), oid(2, 0), oid(3, 0), oid(9, 0)}, {dev1_}, "a").value(),
            1u);
  EXPECT_EQ(ids_of(data_.query(mask("#"))), (V{oid(3, 0), oid(2, 0)}));
  EXPECT_EQ(data_.delete_ids({oid(2, 0), oid(3, 0)}, {}, "#").value(), 2u);
  EXPECT_EQ(data_.count(), 0);
  const auto malformed = data_.delete_ids({"nothex"}, {}, "#");
  ASSERT_TRUE(malformed.has_error());
  EXPECT_EQ(malformed.error().code, Errc::kInvalid);
}

// A malformed id or mask is a failure value, and nothing is deleted: not even the records named
// by the well-formed ids before it.
TEST_F(DataTest, DeleteIdsRefusesMalformedIdsAndMasks) {
  insert_all({
      rec(oid(1, 0), dev1_, "a", 10),
      rec(oid(2, 0), dev1_, "a", 20),
  });
  const auto bad_id = data_.delete_ids({oid(1, 0), "nothex", oid(2, 0)}, {}, "#");
  ASSERT_TRUE(bad_id.has_error());
  EXPECT_EQ(bad_id.error().code, Errc::kInvalid);
  EXPECT_EQ(bad_id.error().message, "record id must be 24 hex digits: nothex");
  const auto bad_mask = data_.delete_ids({oid(1, 0)}, {}, "a/#/b");
  ASSERT_TRUE(bad_mask.has_error());
  EXPECT_EQ(bad_mask.error().code, Errc::kInvalid);
  EXPECT_EQ(bad_mask.error().message, "invalid channel mask: a/#/b");
  EXPECT_EQ(ids_of(data_.query(mask("#"))), (V{oid(2, 0), oid(1, 0)}));
}

}  // namespace
}  // namespace plugmq::store
