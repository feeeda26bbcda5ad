// A session's writing side: its queue, the gathered writes, delivery from other sessions with
// the slow-consumer policy (QoS 1/2 deliveries handed to the session thread's connection),
// closing from any thread, and following the directory's changes.
#include <malloc.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "plugmq/codec/codec.hpp"
#include "plugmq/service/publish.hpp"
#include "session.hpp"
#include "session_io.hpp"
#include "session_util.hpp"

namespace plugmq::net {

namespace asio = boost::asio;
using broker::EndReason;
using std::chrono::steady_clock;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kMaxWriteBatch = 64;               // packets per gathered write
constexpr std::size_t kMaxWriteBatchBytes = 256 * 1024;  // bytes per gathered write
constexpr std::chrono::milliseconds kTrimDelay{100};

}  // namespace

void trim_heap_soon(const IoExecutor& ex) {
  static std::atomic<bool> pending{false};
  if (pending.exchange(true)) return;  // the coming trim covers this one
  auto timer = std::make_shared<Timer>(ex, kTrimDelay);
  timer->async_wait([timer](const boost::system::error_code& ec) {
    if (ec) return;
    pending = false;  // first: memory freed during the trim asks for another
#ifdef __GLIBC__
    malloc_trim(0);
#endif
  });
}

template <class Stream>
void Session<Stream>::spawn_writer() {
  if (finished_) return;
  writer_active_ = true;
  asio::co_spawn(executor(), write_loop(), [self = this->shared_from_this()](std::exception_ptr e) {
    if (log_failure(e, self->peer_, self->client_id(), "session error")) {
      self->write_failed_ = true;
      self->conn_.end(EndReason::kClosedByPeer);
    }
    self->writer_active_ = false;
    if (self->conn_.closing()) self->maybe_finish();
  });
}

template <class Stream>
asio::awaitable<void> Session<Stream>::write_loop() {
  std::vector<Packet> batch;
  std::vector<asio::const_buffer> buffers;
  std::string joined;  // Transport::kJoinWrites only
  for (;;) {
    bool drained = false;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) {
        // Idle connections are most of a fleet: the writer ends, with its buffers, and the
        // next packet queued starts another (wake_writer_locked).
        writing_ = false;
        flushed_ = close_after_flush_;
        co_return;
      }
      std::size_t bytes = 0;
      while (!queue_.empty() && batch.size() < kMaxWriteBatch && bytes < kMaxWriteBatchBytes) {
        batch.push_back(queue_.take_front());
        bytes += batch.back()->size();
      }
      queued_bytes_ -= bytes;
      drained = under_half_locked();
      if (drained) overflowing_since_ = {};
    }
    if (drained && reader_waiting_) {
      reader_waiting_ = false;
      if (drained_) drained_->cancel();
    }
    buffers.clear();
    if constexpr (Transport::kJoinWrites) {
      joined.clear();
      for (const auto& p : batch) joined += *p;
      buffers.emplace_back(asio::buffer(joined));
    } else {
      for (const auto& p : batch) buffers.emplace_back(asio::buffer(*p));
    }
    count_sent(batch);
    auto write = Transport::write(stream_, buffers, kUseTuple);
    auto [ec, n] = co_await std::move(write);
    batch.clear();
    if (ec) {
      // writing_ stays set: no other writer starts on this connection.
      write_failed_ = true;
      conn_.end(EndReason::kClosedByPeer);
      co_return;
    }
  }
}

template <class Stream>
void Session<Stream>::count_sent(const std::vector<Packet>& batch) {
  // plugmq_messages_delivered_total{qos} and the bytes out: a PUBLISH is type 3 in its first
  // byte's high nibble, its QoS in bits 1-2.
  std::array<std::uint64_t, 3> by_qos{};
  std::uint64_t bytes = 0;
  for (const auto& p : batch) {
    bytes += p->size();
    const auto first = static_cast<unsigned char>(p->front());
    if ((first >> 4) == 3) ++by_qos[std::min((first >> 1) & 3u, 2u)];
  }
  auto& m = ctx_.metrics;
  m.add(service::Metrics::kBytesOut, bytes);
  if (by_qos[0]) m.add(service::Metrics::kDelivered0, by_qos[0]);
  if (by_qos[1]) m.add(service::Metrics::kDelivered1, by_qos[1]);
  if (by_qos[2]) m.add(service::Metrics::kDelivered2, by_qos[2]);
}

template <class Stream>
void Session<Stream>::deliver(const service::Message& msg) {
  std::lock_guard lock(mu_);
  // A persistent session's QoS 1/2 messages come after commit (deliver_committed).
  if (closed_ || (persistent_ && msg.qos > 0) || !service::may_receive(*principal_, msg)) return;
  if (over_limit_locked(msg.packet->size())) return drop_locked();
  if (msg.qos == 0 && (!handoff_ || handoff_->clear())) {
    // QoS 0: the shared packet is queued as it is.
    queued_bytes_ += msg.packet->size();
    queue_.push_back(msg.packet);
    wake_writer_locked();
    return;
  }
  hand_off_locked(msg);
}

