#include "plugmq/store/data_writer.hpp"

#include <spdlog/spdlog.h>

#include <cstdint>
#include <string>

#include "plugmq/platform/ids.hpp"

namespace plugmq::store {

namespace {
constexpr int kWriteAttempts = 3;  // a batch that fails this often is reported as failed
}

DataWriter::DataWriter(const std::filesystem::path& db_file, DataWriterOptions options)
    : options_(options), db_(Db::open(db_file)), data_(db_) {
  // Checkpointing in the committing thread cuts ingest by more than half (bench/README.md), so
  // the store thread runs passive checkpoints every second (net::StoreWorker). Those cannot
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
}

DataWriter::~DataWriter() { stop(); }

void DataWriter::start() {
  next_sweep_ = std::chrono::steady_clock::now() + options_.sweep_every;
  thread_ = std::thread([this] { run(); });
}

void DataWriter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  stopped_ = true;
}

void DataWriter::push(platform::Record record, Done done) {
  enqueue(Item{std::move(record), std::move(done), {}});
}

void DataWriter::push_done(Done done) { enqueue(Item{std::nullopt, std::move(done), {}}); }

void DataWriter::push_task(Task task) { enqueue(Item{std::nullopt, {}, std::move(task)}); }

void DataWriter::enqueue(Item item) {
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
    const bool is_urgent = urgent(item);
    wake = queue_.empty() || is_urgent;
    if (is_urgent) ++urgent_;
    queue_.push_back(std::move(item));
    wake = wake || queue_.size() == options_.max_batch;
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
    if (stopping_ || urgent_ > 0 || queue_.size() >= options_.max_batch || now >= due) {
      return Next::kBatch;
    }
    // A sweep does not commit the queue early: while expired records remain it runs after
    // every batch, which would turn the interval back into a commit per wake-up.
    if (now >= next_sweep_) return Next::kSweep;
    cv_.wait_until(lock, std::min(due, next_sweep_));
  }
}

void DataWriter::run() {
  std::deque<Item> batch;
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
      // Everything queued, up to max_batch records, goes into one transaction (group commit).
      // A task ends the batch: it must see the records queued before it committed.
      std::size_t records = 0;
      while (!queue_.empty() && records < options_.max_batch) {
        bool task = static_cast<bool>(queue_.front().task);
        if (queue_.front().record) ++records;
        if (urgent(queue_.front())) --urgent_;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
        if (task) break;
      }
      if (!batch.empty()) last_commit_ = std::chrono::steady_clock::now();
    }
    if (!batch.empty()) {
      write_batch(batch);
      backlog_.fetch_sub(batch.size(), std::memory_order_relaxed);
      batch.clear();
    }
    if (std::chrono::steady_clock::now() >= next_sweep_) sweep();
  }
}

void DataWriter::write_batch(std::deque<Item>& batch) {
  std::size_t records = 0;
  for (const auto& item : batch) records += item.record ? 1 : 0;
  bool ok = records == 0;
  for (int attempt = 1; !ok && attempt <= kWriteAttempts; ++attempt) {
    try {
      db_.transaction([&] {
        for (const auto& item : batch) {
          if (item.record) data_.insert(*item.record);
        }
      });
      ok = true;
    } catch (const std::exception& e) {
      spdlog::error("data writer: writing {} records failed (attempt {} of {}): {}", records,
                    attempt, kWriteAttempts, e.what());
      if (attempt < kWriteAttempts) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
      }
    }
  }
  if (ok) {
    written_ += records;
  } else {
    // Not acknowledged: QoS 1 publishers will send these again.
    failed_ += records;
  }
  // In queue order: acknowledgements never overtake each other [MQTT-4.6.0-2].
  for (auto& item : batch) {
    if (item.done) item.done(ok);
    if (item.task) {
      try {
        item.task(data_);
      } catch (const std::exception& e) {
        spdlog::error("data writer: task failed: {}", e.what());
      }
    }
  }
}

void DataWriter::sweep() {
  std::size_t n = 0;
  try {
    n = data_.delete_expired(platform::now_ms(), options_.sweep_batch);
  } catch (const std::exception& e) {
    spdlog::error("data writer: deleting expired records failed: {}", e.what());
  }
  swept_ += n;
  if (n > 0) spdlog::debug("retention: deleted {} expired records", n);
  // A full batch means more are waiting: sweep again after the next writes, not a second later.
  next_sweep_ = std::chrono::steady_clock::now() +
                (n == options_.sweep_batch ? std::chrono::milliseconds(0) : options_.sweep_every);
}

}  // namespace plugmq::store
