// broker::Connection's QoS 1 and 2 [MQTT-4.3], driven by bytes and a fake clock: the QoS a
// SUBSCRIBE grants, the in-flight window (full, then one more per acknowledgement), PUBACK,
// PUBREC -> PUBREL -> PUBCOMP, acknowledgements of nothing, packet ids, and inbound QoS 2
// exactly once. The window and the id set alone: qos_test.cpp.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fake_io.hpp"
#include "plugmq/broker/connection.hpp"

namespace plugmq::broker {
namespace {

using namespace testing;

// A message's shared QoS 0 encoding, as the publish path makes it.
std::shared_ptr<const std::string> qos0(const std::string& topic, const std::string& payload) {
  codec::Publish p;
  p.topic = topic;
  p.payload = payload;
  return std::make_shared<const std::string>(codec::encode(p));
}

Bytes ack_bytes(std::uint8_t first, std::uint16_t id) {
  return {first, 0x02, static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id & 0xFF)};
}
Bytes puback(std::uint16_t id) { return ack_bytes(0x40, id); }
Bytes pubrec(std::uint16_t id) { return ack_bytes(0x50, id); }
Bytes pubrel(std::uint16_t id) { return ack_bytes(0x62, id); }
Bytes pubcomp(std::uint16_t id) { return ack_bytes(0x70, id); }

struct Qos : ConnectionFixture {
  Qos() { log_in(); }

  // Delivers `n` messages at `qos` on "dev-1/data/t", payloads "0", "1", ...
  void deliver(int n, std::uint8_t qos, int first = 0) {
    for (int i = first; i < first + n; ++i) {
      conn.deliver({qos0("dev-1/data/t", std::to_string(i)), qos}, io);
    }
  }

  // The PUBLISHes sent since `from` (an index into io.sent).
  std::vector<codec::Publish> publishes(std::size_t from = 0) const {
    std::vector<codec::Publish> out;
    for (std::size_t i = from; i < io.sent.size(); ++i) {
      if (const auto* p = std::get_if<codec::Publish>(&io.sent[i])) out.push_back(*p);
    }
    return out;
  }

  std::size_t debug_lines_with(const std::string& text) const {
    std::size_t n = 0;
    for (const auto& l : io.logs) {
      if (l.level == LogLevel::kDebug && l.message.find(text) != std::string::npos) ++n;
    }
    return n;
  }
};

// ---- Granted QoS ----

TEST_F(Qos, MQTT_3_9_3_SubackGrantsTheQosAskedFor) {
  feed(conn, io, bytes_of(codec::Subscribe{3, {{"a", 0}, {"b/+", 1}, {"c/#", 2}, {"d/#/x", 1}}}),
       kT0 + 2s);
  EXPECT_EQ(io.last<codec::Suback>().return_codes,
            (std::vector<std::uint8_t>{0, 1, 2, codec::kSubackFailure}));
  using Granted = std::vector<std::pair<std::string, std::uint8_t>>;
  EXPECT_EQ(io.granted, (Granted{{"a", 0}, {"b/+", 1}, {"c/#", 2}}));
  EXPECT_EQ(conn.granted_qos("c/#"), 2);
}

TEST_F(Qos, MQTT_3_8_4_3_SubscribingAgainReplacesTheQos) {
  feed(conn, io, bytes_of(codec::Subscribe{1, {{"a/#", 2}}}), kT0 + 2s);
  feed(conn, io, bytes_of(codec::Subscribe{2, {{"a/#", 0}}}), kT0 + 2s);
  EXPECT_EQ(io.last<codec::Suback>().return_codes, std::vector<std::uint8_t>{0});
  feed(conn, io, bytes_of(codec::Subscribe{3, {{"a/#", 0}}}), kT0 + 2s);  // the same again
  using Granted = std::vector<std::pair<std::string, std::uint8_t>>;
  EXPECT_EQ(io.granted, (Granted{{"a/#", 2}, {"a/#", 0}})) << "the router told of each change";
  EXPECT_EQ(conn.filter_count(), 1u);
  EXPECT_EQ(conn.granted_qos("a/#"), 0);
}

// ---- Outbound QoS 1 ----

TEST_F(Qos, Qos1IsSentWithAPacketIdAndDoneAtItsPuback) {
  const std::size_t before = io.sent.size();
  conn.deliver({qos0("t", "x"), 1}, io);
  ASSERT_EQ(io.sent_publishes.size(), 1u);
  // PUBLISH, QoS 1; remaining length 6; topic "t"; packet id 1; payload "x".
  EXPECT_EQ(io.sent_publishes[0], (Bytes{0x32, 0x06, 0x00, 0x01, 't', 0x00, 0x01, 'x'}));
  EXPECT_EQ(conn.in_flight(), 1u);
  feed(conn, io, puback(1), kT0 + 3s);
  EXPECT_EQ(conn.in_flight(), 0u);
  EXPECT_EQ(io.acked_bytes, std::vector<std::size_t>{qos0("t", "x")->size()});
  EXPECT_EQ(io.sent.size(), before + 1) << "a PUBACK is answered with nothing";
  EXPECT_FALSE(io.closed);
}

TEST_F(Qos, WindowFullThenOneMorePerPuback) {
  io.lim.max_inflight = 3;
  deliver(5, 1);
  auto sent = publishes();
  ASSERT_EQ(sent.size(), 3u);
  for (std::uint16_t i = 0; i < 3; ++i) {
    EXPECT_EQ(sent[i].packet_id, i + 1);
    EXPECT_EQ(sent[i].qos, 1);
    EXPECT_EQ(sent[i].payload, std::to_string(i));
  }
  EXPECT_EQ(conn.in_flight(), 3u);
  EXPECT_EQ(conn.waiting(), 2u);
  // Acknowledged out of order: each frees one place, and the next waiting message takes it.
  feed(conn, io, puback(2), kT0 + 3s);
  sent = publishes();
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent[3].payload, "3");
  EXPECT_EQ(sent[3].packet_id, 4);
  feed(conn, io, puback(1), kT0 + 3s);
  ASSERT_EQ(publishes().size(), 5u);
  EXPECT_EQ(publishes()[4].payload, "4");
  EXPECT_EQ(conn.waiting(), 0u);
  EXPECT_EQ(conn.in_flight(), 3u);
  feed(conn, io, puback(3), kT0 + 3s);
  feed(conn, io, puback(4), kT0 + 3s);
  feed(conn, io, puback(5), kT0 + 3s);
  EXPECT_EQ(conn.in_flight(), 0u);
  EXPECT_EQ(io.acked_bytes.size(), 5u);
  EXPECT_EQ(publishes().size(), 5u);
}

