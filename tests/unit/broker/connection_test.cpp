// broker::Connection driven by bytes and a fake clock: each phase, the CONNECT deadline, keep
// alive at 1.5 x, login, takeover, the will on each end reason and every malformed-packet
// reaction (the enrollment session: connection_enrollment_test.cpp). Wire bytes are written out
// where the case is about them.
#include "plugmq/broker/connection.hpp"

#include <gtest/gtest.h>

#include "fake_io.hpp"

namespace plugmq::broker {
namespace {

using namespace testing;
using codec::ConnackCode;
using Fixture = ConnectionFixture;

// ---- Size: one lives in every connection ----

TEST(ConnectionSize, SmallEnoughForAnIdleFleet) {
  // since_, the key, the extras pointer and a few bytes of phase and flags.
  EXPECT_LE(sizeof(Connection), 56u);
}

// ---- Awaiting CONNECT ----

using AwaitConnect = Fixture;

TEST_F(AwaitConnect, DeadlineRunsFromAccept) {
  EXPECT_EQ(conn.phase(), Phase::kAwaitConnect);
  EXPECT_EQ(conn.deadline(kT0, io.lim), kT0 + io.lim.connect_timeout.get());
  conn.on_timer(kT0 + io.lim.connect_timeout.get() - 1ms, io);
  EXPECT_FALSE(io.closed);
  conn.on_timer(kT0 + io.lim.connect_timeout.get(), io);
  expect_closed(EndReason::kProtocolViolation, Flush::kNo);
  EXPECT_TRUE(io.sent.empty()) << "no CONNACK without a CONNECT";
  EXPECT_EQ(last_log().message, "no CONNECT within 10000 ms; closing");
  EXPECT_EQ(last_log().throttle, "mqtt no CONNECT");
  EXPECT_EQ(conn.deadline(kT0 + 20s, io.lim), TimePoint::max());
}

TEST_F(AwaitConnect, BytesBeforeTheLoginDoNotMoveTheDeadline) {
  const Bytes half{0x10, 0x10, 0x00};  // a CONNECT's first bytes
  feed(conn, io, half, kT0 + 9s);
  EXPECT_EQ(conn.deadline(kT0 + 9s, io.lim), kT0 + 10s);
}

TEST_F(AwaitConnect, AConnectWaitingToBeReadMeetsTheDeadline) {
  conn.on_connect_arrived();
  const auto late = kT0 + 60s;
  EXPECT_EQ(conn.deadline(late, io.lim), late + Connection::kLoginPoll);
  conn.on_timer(late, io);
  EXPECT_FALSE(io.closed);
}

TEST_F(AwaitConnect, FirstPacketMustBeConnect) {  // [MQTT-3.1.0-1]
  feed(conn, io, {0xC0, 0x00}, kT0);              // PINGREQ
  expect_closed(EndReason::kProtocolViolation, Flush::kNo);
  EXPECT_EQ(last_log().message, "first packet is not CONNECT; closing");
  EXPECT_EQ(last_log().throttle, "mqtt first packet");
  EXPECT_TRUE(io.sent.empty());
}

TEST_F(AwaitConnect, UnsupportedProtocolLevelGetsConnack1) {        // [MQTT-3.1.2-2]
  const Bytes connect_v3{0x10, 0x0F,                                // CONNECT, remaining length 15
                         0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p',  // protocol name "MQIsdp" (3.1)
                         0x03,                                      // protocol level 3
                         0x02,                                      // flags: clean session
                         0x00, 0x3C,                                // keep alive 60
                         0x00, 0x01, 'c'};                          // client id "c"
  feed(conn, io, connect_v3, kT0);
  EXPECT_EQ(io.last<codec::Connack>().code, ConnackCode::kBadProtocolVersion);
  expect_closed(EndReason::kRefused, Flush::kFirst);
  EXPECT_EQ(last_log().throttle, "mqtt unsupported protocol");
}

TEST_F(AwaitConnect, MalformedConnectCloses) {
  const Bytes reserved_type{0x00, 0x00};  // packet type 0 is reserved
  feed(conn, io, reserved_type, kT0);
  expect_closed(EndReason::kProtocolViolation, Flush::kNo);
  EXPECT_EQ(last_log().message, "malformed packet (bad packet type); closing");
  EXPECT_EQ(last_log().throttle, "mqtt malformed packet");
}

TEST_F(AwaitConnect, PacketLargerThanAnyConnect) {
  const Bytes huge{0x10, 0x80, 0x80, 0x20};  // CONNECT, remaining length 524,288
  feed(conn, io, huge, kT0);
  expect_closed(EndReason::kProtocolViolation, Flush::kNo);
  EXPECT_EQ(last_log().message, "packet larger than any CONNECT (327695 bytes); closing");
  EXPECT_EQ(last_log().level, LogLevel::kInfo);
}

TEST_F(AwaitConnect, PacketLargerThanMaxPacketSizeWhenThatIsSmaller) {
  io.lim.max_packet_size = 1024;
  const Bytes big{0x10, 0x81, 0x08};  // CONNECT, remaining length 1,025
  feed(conn, io, big, kT0);
  expect_closed(EndReason::kProtocolViolation, Flush::kNo);
  EXPECT_EQ(last_log().message, "packet larger than max_packet_size (1024 bytes); closing");
  EXPECT_EQ(last_log().level, LogLevel::kWarn);
}

TEST_F(AwaitConnect, InvalidWillTopicCloses) {
  auto c = connect_packet("cid", "dev-1", "secret");
  c.will = codec::Will{"a/+/b", "gone"};
  feed(conn, io, bytes_of(c), kT0);
  expect_closed(EndReason::kProtocolViolation, Flush::kNo);
  EXPECT_FALSE(io.login_asked);
  EXPECT_TRUE(io.sent.empty());
}

TEST_F(AwaitConnect, EmptyClientIdWithoutCleanSessionGetsConnack2) {  // [MQTT-3.1.3-8]
  auto c = connect_packet("", "dev-1", "secret");
  c.clean_session = false;
  feed(conn, io, bytes_of(c), kT0);
  EXPECT_EQ(io.last<codec::Connack>().code, ConnackCode::kIdentifierRejected);
  expect_closed(EndReason::kRefused, Flush::kFirst);
  EXPECT_FALSE(io.login_asked);
}

TEST_F(AwaitConnect, EmptyClientIdIsAssignedOne) {  // [MQTT-3.1.3-6]
  feed(conn, io, bytes_of(connect_packet("", "dev-1", "secret")), kT0);
  EXPECT_EQ(conn.client_id(), "auto-1");
  EXPECT_TRUE(conn.client_id_assigned());
  conn.on_login(Role::kDevice, "dev-1", kT0, io);
  EXPECT_EQ(conn.key(), Registry::key("dev-1", "auto-1"));
}

TEST_F(AwaitConnect, SplitAtEveryByteStillOneConnect) {
  const Bytes all = bytes_of(connect_packet("cid", "dev-1", "secret"));
  for (std::size_t cut = 1; cut < all.size(); ++cut) {
    Connection c;
    FakeIo fio;
    c.on_accepted(kT0);
    const Bytes head(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(cut));
    EXPECT_EQ(feed(c, fio, head, kT0), 0u) << cut;
    EXPECT_EQ(feed(c, fio, all, kT0), all.size()) << cut;
    EXPECT_EQ(c.phase(), Phase::kLoggingIn) << cut;
  }
}

// ---- Logging in ----

using LoggingIn = Fixture;

TEST_F(LoggingIn, AsksForTheLoginAndHasNoDeadline) {
  auto c = connect_packet("cid", "dev-1", "secret", 30);
  c.will = codec::Will{"dev-1/data/will", "\"gone\""};
  feed(conn, io, bytes_of(c), kT0 + 1s);
  EXPECT_EQ(conn.phase(), Phase::kLoggingIn);
  ASSERT_TRUE(io.login_asked);
  EXPECT_EQ(io.login_asked->username, "dev-1");
  EXPECT_EQ(io.login_asked->password, "secret");
  EXPECT_TRUE(conn.has_will());
  EXPECT_EQ(conn.client_id(), "cid");
  EXPECT_EQ(conn.identity(), "");
  const auto later = kT0 + 100s;
  EXPECT_EQ(conn.deadline(later, io.lim), later + Connection::kLoginPoll);
  conn.on_timer(later, io);
  EXPECT_FALSE(io.closed);
}

TEST_F(LoggingIn, AcceptedLoginClaimsAndSendsConnack0) {
  log_in(Role::kDevice, std::nullopt, 30, kT0 + 2s);
  EXPECT_EQ(io.last<codec::Connack>().code, ConnackCode::kAccepted);
  EXPECT_EQ(io.claims, 1);
  EXPECT_GE(io.deadline_changes, 1);
  EXPECT_EQ(conn.key(), Registry::key("dev-1", "cid"));
  EXPECT_EQ(conn.identity(), "dev-1");
  EXPECT_TRUE(conn.logged_in());
  EXPECT_EQ(last_log().message, "device login dev-1 (keep alive 30 s)");
  EXPECT_FALSE(io.closed);
}

TEST_F(LoggingIn, AccountLogin) {
  log_in(Role::kAccount);
  EXPECT_EQ(conn.role(), Role::kAccount);
  EXPECT_EQ(conn.identity(), "acct-1");
  EXPECT_EQ(last_log().message, "account login acct-1 (keep alive 60 s)");
}

TEST_F(LoggingIn, NoUserNameWithAPasswordGetsConnack4) {
  feed(conn, io, bytes_of(connect_packet("cid", "", "secret")), kT0);
  EXPECT_EQ(io.last<codec::Connack>().code, ConnackCode::kBadCredentials);
  expect_closed(EndReason::kRefused, Flush::kFirst);
  EXPECT_FALSE(io.login_asked);
}

TEST(LoginRefusals, EachResultHasItsConnack) {
  const std::pair<LoginResult, ConnackCode> table[] = {
      {LoginResult::kBadCredentials, ConnackCode::kBadCredentials},
      {LoginResult::kDisabled, ConnackCode::kNotAuthorized},
      {LoginResult::kLimited, ConnackCode::kNotAuthorized},
      {LoginResult::kBusy, ConnackCode::kServerUnavailable},
      {LoginResult::kError, ConnackCode::kServerUnavailable},
  };
  EXPECT_EQ(connack_for(LoginResult::kOk), ConnackCode::kAccepted);
  for (const auto& [result, code] : table) {
    Connection conn;
    FakeIo io;
    conn.on_accepted(kT0);
    auto c = connect_packet("cid", "dev-1", "wrong");
    c.will = codec::Will{"dev-1/data/w", "1"};
    feed(conn, io, bytes_of(c), kT0);
    conn.on_login_refused(result, io);
    EXPECT_EQ(connack_for(result), code);
    EXPECT_EQ(io.last<codec::Connack>().code, code);
    ASSERT_TRUE(io.closed);
    EXPECT_EQ(io.closed->first, EndReason::kRefused);
    EXPECT_EQ(io.closed->second, Flush::kFirst);
    EXPECT_EQ(io.claims, 0);
    conn.on_closed(io);
    EXPECT_TRUE(io.wills.empty()) << "a refused connection publishes no will";
  }
}

TEST_F(LoggingIn, EndedWhileCheckedIsNotAccepted) {
  feed(conn, io, bytes_of(connect_packet("cid", "dev-1", "secret")), kT0);
  conn.end(EndReason::kServerShutdown);
  conn.on_login(Role::kDevice, "dev-1", kT0, io);
  EXPECT_EQ(io.claims, 0);
  EXPECT_TRUE(io.sent.empty());
  EXPECT_FALSE(conn.logged_in());
  EXPECT_EQ(conn.end_reason(), EndReason::kServerShutdown);
}

// ---- Connected ----

using Connected = Fixture;

TEST_F(Connected, KeepAliveAtOneAndAHalfTimes) {  // [MQTT-3.1.2-24]
  log_in(Role::kDevice, std::nullopt, 10, kT0);
  EXPECT_EQ(conn.deadline(kT0, io.lim), kT0 + 15s);
  // Any bytes start it again.
  feed(conn, io, {0xC0, 0x00}, kT0 + 10s);  // PINGREQ
  EXPECT_TRUE(std::holds_alternative<codec::Pingresp>(io.sent.back()));
  EXPECT_EQ(conn.deadline(kT0 + 10s, io.lim), kT0 + 25s);
  conn.on_timer(kT0 + 25s - 1ms, io);
  EXPECT_FALSE(io.closed);
  conn.on_timer(kT0 + 25s, io);
  expect_closed(EndReason::kKeepAliveExpired, Flush::kNo);
  EXPECT_EQ(last_log().message, "keep alive 10 s expired");
}

TEST_F(Connected, KeepAliveZeroHasNoDeadline) {
  log_in(Role::kDevice, std::nullopt, 0, kT0);
  EXPECT_EQ(conn.deadline(kT0, io.lim), TimePoint::max());
  conn.on_timer(kT0 + 100000s, io);
  EXPECT_FALSE(io.closed);
}

TEST_F(Connected, LongestKeepAlive) {
  log_in(Role::kDevice, std::nullopt, 65535, kT0);
  EXPECT_EQ(conn.deadline(kT0, io.lim), kT0 + std::chrono::milliseconds(65535LL * 1500));
}

TEST_F(Connected, PublishIsAskedWithItsAck) {
  log_in();
  for (std::uint8_t qos : {0, 1, 2}) {
    codec::Publish p;
    p.qos = qos;
    p.packet_id = qos == 0 ? 0 : 7;
    p.topic = "dev-1/data/t";
    p.payload = "1";
    feed(conn, io, bytes_of(p), kT0 + 2s);
  }
  ASSERT_EQ(io.published.size(), 3u);
  EXPECT_EQ(io.published[0].first.topic, "dev-1/data/t");
  EXPECT_FALSE(io.published[0].second);
  EXPECT_EQ(io.published[1].second, codec::Packet(codec::Puback{7}));
  EXPECT_EQ(io.published[2].second, codec::Packet(codec::Pubrec{7}));
}

TEST_F(Connected, PubrelIsCompletedAndAcksAreTolerated) {
  log_in();
  const std::size_t before = io.sent.size();
  feed(conn, io,
       {0x62, 0x02, 0x00, 0x05,   // PUBREL, packet id 5
        0x40, 0x02, 0x00, 0x01,   // PUBACK 1
        0x50, 0x02, 0x00, 0x02,   // PUBREC 2
        0x70, 0x02, 0x00, 0x03},  // PUBCOMP 3
       kT0 + 2s);
  ASSERT_EQ(io.sent.size(), before + 1);
  EXPECT_EQ(io.sent.back(), codec::Packet(codec::Pubcomp{5}));
  EXPECT_FALSE(io.closed);
}

TEST_F(Connected, DisconnectEndsWithoutWill) {  // [MQTT-3.14.4-3]
  log_in(Role::kDevice, codec::Will{"dev-1/data/w", "1"});
  feed(conn, io, {0xE0, 0x00}, kT0 + 2s);  // DISCONNECT
  expect_closed(EndReason::kDisconnect, Flush::kNo);
  while (!conn.leave_some(io)) {
  }
  conn.on_closed(io);
  EXPECT_TRUE(io.wills.empty());
  EXPECT_EQ(conn.phase(), Phase::kClosed);
}

TEST_F(Connected, SecondConnectCloses) {  // [MQTT-3.1.0-2]
  log_in();
  feed(conn, io, bytes_of(connect_packet("cid", "dev-1", "secret")), kT0 + 2s);
  expect_closed(EndReason::kProtocolViolation, Flush::kNo);
  EXPECT_EQ(last_log().message, "second CONNECT; closing");
}

TEST_F(Connected, ServerOnlyPacketsClose) {
  const Bytes server_only[] = {
      {0x20, 0x02, 0x00, 0x00},        // CONNACK
      {0x90, 0x03, 0x00, 0x01, 0x00},  // SUBACK
      {0xB0, 0x02, 0x00, 0x01},        // UNSUBACK
      {0xD0, 0x00},                    // PINGRESP
  };
  for (const auto& b : server_only) {
    Connection c;
    FakeIo fio;
    c.on_accepted(kT0);
    feed(c, fio, bytes_of(connect_packet("cid", "dev-1", "secret")), kT0);
    c.on_login(Role::kDevice, "dev-1", kT0, fio);
    feed(c, fio, b, kT0);
    ASSERT_TRUE(fio.closed) << int(b[0]);
    EXPECT_EQ(fio.closed->first, EndReason::kProtocolViolation);
    EXPECT_EQ(fio.logs.back().message, "client sent a server-only packet; closing");
  }
}

TEST_F(Connected, MalformedPacketCloses) {
  log_in();
  feed(conn, io, {0x83, 0x00}, kT0 + 2s);  // SUBSCRIBE with flags 0011 (must be 0010)
  expect_closed(EndReason::kProtocolViolation, Flush::kNo);
  EXPECT_EQ(last_log().message, "malformed packet (bad fixed-header flags); closing");
  EXPECT_EQ(last_log().throttle, "mqtt malformed packet");
}

TEST(ConnectionMalformed, EveryDecodeErrorClosesWithItsName) {
  const std::pair<codec::DecodeError, Bytes> table[] = {
      {codec::DecodeError::kBadPacketType, {0xF0, 0x00}},         // type 15 is reserved
      {codec::DecodeError::kBadFlags, {0x60, 0x02, 0x00, 0x01}},  // PUBREL flags must be 0010
      {codec::DecodeError::kBadRemainingLength,
       {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}},  // a fifth remaining-length byte
      {codec::DecodeError::kMalformed, {0x40, 0x03, 0x00, 0x01, 0x00}},  // PUBACK of 3 bytes
      {codec::DecodeError::kBadUtf8,
       {0x30, 0x04, 0x00, 0x01, 0xFF, 'x'}},  // PUBLISH, topic "\xFF", payload "x"
      {codec::DecodeError::kBadQos, {0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01}},  // QoS 3
      {codec::DecodeError::kBadTopic, {0x30, 0x05, 0x00, 0x03, 'a', '/', '+'}},  // wildcard
      {codec::DecodeError::kBadPacketId,
       {0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 'a', 0x00}},              // SUBSCRIBE, packet id 0
      {codec::DecodeError::kEmptyPayload, {0x82, 0x02, 0x00, 0x01}},  // SUBSCRIBE, no filter
  };
  for (const auto& [error, bytes] : table) {
    SCOPED_TRACE(codec::to_string(error));
    Connection conn;
    FakeIo io;
    conn.on_accepted(kT0);
    feed(conn, io, bytes_of(connect_packet("cid", "dev-1", "secret")), kT0);
    conn.on_login(Role::kDevice, "dev-1", kT0, io);
    const auto r = conn.decode(bytes, io.lim);
    ASSERT_EQ(r.status, codec::DecodeStatus::kError);
    EXPECT_EQ(r.error, error);
    feed(conn, io, bytes, kT0);
    ASSERT_TRUE(io.closed);
    EXPECT_EQ(io.closed->first, EndReason::kProtocolViolation);
    EXPECT_EQ(io.closed->second, Flush::kNo);
    EXPECT_EQ(io.logs.back().message,
              std::string("malformed packet (") + codec::to_string(error) + "); closing");
    EXPECT_EQ(io.logs.back().throttle, "mqtt malformed packet");
  }
}

TEST(ConnectionMalformed, BadConnectFlagsBeforeTheLogin) {
  Connection conn;
  FakeIo io;
  conn.on_accepted(kT0);
  const Bytes connect_reserved{0x10, 0x0D,                      // CONNECT, remaining length 13
                               0x00, 0x04, 'M', 'Q', 'T', 'T',  // protocol name
                               0x04,                            // protocol level 4
                               0x03,              // flags: clean session and the reserved bit
                               0x00, 0x3C,        // keep alive 60
                               0x00, 0x01, 'c'};  // client id "c"
  feed(conn, io, connect_reserved, kT0);
  ASSERT_TRUE(io.closed);
  EXPECT_EQ(io.closed->first, EndReason::kProtocolViolation);
  EXPECT_TRUE(io.sent.empty());
  EXPECT_EQ(io.logs.back().message, "malformed packet (bad CONNECT flags); closing");
}

TEST_F(Connected, ConnectWithAnotherProtocolLevelIsMalformedNow) {
  log_in();
  const Bytes connect_v5{0x10, 0x0D,                      // CONNECT, remaining length 13
                         0x00, 0x04, 'M', 'Q', 'T', 'T',  // protocol name
                         0x05,                            // protocol level 5
                         0x02,                            // flags: clean session
                         0x00, 0x3C,                      // keep alive 60
                         0x00, 0x01, 'c'};                // client id "c"
  feed(conn, io, connect_v5, kT0 + 2s);
  expect_closed(EndReason::kProtocolViolation, Flush::kNo);
  EXPECT_TRUE(io.sent.size() == 1) << "no CONNACK 1 once connected";
}

TEST_F(Connected, PacketOverMaxPacketSize) {
  io.lim.max_packet_size = 1024;
  log_in();
  codec::Publish p;
  p.topic = "dev-1/data/big";
  p.payload.assign(2000, 'x');
  feed(conn, io, bytes_of(p), kT0 + 2s);
  expect_closed(EndReason::kProtocolViolation, Flush::kNo);
  EXPECT_EQ(last_log().message, "packet larger than max_packet_size (1024 bytes); closing");
  EXPECT_EQ(last_log().level, LogLevel::kWarn);
  EXPECT_TRUE(io.published.empty());
}

TEST_F(Connected, SubscribeInTurns) {
  log_in();
  codec::Subscribe s;
  s.packet_id = 9;
  for (int i = 0; i < 600; ++i) s.subscriptions.push_back({"t/" + std::to_string(i), 0});
  s.subscriptions.push_back({"bad/#/x", 0});  // not a valid filter: 0x80
  s.subscriptions.push_back({"t/1", 1});      // held already: its QoS replaced, not added twice
  int turns = 0;
  feed(conn, io, bytes_of(s), kT0 + 2s, &turns);
  EXPECT_EQ(turns, 3);
  const auto& ack = io.last<codec::Suback>();
  EXPECT_EQ(ack.packet_id, 9);
  ASSERT_EQ(ack.return_codes.size(), 602u);
  EXPECT_EQ(ack.return_codes[599], 0);
  EXPECT_EQ(ack.return_codes[600], codec::kSubackFailure);
  EXPECT_EQ(ack.return_codes[601], 1);
  EXPECT_EQ(io.added.size(), 601u) << "t/1 again, at QoS 1";
  EXPECT_EQ(conn.granted_qos("t/1"), 1);
  EXPECT_EQ(conn.filter_count(), 600u);
}

TEST_F(Connected, SubscriptionsStopAtMaxSubscriptions) {
  io.lim.max_subscriptions = 2;
  log_in();
  codec::Subscribe s{1, {{"a", 0}, {"b", 0}, {"c", 0}, {"d", 0}}};
  feed(conn, io, bytes_of(s), kT0 + 2s);
  EXPECT_EQ(io.last<codec::Suback>().return_codes,
            (std::vector<std::uint8_t>{0, 0, codec::kSubackFailure, codec::kSubackFailure}));
  EXPECT_EQ(io.added, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(std::count_if(io.logs.begin(), io.logs.end(),
                          [](const LogLine& l) {
                            return l.message.find("(max_subscriptions)") != std::string::npos;
                          }),
            1);
}

TEST_F(Connected, MQTT_3_3_1_6_GrantedFiltersAskForTheirRetainedMessages) {
  io.lim.max_subscriptions = 2;
  log_in();
  feed(conn, io, bytes_of(codec::Subscribe{1, {{"a/#", 1}, {"bad/#/x", 0}, {"b", 2}}}), kT0 + 2s);
  using Asked = std::vector<std::pair<std::string, std::uint8_t>>;
  EXPECT_EQ(io.retained, (Asked{{"a/#", 1}, {"b", 2}})) << "not the refused filter";
  // Subscribing again, at the same or another QoS, sends them again [MQTT-3.8.4-3]; a filter
  // past max_subscriptions gets none.
  io.retained.clear();
  feed(conn, io, bytes_of(codec::Subscribe{2, {{"a/#", 1}, {"b", 0}, {"c", 0}}}), kT0 + 3s);
  EXPECT_EQ(io.retained, (Asked{{"a/#", 1}, {"b", 0}}));
  EXPECT_EQ(io.last<codec::Suback>().return_codes,
            (std::vector<std::uint8_t>{1, 0, codec::kSubackFailure}));
}

TEST_F(Connected, UnsubscribeRemovesOnlyWhatIsHeld) {
  log_in();
  feed(conn, io, bytes_of(codec::Subscribe{1, {{"a/#", 0}, {"b", 0}}}), kT0 + 2s);
  feed(conn, io, bytes_of(codec::Unsubscribe{2, {"a/#", "never"}}), kT0 + 3s);
  EXPECT_EQ(io.last<codec::Unsuback>().packet_id, 2);
  EXPECT_EQ(io.removed, (std::vector<std::string>{"a/#"}));
  EXPECT_EQ(conn.filter_count(), 1u);
}

TEST_F(Connected, LeavesTheRouterInTurnsThenTheRegistry) {
  log_in();
  codec::Subscribe s{1, {}};
  for (int i = 0; i < 300; ++i) s.subscriptions.push_back({"f/" + std::to_string(i), 0});
  feed(conn, io, bytes_of(s), kT0 + 2s);
  conn.end(EndReason::kClosedByPeer);
  EXPECT_FALSE(conn.leave_some(io));
  EXPECT_EQ(io.releases, 0);
  EXPECT_TRUE(conn.leave_some(io));
  EXPECT_EQ(io.removed.size(), 300u);
  EXPECT_EQ(io.releases, 1);
  EXPECT_TRUE(conn.leave_some(io));
  EXPECT_EQ(io.releases, 1) << "released once";
}

TEST_F(Connected, TakeoverPublishesTheWill) {  // [MQTT-3.1.4-2]
  log_in(Role::kDevice, codec::Will{"dev-1/data/status", "\"offline\""});
  conn.end(EndReason::kTakenOver);
  conn.end(EndReason::kClosedByPeer);  // the first reason wins
  EXPECT_EQ(conn.end_reason(), EndReason::kTakenOver);
  while (!conn.leave_some(io)) {
  }
  EXPECT_EQ(io.releases, 1);
  conn.on_closed(io);
  ASSERT_EQ(io.wills.size(), 1u);
  EXPECT_EQ(io.wills[0].topic, "dev-1/data/status");
  conn.on_closed(io);
  EXPECT_EQ(io.wills.size(), 1u) << "once";
}

TEST(ConnectionWill, PublishedOnEachEndReasonThatCallsForIt) {  // [MQTT-3.1.2-8]
  for (int r = 0; r <= static_cast<int>(EndReason::kStoreFailed); ++r) {
    const auto why = static_cast<EndReason>(r);
    Connection conn;
    FakeIo io;
    conn.on_accepted(kT0);
    auto c = connect_packet("cid", "dev-1", "secret");
    c.will = codec::Will{"dev-1/data/w", "1"};
    feed(conn, io, bytes_of(c), kT0);
    conn.on_login(Role::kDevice, "dev-1", kT0, io);
    conn.end(why);
    conn.on_closed(io);
    EXPECT_EQ(io.wills.size(), publishes_will(why) ? 1u : 0u) << to_string(why);
  }
}

TEST(ConnectionWill, NoneWhenTheConnectionNeverLoggedIn) {
  Connection conn;
  FakeIo io;
  conn.on_accepted(kT0);
  conn.on_timer(kT0 + 10s, io);
  conn.on_closed(io);
  EXPECT_TRUE(io.wills.empty());
  EXPECT_EQ(conn.end_reason(), EndReason::kProtocolViolation);
}

// ---- Closing ----

TEST_F(Fixture, NothingHappensOnceClosing) {
  log_in();
  conn.end(EndReason::kServerShutdown);
  const auto sent = io.sent.size();
  feed(conn, io, {0xC0, 0x00}, kT0 + 2s);
  conn.on_timer(kT0 + 1000s, io);
  EXPECT_EQ(io.sent.size(), sent);
  EXPECT_FALSE(io.closed) << "end() is the I/O side's own: nothing is asked";
  EXPECT_EQ(conn.deadline(kT0, io.lim), TimePoint::max());
}

}  // namespace
}  // namespace plugmq::broker
