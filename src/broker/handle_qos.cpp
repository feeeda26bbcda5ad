// QoS 1 and 2 [MQTT-4.3]: a PUBLISH in and its acknowledgement (QoS 2 exactly once), messages
// out through the in-flight window, and the client's acknowledgements of them. The state is
// qos.hpp's, in the connection's Extras.
#include <string>

#include "plugmq/broker/connection.hpp"

namespace plugmq::broker {

using codec::PacketType;

QosState& Connection::qos() {
  auto& x = extras();
  if (!x.qos) x.qos = std::make_unique<QosState>();
  return *x.qos;
}

void Connection::drop_qos_if_idle() {
  if (extras_ && extras_->qos && extras_->qos->idle()) extras_->qos.reset();
}

void Connection::on_publish(codec::Publish& pub, Actions& out) {
  // The decoder already closed on wildcards in the topic [MQTT-3.3.2-2]. QoS 1: PUBACK once the
  // record is durably stored (SPEC 4); QoS 2: PUBREC the same way, and the packet id is held
  // until its PUBREL.
  if (pub.qos == 0) return out.publish(pub, std::nullopt);
  if (pub.qos == 1) return out.publish(pub, codec::Puback{pub.packet_id});
  if (!qos().awaiting_pubrel.insert(pub.packet_id)) {
    // Sent again before its PUBREL (with DUP, after a reconnect or a lost PUBREC): it was
    // stored and routed already [MQTT-4.3.3-2]. Only its PUBREC again, after the
    // acknowledgements of the publishes before it.
    return out.ack_in_order(codec::Pubrec{pub.packet_id});
  }
  out.inbound_changed();
  out.publish(pub, codec::Pubrec{pub.packet_id});
}

void Connection::restore_awaiting_pubrel(std::uint16_t id) {
  if (phase_ != Phase::kConnected || id == 0) return;
  qos().awaiting_pubrel.insert(id);  // stored and acknowledged by the connection before
}

void Connection::deliver(Outgoing m, Actions& out) {
  if (phase_ != Phase::kConnected) return;
  qos().outbound.push(std::move(m));
  send_waiting(out);
}

void Connection::restore_inflight(OutboundWindow::InFlight f, Actions& out) {
  if (phase_ != Phase::kConnected) return;
  const std::uint16_t id = f.id;
  if (f.stage == OutboundWindow::Stage::kPubcomp) {
    f.packet.reset();
    qos().outbound.restore(std::move(f));
    return out.send(codec::Pubrel{id});  // PUBREC came: the PUBREL again [MQTT-4.4.0-1]
  }
  if (!f.packet) return;
  auto packet = f.packet;
  const std::uint8_t q = f.qos;
  qos().outbound.restore(std::move(f));
  out.send_publish(packet, q, id, true);
}

void Connection::send_waiting(Actions& out) {
  if (qos_state() == nullptr) return;
  auto& window = extras_->qos->outbound;
  const std::size_t max = out.limits().max_inflight;
  while (const auto* f = window.send_next(max)) out.send_publish(f->packet, f->qos, f->id, false);
}

void Connection::on_ack(const codec::Packet& p, Actions& out) {
  QosState* q = extras_ ? extras_->qos.get() : nullptr;
  switch (codec::type_of(p)) {
    case PacketType::kPubrel: {
      // The client released a QoS 2 message: a PUBLISH with its id is a new message again
      // [MQTT-4.3.3-2]. PUBCOMP answers it also for an id not held: ours may have been lost.
      const std::uint16_t id = std::get<codec::Pubrel>(p).packet_id;
      const bool held = q != nullptr && q->awaiting_pubrel.erase(id);
      drop_qos_if_idle();
      if (held) out.inbound_changed();
      return out.send_pubcomp(id);
    }
    case PacketType::kPuback: {
      const std::uint16_t id = std::get<codec::Puback>(p).packet_id;
      const auto bytes = q ? q->outbound.on_puback(id) : std::nullopt;
      if (!bytes) return unknown_ack("PUBACK", id, out);
      out.acknowledged(*bytes);
      break;
    }
    case PacketType::kPubrec: {
      // QoS 2: the client has the message; its place in the window is held until PUBCOMP.
      const std::uint16_t id = std::get<codec::Pubrec>(p).packet_id;
      const auto bytes = q ? q->outbound.on_pubrec(id) : std::nullopt;
      if (!bytes) return unknown_ack("PUBREC", id, out);
      if (*bytes > 0) out.acknowledged(*bytes);
      out.window_changed();
      return out.send_pubrel(id);
    }
    case PacketType::kPubcomp: {
      const std::uint16_t id = std::get<codec::Pubcomp>(p).packet_id;
      if (q == nullptr || !q->outbound.on_pubcomp(id)) return unknown_ack("PUBCOMP", id, out);
      break;
    }
    default:
      return;
  }
  // A place in the window is free.
  send_waiting(out);
  out.window_changed();
  drop_qos_if_idle();
}

void Connection::unknown_ack(const char* what, std::uint16_t id, Actions& out) {
  // An acknowledgement of nothing this connection waits for (never sent, or acknowledged
  // already) changes nothing: tolerated.
  out.log(LogLevel::kDebug, "mqtt unknown ack",
          std::string(what) + " for packet id " + std::to_string(id) +
              ", which nothing awaits; ignored");
}

}  // namespace plugmq::broker
