#include "plugmq/net/session.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "plugmq/codec/codec.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/platform/payload.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/service/publish.hpp"
#include "plugmq/store/data.hpp"
#include "plugmq/store/fleet.hpp"

namespace plugmq::net {

namespace asio = boost::asio;
using broker::EndReason;
using std::chrono::steady_clock;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kInitialReadBuffer = 4096;
// A plain session sizes its buffer to the bytes waiting, from this many: a login or a ping
// then takes a small block rather than a page, and an idle fleet's heap stays dense.
constexpr std::size_t kMinReadBuffer = 256;
constexpr std::size_t kMaxWriteBatch = 64;               // packets per gathered write
constexpr std::size_t kMaxWriteBatchBytes = 256 * 1024;  // bytes per gathered write
// The filters of a SUBSCRIBE, an UNSUBSCRIBE or a session's end are handled in turns of at most
// this many filters or filter bytes: between turns the thread runs its other sessions, so that
// a packet of 20,000 filters (or a 1 MiB one of 1-byte filters) holds it well under a
// millisecond at a time.
constexpr std::size_t kFiltersPerTurn = 256;
constexpr std::size_t kFilterBytesPerTurn = 64 * 1024;

Socket& lowest_layer(Socket& s) { return s; }
Socket& lowest_layer(TlsStream& s) { return s.next_layer(); }

template <class Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

// Logs what ended one of a session's coroutines with an exception; false when none did.
bool log_failure(std::exception_ptr e, const std::string& peer, std::string_view client_id,
                 const char* what) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::warn("{} {}: {}: {}", peer, client_id, what, x.what());
  } catch (...) {
    spdlog::warn("{} {}: {}: unknown exception", peer, client_id, what);
  }
  return true;
}

// glibc keeps freed memory for reuse, so a server that has freed a big queue (a slow subscriber
// disconnected) would go on showing it in its RSS. A session that ends with at least
// kTrimAfterBytes queued has the free pages given back (malloc_trim) kTrimDelay later, once for
// every session that ends meanwhile.
constexpr std::size_t kTrimAfterBytes = 1024 * 1024;
constexpr std::chrono::milliseconds kTrimDelay{100};

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

// Counts the filters handled in the current turn (kFiltersPerTurn).
class Turn {
 public:
  // Counts a filter of `bytes`; true when the turn is over (the next one then starts).
  bool over_after(std::size_t bytes) {
    ++filters_;
    bytes_ += bytes;
    if (filters_ < kFiltersPerTurn && bytes_ < kFilterBytesPerTurn) return false;
    filters_ = bytes_ = 0;
    return true;
  }

