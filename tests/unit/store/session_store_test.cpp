// SessionStore: persistent sessions (SPEC 11).
#include "plugmq/store/session_store.hpp"

#include <gtest/gtest.h>

#include "data_fixture.hpp"
#include "plugmq/store/data.hpp"

namespace plugmq::store {
namespace {

using testing::DataTest;
using testing::oid;
using testing::qrec;

constexpr std::int64_t kDay = 86'400'000;

class SessionTest : public DataTest {
 protected:
  Session session(std::string identity, std::string client_id) {
    Session s;
    s.identity = std::move(identity);
    s.client_id = std::move(client_id);
    s.account_id = account_;
    s.subscriptions = {{"+/data/temp", 1}, {dev1_ + "/data/#", 2}};
    s.position = 7;
    s.inflight = {{5, 10, InflightState::kAwaitPuback}, {6, 11, InflightState::kAwaitPubcomp}};
    s.awaiting_pubrel = {3, 65535};
    s.created_at = 1'000;
    s.last_seen = 2'000;
    return s;
  }
  SessionStore sessions_{db_};
};

bool same(const Session& a, const Session& b) {
  auto subs = [](const Session& s) {
    std::vector<std::pair<std::string, int>> out;
    for (const auto& sub : s.subscriptions) out.emplace_back(sub.filter, sub.qos);
    return out;
  };
  auto inflight = [](const Session& s) {
    std::vector<std::tuple<std::int64_t, int, int>> out;
    for (const auto& m : s.inflight)
      out.emplace_back(m.seq, m.packet_id, static_cast<int>(m.state));
    return out;
  };
  return a.identity == b.identity && a.client_id == b.client_id && a.account_id == b.account_id &&
         subs(a) == subs(b) && a.position == b.position && inflight(a) == inflight(b) &&
         a.awaiting_pubrel == b.awaiting_pubrel && a.created_at == b.created_at &&
         a.last_seen == b.last_seen && a.online == b.online;
}

TEST_F(SessionTest, SaveAndLoad) {
  const Session s = session(dev1_, "client/1");
  ASSERT_TRUE(sessions_.save(s));
  auto loaded = sessions_.load(dev1_, "client/1");
  ASSERT_TRUE(loaded);
  EXPECT_TRUE(same(*loaded, s));
  const auto missing = sessions_.load(dev1_, "other");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_FALSE(sessions_.load(dev2_, "client/1"));  // the key is identity and client id
}

// Saving replaces the whole state, except when the session began.
TEST_F(SessionTest, SaveReplacesTheState) {
  ASSERT_TRUE(sessions_.save(session(dev1_, "c")));
  Session later = session(dev1_, "c");
  later.subscriptions = {{"#", 0}};
  later.inflight.clear();
  later.awaiting_pubrel = {1};
  later.position = 99;
  later.created_at = 50'000;
  later.last_seen = 60'000;
  ASSERT_TRUE(sessions_.save(later));
  auto loaded = sessions_.load(dev1_, "c").value();
  later.created_at = 1'000;
  EXPECT_TRUE(same(loaded, later));
}

TEST_F(SessionTest, SaveRefusesWhatItCannotStore) {
  auto code = [&](auto change) {
    Session s = session(dev1_, "c");
    change(s);
    auto saved = sessions_.save(s);
    return saved ? Errc{} : saved.error().code;
  };
  EXPECT_EQ(code([](Session& s) { s.client_id.clear(); }), Errc::kInvalid);
  EXPECT_EQ(code([](Session& s) { s.identity.clear(); }), Errc::kInvalid);
  EXPECT_EQ(code([](Session& s) { s.subscriptions[0].qos = 3; }), Errc::kInvalid);
  EXPECT_EQ(code([](Session& s) { s.subscriptions[0].filter = "a/#/b"; }), Errc::kInvalid);
  EXPECT_EQ(code([](Session& s) { s.inflight[0].packet_id = 0; }), Errc::kInvalid);
  EXPECT_EQ(code([](Session& s) { s.inflight[0].packet_id = 65536; }), Errc::kInvalid);
  EXPECT_EQ(code([](Session& s) { s.inflight[0].state = static_cast<InflightState>(4); }),
            Errc::kInvalid);
  EXPECT_EQ(code([](Session& s) { s.awaiting_pubrel = {1, 0}; }), Errc::kInvalid);
  EXPECT_EQ(code([](Session& s) { s.awaiting_pubrel = {65536}; }), Errc::kInvalid);
  EXPECT_EQ(code([](Session& s) { s.awaiting_pubrel = {-1}; }), Errc::kInvalid);
  EXPECT_EQ(code([](Session& s) { s.account_id = "com-000000000000000000000000"; }),
            Errc::kNotFound);
  EXPECT_TRUE(sessions_.list().empty());
}

// [MQTT-4.3.3-2]: the inbound QoS 2 ids awaiting their PUBREL are part of the saved state,
// replaced by each save (none after the client released them all).
TEST_F(SessionTest, MQTT_4_3_3_2_InboundQos2IdsAwaitingPubrelRoundTrip) {
  Session s = session(dev1_, "q2");
  s.awaiting_pubrel = {1, 77, 65535};
  ASSERT_TRUE(sessions_.save(s));
  EXPECT_EQ(sessions_.load(dev1_, "q2").value().awaiting_pubrel, (std::vector<int>{1, 77, 65535}));
  s.awaiting_pubrel.clear();
  ASSERT_TRUE(sessions_.save(s));
  EXPECT_TRUE(sessions_.load(dev1_, "q2").value().awaiting_pubrel.empty());
  // Listed with the rest of the state.
  s.awaiting_pubrel = {9};
  ASSERT_TRUE(sessions_.save(s));
  const auto listed = sessions_.list(account_);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(same(listed[0], s));
}

// A row that does not hold a JSON array of ids is refused as malformed, not half read.
TEST_F(SessionTest, MalformedAwaitingPubrelIsAnError) {
  ASSERT_TRUE(sessions_.save(session(dev1_, "bad")));
  db_.exec("UPDATE sessions SET awaiting_pubrel = '{\"x\": 1}'");
  EXPECT_THROW(sessions_.load(dev1_, "bad"), Error);
  db_.exec("UPDATE sessions SET awaiting_pubrel = '[\"x\"]'");
  EXPECT_THROW(sessions_.load(dev1_, "bad"), Error);
}

TEST_F(SessionTest, Remove) {
  ASSERT_TRUE(sessions_.save(session(dev1_, "c")));
  EXPECT_TRUE(sessions_.remove(dev1_, "c"));
  EXPECT_FALSE(sessions_.load(dev1_, "c"));
  const auto again = sessions_.remove(dev1_, "c");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kNotFound);
}

TEST_F(SessionTest, ListAllOrByAccount) {
  const std::string other_account = ids_.add_account("x@y.z", "secret2").value().id;
  Session theirs = session(other_account, "dashboard");
  theirs.account_id = other_account;
  theirs.subscriptions = {{"#", 1}};
  ASSERT_TRUE(sessions_.save(theirs));
  ASSERT_TRUE(sessions_.save(session(dev2_, "b")));
  ASSERT_TRUE(sessions_.save(session(dev1_, "z")));
  ASSERT_TRUE(sessions_.save(session(dev1_, "a")));
  auto keys = [](const std::vector<Session>& list) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& s : list) out.emplace_back(s.identity, s.client_id);
    return out;
  };
  std::vector<std::pair<std::string, std::string>> mine = {
      {dev1_, "a"}, {dev1_, "z"}, {dev2_, "b"}};
  std::sort(mine.begin(), mine.end());
  EXPECT_EQ(keys(sessions_.list(account_)), mine);
  const auto all = sessions_.list();
  EXPECT_EQ(all.size(), 4u);
  const auto only_theirs = sessions_.list(other_account);
  ASSERT_EQ(only_theirs.size(), 1u);
  EXPECT_EQ(only_theirs[0].subscriptions.size(), 1u);
  EXPECT_TRUE(same(only_theirs[0], theirs));
}

