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

// ---- records ----

TEST_F(DataTest, InsertAndQueryRoundTrip) {
  const Record a = rec(oid(100, 1), dev1_, "room/temp", 1'700'000'000'123,
                       R"({"v":21.5,"unit":"C"})", 1'700'000'999'000);
  const Record b = rec(oid(100, 2), dev1_, "room/temp", 1'700'000'000'124, R"("text")");
  insert_all({a, b});
  EXPECT_EQ(data_.count(), 2);

  const auto got = data_.query(mask("room/temp"));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, b.id);
  EXPECT_EQ(got[0].of, b.of);
  EXPECT_EQ(got[0].channel, b.channel);
  EXPECT_EQ(got[0].data_json, b.data_json);
  EXPECT_EQ(got[0].at, b.at);
  EXPECT_FALSE(got[0].expire_at);
  EXPECT_EQ(got[1].id, a.id);
  EXPECT_EQ(got[1].of, a.of);
  EXPECT_EQ(got[1].channel, a.channel);
  EXPECT_EQ(got[1].data_json, a.data_json);
  EXPECT_EQ(got[1].at, a.at);
  EXPECT_EQ(got[1].expire_at, a.expire_at);
}

TEST_F(DataTest, NewestFirstByAtThenId) {
  // Insertion order, id order and `at` order all differ; equal `at` ties by id.
  insert_all({
      rec(oid(5, 1), dev1_, "c", 30),
      rec(oid(1, 1), dev1_, "c", 50),
      rec(oid(3, 1), dev1_, "c", 40),
      rec(oid(2, 1), dev1_, "c", 40),
      rec(oid(4, 1), dev1_, "c", 40),
  });
  const std::vector<std::string> want = {oid(1, 1), oid(4, 1), oid(3, 1), oid(2, 1), oid(5, 1)};
  EXPECT_EQ(ids_of(data_.query(mask("c"))), want);
  auto with_of = mask("c");
  with_of.of = {dev1_};
  EXPECT_EQ(ids_of(data_.query(with_of)), want);
  EXPECT_EQ(ids_of(data_.query(mask("#"))), want);
}

TEST_F(DataTest, EmptyStoreAndNoMatch) {
  EXPECT_TRUE(data_.query(mask("#")).empty());
  insert_all({rec(oid(1, 1), dev1_, "c", 1)});
  EXPECT_TRUE(data_.query(mask("d")).empty());
  EXPECT_TRUE(data_.query(mask("c/+")).empty());
}

TEST_F(DataTest, InvalidMaskIsRefused) {
  for (const char* bad : {"", "a//b", "a/#/b", "a+", "#a", "/a"}) {
    try {
      data_.query(mask(bad));
      FAIL() << "no Error for '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Error::Code::kInvalid) << bad;
    }
  }
}

class MaskTest : public DataTest {
 protected:
  void SetUp() override {
    DataTest::SetUp();
    // One record per channel, each newer than the one before, so results list in reverse.
    std::uint32_t n = 0;
    for (const char* ch : kChannels) {
      ++n;
      insert_all({rec(oid(n, 0), dev1_, ch, n)});
    }
  }
  // Channels of dev1's records matching `m`, newest first; with and without `of` they agree.
  std::vector<std::string> match(const std::string& m) {
    auto q = mask(m);
    const auto any = channels_of(data_.query(q));
    q.of = {dev1_};
    EXPECT_EQ(channels_of(data_.query(q)), any) << m;
    return any;
  }
  static constexpr const char* kChannels[] = {"a",   "a/b",  "a/b/c", "a/x/c",   "a/b/d",
                                              "b/c", "ab/c", "a-b",   "a/b/c/d", "z"};
};

TEST_F(MaskTest, ExactChannel) {
  EXPECT_EQ(match("a/b"), V{"a/b"});
  EXPECT_EQ(match("a"), V{"a"});
  EXPECT_EQ(match("a/b/c"), V{"a/b/c"});
  EXPECT_EQ(match("nope"), V{});
}

