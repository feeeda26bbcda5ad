// Router: delivery within the publishing account, once per subscriber.
#include "plugmq/broker/router.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace plugmq::broker {
namespace {

struct CountingSink final : Sink {
  void close(EndReason) override {}
  int delivered = 0;
  std::string last_topic;
  int last_qos = -1;
};

// Routes `topic` in `account`, counting on each sink it is delivered to.
std::size_t route(Router& r, const std::string& account, std::string_view topic) {
  return r.route(account, topic, [topic](Sink& s, std::uint8_t qos) {
    auto& sink = static_cast<CountingSink&>(s);
    ++sink.delivered;
    sink.last_topic = std::string(topic);
    sink.last_qos = qos;
  });
}

TEST(Router, DeliversOnceWhateverTheMatchingFilters) {  // [MQTT-3.3.5-1]
  Router r;
  CountingSink s;
  r.subscribe("acct", "a/#", &s, 0);
  r.subscribe("acct", "a/+/c", &s, 0);
  r.subscribe("acct", "a/b/c", &s, 0);
  EXPECT_EQ(route(r, "acct", "a/b/c"), 1u);
  EXPECT_EQ(s.delivered, 1);
  EXPECT_EQ(s.last_topic, "a/b/c");
  EXPECT_EQ(r.subscription_count(), 3u);
}

TEST(Router, MQTT_3_3_5_1_OverlappingFiltersOnceAtTheirHighestQos) {
  Router r;
  CountingSink s, t;
  // Added in every order of QoS, and beside another subscriber's.
  r.subscribe("acct", "a/#", &s, 1);
  r.subscribe("acct", "a/+/c", &s, 2);
  r.subscribe("acct", "a/b/c", &s, 0);
  r.subscribe("acct", "a/b/#", &t, 0);
  r.subscribe("acct", "#", &t, 1);
  EXPECT_EQ(route(r, "acct", "a/b/c"), 2u);
  EXPECT_EQ(s.delivered, 1);
  EXPECT_EQ(s.last_qos, 2);
  EXPECT_EQ(t.delivered, 1);
  EXPECT_EQ(t.last_qos, 1);
  // Only the filters that match count.
  EXPECT_EQ(route(r, "acct", "a/x"), 2u);
  EXPECT_EQ(s.last_qos, 1);
  EXPECT_EQ(t.last_qos, 1);
  // Without the QoS 2 filter, the next highest.
  r.unsubscribe("acct", "a/+/c", &s);
  route(r, "acct", "a/b/c");
  EXPECT_EQ(s.last_qos, 1);
}

TEST(Router, MQTT_3_8_4_3_SubscribingAgainReplacesTheQos) {
  Router r;
  CountingSink s;
  r.subscribe("acct", "t/#", &s, 2);
  r.subscribe("acct", "t/#", &s, 0);
  EXPECT_EQ(r.subscription_count(), 1u);
  EXPECT_EQ(route(r, "acct", "t/x"), 1u);
  EXPECT_EQ(s.last_qos, 0);
  r.subscribe("acct", "t/#", &s, 1);
  route(r, "acct", "t/x");
  EXPECT_EQ(s.last_qos, 1);
  EXPECT_EQ(s.delivered, 2);
}

TEST(Router, ManySubscribersEachAtTheirOwnQos) {
  // Past the node's index threshold: the QoS of each stays its own, and is replaced in place.
  Router r;
  std::vector<CountingSink> sinks(100);
  for (std::size_t i = 0; i < sinks.size(); ++i) {
    r.subscribe("acct", "+/data/#", &sinks[i], static_cast<std::uint8_t>(i % 3));
  }
  for (std::size_t i = 0; i < sinks.size(); i += 2) r.subscribe("acct", "+/data/#", &sinks[i], 2);
  EXPECT_EQ(route(r, "acct", "d/data/t"), 100u);
  for (std::size_t i = 0; i < sinks.size(); ++i) {
    EXPECT_EQ(sinks[i].last_qos, i % 2 == 0 ? 2 : static_cast<int>(i % 3)) << i;
  }
}

TEST(Router, NeverAcrossAccounts) {
  Router r;
  CountingSink mine, theirs;
  r.subscribe("acct-1", "#", &mine, 0);
  r.subscribe("acct-2", "#", &theirs, 0);
  EXPECT_EQ(route(r, "acct-1", "x/y"), 1u);
  EXPECT_EQ(mine.delivered, 1);
  EXPECT_EQ(theirs.delivered, 0);
  EXPECT_EQ(route(r, "acct-3", "x/y"), 0u);
}

TEST(Router, UnsubscribeStopsDelivery) {
  Router r;
  CountingSink a, b;
  r.subscribe("acct", "t", &a, 0);
  r.subscribe("acct", "t", &b, 1);
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