 private:
  std::size_t filters_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace

template <class Stream>
Session<Stream>::Session(Stream stream, service::Context& ctx, std::string peer,
                         std::shared_ptr<const void> keep)
    : keep_(std::move(keep)), stream_(std::move(stream)), ctx_(ctx), peer_(std::move(peer)) {}

template <class Stream>
Session<Stream>::~Session() = default;

template <class Stream>
void Session<Stream>::start() {
  asio::post(executor(), [self = this->shared_from_this()] { self->begin(); });
}

template <class Stream>
void Session<Stream>::begin() {
  since_ = steady_clock::now();
  ctx_.sessions.add(this);
  if (ctx_.stopping) end(EndReason::kServerShutdown);
  if (end_reason_) {
    maybe_finish();
    return;
  }
  check_watchdog();
  if constexpr (kIsTls<Stream>) {
    spawn_input();
  } else {
    arm_read();
  }
}

template <class Stream>
void Session<Stream>::arm_read() {
  // No coroutine and no buffer while waiting: the handler holds the session, nothing more.
  lowest_layer(stream_).async_wait(
      tcp::socket::wait_read,
      [self = this->shared_from_this()](const boost::system::error_code& ec) {
        if (ec || self->end_reason_) {
          self->end(EndReason::kClosedByPeer);
          self->maybe_finish();
          return;
        }
        self->read_ready();
      });
}

template <class Stream>
void Session<Stream>::read_ready() {
  if (connected_) {
    spawn_input();
    return;
  }
  // Not logged in: read with a place among the thread's logins in progress (LoginGate). The
  // wait holds the session weakly, its watchdog slot strongly (a session that is not logged in
  // always has a deadline): one that ends while it waits is gone, and gives its turn up.
  gate_waiting_ = true;
  login_gate().enter([weak = this->weak_from_this()] {
    const auto self = weak.lock();
    if (!self || self->end_reason_) return false;
    self->gate_waiting_ = false;
    self->gated_ = true;
    self->spawn_input();
    return true;
  });
}

template <class Stream>
void Session<Stream>::spawn_input() {
  reading_ = true;
  asio::co_spawn(executor(), input(), [self = this->shared_from_this()](std::exception_ptr e) {
    if (log_failure(e, self->peer_, self->client_id(), "session error")) {
      self->end(EndReason::kClosedByPeer);
    }
    self->reading_ = false;
    if (self->gated_) {
      self->gated_ = false;
      self->login_gate().leave();
    }
    self->after_input();
  });
}

template <class Stream>
void Session<Stream>::after_input() {
  bool flushing;
  {
    std::lock_guard lock(mu_);
    flushing = close_after_flush_;
  }
  if constexpr (kIsTls<Stream>) {
    end(EndReason::kClosedByPeer);  // a TLS session's input() returns at the end only
  }
  if (end_reason_ || flushing) {
    maybe_finish();
    return;
  }
  arm_read();
}

template <class Stream>
asio::awaitable<void> Session<Stream>::input() {
  if constexpr (kIsTls<Stream>) {
    // The watchdog's pre-CONNECT deadline covers the handshake: a client that never completes
    // it (or speaks plain MQTT here) is closed by then at the latest.
    auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, kUseTuple);
    if (ec) {
      const std::string key = address() + " " + ec.message();
      if (auto t = platform::throttle_log("mqtt TLS handshake failed", key)) {
        spdlog::info("{}: TLS handshake failed: {}{}", peer_, ec.message(), t->suffix());
      }
      end(EndReason::kProtocolViolation);
      co_return;
    }
    rbuf_.resize(kInitialReadBuffer);
  }
  std::size_t pending = 0;  // bytes waiting on the socket, when known
  for (;;) {
    // Backpressure: while our own outgoing queue is over its limit, stop reading, so a client
    // that never reads its replies cannot grow our memory.
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (queued_bytes_ <= ctx_.options.queue_max_bytes &&
            queue_.size() <= ctx_.options.queue_max_messages) {
          break;
        }
      }
      reader_waiting_ = true;
      auto& drained = extras().drained;  // extras_ lives as long as the session
      if (!drained) drained.emplace(executor());
      drained->expires_at(steady_clock::time_point::max());
      co_await drained->async_wait(kUseTuple);
      if (end_reason_) co_return;
    }

    // Backpressure from the store: while the data writer is behind, publishers are not read
    // (SPEC 7: records are never dropped to keep up). The writer says when it has room, on
    // the same timer as our own queue (ending the session wakes it too).
    while (publisher_ && ctx_.writer.congested() && !end_reason_) {
      auto& drained = extras().drained;
      if (!drained) drained.emplace(executor());
      drained->expires_at(steady_clock::time_point::max());
      ctx_.writer.when_room([weak = this->weak_from_this()] {
        if (auto self = weak.lock()) {
          asio::post(self->executor(), [self] { self->extras().drained->cancel(); });
        }
      });
      co_await drained->async_wait(kUseTuple);
    }
    if (end_reason_) co_return;

    if constexpr (!kIsTls<Stream>) {
      if (rbegin_ == rend_) {
        if (pending == 0) {
          boost::system::error_code avail_ec;
          pending = lowest_layer(stream_).available(avail_ec);
        }
        const std::size_t want = std::clamp(pending, kMinReadBuffer, kInitialReadBuffer);
        if (rbuf_.size() < want) rbuf_.resize(want);
      }
    }
    if (rend_ == rbuf_.size()) {
      if (rbegin_ > 0) {
        std::copy(rbuf_.begin() + rbegin_, rbuf_.begin() + rend_, rbuf_.begin());
        rend_ -= rbegin_;
        rbegin_ = 0;
      } else {
        // A packet larger than the buffer: grow, never past the largest packet allowed (the
        // decoder rejects a larger remaining length as soon as it sees the header).
        rbuf_.resize(std::min(rbuf_.size() * 2, packet_limit() + 5));
      }
    }
    auto [ec, n] = co_await stream_.async_read_some(
        asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_), kUseTuple);
    if (ec || end_reason_) {
      end(EndReason::kClosedByPeer);
      co_return;
    }
    rend_ += n;
    if (login_ == LoginKind::kDevice || login_ == LoginKind::kAccount) {
      since_ = steady_clock::now();
    }

    while (rbegin_ < rend_) {
      // The filters of a SUBSCRIBE or UNSUBSCRIBE stay in rbuf_, which is left alone until
      // on_packet() returns (an enrollment session's one SUBSCRIBE is decoded).
      const std::size_t limit = packet_limit();
      const auto filters =
          login_ == LoginKind::kEnroll ? codec::Filters::kDecoded : codec::Filters::kInPlace;
      auto r = codec::decode(std::span(rbuf_.data() + rbegin_, rend_ - rbegin_), limit, filters);
      if (r.status == codec::DecodeStatus::kNeedMore) break;
      if (r.status == codec::DecodeStatus::kError) {
        if (!connected_ && r.error == codec::DecodeError::kBadProtocol) {
          // [MQTT-3.1.2-2]: answer an unsupported protocol level with CONNACK 1, then close.
          if (auto t = platform::throttle_log("mqtt unsupported protocol", address())) {
            spdlog::info("{}: unsupported protocol name or level; CONNACK 1{}", peer_, t->suffix());
          }
          send_and_close(codec::Connack{false, codec::ConnackCode::kBadProtocolVersion},
                         EndReason::kRefused);
        } else if (r.error == codec::DecodeError::kPacketTooLarge &&
                   limit < ctx_.options.max_packet_size) {
          spdlog::info("{} {}: packet larger than any {} ({} bytes); closing", peer_, client_id(),
                       connected_ ? "enrollment SUBSCRIBE" : "CONNECT", limit);
          end(EndReason::kProtocolViolation);
        } else if (r.error == codec::DecodeError::kPacketTooLarge) {
          spdlog::warn("{} {}: packet larger than max_packet_size ({} bytes); closing", peer_,
                       client_id(), limit);
          end(EndReason::kProtocolViolation);
        } else {
          if (auto t = platform::throttle_log("mqtt malformed packet", address())) {
            spdlog::info("{} {}: malformed packet ({}); closing{}", peer_, client_id(),
                         codec::to_string(r.error), t->suffix());
          }
          end(EndReason::kProtocolViolation);
        }
        co_return;
      }
      rbegin_ += r.consumed;
      // Stops reading when the connection ends, and after a reply that closes it (the write
      // loop ends the connection once that reply is written).
      if (!co_await on_packet(r.packet, r.filters) || close_after_flush_) co_return;
    }
    if (rbegin_ == rend_) rbegin_ = rend_ = 0;
    if constexpr (!kIsTls<Stream>) {
      // More bytes already here: go on. Otherwise wait for them outside any coroutine, with
      // no buffer unless a packet is partly read.
      boost::system::error_code avail_ec;
      pending = lowest_layer(stream_).available(avail_ec);
      if (pending == 0 || avail_ec) {
        if (rbegin_ == rend_) std::vector<std::uint8_t>().swap(rbuf_);
        co_return;
      }
    }
  }
}

