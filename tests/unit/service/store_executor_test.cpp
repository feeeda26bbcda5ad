#include "plugmq/service/store_executor.hpp"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "temp_dir.hpp"

namespace plugmq::service {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

std::string thread_name() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

class StoreExecutorTest : public ::testing::Test {
 protected:
  StoreExecutorTest() { start(2); }

  void start(unsigned read_threads) {
    exec_.reset();
    // No timed refresh during a test: run_fresh and request_reload are what rebuild.
    exec_.emplace(db_file(), directory_, std::chrono::milliseconds(10'000), read_threads);
    exec_->on_reload([this] { ++reloads_; });
    exec_->start();
  }

  std::filesystem::path db_file() const { return dir_.path() / "plugmq.db"; }

  // Runs `a` on this thread until it completes; rethrows what it threw.
  template <class T>
  T run_here(asio::awaitable<T> a) {
    asio::io_context ioc;
    auto done = asio::co_spawn(ioc, std::move(a), asio::use_future);
    ioc.run();
    return done.get();
  }

  plugmq::testing::TempDir dir_;
  DirectoryHolder directory_;
  std::atomic<int> reloads_{0};
  std::optional<StoreExecutor> exec_;
};

struct Where {
  std::string ran_on;
  std::thread::id resumed_on;
};

TEST_F(StoreExecutorTest, RunsOnTheStoreThreadAndResumesOnTheCallersThread) {
  auto where = run_here([this]() -> asio::awaitable<Where> {
    auto op = exec_->run([](StoreExecutor::Repos&) { return thread_name(); });
    std::string ran_on = co_await std::move(op);
    co_return Where{ran_on, std::this_thread::get_id()};
  }());
  EXPECT_EQ(where.ran_on, "pq-store");
  EXPECT_EQ(where.resumed_on, std::this_thread::get_id());
}

TEST_F(StoreExecutorTest, ReadsRunOnReaderThreadsAndResumeOnTheCallersThread) {
  auto where = run_here([this]() -> asio::awaitable<Where> {
    auto op = exec_->read([](StoreExecutor::ReadRepos&) { return thread_name(); });
    std::string ran_on = co_await std::move(op);
    co_return Where{ran_on, std::this_thread::get_id()};
  }());
  EXPECT_TRUE(where.ran_on == "pq-read-0" || where.ran_on == "pq-read-1") << where.ran_on;
  EXPECT_EQ(where.resumed_on, std::this_thread::get_id());
}

TEST_F(StoreExecutorTest, TasksSeeTheDatabase) {
  auto accounts = run_here([this]() -> asio::awaitable<std::size_t> {
    auto op = exec_->run([](StoreExecutor::Repos& r) { return r.identity.accounts().size(); });
    co_return co_await std::move(op);
  }());
  auto read = run_here([this]() -> asio::awaitable<std::size_t> {
    auto op = exec_->read([](StoreExecutor::ReadRepos& r) {
      r.data.properties().raw("nobody");
      return r.identity.accounts().size();
    });
    co_return co_await std::move(op);
  }());
  EXPECT_EQ(accounts, 0u);
  EXPECT_EQ(read, 0u);
}

TEST_F(StoreExecutorTest, ExceptionsReachTheCaller) {
  auto caught = run_here([this]() -> asio::awaitable<int> {
    int n = 0;
    try {
      auto op = exec_->run([](StoreExecutor::Repos&) -> int { throw std::runtime_error("run"); });
      co_await std::move(op);
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()) == "run") ++n;
    }
    try {
      auto op = exec_->run([](StoreExecutor::Repos&) { throw std::runtime_error("void"); });
      co_await std::move(op);
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()) == "void") ++n;
    }
    try {
      auto op = exec_->read(
          [](StoreExecutor::ReadRepos&) -> std::string { throw std::runtime_error("read"); });
      co_await std::move(op);
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()) == "read") ++n;
    }
    co_return n;
  }());
  EXPECT_EQ(caught, 3);
}

TEST_F(StoreExecutorTest, PostRunsInOrderAndAFailureStopsNothing) {
  auto seen = std::make_shared<std::atomic<int>>(0);
  exec_->post([](StoreExecutor::Repos&) { throw std::runtime_error("logged"); });
  exec_->post([seen](StoreExecutor::Repos&) { *seen = 1; });
  auto after = run_here([this, seen]() -> asio::awaitable<int> {
    auto op = exec_->run([seen](StoreExecutor::Repos&) { return seen->load(); });
    co_return co_await std::move(op);
  }());
  EXPECT_EQ(after, 1);
}