TEST_F(SessionTest, ExpireTheSessionsNotSeenForDays) {
  Session old = session(dev1_, "old");
  old.last_seen = 10 * kDay;
  Session recent = session(dev1_, "recent");
  recent.last_seen = 39 * kDay;
  ASSERT_TRUE(sessions_.save(old));
  ASSERT_TRUE(sessions_.save(recent));
  EXPECT_EQ(sessions_.expire(0, 100 * kDay), 0);  // 0 days: never
  EXPECT_EQ(sessions_.expire(30, 40 * kDay + 1), 1);
  EXPECT_FALSE(sessions_.load(dev1_, "old"));
  EXPECT_TRUE(sessions_.load(dev1_, "recent"));
  EXPECT_EQ(sessions_.expire(30, 40 * kDay + 1), 0);
}

// A session saved while its client is connected is online; the expiry passes over it, and a
// server starting marks every session offline, seen as it starts.
TEST_F(SessionTest, OnlineSessionsDoNotExpireUntilMarkedOffline) {
  Session online = session(dev1_, "on");
  online.last_seen = 10 * kDay;
  online.online = true;
  ASSERT_TRUE(sessions_.save(online));
  ASSERT_TRUE(sessions_.save(session(dev1_, "off")));
  EXPECT_TRUE(sessions_.load(dev1_, "on").value().online);
  EXPECT_EQ(sessions_.expire(30, 100 * kDay), 1);  // "off" only
  EXPECT_TRUE(sessions_.load(dev1_, "on"));
  EXPECT_EQ(sessions_.all_offline(100 * kDay), 1);
  const Session after = sessions_.load(dev1_, "on").value();
  EXPECT_FALSE(after.online);
  EXPECT_EQ(after.last_seen, 100 * kDay);
  EXPECT_EQ(sessions_.all_offline(101 * kDay), 0);
}

