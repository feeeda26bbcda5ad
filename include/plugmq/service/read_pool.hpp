// Reader threads: read-only store work (history reads, device and property lookups, login
// checks for HTTP requests) off the network threads.
//
// Why a pool of its own rather than the StoreWorker or the DataWriter: a history read may take
// milliseconds (a wildcard mask over many channels, a large offset) and an account login a
// PBKDF2 hash (tens of ms). On the StoreWorker's single thread they would queue MQTT logins and
// enrollments behind them; on the DataWriter they would stall ingest. Each reader thread has its
// own SQLite connection: in WAL mode readers never block the writer nor each other, so reads
// scale with the threads and ingest goes on meanwhile.
//
// run(f) executes f(Repos&) on some reader thread and resumes the awaiting coroutine on its own
// executor with the result (or the exception f threw). Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <filesystem>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include "plugmq/service/worker_threads.hpp"
#include "plugmq/store/data.hpp"
#include "plugmq/store/db.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::service {

class ReadPool {
 public:
  // One reader's connection and the repositories over it. Used by one thread at a time.
  struct Repos {
    explicit Repos(store::Db database)
        : db(std::move(database)), data(db), identity(db), fleet(db) {}
    store::Db db;
    store::DataStore data;
    store::Identity identity;
    store::Fleet fleet;
  };

  // Opens `threads` connections to `db_file` (throws store::Error). The schema must exist.
  ReadPool(const std::filesystem::path& db_file, unsigned threads);
  ~ReadPool();

  void start();
  // Finishes queued work, then joins the threads. Idempotent.
  void stop();

  // Not a coroutine itself (GCC 12 and by-value parameters of coroutine templates): `f` lives
  // in the spawned frame, which runs to completion on one reader thread without suspending.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F, Repos&>> run(F f) {
    using R = std::invoke_result_t<F, Repos&>;
    return boost::asio::co_spawn(
        workers_.context(),
        [f = std::move(f)]() mutable -> boost::asio::awaitable<R> { co_return f(current()); },
        boost::asio::use_awaitable);
  }

 private:
  // The calling reader thread's repositories.
  static Repos& current();

  std::vector<std::unique_ptr<Repos>> repos_;
  WorkerThreads workers_;
};

}  // namespace plugmq::service
