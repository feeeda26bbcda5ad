#include "plugmq/store/data.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <random>
#include <set>

#include "../../../src/store/schema.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/store/identity.hpp"
#include "temp_dir.hpp"

namespace plugmq::store {
namespace {

using platform::Record;
using V = std::vector<std::string>;

// The OID with creation second `second` and counter `n`: ids sort by (second, n).
std::string oid(std::uint32_t second, std::uint32_t n) {
  char buf[25];
  std::snprintf(buf, sizeof buf, "%08x0000000000%06x", second, n);
  return buf;
}

Record rec(std::string id, std::string of, std::string channel, std::int64_t at,
           std::string data = "1", std::optional<std::int64_t> expire_at = std::nullopt) {
  return Record{std::move(id), std::move(of), std::move(channel), std::move(data), at, expire_at};
}

std::vector<std::string> ids_of(const std::vector<Record>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.id);
  return out;
}

std::vector<std::string> channels_of(const std::vector<Record>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.channel);
  return out;
}

DataQuery mask(std::string m) {
  DataQuery q;
  q.mask = std::move(m);
  return q;
}

class DataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto account = ids_.add_account("a@b.c", "secret1");
    dev1_ = ids_.add_prototype(account.id, "one").device.id;
    dev2_ = ids_.add_prototype(account.id, "two").device.id;
  }

  void insert_all(const std::vector<Record>& rs) {
    db_.transaction([&] {
      for (const auto& r : rs) data_.insert(r);
    });
  }

  Db db_ = Db::open_memory();
  Identity ids_{db_};
  DataStore data_{db_};
  std::string dev1_, dev2_;
};

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

// `n` distinct Plug-IDs from `first`.
std::vector<std::string> plug_ids(int n, int first) {
  std::vector<std::string> devs;
  for (int i = 0; i < n; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "dev-%024x", first + i);
    devs.push_back(buf);
  }
  return devs;
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

// ---- epochs (migration 5) ----

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

using testing::TempDir;

// A database file at schema `version` (the first migrations only), with `rows` (SQL) in it.
void write_old_database(const std::filesystem::path& file, std::size_t version,
                        const std::string& rows) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(file.string().c_str(), &h), SQLITE_OK);
  std::string sql = "BEGIN;";
  for (std::size_t v = 0; v < version; ++v) {
    for (auto stmt : detail::migrations()[v]) {
      sql += stmt;
      sql += ";";
    }
  }
  sql += rows;
  sql += "PRAGMA user_version = " + std::to_string(version) + "; COMMIT;";
  char* err = nullptr;
  const int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  const std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(h);
  ASSERT_EQ(rc, SQLITE_OK) << msg;
}

// A database written before migration 5: its records become epoch 0, read together with the
// ones written after.
TEST(DataEpochs, Version4DatabaseIsMigrated) {
  const TempDir dir("plugmq-v4-");
  const auto file = dir.path() / "plugmq.db";
  const std::string dev = "dev-0000000000000000000000d1";
  {
    std::string sql = "INSERT INTO series (of, channel) VALUES ('" + dev + "', 't');";
    for (int i = 0; i < 5; ++i) {
      sql += "INSERT INTO data (id, sid, of, channel, at, expire_at, data) VALUES (x'" + oid(1, i) +
             "', 1, '" + dev + "', 't', " + std::to_string(100 + i) + ", NULL, '" +
             std::to_string(i) + "');";
    }
    ASSERT_NO_FATAL_FAILURE(write_old_database(file, 4, sql));
  }
  {
    Db db = Db::open(file);
    EXPECT_EQ(db.user_version(), 9);
    DataStore data(db, 2);
    db.transaction([&] {
      for (int i = 0; i < 5; ++i) {
        data.insert(rec(oid(2, i), dev, "t", 50 + 100 * i, std::to_string(10 + i)));
      }
    });
    auto q = mask("t");
    q.of = {dev};
    EXPECT_EQ(ids_of(data.query(q)), (V{oid(2, 4), oid(2, 3), oid(2, 2), oid(2, 1), oid(1, 4),
                                        oid(1, 3), oid(1, 2), oid(1, 1), oid(1, 0), oid(2, 0)}));
    q.before = 104;
    q.limit = 2;
    EXPECT_EQ(ids_of(data.query(q)), (V{oid(1, 3), oid(1, 2)}));
    EXPECT_EQ(data.last_value(dev, "t"), "14");
    EXPECT_EQ(data.delete_of(dev, 100), 10u);
    EXPECT_EQ(data.count(), 0);
  }
}