TEST_F(MaskTest, Plus) {
  EXPECT_EQ(match("+"), (V{"z", "a-b", "a"}));
  EXPECT_EQ(match("a/+"), V{"a/b"});
  EXPECT_EQ(match("a/+/c"), (V{"a/x/c", "a/b/c"}));
  EXPECT_EQ(match("+/c"), (V{"ab/c", "b/c"}));
  EXPECT_EQ(match("+/+/c"), (V{"a/x/c", "a/b/c"}));
  EXPECT_EQ(match("+/+/+/+"), V{"a/b/c/d"});
  EXPECT_EQ(match("a/b/+"), (V{"a/b/d", "a/b/c"}));
}

TEST_F(MaskTest, Hash) {
  EXPECT_EQ(data_.query(mask("#")).size(), std::size(kChannels));
  // '#' also matches the parent level: "a/#" matches "a".
  EXPECT_EQ(match("a/#"), (V{"a/b/c/d", "a/b/d", "a/x/c", "a/b/c", "a/b", "a"}));
  EXPECT_EQ(match("a/b/#"), (V{"a/b/c/d", "a/b/d", "a/b/c", "a/b"}));
  EXPECT_EQ(match("a/b/c/d/#"), V{"a/b/c/d"});
  EXPECT_EQ(match("z/#"), V{"z"});
  EXPECT_EQ(match("+/#"), channels_of(data_.query(mask("#"))));  // every channel
  EXPECT_EQ(match("+/x/#"), V{"a/x/c"});
  EXPECT_EQ(match("q/#"), V{});
}

TEST_F(DataTest, OfFilter) {
  insert_all({
      rec(oid(1, 0), dev1_, "t", 10),
      rec(oid(2, 0), dev2_, "t", 20),
      rec(oid(3, 0), dev1_, "t", 30),
      rec(oid(4, 0), dev2_, "u", 40),
  });
  auto q = mask("t");
  q.of = {dev1_};
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(3, 0), oid(1, 0)}));
  q.of = {dev2_, dev1_};
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(3, 0), oid(2, 0), oid(1, 0)}));
  // Repeats and upper case do not change the result.
  std::string upper = dev2_;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  q.of = {dev2_, upper, dev1_, dev1_};
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(3, 0), oid(2, 0), oid(1, 0)}));
  q.mask = "#";
  q.of = {dev2_};
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(4, 0), oid(2, 0)}));
  q.of = {"dev-000000000000000000000000"};
  EXPECT_TRUE(data_.query(q).empty());
}

TEST_F(DataTest, TimeFilters) {
  std::vector<Record> rs;
  for (std::uint32_t i = 1; i <= 5; ++i) rs.push_back(rec(oid(i, 0), dev1_, "c", i * 10));
  rs.push_back(rec(oid(6, 0), dev1_, "c", 30));  // a second record at 30
  insert_all(rs);
  auto q = mask("c");
  q.before = 30;
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(2, 0), oid(1, 0)}));
  q = mask("c");
  q.after = 30;
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(5, 0), oid(4, 0)}));
  q = mask("c");
  q.at = 30;
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(6, 0), oid(3, 0)}));
  q = mask("c");
  q.after = 10;
  q.before = 50;
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(4, 0), oid(6, 0), oid(3, 0), oid(2, 0)}));
  q.at = 20;
  EXPECT_EQ(ids_of(data_.query(q)), V{oid(2, 0)});
  q.at = 10;  // excluded by after
  EXPECT_TRUE(data_.query(q).empty());
  q = mask("c");
  q.after = 40;
  q.before = 40;
  EXPECT_TRUE(data_.query(q).empty());
  // Extreme bounds do not overflow.
  q = mask("c");
  q.before = std::numeric_limits<std::int64_t>::min();
  EXPECT_TRUE(data_.query(q).empty());
  q = mask("c");
  q.after = std::numeric_limits<std::int64_t>::max();
  EXPECT_TRUE(data_.query(q).empty());
  q = mask("c");
  q.before = std::numeric_limits<std::int64_t>::max();
  q.after = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(data_.query(q).size(), 6u);
}

