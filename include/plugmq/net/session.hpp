// One MQTT connection, on one io thread.
//
// Most connections of a fleet are idle most of the time, so an idle plain-TCP session holds no
// coroutine, no buffer and no timer: only a wait for its socket to become readable (a plain
// handler) and, unless its keep alive is 0, a slot in its thread's Watchdog. When bytes arrive,
// input() (a coroutine) reads and applies them (decoding packets, the platform rules, awaiting the
// store) until the socket has nothing more, then the session waits again. Outgoing packets go
// through a bounded queue of shared, once-encoded packets; a write_loop() coroutine runs while it
// holds any, with gathered writes. The watchdog enforces the pre-CONNECT deadline (from accept
// until the CONNECT is in), keep alive and slow_subscriber_timeout. No packet holds the thread
// for long: the filters of a SUBSCRIBE or UNSUBSCRIBE are handled in turns, between which the
// thread's other sessions run.
// Once the connection ends and neither coroutine runs, finish() publishes the will and leaves the
// registries. deliver() and close() may be called from any thread. Stream is a TCP socket or a TLS
// stream over one; a TLS session handshakes first, within the pre-CONNECT deadline, and its input()
// runs for the whole connection (a TLS record may be buffered with no bytes on the socket).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "plugmq/broker/message.hpp"
#include "plugmq/broker/registry.hpp"
#include "plugmq/codec/packet.hpp"
#include "plugmq/net/filter_set.hpp"
#include "plugmq/net/login_gate.hpp"
#include "plugmq/net/small_mutex.hpp"
#include "plugmq/net/watchdog.hpp"
#include "plugmq/platform/permissions.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/service/context.hpp"
#include "plugmq/store/data_writer.hpp"

