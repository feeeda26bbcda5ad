// The QoS 1/2 state alone (broker/qos.hpp): the outbound window's ids, stages and order, and the
// inbound QoS 2 id set. Through a connection: connection_qos_test.cpp.
#include "plugmq/broker/qos.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace plugmq::broker {
namespace {

using Stage = OutboundWindow::Stage;

Outgoing message(std::uint8_t qos, std::size_t bytes = 10) {
  return {std::make_shared<const std::string>(bytes, 'p'), qos};
}

TEST(OutboundWindow, SendsInOrderUpToItsMaximum) {
  OutboundWindow w;
  for (int i = 0; i < 3; ++i) w.push(message(1, 10 + i));
  EXPECT_EQ(w.send_next(0), nullptr);
  const auto* a = w.send_next(2);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->id, 1);
  EXPECT_EQ(a->packet->size(), 10u);
  EXPECT_EQ(a->stage, Stage::kPuback);
  const auto* b = w.send_next(2);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->id, 2);
  EXPECT_EQ(w.send_next(2), nullptr) << "full";
  EXPECT_EQ(w.in_flight(), 2u);
  EXPECT_EQ(w.waiting(), 1u);
  EXPECT_EQ(w.on_puback(1), 10u);
  const auto* c = w.send_next(2);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->packet->size(), 12u);
  EXPECT_EQ(c->id, 3);
  EXPECT_EQ(w.in_flight_at(0).id, 2) << "oldest first";
}

TEST(OutboundWindow, Qos2StagesAndTheirSizes) {
  OutboundWindow w;
  w.push(message(2, 40));
  const auto* f = w.send_next(8);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->stage, Stage::kPubrec);
  EXPECT_FALSE(w.on_puback(1));
  EXPECT_FALSE(w.on_pubcomp(1)) << "no PUBREL sent yet";
  EXPECT_EQ(w.on_pubrec(1), 40u);
  EXPECT_EQ(w.in_flight_at(0).stage, Stage::kPubcomp);
  EXPECT_EQ(w.in_flight_at(0).packet, nullptr) << "never sent again: let go";
  EXPECT_EQ(w.on_pubrec(1), 0u) << "a PUBREC again: PUBREL again";
  EXPECT_TRUE(w.on_pubcomp(1));
  EXPECT_FALSE(w.on_pubcomp(1));
  EXPECT_TRUE(w.empty());
}

TEST(OutboundWindow, IdsWrapAndSkipThoseInUse) {
  OutboundWindow w;
  // ids 1 and 3 stay in flight; all the others are acknowledged at once.
  for (int id = 1; id <= 65535; ++id) {
    w.push(message(1));
    const auto* f = w.send_next(65535);
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(f->id, id);
    if (id != 1 && id != 3) {
      ASSERT_TRUE(w.on_puback(f->id));
    }
  }
  std::vector<std::uint16_t> next;
  for (int i = 0; i < 3; ++i) {
    w.push(message(1));
    next.push_back(w.send_next(65535)->id);
  }
  EXPECT_EQ(next, (std::vector<std::uint16_t>{2, 4, 5}));
}

TEST(OutboundWindow, AtMost65535InFlight) {
  OutboundWindow w;
  for (int i = 0; i < 65536; ++i) w.push(message(1, 1));
  std::size_t sent = 0;
  while (w.send_next(1'000'000) != nullptr) ++sent;
  EXPECT_EQ(sent, 65535u) << "every id in use";
  EXPECT_EQ(w.waiting(), 1u);
  EXPECT_TRUE(w.on_puback(65535));
  const auto* f = w.send_next(1'000'000);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->id, 65535);
}

TEST(OutboundWindow, AcknowledgedInAnyOrder) {
  OutboundWindow w;
  for (int i = 0; i < 100; ++i) {
    w.push(message(1, static_cast<std::size_t>(i + 1)));
    w.send_next(100);
  }
  for (int id = 100; id >= 1; id -= 2) EXPECT_EQ(w.on_puback(static_cast<std::uint16_t>(id)), id);
  for (int id = 1; id <= 99; id += 2) EXPECT_EQ(w.on_puback(static_cast<std::uint16_t>(id)), id);
  EXPECT_TRUE(w.empty());
}

// A resumed session's in-flight messages keep their ids and stages and go first; new ids follow
// the last restored one and skip those still in use; each message keeps its position.
TEST(OutboundWindow, RestoredEntriesKeepTheirIdsAndNewOnesSkipThem) {
  OutboundWindow w;
  OutboundWindow::InFlight a;
  a.packet = std::make_shared<const std::string>(10, 'a');
  a.seq = 40;
  a.id = 65534;
  a.qos = 1;
  a.stage = Stage::kPuback;
  w.restore(a);
  OutboundWindow::InFlight b;
  b.seq = 41;
  b.id = 1;
  b.qos = 2;
  b.stage = Stage::kPubcomp;
  w.restore(b);
  EXPECT_EQ(w.in_flight(), 2u);
  for (std::int64_t seq : {42, 43, 44})
    w.push({std::make_shared<const std::string>(5, 'n'), 1, seq});
  EXPECT_EQ(w.first_waiting_seq(), 42);
  const auto* c = w.send_next(10);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->id, 2) << "after 1, the last restored id";
  EXPECT_EQ(c->seq, 42);
  const auto* d = w.send_next(10);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->id, 3);
  EXPECT_EQ(w.on_puback(65534), 10u);
  EXPECT_TRUE(w.on_pubcomp(1));
  EXPECT_EQ(w.on_puback(2), 5u);
  const auto* e = w.send_next(10);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->id, 4);
  EXPECT_EQ(e->seq, 44);
  EXPECT_FALSE(w.first_waiting_seq());
}

TEST(OutboundWindow, NewIdsSkipRestoredOnesInUse) {
  OutboundWindow w;
  for (std::uint16_t id : {3, 2}) {
    OutboundWindow::InFlight f;
    f.packet = std::make_shared<const std::string>(1, 'r');
    f.id = id;
    w.restore(f);
  }
  // Restored in the order 3, 2: new ids go on from 3, skipping 3 itself.
  for (int i = 0; i < 3; ++i) w.push(message(1));
  std::vector<std::uint16_t> ids;
  while (const auto* f = w.send_next(100)) ids.push_back(f->id);
  EXPECT_EQ(ids, (std::vector<std::uint16_t>{4, 5, 6}));
  EXPECT_EQ(w.on_puback(2), 1u);
  EXPECT_EQ(w.on_puback(3), 1u);
}

TEST(PacketIdSet, InsertOnceEraseOnce) {
  PacketIdSet s;
  EXPECT_TRUE(s.insert(7));
  EXPECT_FALSE(s.insert(7));
  EXPECT_TRUE(s.insert(65535));
  EXPECT_TRUE(s.insert(1));
  EXPECT_TRUE(s.contains(7));
  EXPECT_FALSE(s.contains(8));
  EXPECT_EQ(s.size(), 3u);
  EXPECT_TRUE(s.erase(7));
  EXPECT_FALSE(s.erase(7));
  EXPECT_FALSE(s.contains(7));
}

TEST(PacketIdSet, BoundedByThePacketIds) {
  PacketIdSet s;
  for (int round = 0; round < 2; ++round) {
    for (int id = 1; id <= 65535; ++id) s.insert(static_cast<std::uint16_t>(id));
  }
  EXPECT_EQ(s.size(), 65535u);
  for (int id = 65535; id >= 1; --id) ASSERT_TRUE(s.erase(static_cast<std::uint16_t>(id)));
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace plugmq::broker
