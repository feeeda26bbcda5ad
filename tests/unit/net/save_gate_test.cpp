// net::SaveGate: a persistent session's PUBRELs, PUBRECs and PUBCOMPs that wait for a save, as the
// session drives it (Session::hold_ack, flush_gate, run_publish): one save at a time, those that
// come meanwhile sharing the next; none taken while a record is being handed to the writer; the
// acknowledgements of PUBLISHes kept in order.
#include "plugmq/net/save_gate.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace plugmq::net {
namespace {

codec::Packet pubrel(std::uint16_t id) { return codec::Pubrel{id}; }
codec::Packet pubrec(std::uint16_t id) { return codec::Pubrec{id}; }
codec::Packet puback(std::uint16_t id) { return codec::Puback{id}; }
codec::Packet pubcomp(std::uint16_t id) { return codec::Pubcomp{id}; }

TEST(SaveGate, NothingHeldNothingToFlush) {
  SaveGate g;
  EXPECT_FALSE(g.holding());
  EXPECT_FALSE(g.want_flush());
  EXPECT_EQ(g.take(), nullptr);
  EXPECT_FALSE(g.saving());
}

TEST(SaveGate, AHeldAckAsksForOneFlushAndGoesBehindItsSave) {
  SaveGate g;
  g.hold(pubrel(7));
  EXPECT_TRUE(g.holding());
  EXPECT_TRUE(g.want_flush());
  EXPECT_FALSE(g.want_flush()) << "one flush pending is enough";
  g.hold(pubrel(8));  // before the flush runs: the same save
  EXPECT_FALSE(g.want_flush());
  const auto held = g.take();
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->acks, (std::vector<codec::Packet>{pubrel(7), pubrel(8)}));
  EXPECT_FALSE(held->failed);
  EXPECT_FALSE(g.holding());
  EXPECT_TRUE(g.saving());
  EXPECT_FALSE(g.committed()) << "nothing came meanwhile: no save";
  EXPECT_FALSE(g.saving());
}

// One save at a time: what comes while it is being committed waits for the next, together.
TEST(SaveGate, ThoseThatComeWhileASaveCommitsShareTheNext) {
  SaveGate g;
  g.hold(pubrel(1));
  ASSERT_TRUE(g.want_flush());
  const auto first = g.take();
  ASSERT_NE(first, nullptr);
  for (std::uint16_t id = 2; id <= 40; ++id) {
    g.hold(pubrel(id));
    EXPECT_FALSE(g.want_flush()) << "a save is being committed";
  }
  EXPECT_EQ(g.take(), nullptr) << "not before the first is committed";
  ASSERT_TRUE(g.committed());
  const auto second = g.take();
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->acks.size(), 39u);
  EXPECT_EQ(second->acks.front(), pubrel(2));
  EXPECT_EQ(second->acks.back(), pubrel(40));
  EXPECT_EQ(first->acks, std::vector<codec::Packet>{pubrel(1)});
}

// A stream of exchanges costs one save per commit: with the acknowledgements of each commit's
// time arriving between two commits, the saves are as many as the commits.
TEST(SaveGate, OneSavePerCommit) {
  SaveGate g;
  int saves = 0;
  std::size_t sent = 0;
  std::shared_ptr<SaveGate::Held> in_flight;
  std::uint16_t id = 0;
  for (int commit = 0; commit < 10; ++commit) {
    for (int i = 0; i < 16; ++i) {
      g.hold(pubrel(++id));
      if (g.want_flush()) {
        in_flight = g.take();
        ++saves;
      }
    }
    // The writer commits the save in flight; the session is told.
    ASSERT_NE(in_flight, nullptr);
    sent += in_flight->acks.size();
    in_flight.reset();
    if (g.committed()) {
      in_flight = g.take();
      ++saves;
    }
  }
  // One per commit, and the one the next commit will hold; every PUBREL in one of them.
  EXPECT_EQ(saves, 11);
  ASSERT_NE(in_flight, nullptr);
  EXPECT_FALSE(g.holding());
  EXPECT_EQ(sent + in_flight->acks.size(), 160u);
}

// A save never precedes the record of an id it holds: none is taken while a record is being
// handed to the writer; once it is queued, the flush is asked for again.
TEST(SaveGate, NoSaveWhileARecordIsHandedOver) {
  SaveGate g;
  const auto group = g.group_for_publish();
  g.begin_publish();
  EXPECT_TRUE(g.holding());
  EXPECT_FALSE(g.want_flush());
  g.hold(pubrel(3));  // a PUBREL meanwhile joins the same group
  EXPECT_FALSE(g.want_flush());
  EXPECT_EQ(g.take(), nullptr);
  group->acks.push_back(pubrec(9));  // its record is queued
  g.end_publish();
  ASSERT_TRUE(g.want_flush());
  const auto held = g.take();
  ASSERT_EQ(held, group);
  EXPECT_EQ(held->acks, (std::vector<codec::Packet>{pubrel(3), pubrec(9)}));
}

// A flush posted before a publish began finds it under way: nothing is taken, and the end of
// the publish asks for the flush again.
TEST(SaveGate, AFlushThatFindsAPublishUnderWayIsAskedForAgain) {
  SaveGate g;
  g.hold(pubcomp(4));
  ASSERT_TRUE(g.want_flush());
  g.begin_publish();
  EXPECT_EQ(g.take(), nullptr);
  EXPECT_FALSE(g.saving());
  g.end_publish();
  ASSERT_TRUE(g.want_flush());
  const auto held = g.take();
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->acks, std::vector<codec::Packet>{pubcomp(4)});
}

// [MQTT-4.6.0-2, -3]: a PUBACK or PUBREC that goes through the writer's queue must not overtake
// one held here; PUBRELs and PUBCOMPs held do not order them.
TEST(SaveGate, OnlyHeldAcknowledgementsOfPublishesOrderTheLaterOnes) {
  SaveGate g;
  g.hold(pubrel(1));
  g.hold(pubcomp(2));
  EXPECT_TRUE(g.holding());
  EXPECT_FALSE(g.orders_publishes());
  g.hold(puback(3), true);
  EXPECT_TRUE(g.orders_publishes());
  ASSERT_TRUE(g.want_flush());
  const auto held = g.take();
  EXPECT_FALSE(g.orders_publishes()) << "taken: those behind its save go in order anyway";
  g.group_for_publish();
  EXPECT_TRUE(g.orders_publishes());
  EXPECT_EQ(held->acks, (std::vector<codec::Packet>{pubrel(1), pubcomp(2), puback(3)}));
}

}  // namespace
}  // namespace plugmq::net