TEST_F(DataTest, IdBounds) {
  // `at` ties at 20: the order is (at, id).
  insert_all({
      rec(oid(1, 0), dev1_, "c", 10), rec(oid(2, 0), dev1_, "c", 20),
      rec(oid(3, 0), dev1_, "c", 20), rec(oid(4, 0), dev1_, "c", 20),
      rec(oid(5, 0), dev1_, "c", 30),
      rec(oid(9, 0), dev2_, "d", 20),  // elsewhere, but a valid reference
  });
  auto q = mask("c");
  q.before_id = oid(3, 0);
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(2, 0), oid(1, 0)}));
  q = mask("c");
  q.after_id = oid(3, 0);
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(5, 0), oid(4, 0)}));
  q = mask("c");
  q.after_id = oid(1, 0);
  q.before_id = oid(5, 0);
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(4, 0), oid(3, 0), oid(2, 0)}));
  // Newest first paging: each page continues before the last record seen.
  q = mask("c");
  q.limit = 2;
  auto page = data_.query(q);
  EXPECT_EQ(ids_of(page), (V{oid(5, 0), oid(4, 0)}));
  q.before_id = page.back().id;
  page = data_.query(q);
  EXPECT_EQ(ids_of(page), (V{oid(3, 0), oid(2, 0)}));
  q.before_id = page.back().id;
  EXPECT_EQ(ids_of(data_.query(q)), V{oid(1, 0)});
  // A reference on another channel places by its (at, id) all the same.
  q = mask("c");
  q.before_id = oid(9, 0);  // (20, oid 9): after every record at 20
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(4, 0), oid(3, 0), oid(2, 0), oid(1, 0)}));
  q = mask("c");
  q.after_id = "0000000300000000000000A0";  // unknown id: placed by its second (3 s = 3000 ms)
  EXPECT_TRUE(data_.query(q).empty());
  q = mask("c");
  q.before_id = "000000030000000000000fff";  // unknown: at < 3000 ms, i.e. everything here
  EXPECT_EQ(data_.query(q).size(), 5u);
  q = mask("c");
  q.after_id = "000000000000000000000fff";  // unknown, second 0: at > 999
  EXPECT_TRUE(data_.query(q).empty());
  // Malformed references are refused.
  q = mask("c");
  q.before_id = "xyz";
  EXPECT_THROW(data_.query(q), Error);
}

TEST_F(DataTest, OffsetAndLimit) {
  std::vector<Record> rs;
  for (std::uint32_t i = 1; i <= 10; ++i) {
    rs.push_back(rec(oid(i, 0), i % 2 ? dev1_ : dev2_, i % 3 ? "s/a" : "s/b", i));
  }
  insert_all(rs);
  for (const char* m : {"s/a", "s/+", "#"}) {
    for (bool with_of : {false, true}) {
      auto q = mask(m);
      if (with_of) q.of = {dev1_, dev2_};
      const auto all = ids_of(data_.query(q));
      for (std::int64_t offset : {0, 1, 3, 9, 10, 20}) {
        for (std::int64_t limit : {0, 1, 2, 5, 100}) {
          q.offset = offset;
          q.limit = limit;
          V want;
          for (std::int64_t i = offset; i < offset + limit && i < std::ssize(all); ++i) {
            want.push_back(all[i]);
          }
          EXPECT_EQ(ids_of(data_.query(q)), want) << m << " " << offset << " " << limit;
        }
      }
    }
  }
  auto q = mask("#");
  q.limit = 3;
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(10, 0), oid(9, 0), oid(8, 0)}));
  q.limit = std::numeric_limits<std::int64_t>::max();
  q.offset = std::numeric_limits<std::int64_t>::max();
  EXPECT_TRUE(data_.query(q).empty());
  q.offset = -5;  // treated as 0
  EXPECT_EQ(data_.query(q).size(), 10u);
}