// A database written before migration 6: the table is rebuilt in (at, id) order, records whose
// `at` is not in their OID's second get a data_at entry, epochs get their expiry bounds, and
// everything reads, sweeps and deletes as if written now.
TEST(DataEpochs, Version5DatabaseIsMigrated) {
  const TempDir dir("plugmq-v5-");
  const auto file = dir.path() / "plugmq.db";
  const std::string dev = "dev-0000000000000000000000d5";
  {
    std::string sql =
        "INSERT INTO series (of, channel, first_ep, last_ep) VALUES ('" + dev + "', 't', 1, 2);";
    sql += "INSERT INTO epochs (ep, min_at, max_at) VALUES (1, 0, 100000000), (2, 0, 100000000);";
    // Seconds 0x12345 (74,565): `at` in it for i = 0, 1, 2; elsewhere for 3, 4. Expiring at
    // 1000 + i, except record 2.
    for (int i = 0; i < 5; ++i) {
      const std::int64_t at = i < 3 ? 74'565'000 + i * 400 : 100 + i;
      const std::string exp = i == 2 ? "NULL" : std::to_string(1000 + i);
      sql += "INSERT INTO data (id, sid, of, channel, at, expire_at, data, ep) VALUES (x'" +
             oid(0x12345, i) + "', 1, '" + dev + "', 't', " + std::to_string(at) + ", " + exp +
             ", '" + std::to_string(i) + "', " + std::to_string(1 + i % 2) + ");";
    }
    ASSERT_NO_FATAL_FAILURE(write_old_database(file, 5, sql));
  }
  {
    Db db = Db::open(file);
    EXPECT_EQ(db.user_version(), 9);
    auto moved = db.prepare("SELECT count(*) FROM data_at");
    ASSERT_TRUE(moved.step());
    EXPECT_EQ(moved.int64(0), 2);
    auto bounds = db.prepare("SELECT ep, min_exp FROM epochs ORDER BY ep");
    std::vector<std::pair<std::int64_t, std::int64_t>> got;
    while (bounds.step()) got.emplace_back(bounds.int64(0), bounds.int64(1));
    // Epoch 0 (migration 5's, empty) has none; 1 holds records 0, 2, 4; 2 holds 1, 3.
    EXPECT_EQ(got,
              (std::vector<std::pair<std::int64_t, std::int64_t>>{{0, 0}, {1, 1000}, {2, 1001}}));

    DataStore data(db);
    auto q = mask("t");
    EXPECT_EQ(ids_of(data.query(q)), (V{oid(0x12345, 2), oid(0x12345, 1), oid(0x12345, 0),
                                        oid(0x12345, 4), oid(0x12345, 3)}));
    q.before_id = oid(0x12345, 1);  // found through its second
    EXPECT_EQ(ids_of(data.query(q)), (V{oid(0x12345, 0), oid(0x12345, 4), oid(0x12345, 3)}));
    q.before_id = oid(0x12345, 4);  // found through data_at
    EXPECT_EQ(ids_of(data.query(q)), V{oid(0x12345, 3)});
    EXPECT_EQ(data.last_value(dev, "t"), "2");
    EXPECT_EQ(data.delete_expired(1003, 100), 3u);
    EXPECT_EQ(ids_of(data.query(mask("#"))), (V{oid(0x12345, 2), oid(0x12345, 4)}));
    EXPECT_EQ(data.delete_expired(1004, 100), 1u);
    EXPECT_EQ(ids_of(data.query(mask("#"))), V{oid(0x12345, 2)});
  }
}

