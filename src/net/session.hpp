// One MQTT connection's I/O, on one io thread: it reads bytes, feeds them to its
// broker::Connection (the protocol rules, sans I/O), and performs what the connection asks
// (session_io.hpp): queue packets, close, run a login, an enrollment, a publish or a SUBSCRIBE
// against the server's services.
//
// Most connections of a fleet are idle most of the time, so an idle plain-TCP session holds no
// coroutine, no buffer and no timer: only a wait for its socket to become readable (a plain
// handler) and, unless its keep alive is 0, a slot in its thread's Watchdog. When bytes arrive,
// input() (a coroutine) reads and applies them until the socket has nothing more, then the
// session waits again. Outgoing packets go through a bounded queue of shared, once-encoded
// packets; a write_loop() coroutine runs while it holds any, with gathered writes. QoS 1/2
// deliveries are handed to the session's thread (an inbox under mu_, one post when it stops
// being empty), where the connection gives them packet ids and sends them through its in-flight
// window; until acknowledged they count against the queue limits. The watchdog
// asks the connection for its deadline (the CONNECT's, keep alive, an enrollment's end) and adds
// slow_subscriber_timeout. No packet holds the thread for long: the filters of a SUBSCRIBE or
// UNSUBSCRIBE are handled in turns, between which the thread's other sessions run.
// A persistent session (clean session 0) takes its QoS 1/2 messages from the dispatcher after
// commit, resumes its stored state and replays what it missed (session_persist.cpp, with its
// state in a PersistState made only for it).
// Once the connection has ended and neither coroutine runs, finish() leaves the router and the
// registry and publishes the will. deliver() and close() may be called from any thread. The
// stream's differences (a TLS handshake, whether idle waits are possible, WebSocket messages)
// are its Transport's.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "packet_queue.hpp"
#include "persist_state.hpp"
#include "plugmq/broker/connection.hpp"
#include "plugmq/broker/qos.hpp"
#include "plugmq/broker/sink.hpp"
#include "plugmq/codec/packet.hpp"
#include "plugmq/net/login_gate.hpp"
#include "plugmq/net/small_mutex.hpp"
#include "plugmq/net/watchdog.hpp"
#include "plugmq/platform/permissions.hpp"
#include "plugmq/service/context.hpp"
#include "plugmq/store/data_writer.hpp"
#include "plugmq/store/session_store.hpp"
#include "tcp_transport.hpp"
#include "tls_transport.hpp"
#include "ws_transport.hpp"