TEST_F(Qos, MQTT_4_6_0_SentInTheOrderDelivered) {
  io.lim.max_inflight = 4;
  for (int i = 0; i < 40; ++i) {
    conn.deliver({qos0("dev-1/data/t", std::to_string(i)), static_cast<std::uint8_t>(1 + i % 2)},
                 io);
  }
  // Acknowledged as the client would: QoS 1 with PUBACK, QoS 2 with PUBREC then PUBCOMP.
  for (std::size_t done = 0; done < 40; ++done) {
    const auto sent = publishes();
    ASSERT_GT(sent.size(), done);
    const auto& p = sent[done];
    EXPECT_EQ(p.payload, std::to_string(done));
    EXPECT_EQ(p.qos, 1 + done % 2);
    if (p.qos == 1) {
      feed(conn, io, puback(p.packet_id), kT0 + 3s);
    } else {
      feed(conn, io, pubrec(p.packet_id), kT0 + 3s);
      feed(conn, io, pubcomp(p.packet_id), kT0 + 3s);
    }
  }
  EXPECT_EQ(publishes().size(), 40u);
  EXPECT_EQ(conn.in_flight() + conn.waiting(), 0u);
}

// ---- Outbound QoS 2 ----

TEST_F(Qos, Qos2PubrecThenPubrelThenPubcomp) {
  io.lim.max_inflight = 1;
  deliver(2, 2);
  ASSERT_EQ(publishes().size(), 1u);
  EXPECT_EQ(publishes()[0].qos, 2);
  const std::uint16_t id = publishes()[0].packet_id;
  // PUBREC: the client has it; PUBREL goes back; its place stays taken until PUBCOMP.
  feed(conn, io, pubrec(id), kT0 + 3s);
  EXPECT_EQ(io.sent.back(), codec::Packet(codec::Pubrel{id}));
  EXPECT_EQ(io.acked_bytes.size(), 1u);
  EXPECT_EQ(conn.in_flight(), 1u);
  EXPECT_EQ(publishes().size(), 1u);
  // A PUBREC again (our PUBREL was lost): PUBREL again, nothing acknowledged twice.
  feed(conn, io, pubrec(id), kT0 + 3s);
  EXPECT_EQ(io.sent.back(), codec::Packet(codec::Pubrel{id}));
  EXPECT_EQ(io.acked_bytes.size(), 1u);
  // Both through Actions::send_pubrel, which a persistent session holds until a save is
  // committed.
  EXPECT_EQ(io.pubrels, (std::vector<std::uint16_t>{id, id}));
  // PUBCOMP: done, and the next one goes.
  feed(conn, io, pubcomp(id), kT0 + 3s);
  ASSERT_EQ(publishes().size(), 2u);
  EXPECT_EQ(publishes()[1].payload, "1");
  EXPECT_EQ(conn.in_flight(), 1u);
  EXPECT_EQ(conn.waiting(), 0u);
}

