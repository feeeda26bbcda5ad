// Routes data messages to subscribers.
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

#include "plugmq/broker/message.hpp"
#include "plugmq/broker/topic_trie.hpp"

namespace plugmq::broker {

class Router {
 public:
  // REQUIRES: codec::valid_filter(filter).
  void subscribe(const std::string& account_id, std::string_view filter, Sink* sink);
  void unsubscribe(const std::string& account_id, std::string_view filter, Sink* sink);

  // Delivers `msg` once to every sink of `msg.origin.account_id` with a matching filter
  // (several matching filters still deliver once [MQTT-3.3.5-1]). Returns how many sinks were
  // offered the message.
  std::size_t route(const Message& msg) const;

  std::size_t subscription_count() const;

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<TopicTrie>> by_account_;
};

}  // namespace plugmq::broker
