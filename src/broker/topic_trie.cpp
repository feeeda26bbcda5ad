#include "plugmq/broker/topic_trie.hpp"

#include <algorithm>
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

}  // namespace

struct TopicTrie::Node {
  std::unordered_map<std::string, std::unique_ptr<Node>, SvHash, std::equal_to<>> children;
  std::unique_ptr<Node> plus;  // '+'
  std::unique_ptr<Node> hash;  // '#', always a leaf
  std::vector<Sink*> sinks;    // filters that end here

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

bool TopicTrie::add(std::string_view filter, Sink* sink) {
  Node* node = root_.get();
  std::string_view rest = filter;
  bool last = false;
  while (!last) {
    auto* slot = node->slot(next_level(rest, last), true);
    if (!*slot) *slot = std::make_unique<Node>();
    node = slot->get();
  }
  if (std::find(node->sinks.begin(), node->sinks.end(), sink) != node->sinks.end()) return false;
  node->sinks.push_back(sink);
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
  auto it = std::find(node->sinks.begin(), node->sinks.end(), sink);
  if (it == node->sinks.end()) return false;
  *it = node->sinks.back();
  node->sinks.pop_back();
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

void TopicTrie::match(std::string_view topic, std::vector<Sink*>& out) const {
  // [MQTT-4.7.2-1]: filters starting with a wildcard do not match topics starting with '$'.
  const bool dollar = !topic.empty() && topic.front() == '$';
  const Node* root = root_.get();
  std::string_view rest = topic;
  bool last = false;
  auto level = next_level(rest, last);
  if (!dollar) {
    if (root->hash) out.insert(out.end(), root->hash->sinks.begin(), root->hash->sinks.end());
    if (root->plus) match_node(root->plus.get(), rest, last, out);
  }
  auto it = root->children.find(level);
  if (it != root->children.end()) match_node(it->second.get(), rest, last, out);
}

// `node` has consumed one level; `rest` is what follows and `done` tells whether the topic
// ended with that level.
void TopicTrie::match_node(const Node* node, std::string_view rest, bool done,
                           std::vector<Sink*>& out) {
  // "a/#" also matches "a" itself [MQTT-4.7.1-2].
  if (node->hash) out.insert(out.end(), node->hash->sinks.begin(), node->hash->sinks.end());
  if (done) {
    out.insert(out.end(), node->sinks.begin(), node->sinks.end());
    return;
  }
  bool last = false;
  auto level = next_level(rest, last);
  if (node->plus) match_node(node->plus.get(), rest, last, out);
  auto it = node->children.find(level);
  if (it != node->children.end()) match_node(it->second.get(), rest, last, out);
}

bool filter_matches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
      (filter.front() == '+' || filter.front() == '#')) {
    return false;  // [MQTT-4.7.2-1]
  }
  auto split = [](std::string_view s) {
    std::vector<std::string_view> levels;
    bool last = false;
    while (!last) levels.push_back(next_level(s, last));
    return levels;
  };
  auto f = split(filter);
  auto t = split(topic);
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (f[i] == "#") return true;  // also matches the parent level [MQTT-4.7.1-2]
    if (i >= t.size()) return false;
    if (f[i] != "+" && f[i] != t[i]) return false;
  }
  return f.size() == t.size();
}

}  // namespace plugmq::broker
