// The shared publish path (service/publish.hpp) that MQTT sessions and HTTP requests both use.
#include "plugmq/service/publish.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "live_context.hpp"
#include "plugmq/store/data.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::service {
namespace {

using testing::LiveContext;
using testing::Recorder;
namespace asio = boost::asio;

class PublishTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::Db::open(live_.db_file());
    store::Identity ids(db);
    store::Fleet fleet(db);
    // Retention 0 (forever): records dated in the past are not swept away during a test.
    account_ = ids.add_account("a@example.com", "secret1", 0).value().id;
    other_account_ = ids.add_account("b@example.com", "secret2", 0).value().id;
    proto_ = ids.add_prototype(account_, "proto").value().device;
    stranger_ = ids.add_prototype(other_account_, "stranger").value().device;
    auto model =
        fleet.add_template(account_, "m", platform::default_perm(platform::DeviceKind::kThing))
            .value();
    fleet.add_serial(model.id, {"SN-1", "enroll1", std::nullopt}).value();
    thing_id_ = fleet.enroll_thing(model.id, "SN-1", "enroll1", "").id;
    live_.start();
  }

  platform::Principal device_principal(const store::Device& d) {
    return platform::Principal{d.account_id, d.id, d.perm, {}};
  }

  PublishStatus publish(const platform::Principal& who, const std::string& topic,
                        const std::string& payload, store::DataWriter::Done& done,
                        std::uint8_t qos = 0, bool retain = false) {
    auto parsed = platform::parse_topic(topic);
    const std::string peer = "test", client = "client";
    auto op =
        publish_topic(live_.ctx(), who, parsed, topic, payload, qos, retain, done, peer, client);
    return live_.run(std::move(op));
  }

  std::vector<platform::Record> stored(const std::string& mask) {
    live_.flush();
    auto db = store::Db::open(live_.db_file());
    store::DataStore data(db);
    store::DataQuery q;
    q.mask = mask;
    return data.query(q);
  }

  LiveContext live_;
  std::string account_, other_account_, thing_id_;
  store::Device proto_, stranger_;
};

TEST_F(PublishTest, StoresAndDeliversTheRecordSubscribersAndTheStoreShare) {
  Recorder sub(platform::Principal{account_, "", {}, {}});  // an account login
  live_.ctx().router.subscribe(account_, "+/data/#", &sub, 0);
  store::DataWriter::Done none;
  auto status = publish(device_principal(proto_), proto_.id + "/data/temp",
                        R"({"data":21.5,"at":1700000000000})", none);
  EXPECT_EQ(status, PublishStatus::kStored);
  auto got = sub.got();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, proto_.id + "/data/temp");
  auto j = nlohmann::json::parse(got[0].payload);
  EXPECT_EQ(j["data"], 21.5);
  EXPECT_EQ(j["at"], 1700000000000);
  auto records = stored("temp");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].id, j["id"]);
  EXPECT_EQ(records[0].of, proto_.id);
  EXPECT_EQ(platform::delivery_json(records[0]), got[0].payload);
  EXPECT_EQ(live_.ctx().metrics.total(Metrics::kReceived), 1u);
  live_.ctx().router.unsubscribe(account_, "+/data/#", &sub);
}

TEST_F(PublishTest, OwnDeviceFormUsesTheLoggedInDevice) {
  store::DataWriter::Done none;
  EXPECT_EQ(publish(device_principal(proto_), "/data/x", "1", none), PublishStatus::kStored);
  auto records = stored("x");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].of, proto_.id);
  // An account login has no device of its own.
  EXPECT_EQ(publish(platform::Principal{account_, "", {}, {}}, "/data/x", "1", none),
            PublishStatus::kInvalidTopic);
}