TEST_F(SessionTest, Keys) {
  ASSERT_TRUE(sessions_.save(session(dev2_, "b")));
  ASSERT_TRUE(sessions_.save(session(dev1_, "a")));
  auto keys = sessions_.keys();
  std::sort(keys.begin(), keys.end());
  std::vector<std::pair<std::string, std::string>> want = {{dev1_, "a"}, {dev2_, "b"}};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(keys, want);
}

// A device's sessions go with it, and an account's with it.
TEST_F(SessionTest, GoWithTheirDevice) {
  ASSERT_TRUE(sessions_.save(session(dev1_, "c")));
  ASSERT_TRUE(sessions_.save(session(dev2_, "c")));
  ASSERT_TRUE(ids_.delete_device(dev1_));
  EXPECT_FALSE(sessions_.load(dev1_, "c"));
  EXPECT_TRUE(sessions_.load(dev2_, "c"));
  // Its client's last save (it was connected) does not bring it back.
  const auto saved = sessions_.save(session(dev1_, "c"));
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, Errc::kNotFound);
  Session foreign = session(dev2_, "c");
  foreign.identity = "dev-000000000000000000000000";
  EXPECT_FALSE(sessions_.save(foreign));
  db_.exec("DELETE FROM accounts WHERE id = '" + account_ + "'");
  EXPECT_TRUE(sessions_.list().empty());
}

// The messages waiting: the in-flight ones, and the records after the position that the
// subscriptions granted QoS 1 or 2 select, QoS 1 or 2 only; capped.
TEST_F(SessionTest, MessagesWaiting) {
  insert_all({qrec(oid(1, 0), dev1_, "temp", 1'000, 1), qrec(oid(1, 1), dev2_, "temp", 1'000, 1),
              qrec(oid(1, 2), dev2_, "temp", 1'000, 0), qrec(oid(1, 3), dev2_, "other", 1'000, 2),
              qrec(oid(1, 4), dev1_, "x", 1'000, 2)});
  Session s = session(dev1_, "c");
  s.position = 0;
  s.inflight.clear();
  // "+/data/temp": records 0 and 1 (2 is QoS 0); dev1_/data/#: 0 and 4.
  EXPECT_EQ(SessionStore::waiting(data_, s, 100), 3);
  s.position = 1;
  EXPECT_EQ(SessionStore::waiting(data_, s, 100), 2);
  s.inflight = {{1, 3, InflightState::kAwaitPuback}};
  EXPECT_EQ(SessionStore::waiting(data_, s, 100), 3);
  EXPECT_EQ(SessionStore::waiting(data_, s, 2), 2);
  s.subscriptions = {{"#", 0}};  // QoS 0: nothing kept
  EXPECT_EQ(SessionStore::waiting(data_, s, 100), 1);
}

}  // namespace
}  // namespace plugmq::store
