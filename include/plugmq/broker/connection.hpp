// One MQTT 3.1.1 connection's protocol rules, sans I/O.
//
// Inputs: decoded packets (or decode errors), time (`now` is passed in; deadline() says when
// the connection next needs on_timer()), the results of the requests it made (a login, an
// enrollment), and the I/O side's own ends (end(): the peer went away, a takeover, a shutdown).
// Outputs: calls on an Actions, which the I/O side implements: packets to send, a close with an
// EndReason (after the queued packets are written, or not), requests to run (log in, enroll,
// publish, subscribe) and effects on the shared broker state (claim the registry, add and remove
// router filters, publish the will). The connection keeps no pointer to its Actions: each call
// passes one, usually a small object on the I/O side's stack.
//
// A fleet is mostly idle connections, and each holds one of these: it is a phase, a few bytes of
// state and the registry key; what only some connections need (a will, subscriptions) is made
// on first use (Extras). Nothing here allocates for an idle connection.
//
// QoS 1/2 state (qos.hpp: the outbound window with its packet ids, the inbound QoS 2 ids awaiting
// their PUBREL) is in Extras too, made with the first QoS 1/2 message and dropped once nothing is
// pending. Outbound QoS 1/2 messages come in through deliver() (the I/O side hands them over from
// the publishing threads), each with its shared QoS 0 encoding; the connection gives it a packet
// id and asks for it to be sent (Actions::send_publish) while the window has room.
//
// A CONNECT with clean session 0 from a device or an account asks, once logged in, for its
// stored session (Actions::open_session); the CONNACK waits for on_session(), which says whether
// one was found [MQTT-3.2.2-2]. The I/O side then restores its subscriptions
// (restore_subscription), its in-flight messages (restore_inflight, sent again with DUP and
// their packet ids [MQTT-4.4.0-1]) and its inbound QoS 2 ids awaiting PUBREL
// (restore_awaiting_pubrel [MQTT-4.3.3-2]), and reads what the connection holds to save it
// (filters(), outbound(), awaiting_pubrel_ids()).
//
// Thread-safety: none; one connection is used by one thread (its I/O side's).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "plugmq/base/live.hpp"
#include "plugmq/broker/filter_set.hpp"
#include "plugmq/broker/policy.hpp"
#include "plugmq/broker/qos.hpp"
#include "plugmq/broker/registry.hpp"
#include "plugmq/codec/codec.hpp"
#include "plugmq/codec/packet.hpp"