TEST_F(PublishTest, DeniedAcrossAccountsAndWithoutWritePermission) {
  Recorder sub(platform::Principal{other_account_, "", {}, {}});
  live_.ctx().router.subscribe(other_account_, "#", &sub, 0);
  store::DataWriter::Done none;
  // A prototype of account a may write every device of a, never one of b.
  EXPECT_EQ(publish(device_principal(proto_), stranger_.id + "/data/t", "1", none),
            PublishStatus::kDenied);
  // A thing (w = []) may write only itself.
  platform::Principal thing{
      account_, thing_id_, platform::default_perm(platform::DeviceKind::kThing), {}};
  EXPECT_EQ(publish(thing, proto_.id + "/data/t", "1", none), PublishStatus::kDenied);
  EXPECT_EQ(publish(thing, thing_id_ + "/data/t", "1", none), PublishStatus::kStored);
  EXPECT_TRUE(sub.got().empty());
  EXPECT_EQ(live_.ctx().metrics.total(Metrics::kDroppedDenied), 2u);
  EXPECT_EQ(stored("t").size(), 1u);
  live_.ctx().router.unsubscribe(other_account_, "#", &sub);
}

TEST_F(PublishTest, DeviceCreatedAfterTheSnapshotIsFoundInTheStore) {
  std::string late;
  {
    auto db = store::Db::open(live_.db_file());
    store::Identity ids(db);
    late = ids.add_prototype(account_, "late").value().device.id;
  }
  ASSERT_EQ(live_.ctx().directory.get()->find(late), nullptr);
  store::DataWriter::Done none;
  EXPECT_EQ(publish(device_principal(proto_), late + "/data/t", "1", none), PublishStatus::kStored);
}

// SPEC 4: {"of":THING,"data":...} on the publisher's own topic publishes as THING (the iOS
// client's "publish on behalf of"), with the write check a publish to THING/data/CH gets.
TEST_F(PublishTest, AnEnvelopesOfPublishesAsThatDevice) {
  Recorder sub(platform::Principal{account_, "", {}, {}});
  live_.ctx().router.subscribe(account_, "#", &sub, 0);
  store::DataWriter::Done none;
  // A prototype (w = null) may write every device of its account.
  const std::string as_thing = R"({"of":")" + thing_id_ + R"(","data":7})";
  EXPECT_EQ(publish(device_principal(proto_), "/data/t", as_thing, none), PublishStatus::kStored);
  auto got = sub.got();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, thing_id_ + "/data/t");
  EXPECT_EQ(nlohmann::json::parse(got[0].payload)["data"], 7);
  auto records = stored("t");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].of, thing_id_);
  // A thing (w = []) may not publish as the prototype, on its own topic or any; nor as a
  // device that does not exist, or as something that is no Plug-ID.
  platform::Principal thing{
      account_, thing_id_, platform::default_perm(platform::DeviceKind::kThing), {}};
  const std::string as_proto = R"({"of":")" + proto_.id + R"(","data":8})";
  EXPECT_EQ(publish(thing, "/data/t", as_proto, none), PublishStatus::kDenied);
  EXPECT_EQ(publish(thing, thing_id_ + "/data/t", as_proto, none), PublishStatus::kDenied);
  const std::string nobody = platform::new_plug_id(platform::IdKind::kDevice);
  EXPECT_EQ(publish(thing, "/data/t", R"({"of":")" + nobody + R"(","data":9})", none),
            PublishStatus::kDenied);
  EXPECT_EQ(publish(thing, "/data/t", R"({"of":5,"data":9})", none), PublishStatus::kDenied);
  EXPECT_EQ(live_.ctx().metrics.total(Metrics::kDroppedDenied), 4u);
  // "of" naming the topic's own device is a plain publish.
  const std::string as_self = R"({"of":")" + thing_id_ + R"(","data":10})";
  EXPECT_EQ(publish(thing, "/data/t", as_self, none), PublishStatus::kStored);
  EXPECT_EQ(sub.got().size(), 2u);
  EXPECT_EQ(stored("t").size(), 2u);
  live_.ctx().router.unsubscribe(account_, "#", &sub);
}

