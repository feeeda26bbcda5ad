#include "plugmq/broker/topic_trie.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "../base/filter_cases.hpp"
#include "plugmq/base/topic_filter.hpp"
#include "plugmq/broker/registry.hpp"
#include "plugmq/broker/router.hpp"

namespace plugmq::broker {
namespace {

using base::filter_matches;
using base::testing::kFilterCases;

struct FakeSink : Sink {
  std::vector<std::string> got;
  std::vector<EndReason> closed;
  void close(EndReason why) override { closed.push_back(why); }
};

// The sinks of `subscribers`, sorted.
std::vector<Sink*> sinks_of(const std::vector<Subscriber>& subscribers) {
  std::vector<Sink*> out;
  for (Subscriber s : subscribers) out.push_back(s.sink());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(TopicTrie, AgreesWithFilterMatchesOnEveryCase) {
  for (const auto& c : kFilterCases) {
    TopicTrie trie;
    FakeSink sink;
    trie.add(c.filter, &sink, 1);
    std::vector<Subscriber> out;
    trie.match(c.topic, out);
    EXPECT_EQ(!out.empty(), c.match) << c.filter << " ~ " << c.topic;
  }
}

TEST(TopicTrie, AllFiltersTogether) {
  // Every filter in one trie, each with its own sink: the set matched for each topic is exactly
  // the set filter_matches() says.
  TopicTrie trie;
  std::vector<FakeSink> sinks(std::size(kFilterCases));
  for (std::size_t i = 0; i < std::size(kFilterCases); ++i)
    trie.add(kFilterCases[i].filter, &sinks[i], static_cast<std::uint8_t>(i % 3));
  for (const auto& c : kFilterCases) {
    std::vector<Subscriber> out;
    trie.match(c.topic, out);
    std::vector<Sink*> expected;
    for (std::size_t i = 0; i < std::size(kFilterCases); ++i) {
      if (filter_matches(kFilterCases[i].filter, c.topic)) expected.push_back(&sinks[i]);
    }
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(sinks_of(out), expected) << c.topic;
    for (Subscriber s : out) {
      const auto i = static_cast<std::size_t>(static_cast<FakeSink*>(s.sink()) - sinks.data());
      EXPECT_EQ(s.qos(), i % 3) << "each filter's own QoS";
    }
  }
}

TEST(TopicTrie, AddIsIdempotentAndRemovePrunes) {
  TopicTrie trie;
  FakeSink a, b;
  EXPECT_TRUE(trie.add("x/+/z", &a, 0));
  EXPECT_FALSE(trie.add("x/+/z", &a, 2));  // held: only its QoS changes [MQTT-3.8.4-3]
  EXPECT_TRUE(trie.add("x/+/z", &b, 1));
  EXPECT_TRUE(trie.add("x/#", &a, 1));
  EXPECT_EQ(trie.size(), 3u);
  std::vector<Subscriber> out;
  trie.match("x/y/z", out);
  std::sort(out.begin(), out.end());
  std::vector<Subscriber> all{{&a, 1}, {&a, 2}, {&b, 1}};
  std::sort(all.begin(), all.end());
  EXPECT_EQ(out, all);
  EXPECT_FALSE(trie.remove("x/y/z", &a));
  EXPECT_TRUE(trie.remove("x/+/z", &a));
  EXPECT_FALSE(trie.remove("x/+/z", &a));
  out.clear();
  trie.match("x/y/z", out);
  std::vector<Sink*> want{&a, &b};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(sinks_of(out), want);  // a through x/#, b through x/+/z
  EXPECT_TRUE(trie.remove("x/+/z", &b));
  EXPECT_TRUE(trie.remove("x/#", &a));
  EXPECT_TRUE(trie.empty());
  out.clear();
  trie.match("x/y/z", out);
  EXPECT_TRUE(out.empty());
}

TEST(TopicTrie, ManySinksOnOneFilterAreAddedAndRemovedInAnyOrder) {
  // Past a few sinks a node indexes them; removing takes the last one's place.
  constexpr std::size_t kSinks = 50000;
  std::vector<FakeSink> sinks(kSinks);
  TopicTrie trie;
  for (auto& s : sinks) EXPECT_TRUE(trie.add("+/data/#", &s, 0));
  for (auto& s : sinks) EXPECT_FALSE(trie.add("+/data/#", &s, 1));  // held already
  EXPECT_EQ(trie.size(), kSinks);
  // Every other one leaves, from the middle out.
  for (std::size_t i = kSinks / 2; i < kSinks; i += 2) {
    EXPECT_TRUE(trie.remove("+/data/#", &sinks[i]));
  }
  for (std::size_t i = kSinks / 2; i-- > 0;) {
    if (i % 2 == 0) {
      EXPECT_TRUE(trie.remove("+/data/#", &sinks[i]));
    }
  }
  EXPECT_EQ(trie.size(), kSinks / 2);
  std::vector<Subscriber> out;
  trie.match("d/data/t", out);
  std::vector<Sink*> want;
  for (std::size_t i = 1; i < kSinks; i += 2) want.push_back(&sinks[i]);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(sinks_of(out), want);
  for (Subscriber s : out) EXPECT_EQ(s.qos(), 1);
  // Down to a few (the index goes) and up again (it comes back): still one entry per sink.
  for (std::size_t i = 7; i < kSinks; i += 2) EXPECT_TRUE(trie.remove("+/data/#", &sinks[i]));
  for (std::size_t i = 0; i < 40; ++i) trie.add("+/data/#", &sinks[i], 2);
  EXPECT_FALSE(trie.remove("+/data/#", &sinks[41]));
  out.clear();
  trie.match("d/data/t", out);
  EXPECT_EQ(out.size(), 40u);
  EXPECT_EQ(trie.size(), 40u);
  for (std::size_t i = 0; i < 40; ++i) EXPECT_TRUE(trie.remove("+/data/#", &sinks[i]));
  EXPECT_TRUE(trie.empty());
}

// Routes `topic` in `account`, recording it on each sink it is delivered to.
std::size_t route(const Router& router, const std::string& account, std::string_view topic) {
  return router.route(account, topic, [topic](Sink& s, std::uint8_t) {
    static_cast<FakeSink&>(s).got.emplace_back(topic);
  });
}

TEST(Router, DeliversOncePerSinkAndOnlyWithinTheAccount) {
  Router router;
  FakeSink mine, other;
  router.subscribe("com-a", "+/data/#", &mine, 0);
  router.subscribe("com-a", "#", &mine, 1);  // overlapping: still one delivery [MQTT-3.3.5-1]
  router.subscribe("com-b", "#", &other, 0);
  EXPECT_EQ(route(router, "com-a", "dev-0/data/t"), 1u);
  EXPECT_EQ(mine.got.size(), 1u);
  EXPECT_TRUE(other.got.empty());
  router.unsubscribe("com-a", "#", &mine);
  router.unsubscribe("com-a", "+/data/#", &mine);
  EXPECT_EQ(route(router, "com-a", "dev-0/data/t"), 0u);
  EXPECT_EQ(router.subscription_count(), 1u);
}

TEST(Registry, MQTT_3_1_4_2_TakeoverIsScopedToTheIdentity) {
  Registry reg;
  FakeSink first, second, stranger;
  // Each session owns its key; the registry only views it.
  auto first_key = std::make_unique<std::string>(Registry::key("dev-1", "cid"));
  const std::string second_key = Registry::key("dev-1", "cid");
  const std::string stranger_key = Registry::key("dev-2", "cid");
  EXPECT_FALSE(reg.claim(*first_key, &first));
  // Another device with the same client id does not replace dev-1's session.
  EXPECT_FALSE(reg.claim(stranger_key, &stranger));
  EXPECT_TRUE(first.closed.empty());
  // The same device with the same client id replaces it, and the old one is closed.
  EXPECT_TRUE(reg.claim(second_key, &second));
  ASSERT_EQ(first.closed.size(), 1u);
  EXPECT_EQ(first.closed[0], EndReason::kTakenOver);
  EXPECT_TRUE(stranger.closed.empty());
  // The replaced session's release must not remove its successor.
  reg.release(*first_key, &first);
  EXPECT_EQ(reg.size(), 2u);
  // The entry no longer views the replaced session's key: it may go away.
  first_key->assign(first_key->size(), 'x');
  first_key.reset();
  EXPECT_EQ(reg.close_identity("dev-1", EndReason::kRevoked), 1u);
  EXPECT_EQ(second.closed, std::vector<EndReason>{EndReason::kRevoked});
  reg.release(second_key, &second);
  reg.release(stranger_key, &stranger);
  EXPECT_EQ(reg.size(), 0u);
}

TEST(Registry, ClaimingAgainKeepsTheEntry) {
  Registry reg;
  FakeSink s;
  const std::string k = Registry::key("dev-1", "cid");
  EXPECT_FALSE(reg.claim(k, &s));
  EXPECT_FALSE(reg.claim(k, &s));
  EXPECT_TRUE(s.closed.empty());
  EXPECT_EQ(reg.size(), 1u);
}

TEST(Registry, KeySplitsIntoIdentityAndClientId) {
  const std::string k = Registry::key("dev-1", "phone");
  EXPECT_EQ(Registry::identity_of(k), "dev-1");
  EXPECT_EQ(Registry::client_id_of(k), "phone");
  const std::string no_identity = Registry::key("", "phone");
  EXPECT_EQ(Registry::identity_of(no_identity), "");
  EXPECT_EQ(Registry::client_id_of(no_identity), "phone");
}

TEST(Registry, CloseIdentityClosesEveryClientOfThatIdentityOnly) {
  Registry reg;
  FakeSink a1, a2, b, prefix;
  const std::string k1 = Registry::key("dev-1", "phone"), k2 = Registry::key("dev-1", "tablet"),
                    k3 = Registry::key("dev-2", "phone"), k4 = Registry::key("dev-10", "phone");
  reg.claim(k1, &a1);
  reg.claim(k2, &a2);
  reg.claim(k3, &b);
  reg.claim(k4, &prefix);  // "dev-1" is a prefix of its id, not its identity
  EXPECT_EQ(reg.close_identity("dev-1", EndReason::kRevoked), 2u);
  EXPECT_EQ(a1.closed, std::vector<EndReason>{EndReason::kRevoked});
  EXPECT_EQ(a2.closed, std::vector<EndReason>{EndReason::kRevoked});
  EXPECT_TRUE(b.closed.empty());
  EXPECT_TRUE(prefix.closed.empty());
}

}  // namespace
}  // namespace plugmq::broker
