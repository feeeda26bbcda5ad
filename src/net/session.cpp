// A session's life and its reading side: start, the idle wait, input() feeding the connection,
// the watchdog, and the end. Writing and delivery are in session_write.cpp; what the connection
// asks for in session_io.cpp; logins and enrollments in session_login.cpp.
#include "session.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "plugmq/codec/codec.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/log_throttle.hpp"
#include "session_io.hpp"
#include "session_util.hpp"

namespace plugmq::net {

namespace asio = boost::asio;
using broker::EndReason;
using std::chrono::steady_clock;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kInitialReadBuffer = 4096;
// A session that waits idle sizes its buffer to the bytes waiting, from this many: a login or a
// ping then takes a small block rather than a page, and an idle fleet's heap stays dense.
constexpr std::size_t kMinReadBuffer = 256;

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
  conn_.on_accepted(steady_clock::now());
  ctx_.sessions.add(this);
  if (ctx_.stopping) conn_.end(EndReason::kServerShutdown);
  if (conn_.closing()) {
    maybe_finish();
    return;
  }
  check_watchdog();
  if constexpr (Transport::kIdleWait) {
    arm_read();
  } else {
    spawn_input();
  }
}

template <class Stream>
void Session<Stream>::arm_read() {
  // No coroutine and no buffer while waiting: the handler holds the session, nothing more.
  Transport::socket(stream_).async_wait(
      tcp::socket::wait_read,
      [self = this->shared_from_this()](const boost::system::error_code& ec) {
        if (ec || self->conn_.closing()) {
          self->conn_.end(EndReason::kClosedByPeer);
          self->maybe_finish();
          return;
        }
        self->read_ready();
      });
}