// SPEC 4: {"id":OID,"data":...} replaces that record of the device on the topic's channel, and
// is delivered like a new publish, with the same id.
TEST_F(PublishTest, AnEnvelopesIdUpdatesThatRecord) {
  Recorder sub(platform::Principal{account_, "", {}, {}});
  live_.ctx().router.subscribe(account_, "#", &sub, 0);
  store::DataWriter::Done none;
  const auto who = device_principal(proto_);
  const std::string topic = proto_.id + "/data/t";
  ASSERT_EQ(publish(who, topic, "1", none), PublishStatus::kStored);
  ASSERT_EQ(publish(who, proto_.id + "/data/u", "2", none), PublishStatus::kStored);
  const auto first = nlohmann::json::parse(sub.got().at(0).payload)["id"].get<std::string>();
  // At once, before the writer committed the record: the update waits for it.
  std::string upper = first;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(publish(who, topic, R"({"id":")" + upper + R"(","data":3,"at":5000})", none),
            PublishStatus::kStored);
  auto got = sub.got();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].topic, topic);
  EXPECT_EQ(nlohmann::json::parse(got[2].payload),
            nlohmann::json::parse(R"({"id":")" + first + R"(","data":3,"at":5000})"));
  auto records = stored("t");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].id, first);
  EXPECT_EQ(records[0].data_json, "3");
  EXPECT_EQ(records[0].at, 5000);
  // Names no record of the device on the channel: malformed, unknown, on another channel,
  // another device's. Dropped and counted, nothing stored or delivered.
  const std::string other = nlohmann::json::parse(got[1].payload)["id"].get<std::string>();
  const std::string unknown = platform::new_oid(1);
  for (const std::string& id : {std::string("nope"), unknown, other}) {
    EXPECT_EQ(publish(who, topic, R"({"id":")" + id + R"(","data":4})", none),
              PublishStatus::kNoRecord)
        << id;
  }
  platform::Principal thing{
      account_, thing_id_, platform::default_perm(platform::DeviceKind::kThing), {}};
  EXPECT_EQ(publish(thing, "/data/t", R"({"id":")" + first + R"(","data":4})", none),
            PublishStatus::kNoRecord);
  EXPECT_EQ(live_.ctx().metrics.total(Metrics::kDroppedUnknownId), 4u);
  EXPECT_EQ(sub.got().size(), 3u);
  EXPECT_EQ(stored("#").size(), 2u);
  live_.ctx().router.unsubscribe(account_, "#", &sub);
}

std::optional<platform::Target> find(LiveContext& live, const std::string& plug_id,
                                     const platform::Principal& who) {
  auto dir = live.ctx().directory.get();
  auto op = find_target(live.ctx(), *dir, plug_id, who);
  return live.run(std::move(op));
}

TEST_F(PublishTest, FindTargetReadsTheDirectoryInAnyCase) {
  const platform::Principal account{account_, "", {}, {}};
  auto t = find(live_, proto_.id, account);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->device_id, proto_.id);
  EXPECT_EQ(t->account_id, account_);
  // A Plug-ID as a client may send it (HTTP paths and bodies): normalized to the stored form.
  std::string upper = proto_.id;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  t = find(live_, upper, account);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->device_id, proto_.id);
  // Another account's device is still a target (may_write/may_read then refuse it).
  t = find(live_, stranger_.id, account);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->account_id, other_account_);
}

TEST_F(PublishTest, FindTargetPrefersTheDirectoryToTheCallersCopy) {
  // The caller's principal is older than the snapshot: the snapshot's "ctrl" wins.
  const std::string current = live_.ctx().directory.get()->find(proto_.id)->perm.ctrl;
  platform::Principal stale = device_principal(proto_);
  stale.perm.ctrl = current == "r" ? "rw" : "r";
  auto t = find(live_, proto_.id, stale);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->ctrl, current);
}

TEST_F(PublishTest, FindTargetFallsBackToTheCallersOwnDeviceThenTheStore) {
  // A device the snapshot and the store do not know, logged in as itself: its own copy.
  const std::string unseen = platform::new_plug_id(platform::IdKind::kDevice);
  platform::Principal self{account_, unseen, {}, {}};
  self.perm.ctrl = "r";
  auto t = find(live_, unseen, self);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->device_id, unseen);
  EXPECT_EQ(t->ctrl, "r");
  // Someone else asking about it: unknown.
  EXPECT_FALSE(find(live_, unseen, device_principal(proto_)));
  // Created since the snapshot: from the store.
  std::string late;
  {
    auto db = store::Db::open(live_.db_file());
    store::Identity ids(db);
    late = ids.add_prototype(other_account_, "late").value().device.id;
  }
  t = find(live_, late, device_principal(proto_));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->account_id, other_account_);
}

