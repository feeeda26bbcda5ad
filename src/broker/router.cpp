#include "plugmq/broker/router.hpp"

#include <algorithm>
#include <mutex>

namespace plugmq::broker {

void Router::subscribe(const std::string& account_id, std::string_view filter, Sink* sink,
                       std::uint8_t qos) {
  std::unique_lock lock(mu_);
  auto& trie = by_account_[account_id];
  if (!trie) trie = std::make_unique<TopicTrie>();
  trie->add(filter, sink, qos);
}

void Router::unsubscribe(const std::string& account_id, std::string_view filter, Sink* sink) {
  std::unique_lock lock(mu_);
  auto it = by_account_.find(account_id);
  if (it == by_account_.end()) return;
  it->second->remove(filter, sink);
  if (it->second->empty()) by_account_.erase(it);
}

const std::vector<Subscriber>& Router::match(const std::string& account_id,
                                             std::string_view topic) const {
  thread_local std::vector<Subscriber> matched;
  matched.clear();
  auto it = by_account_.find(account_id);
  if (it == by_account_.end()) return matched;
  it->second->match(topic, matched);
  if (matched.size() > 1) {
    // A sink's entries are next to each other, its highest QoS last: keep that one.
    std::sort(matched.begin(), matched.end());
    std::size_t kept = 0;
    for (const Subscriber s : matched) {
      if (kept > 0 && matched[kept - 1].sink() == s.sink()) {
        matched[kept - 1] = s;
      } else {
        matched[kept++] = s;
      }
    }
    matched.erase(matched.begin() + static_cast<std::ptrdiff_t>(kept), matched.end());
  }
  return matched;
}

std::size_t Router::subscription_count() const {
  std::shared_lock lock(mu_);
  std::size_t n = 0;
  for (const auto& [_, trie] : by_account_) n += trie->size();
  return n;
}

}  // namespace plugmq::broker
