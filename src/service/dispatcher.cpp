#include "plugmq/service/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "plugmq/os/thread_name.hpp"
#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/service/context.hpp"
#include "plugmq/service/publish.hpp"

namespace plugmq::service {

namespace {
// How long a record of a device the directory does not know waits for a rebuilt one.
constexpr std::chrono::seconds kDeviceWait{2};
}  // namespace

Dispatcher::Dispatcher(broker::Router& router, DirectoryHolder& directory,
                       std::function<void()> request_reload, std::int64_t start_seq)
    : router_(router),
      directory_(directory),
      request_reload_(std::move(request_reload)),
      watermark_(start_seq) {}

Dispatcher::~Dispatcher() { stop(); }

void Dispatcher::start() {
  thread_ = std::thread([this] {
    os::name_this_thread("pq-dispatch");
    run();
  });
}

void Dispatcher::stop() {
  {
    std::lock_guard lock(qmu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::on_committed(std::span<const store::CommittedRecord> records) {
  if (records.empty()) return;
  const std::int64_t last = records.back().seq;
  {
    std::lock_guard lock(qmu_);
    if (attached_ == 0 && queue_.empty() && !busy_) {
      // Nobody to route to, and nothing before it still to route: the watermark alone moves.
      watermark_.store(last, std::memory_order_release);
      return;
    }
  }
  // A copy of the QoS 1/2 records (the writer frees its own after this call), made outside
  // the lock; a session attaching meanwhile reads a watermark below this batch.
  Batch batch;
  batch.last_seq = last;
  for (const auto& c : records) {
    if (c.record->qos >= 1) batch.items.push_back({c.seq, *c.record});
  }
  {
    std::lock_guard lock(qmu_);
    queue_.push_back(std::move(batch));
  }
  cv_.notify_one();
}

void Dispatcher::directory_changed() {
  {
    std::lock_guard lock(qmu_);
    ++reloads_;
  }
  cv_.notify_all();
}

void Dispatcher::run() {
  for (;;) {
    Batch batch;
    {
      std::unique_lock lock(qmu_);
      cv_.wait(lock, [this] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;
      batch = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    std::lock_guard batch_lock(mu_);
    try {
      dispatch(batch);
    } catch (const std::exception& e) {
      if (auto t = platform::throttle_log("dispatcher: batch failed")) {
        spdlog::error("dispatcher: routing a committed batch failed: {}{}", e.what(), t->suffix());
      }
    }
    std::lock_guard lock(qmu_);
    watermark_.store(batch.last_seq, std::memory_order_release);
    busy_ = false;
  }
}

void Dispatcher::dispatch(Batch& batch) {
  {
    std::lock_guard lock(qmu_);
    if (attached_ == 0) return;  // queued while a session was attached; it left since
  }
  auto dir = directory_.get();
  for (const Item& item : batch.items) dispatch_one(item.record, item.seq, dir);
}

void Dispatcher::dispatch_one(const platform::Record& r, std::int64_t seq,
                              std::shared_ptr<const Directory>& dir) {
  const DeviceInfo* device = find_device(r.of, dir);
  if (device == nullptr) return;  // deleted: nobody may read it any more
  const platform::Target origin = device->target(r.of);
  std::string topic;
  topic.reserve(r.of.size() + 6 + r.channel.size());
  topic.append(r.of).append("/data/").append(r.channel);
  Message msg{topic, origin, nullptr, static_cast<std::uint8_t>(r.qos)};
  router_.route(origin.account_id, topic, [&](broker::Sink& s, std::uint8_t granted) {
    msg.qos = std::min(msg.publish_qos, granted);
    if (msg.qos == 0) return;  // delivered at accept time
    // Encoded once, for the first session it goes to, at QoS 0 like the accept path's.
    if (!msg.packet) msg.packet = encode_delivery(r);
    static_cast<LiveSession&>(s).deliver_committed(msg, seq);
    dispatched_.fetch_add(1, std::memory_order_relaxed);
  });
}

const DeviceInfo* Dispatcher::find_device(const std::string& of,
                                          std::shared_ptr<const Directory>& dir) {
  if (const auto* d = dir->find(of)) return d;
  if (dir->version != missing_version_) {
    missing_.clear();
    missing_version_ = dir->version;
  }
  if (missing_.count(of) != 0) return nullptr;  // not there after a rebuild either: deleted
  // A device created since the snapshot (its publisher found it in the store): the store
  // thread rebuilds the directory, and this waits for it, a moment at most.
  std::uint64_t seen;
  {
    std::lock_guard lock(qmu_);
    seen = reloads_;
  }
  if (request_reload_) request_reload_();
  {
    std::unique_lock lock(qmu_);
    cv_.wait_for(lock, kDeviceWait, [&] { return reloads_ != seen || stopping_; });
  }
  dir = directory_.get();
  const DeviceInfo* d = dir->find(of);
  if (d == nullptr) {
    missing_.insert(of);
    missing_version_ = dir->version;
  }
  return d;
}

std::int64_t Dispatcher::attach(const std::function<void()>& add_filters) {
  std::lock_guard batch_lock(mu_);
  std::int64_t d;
  {
    std::lock_guard lock(qmu_);
    ++attached_;
    d = watermark_.load(std::memory_order_relaxed);
  }
  add_filters();
  return d;
}

std::int64_t Dispatcher::detach(const std::function<void()>& remove_filters) {
  std::lock_guard batch_lock(mu_);
  remove_filters();
  std::lock_guard lock(qmu_);
  --attached_;
  return watermark_.load(std::memory_order_relaxed);
}

std::int64_t Dispatcher::between_batches(const std::function<void()>& fn) {
  std::lock_guard batch_lock(mu_);
  fn();
  return watermark_.load(std::memory_order_acquire);
}

std::size_t Dispatcher::attached() const {
  std::lock_guard lock(qmu_);
  return attached_;
}

}  // namespace plugmq::service