template <class Stream>
bool Session<Stream>::over_limit_locked(std::size_t size) const {
  std::size_t messages = queue_.size();
  std::size_t bytes = queued_bytes_;
  if (handoff_) {
    messages += handoff_->pending_messages;
    bytes += handoff_->pending_bytes;
  }
  return messages >= ctx_.live.queue_max_messages.get() || bytes + size > ctx_.live.queue_max_bytes.get();
}

template <class Stream>
bool Session<Stream>::under_half_locked() const {
  std::size_t messages = queue_.size();
  std::size_t bytes = queued_bytes_;
  if (handoff_) {
    messages += handoff_->pending_messages;
    bytes += handoff_->pending_bytes;
  }
  return bytes <= ctx_.live.queue_max_bytes.get() / 2 &&
         messages <= ctx_.live.queue_max_messages.get() / 2;
}

template <class Stream>
void Session<Stream>::drop_locked() {
  // A subscriber that cannot keep up (or does not acknowledge its QoS 1/2 messages) loses new
  // messages; the publisher is never blocked. One that stays over the limit is disconnected,
  // which frees its queue (SPEC 9).
  if (dropped_ == 0) {
    spdlog::warn(
        "{} {}: outgoing queue full (queue_max_messages {}, queue_max_bytes {}); "
        "dropping messages",
        peer_, client_id(), ctx_.live.queue_max_messages.get(), ctx_.live.queue_max_bytes.get());
  }
  if (dropped_ != UINT32_MAX) ++dropped_;
  ctx_.metrics.add(service::Metrics::kDroppedQueue);
  if (overflowing_since_ == steady_clock::time_point{}) {
    overflowing_since_ = steady_clock::now();
    // The watchdog disconnects it once slow_subscriber_timeout has passed, whether or not
    // more messages come (check_watchdog); the queue draining first clears it (write_loop,
    // acknowledged).
    if (auto self = this->weak_from_this().lock()) {
      asio::post(executor(), [self] { self->check_watchdog(); });
    }
  }
}

template <class Stream>
void Session<Stream>::hand_off_locked(const service::Message& msg, std::int64_t seq) {
  // Deliveries come from any thread, under the router's lock: the connection (the session
  // thread's) takes them from the inbox, which one post wakes.
  if (!handoff_) handoff_ = std::make_unique<Handoff>();
  Handoff& h = *handoff_;
  ++h.pending_messages;
  h.pending_bytes += msg.packet->size();
  h.inbox.push_back({msg.packet, msg.qos, seq});
  if (h.inbox.size() == 1 && !h.taking) {
    asio::post(executor(), [self = this->shared_from_this()] { self->take_inbox(); });
  }
}

template <class Stream>
void Session<Stream>::take_inbox() {
  std::vector<broker::Outgoing> batch;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (!handoff_) return;  // detached
      // A persistent session that ended keeps what it did not take: its position is saved
      // before them.
      if (handoff_->inbox.empty() || (persist_ && conn_.closing())) {
        handoff_->taking = false;
        return;
      }
      batch.swap(handoff_->inbox);
      handoff_->taking = true;
    }
    Io io(*this);
    for (auto& m : batch) {
      if (m.qos == 0) {
        send_handed_off(std::move(m.packet));
      } else {
        if (persist_ && m.seq > persist_->last_delivered) persist_->last_delivered = m.seq;
        conn_.deliver(std::move(m), io);  // sent through the window (Io::send_publish)
      }
    }
    batch.clear();
  }
}

template <class Stream>
void Session<Stream>::send_handed_off(Packet p) {
  std::lock_guard lock(mu_);
  if (closed_ || !handoff_) return;
  --handoff_->pending_messages;
  handoff_->pending_bytes -= p->size();
  queued_bytes_ += p->size();
  queue_.push_back(std::move(p));
  wake_writer_locked();
}

template <class Stream>
void Session<Stream>::acknowledged(std::size_t bytes) {
  std::lock_guard lock(mu_);
  if (!handoff_) return;
  Handoff& h = *handoff_;
  h.pending_messages -= std::min<std::size_t>(h.pending_messages, 1);
  h.pending_bytes -= std::min(h.pending_bytes, bytes);
  if (under_half_locked()) overflowing_since_ = {};
  if (h.pending_messages == 0 && h.clear()) handoff_.reset();  // between bursts: nothing held
}

template <class Stream>
store::DataWriter::Done Session<Stream>::ack_when_stored(codec::Packet ack) {
  return [self = this->shared_from_this(), ack = std::move(ack)](bool ok) {
    if (ok) {
      self->send(ack);
    } else {
      self->close(EndReason::kStoreFailed);  // unacknowledged: the client sends it again
    }
  };
}

