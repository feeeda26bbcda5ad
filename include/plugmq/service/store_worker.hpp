// The store thread: owns the server's SQLite connection; network threads hand it work.
//
// run(f) executes f(Repos&) on the store thread and resumes the awaiting coroutine on its
// own executor with the result (or the exception f threw). The worker also refreshes the
// device directory when another process (an admin command) changed the database.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>
#include <type_traits>

#include "plugmq/service/directory.hpp"
#include "plugmq/store/db.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::service {

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

  // An asynchronous operation, not a coroutine: a login storm holds a closure and a result
  // per waiting call, rather than coroutine frames on both threads. The caller's coroutine
  // resumes on its own executor.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F, Repos&>> run(F f) {
    using R = std::invoke_result_t<F, Repos&>;
    if constexpr (std::is_void_v<R>) {
      return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                         void(std::exception_ptr)>(
          Initiate{this}, boost::asio::use_awaitable, std::move(f));
    } else {
      return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                         void(std::exception_ptr, R)>(
          Initiate{this}, boost::asio::use_awaitable, std::move(f));
    }
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
  // run(): calls f on the store thread, then completes the handler on its own executor with
  // the exception f threw, or with its result.
  struct Initiate {
    StoreWorker* worker;
    template <class Handler, class F>
    void operator()(Handler handler, F f) const {
      auto home = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                      boost::asio::execution::outstanding_work.tracked);
      boost::asio::post(worker->ioc_, [w = worker, f = std::move(f), handler = std::move(handler),
                                       home = std::move(home)]() mutable {
        using R = std::invoke_result_t<F&, Repos&>;
        std::exception_ptr error;
        if constexpr (std::is_void_v<R>) {
          try {
            f(w->repos_);
          } catch (...) {
            error = std::current_exception();
          }
          boost::asio::dispatch(
              home, [handler = std::move(handler), error]() mutable { std::move(handler)(error); });
        } else {
          std::optional<R> result;
          try {
            result.emplace(f(w->repos_));
          } catch (...) {
            error = std::current_exception();
          }
          boost::asio::dispatch(
              home, [handler = std::move(handler), error, result = std::move(result)]() mutable {
                std::move(handler)(error, result ? std::move(*result) : R{});
              });
        }
      });
    }
  };

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

}  // namespace plugmq::service
