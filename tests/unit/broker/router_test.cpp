// Router: delivery within the publishing account, once per subscriber.
#include "plugmq/broker/router.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace plugmq::broker {
namespace {

struct CountingSink final : Sink {
  void close(EndReason) override {}
  int delivered = 0;
  std::string last_topic;
};

// Routes `topic` in `account`, counting on each sink it is delivered to.
std::size_t route(Router& r, const std::string& account, std::string_view topic) {
  return r.route(account, topic, [topic](Sink& s) {
    auto& sink = static_cast<CountingSink&>(s);
    ++sink.delivered;
    sink.last_topic = std::string(topic);
  });
}

TEST(Router, DeliversOnceWhateverTheMatchingFilters) {  // [MQTT-3.3.5-1]
  Router r;
  CountingSink s;
  r.subscribe("acct", "a/#", &s);
  r.subscribe("acct", "a/+/c", &s);
  r.subscribe("acct", "a/b/c", &s);
  EXPECT_EQ(route(r, "acct", "a/b/c"), 1u);
  EXPECT_EQ(s.delivered, 1);
  EXPECT_EQ(s.last_topic, "a/b/c");
  EXPECT_EQ(r.subscription_count(), 3u);
}

TEST(Router, NeverAcrossAccounts) {
  Router r;
  CountingSink mine, theirs;
  r.subscribe("acct-1", "#", &mine);
  r.subscribe("acct-2", "#", &theirs);
  EXPECT_EQ(route(r, "acct-1", "x/y"), 1u);
  EXPECT_EQ(mine.delivered, 1);
  EXPECT_EQ(theirs.delivered, 0);
  EXPECT_EQ(route(r, "acct-3", "x/y"), 0u);
}

TEST(Router, UnsubscribeStopsDelivery) {
  Router r;
  CountingSink a, b;
  r.subscribe("acct", "t", &a);
  r.subscribe("acct", "t", &b);
  r.unsubscribe("acct", "t", &a);
  r.unsubscribe("acct", "never", &a);
  r.unsubscribe("nobody", "t", &a);
  EXPECT_EQ(route(r, "acct", "t"), 1u);
  EXPECT_EQ(a.delivered, 0);
  EXPECT_EQ(b.delivered, 1);
  r.unsubscribe("acct", "t", &b);
  EXPECT_EQ(route(r, "acct", "t"), 0u);
  EXPECT_EQ(r.subscription_count(), 0u);
}

}  // namespace
}  // namespace plugmq::broker
