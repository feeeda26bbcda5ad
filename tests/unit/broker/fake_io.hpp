// A recording Actions and a byte feeder for broker::Connection tests: no sockets, no threads, a
// clock that moves only when a test says so.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "plugmq/broker/connection.hpp"
#include "plugmq/codec/codec.hpp"

namespace plugmq::broker::testing {

using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;
using TimePoint = Connection::TimePoint;

inline const TimePoint kT0 = TimePoint{} + 1000s;

struct LogLine {
  LogLevel level;
  std::string throttle;  // "" when not throttled
  std::string message;
};

class FakeIo final : public Actions {
 public:
  void send(const codec::Packet& p) override { sent.push_back(p); }
  void close(EndReason why, Flush flush) override {
    EXPECT_FALSE(closed) << "closed twice";
    closed = std::pair(why, flush);
  }
  void claim() override { ++claims; }
  void release() override { ++releases; }
  void route_add(std::string_view f, std::uint8_t qos) override {
    added.emplace_back(f);
    granted.emplace_back(f, qos);
  }
  void route_remove(std::string_view f) override { removed.emplace_back(f); }
  void send_retained(std::string_view f, std::uint8_t qos) override {
    retained.emplace_back(f, qos);
  }
  void send_publish(const std::shared_ptr<const std::string>& packet, std::uint8_t qos,
                    std::uint16_t packet_id, bool dup) override {
    std::string wire;
    EXPECT_TRUE(codec::encode_publish_as(*packet, qos, packet_id, dup, wire));
    const auto* b = reinterpret_cast<const std::uint8_t*>(wire.data());
    auto r = codec::decode(std::span(b, wire.size()), 1 << 28);
    EXPECT_EQ(r.status, codec::DecodeStatus::kComplete);
    sent.push_back(r.packet);
    sent_publishes.emplace_back(wire.begin(), wire.end());
  }
  void acknowledged(std::size_t bytes) override { acked_bytes.push_back(bytes); }
  void window_changed() override { ++window_changes; }
  void inbound_changed() override { ++inbound_changes; }
  // As the default does (sent at once), and noted: a persistent session's I/O side holds it
  // until a save is committed.
  void send_pubrel(std::uint16_t packet_id) override {
    pubrels.push_back(packet_id);
    send(codec::Pubrel{packet_id});
  }
  void ack_in_order(const codec::Packet& ack) override { acks_in_order.push_back(ack); }
  void publish_will(const codec::Will& w) override { wills.push_back(w); }
  void deadline_changed() override { ++deadline_changes; }
  void log(LogLevel level, const char* throttle, std::string_view message) override {
    logs.push_back({level, throttle ? throttle : "", std::string(message)});
  }
  void login(const codec::Connect& c) override { login_asked = c; }
  void open_session() override { ++sessions_asked; }
  void enroll(const std::string& topic, std::string_view client_id) override {
    enroll_asked = std::pair(topic, std::string(client_id));
  }
  void publish(codec::Publish& p, std::optional<codec::Packet> ack) override {
    published.emplace_back(p, std::move(ack));
  }
  void subscribe(std::uint16_t packet_id, std::span<const std::uint8_t> filters) override {
    subscribe_asked = std::pair(packet_id, filters);
  }
  void unsubscribe(std::uint16_t packet_id, std::span<const std::uint8_t> filters) override {
    unsubscribe_asked = std::pair(packet_id, filters);
  }
  std::string new_client_id() override { return "auto-" + std::to_string(++ids); }
  const ConnectionLimits& limits() const override { return lim; }

  // The last packet sent, of type T.
  template <class T>
  const T& last() const {
    EXPECT_FALSE(sent.empty());
    const T* p = sent.empty() ? nullptr : std::get_if<T>(&sent.back());
    EXPECT_NE(p, nullptr) << "last packet sent is of type "
                          << (sent.empty() ? 0 : static_cast<int>(codec::type_of(sent.back())));
    static const T none{};
    return p ? *p : none;
  }