TEST_F(PublishTest, FindTargetRefusesMalformedPlugIds) {
  const platform::Principal account{account_, "", {}, {}};
  EXPECT_FALSE(find(live_, "", account));
  EXPECT_FALSE(find(live_, "dev-short", account));
  EXPECT_FALSE(find(live_, "mod-" + proto_.id.substr(4), account));  // a model, not a device
}

TEST_F(PublishTest, PayloadsThatAreNotStored) {
  store::DataWriter::Done none;
  EXPECT_EQ(
      publish(device_principal(proto_), proto_.id + "/data/t", std::string("\xff\xfe", 2), none),
      PublishStatus::kBinary);
  EXPECT_EQ(
      publish(device_principal(proto_), proto_.id + "/data/t", R"({"data":1,"at":true})", none),
      PublishStatus::kBadEnvelope);
  EXPECT_EQ(publish(device_principal(proto_), proto_.id + "/other/t", "1", none),
            PublishStatus::kInvalidTopic);
  EXPECT_TRUE(stored("#").empty());
}

TEST_F(PublishTest, DoneRunsOnEveryPathInOrder) {
  std::vector<int> order;  // appended on the writer thread only
  std::vector<bool> oks;
  auto done_for = [&](int i) -> store::DataWriter::Done {
    return [&, i](bool ok) {
      order.push_back(i);
      oks.push_back(ok);
    };
  };
  const std::vector<std::pair<std::string, std::string>> publishes = {
      {proto_.id + "/data/a", "1"},                     // stored
      {stranger_.id + "/data/a", "2"},                  // denied
      {proto_.id + "/data/a", std::string("\xff", 1)},  // binary
      {proto_.id + "/data/a", "4"},                     // stored
  };
  for (std::size_t i = 0; i < publishes.size(); ++i) {
    auto done = done_for(static_cast<int>(i));
    publish(device_principal(proto_), publishes[i].first, publishes[i].second, done);
    EXPECT_FALSE(done) << "publish " << i << " did not take its callback";
  }
  live_.flush();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(oks, (std::vector<bool>{true, true, true, true}));
}

TEST_F(PublishTest, PublishRecordReturnsTheStoredId) {
  auto dir = live_.ctx().directory.get();
  platform::Envelope env;
  env.data_json = R"({"v":1})";
  env.at = platform::now_ms();
  env.ttl_s = 60;
  store::DataWriter::Done none;
  const auto* info = dir->find(proto_.id);
  ASSERT_NE(info, nullptr);
  auto id = publish_record(live_.ctx(), *dir, info->target(proto_.id), "c/d", env, 1, none);
  auto records = stored("c/#");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].id, id);
  EXPECT_EQ(records[0].data_json, R"({"v":1})");
  EXPECT_EQ(records[0].expire_at, env.at + 60000);
}

TEST_F(PublishTest, MQTT_3_8_4_6_DeliveredAtTheLowerOfPublishAndGrantedQos) {
  Recorder at0(platform::Principal{account_, "", {}, {}});
  Recorder at1(platform::Principal{account_, "", {}, {}});
  Recorder at2(platform::Principal{account_, "", {}, {}});
  auto& router = live_.ctx().router;
  router.subscribe(account_, "+/data/#", &at0, 0);
  router.subscribe(account_, "+/data/#", &at1, 1);
  router.subscribe(account_, "+/data/#", &at2, 2);
  router.subscribe(account_, "#", &at0, 1);  // overlapping: the highest matching QoS counts
  store::DataWriter::Done none;
  for (std::uint8_t qos : {0, 1, 2}) {
    ASSERT_EQ(publish(device_principal(proto_), proto_.id + "/data/q", "1", none, qos),
              PublishStatus::kStored);
  }
  auto qos_of = [](Recorder& r) {
    std::vector<int> out;
    for (const auto& g : r.got()) out.push_back(g.qos);
    return out;
  };
  EXPECT_EQ(qos_of(at0), (std::vector<int>{0, 1, 1}));
  EXPECT_EQ(qos_of(at1), (std::vector<int>{0, 1, 1}));
  EXPECT_EQ(qos_of(at2), (std::vector<int>{0, 1, 2}));
  for (auto* r : {&at0, &at1, &at2}) router.unsubscribe(account_, "+/data/#", r);
  router.unsubscribe(account_, "#", &at0);
}

}  // namespace
}  // namespace plugmq::service