namespace plugmq::broker {

// Where a connection stands. The I/O side's own state (reading, writing, flushing) is not here.
enum class Phase : std::uint8_t {
  kAwaitConnect,  // accepted (a TLS handshake included): the first packet must be a CONNECT
  kLoggingIn,     // the CONNECT is in; its credentials are checked (Actions::login)
  kEnrolling,     // an enrollment session (SPEC 5): one SUBSCRIBE, then its reply, until time up
  kConnected,     // logged in as a device or an account
  kClosing,       // ended (end_reason()); the I/O side flushes, leaves the router, then on_closed
  kClosed,        // on_closed() ran: nothing more happens
};
const char* to_string(Phase p);

// Who the connection acts as.
enum class Role : std::uint8_t { kNone, kDevice, kAccount, kEnroll };

// How a login ended, as the connection answers it (connack_for).
enum class LoginResult : std::uint8_t {
  kOk,
  kBadCredentials,
  kDisabled,
  kLimited,  // a rate limit refused it before its secret was checked
  kBusy,     // too many password checks queued
  kError,    // the store failed, or the server is stopping
};

// The CONNACK that answers a login [MQTT-3.2.2.3].
codec::ConnackCode connack_for(LoginResult r);

// Everything the connection ends a connection for: one reaction each (react()).
enum class Violation : std::uint8_t {
  kMalformedPacket,         // a decode error not listed below
  kUnsupportedProtocol,     // protocol name or level in the CONNECT [MQTT-3.1.2-2]
  kPacketTooLarge,          // over max_packet_size
  kPacketTooLargeForPhase,  // over the largest packet the phase allows, below max_packet_size
  kFirstPacketNotConnect,   // [MQTT-3.1.0-1]
  kSecondConnect,           // [MQTT-3.1.0-2]
  kServerOnlyPacket,        // CONNACK, SUBACK, UNSUBACK or PINGRESP from a client
  kInvalidWillTopic,        // a will topic must be a valid topic name (it is published)
  kClientIdRejected,        // empty client id with clean session 0 [MQTT-3.1.3-8]
  kNoConnectInTime,         // connect_timeout passed before the CONNECT was in
  kKeepAliveExpired,        // silent for 1.5 x the keep alive [MQTT-3.1.2-24]
  kEnrollTimeUp,            // enroll_timeout passed (SPEC 5)
  kEnrollPacketNotAllowed,  // an enrollment session sent other than SUBSCRIBE, PINGREQ, DISCONNECT
  kEnrollSubscribeMisuse,   // an enrollment session's SUBSCRIBE: not one filter, or not the first
};
const char* to_string(Violation v);

enum class LogLevel : std::uint8_t { kDebug, kInfo, kWarn };

// The protocol's answer to a violation.
struct Reaction {
  std::optional<codec::ConnackCode> connack;  // sent first; the close then waits for it
  EndReason reason;
  LogLevel level;
  // The log line, after the peer and client id; "{}" stands for the detail (a limit, the
  // decode error).
  const char* message;
  // A platform::throttle_log category (lines per peer address), nullptr: always logged. Those
  // a client can repeat at will are throttled.
  const char* throttle;
};

// The one table from a violation, in a phase, to its reaction.
Reaction react(Violation v, Phase p);

// The violation a decode error is, in `phase`; `phase_limited` when the packet limit in force
// was the phase's, below max_packet_size.
Violation violation_of(codec::DecodeError e, Phase phase, bool phase_limited);

// Server-wide settings a connection follows (a view of the server's options).
// SIGHUP may change them while connections run (base::Live): a connection follows the new
// values from its next packet, timer or delivery on.
struct ConnectionLimits {
  base::Live<std::size_t> max_packet_size = 1024 * 1024;  // remaining length, once logged in
  base::Live<std::size_t> max_subscriptions = 1000;
  base::Live<std::chrono::milliseconds> connect_timeout{std::chrono::milliseconds(10000)};
  base::Live<std::chrono::milliseconds> enroll_timeout{std::chrono::milliseconds(30000)};
  // Unacknowledged QoS 1/2 messages sent to one client at a time (1..65535); more wait.
  base::Live<std::size_t> max_inflight = 32;
};

// What a connection asks of its I/O side. Every call is made from inside a Connection member,
// on the connection's thread; none may call back into the connection.
class Actions {
 public:
  enum class Flush : std::uint8_t { kNo, kFirst };

  // Effects.
  // Queue one of the connection's own packets (never dropped while the connection is open).
  virtual void send(const codec::Packet& p) = 0;
  // The connection ended for `why` (end_reason()): stop reading; with kFirst, close the stream
  // once the queued packets are written, else now.
  virtual void close(EndReason why, Flush flush) = 0;
  // Make this the live connection of key() in the registry (an older one is taken over).
  virtual void claim() = 0;
  // Leave the registry (the entry is removed only if it is still this connection's).
  virtual void release() = 0;
  // Add a filter of this connection to the router (its account's) with its granted QoS, or
  // change the QoS of one it holds; remove one.
  virtual void route_add(std::string_view filter, std::uint8_t qos) = 0;
  virtual void route_remove(std::string_view filter) = 0;
  // A SUBSCRIBE granted `filter` at `qos`, new or again [MQTT-3.8.4-3]: once its SUBACK is
  // queued, send the retained messages matching it, with RETAIN 1 [MQTT-3.3.1-6].
  virtual void send_retained(std::string_view filter, std::uint8_t qos) = 0;
  // Queue a QoS 1/2 PUBLISH: `packet` (a message's shared QoS 0 encoding) at `qos` with
  // `packet_id` and DUP `dup` (codec::encode_publish_as). Never dropped while the connection is
  // open.
  virtual void send_publish(const std::shared_ptr<const std::string>& packet, std::uint8_t qos,
                            std::uint16_t packet_id, bool dup) = 0;
  // The client acknowledged a QoS 1/2 message (PUBACK, or PUBREC for QoS 2) whose QoS 0 encoding
  // is `bytes` long: it no longer counts against the session's queue limits.
  virtual void acknowledged(std::size_t bytes) = 0;
  // An acknowledgement changed the in-flight window (PUBACK, PUBREC, PUBCOMP), after the
  // messages it made room for were sent: a persistent session's state to save changed.
  virtual void window_changed() {}
  // The inbound QoS 2 packet ids awaiting their PUBREL changed (a new QoS 2 PUBLISH, or a
  // PUBREL): a persistent session's state to save changed.
  virtual void inbound_changed() {}
  // Answer a PUBREL [MQTT-4.3.3-2]. A persistent session whose saved state holds `packet_id` as
  // awaiting its PUBREL sends it once a save without the id is committed (a restart must not
  // take the id's next PUBLISH for one sent again); else at once.
  virtual void send_pubcomp(std::uint16_t packet_id) { send(codec::Pubcomp{packet_id}); }
  // Answer a PUBREC of an outbound QoS 2 message, which the window now holds at its PUBCOMP
  // stage [MQTT-4.3.3-1]. A persistent session sends it once a save holding the message at that
  // stage is committed (after a restart, a SIGKILL included, it sends the PUBREL again, never
  // the PUBLISH the client has released); else at once.
  virtual void send_pubrel(std::uint16_t packet_id) { send(codec::Pubrel{packet_id}); }
  // Queue `ack` once every earlier publish of this connection is acknowledged: behind the
  // records being stored, in order with their PUBACKs and PUBRECs (a QoS 2 PUBLISH sent again
  // before its PUBREL gets its PUBREC this way, without being stored or routed again).
  virtual void ack_in_order(const codec::Packet& ack) = 0;
  // Publish the Last Will, as the connection's identity.
  virtual void publish_will(const codec::Will& will) = 0;
  // deadline() changed: the I/O side reads it again.
  virtual void deadline_changed() = 0;
  // A log line about this connection (the I/O side adds peer and client id, and throttles
  // per address when `throttle` names a category).
  virtual void log(LogLevel level, const char* throttle, std::string_view message) = 0;