// Random records, random queries: the result is what a plain filter-and-sort gives.
// Random records and random queries, each checked against a plain filter-and-sort of the
// records. `publishers` devices; queries name up to `max_of` of them.
// The records go in over `transactions` transactions: each makes runs of its own (migration
// 9), whose ranges overlap those of the others when `at` values come out of order.
void check_against_brute_force(DataStore& data, Db& db, const std::vector<std::string>& devs,
                               unsigned max_of, int records, int rounds, unsigned seed,
                               int transactions = 1) {
  const std::vector<std::string> channels = {"a", "a/b", "a/b/c", "a/c", "b", "b/a/c", "c/d"};
  std::mt19937 rng(seed);
  std::vector<Record> rs;
  for (int i = 0; i < records; ++i) {
    // Half the records have an `at` in their OID's second (found by id through that second),
    // the others one from elsewhere (found through data_at); 40 values of `at` per group, so
    // that many records share one.
    const std::uint32_t second = rng() % 50;
    const std::int64_t at = rng() % 2 ? std::int64_t{second} * 1000 + rng() % 40 : rng() % 40;
    rs.push_back(rec(oid(second, static_cast<std::uint32_t>(i % 0x1000000)),
                     devs[rng() % devs.size()], channels[rng() % channels.size()], at));
  }
  for (int t = 0; t < transactions; ++t) {
    db.transaction([&] {
      for (std::size_t i = t; i < rs.size(); i += static_cast<std::size_t>(transactions)) {
        data.insert(rs[i]);
      }
    });
  }
  auto newer = [](const Record& x, const Record& y) {
    return x.at != y.at ? x.at > y.at : x.id > y.id;
  };
  auto sorted = rs;
  std::sort(sorted.begin(), sorted.end(), newer);

  const std::vector<std::string> masks = {"#", "a/#", "+", "a/+", "+/+/c", "a/b", "b/#", "c/+"};
  for (int round = 0; round < rounds; ++round) {
    DataQuery q;
    q.mask = masks[rng() % masks.size()];
    const auto n_of = rng() % (max_of + 1);
    for (unsigned k = 0; k < n_of; ++k) q.of.push_back(devs[rng() % devs.size()]);
    // Times near those of the records.
    auto some_at = [&] {
      return rs[rng() % rs.size()].at + static_cast<std::int64_t>(rng() % 3) - 1;
    };
    if (rng() % 3 == 0) q.before = some_at();
    if (rng() % 3 == 0) q.after = some_at();
    if (rng() % 6 == 0) q.at = some_at();
    if (rng() % 4 == 0) q.before_id = rs[rng() % rs.size()].id;
    if (rng() % 4 == 0) q.after_id = rs[rng() % rs.size()].id;
    q.offset = rng() % 4 == 0 ? rng() % 30 : 0;
    q.limit = 1 + rng() % 60;

    std::optional<Record> before_ref, after_ref;
    for (const auto& r : rs) {
      if (q.before_id && r.id == *q.before_id) before_ref = r;
      if (q.after_id && r.id == *q.after_id) after_ref = r;
    }
    V want;
    std::int64_t skipped = 0;
    for (const auto& r : sorted) {
      if (!q.of.empty() && std::find(q.of.begin(), q.of.end(), r.of) == q.of.end()) continue;
      // MQTT matching written out plainly, independent of the store's.
      auto matches = [](const std::string& m, const std::string& ch) {
        std::vector<std::string> ml, cl;
        auto split = [](const std::string& s, std::vector<std::string>& out) {
          std::size_t p = 0;
          for (;;) {
            auto e = s.find('/', p);
            out.push_back(s.substr(p, e == std::string::npos ? e : e - p));
            if (e == std::string::npos) break;
            p = e + 1;
          }
        };
        split(m, ml);
        split(ch, cl);
        for (std::size_t i = 0; i < ml.size(); ++i) {
          if (ml[i] == "#") return true;
          if (i >= cl.size()) return false;
          if (ml[i] != "+" && ml[i] != cl[i]) return false;
        }
        return ml.size() == cl.size();
      };
      if (!matches(q.mask, r.channel)) continue;
      if (q.before && !(r.at < *q.before)) continue;
      if (q.after && !(r.at > *q.after)) continue;
      if (q.at && r.at != *q.at) continue;
      if (before_ref && !newer(*before_ref, r)) continue;
      if (after_ref && !newer(r, *after_ref)) continue;
      if (skipped++ < q.offset) continue;
      if (std::ssize(want) < q.limit) want.push_back(r.id);
    }
    ASSERT_EQ(ids_of(data.query(q)), want)
        << "round " << round << " mask " << q.mask << " publishers " << q.of.size();
  }
}