template <class Stream>
void Session<Stream>::spawn_writer() {
  if (finished_) return;
  writer_active_ = true;
  asio::co_spawn(executor(), write_loop(), [self = this->shared_from_this()](std::exception_ptr e) {
    if (log_failure(e, self->peer_, self->client_id(), "session error")) {
      self->write_failed_ = true;
      self->end(EndReason::kClosedByPeer);
    }
    self->writer_active_ = false;
    if (self->end_reason_) self->maybe_finish();
  });
}

template <class Stream>
asio::awaitable<void> Session<Stream>::write_loop() {
  std::vector<Packet> batch;
  std::vector<asio::const_buffer> buffers;
  std::string joined;  // TLS only
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
      drained = queued_bytes_ <= ctx_.options.queue_max_bytes / 2 &&
                queue_.size() <= ctx_.options.queue_max_messages / 2;
      if (drained) overflowing_since_ = {};
    }
    if (drained && reader_waiting_) {
      reader_waiting_ = false;
      if (extras_ && extras_->drained) extras_->drained->cancel();
    }
    buffers.clear();
    if constexpr (kIsTls<Stream>) {
      // A TLS stream writes one buffer per record: join the batch so that small packets share
      // records instead of costing one each.
      joined.clear();
      for (const auto& p : batch) joined += *p;
      buffers.emplace_back(asio::buffer(joined));
    } else {
      for (const auto& p : batch) buffers.emplace_back(asio::buffer(*p));
    }
    auto [ec, n] = co_await asio::async_write(stream_, buffers, kUseTuple);
    batch.clear();
    if (ec) {
      // writing_ stays set: no other writer starts on this connection.
      write_failed_ = true;
      end(EndReason::kClosedByPeer);
      co_return;
    }
  }
}

