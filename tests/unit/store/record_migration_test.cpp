// Databases written by earlier versions: migrated, and read and written like new ones.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "../../../src/store/schema.hpp"
#include "data_fixture.hpp"
#include "plugmq/store/session_store.hpp"
#include "temp_dir.hpp"

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

using plugmq::testing::TempDir;

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
    EXPECT_EQ(db.user_version(), 15);
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
    EXPECT_EQ(db.user_version(), 15);
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
    EXPECT_EQ(db.user_version(), 15);
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
    EXPECT_EQ(data.delete_ids({oid(0x12345, 0), oid(0x12345, 3)}, {}, "a").value(), 0u);
    EXPECT_EQ(data.delete_ids({oid(0x12345, 0), oid(0x12345, 3)}, {}, "b/+").value(), 2u);
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
  EXPECT_EQ(db.user_version(), 15);
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

// A database written before migration 10: its records have no position and are never
// replayed; records stored after get positions from 1 in a new epoch, and everything else
// reads, sweeps and deletes as before. Sessions and retained messages start empty.
TEST(DataPositions, Version9DatabaseIsMigrated) {
  const TempDir dir("plugmq-v9-");
  const auto file = dir.path() / "plugmq.db";
  const std::string dev = "dev-0000000000000000000000d9";
  {
    std::string sql =
        "INSERT INTO accounts (id, email, password_hash, created_at) "
        "VALUES ('com-0000000000000000000000a9', 'a@b.c', 'h', 1);"
        "INSERT INTO devices (id, account_id, kind, perm, auth_hash, created_at) VALUES ('" +
        dev + "', 'com-0000000000000000000000a9', 'prototype', '{}', 'h', 1);";
    sql += "INSERT INTO channels (cid, channel) VALUES (1, 't');";
    sql += "INSERT INTO series (sid, of, channel, cid, first_ep, last_ep) VALUES (1, '" + dev +
           "', 't', 1, 1, 1);";
    sql += "INSERT INTO epochs (ep, min_at, max_at, min_exp) VALUES (1, 0, 100000000, 1000);";
    for (int i = 0; i < 3; ++i) {
      const std::string at = std::to_string(74'565'000 + i * 10);
      sql += "INSERT INTO data (cid, at, id, sid, ep, expire_at, data) VALUES (1, " + at + ", x'" +
             oid(0x12345, i) + "', 1, 1, " + std::to_string(1000 + i) + ", '" + std::to_string(i) +
             "');";
      sql += "INSERT INTO runs (ep, sid, hi_at, hi_id, lo_at, lo_id, min_exp) VALUES (1, 1, " + at +
             ", x'" + oid(0x12345, i) + "', " + at + ", x'" + oid(0x12345, i) + "', " +
             std::to_string(1000 + i) + ");";
    }
    ASSERT_NO_FATAL_FAILURE(write_old_database(file, 9, sql));
  }
  Db db = Db::open(file);
  EXPECT_EQ(db.user_version(), 15);
  DataStore data(db);
  EXPECT_EQ(data.last_seq(), 0);
  Record fresh = rec(oid(0x12346, 0), dev, "t", 74'566'000, "new");
  fresh.qos = 1;
  fresh.retain = true;
  EXPECT_EQ(data.insert(fresh), 1);
  EXPECT_EQ(count_rows(db,
                       "SELECT count(*) FROM epochs WHERE ep = 2 AND min_seq = 1 "
                       "AND max_seq = 1"),
            1);
  ReplayQuery all;
  all.account_id = "com-0000000000000000000000a9";
  all.filters = {"#"};
  EXPECT_EQ(ids_of(data.replay(all)), V{oid(0x12346, 0)});
  EXPECT_EQ(data.replay_count(all), 1);
  SessionStore sessions(db);
  Session s;
  s.identity = dev;
  s.client_id = "c";
  s.account_id = all.account_id;
  s.subscriptions = {{"#", 1}};
  ASSERT_TRUE(sessions.save(s));
  EXPECT_EQ(SessionStore::waiting(data, s, 10), 1);  // the new record, not the old ones
  EXPECT_EQ(sessions.list().size(), 1u);
  EXPECT_EQ(ids_of(data.retained(all.account_id, {"#"})), V{oid(0x12346, 0)});
  auto q = mask("t");
  q.of = {dev};
  EXPECT_EQ(ids_of(data.query(q)),
            (V{oid(0x12346, 0), oid(0x12345, 2), oid(0x12345, 1), oid(0x12345, 0)}));
  EXPECT_EQ(data.delete_expired(1001, 100), 2u);
  EXPECT_EQ(data.delete_of(dev, 100), 2u);
  EXPECT_EQ(data.count(), 0);
  EXPECT_EQ(ids_of(data.retained(all.account_id, {"#"})), V{});
  ASSERT_TRUE(Identity(db).delete_device(dev));
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM sessions"), 0);  // gone with the device
}