TEST_F(DataTest, AgreesWithBruteForce) {
  check_against_brute_force(data_, db_, {dev1_, dev2_, "dev-0000000000000000000000aa"}, 2, 600, 300,
                            42);
}

TEST_F(DataTest, AgreesWithBruteForceOverManyTransactions) {
  check_against_brute_force(data_, db_, {dev1_, dev2_, "dev-0000000000000000000000aa"}, 2, 600, 300,
                            43, 12);
}

TEST_F(DataTest, AgreesWithBruteForceWithManyPublishers) {
  // 120 publishers, queries naming up to 100 of them: reads of many series on a channel first
  // scan the channel and, when that costs too much, probe the series for the rest of the
  // window; both ways, and their mix, are taken here.
  check_against_brute_force(data_, db_, plug_ids(120, 0x1000), 100, 3000, 400, 7);
}

TEST_F(DataTest, AgreesWithBruteForceWithAFleetListed) {
  // 300 publishers, queries naming up to 300 of them (as an account's read names all its
  // devices): from 64 on, their series are found among each channel's, unless the channels
  // under the mask hold more than 4 series per publisher named; both ways are taken here.
  check_against_brute_force(data_, db_, plug_ids(300, 0x3000), 300, 3000, 200, 11);
}

// ---- epochs ----

// The same random checks with a few records per epoch: records spread over a hundred epochs
// whose `at` bounds overlap, so reads probe and prune many of them.
const std::vector<std::string> kThreeDevices = {
    "dev-0000000000000000000000a1", "dev-0000000000000000000000a2", "dev-0000000000000000000000a3"};

TEST(DataEpochs, AgreesWithBruteForce) {
  Db db = Db::open_memory();
  DataStore data(db, 7);
  check_against_brute_force(data, db, kThreeDevices, 3, 700, 300, 5);
  auto epochs = db.prepare("SELECT count(*) FROM epochs");
  ASSERT_TRUE(epochs.step());
  EXPECT_GE(epochs.int64(0), 100);
}

TEST(DataEpochs, AgreesWithBruteForceOverManyTransactions) {
  Db db = Db::open_memory();
  DataStore data(db, 7);
  check_against_brute_force(data, db, kThreeDevices, 3, 700, 300, 6, 25);
}

TEST(DataEpochs, AgreesWithBruteForceWithManyPublishers) {
  Db db = Db::open_memory();
  DataStore data(db, 40);
  check_against_brute_force(data, db, plug_ids(60, 0x2000), 50, 2000, 300, 9);
}

// ---- by id, last value, channels ----