// A database written before migration 7: channels are numbered, the table is rebuilt in
// (channel, at, id) order, data_at entries get their record's channel, and everything reads,
// sweeps and deletes as if written now, also next to records written after.
TEST(DataEpochs, Version6DatabaseIsMigrated) {
  const TempDir dir("plugmq-v6-");
  const auto file = dir.path() / "plugmq.db";
  const std::string dev = "dev-0000000000000000000000d6";
  const std::string other = "dev-0000000000000000000000e6";
  {
    std::string sql = "INSERT INTO series (of, channel, first_ep, last_ep) VALUES ('" + dev +
                      "', 'b/t', 1, 1), ('" + other + "', 'a', 1, 1), ('" + dev + "', 'a', 1, 1);";
    sql += "INSERT INTO epochs (ep, min_at, max_at, min_exp) VALUES (1, 0, 100000000, 1000);";
    // Second 0x12345 (74,565): `at` in it for even i; elsewhere (data_at) for odd i. Series
    // 1 + i % 3. Expiring at 1000 + i, except record 4.
    for (int i = 0; i < 6; ++i) {
      const std::int64_t at = i % 2 == 0 ? 74'565'000 + i * 100 : 100 + i;
      const std::string exp = i == 4 ? "NULL" : std::to_string(1000 + i);
      sql += "INSERT INTO data (at, id, sid, ep, expire_at, data) VALUES (" + std::to_string(at) +
             ", x'" + oid(0x12345, i) + "', " + std::to_string(1 + i % 3) + ", 1, " + exp + ", '" +
             std::to_string(i) + "');";
      if (i % 2 == 1) {
        sql += "INSERT INTO data_at (id, at) VALUES (x'" + oid(0x12345, i) + "', " +
               std::to_string(at) + ");";
      }
    }
    ASSERT_NO_FATAL_FAILURE(write_old_database(file, 6, sql));
  }
  {
    Db db = Db::open(file);
    EXPECT_EQ(db.user_version(), 9);
    auto channels = db.prepare("SELECT cid, channel FROM channels ORDER BY cid");
    std::vector<std::pair<std::int64_t, std::string>> got_channels;
    while (channels.step()) got_channels.emplace_back(channels.int64(0), channels.text(1));
    EXPECT_EQ(got_channels,
              (std::vector<std::pair<std::int64_t, std::string>>{{1, "a"}, {2, "b/t"}}));
    auto placed = db.prepare("SELECT hex(id), cid, at FROM data_at ORDER BY id");
    std::vector<std::tuple<std::string, std::int64_t, std::int64_t>> got_placed;
    while (placed.step()) got_placed.emplace_back(placed.text(0), placed.int64(1), placed.int64(2));
    // Records 1 (series 2, channel a), 3 (series 1, b/t), 5 (series 3, a).
    EXPECT_EQ(
        got_placed,
        (std::vector<std::tuple<std::string, std::int64_t, std::int64_t>>{
            {oid(0x12345, 1), 1, 101}, {oid(0x12345, 3), 2, 103}, {oid(0x12345, 5), 1, 105}}));

    DataStore data(db, 2);
    db.transaction([&] { data.insert(rec(oid(0x12346, 0), dev, "a", 74'566'000, "new")); });
    auto q = mask("#");
    EXPECT_EQ(ids_of(data.query(q)),
              (V{oid(0x12346, 0), oid(0x12345, 4), oid(0x12345, 2), oid(0x12345, 0),
                 oid(0x12345, 5), oid(0x12345, 3), oid(0x12345, 1)}));
    q.mask = "a";
    EXPECT_EQ(ids_of(data.query(q)), (V{oid(0x12346, 0), oid(0x12345, 4), oid(0x12345, 2),
                                        oid(0x12345, 5), oid(0x12345, 1)}));
    q.of = {dev};
    EXPECT_EQ(ids_of(data.query(q)), (V{oid(0x12346, 0), oid(0x12345, 2), oid(0x12345, 5)}));
    q.of.clear();
    q.after_id = oid(0x12345, 0);  // in its second, on another channel (b/t)
    EXPECT_EQ(ids_of(data.query(q)), (V{oid(0x12346, 0), oid(0x12345, 4), oid(0x12345, 2)}));
    q.after_id.reset();
    q.before_id = oid(0x12345, 0);
    EXPECT_EQ(ids_of(data.query(q)), (V{oid(0x12345, 5), oid(0x12345, 1)}));
    q.before_id = oid(0x12345, 3);  // through data_at, on another channel
    EXPECT_EQ(ids_of(data.query(q)), V{oid(0x12345, 1)});
    EXPECT_EQ(data.channels(mask("#")), (std::vector<std::string>{"a", "b/t"}));
    EXPECT_EQ(data.last_value(dev, "b/t"), "0");  // at 74,565,000 (record 3 is at 103)
    // By id, only under the mask.
    EXPECT_EQ(data.delete_ids({oid(0x12345, 0), oid(0x12345, 3)}, {}, "a"), 0u);
    EXPECT_EQ(data.delete_ids({oid(0x12345, 0), oid(0x12345, 3)}, {}, "b/+"), 2u);
    EXPECT_EQ(data.delete_expired(1003, 100), 2u);  // records 1 and 2 (5 at 1005, 4 never)
    EXPECT_EQ(ids_of(data.query(mask("#"))),
              (V{oid(0x12346, 0), oid(0x12345, 4), oid(0x12345, 5)}));
    EXPECT_EQ(data.delete_of(dev, 100), 2u);
    EXPECT_EQ(ids_of(data.query(mask("#"))), V{oid(0x12345, 4)});
    auto left = db.prepare("SELECT count(*) FROM data_at");
    ASSERT_TRUE(left.step());
    EXPECT_EQ(left.int64(0), 0);
  }
}

