// Where the network threads' store work runs: the store thread and the reader threads, each
// with SQLite connections of their own, so that SQLite never runs on a network thread.
//
// - The store thread (`pq-store`, run / run_fresh / post) owns the server's identity
//   connection: logins, lookups, enrollments and the other identity changes run there one at a
//   time. It also keeps the device directory: it rebuilds it when another process (an admin
//   command) changed the database, and checkpoints the WAL once a refresh period.
// - The reader threads (`pq-read-N`, read) run read-only work for HTTP requests: history
//   reads, device and property lookups, HTTP login checks. A history read may take milliseconds
//   (a wildcard mask over many channels, a large offset) and an account login a PBKDF2 hash
//   check; on the store thread they would queue MQTT logins and enrollments behind them, and on
//   the data writer (store::DataWriter) they would stall ingest. Each reader has a connection
//   of its own: in WAL mode readers never block the writer nor each other, so reads scale with
//   the threads and ingest goes on meanwhile.
//
// run and read are asynchronous operations, not spawned coroutines: a login storm holds a
// closure and a result per waiting call, rather than coroutine frames on both threads
// (docs/decisions/007). The awaiting coroutine resumes on its own executor with what f returned
// or the exception f threw.
//
// Thread-safety: run, run_fresh, post, read and request_reload may be called from any thread;
// reload_directory only from a store task. on_reload, start and stop from the owner's thread.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "plugmq/service/directory.hpp"
#include "plugmq/service/worker_threads.hpp"
#include "plugmq/store/data.hpp"
#include "plugmq/store/db.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"
#include "plugmq/store/session_store.hpp"

namespace plugmq::service {

class StoreExecutor {
 public:
  // What a store-thread task works with: the identity repositories over the store thread's
  // connection.
  struct Repos {
    explicit Repos(store::Db& db) : identity(db), fleet(db), sessions(db) {}
    store::Identity identity;
    store::Fleet fleet;
    store::SessionStore sessions;  // persistent sessions (saved by the data writer)
  };
  // What a read works with: the same over the running reader's own connection, and the data
  // records (read only: data and property writes go to the data writer).
  struct ReadRepos : Repos {
    explicit ReadRepos(store::Db& db) : Repos(db), data(db) {}
    store::DataStore data;
  };

  // Opens (and migrates) the store thread's connection and `read_threads` reader connections
  // (at least one) to `db_file`, and builds the first directory into `directory`, which must
  // outlive this. Throws store::Error.
  StoreExecutor(const std::filesystem::path& db_file, DirectoryHolder& directory,
                std::chrono::milliseconds refresh_every, unsigned read_threads);
  ~StoreExecutor();
  StoreExecutor(const StoreExecutor&) = delete;
  StoreExecutor& operator=(const StoreExecutor&) = delete;

  // Starts the store thread, its directory refresh and the reader threads. Once.
  void start();
  // Finishes the queued work, then stops all the threads. Idempotent.
  void stop();

  // Runs f(Repos&) on the store thread.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F, Repos&>> run(F f) {
    return complete_on_caller(serial_.context(), StoreRepos{this}, std::move(f));
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
    boost::asio::post(serial_.context(), [this, f = std::move(f)]() mutable {
      try {
        f(store_->repos);
      } catch (const std::exception& e) {
        log_failure(e);
      }
    });
  }

  // Runs f(ReadRepos&) on some reader thread, concurrently with the store thread and the other
  // reads. f must not write.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F, ReadRepos&>> read(F f) {
    return complete_on_caller(readers_.context(), ReaderRepos{}, std::move(f));
  }

  // Rebuilds the directory now (store thread only), then calls the reload callback. Call it
  // after a change made on this connection (an enrollment) to see it before the next refresh.
  void reload_directory();

  // Schedules reload_directory() on the store thread (from any thread).
  void request_reload() {
    boost::asio::post(serial_.context(), [this] { reload_directory(); });
  }

  // Called on the store thread after every directory rebuild. Set before start().
  void on_reload(std::function<void()> callback) { on_reload_ = std::move(callback); }

 private:
  // A connection and the repositories over it, used by one thread.
  template <class R>
  struct Connection {
    explicit Connection(const std::filesystem::path& db_file)
        : db(store::Db::open(db_file)), repos(db) {}
    store::Db db;
    R repos;
  };

  // Where a task finds its repositories, called on the thread that runs it. Pointer-sized, as
  // it travels with every waiting call.
  struct StoreRepos {
    StoreExecutor* self;
    Repos& operator()() const { return self->store_->repos; }
  };
  struct ReaderRepos {
    ReadRepos& operator()() const { return current_reader(); }
  };

  // Calls f(locate()) on `where`, then completes the handler on its own executor with the
  // exception f threw, or with its result.
  struct Initiate {
    boost::asio::io_context* where;
    template <class Handler, class Locate, class F>
    void operator()(Handler handler, Locate locate, F f) const {
      auto home = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                      boost::asio::execution::outstanding_work.tracked);
      boost::asio::post(*where, [locate, f = std::move(f), handler = std::move(handler),
                                 home = std::move(home)]() mutable {
        using R = std::invoke_result_t<F&, decltype(locate())>;
        std::exception_ptr error;
        if constexpr (std::is_void_v<R>) {
          try {
            f(locate());
          } catch (...) {
            error = std::current_exception();
          }
          boost::asio::dispatch(
              home, [handler = std::move(handler), error]() mutable { std::move(handler)(error); });
        } else {
          std::optional<R> result;
          try {
            result.emplace(f(locate()));
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

  template <class Locate, class F>
  static boost::asio::awaitable<std::invoke_result_t<F, decltype(std::declval<Locate>()())>>
  complete_on_caller(boost::asio::io_context& where, Locate locate, F f) {
    using R = std::invoke_result_t<F, decltype(locate())>;
    if constexpr (std::is_void_v<R>) {
      return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                         void(std::exception_ptr)>(
          Initiate{&where}, boost::asio::use_awaitable, locate, std::move(f));
    } else {
      return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                         void(std::exception_ptr, R)>(
          Initiate{&where}, boost::asio::use_awaitable, locate, std::move(f));
    }
  }

  // The calling reader thread's repositories.
  static ReadRepos& current_reader();

  boost::asio::awaitable<void> refresh_loop();
  void refresh_if_changed();
  void checkpoint();
  std::int64_t admin_version();
  static void log_failure(const std::exception& e);

  std::unique_ptr<Connection<Repos>> store_;
  std::vector<std::unique_ptr<Connection<ReadRepos>>> reader_connections_;
  std::function<void()> on_reload_;
  DirectoryHolder& directory_;
  std::chrono::milliseconds refresh_every_;
  std::int64_t seen_admin_version_ = -1;
  std::uint64_t generation_ = 0;
  bool started_ = false;
  bool stopping_ = false;  // the store thread's: the refresh loop ends at its next wake
  WorkerThreads serial_{1, WorkerThreads::Naming::kPlain};
  WorkerThreads readers_;
  boost::asio::steady_timer refresh_timer_{serial_.context()};
};

}  // namespace plugmq::service
