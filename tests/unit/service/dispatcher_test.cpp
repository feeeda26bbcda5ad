// service::Dispatcher: committed QoS 1/2 records routed to persistent sessions with their
// positions, in seq order, at min(record QoS, granted QoS); the watermark, attach and detach
// between batches; devices the directory learns late. And service::SessionTable.
#include "plugmq/service/dispatcher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "plugmq/codec/codec.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/service/context.hpp"
#include "plugmq/service/session_table.hpp"

namespace plugmq::service {
namespace {

using namespace std::chrono_literals;

constexpr const char* kAccount = "com-000000000000000000000001";
constexpr const char* kDevice = "dev-000000000000000000000001";

// A persistent session as the dispatcher sees it: what deliver_committed() was given.
class Committed : public LiveSession {
 public:
  struct Got {
    std::int64_t seq;
    int qos;
    std::string topic;
  };
  void deliver(const Message&) override {}
  void deliver_committed(const Message& msg, std::int64_t seq) override {
    const auto* p = reinterpret_cast<const std::uint8_t*>(msg.packet->data());
    auto r = codec::decode(std::span(p, msg.packet->size()), 1 << 28);
    ASSERT_EQ(r.status, codec::DecodeStatus::kComplete);
    std::lock_guard lock(mu_);
    got_.push_back({seq, msg.qos, std::get<codec::Publish>(r.packet).topic});
  }
  void close(broker::EndReason) override {}
  void directory_changed() override {}
  std::vector<Got> got() {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  std::mutex mu_;
  std::vector<Got> got_;
};

std::shared_ptr<const Directory> directory_with(std::vector<std::string> devices,
                                                std::uint64_t version) {
  auto d = std::make_shared<Directory>();
  d->version = version;
  for (auto& id : devices) {
    DeviceInfo info;
    info.account_id = kAccount;
    info.device_id = id;
    d->devices.emplace(id, info);
  }
  return d;
}

platform::Record record(std::string of, int qos, std::string channel = "t") {
  platform::Record r;
  r.id = platform::new_oid();
  r.of = std::move(of);
  r.channel = std::move(channel);
  r.data_json = "1";
  r.at = 1'700'000'000'000;
  r.qos = qos;
  return r;
}

struct DispatcherTest : ::testing::Test {
  DispatcherTest() {
    directory.set(directory_with({kDevice}, 1));
    dispatcher.start();
  }
  ~DispatcherTest() override { dispatcher.stop(); }

  // Commits `records` with positions from `first` on, as the writer's hook does.
  void commit(const std::vector<platform::Record>& records, std::int64_t first) {
    std::vector<store::CommittedRecord> batch;
    for (std::size_t i = 0; i < records.size(); ++i) {
      batch.push_back({first + static_cast<std::int64_t>(i), &records[i]});
    }
    dispatcher.on_committed(batch);
  }
  void wait_watermark(std::int64_t w) {
    for (int i = 0; i < 1000 && dispatcher.watermark() < w; ++i) std::this_thread::sleep_for(5ms);
    ASSERT_EQ(dispatcher.watermark(), w);
  }