template <class Stream>
void Session<Stream>::check_watchdog() {
  if (end_reason_ || finished_) return;
  const auto now = steady_clock::now();
  const auto state = state_deadline(now);
  const auto slow = slow_deadline();
  const auto due = std::min(state, slow);
  if (due == steady_clock::time_point::max()) {
    watchdog().unwatch(*this);  // no deadline
    return;
  }
  if (now < due) {
    watchdog().watch(this->shared_from_this(), due);
    return;
  }
  if (now >= slow) {
    slow_deadline_passed();
  } else {
    state_deadline_passed();
  }
  maybe_finish();
}

template <class Stream>
steady_clock::time_point Session<Stream>::state_deadline(steady_clock::time_point now) {
  if (!connected_ && !connect_received_) {
    // From accept, whatever the session waits for, until its CONNECT is in. One that waits for
    // a place of the LoginGate with its whole CONNECT on the socket has sent it in time.
    const auto deadline = since_ + ctx_.options.connect_timeout;
    if (now < deadline || !gate_waiting_ || !connect_arrived()) return deadline;
    connect_received_ = true;
  }
  if (!connected_) {
    // The CONNECT is in and its credentials are being checked (account passwords are a
    // deliberately slow hash, and a login storm queues them): no deadline; look again soon.
    return now + std::chrono::milliseconds(200);
  }
  if (login_ == LoginKind::kEnroll) {
    return since_ + ctx_.options.enroll_timeout;  // whatever happens (SPEC 5)
  }
  if (keep_alive_ == 0) return steady_clock::time_point::max();
  return since_ + broker::keep_alive_limit(keep_alive_);  // [MQTT-3.1.2-24]
}

template <class Stream>
steady_clock::time_point Session<Stream>::slow_deadline() {
  std::lock_guard lock(mu_);
  if (overflowing_since_ == steady_clock::time_point{}) return steady_clock::time_point::max();
  return overflowing_since_ + ctx_.options.slow_subscriber_timeout;
}

