// Services shared by every session of a server. Thread-safe as a whole.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "plugmq/base/live.hpp"
#include "plugmq/broker/connection.hpp"
#include "plugmq/broker/registry.hpp"
#include "plugmq/broker/router.hpp"
#include "plugmq/service/attempt.hpp"
#include "plugmq/service/directory.hpp"
#include "plugmq/service/dispatcher.hpp"
#include "plugmq/service/hash_pool.hpp"
#include "plugmq/service/message.hpp"
#include "plugmq/service/metrics.hpp"
#include "plugmq/service/options.hpp"
#include "plugmq/service/rate_limiter.hpp"
#include "plugmq/service/session_table.hpp"
#include "plugmq/service/store_executor.hpp"
#include "plugmq/store/data_writer.hpp"

namespace plugmq::service {

struct Counters {
  std::atomic<std::uint64_t> connections{0};     // open now
  std::atomic<std::uint64_t> accepted{0};        // since start
  std::atomic<std::uint64_t> refused{0};         // over max_connections
  std::atomic<std::uint64_t> enrolled{0};        // successful enrollments
  std::atomic<std::uint64_t> prop_requests{0};   // ag/prop/set and ag/prop/get
  std::atomic<std::uint64_t> enroll_failed{0};   // failed enrollments
  std::atomic<std::uint64_t> replayed{0};        // messages replayed to persistent sessions
  std::atomic<std::uint64_t> replay_skipped{0};  // past sessions.max_replay: not replayed
};

// A connection as the server sees it: a subscriber that also follows admin changes.
class LiveSession : public broker::Sink {
 public:
  // A message the router matched to one of this session's filters: checked (may_receive) and
  // queued, or dropped. Called from the publishing thread under the router's shared lock:
  // thread-safe, never blocks.
  virtual void deliver(const Message& msg) = 0;
  // A committed record for a persistent session at msg.qos 1 or 2, with its position `seq`
  // (service::Dispatcher, one thread, in seq order, under the router's shared lock): checked and
  // queued, or kept for later in the store. A clean session takes nothing here.
  virtual void deliver_committed(const Message& msg, std::int64_t seq) {
    static_cast<void>(msg);
    static_cast<void>(seq);
  }
  // The device directory was rebuilt: re-read this session's permissions and status (SPEC 6:
  // changes reach live sessions within 5 s). Any thread; returns at once.
  virtual void directory_changed() = 0;

 private:
  friend class SessionSet;
  // The SessionSet's links (under its lock): a list through the sessions themselves, so
  // that being in it allocates nothing.
  LiveSession* prev_ = nullptr;
  LiveSession* next_ = nullptr;
};

// Every live session, so that shutdown and directory changes reach them all. A session
// leaves (remove) before it is destroyed, and calls made under the lock only schedule work.
class SessionSet {
 public:
  void add(LiveSession* s) {
    std::lock_guard lock(mu_);
    if (listed(s)) return;
    s->prev_ = nullptr;
    s->next_ = head_;
    if (head_ != nullptr) head_->prev_ = s;
    head_ = s;
    ++size_;
  }
  void remove(LiveSession* s) {
    std::lock_guard lock(mu_);
    if (!listed(s)) return;
    if (s->prev_ != nullptr) {
      s->prev_->next_ = s->next_;
    } else {
      head_ = s->next_;
    }
    if (s->next_ != nullptr) s->next_->prev_ = s->prev_;
    s->prev_ = s->next_ = nullptr;
    --size_;
  }
  void close_all(broker::EndReason why) {
    std::lock_guard lock(mu_);
    for (auto* s = head_; s != nullptr; s = s->next_) s->close(why);
  }
  void directory_changed() {
    std::lock_guard lock(mu_);
    for (auto* s = head_; s != nullptr; s = s->next_) s->directory_changed();
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return size_;
  }

 private:
  // REQUIRES: mu_ held.
  bool listed(const LiveSession* s) const { return s->prev_ != nullptr || head_ == s; }

  mutable std::mutex mu_;
  LiveSession* head_ = nullptr;
  std::size_t size_ = 0;
};

struct Context {
  static store::DataWriterOptions writer_options(const ServerOptions& o) {
    store::DataWriterOptions w;
    w.commit_interval = o.commit_interval;
    w.session_expiry_days = o.session_expiry_days;
    return w;
  }

