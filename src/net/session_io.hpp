// Session::Io: the broker::Actions a session passes to its connection, one per call, on the
// session thread's stack. Effects are done at once; a request (login, enrollment, publish,
// SUBSCRIBE, UNSUBSCRIBE) and the will are noted, for Session::perform() and Session::finish()
// to run once the call has returned; a deadline change is noted for Session::settle().
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "plugmq/codec/codec.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/service/retained.hpp"
#include "session.hpp"

namespace plugmq::net {

template <class Stream>
class Session<Stream>::Io final : public broker::Actions {
 public:
  enum class Ask : std::uint8_t {
    kNone,
    kLogin,
    kSession,
    kEnroll,
    kPublish,
    kSubscribe,
    kUnsubscribe
  };

  explicit Io(Session& s) : s_(s) {}

  void send(const codec::Packet& p) override { s_.send(p); }
  void close(broker::EndReason, Flush flush) override {
    // The connection has ended already; input() stops reading, and the watchdog or the end of
    // input() finishes the session.
    if (flush == Flush::kFirst) s_.close_after_flush();
  }
  void claim() override { s_.ctx_.registry.claim(s_.conn_.key(), &s_); }
  void release() override { s_.ctx_.registry.release(s_.conn_.key(), &s_); }
  void route_add(std::string_view filter, std::uint8_t qos) override {
    if (!platform::filter_can_match(filter)) {
      s_.log(broker::LogLevel::kInfo, "subscription never matches",
             "subscription to '" + std::string(filter) +
                 "' can never match a topic plugmq delivers (PLUG_ID/data/CHANNEL, "
                 "PLUG_ID/ag/prop/set|get): it receives nothing");
    }
    s_.ctx_.router.subscribe(s_.principal_->account_id, filter, &s_, qos);
    if (s_.persist_) s_.mark_dirty();
  }
  void route_remove(std::string_view filter) override {
    s_.ctx_.router.unsubscribe(s_.principal_->account_id, filter, &s_);
    if (s_.persist_) s_.mark_dirty();
  }
  void send_retained(std::string_view filter, std::uint8_t qos) override {
    if (retained != nullptr) retained->add(filter, qos);  // sent after the SUBACK
  }
  void send_publish(const std::shared_ptr<const std::string>& packet, std::uint8_t qos,
                    std::uint16_t packet_id, bool dup) override {
    // Encoded for this client (its packet id), one copy per message: decision 015.
    auto bytes = std::make_shared<std::string>();
    if (codec::encode_publish_as(*packet, qos, packet_id, dup, *bytes)) {
      s_.send(Packet(std::move(bytes)));
    }
  }
  void acknowledged(std::size_t bytes) override { s_.acknowledged(bytes); }
  void window_changed() override {
    auto* p = s_.persist_.get();
    if (p == nullptr) return;
    s_.mark_dirty();
    // catch_up() reads the next chunk once few messages wait for the window.
    if (p->waiting_window && s_.conn_.waiting() < PersistState::kLowWater && p->wake) {
      p->waiting_window = false;
      p->wake->cancel();
    }
  }
  void inbound_changed() override {
    if (s_.persist_) s_.mark_dirty();
  }
  void send_pubcomp(std::uint16_t packet_id) override { s_.send_pubcomp(packet_id); }
  void send_pubrel(std::uint16_t packet_id) override { s_.send_pubrel(packet_id); }
  void ack_in_order(const codec::Packet& ack) override {
    // Behind the acknowledgements a persistent session holds for its next save, if any.
    if (s_.persist_ && s_.persist_->gate.orders_publishes()) return s_.hold_ack(ack, true);
    s_.ctx_.writer.push_done(s_.ack_when_stored(ack));
  }
  void publish_will(const codec::Will& w) override { will = &w; }
  void deadline_changed() override { rearm = true; }
  void log(broker::LogLevel level, const char* throttle, std::string_view message) override {
    s_.log(level, throttle, message);
  }

  void login(const codec::Connect& c) override {
    ask = Ask::kLogin;
    connect = &c;
  }
  void open_session() override { ask = Ask::kSession; }
  void enroll(const std::string& t, std::string_view cid) override {
    ask = Ask::kEnroll;
    topic = &t;
    client_id = cid;
  }
  void publish(codec::Publish& p, std::optional<codec::Packet> a) override {
    ask = Ask::kPublish;
    packet = &p;
    ack = std::move(a);
  }
  void subscribe(std::uint16_t id, std::span<const std::uint8_t> f) override {
    ask = Ask::kSubscribe;
    packet_id = id;
    filters = f;
  }
  void unsubscribe(std::uint16_t id, std::span<const std::uint8_t> f) override {
    ask = Ask::kUnsubscribe;
    packet_id = id;
    filters = f;
  }

  std::string new_client_id() override { return "auto-" + platform::new_oid(); }
  const broker::ConnectionLimits& limits() const override { return s_.ctx_.connection_limits; }

  // What the connection asked for (each valid while the packet or the connection it points
  // into is).
  Ask ask = Ask::kNone;
  const codec::Connect* connect = nullptr;
  const std::string* topic = nullptr;
  std::string_view client_id;
  codec::Publish* packet = nullptr;
  std::optional<codec::Packet> ack;
  std::uint16_t packet_id = 0;
  std::span<const std::uint8_t> filters;
  const codec::Will* will = nullptr;
  // Where a SUBSCRIBE's filters note their retained messages (Session::run_subscribe).
  service::RetainedSender* retained = nullptr;
  bool rearm = false;

 private:
  Session& s_;
};

}  // namespace plugmq::net