  // Requests: the I/O side runs them (possibly awaiting the service layer) before it feeds the
  // connection anything else, and answers where said.
  // Check the CONNECT's credentials; answer on_login() or on_login_refused(). `c` lives until
  // the answer; its will has been taken.
  virtual void login(const codec::Connect& c) = 0;
  // Asked by on_login() for a CONNECT with clean session 0: find the stored session of key()
  // (waiting for an older connection of the key to have saved it); answer on_session(), or
  // on_login_refused() when it cannot be read.
  virtual void open_session() {}
  // Enroll: `topic` is the enrollment topic (it holds a password: never logged), `client_id`
  // the client's own ("" when the server assigned one). Answer on_enrolled().
  virtual void enroll(const std::string& topic, std::string_view client_id) = 0;
  // Publish data (or a property request). `ack`: sent once the record is stored (QoS 1, 2); a
  // persistent session's PUBREC once a save holding the id (behind the record) is committed too.
  virtual void publish(codec::Publish& p, std::optional<codec::Packet> ack) = 0;
  // Run a SUBSCRIBE or UNSUBSCRIBE over `filters` (codec::Filters::kInPlace; they stay where
  // they are until done) in turns: subscribe_some() / unsubscribe_some() until one returns true.
  virtual void subscribe(std::uint16_t packet_id, std::span<const std::uint8_t> filters) = 0;
  virtual void unsubscribe(std::uint16_t packet_id, std::span<const std::uint8_t> filters) = 0;

  // A new client id for a client that sent an empty one.
  virtual std::string new_client_id() = 0;
  virtual const ConnectionLimits& limits() const = 0;

 protected:
  ~Actions() = default;
};

class Connection {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  // The filters of a SUBSCRIBE, an UNSUBSCRIBE or the end are handled in turns of at most this
  // many filters or filter bytes, between which the I/O side's thread runs its other
  // connections: a packet of 20,000 filters (or 1 MiB of 1-byte ones) holds it well under a
  // millisecond at a time.
  static constexpr std::size_t kFiltersPerTurn = 256;
  static constexpr std::size_t kFilterBytesPerTurn = 64 * 1024;
  // An enrollment session sends nothing larger than a SUBSCRIBE of one filter: packet id, the
  // filter's length and at most 65,535 bytes, its QoS.
  static constexpr std::size_t kMaxEnrollPacket = 2 + 2 + 65535 + 1;
  // While a login is checked there is no deadline; the I/O side looks again this often.
  static constexpr std::chrono::milliseconds kLoginPoll{200};

  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // ---- Inputs ----
  // The connection was accepted: the CONNECT deadline (and an enrollment's) runs from `now`.
  void on_accepted(TimePoint now) { since_ = now; }
  // Bytes arrived: a logged-in connection's keep alive starts again [MQTT-3.1.2-24].
  void on_bytes(TimePoint now) {
    if (phase_ == Phase::kConnected) since_ = now;
  }
  // The whole CONNECT is waiting to be read (the I/O side holds it back, e.g. while other
  // connections log in): the CONNECT deadline is met.
  void on_connect_arrived() { connect_arrived_ = true; }

