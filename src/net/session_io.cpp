// What a session's connection asks for, run against the server's services: the request of a
// call (perform), a PUBLISH and the publish path it shares with the will (data or a property
// request, service/publish.hpp), and SUBSCRIBE / UNSUBSCRIBE in turns, a SUBSCRIBE's retained
// messages after its SUBACK (service/retained.hpp). Logins and enrollments are in
// session_login.cpp.
#include "session_io.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/use_awaitable.hpp>

#include "plugmq/codec/codec.hpp"
#include "plugmq/service/publish.hpp"
#include "session.hpp"
#include "session_util.hpp"

namespace plugmq::net {

namespace asio = boost::asio;
using broker::EndReason;

template <class Stream>
asio::awaitable<void> Session<Stream>::perform(Io& io) {
  // Coroutine arguments are lvalues and awaitables are named before co_await: GCC 12 destroys
  // the temporaries of a co_await full-expression twice.
  using Ask = typename Io::Ask;
  switch (io.ask) {
    case Ask::kNone:
    case Ask::kSession:  // asked only by on_login (run_login)
      break;
    case Ask::kLogin: {
      auto op = run_login(*io.connect);
      co_await std::move(op);
      break;
    }
    case Ask::kEnroll: {
      auto op = run_enroll(*io.topic, io.client_id);
      co_await std::move(op);
      break;
    }
    case Ask::kPublish: {
      auto op = run_publish(*io.packet, io.ack);
      co_await std::move(op);
      break;
    }
    case Ask::kSubscribe:
    case Ask::kUnsubscribe: {
      const bool sub = io.ask == Ask::kSubscribe;
      auto op = run_subscribe(io.packet_id, io.filters, sub);
      co_await std::move(op);
      break;
    }
  }
}

template <class Stream>
asio::awaitable<void> Session<Stream>::run_publish(codec::Publish& p,
                                                   std::optional<codec::Packet>& ack) {
  store::DataWriter::Done done;
  // A persistent session's PUBREC goes once a save holding its id, pushed behind its record, is
  // committed (a PUBLISH sent again after a SIGKILL is then not stored again); a PUBACK that
  // would overtake an acknowledgement waiting so waits with it (SaveGate).
  SaveGate* gate = persist_ && persist_->resumed ? &persist_->gate : nullptr;
  std::shared_ptr<SaveGate::Held> held;
  if (ack && gate != nullptr && (p.qos == 2 || gate->orders_publishes())) {
    held = gate->group_for_publish();
    done = [held](bool ok) {
      if (!ok) held->failed = true;  // before the save's callback, which then sends nothing
    };
    gate->begin_publish();  // no save before the record is queued
  } else if (ack) {
    done = ack_when_stored(std::move(*ack));
  }
  publisher_ = true;
  // A persistent session saves a QoS 2 id awaiting its PUBREL only behind its record.
  PersistState* persist = p.qos == 2 ? persist_.get() : nullptr;
  if (persist != nullptr) persist->storing_qos2 = p.packet_id;
  // Held: the save pushed behind the record commits it, in the same transaction.
  const bool commit_soon = held == nullptr;
  auto op = publish_data(p.topic, p.payload, p.qos, p.retain, done, commit_soon);
  co_await std::move(op);
  if (persist != nullptr) {
    persist->storing_qos2 = 0;
    mark_dirty();
  }
  if (held) {
    held->acks.push_back(std::move(*ack));
    gate->end_publish();
    // At once rather than posted: the save goes right behind the record, into the same
    // transaction. Those that come while it is being committed share the next save.
    if (gate->want_flush()) flush_gate();
  }
}

template <class Stream>
asio::awaitable<void> Session<Stream>::run_subscribe(std::uint16_t packet_id,
                                                     std::span<const std::uint8_t> filters,
                                                     bool sub) {
  codec::FilterCursor at(filters, sub);
  codec::Suback ack;
  ack.packet_id = packet_id;
  service::RetainedSender retained;
  for (;;) {
    Io io(*this);
    io.retained = &retained;
    if (sub ? conn_.subscribe_some(at, ack, io) : conn_.unsubscribe_some(at, packet_id, io)) {
      break;
    }
    auto pause = next_turn();
    if (!co_await std::move(pause)) co_return;
  }
  // The SUBACK is queued: the retained messages of its filters follow [MQTT-3.3.1-6].
  while (!retained.empty()) {
    const auto who = principal_;  // a directory refresh may replace principal_ meanwhile
    auto some = retained.send_some(ctx_, *who, *this);
    if (co_await std::move(some)) break;
    auto pause = next_turn();
    if (!co_await std::move(pause)) co_return;
  }
}

template <class Stream>
asio::awaitable<void> Session<Stream>::publish_data(const std::string& topic,
                                                    const std::string& payload, std::uint8_t qos,
                                                    bool retain, store::DataWriter::Done& done,
                                                    bool commit_soon) {
  // The publish path shared with HTTP (service/publish.hpp). A copy of the pointer: a
  // directory refresh may replace principal_ during the await.
  const auto who = principal_;
  const service::MakeReply reply_to = [this] {
    return [self = this->shared_from_this()](std::string topic, std::string payload) {
      self->reply(topic, std::move(payload));
    };
  };
  auto op = service::publish_message(ctx_, *who, topic, payload, qos, retain, reply_to, done, peer_,
                                     client_id(), commit_soon);
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

#define PLUGMQ_SESSION_IO(S)                                                                       \
  template asio::awaitable<void> Session<S>::perform(Io&);                                         \
  template asio::awaitable<void> Session<S>::run_publish(codec::Publish&,                          \
                                                         std::optional<codec::Packet>&);           \
  template asio::awaitable<void> Session<S>::run_subscribe(std::uint16_t,                          \
                                                           std::span<const std::uint8_t>, bool);   \
  template asio::awaitable<void> Session<S>::publish_data(                                         \
      const std::string&, const std::string&, std::uint8_t, bool, store::DataWriter::Done&, bool); \
  template void Session<S>::reply(const std::string&, std::string);
PLUGMQ_SESSION_IO(Socket)
PLUGMQ_SESSION_IO(TlsStream)
PLUGMQ_SESSION_IO(WsStream)
PLUGMQ_SESSION_IO(WssStream)
#undef PLUGMQ_SESSION_IO

}  // namespace plugmq::net
