// Checks secrets against slow stored hashes (people's passwords, platform::hash_secret) on
// threads of its own, so that no network, store or reader thread ever computes one: a storm of
// logins with wrong account passwords costs this pool's threads, and device logins, enrollments
// and HTTP reads go on meanwhile (store/secret.hpp has the two-step check this serves).
//
// Bounded: at most `max_waiting` checks are queued or running; a check past that is answered
// kBusy at once (the caller refuses the login as "server unavailable"). A secret checked while
// the same check is queued or running waits for that one instead of hashing again, and a match
// is remembered for a while, so a client that logs in again with the same password, or a fleet
// of dashboards logging in together, costs one hash. A remembered match is keyed by the secret
// and the exact stored hash (with its random salt): a changed password is never matched from it.
//
// check() may be called from any thread; its caller resumes on its own executor.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "plugmq/service/resume.hpp"
#include "plugmq/service/worker_threads.hpp"

namespace plugmq::service {

class HashPool {
 public:
  enum class Result { kMatch, kMismatch, kBusy };
  using Clock = std::chrono::steady_clock;

  // How long a match is remembered, and how many at most (past that, the memory starts over:
  // it only saves hashing work).
  static constexpr Clock::duration kRememberFor = std::chrono::minutes(10);
  static constexpr std::size_t kMaxRemembered = 10000;

  // `threads` 0: one per two cores, at least one.
  HashPool(unsigned threads, std::size_t max_waiting);
  ~HashPool();
  HashPool(const HashPool&) = delete;
  HashPool& operator=(const HashPool&) = delete;

  void start();
  // Finishes the queued checks, then joins the threads. Idempotent.
  void stop();

  // Whether `secret` matches `stored` (a platform::hash_secret() hash).
  boost::asio::awaitable<Result> check(std::string secret, std::string stored) {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(Result)>(
        [this](auto handler, std::string secret, std::string stored) {
          submit(std::move(secret), std::move(stored),
                 resume_on_own_executor<Result>(std::move(handler)));
        },
        boost::asio::use_awaitable, std::move(secret), std::move(stored));
  }

  // Hashes computed since start (not counting remembered or shared results).
  std::size_t computed() const;

 private:
  using Resume = std::function<void(Result)>;
  void submit(std::string secret, std::string stored, Resume resume);
  void compute(const std::string& key, const std::string& secret, const std::string& stored);
  bool remembered(const std::string& key, Clock::time_point now);  // REQUIRES: mu_ held

  const std::size_t max_waiting_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<Resume>> pending_;  // key: see submit()
  std::unordered_map<std::string, Clock::time_point> matches_;    // key -> remembered until
  std::size_t computed_ = 0;
  WorkerThreads workers_;
};

}  // namespace plugmq::service