template <class Stream>
void Session<Stream>::state_deadline_passed() {
  if (login_ == LoginKind::kEnroll) {
    spdlog::info("{} {}: enrollment session time is up", peer_, client_id());
    end(EndReason::kEnrollDone);
  } else if (connected_) {
    spdlog::info("{} {}: keep alive {} s expired", peer_, client_id(), keep_alive_);
    end(EndReason::kKeepAliveExpired);
  } else {
    if (auto t = platform::throttle_log("mqtt no CONNECT", address())) {
      spdlog::info("{}: no CONNECT within {} ms; closing{}", peer_,
                   ctx_.options.connect_timeout.count(), t->suffix());
    }
    end(EndReason::kProtocolViolation);
  }
}

template <class Stream>
void Session<Stream>::slow_deadline_passed() {
  std::uint32_t dropped;
  {
    std::lock_guard lock(mu_);
    dropped = dropped_;
  }
  // Disconnecting frees its queue (SPEC 9).
  spdlog::warn(
      "{} {}: outgoing queue over its limit for {} ms, {} messages dropped; "
      "disconnecting (slow_subscriber_timeout)",
      peer_, client_id(), ctx_.options.slow_subscriber_timeout.count(), dropped);
  end(EndReason::kSlowConsumer);
}

template <class Stream>
bool Session<Stream>::connect_arrived() {
  if constexpr (kIsTls<Stream>) {
    return false;  // not asked: a TLS session does not wait for the LoginGate
  } else {
    // The fixed header: from what input() has read of the packet, then from the socket.
    std::array<std::uint8_t, 5> head{};
    const std::size_t buffered = rend_ - rbegin_;
    std::size_t have = std::min(buffered, head.size());
    std::copy_n(rbuf_.begin() + rbegin_, have, head.begin());
    auto& socket = lowest_layer(stream_);
    if (have < head.size()) {
      const ssize_t n = ::recv(socket.native_handle(), head.data() + have, head.size() - have,
                               MSG_PEEK | MSG_DONTWAIT);
      if (n > 0) have += static_cast<std::size_t>(n);
    }
    if (have == 0 || head[0] != 0x10) return false;  // not a CONNECT (that ends it anyway)
    const std::size_t size = codec::packet_size(std::span(head.data(), have));
    boost::system::error_code ec;
    const std::size_t waiting = socket.available(ec);
    return size != 0 && size <= packet_limit() + 5 && !ec && buffered + waiting >= size;
  }
}

template <class Stream>
std::size_t Session<Stream>::packet_limit() const {
  // An enrollment session sends nothing larger than a SUBSCRIBE of one filter: packet id, the
  // filter's length and at most 65,535 bytes, its QoS.
  constexpr std::size_t kMaxEnrollPacket = 2 + 2 + 65535 + 1;
  if (login_ == LoginKind::kEnroll) return std::min(ctx_.options.max_packet_size, kMaxEnrollPacket);
  if (connected_) return ctx_.options.max_packet_size;
  return std::min(ctx_.options.max_packet_size, codec::kMaxConnectRemainingLength);
}

template <class Stream>
void Session<Stream>::maybe_finish() {
  if (finished_ || !end_reason_) return;
  bool flushing;
  {
    std::lock_guard lock(mu_);
    flushing = close_after_flush_ && !flushed_ && !write_failed_;
  }
  // Unblock whatever still runs: pending reads and writes fail, the reader's backpressure wait
  // ends. A reply that closes the connection is written first.
  if (!flushing) close_stream();
  watchdog().unwatch(*this);
  if (extras_ && extras_->drained) extras_->drained->cancel();
  if (flushing || reading_ || writer_active_) return;  // they call again when they end
  finished_ = true;
  asio::co_spawn(executor(), finish(), [self = this->shared_from_this()](std::exception_ptr e) {
    log_failure(e, self->peer_, self->client_id(), "session end");
  });
}