template <class Stream>
void Session<Stream>::read_ready() {
  if (conn_.role() != broker::Role::kNone) {
    spawn_input();
    return;
  }
  // Not logged in: read with a place among the thread's logins in progress (LoginGate). The
  // wait holds the session weakly, its watchdog slot strongly (a session that is not logged in
  // always has a deadline): one that ends while it waits is gone, and gives its turn up.
  gate_waiting_ = true;
  login_gate().enter([weak = this->weak_from_this()] {
    const auto self = weak.lock();
    if (!self || self->conn_.closing()) return false;
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
      self->conn_.end(EndReason::kClosedByPeer);
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
  if constexpr (!Transport::kIdleWait) {
    conn_.end(EndReason::kClosedByPeer);  // such a session's input() returns at the end only
  }
  if (conn_.closing() || flushing) {
    maybe_finish();
    return;
  }
  arm_read();
}

template <class Stream>
asio::awaitable<void> Session<Stream>::input() {
  if constexpr (Transport::kHandshake) {
    // The watchdog's pre-CONNECT deadline covers the handshake: a client that never completes
    // it (or speaks plain MQTT here) is closed by then at the latest.
    auto shake = Transport::handshake(stream_, kUseTuple);
    auto [ec] = co_await std::move(shake);
    if (ec) {
      const std::string key = address() + " " + ec.message();
      if (auto t = platform::throttle_log("mqtt TLS handshake failed", key)) {
        spdlog::info("{}: TLS handshake failed: {}{}", peer_, ec.message(), t->suffix());
      }
      conn_.end(EndReason::kProtocolViolation);
      co_return;
    }
  }
  if constexpr (!Transport::kIdleWait) rbuf_.resize(kInitialReadBuffer);
  const auto& limits = ctx_.connection_limits;
  std::size_t pending = 0;  // bytes waiting on the socket, when known
  for (;;) {
    auto wait = backpressure();
    if (!co_await std::move(wait)) co_return;
    make_room(pending, limits);
    auto read = stream_.async_read_some(asio::buffer(rbuf_.data() + rend_, rbuf_.size() - rend_),
                                        kUseTuple);
    auto [ec, n] = co_await std::move(read);
    if (ec || conn_.closing()) {
      conn_.end(EndReason::kClosedByPeer);
      co_return;
    }
    if constexpr (Transport::kMessages) {
      if (!Transport::binary(stream_)) {
        // [MQTT-6.0.0-1] Packets come in binary messages only: a text message (or any other)
        // closes the connection, with the reason in the close frame.
        if (auto t = platform::throttle_log("mqtt websocket text", address())) {
          spdlog::info("{}: WebSocket text message: MQTT takes binary messages only; closing{}",
                       peer_, t->suffix());
        }
        conn_.end(EndReason::kProtocolViolation);
        auto refuse = Transport::close(stream_, websocket::close_code::unknown_data,
                                       "MQTT over WebSocket takes binary messages only", kUseTuple);
        co_await std::move(refuse);
        co_return;
      }
    }
    rend_ += static_cast<std::uint32_t>(n);
    ctx_.metrics.add(service::Metrics::kBytesIn, n);
    conn_.on_bytes(steady_clock::now());
    auto apply = apply_buffered();
    if (!co_await std::move(apply)) co_return;
    if (rbegin_ == rend_) rbegin_ = rend_ = 0;
    if constexpr (Transport::kIdleWait) {
      // More bytes already here: go on. Otherwise wait for them outside any coroutine, with
      // no buffer unless a packet is partly read.
      boost::system::error_code avail_ec;
      pending = Transport::socket(stream_).available(avail_ec);
      if (pending == 0 || avail_ec) {
        if (rbegin_ == rend_) std::vector<std::uint8_t>().swap(rbuf_);
        co_return;
      }
    }
  }
}

template <class Stream>
void Session<Stream>::make_room(std::size_t pending, const broker::ConnectionLimits& limits) {
  if constexpr (Transport::kIdleWait) {
    if (rbegin_ == rend_) {
      if (pending == 0) {
        boost::system::error_code avail_ec;
        pending = Transport::socket(stream_).available(avail_ec);
      }
      const std::size_t want = std::clamp(pending, kMinReadBuffer, kInitialReadBuffer);
      if (rbuf_.size() < want) rbuf_.resize(want);
    }
  }
  if (rend_ < rbuf_.size()) return;
  if (rbegin_ > 0) {
    std::copy(rbuf_.begin() + rbegin_, rbuf_.begin() + rend_, rbuf_.begin());
    rend_ -= rbegin_;
    rbegin_ = 0;
  } else {
    // A packet larger than the buffer: grow, never past the largest packet allowed (the
    // decoder rejects a larger remaining length as soon as it sees the header).
    rbuf_.resize(std::min(rbuf_.size() * 2, conn_.packet_limit(limits) + 5));
  }
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::backpressure() {
  // While our own outgoing queue is over its limit, stop reading, so a client that never reads
  // its replies cannot grow our memory.
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (queued_bytes_ <= ctx_.live.queue_max_bytes &&
          queue_.size() <= ctx_.live.queue_max_messages) {
        break;
      }
    }
    reader_waiting_ = true;
    if (!drained_) drained_ = std::make_unique<Timer>(executor());
    drained_->expires_at(steady_clock::time_point::max());
    auto wait = drained_->async_wait(kUseTuple);
    co_await std::move(wait);
    if (conn_.closing()) co_return false;
  }
  // While the data writer is behind, publishers are not read (SPEC 7: records are never
  // dropped to keep up). The writer says when it has room, on the same timer as our own queue
  // (ending the session wakes it too).
  while (publisher_ && ctx_.writer.congested() && !conn_.closing()) {
    if (!drained_) drained_ = std::make_unique<Timer>(executor());
    drained_->expires_at(steady_clock::time_point::max());
    ctx_.writer.when_room([weak = this->weak_from_this()] {
      if (auto self = weak.lock()) {
        asio::post(self->executor(), [self] { self->drained_->cancel(); });
      }
    });
    auto wait = drained_->async_wait(kUseTuple);
    co_await std::move(wait);
  }
  co_return !conn_.closing();
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::apply_buffered() {
  const auto& limits = ctx_.connection_limits;
  while (rbegin_ < rend_) {
    // The filters of a SUBSCRIBE or UNSUBSCRIBE stay in rbuf_, which is left alone until the
    // packet is done (an enrollment session's one SUBSCRIBE is decoded).
    auto r = conn_.decode(std::span(rbuf_.data() + rbegin_, rend_ - rbegin_), limits);
    if (r.status == codec::DecodeStatus::kNeedMore) break;
    Io io(*this);
    if (r.status == codec::DecodeStatus::kError) {
      conn_.on_decode_error(r.error, io);
      co_return false;
    }
    rbegin_ += static_cast<std::uint32_t>(r.consumed);
    conn_.on_packet(r.packet, r.filters, steady_clock::now(), io);
    settle(io);
    if (io.ask != Io::Ask::kNone) {  // most packets ask for nothing: no coroutine frame
      auto run = perform(io);
      co_await std::move(run);
    }
    // Stops reading when the connection ends, also after a reply that closes it (the write
    // loop ends the connection once that reply is written).
    if (conn_.closing()) co_return false;
  }
  co_return true;
}

template <class Stream>
void Session<Stream>::check_watchdog() {
  if (conn_.closing() || finished_) return;
  const auto now = steady_clock::now();
  Io io(*this);
  // One that waits for a place of the LoginGate with its whole CONNECT on the socket has sent
  // it in time.
  if (gate_waiting_ && conn_.phase() == broker::Phase::kAwaitConnect &&
      now >= conn_.deadline(now, io.limits()) && connect_arrived()) {
    conn_.on_connect_arrived();
  }
  if (persist_) save_if_due(now);
  const auto slow = slow_deadline();
  auto due = std::min(conn_.deadline(now, io.limits()), slow);
  if (persist_) due = std::min(due, persist_->save_due);
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
    conn_.on_timer(now, io);
  }
  maybe_finish();
}

template <class Stream>
steady_clock::time_point Session<Stream>::slow_deadline() {
  std::lock_guard lock(mu_);
  if (overflowing_since_ == steady_clock::time_point{}) return steady_clock::time_point::max();
  return overflowing_since_ + ctx_.live.slow_subscriber_timeout.get();
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
      peer_, client_id(), ctx_.live.slow_subscriber_timeout.get().count(), dropped);
  conn_.end(EndReason::kSlowConsumer);
}