// The PUBREL is asked of the I/O side (Actions::send_pubrel) once the window holds the message
// at its PUBCOMP stage and the change is told (window_changed: what a save then holds); a
// PUBREC of an id at no such stage asks for nothing.
TEST_F(Qos, Qos2PubrelIsAskedForOnceTheWindowHoldsThePubcompStage) {
  deliver(2, 2);
  const auto sent = publishes();
  ASSERT_EQ(sent.size(), 2u);
  const int changes = io.window_changes;
  feed(conn, io, pubrec(sent[1].packet_id), kT0 + 3s);
  EXPECT_EQ(io.pubrels, std::vector<std::uint16_t>{sent[1].packet_id});
  EXPECT_EQ(io.window_changes, changes + 1);
  EXPECT_EQ(conn.outbound()->in_flight_at(1).stage, OutboundWindow::Stage::kPubcomp);
  EXPECT_EQ(conn.outbound()->in_flight_at(0).stage, OutboundWindow::Stage::kPubrec);
  feed(conn, io, pubrec(999), kT0 + 3s);                 // nothing awaits it
  feed(conn, io, pubcomp(sent[0].packet_id), kT0 + 3s);  // not at its PUBCOMP stage
  EXPECT_EQ(io.pubrels, std::vector<std::uint16_t>{sent[1].packet_id});
  EXPECT_EQ(conn.in_flight(), 2u);
  feed(conn, io, pubcomp(sent[1].packet_id), kT0 + 4s);
  EXPECT_EQ(conn.in_flight(), 1u);
}
TEST_F(Qos, AcksOfTheWrongKindAreTolerated) {
  conn.deliver({qos0("t", "1"), 1}, io);
  conn.deliver({qos0("t", "2"), 2}, io);
  const std::size_t sent = io.sent.size();
  feed(conn, io, pubrec(1), kT0 + 3s);   // QoS 1 awaits PUBACK
  feed(conn, io, puback(2), kT0 + 3s);   // QoS 2 awaits PUBREC
  feed(conn, io, pubcomp(2), kT0 + 3s);  // ... and no PUBREL was sent yet
  EXPECT_EQ(io.sent.size(), sent);
  EXPECT_EQ(conn.in_flight(), 2u);
  EXPECT_TRUE(io.acked_bytes.empty());
  EXPECT_EQ(debug_lines_with("which nothing awaits; ignored"), 3u);
  EXPECT_FALSE(io.closed);
}

TEST_F(Qos, AcksOfUnknownIdsAreTolerated) {
  const std::size_t sent = io.sent.size();
  feed(conn, io,
       Bytes{0x40, 0x02, 0x00, 0x01,   // PUBACK 1
             0x50, 0x02, 0x00, 0x02,   // PUBREC 2
             0x70, 0x02, 0x00, 0x03},  // PUBCOMP 3
       kT0 + 2s);
  EXPECT_EQ(io.sent.size(), sent);
  EXPECT_FALSE(io.closed);
  EXPECT_EQ(debug_lines_with("which nothing awaits; ignored"), 3u);
  ASSERT_FALSE(io.logs.empty());
  EXPECT_EQ(io.logs.back().message, "PUBCOMP for packet id 3, which nothing awaits; ignored");
  EXPECT_EQ(io.logs.back().throttle, "mqtt unknown ack");
  // A message acknowledged twice: the second is an unknown id.
  conn.deliver({qos0("t", "x"), 1}, io);
  feed(conn, io, puback(1), kT0 + 3s);
  feed(conn, io, puback(1), kT0 + 3s);
  EXPECT_EQ(io.acked_bytes.size(), 1u);
  EXPECT_EQ(debug_lines_with("which nothing awaits; ignored"), 4u);
}

// ---- Packet ids ----

