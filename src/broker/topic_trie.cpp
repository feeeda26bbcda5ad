#include "plugmq/broker/topic_trie.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>

namespace plugmq::broker {
namespace {

struct SvHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Splits off the first level of `rest`: returns it and advances `rest` past the '/'. `last`
// tells whether that was the final level.
std::string_view next_level(std::string_view& rest, bool& last) {
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) {
    auto level = rest;
    rest = {};
    last = true;
    return level;
  }
  auto level = rest.substr(0, slash);
  rest.remove_prefix(slash + 1);
  last = false;
  return level;
}

// The sinks whose filter ends at one node, with their granted QoS, in a vector that match()
// appends. A few are found by a scan; past kIndexFrom, an index (sink -> position) keeps add and
// remove O(1), so a filter that many sessions share costs each of them no more than a filter of
// its own.
class SinkList {
 public:
  void append_to(std::vector<Subscriber>& out) const {
    out.insert(out.end(), list_.begin(), list_.end());
  }
  bool empty() const { return list_.empty(); }

  // True when `sink` was not here; else its QoS is replaced.
  bool add(Sink* sink, std::uint8_t qos) {
    if (const std::size_t i = find(sink); i != kNone) {
      list_[i] = Subscriber(sink, qos);
      return false;
    }
    list_.emplace_back(sink, qos);
    if (index_) {
      index_->emplace(sink, static_cast<std::uint32_t>(list_.size() - 1));
    } else if (list_.size() > kIndexFrom) {
      index_ = std::make_unique<Index>();
      for (std::size_t i = 0; i < list_.size(); ++i) {
        index_->emplace(list_[i].sink(), static_cast<std::uint32_t>(i));
      }
    }
    return true;
  }

  bool remove(Sink* sink) {
    const std::size_t i = find(sink);
    if (i == kNone) return false;
    // The last one takes its place.
    list_[i] = list_.back();
    list_.pop_back();
    if (index_) {
      index_->erase(sink);
      if (i < list_.size()) (*index_)[list_[i].sink()] = static_cast<std::uint32_t>(i);
      if (list_.size() <= kIndexFrom / 2) index_.reset();
    }
    return true;
  }

 private:
  using Index = std::unordered_map<Sink*, std::uint32_t>;
  static constexpr std::size_t kIndexFrom = 16;
  static constexpr std::size_t kNone = SIZE_MAX;

  std::size_t find(Sink* sink) const {
    if (index_) {
      auto it = index_->find(sink);
      return it == index_->end() ? kNone : it->second;
    }
    auto it =
        std::find_if(list_.begin(), list_.end(), [sink](Subscriber s) { return s.sink() == sink; });
    return it == list_.end() ? kNone : static_cast<std::size_t>(it - list_.begin());
  }

  std::vector<Subscriber> list_;
  std::unique_ptr<Index> index_;  // made past kIndexFrom sinks
};

}  // namespace

struct TopicTrie::Node {
  std::unordered_map<std::string, std::unique_ptr<Node>, SvHash, std::equal_to<>> children;
  std::unique_ptr<Node> plus;  // '+'
  std::unique_ptr<Node> hash;  // '#', always a leaf
  SinkList sinks;              // filters that end here

  bool empty() const { return children.empty() && !plus && !hash && sinks.empty(); }

  // The child slot for one filter level; with `create`, a missing literal child gets a slot.
  // nullptr when it does not exist and `create` is false.
  std::unique_ptr<Node>* slot(std::string_view level, bool create) {
    if (level == "+") return &plus;
    if (level == "#") return &hash;
    auto it = children.find(level);
    if (it == children.end()) {
      if (!create) return nullptr;
      it = children.emplace(std::string(level), nullptr).first;
    }
    return &it->second;
  }
};

TopicTrie::TopicTrie() : root_(std::make_unique<Node>()) {}
TopicTrie::~TopicTrie() = default;

bool TopicTrie::add(std::string_view filter, Sink* sink, std::uint8_t qos) {
  Node* node = root_.get();
  std::string_view rest = filter;
  bool last = false;
  while (!last) {
    auto* slot = node->slot(next_level(rest, last), true);
    if (!*slot) *slot = std::make_unique<Node>();
    node = slot->get();
  }
  if (!node->sinks.add(sink, qos)) return false;
  ++count_;
  return true;
}

bool TopicTrie::remove(std::string_view filter, Sink* sink) {
  // Walk down remembering the path, then prune empty nodes bottom-up.
  struct Step {
    Node* parent;
    std::unique_ptr<Node>* slot;
    std::string_view level;
  };
  std::vector<Step> path;
  Node* node = root_.get();
  std::string_view rest = filter;
  bool last = false;
  while (!last) {
    auto level = next_level(rest, last);
    auto* slot = node->slot(level, false);
    if (slot == nullptr || !*slot) return false;
    path.push_back({node, slot, level});
    node = slot->get();
  }
  if (!node->sinks.remove(sink)) return false;
  --count_;
  for (auto step = path.rbegin(); step != path.rend(); ++step) {
    if (!(*step->slot)->empty()) break;
    if (step->slot == &step->parent->plus || step->slot == &step->parent->hash) {
      step->slot->reset();
    } else {
      step->parent->children.erase(step->parent->children.find(step->level));
    }
  }
  return true;
}

void TopicTrie::match(std::string_view topic, std::vector<Subscriber>& out) const {
  // [MQTT-4.7.2-1]: filters starting with a wildcard do not match topics starting with '$'.
  const bool dollar = !topic.empty() && topic.front() == '$';
  const Node* root = root_.get();
  std::string_view rest = topic;
  bool last = false;
  auto level = next_level(rest, last);
  if (!dollar) {
    if (root->hash) root->hash->sinks.append_to(out);
    if (root->plus) match_node(root->plus.get(), rest, last, out);
  }
  auto it = root->children.find(level);
  if (it != root->children.end()) match_node(it->second.get(), rest, last, out);
}

// `node` has consumed one level; `rest` is what follows and `done` tells whether the topic
// ended with that level.
void TopicTrie::match_node(const Node* node, std::string_view rest, bool done,
                           std::vector<Subscriber>& out) {
  // "a/#" also matches "a" itself [MQTT-4.7.1-2].
  if (node->hash) node->hash->sinks.append_to(out);
  if (done) {
    node->sinks.append_to(out);
    return;
  }
  bool last = false;
  auto level = next_level(rest, last);
  if (node->plus) match_node(node->plus.get(), rest, last, out);
  auto it = node->children.find(level);
  if (it != node->children.end()) match_node(it->second.get(), rest, last, out);
}

}  // namespace plugmq::broker