  // Decodes the next packet of `in` with the phase's packet limit and filter handling.
  codec::DecodeResult decode(std::span<const std::uint8_t> in, const ConnectionLimits& l) const;
  // The largest remaining length taken now: before the login, no more than the largest CONNECT.
  std::size_t packet_limit(const ConnectionLimits& l) const;
  void on_decode_error(codec::DecodeError e, Actions& out);
  // A decoded packet. `filters`: a SUBSCRIBE's or UNSUBSCRIBE's (codec::Filters::kInPlace).
  void on_packet(codec::Packet& p, std::span<const std::uint8_t> filters, TimePoint now,
                 Actions& out);

  // Answers to Actions::login. `identity`: the Plug-ID or the account id.
  void on_login(Role role, std::string_view identity, TimePoint now, Actions& out);
  void on_login_refused(LoginResult r, Actions& out);
  // Answer to Actions::open_session: the CONNACK, with session present when a stored session
  // was found [MQTT-3.2.2-2].
  void on_session(bool present, TimePoint now, Actions& out);
  // A resumed session's subscription, as if subscribed (FilterSet, Actions::route_add), with no
  // SUBACK; one over max_subscriptions is not restored.
  void restore_subscription(std::string_view filter, std::uint8_t qos, Actions& out) {
    subscribe(filter, qos, out);
  }
  // A resumed session's message in flight (OutboundWindow::restore): its PUBLISH is sent again
  // with DUP and its packet id [MQTT-4.4.0-1], or at kPubcomp its PUBREL. Only while connected.
  void restore_inflight(OutboundWindow::InFlight f, Actions& out);
  // A resumed session's inbound QoS 2 packet id whose PUBREL had not come [MQTT-4.3.3-2]: a
  // PUBLISH sent again with it gets its PUBREC and is not published again; its PUBREL is
  // answered with PUBCOMP and releases it. Only while connected; 0 is ignored.
  void restore_awaiting_pubrel(std::uint16_t id);
  // Answer to Actions::enroll: `payload` goes back on `topic`; a failure ends the session.
  void on_enrolled(bool ok, const std::string& topic, std::string payload, Actions& out);
  // Handle a turn's worth of the filters at `at`; true when all are done (and the SUBACK or
  // UNSUBACK was sent). `ack` collects the SUBACK's return codes across turns.
  bool subscribe_some(codec::FilterCursor& at, codec::Suback& ack, Actions& out);
  bool unsubscribe_some(codec::FilterCursor& at, std::uint16_t packet_id, Actions& out);
  // A message for this client at QoS 1 or 2 (QoS 0 messages never come here: the I/O side
  // queues them at once). Sent now, with a packet id of this connection's, while fewer than
  // limits().max_inflight are unacknowledged; else it waits, in order, until acknowledgements
  // make room. Dropped unless connected.
  void deliver(Outgoing m, Actions& out);

  // When on_timer() is next due; max() for never.
  TimePoint deadline(TimePoint now, const ConnectionLimits& l) const;
  // Time passed: ends the connection when a deadline of its phase did.
  void on_timer(TimePoint now, Actions& out);

  // The I/O side ends the connection (the peer went away, a takeover, a shutdown, ...): the
  // first reason wins. Nothing is sent.
  void end(EndReason why);
  // After end(): leaves the router a turn's worth of filters at a time, then the registry; true
  // when done.
  bool leave_some(Actions& out);
  // The connection is over (the I/O side stopped, the router left): publishes the will when the
  // reason calls for one [MQTT-3.1.2-8].
  void on_closed(Actions& out);

