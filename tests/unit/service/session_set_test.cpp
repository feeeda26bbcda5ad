#include <gtest/gtest.h>

#include <vector>

#include "plugmq/service/context.hpp"

namespace plugmq::service {
namespace {

struct FakeSession : LiveSession {
  void deliver(const broker::Message&) override {}
  void close(broker::EndReason why) override { closed.push_back(why); }
  void directory_changed() override { ++changes; }
  std::vector<broker::EndReason> closed;
  int changes = 0;
};

TEST(SessionSet, ReachesTheSessionsStillInIt) {
  SessionSet set;
  FakeSession a, b, c, d;
  for (auto* s : {&a, &b, &c, &d}) set.add(s);
  set.add(&b);  // already in: no second entry
  EXPECT_EQ(set.size(), 4u);
  set.remove(&c);  // inside the list
  set.remove(&d);  // its head (the newest)
  set.remove(&d);  // no longer in: nothing happens
  EXPECT_EQ(set.size(), 2u);
  set.directory_changed();
  set.close_all(broker::EndReason::kServerShutdown);
  EXPECT_EQ(a.changes, 1);
  EXPECT_EQ(b.changes, 1);
  EXPECT_EQ(c.changes + d.changes, 0);
  EXPECT_EQ(a.closed, std::vector<broker::EndReason>{broker::EndReason::kServerShutdown});
  EXPECT_EQ(b.closed, std::vector<broker::EndReason>{broker::EndReason::kServerShutdown});
  EXPECT_TRUE(c.closed.empty());
  EXPECT_TRUE(d.closed.empty());
  set.remove(&a);  // its tail (the oldest)
  set.remove(&b);
  EXPECT_EQ(set.size(), 0u);
  set.add(&c);  // a session that left may not come back in practice, but the list allows it
  set.close_all(broker::EndReason::kRevoked);
  EXPECT_EQ(c.closed, std::vector<broker::EndReason>{broker::EndReason::kRevoked});
}

}  // namespace
}  // namespace plugmq::service