template <class Stream>
void Session<Stream>::send(Packet p) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  queued_bytes_ += p->size();
  queue_.push_back(std::move(p));
  wake_writer_locked();
}

template <class Stream>
void Session<Stream>::send(const codec::Packet& p) {
  auto bytes = std::make_shared<std::string>();
  codec::encode(p, *bytes);
  send(Packet(std::move(bytes)));
}

template <class Stream>
void Session<Stream>::close_after_flush() {
  std::lock_guard lock(mu_);
  close_after_flush_ = true;
  wake_writer_locked();
}

template <class Stream>
void Session<Stream>::wake_writer_locked() {
  if (writing_) return;
  writing_ = true;
  // The writer runs on the session's executor; this may be another thread.
  asio::post(executor(), [self = this->shared_from_this()] { self->spawn_writer(); });
}

template <class Stream>
void Session<Stream>::close(EndReason why) {
  auto self = this->weak_from_this().lock();
  if (!self) return;
  asio::post(executor(), [self, why] {
    self->conn_.end(why);
    self->close_stream();
    self->maybe_finish();
  });
}

template <class Stream>
void Session<Stream>::close_stream() {
  boost::system::error_code ignored;
  Transport::socket(stream_).shutdown(tcp::socket::shutdown_both, ignored);
  Transport::socket(stream_).close(ignored);
}

template <class Stream>
void Session<Stream>::directory_changed() {
  auto self = this->weak_from_this().lock();
  if (!self) return;
  asio::post(executor(), [self] { self->refresh_from_directory(); });
}

template <class Stream>
void Session<Stream>::refresh_from_directory() {
  if (conn_.phase() != broker::Phase::kConnected) return;
  auto dir = ctx_.directory.get();
  auto revoke = [&](const char* what, const char* how) {
    spdlog::info("{} {}: {} {} is {}; closing", peer_, client_id(), what, identity(), how);
    close(EndReason::kRevoked);
  };
  // Every snapshot taken since the login (which refreshed it: StoreExecutor::run_fresh) holds
  // the session's identity, unless it was deleted since (an admin command, the HTTP API).
  if (conn_.role() == broker::Role::kAccount) {
    auto it = dir->account_disabled.find(principal_->account_id);
    if (it == dir->account_disabled.end()) {
      revoke("account", "deleted");
    } else if (it->second) {
      revoke("account", "disabled");
    }
    return;
  }
  const service::DeviceInfo* info = dir->find(principal_->device_id);
  if (info == nullptr || info->disabled) {
    revoke("device", info == nullptr ? "deleted" : "disabled");
    return;
  }
  // Its auth codes were revoked since the login (SPEC 5: plugmq device set --revoke-auth).
  if (info->auth_revoked != principal_->auth_revoked) {
    revoke("device", "no longer logged in: its auth codes were revoked");
    return;
  }
  // The new snapshot's copy; the old snapshot goes once no session holds it.
  std::shared_ptr<const platform::Principal> who(std::move(dir), info);
  std::lock_guard lock(mu_);
  principal_ = std::move(who);
}

#define PLUGMQ_SESSION_WRITE(S)                                                     \
  template void Session<S>::spawn_writer();                                         \
  template asio::awaitable<void> Session<S>::write_loop();                          \
  template void Session<S>::count_sent(const std::vector<Packet>&);                 \
  template void Session<S>::deliver(const service::Message&);                       \
  template bool Session<S>::over_limit_locked(std::size_t) const;                   \
  template bool Session<S>::under_half_locked() const;                              \
  template void Session<S>::drop_locked();                                          \
  template void Session<S>::hand_off_locked(const service::Message&, std::int64_t); \
  template void Session<S>::take_inbox();                                           \
  template void Session<S>::send_handed_off(Packet);                                \
  template void Session<S>::acknowledged(std::size_t);                              \
  template store::DataWriter::Done Session<S>::ack_when_stored(codec::Packet);      \
  template void Session<S>::send(Packet);                                           \
  template void Session<S>::send(const codec::Packet&);                             \
  template void Session<S>::close_after_flush();                                    \
  template void Session<S>::wake_writer_locked();                                   \
  template void Session<S>::close(EndReason);                                       \
  template void Session<S>::close_stream();                                         \
  template void Session<S>::directory_changed();                                    \
  template void Session<S>::refresh_from_directory();
PLUGMQ_SESSION_WRITE(Socket)
PLUGMQ_SESSION_WRITE(TlsStream)
PLUGMQ_SESSION_WRITE(WsStream)
PLUGMQ_SESSION_WRITE(WssStream)
#undef PLUGMQ_SESSION_WRITE

}  // namespace plugmq::net
