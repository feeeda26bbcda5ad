// Subscription trie with MQTT '+' and '#' wildcards [MQTT-4.7], holding the QoS granted to each
// (filter, sink).
//
// Not thread-safe: the Router guards it. Sinks are stored as raw pointers: a Sink must be
// removed before it is destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "plugmq/broker/sink.hpp"

namespace plugmq::broker {

class TopicTrie {
 public:
  TopicTrie();
  ~TopicTrie();
  TopicTrie(const TopicTrie&) = delete;
  TopicTrie& operator=(const TopicTrie&) = delete;

  // REQUIRES: codec::valid_filter(filter), qos <= 2. Adding the same (filter, sink) again keeps
  // one, with the new QoS [MQTT-3.8.4-3]. Returns true when it was new.
  bool add(std::string_view filter, Sink* sink, std::uint8_t qos);
  // Returns true when the pair existed.
  bool remove(std::string_view filter, Sink* sink);

  // Appends every sink with a filter matching `topic` to `out`, with that filter's QoS (a sink
  // with several matching filters appears once per filter; the Router keeps one, at the highest
  // QoS).
  void match(std::string_view topic, std::vector<Subscriber>& out) const;

  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }

 private:
  struct Node;
  static void match_node(const Node* node, std::string_view rest, bool done,
                         std::vector<Subscriber>& out);
  std::unique_ptr<Node> root_;
  std::size_t count_ = 0;
};

}  // namespace plugmq::broker
