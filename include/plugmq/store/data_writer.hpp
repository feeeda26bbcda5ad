// The data writer thread: every accepted record goes through it (SPEC 7).
//
// Network threads push records (and property requests) into one ordered queue; the writer
// takes everything queued, writes it in one transaction (group commit), then runs the
// completion callbacks in queue order: a QoS 1 PUBACK is sent only after its record committed
// [MQTT-4.6.0-2 keeps acknowledgements in order]. Records nobody waits for (QoS 0) are
// committed at most once per commit_interval: every commit rewrites the pages it touched into
// the WAL, so a trickle of small transactions writes tens of MB/s for a few MB/s of records.
// Anything someone waits for (a PUBACK, an HTTP reply, a property request) commits at once,
// together with what is queued before it. Records are never dropped: when the backlog
// passes the high-water mark, congested() turns true and sessions stop reading their sockets
// until it drains (when_room() tells them). Between batches the writer deletes expired records in
// small batches, and now and then the persistent sessions not seen for too long. After each commit
// it reports the records' positions (on_committed, committed_seq) to whoever follows them:
// persistent sessions (SPEC 11). Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "plugmq/base/histogram.hpp"
#include "plugmq/os/paced_vfs.hpp"
#include "plugmq/os/writeback.hpp"
#include "plugmq/platform/payload.hpp"
#include "plugmq/store/data.hpp"
#include "plugmq/store/db.hpp"
#include "plugmq/store/session_store.hpp"

namespace plugmq::store {

struct DataWriterOptions {
  std::size_t max_batch = 8192;  // records per transaction at most
  // Records without a callback wait at most this long for the next commit (0: commit at once).
  std::chrono::milliseconds commit_interval{100};
  std::size_t high_water = 50000;               // backlog at which publishers are paused
  std::chrono::milliseconds sweep_every{1000};  // how often expired records are looked for
  std::size_t sweep_batch = 2000;               // rows deleted per sweep transaction
  // Persistent sessions not seen for this many days are deleted (SessionStore::expire), looked
  // for every session_sweep_every; 0: never.
  int session_expiry_days = 30;
  std::chrono::milliseconds session_sweep_every{60000};
};

// A record the writer committed, and the position the store gave it.
struct CommittedRecord {
  std::int64_t seq;
  const platform::Record* record;  // valid during the on_committed call only
};

class DataWriter {
 public:
  // ok: the record committed (or the task ran). Called on the writer thread: keep it short and
  // non-blocking (post to an executor).
  using Done = std::function<void(bool ok)>;
  // A task runs on the writer thread, in queue order, inside no transaction.
  using Task = std::function<void(DataStore&)>;
  // The same, for persistent sessions' state (saved in order with the records before it).
  using SessionTask = std::function<void(SessionStore&)>;
  // Called on the writer thread after each commit of records, with them in seq order, before
  // their Done callbacks. Keep it short and non-blocking (post to an executor); what it throws is
  // logged and ignored. Records a task inserts are not reported.
  using OnCommitted = std::function<void(std::span<const CommittedRecord>)>;

  // Opens its own connection to `db_file` (throws Error).
  DataWriter(const std::filesystem::path& db_file, DataWriterOptions options = {});
  ~DataWriter();

  // Sets the post-commit hook (none by default: then nothing is collected for it).
  // REQUIRES: before start().
  void on_committed(OnCommitted fn) { on_committed_ = std::move(fn); }

  void start();
  // Writes everything queued, runs the pending callbacks, stops the thread. Idempotent.
  void stop();

  // Queues a record; `done` (optional) runs once it is committed. `soon`: a `done` makes it
  // commit at once, like anything someone waits for; false when whoever waits queues what commits
  // it right behind (a persistent session's save, docs/decisions/017: the record and the save
  // then go in one transaction), or the commit interval ends.
  void push(platform::Record record, Done done = {}, bool soon = true);
  // Queues a callback with no record, run in order with the records' (a PUBACK for a QoS 1
  // publish that was not stored must not overtake earlier ones).
  void push_done(Done done);
  // Queues a task (property requests): runs after everything queued before it is committed.
  void push_task(Task task);
  // Queues a task on the sessions table (a persistent session's save). It runs inside the
  // transaction of the records queued before it, so it commits with them, and unlike
  // push_task() it does not end their batch: many sessions saving every second cost ingest no
  // extra commit. `soon`: commit it at once, like a record someone waits for; else within the
  // commit interval. A failure is logged and affects nothing else. A task that never runs (the
  // writer stopped) is destroyed unrun; either way it is destroyed after its commit, so whoever
  // waits for it can hold something it releases when destroyed.
  void push_session_task(SessionTask task, bool soon = true);
  // Changes sessions.expiry_days while the writer runs (SIGHUP); 0: never. Thread-safe.
  void set_session_expiry_days(int days) {
    session_expiry_days_.store(days, std::memory_order_relaxed);
  }
  // The writer's SessionStore. REQUIRES: before start(), or on the writer thread.
  SessionStore& sessions() { return sessions_; }

