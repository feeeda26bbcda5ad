#include "plugmq/store/data_writer.hpp"

#include <spdlog/spdlog.h>

#include <cstdint>
#include <span>
#include <string>

#include "plugmq/os/thread_name.hpp"
#include "plugmq/os/thread_priority.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/log_throttle.hpp"

namespace plugmq::store {

namespace {
constexpr int kWriteAttempts = 3;  // a batch that fails this often is reported as failed
}

DataWriter::DataWriter(const std::filesystem::path& db_file, DataWriterOptions options)
    : options_(options),
      session_expiry_days_(options.session_expiry_days),
      db_(Db::open(db_file)),
      data_(db_),
      sessions_(db_),
      wal_writeback_(db_file.string() + "-wal") {
  // Checkpointing in the committing thread halves ingest (docs/decisions/004-store-layout.md), so
  // the store thread runs passive checkpoints every second (service::StoreExecutor). Those cannot
  // reset the WAL while this thread appends without pause, so this connection still
  // checkpoints itself once the WAL passes 64 MiB (in pages of this database's size): that
  // bounds the WAL under sustained load. After a reset the file is truncated back to 64 MiB.
  constexpr std::int64_t kWalBytes = 64 << 20;
  std::int64_t page = 4096;
  {
    Stmt s = db_.prepare("PRAGMA page_size");
    if (s.step() && s.int64(0) > 0) page = s.int64(0);
  }
  db_.exec("PRAGMA wal_autocheckpoint=" + std::to_string(kWalBytes / page));
  db_.exec("PRAGMA journal_size_limit=" + std::to_string(kWalBytes));
  committed_seq_.store(data_.last_seq());
}

DataWriter::~DataWriter() { stop(); }

void DataWriter::start() {
  next_sweep_ = std::chrono::steady_clock::now() + options_.sweep_every;
  next_session_sweep_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this] {
    os::name_this_thread("pq-writer");
    os::set_write_pacer([](void* self) noexcept { static_cast<DataWriter*>(self)->pace(); }, this);
    run();
  });
}

void DataWriter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  wake_room_waiters();
}

void DataWriter::when_room(std::function<void()> room) {
  {
    std::lock_guard lock(mu_);
    if (!stopped_) {
      // Before reading the backlog: a batch that drains it after this read sees the flag.
      room_wanted_.store(true);
      if (backlog_.load() > options_.high_water) {
        room_waiters_.push_back(std::move(room));
        return;
      }
      room_wanted_.store(!room_waiters_.empty());
    }
  }
  room();
}

void DataWriter::wake_room_waiters() {
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard lock(mu_);
    waiters.swap(room_waiters_);
    room_wanted_.store(false);
  }
  for (auto& room : waiters) room();
}

void DataWriter::signal_room() {
  if (!room_wanted_.load() || congested()) return;
  wake_room_waiters();
}

void DataWriter::push(platform::Record record, Done done, bool soon) {
  Item item{std::move(record), std::move(done), {}};
  item.lazy = !soon;
  enqueue(std::move(item));
}

void DataWriter::push_done(Done done) { enqueue(Item{std::nullopt, std::move(done), {}}); }

void DataWriter::push_task(Task task) { enqueue(Item{std::nullopt, {}, std::move(task)}); }

void DataWriter::push_session_task(SessionTask task, bool soon) {
  Item item;
  item.session = std::move(task);
  item.soon = soon;
  enqueue(std::move(item));
}

void DataWriter::enqueue(Item item) {
  const bool is_urgent = urgent(item);
  const bool is_record = item.record.has_value();
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      // Stopped: nothing will run it. Only reachable after shutdown.
      if (item.done) item.done(false);
      return;
    }
    // The writer sleeps with an empty queue (anything wakes it) or until the commit interval
    // ends (only an urgent item or a full batch shortens that).
    wake = queue_.empty() || is_urgent;
    if (is_urgent) ++urgent_;
    if (is_record) ++queued_records_;
    queue_.push_back(std::move(item));
    wake = wake || queued_records_ == options_.max_batch;
    backlog_.fetch_add(1, std::memory_order_relaxed);
  }
  if (wake) cv_.notify_one();
}

