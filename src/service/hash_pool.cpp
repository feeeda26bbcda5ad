#include "plugmq/service/hash_pool.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>

#include "plugmq/platform/crypto.hpp"

namespace plugmq::service {

namespace {

unsigned default_threads(unsigned threads) {
  if (threads != 0) return threads;
  return std::max(1u, std::thread::hardware_concurrency() / 2);
}

}  // namespace

HashPool::HashPool(unsigned threads, std::size_t max_waiting)
    : max_waiting_(std::max<std::size_t>(1, max_waiting)), workers_(default_threads(threads)) {}

HashPool::~HashPool() { stop(); }

void HashPool::start() { workers_.start("pq-hash"); }

void HashPool::stop() { workers_.stop(); }

std::size_t HashPool::computed() const {
  std::lock_guard lock(mu_);
  return computed_;
}

bool HashPool::remembered(const std::string& key, Clock::time_point now) {
  auto it = matches_.find(key);
  if (it == matches_.end()) return false;
  if (now < it->second) return true;
  matches_.erase(it);
  return false;
}

void HashPool::submit(std::string secret, std::string stored, Resume resume) {
  // The stored hash holds no '\n': the key cannot be made by another pair.
  std::string key = platform::sha256_hex(stored + '\n' + secret);
  {
    std::lock_guard lock(mu_);
    if (remembered(key, Clock::now())) {
      resume(Result::kMatch);
      return;
    }
    if (auto it = pending_.find(key); it != pending_.end()) {
      it->second.push_back(std::move(resume));
      return;
    }
    if (pending_.size() >= max_waiting_) {
      resume(Result::kBusy);
      return;
    }
    pending_[key].push_back(std::move(resume));
  }
  boost::asio::post(workers_.context(),
                    [this, key = std::move(key), secret = std::move(secret),
                     stored = std::move(stored)] { compute(key, secret, stored); });
}

void HashPool::compute(const std::string& key, const std::string& secret,
                       const std::string& stored) {
  const bool match = platform::verify_secret(secret, stored);
  std::vector<Resume> waiting;
  {
    std::lock_guard lock(mu_);
    ++computed_;
    auto it = pending_.find(key);
    if (it != pending_.end()) {
      waiting = std::move(it->second);
      pending_.erase(it);
    }
    if (match) {
      if (matches_.size() >= kMaxRemembered) matches_.clear();
      matches_[key] = Clock::now() + kRememberFor;
    }
  }
  for (auto& r : waiting) r(match ? Result::kMatch : Result::kMismatch);
}

}  // namespace plugmq::service
