#include "plugmq/store/data_writer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <vector>

#include "plugmq/platform/ids.hpp"

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

}  // namespace
}  // namespace plugmq::store