  // ---- State ----
  Phase phase() const { return phase_; }
  Role role() const { return role_; }
  bool logged_in() const { return role_ == Role::kDevice || role_ == Role::kAccount; }
  bool closing() const { return phase_ >= Phase::kClosing; }
  std::optional<EndReason> end_reason() const {
    return closing() ? std::optional(reason_) : std::nullopt;
  }
  std::uint16_t keep_alive() const { return keep_alive_; }
  // The registry key (Registry::key): the identity and the client id. Set at CONNECT, with the
  // identity at the login; unchanged from the claim on.
  const std::string& key() const { return key_; }
  // The takeover scope: the Plug-ID or the account id; empty before the login and for an
  // enrollment session ("enroll").
  std::string_view identity() const { return Registry::identity_of(key_); }
  // The CONNECT's client id (or the one assigned to it); empty before it.
  std::string_view client_id() const { return Registry::client_id_of(key_); }
  bool client_id_assigned() const { return client_id_assigned_; }
  // The CONNECT's clean session flag: 0 asks for a persistent session.
  bool clean_session() const { return clean_session_; }
  // The subscriptions held, with their granted QoS; nullptr when none were ever made.
  const FilterSet* filters() const { return extras_ ? &extras_->filters : nullptr; }
  // The QoS 1/2 messages in flight and waiting; nullptr while there are none.
  const OutboundWindow* outbound() const { return qos_state() ? &qos_state()->outbound : nullptr; }
  bool has_will() const { return extras_ && extras_->will; }
  std::size_t filter_count() const { return extras_ ? extras_->filters.size() : 0; }
  // The QoS granted to a filter this connection holds; nothing when it holds none such.
  std::optional<std::uint8_t> granted_qos(std::string_view filter) const {
    return extras_ ? extras_->filters.qos_of(filter) : std::nullopt;
  }
  // QoS 1/2 messages sent and not yet acknowledged, and those waiting behind them.
  std::size_t in_flight() const { return qos_state() ? qos_state()->outbound.in_flight() : 0; }
  std::size_t waiting() const { return qos_state() ? qos_state()->outbound.waiting() : 0; }
  // Inbound QoS 2 packet ids whose PUBREC was promised and whose PUBREL has not come.
  std::size_t awaiting_pubrel() const {
    return qos_state() ? qos_state()->awaiting_pubrel.size() : 0;
  }
  // Those ids, for a persistent session's save; nullptr while there are none.
  const PacketIdSet* awaiting_pubrel_ids() const {
    return qos_state() ? &qos_state()->awaiting_pubrel : nullptr;
  }

 private:
  // What only some connections need, made on first use and kept.
  struct Extras {
    std::optional<codec::Will> will;
    FilterSet filters;              // subscriptions, to leave the router at the end
    std::unique_ptr<QosState> qos;  // QoS 1/2 messages pending (qos() below)
    bool limit_logged = false;      // a SUBSCRIBE went past max_subscriptions
  };
  Extras& extras();
  // The QoS 1/2 state, made when first needed; drop_qos_if_idle() lets it go once nothing is
  // pending, so a connection between bursts holds none.
  QosState& qos();
  const QosState* qos_state() const { return extras_ ? extras_->qos.get() : nullptr; }
  void drop_qos_if_idle();

  void violate(Violation v, std::string_view detail, Actions& out);
  void on_connect(codec::Connect& c, Actions& out);
  void on_connected_packet(codec::Packet& p, std::span<const std::uint8_t> filters, Actions& out);
  void on_enroll_packet(codec::Packet& p, Actions& out);
  std::uint8_t subscribe(std::string_view filter, std::uint8_t qos, Actions& out);
  // QoS 1/2 (handle_qos.cpp).
  void on_publish(codec::Publish& pub, Actions& out);
  void on_ack(const codec::Packet& p, Actions& out);
  void send_waiting(Actions& out);
  void unknown_ack(const char* what, std::uint16_t id, Actions& out);
  void refuse(codec::ConnackCode code, Actions& out);

  // The accept time; once logged in, when bytes last arrived (keep alive).
  TimePoint since_{};
  std::string key_;
  std::unique_ptr<Extras> extras_;
  std::uint16_t keep_alive_ = 0;
  Phase phase_ = Phase::kAwaitConnect;
  Role role_ = Role::kNone;
  EndReason reason_ = EndReason::kClosedByPeer;  // meaningful once closing()
  bool client_id_assigned_ : 1 = false;          // the client sent an empty one
  bool enroll_used_ : 1 = false;                 // an enrollment session answers one SUBSCRIBE
  bool connect_arrived_ : 1 = false;  // on_connect_arrived(): the CONNECT deadline is met
  bool claimed_ : 1 = false;          // claim() was asked
  bool clean_session_ : 1 = true;     // the CONNECT's
};

}  // namespace plugmq::broker
