// CONNECT, its login's answer, and an enrollment session (SPEC 3, 5).
#include <string>

#include "plugmq/broker/connection.hpp"

namespace plugmq::broker {

using codec::ConnackCode;
using codec::PacketType;

void Connection::on_connect(codec::Connect& c, Actions& out) {
  if (c.will && !codec::valid_topic(c.will->topic)) {
    return violate(Violation::kInvalidWillTopic, {}, out);  // published like a PUBLISH's
  }
  if (c.client_id.empty()) {
    // [MQTT-3.1.3-8]: an empty client id needs clean session 1; the server then assigns one
    // [MQTT-3.1.3-6].
    if (!c.clean_session) return violate(Violation::kClientIdRejected, {}, out);
    key_ = Registry::key({}, out.new_client_id());
    client_id_assigned_ = true;
  } else {
    key_ = Registry::key({}, c.client_id);
  }
  keep_alive_ = c.keep_alive;
  clean_session_ = c.clean_session;
  const bool no_user = !c.username || c.username->empty();
  const bool no_pass = !c.password || c.password->empty();
  if (no_user && no_pass) {
    // An enrollment session (SPEC 5): it may only SUBSCRIBE to one enrollment topic, and it
    // publishes nothing, so its will is ignored. Its deadline replaces the CONNECT's.
    role_ = Role::kEnroll;
    key_ = Registry::key("enroll", client_id());  // in logs; never registered
    phase_ = Phase::kEnrolling;
    out.deadline_changed();
    out.send(codec::Connack{false, ConnackCode::kAccepted});
    out.log(LogLevel::kInfo, nullptr, "enrollment session");
    return;
  }
  if (no_user) return refuse(ConnackCode::kBadCredentials, out);
  if (c.will) extras().will = std::move(*c.will);
  c.will.reset();
  phase_ = Phase::kLoggingIn;
  out.login(c);
}

void Connection::on_login(Role role, std::string_view identity, TimePoint now, Actions& out) {
  // A connection that ended while its login was checked (the server stopping) is not
  // accepted: nothing is claimed, and it never counts as logged in.
  if (phase_ != Phase::kLoggingIn) return;
  role_ = role;
  key_ = Registry::key(identity, client_id());
  claimed_ = true;
  out.claim();  // closes an older connection of the pair [MQTT-3.1.4-2]
  std::string line = role == Role::kAccount ? "account login " : "device login ";
  line.append(identity).append(" (keep alive ").append(std::to_string(keep_alive_)).append(" s)");
  if (!clean_session_) line.append(", persistent session");
  out.log(LogLevel::kInfo, nullptr, line);
  if (!clean_session_) return out.open_session();  // the CONNACK says whether it was found
  on_session(false, now, out);
}

void Connection::on_session(bool present, TimePoint now, Actions& out) {
  if (phase_ != Phase::kLoggingIn || role_ == Role::kNone) return;
  phase_ = Phase::kConnected;
  since_ = now;            // the keep alive runs from the CONNACK on
  out.deadline_changed();  // the keep alive replaces the CONNECT deadline
  // Session present only for a resumed session; clean session 1 never [MQTT-3.2.2-1, -2].
  out.send(codec::Connack{present && !clean_session_, ConnackCode::kAccepted});
}

void Connection::on_login_refused(LoginResult r, Actions& out) {
  if (phase_ != Phase::kLoggingIn) return;
  refuse(connack_for(r), out);
}

void Connection::refuse(ConnackCode code, Actions& out) {
  if (extras_) extras_->will.reset();  // never published: the connection was not accepted
  end(EndReason::kRefused);
  out.send(codec::Connack{false, code});
  out.close(EndReason::kRefused, Actions::Flush::kFirst);
}

void Connection::on_enroll_packet(codec::Packet& p, Actions& out) {
  switch (codec::type_of(p)) {
    case PacketType::kPingreq:
      return out.send(codec::Pingresp{});
    case PacketType::kDisconnect:
      end(EndReason::kDisconnect);
      return out.close(EndReason::kDisconnect, Actions::Flush::kNo);
    case PacketType::kSubscribe:
      break;
    default:
      return violate(Violation::kEnrollPacketNotAllowed, {}, out);
  }
  const auto& sub = std::get<codec::Subscribe>(p);
  if (enroll_used_ || sub.subscriptions.size() != 1) {
    return violate(Violation::kEnrollSubscribeMisuse, {}, out);
  }
  enroll_used_ = true;
  out.send(codec::Suback{sub.packet_id, {0}});
  // The serial's HWID is the client's own client id, never one the server made up.
  out.enroll(sub.subscriptions[0].filter, client_id_assigned_ ? std::string_view() : client_id());
}

void Connection::on_enrolled(bool ok, const std::string& topic, std::string payload, Actions& out) {
  if (closing()) return;
  codec::Publish reply;
  reply.topic = topic;
  reply.payload = std::move(payload);
  out.send(reply);
  if (!ok) {
    // The seed: after a failure the server closes the connection once the reply is out.
    end(EndReason::kEnrollDone);
    out.close(EndReason::kEnrollDone, Actions::Flush::kFirst);
  }
}

}  // namespace plugmq::broker