namespace plugmq::net {

// A session's outgoing FIFO of shared packets. Unlike std::deque it allocates nothing until
// used and gives its memory back when drained, so an idle connection costs nothing here.
class PacketQueue {
 public:
  using Packet = std::shared_ptr<const std::string>;

  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  void push_back(Packet p) { items_.push_back(std::move(p)); }
  Packet take_front() {
    Packet p = std::move(items_[head_++]);
    if (head_ == items_.size()) {
      release();
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      // Drop the taken prefix: amortized O(1), and a queue that never quite drains does not
      // keep growing.
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return p;
  }
  void release() {
    std::vector<Packet>().swap(items_);
    head_ = 0;
  }

 private:
  std::vector<Packet> items_;
  // Packets taken from the front (a queue holds at most limits.queue_max_messages, 10,000,000,
  // plus the session's own replies).
  std::uint32_t head_ = 0;
};

// Sockets and timers typed with their io_context's executor rather than any_io_executor: the
// objects are smaller, and so is every pending operation (each holds a copy of the executor).
using IoExecutor = boost::asio::io_context::executor_type;
using Socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, IoExecutor>;
using Timer = boost::asio::basic_waitable_timer<
    std::chrono::steady_clock, boost::asio::wait_traits<std::chrono::steady_clock>, IoExecutor>;
using TlsStream = boost::asio::ssl::stream<Socket>;

// How a device or account login ended (mapped to its CONNACK in one place, session.cpp).
enum class LoginResult : std::uint8_t {
  kOk,
  kBadCredentials,
  kDisabled,
  kLimited,  // a rate limit refused it before its secret was checked
  kBusy,     // too many password checks queued
  kError,    // the store failed
};

template <class Stream>
class Session final : public service::LiveSession,
                      public Watched,
                      public std::enable_shared_from_this<Session<Stream>> {
 public:
  using Packet = std::shared_ptr<const std::string>;

  // `peer` is "address:port" for logs; the address alone keys the enrollment rate limit.
  // `keep` is held for the session's life (a TLS session's context, which a reload may
  // replace).
  Session(Stream stream, service::Context& ctx, std::string peer,
          std::shared_ptr<const void> keep = {});
  ~Session() override;

  // Starts the connection on its executor; the pending handlers keep the session alive until
  // it ends.
  void start();

  void deliver(const broker::Message& msg) override;
  void close(broker::EndReason why) override;
  void directory_changed() override;
  void watchdog_expired() override { check_watchdog(); }

 private:
  enum class LoginKind : std::uint8_t { kNone, kDevice, kAccount, kEnroll };

  void begin();
  // Reading: a handler waiting for the socket to be readable (plain TCP), then input().
  void arm_read();
  // The socket is readable: input(), once the LoginGate lets a session that is not logged in
  // through.
  void read_ready();
  void spawn_input();
  boost::asio::awaitable<void> input();
  void after_input();
  // Writing: write_loop() runs while the queue holds packets.
  void spawn_writer();
  boost::asio::awaitable<void> write_loop();
  // The watchdog: checks the deadlines that apply now, and has the thread's Watchdog call
  // again at the next one.
  void check_watchdog();
  // The deadline of the session's state (pre-CONNECT, enrollment, keep alive); max() for none.
  std::chrono::steady_clock::time_point state_deadline(std::chrono::steady_clock::time_point now);
  // When a subscriber over its queue limit is disconnected; max() while it is not over it.
  std::chrono::steady_clock::time_point slow_deadline();
  void state_deadline_passed();
  void slow_deadline_passed();
  // Whether the whole CONNECT is here, read or waiting on the socket (looked at, not read).
  bool connect_arrived();
  // The largest packet taken now: before the login, no more than the largest CONNECT.
  std::size_t packet_limit() const;
  Watchdog& watchdog() { return Watchdog::of(stream_.get_executor().context()); }
  LoginGate& login_gate() { return LoginGate::of(stream_.get_executor().context()); }
  // Ends the connection once it has ended (end_reason_) and no coroutine of it runs.
  void maybe_finish();
  boost::asio::awaitable<void> finish();

  // Each returns false when the connection must end (end_reason_ is set).
  // `filters`: a SUBSCRIBE's or UNSUBSCRIBE's, in rbuf_ (codec::Filters::kInPlace).
  boost::asio::awaitable<bool> on_packet(codec::Packet& p, std::span<const std::uint8_t> filters);
  boost::asio::awaitable<bool> on_connect(codec::Connect& c);
  // Checks a device's or an account's credentials within the login limits; on kOk sets
  // login_ and principal_.
  boost::asio::awaitable<LoginResult> check_login(const std::string& user, const std::string& pass,
                                                  bool account);
  boost::asio::awaitable<bool> on_publish(codec::Publish& p);
  // Handle their filters in turns (kFiltersPerTurn), read from rbuf_ (codec::FilterCursor).
  boost::asio::awaitable<bool> on_subscribe(std::uint16_t packet_id,
                                            std::span<const std::uint8_t> filters);
  boost::asio::awaitable<bool> on_unsubscribe(std::uint16_t packet_id,
                                              std::span<const std::uint8_t> filters);
  // One filter of a SUBSCRIBE: its return code.
  std::uint8_t subscribe(std::string_view filter);
  void unsubscribe(std::string_view filter);
  // Ends a turn: lets the thread's other handlers run. False when the connection ended meanwhile.
  boost::asio::awaitable<bool> next_turn();
  // An enrollment session's packets (SPEC 5).
  boost::asio::awaitable<bool> on_enroll_packet(codec::Packet& p);
  // Re-reads permissions and status from the directory (session thread).
  void refresh_from_directory();

  // The publish path shared by PUBLISH and the Last Will: data is routed, stored, and `done`
  // (a QoS 1/2 acknowledgement) runs once the record is committed, or in order with the
  // others when nothing was stored (denied, invalid).
  // `done` is taken (left empty) on every path.
  boost::asio::awaitable<void> publish_data(const std::string& topic, const std::string& payload,
                                            store::DataWriter::Done& done);
  void reply(const std::string& topic, std::string payload);

  // Queues a packet of this session's own (CONNACK, SUBACK, PUBACK, ...): never dropped.
  void send(Packet p);
  void send(const codec::Packet& p);
  // Queues `p`, stops reading, and ends the connection once the queue is written.
  void send_and_close(const codec::Packet& p, broker::EndReason why);
  void close_after_flush();
  // REQUIRES: mu_ held.
  void wake_writer_locked();
  void end(broker::EndReason why);  // session thread only: the first reason wins
  boost::asio::awaitable<void> detach();  // unsubscribe and leave the registries
  void close_stream();

  // The session's executor (one io thread).
  auto executor() { return stream_.get_executor(); }
  // The peer's address without the port (the enrollment rate limit's key).
  std::string address() const { return peer_.substr(0, peer_.rfind(':')); }
  // The takeover scope: the Plug-ID or the account id; empty before the login and for an
  // enrollment session.
  std::string_view identity() const { return broker::Registry::identity_of(key_); }
  // The client id of the CONNECT (or the one assigned to it); empty before it.
  std::string_view client_id() const { return broker::Registry::client_id_of(key_); }

  // Idle connections are most of a fleet: what every session holds is kept small (what only
  // some need is allocated when needed), and its flags are packed together at the end.
  struct NoKeep {
    explicit NoKeep(const std::shared_ptr<const void>&) {}
  };
  // What a TLS session keeps alive (its context); nothing for plain TCP.
  [[no_unique_address]] std::conditional_t<std::is_same_v<Stream, TlsStream>,
                                           std::shared_ptr<const void>, NoKeep>
      keep_;
  Stream stream_;
  service::Context& ctx_;
  const std::string peer_;
  // The registry key (broker::Registry::key): the identity and the client id. Set at CONNECT,
  // and with the identity at the login; unchanged while registered.
  std::string key_;
  // Who the session acts as, from the login on. A device's is shared with the directory
  // snapshot it came from. Replaced only by the session thread, under mu_ (deliver() reads it
  // under mu_); the session thread holds a copy of the pointer across an await.
  std::shared_ptr<const platform::Principal> principal_;

  // Session-thread state.
  std::vector<std::uint8_t> rbuf_;
  std::uint32_t rbegin_ = 0, rend_ = 0;  // a packet is at most 268,435,460 bytes
  // The accept time; after a device or account login, when bytes last arrived (keep alive).
  std::chrono::steady_clock::time_point since_;
  // What only some sessions need, made on first use: then kept for the session's life.
  struct Extras {
    std::optional<Timer> drained;  // the reader waits on it while the queue is over its limit
    std::optional<codec::Will> will;
    FilterSet filters;          // subscriptions, to leave the router at the end
    bool limit_logged = false;  // a SUBSCRIBE went past max_subscriptions
  };
  Extras& extras() {
    if (!extras_) extras_ = std::make_unique<Extras>();
    return *extras_;
  }
  std::unique_ptr<Extras> extras_;

  // Outgoing queue, shared with delivering threads.
  PacketQueue queue_;
  SmallMutex mu_;
  std::uint32_t dropped_ = 0;  // deliveries dropped while over the limit (saturates)
  std::size_t queued_bytes_ = 0;
  // Since when deliveries have been dropped without the queue draining in between (a
  // subscriber that stays over its limit is disconnected by the watchdog: kSlowConsumer); zero
  // while not. Under mu_.
  std::chrono::steady_clock::time_point overflowing_since_{};

  // Session-thread flags.
  std::optional<broker::EndReason> end_reason_;
  LoginKind login_ = LoginKind::kNone;
  std::uint16_t keep_alive_ = 0;
  bool reader_waiting_ = false;
  bool reading_ = false;        // input() runs
  bool gated_ = false;          // input() runs with a place of the LoginGate
  bool gate_waiting_ = false;   // readable, waiting for a place of the LoginGate
  bool writer_active_ = false;  // write_loop() runs
  bool flushed_ = false;        // close_after_flush_: the queue was written out
  bool write_failed_ = false;
  bool finished_ = false;          // finish() started
  bool connect_received_ = false;  // the pre-CONNECT deadline is met
  bool connected_ = false;
  bool client_id_assigned_ = false;  // the client sent an empty one
  bool enroll_used_ = false;         // an enrollment session answers one SUBSCRIBE
  bool publisher_ = false;           // has published data: paused while the data writer is behind
  // Flags under mu_.
  bool writing_ = false;  // a write_loop() is scheduled or runs (stays set after a failure)
  bool close_after_flush_ = false;
  bool closed_ = false;
};

extern template class Session<Socket>;
extern template class Session<TlsStream>;

}  // namespace plugmq::net
