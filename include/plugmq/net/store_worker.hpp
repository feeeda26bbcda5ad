// The store thread: owns the server's SQLite connection; network threads hand it work.
//
// run(f) executes f(Repos&) on the store thread and resumes the awaiting coroutine on its
// own executor with the result (or the exception f threw). The worker also refreshes the
// device directory when another process (an admin command) changed the database.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <functional>
#include <thread>

#include "plugmq/net/directory.hpp"
#include "plugmq/store/db.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::net {

class StoreWorker {
 public:
  // What store tasks work with: the repositories over the worker's connection.
  struct Repos {
    explicit Repos(store::Db& db) : identity(db), fleet(db) {}
    store::Identity identity;
    store::Fleet fleet;
  };

  // Opens (and migrates) the database; throws store::Error.
  StoreWorker(const std::filesystem::path& db_file, DirectoryHolder& directory,
              std::chrono::milliseconds refresh_every);
  ~StoreWorker();

  void start();
  // Finishes queued work, then stops the thread.
  void stop();

  // Not a coroutine itself: it returns co_spawn's awaitable, so `f` lives in the spawned
  // frame (GCC 12 mishandles by-value parameters of coroutine templates).
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F, Repos&>> run(F f) {
    using R = std::invoke_result_t<F, Repos&>;
    return boost::asio::co_spawn(
        ioc_,
        [this, f = std::move(f)]() mutable -> boost::asio::awaitable<R> { co_return f(repos_); },
        boost::asio::use_awaitable);
  }

  // Like run(), but first rebuilds the directory when another process changed the database
  // since the last rebuild. Logins use it: admin changes apply to new logins at once (SPEC 6),
  // including the directory entries the new session's decisions read.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F, Repos&>> run_fresh(F f) {
    return run([this, f = std::move(f)](Repos& r) mutable {
      refresh_if_changed();
      return f(r);
    });
  }

  // Runs f(Repos&) on the store thread without waiting; failures are logged.
  template <class F>
  void post(F f) {
    boost::asio::post(ioc_, [this, f = std::move(f)]() mutable {
      try {
        f(repos_);
      } catch (const std::exception& e) {
        log_failure(e);
      }
    });
  }

  // Rebuilds the directory now (store thread only), then calls the reload callback. Call it
  // after a change made on this connection (an enrollment) to see it before the next refresh.
  void reload_directory();

  // Schedules reload_directory() on the store thread (from any thread).
  void request_reload() {
    boost::asio::post(ioc_, [this] { reload_directory(); });
  }

  // Called on the store thread after every directory rebuild. Set before start().
  void on_reload(std::function<void()> callback) { on_reload_ = std::move(callback); }

 private:
  boost::asio::awaitable<void> refresh_loop();
  void refresh_if_changed();
  void checkpoint();
  std::int64_t admin_version();
  static void log_failure(const std::exception& e);

  store::Db db_;
  Repos repos_;
  std::function<void()> on_reload_;
  DirectoryHolder& directory_;
  std::chrono::milliseconds refresh_every_;
  std::int64_t seen_admin_version_ = -1;
  std::uint64_t generation_ = 0;
  boost::asio::io_context ioc_{1};
  boost::asio::steady_timer refresh_timer_{ioc_};
  std::thread thread_;
};

}  // namespace plugmq::net