  explicit Context(ServerOptions o)
      : options(std::move(o)),
        connection_limits{options.max_packet_size, options.max_subscriptions,
                          options.connect_timeout, options.enroll_timeout, options.max_inflight},
        live{options.max_connections, options.queue_max_messages, options.queue_max_bytes,
             options.slow_subscriber_timeout, options.max_replay,
             base::LiveShared<std::vector<std::string>>(options.http.cors_origins),
             base::LiveShared<std::string>(options.http.metrics_token)},
        store(options.data_dir / "plugmq.db", directory, options.directory_refresh,
              options.read_threads),
        writer(options.data_dir / "plugmq.db", writer_options(options)),
        enroll_per_address(options.enroll_attempts_per_minute, std::chrono::minutes(1)),
        enroll_per_serial(options.enroll_attempts_per_minute, std::chrono::minutes(1)),
        login_per_address(options.login_failures_per_address, std::chrono::minutes(1)),
        login_per_identity(options.login_failures_per_identity, std::chrono::minutes(1)),
        hashes(options.hash_threads, options.max_queued_hashes),
        dispatcher(
            router, directory, [this] { store.request_reload(); }, writer.committed_seq()) {
    store.on_reload([this] {
      sessions.directory_changed();
      dispatcher.directory_changed();
    });
    writer.on_committed([this](std::span<const store::CommittedRecord> records) {
      dispatcher.on_committed(records);
    });
    load_stored_sessions();
    mark_devices_offline("server starting");
  }

  // The limits of enrollments (MQTT and HTTP share them) and of logins (service/attempt.hpp).
  AttemptLimits enroll_limits() { return {enroll_per_address, enroll_per_serial}; }
  AttemptLimits login_limits() { return {login_per_address, login_per_identity}; }
  // Refuses the attempts waiting for a place in a limit (the server is stopping).
  void cancel_waiting_attempts() {
    for (auto* l :
         {&enroll_per_address, &enroll_per_serial, &login_per_address, &login_per_identity}) {
      l->cancel_waiting();
    }
  }

  // The keys of the stored persistent sessions, which are all offline now (session_table),
  // after those not seen for sessions.expiry_days are deleted (the writer's sweep does that
  // every minute from then on). REQUIRES: the writer not started.
  void load_stored_sessions();

  // Makes the settings that may change while the server runs follow `o` (SIGHUP): the
  // connection limits, `live`, the attempt limits and the session expiry. Thread-safe.
  void apply_live(const ServerOptions& o);

  // Marks every device offline in the database (store::Identity::all_devices_offline), on the
  // store thread after the work queued there: as the server starts (before any login) and
  // once its connections have ended. `when` is for the log.
  void mark_devices_offline(const char* when);

  // A connection that admit() counted has ended: its session calls this once, as it ends.
  void connection_ended(Listener from) {
    metrics.closed(from);
    if (counters.connections.fetch_sub(1) != 1) return;
    std::lock_guard lock(connections_mu_);
    no_connections_.notify_all();
  }
  // Waits until no connection is open, or until `deadline`; whether none is.
  bool wait_no_connections(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(connections_mu_);
    return no_connections_.wait_until(lock, deadline, [this] { return counters.connections == 0; });
  }

  const ServerOptions options;  // as started; those that may change since are below
  // What every MQTT connection follows (broker::Connection).
  broker::ConnectionLimits connection_limits;
  // The other options SIGHUP may change (apply_live): read these, not `options`.
  struct Live {
    base::Live<std::size_t> max_connections;
    base::Live<std::size_t> queue_max_messages;
    base::Live<std::size_t> queue_max_bytes;
    base::Live<std::chrono::milliseconds> slow_subscriber_timeout;
    base::Live<std::int64_t> max_replay;
    base::LiveShared<std::vector<std::string>> cors_origins;
    base::LiveShared<std::string> metrics_token;
  } live;
  DirectoryHolder directory;
  StoreExecutor store;       // identities (logins, enrollment, the directory); HTTP reads
  store::DataWriter writer;  // data records and properties
  broker::Router router;
  broker::Registry registry;
  RateLimiter enroll_per_address;  // failed enrollments per client address
  RateLimiter enroll_per_serial;   // ... per serial (MODEL/HWID)
  RateLimiter login_per_address;   // failed logins per client address
  RateLimiter login_per_identity;  // ... per account or password prototype
  HashPool hashes;                 // people's passwords are checked here
  // Persistent sessions: their commit-time deliveries, and their keys.
  Dispatcher dispatcher;
  SessionTable session_table;
  SessionSet sessions;
  Counters counters;
  Metrics metrics;  // GET /metrics
  std::atomic<bool> stopping{false};

 private:
  // Signalled when the last open connection ends (connection_ended, wait_no_connections).
  std::mutex connections_mu_;
  std::condition_variable no_connections_;
};

}  // namespace plugmq::service