  broker::Router router;
  DirectoryHolder directory;
  std::atomic<int> reloads{0};
  Dispatcher dispatcher{router, directory, [this] { ++reloads; }, 10};
};

TEST_F(DispatcherTest, WithNobodyAttachedOnlyTheWatermarkMoves) {
  EXPECT_EQ(dispatcher.watermark(), 10);
  const std::vector<platform::Record> batch = {record(kDevice, 1), record(kDevice, 0)};
  commit(batch, 11);
  EXPECT_EQ(dispatcher.watermark(), 12) << "at once, on the committing thread";
}

TEST_F(DispatcherTest, RoutesQos12RecordsInSeqOrderAtTheGrantedQos) {
  Committed s;
  const std::int64_t d = dispatcher.attach([&] {
    router.subscribe(kAccount, "+/data/#", &s, 1);
    router.subscribe(kAccount, "+/data/two", &s, 2);
  });
  EXPECT_EQ(d, 10);
  const std::vector<platform::Record> batch = {record(kDevice, 2), record(kDevice, 0),
                                               record(kDevice, 2, "two"), record(kDevice, 1)};
  commit(batch, 11);
  const std::vector<platform::Record> more = {record(kDevice, 1, "two")};
  commit(more, 15);
  wait_watermark(15);
  const auto got = s.got();
  ASSERT_EQ(got.size(), 4u) << "the QoS 0 record is delivered at accept time";
  EXPECT_EQ(got[0].seq, 11);
  EXPECT_EQ(got[0].qos, 1) << "min(2, granted 1)";
  EXPECT_EQ(got[1].seq, 13);
  EXPECT_EQ(got[1].qos, 2) << "the highest QoS of the matching filters";
  EXPECT_EQ(got[1].topic, std::string(kDevice) + "/data/two");
  EXPECT_EQ(got[2].seq, 14);
  EXPECT_EQ(got[3].seq, 15);
  EXPECT_EQ(got[3].qos, 1);
  EXPECT_EQ(dispatcher.attached(), 1u);
  const std::int64_t w = dispatcher.detach([&] {
    router.unsubscribe(kAccount, "+/data/#", &s);
    router.unsubscribe(kAccount, "+/data/two", &s);
  });
  EXPECT_EQ(w, 15);
  EXPECT_EQ(dispatcher.attached(), 0u);
}

// Whatever a session attaching sees as D, every later record reaches it and none before: the
// records up to D are its replay's.
TEST_F(DispatcherTest, AttachSplitsTheRecordsAtTheWatermark) {
  std::atomic<bool> stop{false};
  std::vector<platform::Record> one = {record(kDevice, 1)};
  std::int64_t last = 10;
  std::thread writer([&] {
    while (!stop) {
      commit(one, ++last);
      if (last % 64 == 0) std::this_thread::sleep_for(100us);
    }
  });
  std::this_thread::sleep_for(10ms);
  Committed s;
  const std::int64_t d = dispatcher.attach([&] { router.subscribe(kAccount, "#", &s, 1); });
  std::this_thread::sleep_for(20ms);
  stop = true;
  writer.join();
  wait_watermark(last);
  const auto got = s.got();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front().seq, d + 1);
  for (std::size_t i = 1; i < got.size(); ++i) ASSERT_EQ(got[i].seq, got[i - 1].seq + 1);
  EXPECT_EQ(got.back().seq, last);
  dispatcher.detach([&] { router.unsubscribe(kAccount, "#", &s); });
}

TEST_F(DispatcherTest, ADeviceTheDirectoryLearnsLateIsWaitedFor) {
  Committed s;
  dispatcher.attach([&] { router.subscribe(kAccount, "#", &s, 1); });
  const std::string late = "dev-000000000000000000000002";
  const std::vector<platform::Record> batch = {record(late, 1)};
  commit(batch, 11);
  for (int i = 0; i < 1000 && reloads == 0; ++i) std::this_thread::sleep_for(2ms);
  EXPECT_EQ(reloads, 1) << "a rebuild was asked for";
  directory.set(directory_with({kDevice, late}, 2));
  dispatcher.directory_changed();
  wait_watermark(11);
  ASSERT_EQ(s.got().size(), 1u);
  EXPECT_EQ(s.got()[0].seq, 11);
  dispatcher.detach([&] { router.unsubscribe(kAccount, "#", &s); });
}

TEST(SessionTable, AKeyIsHeldUntilReleasedAndHandedOnInOrder) {
  SessionTable table;
  std::vector<int> order;
  table.acquire("k", [&] { order.push_back(1); });
  EXPECT_EQ(order, std::vector<int>{1}) << "free: granted at once";
  table.acquire("k", [&] { order.push_back(2); });
  table.acquire("k", [&] { order.push_back(3); });
  table.acquire("other", [&] { order.push_back(9); });
  EXPECT_EQ(order, (std::vector<int>{1, 9}));
  table.release("k");
  EXPECT_EQ(order, (std::vector<int>{1, 9, 2}));
  {
    auto handle = table.release_later("k");
    auto copy = handle;
    handle.reset();
    EXPECT_EQ(order.size(), 3u) << "released with the last copy";
  }
  EXPECT_EQ(order, (std::vector<int>{1, 9, 2, 3}));
  table.release("k");
  table.release("other");
  EXPECT_EQ(table.held(), 0u);
}

TEST(SessionTable, MaybeStored) {
  SessionTable table;
  EXPECT_FALSE(table.maybe_stored("dev-1\nc"));
  table.note_stored("dev-1\nc");
  EXPECT_TRUE(table.maybe_stored("dev-1\nc"));
  EXPECT_FALSE(table.maybe_stored("dev-1\nd"));
  table.forget("dev-1\nc");
  EXPECT_FALSE(table.maybe_stored("dev-1\nc"));
}

}  // namespace
}  // namespace plugmq::service