  ConnectionLimits lim;
  std::vector<codec::Packet> sent;
  std::vector<Bytes> sent_publishes;  // send_publish()'s, as written
  std::optional<std::pair<EndReason, Flush>> closed;
  int claims = 0;
  int releases = 0;
  int deadline_changes = 0;
  int sessions_asked = 0;   // open_session()
  int window_changes = 0;   // window_changed()
  int inbound_changes = 0;  // inbound_changed()
  std::vector<std::string> added, removed;
  std::vector<std::pair<std::string, std::uint8_t>> granted;   // route_add's, in order
  std::vector<std::pair<std::string, std::uint8_t>> retained;  // send_retained's, in order
  std::vector<std::size_t> acked_bytes;                        // acknowledged()
  std::vector<codec::Packet> acks_in_order;                    // ack_in_order()
  std::vector<std::uint16_t> pubrels;                          // send_pubrel()
  std::vector<codec::Will> wills;
  std::vector<LogLine> logs;
  std::optional<codec::Connect> login_asked;
  std::optional<std::pair<std::string, std::string>> enroll_asked;
  std::vector<std::pair<codec::Publish, std::optional<codec::Packet>>> published;
  std::optional<std::pair<std::uint16_t, std::span<const std::uint8_t>>> subscribe_asked;
  std::optional<std::pair<std::uint16_t, std::span<const std::uint8_t>>> unsubscribe_asked;
  int ids = 0;
};

// Feeds `bytes` the way the I/O side does: decode with the connection's limit, hand each packet
// or error over, and run a SUBSCRIBE or UNSUBSCRIBE it asks for to its end (all its turns).
// Stops when the connection closes. Returns the bytes consumed.
inline std::size_t feed(Connection& c, FakeIo& io, const Bytes& bytes, TimePoint now,
                        int* turns = nullptr) {
  std::size_t at = 0;
  c.on_bytes(now);
  while (at < bytes.size() && !c.closing()) {
    auto r = c.decode(std::span(bytes.data() + at, bytes.size() - at), io.lim);
    if (r.status == codec::DecodeStatus::kNeedMore) break;
    if (r.status == codec::DecodeStatus::kError) {
      c.on_decode_error(r.error, io);
      break;
    }
    at += r.consumed;
    io.subscribe_asked.reset();
    io.unsubscribe_asked.reset();
    c.on_packet(r.packet, r.filters, now, io);
    if (io.subscribe_asked) {
      codec::FilterCursor cursor(io.subscribe_asked->second, true);
      codec::Suback ack{io.subscribe_asked->first, {}};
      int n = 1;
      while (!c.subscribe_some(cursor, ack, io)) ++n;
      if (turns) *turns = n;
    }
    if (io.unsubscribe_asked) {
      codec::FilterCursor cursor(io.unsubscribe_asked->second, false);
      int n = 1;
      while (!c.unsubscribe_some(cursor, io.unsubscribe_asked->first, io)) ++n;
      if (turns) *turns = n;
    }
  }
  return at;
}

inline Bytes bytes_of(const codec::Packet& p) {
  const std::string s = codec::encode(p);
  return Bytes(s.begin(), s.end());
}

inline codec::Connect connect_packet(std::string client_id, std::optional<std::string> user,
                                     std::optional<std::string> pass,
                                     std::uint16_t keep_alive = 60) {
  codec::Connect c;
  c.client_id = std::move(client_id);
  c.username = std::move(user);
  c.password = std::move(pass);
  c.keep_alive = keep_alive;
  return c;
}

using Flush = Actions::Flush;

// A connection accepted at kT0 (and the I/O side that drives it).
struct ConnectionFixture : ::testing::Test {
  ConnectionFixture() { conn.on_accepted(kT0); }

  // CONNECT with credentials, then the login answered for `role` at `at`.
  void log_in(Role role = Role::kDevice, std::optional<codec::Will> will = std::nullopt,
              std::uint16_t keep_alive = 60, TimePoint at = kT0 + 1s) {
    auto c = connect_packet("cid", "dev-1", "secret", keep_alive);
    c.will = std::move(will);
    feed(conn, io, bytes_of(c), at);
    ASSERT_EQ(conn.phase(), Phase::kLoggingIn);
    conn.on_login(role, role == Role::kAccount ? "acct-1" : "dev-1", at, io);
    ASSERT_EQ(conn.phase(), Phase::kConnected);
  }

  void enroll_session(std::string client_id = "model-hwid") {
    feed(conn, io, bytes_of(connect_packet(std::move(client_id), std::nullopt, std::nullopt)),
         kT0 + 1s);
    ASSERT_EQ(conn.phase(), Phase::kEnrolling);
  }

  // The connection ended with `why`; `flush`: after its last packet was written.
  void expect_closed(EndReason why, Flush flush) {
    EXPECT_TRUE(conn.closing());
    EXPECT_EQ(conn.end_reason(), why);
    ASSERT_TRUE(io.closed);
    EXPECT_EQ(io.closed->first, why);
    EXPECT_EQ(io.closed->second, flush);
  }

  const LogLine& last_log() {
    static const LogLine none{};
    EXPECT_FALSE(io.logs.empty());
    return io.logs.empty() ? none : io.logs.back();
  }

  FakeIo io;
  Connection conn;
};

}  // namespace plugmq::broker::testing
