// The commit-time delivery path of persistent sessions (SPEC 11; docs/decisions/017).
//
// A clean session takes every message at accept time (service::publish_record). A persistent
// session takes its QoS 0 deliveries there, and its QoS 1/2 ones here: the data writer's
// post-commit hook (store::DataWriter::on_committed) hands each committed batch over, in seq
// order, and one thread (`pq-dispatch`) routes its QoS 1/2 records through the same router;
// each session the router finds gets the record at min(record QoS, granted QoS) when that is 1
// or 2 (LiveSession::deliver_committed), with its position `seq`. Because one thread posts them
// in seq order, every persistent session receives its records in seq order, and only records
// that are durable: a session can keep a position in the records instead of a copy of them.
//
// The dispatcher holds a mutex while it routes a batch, then publishes its watermark W, the
// last seq it processed. attach() (a resumed session's filters go into the router and it reads
// W), detach() and between_batches() take the same mutex, so they happen between batches: a
// session that attached with W = D gets live every matching record after D, and replays the
// ones up to D from the store. While no session is attached, a batch costs only the watermark,
// on the writer thread.
//
// Thread-safety: every member may be called from any thread, except that on_committed() is the
// writer thread's. The functions passed to attach(), detach() and between_batches() run under
// the mutex: they may change the router and take a session's lock, and must not call back.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "plugmq/broker/router.hpp"
#include "plugmq/service/directory.hpp"
#include "plugmq/store/data_writer.hpp"

namespace plugmq::service {

class Dispatcher {
 public:
  // `start_seq`: the highest position committed before the writer starts (committed_seq()).
  // `request_reload` asks the store thread to rebuild the directory, for a record whose device
  // the snapshot does not know yet (created since).
  Dispatcher(broker::Router& router, DirectoryHolder& directory,
             std::function<void()> request_reload, std::int64_t start_seq);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  // Routes what was handed over, then stops the thread. Idempotent.
  void stop();

  // The data writer's post-commit hook: `records` in seq order.
  void on_committed(std::span<const store::CommittedRecord> records);
  // The directory was rebuilt (a record waiting for its device looks again).
  void directory_changed();

  // A persistent session comes online: `add_filters` puts its filters into the router between
  // two batches. Returns D, the watermark then: records after D reach it live.
  std::int64_t attach(const std::function<void()>& add_filters);
  // It goes: `remove_filters` takes its filters out between two batches. Returns the watermark
  // then: it was handed every matching record up to it.
  std::int64_t detach(const std::function<void()>& remove_filters);
  // Runs `fn` between two batches and returns the watermark then (a session that dropped live
  // deliveries starts buffering them again from exactly there).
  std::int64_t between_batches(const std::function<void()>& fn);

  // The watermark: every record up to it was routed to the sessions attached at the time.
  std::int64_t watermark() const { return watermark_.load(std::memory_order_acquire); }
  std::size_t attached() const;
  std::uint64_t dispatched() const { return dispatched_.load(std::memory_order_relaxed); }

 private:
  // A committed QoS 1/2 record, as the hook copies it.
  struct Item {
    std::int64_t seq;
    platform::Record record;
  };
  struct Batch {
    std::vector<Item> items;
    std::int64_t last_seq = 0;  // the batch's highest position (QoS 0 records included)
  };
  void run();
  void dispatch(Batch& batch);
  void dispatch_one(const platform::Record& r, std::int64_t seq,
                    std::shared_ptr<const Directory>& dir);
  // The device of `of` in a directory rebuilt after this call began, waiting briefly for one.
  const DeviceInfo* find_device(const std::string& of, std::shared_ptr<const Directory>& dir);

  broker::Router& router_;
  DirectoryHolder& directory_;
  std::function<void()> request_reload_;
  // Devices not found even in a rebuilt directory, of its version (dispatcher thread).
  std::unordered_set<std::string> missing_;
  std::uint64_t missing_version_ = 0;

  // Held while a batch is routed, and by attach, detach and between_batches.
  std::mutex mu_;
  // The queue of batches, the count of attached sessions and the watermark's writes.
  mutable std::mutex qmu_;
  std::condition_variable cv_;
  std::deque<Batch> queue_;
  std::size_t attached_ = 0;
  bool busy_ = false;  // the thread routes a batch it took from the queue
  bool stopping_ = false;
  std::uint64_t reloads_ = 0;  // directory_changed() calls (under qmu_)
  std::atomic<std::int64_t> watermark_;
  std::atomic<std::uint64_t> dispatched_{0};
  std::thread thread_;
};

}  // namespace plugmq::service