DataWriter::Next DataWriter::wait_for_work(std::unique_lock<std::mutex>& lock) {
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (queue_.empty()) {
      if (stopping_) {
        // Under the lock: an item queued from now on is refused, never left unrun.
        stopped_ = true;
        return Next::kStop;
      }
      if (now >= next_sweep_) return Next::kSweep;
      cv_.wait_until(lock, next_sweep_);
      continue;
    }
    const auto due = last_commit_ + options_.commit_interval;
    if (stopping_ || urgent_ > 0 || queued_records_ >= options_.max_batch || now >= due) {
      return Next::kBatch;
    }
    // A sweep does not commit the queue early: while expired records remain it runs after
    // every batch, which would turn the interval back into a commit per wake-up.
    if (now >= next_sweep_) return Next::kSweep;
    cv_.wait_until(lock, std::min(due, next_sweep_));
  }
}

void DataWriter::run() {
  // In the background while it keeps up (os/thread_priority.hpp): a network thread that
  // wakes up during a batch gets the core at once. Behind, it takes its full share again.
  os::ThreadPriority priority;
  bool stuck_reported = false;
  const auto update_priority = [&] {
    const bool behind = backlog_.load(std::memory_order_relaxed) > options_.max_batch;
    if (!priority.set_background(!behind) && priority.background() && !stuck_reported) {
      stuck_reported = true;
      spdlog::warn("data writer: the system refused to restore its priority; it stays lowered");
    }
  };
  std::vector<Item> taken;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      const Next next = wait_for_work(lock);
      if (next == Next::kStop) break;
      if (next == Next::kSweep) {
        lock.unlock();
        sweep();
        continue;
      }
      // Everything queued is taken at once; the queue continues in the capacity of the
      // previous round's vector.
      taken.swap(queue_);
      queued_records_ = 0;
      urgent_ = 0;
      last_commit_ = std::chrono::steady_clock::now();
    }
    // Up to max_batch records go into one transaction (group commit). A task ends its batch:
    // it must see the records queued before it committed.
    auto first = taken.begin();
    while (first != taken.end()) {
      auto last = first;
      std::size_t records = 0;
      while (last != taken.end() && records < options_.max_batch) {
        const bool task = static_cast<bool>(last->task);
        if (last->record) ++records;
        ++last;
        if (task) break;
      }
      update_priority();
      write_batch(first, last);
      backlog_.fetch_sub(static_cast<std::size_t>(last - first));
      signal_room();
      first = last;
    }
    // The records are freed here, outside the lock. A vector grown by a burst is not kept.
    taken.clear();
    if (taken.capacity() > 2 * options_.max_batch) std::vector<Item>().swap(taken);
    if (std::chrono::steady_clock::now() >= next_sweep_) sweep();
  }
}

void DataWriter::write_batch(std::vector<Item>::iterator first, std::vector<Item>::iterator last) {
  const std::span batch(first, last);
  std::size_t records = 0;
  std::size_t sessions = 0;
  for (const auto& item : batch) {
    records += item.record ? 1 : 0;
    sessions += item.session ? 1 : 0;
  }
  bool ok = records == 0 && sessions == 0;
  std::int64_t last_seq = 0;
  for (int attempt = 1; !ok && attempt <= kWriteAttempts; ++attempt) {
    try {
      committed_.clear();
      const auto began = std::chrono::steady_clock::now();
      db_.transaction([&] {
        pacer_.restart();
        for (const auto& item : batch) {
          if (!item.record) continue;
          last_seq = data_.insert(*item.record);
          if (on_committed_) committed_.push_back({last_seq, &*item.record});
          pace();
        }
        if (sessions > 0) run_session_tasks(batch);
      });
      ok = true;
      commit_seconds_.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
      wal_writeback_.kick();
    } catch (const std::exception& e) {
      if (auto t = platform::throttle_log("data writer: write failed")) {
        spdlog::error("data writer: writing {} records failed (attempt {} of {}): {}{}", records,
                      attempt, kWriteAttempts, e.what(), t->suffix());
      }
      if (attempt < kWriteAttempts) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
      }
    }
  }
  if (ok) {
    written_ += records;
    if (records > 0) report_committed(last_seq);
  } else {
    // Not acknowledged: QoS 1 publishers will send these again.
    failed_ += records;
  }
  run_callbacks(batch, ok);
}

