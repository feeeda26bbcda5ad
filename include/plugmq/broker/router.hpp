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
  // REQUIRES: codec::valid_filter(filter).
  void subscribe(const std::string& account_id, std::string_view filter, Sink* sink);
  void unsubscribe(const std::string& account_id, std::string_view filter, Sink* sink);

  // Calls deliver(sink) once for every sink of `account_id` with a filter matching `topic`
  // (several matching filters still deliver once [MQTT-3.3.5-1]); returns how many it called.
  // The calls are made under the shared lock, which keeps every sink alive (a sink unsubscribes,
  // under the exclusive lock, before it is destroyed): `deliver` must not block nor subscribe.
  template <class Deliver>
  std::size_t route(const std::string& account_id, std::string_view topic,
                    Deliver&& deliver) const {
    std::shared_lock lock(mu_);
    const std::vector<Sink*>& matched = match(account_id, topic);
    for (Sink* s : matched) deliver(*s);
    return matched.size();
  }

  std::size_t subscription_count() const;

 private:
  // The sinks of `account_id` matching `topic`, each once, in a vector reused per thread (no
  // allocation per message once warm). REQUIRES: mu_ held.
  const std::vector<Sink*>& match(const std::string& account_id, std::string_view topic) const;

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<TopicTrie>> by_account_;
};

}  // namespace plugmq::broker
