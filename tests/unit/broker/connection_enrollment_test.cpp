// broker::Connection's enrollment session (SPEC 5), driven by bytes and a fake clock.
#include <gtest/gtest.h>

#include "fake_io.hpp"
#include "plugmq/broker/connection.hpp"

namespace plugmq::broker {
namespace {

using namespace testing;
using codec::ConnackCode;

// ---- Enrolling ----

using Enrolling = ConnectionFixture;

TEST_F(Enrolling, ConnectWithoutCredentialsStartsOne) {
  enroll_session();
  EXPECT_EQ(io.last<codec::Connack>().code, ConnackCode::kAccepted);
  EXPECT_EQ(conn.role(), Role::kEnroll);
  EXPECT_FALSE(conn.logged_in());
  EXPECT_EQ(conn.identity(), "enroll");
  EXPECT_EQ(io.claims, 0) << "never registered";
  EXPECT_FALSE(io.login_asked);
  EXPECT_GE(io.deadline_changes, 1);
  // From accept, whatever happens.
  EXPECT_EQ(conn.deadline(kT0 + 5s, io.lim), kT0 + io.lim.enroll_timeout.get());
}

TEST_F(Enrolling, OneSubscribeAsksForTheEnrollment) {
  enroll_session();
  feed(conn, io, bytes_of(codec::Subscribe{3, {{"MODEL/thing/PASS", 0}}}), kT0 + 2s);
  EXPECT_EQ(io.last<codec::Suback>(), (codec::Suback{3, {0}}));
  ASSERT_TRUE(io.enroll_asked);
  EXPECT_EQ(io.enroll_asked->first, "MODEL/thing/PASS");
  EXPECT_EQ(io.enroll_asked->second, "model-hwid");
  EXPECT_TRUE(io.added.empty()) << "the enrollment topic is not routed";
  conn.on_enrolled(true, "MODEL/thing/PASS", R"({"id":"dev-1","auth":"x"})", io);
  EXPECT_EQ(io.last<codec::Publish>().payload, R"({"id":"dev-1","auth":"x"})");
  EXPECT_FALSE(io.closed) << "a success leaves the session to the client";
  // The same session cannot enroll again.
  feed(conn, io, bytes_of(codec::Subscribe{4, {{"MODEL/thing/PASS", 0}}}), kT0 + 3s);
  expect_closed(EndReason::kProtocolViolation, Flush::kNo);
  EXPECT_EQ(last_log().message,
            "an enrollment session subscribes to exactly one topic, once; closing");
}

TEST_F(Enrolling, AFailureRepliesThenCloses) {
  enroll_session();
  feed(conn, io, bytes_of(codec::Subscribe{3, {{"MODEL/thing/WRONG", 0}}}), kT0 + 2s);
  conn.on_enrolled(false, "MODEL/thing/WRONG", R"({"err":401,"msg":"wrong enroll password"})", io);
  EXPECT_EQ(io.last<codec::Publish>().topic, "MODEL/thing/WRONG");
  expect_closed(EndReason::kEnrollDone, Flush::kFirst);
}

TEST_F(Enrolling, AnAssignedClientIdIsNotTheSerial) {
  enroll_session("");
  feed(conn, io, bytes_of(codec::Subscribe{3, {{"M/thing/P", 0}}}), kT0 + 2s);
  ASSERT_TRUE(io.enroll_asked);
  EXPECT_EQ(io.enroll_asked->second, "");
}

TEST_F(Enrolling, SubscribeOfTwoFiltersCloses) {
  enroll_session();
  feed(conn, io, bytes_of(codec::Subscribe{3, {{"a/thing/p", 0}, {"b/thing/p", 0}}}), kT0 + 2s);
  expect_closed(EndReason::kProtocolViolation, Flush::kNo);
  EXPECT_FALSE(io.enroll_asked);
}

TEST_F(Enrolling, OnlySubscribePingAndDisconnect) {
  enroll_session();
  feed(conn, io, {0xC0, 0x00}, kT0 + 2s);  // PINGREQ
  EXPECT_TRUE(std::holds_alternative<codec::Pingresp>(io.sent.back()));
  codec::Publish p;
  p.topic = "x/data/y";
  feed(conn, io, bytes_of(p), kT0 + 2s);
  expect_closed(EndReason::kProtocolViolation, Flush::kNo);
  EXPECT_EQ(last_log().message,
            "an enrollment session may only SUBSCRIBE to an enrollment topic; closing");
}

TEST_F(Enrolling, DisconnectEnds) {
  enroll_session();
  feed(conn, io, {0xE0, 0x00}, kT0 + 2s);
  expect_closed(EndReason::kDisconnect, Flush::kNo);
}

TEST_F(Enrolling, TimeUpEndsIt) {
  enroll_session();
  feed(conn, io, {0xC0, 0x00}, kT0 + 29s);  // bytes do not extend it
  conn.on_timer(kT0 + 30s - 1ms, io);
  EXPECT_FALSE(io.closed);
  conn.on_timer(kT0 + 30s, io);
  expect_closed(EndReason::kEnrollDone, Flush::kNo);
  EXPECT_EQ(last_log().message, "enrollment session time is up");
}

TEST_F(Enrolling, PacketLargerThanAnyEnrollmentSubscribe) {
  enroll_session();
  const Bytes big{0x82, 0xF0, 0xA2, 0x04};  // SUBSCRIBE, remaining length 70,000
  feed(conn, io, big, kT0 + 2s);
  expect_closed(EndReason::kProtocolViolation, Flush::kNo);
  EXPECT_EQ(last_log().message,
            "packet larger than any enrollment SUBSCRIBE (65540 bytes); closing");
}

TEST_F(Enrolling, WillIsNeverPublished) {
  auto c = connect_packet("model-hwid", std::nullopt, std::nullopt);
  c.will = codec::Will{"x/data/w", "1"};
  feed(conn, io, bytes_of(c), kT0);
  conn.end(EndReason::kClosedByPeer);
  conn.on_closed(io);
  EXPECT_TRUE(io.wills.empty());
}

}  // namespace
}  // namespace plugmq::broker