// ---- runs (migration 9) ----

std::int64_t count_rows(Db& db, const std::string& sql) {
  auto s = db.prepare(sql);
  EXPECT_TRUE(s.step());
  return s.int64(0);
}

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
  EXPECT_EQ(data_.delete_ids({oid(1, 3)}, {}, "#"), 1u);
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

// A database written before migration 9: every record gets a run of its own, and reads,
// sweeps and deletes by publisher go through them.
TEST(DataRuns, Version8DatabaseIsMigrated) {
  const TempDir dir("plugmq-v8-");
  const auto file = dir.path() / "plugmq.db";
  const std::string dev = "dev-0000000000000000000000d8";
  const std::string other = "dev-0000000000000000000000e8";
  {
    std::string sql = "INSERT INTO channels (cid, channel) VALUES (1, 't');";
    sql += "INSERT INTO series (sid, of, channel, cid, first_ep, last_ep) VALUES (1, '" + dev +
           "', 't', 1, 1, 1), (2, '" + other + "', 't', 1, 1, 1);";
    sql += "INSERT INTO epochs (ep, min_at, max_at, min_exp) VALUES (1, 0, 100000000, 1000);";
    // Second 0x12345 (74,565), every `at` in it; series 1 + i % 2; record i expires at 1000 + i,
    // except record 4.
    for (int i = 0; i < 6; ++i) {
      const std::string exp = i == 4 ? "NULL" : std::to_string(1000 + i);
      sql += "INSERT INTO data (cid, at, id, sid, ep, expire_at, data) VALUES (1, " +
             std::to_string(74'565'000 + i * 10) + ", x'" + oid(0x12345, i) + "', " +
             std::to_string(1 + i % 2) + ", 1, " + exp + ", '" + std::to_string(i) + "');";
    }
    ASSERT_NO_FATAL_FAILURE(write_old_database(file, 8, sql));
  }
  Db db = Db::open(file);
  EXPECT_EQ(db.user_version(), 9);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM runs"), 6);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'data_epoch_series'"),
            0);
  DataStore data(db);
  db.transaction([&] { data.insert(rec(oid(0x12346, 0), dev, "t", 74'566'000, "new")); });
  auto q = mask("t");
  q.of = {dev};
  EXPECT_EQ(ids_of(data.query(q)),
            (V{oid(0x12346, 0), oid(0x12345, 4), oid(0x12345, 2), oid(0x12345, 0)}));
  EXPECT_EQ(data.delete_expired(1002, 100), 3u);  // records 0, 1, 2 (3 at 1003)
  q.of = {other};
  EXPECT_EQ(ids_of(data.query(q)), (V{oid(0x12345, 5), oid(0x12345, 3)}));
  EXPECT_EQ(data.delete_of(dev, 100), 2u);
  EXPECT_EQ(ids_of(data.query(mask("t"))), (V{oid(0x12345, 5), oid(0x12345, 3)}));
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM runs"), 2);  // records 3 and 5
}

