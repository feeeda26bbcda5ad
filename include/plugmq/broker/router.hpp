// Finds the subscribers of a published topic.
//
// Subscriptions are partitioned by account: devices never reach across accounts (SPEC 6), so a
// message is only ever matched against its own account's trie. Thread-safe: many concurrent
// route() calls (shared lock), subscribe/unsubscribe take the exclusive lock.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "plugmq/broker/sink.hpp"
#include "plugmq/broker/topic_trie.hpp"

namespace plugmq::broker {

class Router {
 public:
  // Adds `filter` for `sink` with its granted QoS, or replaces the QoS of one it holds
  // [MQTT-3.8.4-3]. REQUIRES: codec::valid_filter(filter), qos <= 2.
  void subscribe(const std::string& account_id, std::string_view filter, Sink* sink,
                 std::uint8_t qos);
  void unsubscribe(const std::string& account_id, std::string_view filter, Sink* sink);

  // Calls deliver(sink, granted_qos) once for every sink of `account_id` with a filter
  // matching `topic`: several matching filters still deliver once, with the highest QoS granted
  // among them [MQTT-3.3.5-1]. Returns how many it called. The calls are made under the shared
  // lock, which keeps every sink alive (a sink unsubscribes, under the exclusive lock, before it
  // is destroyed): `deliver` must not block nor subscribe.
  template <class Deliver>
  std::size_t route(const std::string& account_id, std::string_view topic,
                    Deliver&& deliver) const {
    std::shared_lock lock(mu_);
    const std::vector<Subscriber>& matched = match(account_id, topic);
    for (Subscriber s : matched) deliver(*s.sink(), s.qos());
    return matched.size();
  }

  std::size_t subscription_count() const;

 private:
  // The sinks of `account_id` matching `topic`, each once at its highest matching QoS, in a
  // vector reused per thread (no allocation per message once warm). REQUIRES: mu_ held.
  const std::vector<Subscriber>& match(const std::string& account_id, std::string_view topic) const;

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<TopicTrie>> by_account_;
};

}  // namespace plugmq::broker