// A database written before migration 12: its sessions load with no inbound QoS 2 ids
// awaiting a PUBREL and keep the rest of their state; saved again, they keep the ids they are
// given [MQTT-4.3.3-2].
TEST(Sessions, Version11DatabaseIsMigrated) {
  const TempDir dir("plugmq-v11-");
  const auto file = dir.path() / "plugmq.db";
  const std::string account = "com-0000000000000000000000b1";
  const std::string dev = "dev-0000000000000000000000b1";
  ASSERT_NO_FATAL_FAILURE(write_old_database(
      file, 11,
      "INSERT INTO accounts (id, email, password_hash, created_at) VALUES ('" + account +
          "', 'a@b.c', 'h', 1);"
          "INSERT INTO devices (id, account_id, kind, perm, auth_hash, created_at) VALUES ('" +
          dev + "', '" + account +
          "', 'prototype', '{}', 'h', 1);"
          "INSERT INTO sessions (identity, client_id, account_id, position, subscriptions, "
          "inflight, created_at, last_seen, online) VALUES ('" +
          dev + "', 'c', '" + account + "', 42, '[[\"#\",2]]', '[[40,7,3]]', 1000, 2000, 0);"));
  Db db = Db::open(file);
  EXPECT_EQ(db.user_version(), 15);
  SessionStore sessions(db);
  Session s = sessions.load(dev, "c").value();
  EXPECT_TRUE(s.awaiting_pubrel.empty());
  EXPECT_EQ(s.position, 42);
  ASSERT_EQ(s.subscriptions.size(), 1u);
  EXPECT_EQ(s.subscriptions[0].qos, 2);
  ASSERT_EQ(s.inflight.size(), 1u);
  EXPECT_EQ(s.inflight[0].packet_id, 7);
  EXPECT_EQ(s.inflight[0].state, InflightState::kAwaitPubcomp);
  EXPECT_EQ(s.last_seen, 2000);
  s.awaiting_pubrel = {5, 6};
  ASSERT_TRUE(sessions.save(s));
  EXPECT_EQ(sessions.load(dev, "c").value().awaiting_pubrel, (std::vector<int>{5, 6}));
}

// A database written before migration 13: its devices are offline and never seen, and then
// record their logins.
TEST(DevicePresence, Version12DatabaseIsMigrated) {
  const TempDir dir("plugmq-v12-");
  const auto file = dir.path() / "plugmq.db";
  const std::string dev = "dev-0000000000000000000000d1";
  ASSERT_NO_FATAL_FAILURE(write_old_database(
      file, 12,
      "INSERT INTO accounts (id, email, password_hash, created_at) "
      "VALUES ('com-0000000000000000000000a1', 'a@b.c', 'h', 1);"
      "INSERT INTO devices (id, account_id, kind, perm, auth_hash, created_at) VALUES ('" +
          dev + "', 'com-0000000000000000000000a1', 'prototype', '{}', 'h', 1);"));
  Db db = Db::open(file);
  EXPECT_EQ(db.user_version(), 15);
  Identity ids(db);
  auto d = ids.device(dev);
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->online);
  EXPECT_EQ(d->last_seen, 0);
  ids.record_login(dev, "c", "", 42);
  d = ids.device(dev);
  EXPECT_TRUE(d->online);
  EXPECT_EQ(d->last_seen, 42);
}

}  // namespace
// A database written before migration 14: its retained messages get their account (found by
// an index from then on); one whose series has no device left is dropped.
TEST(Retained, Version13DatabaseIsMigrated) {
  const TempDir dir("plugmq-v13-");
  const auto file = dir.path() / "plugmq.db";
  ASSERT_NO_FATAL_FAILURE(write_old_database(
      file, 13,
      "INSERT INTO accounts (id, email, password_hash, created_at) "
      "VALUES ('com-0000000000000000000000a1', 'a@b.c', 'h', 1);"
      "INSERT INTO devices (id, account_id, kind, perm, auth_hash, created_at) VALUES "
      "('dev-0000000000000000000000d1', 'com-0000000000000000000000a1', 'prototype', '{}', 'h', "
      "1);"
      "INSERT INTO series (sid, of, channel) VALUES (1, 'dev-0000000000000000000000d1', 't'), "
      "(2, 'dev-0000000000000000000000d2', 't');"
      "INSERT INTO retained (sid, at, id, seq) VALUES (1, 5, x'000000000000000000000001', 7), "
      "(2, 5, x'000000000000000000000002', 8);"));
  Db db = Db::open(file);
  EXPECT_EQ(db.user_version(), 15);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM retained WHERE sid = 1 AND "
                           "account_id = 'com-0000000000000000000000a1'"),
            1);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM retained"), 1);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'retained_by_account'"),
            1);
}

}  // namespace plugmq::store