// ---- retention ----

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
  EXPECT_EQ(data_.delete_ids({oid(5, 2), oid(5, 4), oid(5, 5)}, {}, "#"), 3u);
  EXPECT_EQ(ids_of(data_.query(mask("#"))), (V{oid(5, 1), oid(5, 3)}));
  EXPECT_EQ(count_moved(), 1);  // data_at entries go with their records
  EXPECT_EQ(data_.delete_of(dev1_, 10), 2u);
  EXPECT_EQ(count_moved(), 0);
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

struct ExpiryCase {
  std::int64_t at;
  std::optional<std::int64_t> ttl_s, expire_at;
  int retention_days;
  std::optional<std::int64_t> want;
};

TEST(ExpiryOf, Table) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  const ExpiryCase cases[] = {
      {1000, std::nullopt, std::nullopt, 30, 1000 + 30 * 86'400'000LL},
      {1000, std::nullopt, std::nullopt, 0, std::nullopt},
      {1000, 60, std::nullopt, 30, 61'000},
      {1000, 60, std::nullopt, 0, 61'000},
      {1000, 60, 5000, 30, 5000},  // expire_at wins over ttl
      {1000, std::nullopt, 5000, 0, 5000},
      {1000, 0, std::nullopt, 30, 1000},
      {kMax - 10, 60, std::nullopt, 0, kMax},  // saturates
      {kMax - 10, std::nullopt, std::nullopt, 30, kMax},
      {1000, kMax, std::nullopt, 0, kMax},
      {1000, kMin, std::nullopt, 0, kMin + 1000},  // the product saturates, then + at
      {kMin, -1, std::nullopt, 0, kMin},
  };
  for (const auto& c : cases) {
    platform::Envelope e;
    e.at = c.at;
    e.ttl_s = c.ttl_s;
    e.expire_at = c.expire_at;
    EXPECT_EQ(expiry_of(e, c.retention_days), c.want)
        << c.at << " " << c.ttl_s.value_or(-1) << " " << c.retention_days;
  }
}

// ---- properties ----

TEST_F(DataTest, PropsSetAndGet) {
  auto r = data_.props_set(dev1_, R"({ "temp" : 21.5, "loc": {"y": 2, "x": 1}, "on": true })");
  EXPECT_EQ(r.err, 0) << r.msg;
  EXPECT_TRUE(r.json.empty());
  r = data_.props_get(dev1_, "");
  EXPECT_EQ(r.err, 0);
  // Sorted by name; values compact, members in the order sent.
  EXPECT_EQ(r.json, R"({"loc":{"y":2,"x":1},"on":true,"temp":21.5})");
  r = data_.props_get(dev1_, R"(["temp","missing","loc","temp"])");
  EXPECT_EQ(r.err, 0);
  EXPECT_EQ(r.json, R"({"temp":21.5,"loc":{"y":2,"x":1}})");
  EXPECT_EQ(data_.props_get(dev1_, "[]").json, "{}");
  EXPECT_EQ(data_.props_get(dev1_, " \n").json, data_.props_get(dev1_, "").json);
  EXPECT_EQ(data_.props_get(dev2_, "").json, "{}");
  // Overwrite one, keep the others.
  EXPECT_EQ(data_.props_set(dev1_, R"({"temp":"hot"})").err, 0);
  EXPECT_EQ(data_.props_get(dev1_, R"(["temp"])").json, R"({"temp":"hot"})");
  // An empty object changes nothing.
  EXPECT_EQ(data_.props_set(dev1_, "{}").err, 0);
  EXPECT_EQ(data_.props_raw(dev1_), R"({"loc":{"y":2,"x":1},"on":true,"temp":"hot"})");
}

TEST_F(DataTest, PropsNullDeletes) {
  ASSERT_EQ(data_.props_set(dev1_, R"({"a":1,"b":2})").err, 0);
  EXPECT_EQ(data_.props_set(dev1_, R"({"a":null,"never":null})").err, 0);
  EXPECT_EQ(data_.props_get(dev1_, "").json, R"({"b":2})");
}

TEST_F(DataTest, PropsSetRefusesBadPayloads) {
  for (const char* bad : {"", "[1]", "1", "\"x\"", "null", "{", "{\"a\":1,}", "\xff"}) {
    auto r = data_.props_set(dev1_, bad);
    EXPECT_EQ(r.err, 400) << bad;
    EXPECT_EQ(r.msg, "payload must be a JSON object") << bad;
  }
  // Too deep to store safely.
  const std::string deep = "{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}";
  EXPECT_EQ(data_.props_set(dev1_, deep).err, 400);
}

TEST_F(DataTest, PropsSetIsAllOrNothing) {
  ASSERT_EQ(data_.props_set(dev1_, R"({"keep":1})").err, 0);
  const std::string long_name(257, 'n');
  auto r = data_.props_set(dev1_, R"({"keep":2,"new":3,")" + long_name + R"(":4})");
  EXPECT_EQ(r.err, 400);
  EXPECT_NE(r.msg.find("name must be 1..256 bytes"), std::string::npos) << r.msg;
  r = data_.props_set(dev1_, R"({"keep":null,"":1})");
  EXPECT_EQ(r.err, 400);
  EXPECT_NE(r.msg.find("\"\""), std::string::npos) << r.msg;
  r = data_.props_set(dev1_, R"({"keep":2,"l":{"channel":"a/+"}})");
  EXPECT_EQ(r.err, 400);
  EXPECT_NE(r.msg.find("property \"l\""), std::string::npos) << r.msg;
  EXPECT_EQ(data_.props_raw(dev1_), R"({"keep":1})");
  // 256 bytes is fine.
  EXPECT_EQ(data_.props_set(dev1_, R"({")" + std::string(256, 'n') + R"(":1})").err, 0);
}

TEST_F(DataTest, PropsAllOrNothingInsideATransaction) {
  // Called inside the caller's transaction, a failing set leaves the caller's work alone.
  db_.transaction([&] {
    data_.insert(rec(oid(1, 0), dev1_, "c", 1));
    EXPECT_EQ(data_.props_set(dev1_, R"({"a":1})").err, 0);
    EXPECT_EQ(data_.props_set(dev1_, R"({"b":1,"":2})").err, 400);
  });
  EXPECT_EQ(data_.count(), 1);
  EXPECT_EQ(data_.props_raw(dev1_), R"({"a":1})");
}

TEST_F(DataTest, PropsGetRefusesBadPayloads) {
  for (const char* bad : {"{}", "1", "[1]", "[\"a\",null]", "[", "\"a\""}) {
    auto r = data_.props_get(dev1_, bad);
    EXPECT_EQ(r.err, 400) << bad;
    EXPECT_EQ(r.msg, "payload must be empty or a JSON array of property names") << bad;
  }
}

TEST_F(DataTest, PropsUnknownDevice) {
  EXPECT_EQ(data_.props_set("dev-000000000000000000000000", R"({"a":1})").err, 404);
  EXPECT_EQ(data_.props_get("dev-000000000000000000000000", "").err, 404);
  EXPECT_EQ(data_.props_raw("dev-000000000000000000000000"), "{}");
}

TEST_F(DataTest, PropsLinks) {
  auto r = data_.props_set(dev1_, R"({"t":{ "channel" : "room/temp" },"x":{"channel":1},)"
                                  R"("y":{"channel":"a","other":1}})");
  ASSERT_EQ(r.err, 0) << r.msg;
  // Nothing published yet: null. Objects that only look like links are static values.
  EXPECT_EQ(data_.props_get(dev1_, "").json,
            R"({"t":null,"x":{"channel":1},"y":{"channel":"a","other":1}})");
  insert_all({
      rec(oid(1, 0), dev1_, "room/temp", 10, "20"),
      rec(oid(2, 0), dev1_, "room/temp", 20, R"({"v":21})"),
      rec(oid(3, 0), dev2_, "room/temp", 30, "99"),  // another device's channel
  });
  EXPECT_EQ(data_.props_get(dev1_, R"(["t"])").json, R"({"t":{"v":21}})");
  // As stored: the link itself.
  EXPECT_EQ(data_.props_raw(dev1_),
            R"({"t":{"channel":"room/temp"},"x":{"channel":1},"y":{"channel":"a","other":1}})");
  // A link replaced by a static value, and deleted.
  EXPECT_EQ(data_.props_set(dev1_, R"({"t":5})").err, 0);
  EXPECT_EQ(data_.props_get(dev1_, R"(["t"])").json, R"({"t":5})");
  EXPECT_EQ(data_.props_set(dev1_, R"({"t":null})").err, 0);
  EXPECT_EQ(data_.props_get(dev1_, R"(["t"])").json, "{}");
}

TEST_F(DataTest, PropsNamesAreEscaped) {
  ASSERT_EQ(data_.props_set(dev1_, R"({"q\"uote":1,"ü":"ä"})").err, 0);
  EXPECT_EQ(data_.props_get(dev1_, "").json, R"({"q\"uote":1,"ü":"ä"})");
  EXPECT_EQ(data_.props_get(dev1_, R"(["ü"])").json, R"({"ü":"ä"})");
}