// A record whose `at` is in its OID's second is found by id through that second; one whose
// `at` is elsewhere through data_at. Both bound a read and are deleted by id.
TEST_F(DataTest, FoundByIdInAndOutOfTheirSecond) {
  insert_all({
      rec(oid(5, 1), dev1_, "c", 5'000),  // in its second
      rec(oid(5, 2), dev1_, "c", 5'999),  // in its second, at its end
      rec(oid(5, 3), dev1_, "c", 4'999),  // just before it: data_at
      rec(oid(5, 4), dev1_, "c", 6'000),  // just after it: data_at
      rec(oid(5, 5), dev1_, "c", -1),     // negative: data_at
  });
  auto count_moved = [&] {
    auto s = db_.prepare("SELECT count(*) FROM data_at");
    s.step();
    return s.int64(0);
  };
  EXPECT_EQ(count_moved(), 3);
  auto q = mask("c");
  q.before_id = oid(5, 2);
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(5, 1), oid(5, 3), oid(5, 5)}));
  q.before_id = oid(5, 4);
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(5, 2), oid(5, 1), oid(5, 3), oid(5, 5)}));
  q.before_id.reset();
  q.after_id = oid(5, 3);
  EXPECT_EQ(ids_of(data_.query(q)), (V{oid(5, 4), oid(5, 2), oid(5, 1)}));
  EXPECT_EQ(data_.delete_ids({oid(5, 2), oid(5, 4), oid(5, 5)}, {}, "#").value(), 3u);
  EXPECT_EQ(ids_of(data_.query(mask("#"))), (V{oid(5, 1), oid(5, 3)}));
  EXPECT_EQ(count_moved(), 1);  // data_at entries go with their records
  EXPECT_EQ(data_.delete_of(dev1_, 10), 2u);
  EXPECT_EQ(count_moved(), 0);
}

TEST_F(DataTest, LastValue) {
  EXPECT_FALSE(data_.last_value(dev1_, "t"));
  insert_all({
      rec(oid(1, 0), dev1_, "t", 10, "1"),
      rec(oid(2, 0), dev1_, "t", 30, "3"),
      rec(oid(3, 0), dev1_, "t", 20, "2"),  // newer id, older at
      rec(oid(4, 0), dev2_, "t", 99, "other device"),
      rec(oid(5, 0), dev1_, "t/x", 99, "other channel"),
  });
  EXPECT_EQ(data_.last_value(dev1_, "t"), "3");
  EXPECT_FALSE(data_.last_value(dev1_, "u"));
}

TEST_F(DataTest, Channels) {
  insert_all({
      rec(oid(1, 0), dev1_, "room/temp", 10),
      rec(oid(2, 0), dev1_, "room/hum", 20),
      rec(oid(3, 0), dev2_, "room/temp", 30),
      rec(oid(4, 0), dev2_, "door", 40),
      rec(oid(5, 0), dev2_, "room/a/b", 50),
  });
  EXPECT_EQ(data_.channels(mask("#")), (V{"door", "room/a/b", "room/hum", "room/temp"}));
  EXPECT_EQ(data_.channels(mask("room/+")), (V{"room/hum", "room/temp"}));
  EXPECT_EQ(data_.channels(mask("room/temp")), V{"room/temp"});
  EXPECT_TRUE(data_.channels(mask("nothing")).empty());
  auto q = mask("#");
  q.of = {dev1_};
  EXPECT_EQ(data_.channels(q), (V{"room/hum", "room/temp"}));
  q.of = {dev2_};
  q.after = 30;  // only records newer than 30
  EXPECT_EQ(data_.channels(q), (V{"door", "room/a/b"}));
  q = mask("#");
  q.before = 30;
  EXPECT_EQ(data_.channels(q), (V{"room/hum", "room/temp"}));
  q = mask("#");
  q.offset = 1;
  q.limit = 2;
  EXPECT_EQ(data_.channels(q), (V{"room/a/b", "room/hum"}));
  // A series whose records are gone has no data any more.
  data_.delete_of(dev1_, 100);
  q = mask("room/hum");
  EXPECT_TRUE(data_.channels(q).empty());
  EXPECT_THROW(data_.channels(mask("a/#/b")), Error);
}

}  // namespace
}  // namespace plugmq::store