// A store task that waits for a read finishes only if reads run beside it; two reads that wait
// for each other finish only if the pool runs them at once.
TEST_F(StoreExecutorTest, ReadsRunWhileTheStoreThreadIsBusy) {
  std::promise<void> read_ran, first, second;
  auto read_future = read_ran.get_future();
  auto first_ran = first.get_future();
  auto second_ran = second.get_future();
  auto waits_for = [](std::future<void>& f) {
    return f.wait_for(10s) == std::future_status::ready;
  };
  auto store_task = exec_->run([&](StoreExecutor::Repos&) { return waits_for(read_future); });
  auto read_a = exec_->read([&](StoreExecutor::ReadRepos&) {
    first.set_value();
    return waits_for(second_ran);
  });
  auto read_b = exec_->read([&](StoreExecutor::ReadRepos&) {
    second.set_value();
    const bool both = waits_for(first_ran);
    read_ran.set_value();
    return both;
  });
  // Awaited side by side: each operation starts when its coroutine first runs.
  asio::io_context ioc;
  auto blocked = asio::co_spawn(ioc, std::move(store_task), asio::use_future);
  auto a = asio::co_spawn(ioc, std::move(read_a), asio::use_future);
  auto b = asio::co_spawn(ioc, std::move(read_b), asio::use_future);
  ioc.run();
  EXPECT_TRUE(blocked.get());
  EXPECT_TRUE(a.get());
  EXPECT_TRUE(b.get());
}

TEST_F(StoreExecutorTest, RunFreshRebuildsTheDirectoryAfterAnOutsideChange) {
  const auto before = directory_.get()->version;
  const int reloads_before = reloads_;
  {
    auto other = store::Db::open(db_file());
    other.exec("UPDATE admin_version SET n = n + 1");
  }
  auto version = run_here([this]() -> asio::awaitable<std::uint64_t> {
    auto op = exec_->run_fresh([this](StoreExecutor::Repos&) { return directory_.get()->version; });
    co_return co_await std::move(op);
  }());
  EXPECT_GT(version, before);
  EXPECT_GT(reloads_.load(), reloads_before);
}

TEST_F(StoreExecutorTest, RequestReloadRebuildsOnTheStoreThread) {
  std::promise<std::string> reloaded_on;
  auto name = reloaded_on.get_future();
  exec_->stop();
  exec_.reset();
  exec_.emplace(db_file(), directory_, std::chrono::milliseconds(10'000), 1);
  exec_->on_reload([&reloaded_on] { reloaded_on.set_value(thread_name()); });
  exec_->start();
  exec_->request_reload();
  ASSERT_EQ(name.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(name.get(), "pq-store");
}

TEST_F(StoreExecutorTest, StopFinishesQueuedWorkAndIsIdempotent) {
  auto done = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < 100; ++i) exec_->post([done](StoreExecutor::Repos&) { ++*done; });
  exec_->stop();
  EXPECT_EQ(done->load(), 100);
  exec_->stop();
}

TEST_F(StoreExecutorTest, StopEndsARefreshWhoseTimerHasAlreadyFired) {
  // The refresh timer fires while the store thread is busy, so its completion is queued when
  // stop() asks for the cancel: a cancel() reaches no pending wait then, and the loop must still
  // end rather than wait again (it used to: the process hung at SIGTERM).
  exec_.reset();
  exec_.emplace(db_file(), directory_, std::chrono::milliseconds(1), 1);
  exec_->start();
  std::promise<void> release;
  auto released = release.get_future().share();
  std::promise<void> busy;
  exec_->post([released, &busy](StoreExecutor::Repos&) {
    busy.set_value();
    released.wait();
  });
  busy.get_future().wait();
  std::this_thread::sleep_for(20ms);  // the 1 ms refresh timer expires meanwhile
  auto stopped = std::async(std::launch::async, [this] { exec_->stop(); });
  std::this_thread::sleep_for(20ms);  // stop() has posted its cancel behind the busy task
  release.set_value();
  if (stopped.wait_for(5s) != std::future_status::ready) {
    ADD_FAILURE() << "StoreExecutor::stop() did not return: the refresh loop waits again";
    std::fflush(nullptr);
    std::_Exit(1);  // the store thread never ends: nothing to join
  }
}

TEST_F(StoreExecutorTest, AtLeastOneReader) {
  start(0);
  auto name = run_here([this]() -> asio::awaitable<std::string> {
    auto op = exec_->read([](StoreExecutor::ReadRepos&) { return thread_name(); });
    co_return co_await std::move(op);
  }());
  EXPECT_EQ(name, "pq-read-0");
}

}  // namespace
}  // namespace plugmq::service