TEST_F(Qos, PacketIdsWrapAndSkipThoseInUse) {
  io.lim.max_inflight = 2;
  conn.deliver({qos0("t", "old"), 1}, io);  // id 1, never acknowledged
  // 65,534 more, each acknowledged at once: ids 2..65535.
  for (int i = 0; i < 65534; ++i) {
    conn.deliver({qos0("t", "m"), 1}, io);
    const auto& p = std::get<codec::Publish>(io.sent.back());
    ASSERT_EQ(p.packet_id, i + 2);
    feed(conn, io, puback(p.packet_id), kT0 + 3s);
  }
  // Past 65535 the ids wrap to 1, which is still in use: 2 is next.
  conn.deliver({qos0("t", "new"), 1}, io);
  EXPECT_EQ(std::get<codec::Publish>(io.sent.back()).packet_id, 2);
  EXPECT_EQ(conn.in_flight(), 2u);
  feed(conn, io, puback(1), kT0 + 3s);
  feed(conn, io, puback(2), kT0 + 3s);
  EXPECT_EQ(conn.in_flight(), 0u);
}

// ---- Not connected ----

TEST(QosNotConnected, DeliveriesBeforeTheLoginAndAfterTheEndAreDropped) {
  Connection conn;
  FakeIo io;
  conn.on_accepted(kT0);
  conn.deliver({qos0("t", "x"), 1}, io);
  EXPECT_TRUE(io.sent.empty());
  feed(conn, io, bytes_of(connect_packet("cid", "dev-1", "secret")), kT0);
  conn.on_login(Role::kDevice, "dev-1", kT0, io);
  conn.end(EndReason::kClosedByPeer);
  const std::size_t sent = io.sent.size();
  conn.deliver({qos0("t", "x"), 1}, io);
  EXPECT_EQ(io.sent.size(), sent);
  EXPECT_EQ(conn.in_flight() + conn.waiting(), 0u);
}

// ---- Inbound QoS 2, exactly once ----

codec::Publish qos2_publish(std::uint16_t id, bool dup, const std::string& payload) {
  codec::Publish p;
  p.qos = 2;
  p.dup = dup;
  p.packet_id = id;
  p.topic = "dev-1/data/t";
  p.payload = payload;
  return p;
}

TEST_F(Qos, MQTT_4_3_3_2_Qos2SentAgainIsNotPublishedAgain) {
  feed(conn, io, bytes_of(qos2_publish(7, false, "1")), kT0 + 2s);
  ASSERT_EQ(io.published.size(), 1u);
  EXPECT_EQ(io.published[0].second, codec::Packet(codec::Pubrec{7}));
  EXPECT_EQ(conn.awaiting_pubrel(), 1u);
  // The same message again, DUP set (its PUBREC lost): only its PUBREC again, in order.
  feed(conn, io, bytes_of(qos2_publish(7, true, "1")), kT0 + 3s);
  EXPECT_EQ(io.published.size(), 1u) << "neither stored nor routed again";
  EXPECT_EQ(io.acks_in_order, std::vector<codec::Packet>{codec::Pubrec{7}});
  // Another id meanwhile is a message of its own.
  feed(conn, io, bytes_of(qos2_publish(8, false, "2")), kT0 + 3s);
  EXPECT_EQ(io.published.size(), 2u);
  EXPECT_EQ(conn.awaiting_pubrel(), 2u);
  // PUBREL releases the id: PUBCOMP, and the id may carry a new message.
  feed(conn, io, pubrel(7), kT0 + 4s);
  EXPECT_EQ(io.sent.back(), codec::Packet(codec::Pubcomp{7}));
  EXPECT_EQ(conn.awaiting_pubrel(), 1u);
  feed(conn, io, bytes_of(qos2_publish(7, false, "3")), kT0 + 5s);
  ASSERT_EQ(io.published.size(), 3u);
  EXPECT_EQ(io.published[2].first.payload, "3");
  feed(conn, io, pubrel(7), kT0 + 6s);
  feed(conn, io, pubrel(8), kT0 + 6s);
  EXPECT_EQ(conn.awaiting_pubrel(), 0u);
  EXPECT_EQ(io.acks_in_order.size(), 1u);
  // Each id taken and each released is a change to a persistent session's state; the DUP is not.
  EXPECT_EQ(io.inbound_changes, 6);
}

