// The connection's dispatch by phase, its deadlines and its end. CONNECT, login and enrollment
// are in handle_connect.cpp; SUBSCRIBE and UNSUBSCRIBE in handle_subscribe.cpp; the reaction
// table in reaction.cpp.
#include "plugmq/broker/connection.hpp"

#include <algorithm>
#include <string>

namespace plugmq::broker {

using codec::PacketType;

Connection::~Connection() = default;

Connection::Extras& Connection::extras() {
  if (!extras_) extras_ = std::make_unique<Extras>();
  return *extras_;
}

std::size_t Connection::packet_limit(const ConnectionLimits& l) const {
  switch (role_) {
    case Role::kEnroll:
      return std::min(l.max_packet_size.get(), kMaxEnrollPacket);
    case Role::kDevice:
    case Role::kAccount:
      return l.max_packet_size;
    case Role::kNone:
      break;
  }
  return std::min(l.max_packet_size.get(), codec::kMaxConnectRemainingLength);
}

codec::DecodeResult Connection::decode(std::span<const std::uint8_t> in,
                                       const ConnectionLimits& l) const {
  // An enrollment session's one SUBSCRIBE is decoded; other SUBSCRIBEs and UNSUBSCRIBEs are
  // handled in turns from the I/O side's buffer (Actions::subscribe).
  const auto filters = role_ == Role::kEnroll ? codec::Filters::kDecoded : codec::Filters::kInPlace;
  return codec::decode(in, packet_limit(l), filters);
}

void Connection::on_decode_error(codec::DecodeError e, Actions& out) {
  const auto& l = out.limits();
  const std::size_t limit = packet_limit(l);
  const Violation v = violation_of(e, phase_, limit < l.max_packet_size);
  const bool too_large = v == Violation::kPacketTooLarge || v == Violation::kPacketTooLargeForPhase;
  const std::string detail = too_large ? std::to_string(limit) : codec::to_string(e);
  violate(v, detail, out);
}

void Connection::violate(Violation v, std::string_view detail, Actions& out) {
  if (closing()) return;
  const Reaction r = react(v, phase_);
  std::string line = r.message;
  if (const auto at = line.find("{}"); at != std::string::npos) line.replace(at, 2, detail);
  out.log(r.level, r.throttle, line);
  end(r.reason);
  if (r.connack) {
    out.send(codec::Connack{false, *r.connack});
    out.close(r.reason, Actions::Flush::kFirst);
  } else {
    out.close(r.reason, Actions::Flush::kNo);
  }
}

void Connection::on_packet(codec::Packet& p, std::span<const std::uint8_t> filters, TimePoint,
                           Actions& out) {
  switch (phase_) {
    case Phase::kAwaitConnect:
      if (auto* c = std::get_if<codec::Connect>(&p)) return on_connect(*c, out);
      return violate(Violation::kFirstPacketNotConnect, {}, out);
    case Phase::kEnrolling:
      return on_enroll_packet(p, out);
    case Phase::kConnected:
      return on_connected_packet(p, filters, out);
    case Phase::kLoggingIn:
      // The I/O side reads nothing while a login is checked.
      return violate(Violation::kSecondConnect, {}, out);
    case Phase::kClosing:
    case Phase::kClosed:
      return;  // nothing more is read
  }
}

void Connection::on_connected_packet(codec::Packet& p, std::span<const std::uint8_t> filters,
                                     Actions& out) {
  switch (codec::type_of(p)) {
    case PacketType::kPublish:
      return on_publish(std::get<codec::Publish>(p), out);
    case PacketType::kSubscribe:
      return out.subscribe(std::get<codec::Subscribe>(p).packet_id, filters);
    case PacketType::kUnsubscribe:
      return out.unsubscribe(std::get<codec::Unsubscribe>(p).packet_id, filters);
    case PacketType::kPingreq:
      return out.send(codec::Pingresp{});
    case PacketType::kPubrel:
    case PacketType::kPuback:
    case PacketType::kPubrec:
    case PacketType::kPubcomp:
      return on_ack(p, out);
    case PacketType::kDisconnect:
      end(EndReason::kDisconnect);  // no will [MQTT-3.14.4-3]
      return out.close(EndReason::kDisconnect, Actions::Flush::kNo);
    case PacketType::kConnect:
      return violate(Violation::kSecondConnect, {}, out);
    case PacketType::kConnack:
    case PacketType::kSuback:
    case PacketType::kUnsuback:
    case PacketType::kPingresp:
      break;
  }
  violate(Violation::kServerOnlyPacket, {}, out);
}

Connection::TimePoint Connection::deadline(TimePoint now, const ConnectionLimits& l) const {
  switch (phase_) {
    case Phase::kAwaitConnect:
      // From accept, whatever the connection waits for, until its CONNECT is in. One whose
      // whole CONNECT waits to be read has sent it in time.
      if (!connect_arrived_) return since_ + l.connect_timeout.get();
      [[fallthrough]];
    case Phase::kLoggingIn:
      // Credentials are being checked (account passwords are a deliberately slow hash, and a
      // login storm queues them): no deadline; look again soon.
      return now + kLoginPoll;
    case Phase::kEnrolling:
      return since_ + l.enroll_timeout.get();  // from accept, whatever happens (SPEC 5)
    case Phase::kConnected:
      if (keep_alive_ == 0) return TimePoint::max();
      return since_ + keep_alive_limit(keep_alive_);  // [MQTT-3.1.2-24]
    case Phase::kClosing:
    case Phase::kClosed:
      break;
  }
  return TimePoint::max();
}

void Connection::on_timer(TimePoint now, Actions& out) {
  const auto& l = out.limits();
  if (now < deadline(now, l)) return;
  switch (phase_) {
    case Phase::kAwaitConnect:
      return violate(Violation::kNoConnectInTime, std::to_string(l.connect_timeout.get().count()), out);
    case Phase::kEnrolling:
      return violate(Violation::kEnrollTimeUp, {}, out);
    case Phase::kConnected:
      return violate(Violation::kKeepAliveExpired, std::to_string(keep_alive_), out);
    case Phase::kLoggingIn:
    case Phase::kClosing:
    case Phase::kClosed:
      return;
  }
}

void Connection::end(EndReason why) {
  if (closing()) return;
  reason_ = why;
  phase_ = Phase::kClosing;
}

void Connection::on_closed(Actions& out) {
  if (phase_ == Phase::kClosed) return;
  end(EndReason::kClosedByPeer);
  phase_ = Phase::kClosed;
  // Only a connection that logged in has a will to publish [MQTT-3.1.2-8]; an enrollment
  // session publishes nothing.
  if (logged_in() && has_will() && publishes_will(reason_)) out.publish_will(*extras_->will);
}

}  // namespace plugmq::broker
