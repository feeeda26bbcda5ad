#include "plugmq/store/data_writer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "plugmq/platform/ids.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::store {
namespace {

// A database file in its own temporary directory, removed afterwards.
class TempDb {
 public:
  TempDb() {
    dir_ = std::filesystem::temp_directory_path() /
           ("plugmq-writer-" + std::to_string(getpid()) + "-" + platform::new_oid());
    std::filesystem::create_directories(dir_);
    Db::open(file());  // creates and migrates
  }
  ~TempDb() { std::filesystem::remove_all(dir_); }
  std::filesystem::path file() const { return dir_ / "plugmq.db"; }

 private:
  std::filesystem::path dir_;
};

platform::Record record(int i) {
  platform::Record r;
  r.id = platform::new_oid();
  r.of = "dev-000000000000000000000001";
  r.channel = "t";
  r.data_json = std::to_string(i);
  r.at = 1'700'000'000'000 + i;
  return r;
}

TEST(DataWriter, CallbacksRunInQueueOrderAfterCommit) {
  TempDb tmp;
  DataWriter writer(tmp.file());
  writer.start();
  constexpr int kN = 20000;
  std::vector<int> order;  // only touched on the writer thread
  std::atomic<int> ok_count{0};
  for (int i = 0; i < kN; ++i) {
    if (i % 3 == 0) {
      writer.push_done([&, i](bool ok) {  // a PUBACK for something not stored
        order.push_back(i);
        ok_count += ok;
      });
    } else {
      writer.push(record(i), [&, i](bool ok) {
        order.push_back(i);
        ok_count += ok;
      });
    }
  }
  writer.stop();
  ASSERT_EQ(order.size(), static_cast<std::size_t>(kN));
  for (int i = 0; i < kN; ++i) ASSERT_EQ(order[i], i);
  EXPECT_EQ(ok_count, kN);
  EXPECT_EQ(writer.written(), static_cast<std::uint64_t>(kN - (kN + 2) / 3));
  EXPECT_EQ(writer.failed(), 0u);
}

TEST(DataWriter, StopWritesEverythingQueued) {
  TempDb tmp;
  {
    DataWriter writer(tmp.file());
    writer.start();
    for (int i = 0; i < 5000; ++i) writer.push(record(i));
    writer.stop();  // returns only once all of it is committed
  }
  Db db = Db::open(tmp.file());
  DataStore data(db);
  EXPECT_EQ(data.count(), 5000);
}

TEST(DataWriter, TaskSeesTheRecordsQueuedBeforeIt) {
  TempDb tmp;
  DataWriter writer(tmp.file());
  writer.start();
  std::vector<std::int64_t> seen;
  for (int round = 1; round <= 3; ++round) {
    for (int i = 0; i < 1000; ++i) writer.push(record(i));
    writer.push_task([&](DataStore& data) { seen.push_back(data.count()); });
  }
  writer.stop();
  EXPECT_EQ(seen, (std::vector<std::int64_t>{1000, 2000, 3000}));
}

TEST(DataWriter, AQueueLongerThanOneBatchIsWrittenInOrderInSeveralBatches) {
  TempDb tmp;
  DataWriterOptions options;
  options.max_batch = 7;
  DataWriter writer(tmp.file(), options);
  // Queued before the thread starts: it takes all of it at once and splits it itself.
  std::vector<int> order;  // touched on the writer thread only
  std::vector<std::int64_t> seen;
  int n = 0;
  for (int part : {20, 5, 30}) {
    for (int i = 0; i < part; ++i, ++n) {
      writer.push(record(n), [&order, n](bool ok) {
        if (ok) order.push_back(n);
      });
    }
    writer.push_task([&](DataStore& data) { seen.push_back(data.count()); });
  }
  EXPECT_EQ(writer.backlog(), 58u);
  writer.start();
  writer.stop();
  EXPECT_EQ(seen, (std::vector<std::int64_t>{20, 25, 55}));
  ASSERT_EQ(order.size(), 55u);
  for (int i = 0; i < 55; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(writer.written(), 55u);
  EXPECT_EQ(writer.backlog(), 0u);
}
TEST(DataWriter, CongestedWhileTheBacklogIsOverTheHighWaterMark) {
  TempDb tmp;
  DataWriterOptions options;
  options.high_water = 100;
  DataWriter writer(tmp.file(), options);
  // Not started yet: everything stays queued, as when the disk cannot keep up.
  for (int i = 0; i < 100; ++i) writer.push(record(i));
  EXPECT_FALSE(writer.congested());
  writer.push(record(100));
  EXPECT_TRUE(writer.congested());
  writer.start();
  writer.stop();
  EXPECT_FALSE(writer.congested());
  EXPECT_EQ(writer.backlog(), 0u);
  EXPECT_EQ(writer.written(), 101u);
}

TEST(DataWriter, WhenRoomRunsAtOnceWithoutCongestion) {
  TempDb tmp;
  DataWriterOptions options;
  options.high_water = 100;
  DataWriter writer(tmp.file(), options);
  for (int i = 0; i < 100; ++i) writer.push(record(i));
  bool ran = false;
  writer.when_room([&] { ran = true; });
  EXPECT_TRUE(ran);
}

TEST(DataWriter, WhenRoomRunsOnTheWriterThreadOnceTheBacklogDrains) {
  TempDb tmp;
  DataWriterOptions options;
  options.high_water = 100;
  options.max_batch = 10;  // the backlog drains batch by batch
  DataWriter writer(tmp.file(), options);
  for (int i = 0; i < 150; ++i) writer.push(record(i));
  ASSERT_TRUE(writer.congested());
  std::promise<std::pair<std::thread::id, std::size_t>> ran;  // thread, backlog then
  int calls = 0;
  writer.when_room([&] {
    ++calls;
    ran.set_value({std::this_thread::get_id(), writer.backlog()});
  });
  auto when = ran.get_future();
  EXPECT_EQ(when.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  writer.start();
  ASSERT_EQ(when.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto [thread, backlog] = when.get();
  EXPECT_NE(thread, std::this_thread::get_id());
  EXPECT_LE(backlog, options.high_water);
  writer.stop();
  EXPECT_EQ(calls, 1);  // once
  EXPECT_EQ(writer.written(), 150u);
}

TEST(DataWriter, StopAndWakeRoomWaitersRunTheWaitingCallbacks) {
  TempDb tmp;
  DataWriterOptions options;
  options.high_water = 10;
  DataWriter writer(tmp.file(), options);
  for (int i = 0; i < 20; ++i) writer.push(record(i));
  int woken = 0;
  writer.when_room([&] { ++woken; });
  writer.wake_room_waiters();  // congested still, but nobody is to wait any more
  EXPECT_EQ(woken, 1);
  writer.when_room([&] { ++woken; });
  EXPECT_EQ(woken, 1);
  writer.stop();  // never started: nothing drains, the waiter still runs
  EXPECT_EQ(woken, 2);
  writer.when_room([&] { ++woken; });  // after stop: at once
  EXPECT_EQ(woken, 3);
}

// Polls `cond` until it holds or `limit` passes; true if it held.
bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Options with a commit interval of 2 s, and a sweep (which commits the queue too) every
// `sweep_every`.
DataWriterOptions slow_commits(std::chrono::milliseconds sweep_every) {
  DataWriterOptions options;
  options.commit_interval = std::chrono::milliseconds(2000);
  options.sweep_every = sweep_every;
  return options;
}

// Starts `writer` with a first record: nothing committed yet, it goes at once; from then on
// the commit interval runs.
void start_with_a_record(DataWriter& writer) {
  writer.start();
  writer.push(record(1));
  ASSERT_TRUE(wait_for([&] { return writer.written() == 1; }, std::chrono::seconds(10)));
}

TEST(DataWriter, RecordsWithoutCallbackWaitForTheCommitInterval) {
  TempDb tmp;
  DataWriter writer(tmp.file(), slow_commits(std::chrono::minutes(10)));
  start_with_a_record(writer);
  // The next ones wait for the interval...
  writer.push(record(2));
  writer.push(record(3));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(writer.written(), 1u);
  EXPECT_EQ(writer.backlog(), 2u);
  // ...until something someone waits for arrives: it commits at once, with them.
  std::atomic<bool> acked{false};
  writer.push(record(4), [&](bool ok) { acked = ok; });
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_for([&] { return acked.load(); }, std::chrono::seconds(10)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
  EXPECT_EQ(writer.written(), 4u);
  writer.stop();
}

// A record whose callback does not hurry its commit (push(..., soon = false): a persistent
// session's QoS 2 PUBLISH, whose save comes right behind) waits like one without a callback, and
// commits in one transaction with the urgent item queued behind it.
TEST(DataWriter, ALazyCallbackWaitsForWhatIsQueuedBehindIt) {
  TempDb tmp;
  DataWriter writer(tmp.file(), slow_commits(std::chrono::minutes(10)));
  start_with_a_record(writer);
  EXPECT_EQ(writer.commit_seconds().snapshot().count, 1u);
  std::atomic<bool> stored{false};
  const auto on_stored = [&](bool ok) { stored = ok; };
  writer.push(record(2), on_stored, /*soon=*/false);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(stored.load()) << "it waits for the commit interval";
  EXPECT_EQ(writer.written(), 1u);
  std::atomic<bool> saved{false};
  writer.push_session_task([](SessionStore&) {});
  writer.push_done([&](bool ok) { saved = ok && stored.load(); });
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(wait_for([&] { return saved.load(); }, std::chrono::seconds(10)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
  EXPECT_EQ(writer.commit_seconds().snapshot().count, 2u)
      << "the record and the session task behind it in one transaction";
  writer.stop();
}

TEST(DataWriter, SweepsDoNotCommitBeforeTheInterval) {
  TempDb tmp;
  DataWriter writer(tmp.file(), slow_commits(std::chrono::milliseconds(10)));
  start_with_a_record(writer);
  writer.push(record(2));
  // Many sweeps run meanwhile; the record still waits for its interval.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(writer.written(), 1u);
  writer.stop();
  EXPECT_EQ(writer.written(), 2u);
}

TEST(DataWriter, RecordsWithoutCallbackCommitOnceTheIntervalEnds) {
  TempDb tmp;
  DataWriterOptions options;
  options.commit_interval = std::chrono::milliseconds(100);
  DataWriter writer(tmp.file(), options);
  writer.start();
  for (int i = 0; i < 50; ++i) {
    writer.push(record(i));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // No callback, no task, no stop: the interval alone commits them.
  EXPECT_TRUE(wait_for([&] { return writer.written() == 50; }, std::chrono::seconds(10)));
  writer.stop();
}

TEST(DataWriter, StopDoesNotWaitForTheCommitInterval) {
  TempDb tmp;
  DataWriterOptions options;
  options.commit_interval = std::chrono::milliseconds(10000);
  {
    DataWriter writer(tmp.file(), options);
    writer.start();
    writer.push(record(0));
    ASSERT_TRUE(wait_for([&] { return writer.written() == 1; }, std::chrono::seconds(10)));
    for (int i = 1; i < 100; ++i) writer.push(record(i));
    const auto t0 = std::chrono::steady_clock::now();
    writer.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(5000));
    EXPECT_EQ(writer.written(), 100u);
  }
  Db db = Db::open(tmp.file());
  DataStore data(db);
  EXPECT_EQ(data.count(), 100);
}

TEST(DataWriter, PushAfterStopReportsFailureAtOnce) {
  TempDb tmp;
  DataWriter writer(tmp.file());
  writer.start();
  writer.stop();
  bool called = false, result = true;
  writer.push(record(1), [&](bool ok) {
    called = true;
    result = ok;
  });
  EXPECT_TRUE(called);
  EXPECT_FALSE(result);
}

// After each commit the hook gets the batch's records with their positions, in order and
// before their callbacks; committed_seq() follows, and starts from what is stored.
TEST(DataWriter, ReportsEachCommittedRecordsPosition) {
  TempDb tmp;
  {
    Db db = Db::open(tmp.file());
    DataStore data(db);
    data.insert(record(-1));  // seq 1, before the writer
  }
  DataWriter writer(tmp.file(), DataWriterOptions{.max_batch = 64});
  EXPECT_EQ(writer.committed_seq(), 1);
  std::vector<std::pair<std::int64_t, std::string>> reported;  // writer thread only
  std::vector<std::int64_t> seen_by_done;
  writer.on_committed([&](std::span<const CommittedRecord> records) {
    for (const auto& c : records) reported.emplace_back(c.seq, c.record->data_json);
  });
  writer.start();
  for (int i = 0; i < 300; ++i) {
    writer.push(record(i), [&](bool ok) {
      EXPECT_TRUE(ok);
      seen_by_done.push_back(static_cast<std::int64_t>(reported.size()));
    });
  }
  writer.stop();
  ASSERT_EQ(reported.size(), 300u);
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(reported[i].first, 2 + i);
    EXPECT_EQ(reported[i].second, std::to_string(i));
  }
  ASSERT_EQ(seen_by_done.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_GT(seen_by_done[i], i);  // its record reported first
  EXPECT_EQ(writer.committed_seq(), 301);
}

// A task that stores records (or another process's commit) raises committed_seq() too.
TEST(DataWriter, CommittedSeqFollowsTasks) {
  TempDb tmp;
  DataWriter writer(tmp.file());
  writer.start();
  EXPECT_EQ(writer.committed_seq(), 0);
  writer.push_task([](DataStore& data) { data.insert(record(1)); });
  writer.push(record(2));
  writer.stop();
  EXPECT_EQ(writer.committed_seq(), 2);
}

// Session tasks run in queue order on the writer's SessionStore, and the sweep deletes the
// sessions not seen for session_expiry_days.
TEST(DataWriter, SessionTasksAndTheSessionExpiry) {
  TempDb tmp;
  std::string account;
  {
    Db db = Db::open(tmp.file());
    Identity ids(db);
    account = ids.add_account("a@b.c", "secret").value().id;
  }
  DataWriterOptions options;
  options.sweep_every = std::chrono::milliseconds(10);
  options.session_sweep_every = std::chrono::milliseconds(10);
  options.session_expiry_days = 1;
  DataWriter writer(tmp.file(), options);
  writer.start();
  auto make = [&](std::string cid, std::int64_t last_seen) {
    Session s;
    s.identity = account;
    s.client_id = std::move(cid);
    s.account_id = account;
    s.last_seen = last_seen;
    return s;
  };
  std::promise<std::vector<std::string>> listed;
  writer.push_session_task([&](SessionStore& sessions) {
    ASSERT_TRUE(sessions.save(make("old", 1'000)));
    ASSERT_TRUE(sessions.save(make("new", platform::now_ms())));
  });
  ASSERT_TRUE(wait_for(
      [&] {
        std::promise<std::size_t> n;
        auto got = n.get_future();
        writer.push_session_task([&](SessionStore& s) { n.set_value(s.list().size()); });
        return got.get() == 1;
      },
      std::chrono::seconds(10)));
  writer.push_session_task([&](SessionStore& sessions) {
    std::vector<std::string> ids;
    for (const auto& s : sessions.list()) ids.push_back(s.client_id);
    listed.set_value(ids);
  });
  EXPECT_EQ(listed.get_future().get(), std::vector<std::string>{"new"});
  writer.stop();
}

// Session tasks run inside the transaction of the records before them: they do not end the
// batch, a failing one fails nothing else, and a task is destroyed after its commit.
TEST(DataWriter, SessionTasksRideInTheRecordsTransaction) {
  TempDb tmp;
  DataWriter writer(tmp.file());
  int batches = 0;  // writer thread only
  writer.on_committed([&](std::span<const CommittedRecord>) { ++batches; });
  std::atomic<std::int64_t> seen_at_destruction{-1};
  const auto file = tmp.file();
  std::shared_ptr<void> witness(nullptr, [&, file](void*) {
    Db db = Db::open(file);
    seen_at_destruction = DataStore(db).count();
  });
  bool last_ok = false;
  for (int i = 0; i < 10; ++i) {
    writer.push(record(i));
    writer.push_session_task([witness](SessionStore&) {}, false);
  }
  witness.reset();
  writer.push_session_task([](SessionStore&) { throw std::runtime_error("a failing save"); });
  writer.push(record(10), [&](bool ok) { last_ok = ok; });
  writer.start();
  writer.stop();
  EXPECT_EQ(batches, 1) << "one transaction for the records and the session tasks";
  EXPECT_TRUE(last_ok);
  EXPECT_EQ(writer.written(), 11u);
  EXPECT_EQ(seen_at_destruction, 11) << "the tasks go once their batch committed";
}

}  // namespace
}  // namespace plugmq::store