TEST_F(Qos, PubrelOfAnUnknownIdIsStillCompleted) {  // [MQTT-4.3.3]: PUBREL gets PUBCOMP
  feed(conn, io, pubrel(9), kT0 + 2s);
  EXPECT_EQ(io.sent.back(), codec::Packet(codec::Pubcomp{9}));
  EXPECT_FALSE(io.closed);
  EXPECT_EQ(io.inbound_changes, 0) << "nothing was held";
}

TEST_F(Qos, Qos1SentAgainIsPublishedAgain) {
  // QoS 1 is at least once: a PUBLISH sent again is stored again (no state is kept).
  codec::Publish p = qos2_publish(4, false, "1");
  p.qos = 1;
  feed(conn, io, bytes_of(p), kT0 + 2s);
  p.dup = true;
  feed(conn, io, bytes_of(p), kT0 + 2s);
  ASSERT_EQ(io.published.size(), 2u);
  EXPECT_EQ(io.published[1].second, codec::Packet(codec::Puback{4}));
  EXPECT_EQ(conn.awaiting_pubrel(), 0u);
}

// ---- Persistent sessions ----

struct Persistent : ConnectionFixture {
  // CONNECT with clean session 0, logged in as a device: the CONNACK waits for the session.
  void log_in_persistent() {
    auto c = connect_packet("cid", "dev-1", "secret");
    c.clean_session = false;
    feed(conn, io, bytes_of(c), kT0);
    conn.on_login(Role::kDevice, "dev-1", kT0, io);
  }
};

TEST_F(Persistent, ConnackWaitsForTheSession) {
  log_in_persistent();
  EXPECT_EQ(io.sessions_asked, 1);
  EXPECT_EQ(io.claims, 1) << "an older connection is taken over first";
  EXPECT_EQ(conn.phase(), Phase::kLoggingIn);
  EXPECT_TRUE(io.sent.empty());
  EXPECT_FALSE(conn.clean_session());
  conn.on_session(true, kT0 + 1s, io);
  EXPECT_EQ(conn.phase(), Phase::kConnected);
  EXPECT_EQ(io.last<codec::Connack>(), (codec::Connack{true, codec::ConnackCode::kAccepted}));
  EXPECT_EQ(conn.deadline(kT0 + 1s, io.lim), kT0 + 1s + keep_alive_limit(60));
}

TEST_F(Persistent, MQTT_3_2_2_2_SessionPresentOnlyWhenFound) {
  log_in_persistent();
  conn.on_session(false, kT0, io);
  EXPECT_EQ(io.last<codec::Connack>(), (codec::Connack{false, codec::ConnackCode::kAccepted}));
}

TEST_F(Persistent, MQTT_3_2_2_1_CleanSessionNeverAsksNorSaysPresent) {
  log_in();
  EXPECT_EQ(io.sessions_asked, 0);
  EXPECT_EQ(io.last<codec::Connack>(), (codec::Connack{false, codec::ConnackCode::kAccepted}));
}

TEST_F(Persistent, AFailedLoadIsRefusedWithConnack3) {
  log_in_persistent();
  conn.on_login_refused(LoginResult::kError, io);
  EXPECT_EQ(io.last<codec::Connack>().code, codec::ConnackCode::kServerUnavailable);
  expect_closed(EndReason::kRefused, Flush::kFirst);
}

TEST_F(Persistent, RestoredSubscriptionsAreRoutedWithoutSuback) {
  log_in_persistent();
  conn.on_session(true, kT0, io);
  const std::size_t sent = io.sent.size();
  conn.restore_subscription("+/data/#", 1, io);
  conn.restore_subscription("dev-2/data/t", 2, io);
  using Granted = std::vector<std::pair<std::string, std::uint8_t>>;
  EXPECT_EQ(io.granted, (Granted{{"+/data/#", 1}, {"dev-2/data/t", 2}}));
  EXPECT_EQ(io.sent.size(), sent);
  std::vector<std::pair<std::string, std::uint8_t>> held;
  conn.filters()->for_each([&](std::string_view f, std::uint8_t q) { held.emplace_back(f, q); });
  EXPECT_EQ(held, (Granted{{"+/data/#", 1}, {"dev-2/data/t", 2}}));
}