template <class Stream>
asio::awaitable<void> Session<Stream>::finish() {
  auto leave = detach();
  co_await std::move(leave);
  const bool logged_in = login_ == LoginKind::kDevice || login_ == LoginKind::kAccount;
  const codec::Will* will = extras_ && extras_->will ? &*extras_->will : nullptr;
  if (logged_in && will && broker::publishes_will(*end_reason_) && !ctx_.stopping) {
    try {
      store::DataWriter::Done none;
      auto op = publish_data(will->topic, will->payload, none);
      co_await std::move(op);
    } catch (const std::exception& e) {
      spdlog::warn("{} {}: will not published: {}", peer_, client_id(), e.what());
    }
  }
  close_stream();
  if (connected_) {
    spdlog::info("{} {} ({}): connection ended: {}", peer_, client_id(), identity(),
                 broker::to_string(*end_reason_));
  } else {
    spdlog::debug("{}: connection ended before login: {}", peer_, broker::to_string(*end_reason_));
  }
  ctx_.counters.connections--;
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::on_packet(codec::Packet& p,
                                                 std::span<const std::uint8_t> filters) {
  if (!connected_) {
    if (auto* c = std::get_if<codec::Connect>(&p)) {
      connect_received_ = true;
      co_return co_await on_connect(*c);
    }
    // [MQTT-3.1.0-1]
    if (auto t = platform::throttle_log("mqtt first packet", address())) {
      spdlog::info("{}: first packet is not CONNECT; closing{}", peer_, t->suffix());
    }
    end(EndReason::kProtocolViolation);
    co_return false;
  }
  if (login_ == LoginKind::kEnroll) co_return co_await on_enroll_packet(p);
  switch (codec::type_of(p)) {
    case codec::PacketType::kPublish:
      co_return co_await on_publish(std::get<codec::Publish>(p));
    case codec::PacketType::kSubscribe:
      co_return co_await on_subscribe(std::get<codec::Subscribe>(p).packet_id, filters);
    case codec::PacketType::kUnsubscribe:
      co_return co_await on_unsubscribe(std::get<codec::Unsubscribe>(p).packet_id, filters);
    case codec::PacketType::kPingreq:
      send(codec::Pingresp{});
      co_return true;
    case codec::PacketType::kPubrel:
      // QoS 2 publishes were delivered on arrival; complete the handshake.
      send(codec::Pubcomp{std::get<codec::Pubrel>(p).packet_id});
      co_return true;
    case codec::PacketType::kPuback:
    case codec::PacketType::kPubrec:
    case codec::PacketType::kPubcomp:
      co_return true;  // we only send QoS 0, so there is nothing to acknowledge; tolerate them
    case codec::PacketType::kDisconnect:
      end(EndReason::kDisconnect);  // no will [MQTT-3.14.4-3]
      co_return false;
    case codec::PacketType::kConnect:
      spdlog::info("{} {}: second CONNECT; closing", peer_, client_id());  // [MQTT-3.1.0-2]
      end(EndReason::kProtocolViolation);
      co_return false;
    default:
      spdlog::info("{} {}: client sent a server-only packet; closing", peer_, client_id());
      end(EndReason::kProtocolViolation);
      co_return false;
  }
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::on_publish(codec::Publish& p) {
  // The decoder already closed on wildcards in the topic [MQTT-3.3.2-2]. Retained messages are
  // not kept: every record is stored instead, which is how the platform replays data.
  store::DataWriter::Done done;
  if (p.qos > 0) {
    // QoS 1: PUBACK once the record is durably stored (SPEC 4). QoS 2 is acknowledged the same
    // way with PUBREC; the record was routed at once.
    codec::Packet ack = p.qos == 1 ? codec::Packet(codec::Puback{p.packet_id})
                                   : codec::Packet(codec::Pubrec{p.packet_id});
    done = [self = this->shared_from_this(), ack](bool ok) {
      if (ok) {
        self->send(ack);
      } else {
        self->close(EndReason::kStoreFailed);  // unacknowledged: the client sends it again
      }
    };
  }
  publisher_ = true;
  // Coroutine arguments are lvalues and the awaitable is named: see check_login about GCC 12.
  auto op = publish_data(p.topic, p.payload, done);
  co_await std::move(op);
  co_return true;
}

template <class Stream>
asio::awaitable<void> Session<Stream>::publish_data(const std::string& topic,
                                                    const std::string& payload,
                                                    store::DataWriter::Done& done) {
  // The publish path shared with HTTP (service/publish.hpp). A copy of the pointer: a
  // directory refresh may replace principal_ during the await.
  const auto who = principal_;
  const service::MakeReply reply_to = [this] {
    return [self = this->shared_from_this()](std::string topic, std::string payload) {
      self->reply(topic, std::move(payload));
    };
  };
  auto op =
      service::publish_message(ctx_, *who, topic, payload, reply_to, done, peer_, client_id());
  co_await std::move(op);
}

template <class Stream>
void Session<Stream>::reply(const std::string& topic, std::string payload) {
  // Replies go to this session alone, whether or not it subscribed to the topic, and are not
  // stored as data (SPEC 4).
  codec::Publish out;
  out.topic = topic;
  out.payload = std::move(payload);
  send(out);
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::on_subscribe(std::uint16_t packet_id,
                                                    std::span<const std::uint8_t> filters) {
  codec::Suback ack;
  ack.packet_id = packet_id;
  Turn turn;
  for (codec::FilterCursor at(filters, true); !at.done();) {
    std::uint8_t qos;
    const std::string_view filter = at.next(qos);
    ack.return_codes.push_back(subscribe(filter));
    if (turn.over_after(filter.size())) {
      auto pause = next_turn();  // named: see check_login about GCC 12
      if (!co_await std::move(pause)) co_return false;
    }
  }
  send(ack);
  co_return true;
}

template <class Stream>
std::uint8_t Session<Stream>::subscribe(std::string_view filter) {
  if (!codec::valid_filter(filter)) return codec::kSubackFailure;
  // Permissions are applied per message at delivery (SPEC 4), so every valid filter is
  // granted, up to max_subscriptions; QoS 0 is the highest delivered.
  auto& x = extras();
  switch (x.filters.add(filter, ctx_.options.max_subscriptions)) {
    case FilterSet::Added::kNew:
      ctx_.router.subscribe(principal_->account_id, filter, this);
      return 0;
    case FilterSet::Added::kHeld:
      return 0;
    case FilterSet::Added::kOverLimit:
      if (!std::exchange(x.limit_logged, true)) {
        spdlog::info("{} {}: {} filters held (max_subscriptions); SUBACK 0x80 for further ones",
                     peer_, client_id(), x.filters.size());
      }
      return codec::kSubackFailure;
  }
  return codec::kSubackFailure;  // unreachable
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::on_unsubscribe(std::uint16_t packet_id,
                                                      std::span<const std::uint8_t> filters) {
  Turn turn;
  for (codec::FilterCursor at(filters, false); !at.done();) {
    std::uint8_t qos;
    const std::string_view filter = at.next(qos);
    unsubscribe(filter);
    if (turn.over_after(filter.size())) {
      auto pause = next_turn();  // named: see check_login about GCC 12
      if (!co_await std::move(pause)) co_return false;
    }
  }
  send(codec::Unsuback{packet_id});
  co_return true;
}

template <class Stream>
void Session<Stream>::unsubscribe(std::string_view filter) {
  if (extras_ && extras_->filters.remove(filter)) {
    ctx_.router.unsubscribe(principal_->account_id, filter, this);
  }
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::next_turn() {
  // The awaitable is named: see check_login about GCC 12.
  auto op = asio::post(executor(), asio::use_awaitable);
  co_await std::move(op);
  co_return !end_reason_;
}

template <class Stream>
void Session<Stream>::directory_changed() {
  auto self = this->weak_from_this().lock();
  if (!self) return;
  asio::post(executor(), [self] { self->refresh_from_directory(); });
}

template <class Stream>
void Session<Stream>::refresh_from_directory() {
  if (!connected_ || end_reason_) return;
  auto dir = ctx_.directory.get();
  auto revoke = [&](const char* what) {
    spdlog::info("{} {}: {} {} is disabled; closing", peer_, client_id(), what, identity());
    close(EndReason::kRevoked);
  };
  if (login_ == LoginKind::kAccount) {
    auto it = dir->account_disabled.find(principal_->account_id);
    if (it != dir->account_disabled.end() && it->second) revoke("account");
    return;
  }
  if (login_ != LoginKind::kDevice) return;
  const service::DeviceInfo* info = dir->find(principal_->device_id);
  if (info == nullptr) return;  // created after this snapshot was taken
  if (info->disabled) {
    revoke("device");
    return;
  }
  // The new snapshot's copy; the old snapshot goes once no session holds it.
  std::shared_ptr<const platform::Principal> who(std::move(dir), info);
  std::lock_guard lock(mu_);
  principal_ = std::move(who);
}

template <class Stream>
void Session<Stream>::deliver(const broker::Message& msg) {
  std::lock_guard lock(mu_);
  if (closed_ || !service::may_receive(*principal_, msg)) return;
  if (queue_.size() >= ctx_.options.queue_max_messages ||
      queued_bytes_ + msg.packet->size() > ctx_.options.queue_max_bytes) {
    // A subscriber that cannot keep up loses QoS 0 messages; the publisher is never blocked.
    // One that stays over the limit is disconnected, which frees its queue (SPEC 9).
    if (dropped_ == 0) {
      spdlog::warn(
          "{} {}: outgoing queue full (queue_max_messages {}, queue_max_bytes {}); "
          "dropping messages",
          peer_, client_id(), ctx_.options.queue_max_messages, ctx_.options.queue_max_bytes);
    }
    if (dropped_ != UINT32_MAX) ++dropped_;
    ctx_.counters.queue_drops++;
    if (overflowing_since_ == steady_clock::time_point{}) {
      overflowing_since_ = steady_clock::now();
      // The watchdog disconnects it once slow_subscriber_timeout has passed, whether or not
      // more messages come (check_watchdog); the queue draining first clears it (write_loop).
      if (auto self = this->weak_from_this().lock()) {
        asio::post(executor(), [self] { self->check_watchdog(); });
      }
    }
    return;
  }
  queued_bytes_ += msg.packet->size();
  queue_.push_back(msg.packet);
  wake_writer_locked();
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
void Session<Stream>::send_and_close(const codec::Packet& p, EndReason why) {
  end(why);
  send(p);
  close_after_flush();
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
    self->end(why);
    self->close_stream();
    self->maybe_finish();
  });
}

template <class Stream>
void Session<Stream>::end(EndReason why) {
  if (!end_reason_) end_reason_ = why;
}

template <class Stream>
asio::awaitable<void> Session<Stream>::detach() {
  std::size_t released;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    queue_.release();
    released = std::exchange(queued_bytes_, 0);
  }
  if (released >= kTrimAfterBytes) trim_heap_soon(executor());
  if (connected_) {
    // In turns, like an UNSUBSCRIBE: a session that held many filters leaves without holding
    // up its thread. Not while the server stops: its io_context may be stopped before a later
    // turn, and the router must not keep this session.
    Turn turn;
    while (extras_ && !extras_->filters.empty()) {
      const std::string filter = extras_->filters.take_one();
      ctx_.router.unsubscribe(principal_->account_id, filter, this);
      if (turn.over_after(filter.size()) && !ctx_.stopping) {
        auto pause = next_turn();
        co_await std::move(pause);
      }
    }
    ctx_.registry.release(key_, this);
  }
  ctx_.sessions.remove(this);
}

template <class Stream>
void Session<Stream>::close_stream() {
  boost::system::error_code ignored;
  lowest_layer(stream_).shutdown(tcp::socket::shutdown_both, ignored);
  lowest_layer(stream_).close(ignored);
}

template class Session<Socket>;
template class Session<TlsStream>;

}  // namespace plugmq::net
