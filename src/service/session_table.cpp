#include "plugmq/service/session_table.hpp"

#include <utility>

namespace plugmq::service {

void SessionTable::acquire(const std::string& key, Granted granted) {
  {
    std::lock_guard lock(mu_);
    auto [it, fresh] = held_.try_emplace(key);
    if (!fresh) {
      it->second.push_back(std::move(granted));
      return;
    }
  }
  granted();
}

void SessionTable::release(std::string_view key) {
  Granted next;
  {
    std::lock_guard lock(mu_);
    auto it = held_.find(std::string(key));
    if (it == held_.end()) return;
    if (it->second.empty()) {
      held_.erase(it);
      return;
    }
    next = std::move(it->second.front());
    it->second.pop_front();
  }
  next();  // the key stays held, now by the waiter
}

std::size_t SessionTable::held() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

void SessionTable::note_stored(std::string_view key) {
  std::lock_guard lock(mu_);
  stored_.insert(hash(key));
}

bool SessionTable::maybe_stored(std::string_view key) const {
  std::lock_guard lock(mu_);
  return stored_.count(hash(key)) != 0;
}

void SessionTable::forget(std::string_view key) {
  std::lock_guard lock(mu_);
  stored_.erase(hash(key));
}

}  // namespace plugmq::service