TEST_F(DataTest, DeletingADeviceDeletesItsProperties) {
  ASSERT_EQ(data_.props_set(dev1_, R"({"a":1})").err, 0);
  ASSERT_EQ(data_.props_set(dev2_, R"({"b":1})").err, 0);
  auto del = db_.prepare("DELETE FROM devices WHERE id = ?1");
  del.bind(1, dev1_);
  del.step();
  EXPECT_EQ(data_.props_raw(dev1_), "{}");
  EXPECT_EQ(data_.props_raw(dev2_), R"({"b":1})");
}

}  // namespace
}  // namespace plugmq::store

namespace plugmq::store {
namespace {

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
  EXPECT_EQ(data_.delete_ids({oid(1, 0), oid(2, 0), oid(3, 0), oid(9, 0)}, {dev1_}, "a"), 1u);
  EXPECT_EQ(ids_of(data_.query(mask("#"))), (V{oid(3, 0), oid(2, 0)}));
  EXPECT_EQ(data_.delete_ids({oid(2, 0), oid(3, 0)}, {}, "#"), 2u);
  EXPECT_EQ(data_.count(), 0);
  EXPECT_THROW(data_.delete_ids({"nothex"}, {}, "#"), Error);
}

TEST_F(DataTest, CheckProps) {
  EXPECT_EQ(DataStore::check_props(R"({"a":1,"b":{"channel":"x/y"},"c":null})").err, 0);
  EXPECT_EQ(DataStore::check_props("[1]").err, 400);
  EXPECT_EQ(DataStore::check_props(R"({"":1})").err, 400);
  EXPECT_EQ(DataStore::check_props(R"({"l":{"channel":"a/+"}})").err, 400);
  EXPECT_EQ(data_.count(), 0);
}

}  // namespace
}  // namespace plugmq::store