// [MQTT-4.4.0-1]: unacknowledged PUBLISHes go again with DUP and their packet ids, a PUBREL
// awaiting its PUBCOMP goes again; then new messages get other ids, and acknowledgements of the
// restored ones complete them.
TEST_F(Persistent, MQTT_4_4_0_1_InFlightSentAgainWithDupAndTheirIds) {
  log_in_persistent();
  conn.on_session(true, kT0, io);
  OutboundWindow::InFlight a;
  a.packet = qos0("dev-1/data/t", "a");
  a.seq = 10;
  a.id = 7;
  a.qos = 1;
  a.stage = OutboundWindow::Stage::kPuback;
  conn.restore_inflight(a, io);
  OutboundWindow::InFlight b;
  b.seq = 11;
  b.id = 8;
  b.qos = 2;
  b.stage = OutboundWindow::Stage::kPubcomp;
  conn.restore_inflight(b, io);
  ASSERT_EQ(io.sent.size(), 3u);  // CONNACK, PUBLISH, PUBREL
  const auto& pub = std::get<codec::Publish>(io.sent[1]);
  EXPECT_TRUE(pub.dup);
  EXPECT_EQ(pub.packet_id, 7);
  EXPECT_EQ(pub.qos, 1);
  EXPECT_EQ(io.sent[2], codec::Packet(codec::Pubrel{8}));
  EXPECT_TRUE(io.pubrels.empty()) << "a restored PUBREL comes from a save: sent at once";
  EXPECT_EQ(conn.in_flight(), 2u);
  conn.deliver({qos0("dev-1/data/t", "new"), 1, 12}, io);
  const auto& fresh = std::get<codec::Publish>(io.sent.back());
  EXPECT_FALSE(fresh.dup);
  EXPECT_EQ(fresh.packet_id, 9);
  EXPECT_EQ(conn.outbound()->in_flight_at(2).seq, 12);
  feed(conn, io, puback(7), kT0 + 1s);
  feed(conn, io, pubcomp(8), kT0 + 1s);
  EXPECT_EQ(conn.in_flight(), 1u);
  EXPECT_EQ(io.window_changes, 2);
  for (const auto& l : io.logs)
    EXPECT_EQ(l.message.find("which nothing awaits"), std::string::npos);
}

// [MQTT-4.3.3-2] across a resume: the ids a session saved as awaiting their PUBREL are held
// again. A PUBLISH sent again with DUP gets its PUBREC (in order) and is neither stored nor
// routed again; its PUBREL gets PUBCOMP and releases the id, which then carries a new message.
TEST_F(Persistent, MQTT_4_3_3_2_RestoredQos2IdsAreNotPublishedAgain) {
  log_in_persistent();
  conn.restore_awaiting_pubrel(5);  // before the CONNACK: not connected, ignored
  EXPECT_EQ(conn.awaiting_pubrel(), 0u);
  conn.on_session(true, kT0, io);
  conn.restore_awaiting_pubrel(5);
  conn.restore_awaiting_pubrel(9);
  conn.restore_awaiting_pubrel(0);  // not a packet id
  ASSERT_EQ(conn.awaiting_pubrel(), 2u);
  EXPECT_EQ(conn.awaiting_pubrel_ids()->ids(), (std::vector<std::uint16_t>{5, 9}));
  EXPECT_EQ(io.inbound_changes, 0) << "restoring is not a change to save";
  feed(conn, io, bytes_of(qos2_publish(5, true, "again")), kT0 + 1s);
  EXPECT_TRUE(io.published.empty()) << "neither stored nor routed again";
  EXPECT_EQ(io.acks_in_order, std::vector<codec::Packet>{codec::Pubrec{5}});
  feed(conn, io, pubrel(5), kT0 + 2s);
  EXPECT_EQ(io.sent.back(), codec::Packet(codec::Pubcomp{5}));
  EXPECT_EQ(io.inbound_changes, 1);
  EXPECT_EQ(conn.awaiting_pubrel_ids()->ids(), std::vector<std::uint16_t>{9});
  // Released: the id is a new message again.
  feed(conn, io, bytes_of(qos2_publish(5, false, "new")), kT0 + 3s);
  ASSERT_EQ(io.published.size(), 1u);
  EXPECT_EQ(io.published[0].first.payload, "new");
  EXPECT_EQ(io.published[0].second, codec::Packet(codec::Pubrec{5}));
  // The other restored id is completed by its PUBREL alone (its PUBLISH is not sent again).
  feed(conn, io, pubrel(9), kT0 + 4s);
  EXPECT_EQ(io.sent.back(), codec::Packet(codec::Pubcomp{9}));
  feed(conn, io, pubrel(5), kT0 + 4s);
  EXPECT_EQ(conn.awaiting_pubrel(), 0u);
  EXPECT_EQ(conn.awaiting_pubrel_ids(), nullptr) << "the QoS state goes once idle";
}

}  // namespace
}  // namespace plugmq::broker