template <class Stream>
bool Session<Stream>::connect_arrived() {
  if constexpr (!Transport::kIdleWait) {
    return false;  // not asked: such a session does not wait for the LoginGate
  } else {
    // The fixed header: from what input() has read of the packet, then from the socket.
    std::array<std::uint8_t, 5> head{};
    const std::size_t buffered = rend_ - rbegin_;
    std::size_t have = std::min(buffered, head.size());
    std::copy_n(rbuf_.begin() + rbegin_, have, head.begin());
    auto& socket = Transport::socket(stream_);
    if (have < head.size()) {
      const ssize_t n = ::recv(socket.native_handle(), head.data() + have, head.size() - have,
                               MSG_PEEK | MSG_DONTWAIT);
      if (n > 0) have += static_cast<std::size_t>(n);
    }
    if (have == 0 || head[0] != 0x10) return false;  // not a CONNECT (that ends it anyway)
    const std::size_t size = codec::packet_size(std::span(head.data(), have));
    boost::system::error_code ec;
    const std::size_t waiting = socket.available(ec);
    const std::size_t limit = conn_.packet_limit(ctx_.connection_limits);
    return size != 0 && size <= limit + 5 && !ec && buffered + waiting >= size;
  }
}

template <class Stream>
void Session<Stream>::maybe_finish() {
  if (finished_ || !conn_.closing()) return;
  bool flushing;
  {
    std::lock_guard lock(mu_);
    flushing = close_after_flush_ && !flushed_ && !write_failed_;
  }
  // Unblock whatever still runs: pending reads and writes fail, the reader's backpressure wait
  // ends. A reply that closes the connection is written first.
  if (!flushing) close_stream();
  watchdog().unwatch(*this);
  if (drained_) drained_->cancel();
  if (persist_ && persist_->wake) persist_->wake->cancel();
  if (flushing || reading_ || writer_active_) return;  // they call again when they end
  if (persist_ && persist_->replaying) return;         // as does catch_up()
  finished_ = true;
  asio::co_spawn(executor(), finish(), [self = this->shared_from_this()](std::exception_ptr e) {
    log_failure(e, self->peer_, self->client_id(), "session end");
  });
}