namespace plugmq::net {

template <class Stream>
class Session final : public service::LiveSession,
                      public std::enable_shared_from_this<Session<Stream>>,
                      public Watched {
 public:
  using Packet = std::shared_ptr<const std::string>;
  using Transport = net::Transport<Stream>;

  // `peer` is "address:port" for logs; the address alone keys the login and enrollment limits.
  // `keep` is held for the session's life (Transport::Keep).
  Session(Stream stream, service::Context& ctx, std::string peer,
          std::shared_ptr<const void> keep = {});
  ~Session() override;

  // Starts the connection on its executor; the pending handlers keep the session alive until
  // it ends.
  void start();

  void deliver(const service::Message& msg) override;
  void deliver_committed(const service::Message& msg, std::int64_t seq) override;
  void close(broker::EndReason why) override;
  void directory_changed() override;
  void watchdog_expired() override { check_watchdog(); }

 private:
  // The broker::Actions of one call into the connection (session_io.hpp).
  class Io;

  // Deliveries on their way to the connection's QoS 1/2 window, and what the QoS 1/2 messages
  // not yet acknowledged count against the queue limits. Made with the first QoS 1/2 delivery,
  // dropped once nothing is pending. Under mu_.
  struct Handoff {
    // In the order delivered; QoS 0 ones too while QoS 1/2 ones wait here, so that none
    // overtakes another.
    std::vector<broker::Outgoing> inbox;
    std::size_t pending_messages = 0;  // in the inbox, waiting in the connection, or in flight
    std::size_t pending_bytes = 0;     // their QoS 0 encodings' sizes
    bool taking = false;               // the session thread works through a batch of the inbox
    // QoS 0 deliveries may go straight to the queue: nothing handed off is ahead of them.
    bool clear() const { return inbox.empty() && !taking; }
  };

  void begin();
  // Reading: a handler waiting for the socket to be readable (Transport::kIdleWait), then
  // input().
  void arm_read();
  // The socket is readable: input(), once the LoginGate lets a session that is not logged in
  // through.
  void read_ready();
  void spawn_input();
  boost::asio::awaitable<void> input();
  // Waits while the outgoing queue or the data writer is over its limit; false when the
  // connection ended meanwhile.
  boost::asio::awaitable<bool> backpressure();
  // Sizes rbuf_ for the next read: to the bytes waiting (`pending`, when known) while it holds
  // no partial packet, else with room after the partial packet.
  void make_room(std::size_t pending, const broker::ConnectionLimits& limits);
  // Decodes and applies the packets in rbuf_; false when reading must stop.
  boost::asio::awaitable<bool> apply_buffered();
  void after_input();
  // Delivery (session_write.cpp). REQUIRES for the _locked ones: mu_ held.
  // Whether a delivery of `size` bytes would take the queue, with the QoS 1/2 messages pending,
  // past queue_max_messages or queue_max_bytes.
  bool over_limit_locked(std::size_t size) const;
  // Whether the queue and the pending QoS 1/2 messages are back under half the limits.
  bool under_half_locked() const;
  // A delivery dropped for the queue limits: counted, logged once, the slow-consumer clock run.
  void drop_locked();
  void hand_off_locked(const service::Message& msg, std::int64_t seq = 0);
  // The session thread: feeds the inbox to the connection.
  void take_inbox();
  // A QoS 0 delivery that waited in the inbox goes to the queue.
  void send_handed_off(Packet p);
  // A QoS 1/2 message of `bytes` was acknowledged (Actions::acknowledged).
  void acknowledged(std::size_t bytes);
  // The `done` of a publish that gets `ack` once stored (or every earlier one is): the ack is
  // queued, or the connection ends unacknowledged when the store failed.
  store::DataWriter::Done ack_when_stored(codec::Packet ack);

  // Writing: write_loop() runs while the queue holds packets.
  void spawn_writer();
  boost::asio::awaitable<void> write_loop();
  // Counts a batch about to be written: bytes out, PUBLISH packets by QoS (service::Metrics).
  void count_sent(const std::vector<Packet>& batch);
  // The watchdog: checks the deadlines that apply now, and has the thread's Watchdog call
  // again at the next one.
  void check_watchdog();
  // When a subscriber over its queue limit is disconnected; max() while it is not over it.
  std::chrono::steady_clock::time_point slow_deadline();
  void slow_deadline_passed();
  // Whether the whole CONNECT is here, read or waiting on the socket (looked at, not read).
  bool connect_arrived();
  Watchdog& watchdog() { return Watchdog::of(stream_.get_executor().context()); }
  LoginGate& login_gate() { return LoginGate::of(stream_.get_executor().context()); }
  // Ends the connection once it has ended and no coroutine of it runs.
  void maybe_finish();
  boost::asio::awaitable<void> finish();
  boost::asio::awaitable<void> detach();  // leave the router, the registry and the session set

  // What the connection asked during a call (session_io.cpp): the effects are done; the
  // request, if any, is run here, and its answer fed back.
  boost::asio::awaitable<void> perform(Io& io);
  boost::asio::awaitable<void> run_login(const codec::Connect& c);
  boost::asio::awaitable<void> run_enroll(const std::string& topic,
                                          std::string_view serial_client_id);
  boost::asio::awaitable<void> run_publish(codec::Publish& p, std::optional<codec::Packet>& ack);
  boost::asio::awaitable<void> run_subscribe(std::uint16_t packet_id,
                                             std::span<const std::uint8_t> filters, bool sub);
  // After a call into the connection: re-reads its deadline when it changed.
  void settle(const Io& io);
  // Ends a turn: lets the thread's other handlers run. False when the connection ended meanwhile.
  boost::asio::awaitable<bool> next_turn();
  void log(broker::LogLevel level, const char* throttle, std::string_view message);

  // Checks a device's or an account's credentials (service::login); on kOk sets principal_
  // and `role` (session_login.cpp).
  boost::asio::awaitable<broker::LoginResult> check_login(const std::string& user,
                                                          const std::string& pass, bool account,
                                                          broker::Role& role);
  // Re-reads permissions and status from the directory (session thread).
  void refresh_from_directory();

  // Persistent sessions (session_persist.cpp, session_resume.cpp).
  // Resumes or creates the session of key() (Actions::open_session): waits for its key, loads
  // it, answers on_session(), restores and attaches it, and starts its catch-up.
  boost::asio::awaitable<void> run_session();
  // Waits for the key (SessionTable); false when the connection ended meanwhile (the key is
  // then released).
  boost::asio::awaitable<bool> acquire_key();
  // After CONNACK: the subscriptions into the router (the dispatcher's attach) and the in-flight
  // messages sent again; returns the watermark at attach.
  std::int64_t restore_session(const store::Session& stored,
                               std::vector<platform::Record>& inflight, bool found);
  void restore_inflight(const store::Session& stored, std::vector<platform::Record>& records);
  // A clean session 1 login with an explicit client id: its stored session goes [MQTT-3.1.2-6].
  void discard_stored_session();
  // A live record while catching up. REQUIRES: mu_ held.
  void hold_locked(const service::Message& msg, std::int64_t seq);
  // Starts catch_up() on the session thread unless it runs.
  void start_catch_up();
  boost::asio::awaitable<void> catch_up();
  // sessions.max_replay: (from, to] is not replayed; its messages are counted and logged.
  boost::asio::awaitable<void> skip_replay(std::int64_t from, std::int64_t to);
  // Replays (from, to] into the connection in chunks; false when the connection ended.
  boost::asio::awaitable<bool> replay_range(std::int64_t from, std::int64_t to);
  // One replayed record: checked, and handed over at its QoS (`granted` caches it by topic).
  void replay_one(const Replayed& r, const service::Directory& dir,
                  const std::vector<std::string>& filters, GrantedByTopic& granted);
  // Waits until few messages wait for the window; false when the connection ended.
  boost::asio::awaitable<bool> window_low();
  // The end of a round: the held live records (after `to`) go to the connection; false when
  // another round is due (they overflowed).
  bool finish_round(std::int64_t to);
  // Hands a replayed or held message to the connection, counted against the queue limits.
  void deliver_stored(broker::Outgoing m);
  // The position to save: every matching record up to it was handled or is in flight; `w` the
  // dispatcher's watermark read before.
  std::int64_t position(std::int64_t w);
  store::Session snapshot(std::int64_t w, bool online);
  // Saves through the data writer's task queue; `release` hands the key on once it is saved.
  void save(store::Session s, bool release);
  // Answers a PUBREL (Actions::send_pubcomp): after a save without the id when one saved holds
  // it, else at once.
  void send_pubcomp(std::uint16_t id);
  // Answers a PUBREC (Actions::send_pubrel): a persistent session's after a save holding its
  // message at the PUBCOMP stage, else at once.
  void send_pubrel(std::uint16_t id);
  // Queues `ack` behind the next save of the session's gate (PersistState::gate); `of_publish`:
  // a PUBACK or PUBREC. REQUIRES: persist_ resumed.
  void hold_ack(codec::Packet ack, bool of_publish);
  // Posts flush_gate() when the gate says a save is due.
  void flush_gate_soon();
  // Pushes a save and, behind its commit, sends the acknowledgements the gate held for it.
  void flush_gate();
  void mark_dirty();
  // The periodic save, when due (check_watchdog).
  void save_if_due(std::chrono::steady_clock::time_point now);
  // At the end: detaches, saves and releases the key (or only releases it).
  void end_persistent();

  // The publish path shared by PUBLISH and the Last Will: data is routed, stored, and `done`
  // (a QoS 1/2 acknowledgement) runs once the record is committed, or in order with the
  // others when nothing was stored (denied, invalid).
  // `done` is taken (left empty) on every path; `commit_soon` false: the caller queues what
  // commits the record (service::publish_record).
  boost::asio::awaitable<void> publish_data(const std::string& topic, const std::string& payload,
                                            std::uint8_t qos, bool retain,
                                            store::DataWriter::Done& done, bool commit_soon = true);
  void reply(const std::string& topic, std::string payload);

  // Queues a packet of this session's own (CONNACK, SUBACK, PUBACK, ...): never dropped.
  void send(Packet p);
  void send(const codec::Packet& p);
  // Stops reading and ends the connection once the queue is written.
  void close_after_flush();
  // REQUIRES: mu_ held.
  void wake_writer_locked();
  void close_stream();

  // The session's executor (one io thread).
  auto executor() { return stream_.get_executor(); }
  // The peer's address without the port (the login and enrollment limits' key).
  std::string address() const { return peer_.substr(0, peer_.rfind(':')); }
  std::string_view identity() const { return conn_.identity(); }
  std::string_view client_id() const { return conn_.client_id(); }

  // Idle connections are most of a fleet: what every session holds is kept small (what only
  // some need is allocated when needed), its flags are bits, and padding is reused.
  // Deliveries dropped while over the queue limit (saturates); under mu_. First, and Watched
  // last among the bases: it fills Watched's tail padding.
  std::uint32_t dropped_ = 0;
  [[no_unique_address]] typename Transport::Keep keep_;
  Stream stream_;
  service::Context& ctx_;
  const std::string peer_;
  // Who the session acts as, from the login on. A device's is shared with the directory
  // snapshot it came from. Replaced only by the session thread, under mu_ (deliver() reads it
  // under mu_); the session thread holds a copy of the pointer across an await.
  std::shared_ptr<const platform::Principal> principal_;

  // Session-thread state. The connection's tail padding holds the flags below
  // ([[no_unique_address]]).
  [[no_unique_address]] broker::Connection conn_;  // the protocol: phase, keep alive, key, will
  // Session-thread flags.
  bool reader_waiting_ : 1 = false;  // input() waits for the queue to drain
  bool reading_ : 1 = false;         // input() runs
  bool gated_ : 1 = false;           // input() runs with a place of the LoginGate
  bool gate_waiting_ : 1 = false;    // readable, waiting for a place of the LoginGate
  bool writer_active_ : 1 = false;   // write_loop() runs
  bool write_failed_ : 1 = false;
  bool finished_ : 1 = false;   // finish() started
  bool publisher_ : 1 = false;  // has published data: paused while the data writer is behind
  // Flags under mu_, in a byte of their own (another thread may write them meanwhile).
  std::uint8_t : 0;
  bool writing_ : 1 = false;  // a write_loop() is scheduled or runs (stays set after a failure)
  bool close_after_flush_ : 1 = false;
  bool flushed_ : 1 = false;  // close_after_flush_: the queue was written out
  bool closed_ : 1 = false;
  bool persistent_ : 1 = false;  // takes QoS 1/2 messages from the dispatcher (persist_)
  std::vector<std::uint8_t> rbuf_;
  std::uint32_t rbegin_ = 0, rend_ = 0;  // a packet is at most 268,435,460 bytes
  // The reader waits on it while the queue is over its limit; made on first use.
  std::unique_ptr<Timer> drained_;

  // Outgoing queue, shared with delivering threads.
  [[no_unique_address]] PacketQueue queue_;  // mu_ fits in its tail padding
  SmallMutex mu_;
  std::size_t queued_bytes_ = 0;
  std::unique_ptr<Handoff> handoff_;  // QoS 1/2 deliveries; made on first use, under mu_
  // A persistent session's state; made when it resumes (session thread), and then kept.
  std::unique_ptr<PersistState> persist_;
  // Since when deliveries have been dropped without the queue draining in between (a
  // subscriber that stays over its limit is disconnected by the watchdog: kSlowConsumer); zero
  // while not. Under mu_.
  std::chrono::steady_clock::time_point overflowing_since_{};
};

extern template class Session<Socket>;
extern template class Session<TlsStream>;
extern template class Session<WsStream>;
extern template class Session<WssStream>;

}  // namespace plugmq::net
