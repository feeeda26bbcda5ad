// DataStore::replay and replay_count: what a persistent session missed, by position.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <set>

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
using testing::oid;
using testing::qrec;
using testing::seqs_of;
using testing::V;

ReplayQuery session(std::string account, std::vector<std::string> filters, std::int64_t after = 0) {
  ReplayQuery q;
  q.account_id = std::move(account);
  q.filters = std::move(filters);
  q.after_seq = after;
  return q;
}

class ReplayTest : public DataTest {
 protected:
  void SetUp() override {
    DataTest::SetUp();
    other_account_ = ids_.add_account("x@y.z", "secret2").value().id;
    other_ = ids_.add_prototype(other_account_, "other").value().device.id;
  }
  std::string other_account_, other_;
};

// Records sent with times in the past or the future come back in the order they were stored.
TEST_F(ReplayTest, RecordsComeBackInStoreOrderWhateverTheirTime) {
  insert_all({qrec(oid(100, 0), dev1_, "t", 100'000, 1)});
  insert_all({qrec(oid(101, 0), dev1_, "t", -9'000'000'000, 1),  // long ago
              qrec(oid(101, 1), dev2_, "t", 5'000, 2)});
  insert_all({qrec(oid(102, 0), dev1_, "t", 9'000'000'000'000, 1)});  // far ahead
  const auto all = data_.replay(session(account_, {"#"}));
  EXPECT_EQ(ids_of(all), (V{oid(100, 0), oid(101, 0), oid(101, 1), oid(102, 0)}));
  EXPECT_EQ(seqs_of(all), (std::vector<std::int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(all[1].at, -9'000'000'000);
  EXPECT_EQ(all[2].of, dev2_);
  EXPECT_EQ(all[2].qos, 2);
  EXPECT_EQ(all[2].data_json, "1");
  // After a position, up to one.
  auto q = session(account_, {"#"}, 1);
  q.upto_seq = 3;
  EXPECT_EQ(ids_of(data_.replay(q)), (V{oid(101, 0), oid(101, 1)}));
  EXPECT_EQ(data_.replay_count(q), 2);
}

// Runs of one series overlap when a record comes later with a time inside an earlier run's
// span: each record is replayed once, in its own place.
TEST_F(ReplayTest, OverlappingRunsReplayEachRecordOnce) {
  insert_all({qrec(oid(1, 0), dev1_, "t", 1'000, 1), qrec(oid(1, 1), dev2_, "t", 1'100, 1),
              qrec(oid(1, 2), dev1_, "t", 1'500, 1)});
  insert_all({qrec(oid(2, 0), dev1_, "t", 1'200, 2), qrec(oid(2, 1), dev1_, "t", 1'300, 1)});
  insert_all({qrec(oid(3, 0), dev1_, "t", 1'250, 1)});
  const V order{oid(1, 0), oid(1, 1), oid(1, 2), oid(2, 0), oid(2, 1), oid(3, 0)};
  EXPECT_EQ(ids_of(data_.replay(session(account_, {"#"}))), order);
  EXPECT_EQ(ids_of(data_.replay(session(account_, {dev1_ + "/data/t"}))),
            (V{oid(1, 0), oid(1, 2), oid(2, 0), oid(2, 1), oid(3, 0)}));
  EXPECT_EQ(data_.replay_count(session(account_, {"#"})), 6);
  // In chunks of two, with a cursor.
  ReplayCursor cursor(3);
  V got;
  auto q = session(account_, {"#"});
  q.limit = 2;
  for (int i = 0; i < 10; ++i) {
    const auto rs = data_.replay(q, cursor);
    if (rs.empty()) break;
    for (const auto& r : rs) got.push_back(r.id);
    q.after_seq = rs.back().seq;
  }
  EXPECT_EQ(got, order);
}

TEST_F(ReplayTest, QosZeroRecordsAreNotReplayed) {
  insert_all({qrec(oid(1, 0), dev1_, "t", 1'000, 0), qrec(oid(1, 1), dev2_, "t", 1'000, 1)});
  // One run of three records, its middle one QoS 0.
  insert_all({qrec(oid(2, 0), dev1_, "t", 2'000, 1), qrec(oid(2, 1), dev1_, "t", 2'001, 0),
              qrec(oid(2, 2), dev1_, "t", 2'002, 2)});
  EXPECT_EQ(ids_of(data_.replay(session(account_, {"#"}))), (V{oid(1, 1), oid(2, 0), oid(2, 2)}));
  EXPECT_EQ(data_.replay_count(session(account_, {"#"})), 3);
}

TEST_F(ReplayTest, OtherAccountsRecordsAreNotReplayed) {
  insert_all({qrec(oid(1, 0), dev1_, "t", 1'000, 1), qrec(oid(1, 1), other_, "t", 1'000, 1)});
  EXPECT_EQ(ids_of(data_.replay(session(account_, {"#"}))), V{oid(1, 0)});
  EXPECT_EQ(ids_of(data_.replay(session(account_, {other_ + "/data/t"}))), V{});
  EXPECT_EQ(ids_of(data_.replay(session(other_account_, {"+/data/+"}))), V{oid(1, 1)});
}

// Filters select topics OF/data/CHANNEL; a record matched by several is replayed once.
TEST_F(ReplayTest, FiltersSelectTopics) {
  insert_all({qrec(oid(1, 0), dev1_, "temp", 1'000, 1), qrec(oid(1, 1), dev1_, "a/b", 1'000, 1),
              qrec(oid(1, 2), dev2_, "temp", 1'000, 1), qrec(oid(1, 3), dev2_, "a/c", 1'000, 1)});
  auto ids = [&](std::vector<std::string> filters) {
    return ids_of(data_.replay(session(account_, std::move(filters))));
  };
  EXPECT_EQ(ids({dev1_ + "/data/temp"}), V{oid(1, 0)});
  EXPECT_EQ(ids({"+/data/temp"}), (V{oid(1, 0), oid(1, 2)}));
  EXPECT_EQ(ids({"+/data/a/+"}), (V{oid(1, 1), oid(1, 3)}));
  EXPECT_EQ(ids({dev2_ + "/#"}), (V{oid(1, 2), oid(1, 3)}));
  EXPECT_EQ(ids({"+/+/a/b"}), V{oid(1, 1)});
  EXPECT_EQ(ids({"#", "+/data/temp", dev1_ + "/data/#"}),
            (V{oid(1, 0), oid(1, 1), oid(1, 2), oid(1, 3)}));
  EXPECT_EQ(ids({dev1_ + "/ag/prop/set", "+/data"}), V{});
  EXPECT_EQ(ids({}), V{});
  EXPECT_EQ(error_of([&] { data_.replay(session(account_, {"a/b#"})); }), Error::Code::kInvalid);
  EXPECT_EQ(error_of([&] { data_.replay_count(session(account_, {"#/a"})); }),
            Error::Code::kInvalid);
}

// A deleted device's records stay until delete_of removes them, but are no longer replayed.
TEST_F(ReplayTest, DeletedDevicesRecordsAreNotReplayed) {
  insert_all({qrec(oid(1, 0), dev1_, "t", 1'000, 1), qrec(oid(1, 1), dev2_, "t", 1'000, 1)});
  ASSERT_TRUE(ids_.delete_device(dev2_));
  EXPECT_EQ(ids_of(data_.replay(session(account_, {"#"}))), V{oid(1, 0)});
}

TEST_F(ReplayTest, CountIsCapped) {
  std::vector<Record> rs;
  for (std::uint32_t i = 0; i < 50; ++i) rs.push_back(qrec(oid(1, i), dev1_, "t", 1'000 + i, 1));
  insert_all(rs);
  auto q = session(account_, {"#"}, 10);
  EXPECT_EQ(data_.replay_count(q), 40);
  q.limit = 7;
  EXPECT_EQ(data_.replay_count(q), 7);
  EXPECT_EQ(seqs_of(data_.replay(q)), (std::vector<std::int64_t>{11, 12, 13, 14, 15, 16, 17}));
}

// Chunk by chunk while records keep coming (a writer and a reader connection): every record of
// QoS 1 or 2 of the account's selected topics once, in store order, whatever its time, run and
// epoch, also on channels and devices that appear meanwhile. Small epochs read every run of an
// epoch; the default ones probe each series. Without a cursor, with one, and with one that
// reads ahead a few positions only.
class ReplayChunks : public ::testing::TestWithParam<std::tuple<std::int64_t, int>> {};

TEST_P(ReplayChunks, NothingMissedOrRepeated) {
  const auto [epoch_records, read_ahead] = GetParam();
  const plugmq::testing::TempDir dir("plugmq-replay-");
  const auto file = dir.path() / "plugmq.db";
  Db wdb = Db::open(file);
  Identity ids(wdb);
  const std::string account = ids.add_account("a@b.c", "secret1").value().id;
  const std::string other = ids.add_account("x@y.z", "secret2").value().id;
  const std::string stranger = ids.add_prototype(other, "o").value().device.id;
  std::vector<std::string> devs = {stranger};
  for (int i = 0; i < 3; ++i) devs.push_back(ids.add_prototype(account, "d").value().device.id);
  DataStore writer(wdb, epoch_records);
  Db rdb = Db::open(file);
  DataStore reader(rdb, epoch_records);
  std::optional<ReplayCursor> cursor;
  if (read_ahead >= 0) cursor.emplace(static_cast<std::size_t>(read_ahead));

  std::mt19937 rng(5);
  std::vector<std::string> channels = {"temp", "a/b", "a/c"};
  std::vector<std::pair<std::int64_t, std::string>> expected;  // seq, id
  std::uint32_t n = 0;
  auto insert_batch = [&] {
    wdb.transaction([&] {
      const int count = 1 + static_cast<int>(rng() % 12);
      for (int i = 0; i < count; ++i, ++n) {
        const std::string& of = devs[rng() % devs.size()];
        const std::string& ch = channels[rng() % channels.size()];
        // Mostly now, sometimes long ago: runs of several records and runs of one.
        const std::int64_t at = rng() % 4 == 0 ? 1'000 + rng() % 100'000 : 50'000'000 + n;
        const int qos = static_cast<int>(rng() % 3);
        const std::string id = oid(50'000 + n / 7, n);
        const std::int64_t seq = writer.insert(qrec(id, of, ch, at, qos));
        const bool selected = ch != "a/c" || of == devs[1];
        if (qos > 0 && of != stranger && selected) expected.emplace_back(seq, id);
      }
    });
  };
  std::vector<std::pair<std::int64_t, std::string>> got;
  std::int64_t position = 0;
  auto chunk = [&](std::int64_t upto) {
    auto q = session(account, {"+/data/temp", "+/data/a/b", devs[1] + "/data/#", "+/data/n/+"},
                     position);
    q.upto_seq = upto;
    q.limit = 5;
    const auto rs = cursor ? reader.replay(q, *cursor) : reader.replay(q);
    for (const auto& r : rs) {
      EXPECT_GT(r.seq, position);
      EXPECT_LE(r.seq, upto);
      got.emplace_back(r.seq, r.id);
      position = r.seq;
    }
    return rs.size();
  };
  for (int round = 0; round < 60; ++round) {
    if (round % 10 == 5) channels.push_back("n/" + std::to_string(round));  // new series
    if (round == 30) devs.push_back(ids.add_prototype(account, "new").value().device.id);
    insert_batch();
    chunk(writer.last_seq());
    insert_batch();  // committed after the chunk's upto: for the next chunks
  }
  while (chunk(writer.last_seq()) > 0) {
  }
  EXPECT_GT(expected.size(), 200u);
  EXPECT_EQ(got, expected);
  EXPECT_EQ(reader.replay_count(session(account, {"#"}, position)), 0);
}

INSTANTIATE_TEST_SUITE_P(Epochs, ReplayChunks,
                         ::testing::Combine(::testing::Values(4, DataStore::kEpochRecords),
                                            ::testing::Values(-1, 16384, 7)));

// A cursor follows its session: another account or other filters start afresh.
TEST_F(ReplayTest, ACursorFollowsItsSession) {
  insert_all({qrec(oid(1, 0), dev1_, "t", 1'000, 1), qrec(oid(1, 1), dev2_, "u", 1'000, 1),
              qrec(oid(1, 2), other_, "t", 1'000, 1)});
  ReplayCursor cursor;
  EXPECT_EQ(ids_of(data_.replay(session(account_, {"#"}), cursor)), (V{oid(1, 0), oid(1, 1)}));
  EXPECT_EQ(ids_of(data_.replay(session(account_, {"+/data/u"}), cursor)), V{oid(1, 1)});
  EXPECT_EQ(ids_of(data_.replay(session(other_account_, {"#"}), cursor)), V{oid(1, 2)});
  // Records deleted since they were read ahead are skipped.
  auto q = session(account_, {"#"});
  q.limit = 1;
  EXPECT_EQ(ids_of(data_.replay(q, cursor)), V{oid(1, 0)});
  EXPECT_EQ(data_.delete_of(dev2_, 10), 1u);
  q.after_seq = 1;
  EXPECT_EQ(ids_of(data_.replay(q, cursor)), V{});
}

}  // namespace
}  // namespace plugmq::store