void DataWriter::run_session_tasks(std::span<Item> batch) {
  for (auto& item : batch) {
    if (!item.session) continue;
    try {
      item.session(sessions_);  // SessionStore writes in a savepoint: a failure undoes its own
    } catch (const std::exception& e) {
      if (auto t = platform::throttle_log("data writer: session task failed")) {
        spdlog::error("data writer: session task failed: {}{}", e.what(), t->suffix());
      }
    }
  }
}

void DataWriter::report_committed(std::int64_t last_seq) {
  if (last_seq > committed_seq_.load(std::memory_order_relaxed)) {
    committed_seq_.store(last_seq, std::memory_order_release);
  }
  if (!on_committed_ || committed_.empty()) return;
  try {
    on_committed_(committed_);
  } catch (const std::exception& e) {
    if (auto t = platform::throttle_log("data writer: on_committed failed")) {
      spdlog::error("data writer: the post-commit hook failed: {}{}", e.what(), t->suffix());
    }
  }
  committed_.clear();
}

void DataWriter::run_callbacks(std::span<Item> batch, bool ok) {
  // In queue order: acknowledgements never overtake each other [MQTT-4.6.0-2].
  for (auto& item : batch) {
    if (item.done) item.done(ok);
    if (!item.task) continue;
    try {
      item.task(data_);
      // A task may have stored records (or another process may have): raise the position.
      const std::int64_t stored = data_.last_seq();
      if (stored > committed_seq_.load(std::memory_order_relaxed)) {
        committed_seq_.store(stored, std::memory_order_release);
      }
    } catch (const std::exception& e) {
      if (auto t = platform::throttle_log("data writer: task failed")) {
        spdlog::error("data writer: task failed: {}{}", e.what(), t->suffix());
      }
    }
  }
}

void DataWriter::sweep() {
  std::size_t n = 0;
  try {
    n = data_.delete_expired(platform::now_ms(), options_.sweep_batch);
    if (n > 0) wal_writeback_.kick();
  } catch (const std::exception& e) {
    if (auto t = platform::throttle_log("data writer: sweep failed")) {
      spdlog::error("data writer: deleting expired records failed: {}{}", e.what(), t->suffix());
    }
  }
  swept_ += n;
  if (n > 0) spdlog::debug("retention: deleted {} expired records", n);
  sweep_sessions();
  // A full batch means more are waiting: sweep again after the next writes, not a second later.
  next_sweep_ = std::chrono::steady_clock::now() +
                (n == options_.sweep_batch ? std::chrono::milliseconds(0) : options_.sweep_every);
}

void DataWriter::sweep_sessions() {
  const auto now = std::chrono::steady_clock::now();
  const int days = session_expiry_days_.load(std::memory_order_relaxed);
  if (days <= 0 || now < next_session_sweep_) return;
  next_session_sweep_ = now + options_.session_sweep_every;
  try {
    const std::int64_t n = sessions_.expire(days, platform::now_ms());
    if (n > 0) {
      spdlog::info("sessions: deleted {} persistent sessions not seen for {} days (expiry_days)", n,
                   days);
    }
  } catch (const std::exception& e) {
    if (auto t = platform::throttle_log("data writer: session sweep failed")) {
      spdlog::error("data writer: deleting expired sessions failed: {}{}", e.what(), t->suffix());
    }
  }
}

}  // namespace plugmq::store