  // The backlog is over the high-water mark: stop reading publishers.
  bool congested() const { return backlog_.load(std::memory_order_relaxed) > options_.high_water; }
  // Runs `room` once the backlog is no longer over the high-water mark: at once, on the calling
  // thread, when it is not now; else on the writer thread as soon as a batch brings it under
  // (and at the latest in stop() or wake_room_waiters()). Keep `room` short and non-blocking:
  // post to your own executor. Replaces polling congested() for whoever must wait for room.
  void when_room(std::function<void()> room);
  // Runs every callback waiting for room now, congested or not (the server is stopping: nobody
  // waits for the writer any more).
  void wake_room_waiters();
  std::size_t backlog() const { return backlog_.load(std::memory_order_relaxed); }

  // The highest position committed: read from the database when the writer is made, raised
  // after each batch it commits and after each task (which may have stored records, or another
  // process may have). Every record with a lower or equal seq is committed and visible to a
  // read begun afterwards: replay up to it (ReplayQuery::upto_seq).
  std::int64_t committed_seq() const { return committed_seq_.load(std::memory_order_acquire); }

  std::uint64_t written() const { return written_.load(); }
  std::uint64_t swept() const { return swept_.load(); }
  std::uint64_t failed() const { return failed_.load(); }
  // How long each transaction that wrote records or sessions took, from its BEGIN to the end of
  // its COMMIT, in seconds (plugmq_store_commit_seconds).
  const base::FixedHistogram& commit_seconds() const { return commit_seconds_; }

 private:
  struct Item {
    std::optional<platform::Record> record;
    Done done;
    Task task;
    SessionTask session;  // runs in the batch's transaction
    bool soon = false;    // of `session`: someone waits for it
    bool lazy = false;    // of a record's `done`: something queued behind it commits it
  };
  // Someone waits for this item's commit: it must not wait for the commit interval.
  static bool urgent(const Item& item) {
    return (item.done && !item.lazy) || item.task || item.soon;
  }
  void enqueue(Item item);
  enum class Next { kBatch, kSweep, kStop };
  // Waits until a batch or a sweep is due; kStop once stopping with nothing queued.
  Next wait_for_work(std::unique_lock<std::mutex>& lock);
  void run();
  // Writes items [first, last) in one transaction, then runs their callbacks in order.
  void write_batch(std::vector<Item>::iterator first, std::vector<Item>::iterator last);
  // Runs the batch's session tasks inside its transaction; a failure stays the task's.
  void run_session_tasks(std::span<Item> batch);
  // After a batch committed: the highest position, and the hook.
  void report_committed(std::int64_t last_seq);
  // The items' callbacks and tasks, in order, after their batch.
  void run_callbacks(std::span<Item> batch, bool ok);
  void sweep();
  void sweep_sessions();
  // After a batch left the backlog: runs the callbacks waiting for room when there is.
  void signal_room();
  // Inserting a batch is the writer's longest stretch of work: the 2,000 records of one
  // commit interval at 20,000 msgs/s take several ms, and the COMMIT that writes their pages
  // to the WAL about half a ms more. On a machine with few cores, the network threads and
  // clients that wake up meanwhile would wait that long for the core (the scheduler lets a
  // running thread finish its slice), and that was the whole tail of the delivery latency.
  // So the writer offers its core after each Pacer::kEvery of work, between inserts and
  // (through the paced VFS) before each page it writes, unless it is behind (more than a
  // batch queued): then catching up is what everyone waits for.
  void pace() noexcept {
    pacer_.pace(backlog_.load(std::memory_order_relaxed) <= options_.max_batch);
  }

  const DataWriterOptions options_;
  std::atomic<int> session_expiry_days_;  // options_'s, as SIGHUP changed it since
  Db db_;
  DataStore data_;
  SessionStore sessions_;
  os::Writeback wal_writeback_;  // starts the write-out of each commit's WAL pages
  std::mutex mu_;
  std::condition_variable cv_;
  // Network threads append here; the writer swaps the whole vector out, so a push only moves
  // an item into capacity the writer gave back, and never waits behind the writer's work.
  std::vector<Item> queue_;
  std::size_t queued_records_ = 0;  // records in queue_
  std::size_t urgent_ = 0;          // items in queue_ someone waits for
  bool stopping_ = false;           // stop() was called: finish the queue and exit
  bool stopped_ = false;            // the thread exits (or has): enqueue refuses
  std::atomic<std::size_t> backlog_{0};
  // Callbacks waiting for room (under mu_), and whether there are any (for the writer, which
  // then takes the lock after a batch; seq_cst with backlog_, so that a waiter that saw no
  // room is seen by the batch that makes some).
  std::vector<std::function<void()>> room_waiters_;
  std::atomic<bool> room_wanted_{false};
  std::atomic<std::uint64_t> written_{0}, swept_{0}, failed_{0};
  base::FixedHistogram commit_seconds_{
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}};
  std::atomic<std::int64_t> committed_seq_{0};
  OnCommitted on_committed_;
  std::vector<CommittedRecord> committed_;  // the batch's, for on_committed_ (writer thread)
  std::chrono::steady_clock::time_point next_sweep_;
  std::chrono::steady_clock::time_point next_session_sweep_;
  std::chrono::steady_clock::time_point last_commit_;  // when the last batch was taken
  os::Pacer pacer_;
  std::thread thread_;
};

}  // namespace plugmq::store