template <class Stream>
asio::awaitable<void> Session<Stream>::finish() {
  if (persist_) end_persistent();  // its state saved before anything of it goes
  auto leave = detach();
  co_await std::move(leave);
  Io io(*this);
  conn_.on_closed(io);  // names the will, when the end calls for it
  if (io.will != nullptr && !ctx_.stopping) {
    try {
      store::DataWriter::Done none;
      auto op = publish_data(io.will->topic, io.will->payload, io.will->qos, io.will->retain, none);
      co_await std::move(op);
    } catch (const std::exception& e) {
      spdlog::warn("{} {}: will not published: {}", peer_, client_id(), e.what());
    }
  }
  close_stream();
  if (conn_.role() == broker::Role::kDevice) {
    // The login recorded it online (run_login); posted in order after that.
    ctx_.store.post([id = std::string(identity()), at = platform::now_ms()](
                        service::StoreExecutor::Repos& r) { r.identity.record_logout(id, at); });
  }
  const auto why = broker::to_string(conn_.end_reason().value_or(EndReason::kClosedByPeer));
  if (conn_.role() != broker::Role::kNone) {
    spdlog::info("{} {} ({}): connection ended: {}", peer_, client_id(), identity(), why);
  } else {
    spdlog::debug("{}: connection ended before login: {}", peer_, why);
  }
  ctx_.connection_ended(Transport::kListener);
}

template <class Stream>
asio::awaitable<void> Session<Stream>::detach() {
  std::size_t released;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    queue_.release();
    released = std::exchange(queued_bytes_, 0);
    handoff_.reset();  // QoS 1/2 deliveries not yet taken (clean session: they go)
  }
  if (released >= kTrimAfterBytes) trim_heap_soon(executor());
  // In turns, like an UNSUBSCRIBE: a session that held many filters leaves without holding up
  // its thread. Not while the server stops: its io_context may be stopped before a later turn,
  // and the router must not keep this session.
  for (;;) {
    Io io(*this);
    if (conn_.leave_some(io)) break;
    if (!ctx_.stopping) {
      auto pause = next_turn();
      co_await std::move(pause);
    }
  }
  ctx_.sessions.remove(this);
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::next_turn() {
  auto op = asio::post(executor(), asio::use_awaitable);
  co_await std::move(op);
  co_return !conn_.closing();
}

template <class Stream>
void Session<Stream>::settle(const Io& io) {
  if (io.rearm) check_watchdog();
}

template <class Stream>
void Session<Stream>::log(broker::LogLevel level, const char* throttle, std::string_view message) {
  const auto lvl = level == broker::LogLevel::kWarn   ? spdlog::level::warn
                   : level == broker::LogLevel::kInfo ? spdlog::level::info
                                                      : spdlog::level::debug;
  if (!spdlog::should_log(lvl)) return;
  std::string suffix;
  if (throttle != nullptr) {
    auto t = platform::throttle_log(throttle, address());
    if (!t) return;
    suffix = t->suffix();
  }
  if (client_id().empty()) {
    spdlog::log(lvl, "{}: {}{}", peer_, message, suffix);
  } else {
    spdlog::log(lvl, "{} {}: {}{}", peer_, client_id(), message, suffix);
  }
}

template class Session<Socket>;
template class Session<TlsStream>;
template class Session<WsStream>;
template class Session<WssStream>;

}  // namespace plugmq::net
