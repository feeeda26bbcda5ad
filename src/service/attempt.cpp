#include "plugmq/service/attempt.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "plugmq/platform/crypto.hpp"
#include "plugmq/service/hash_pool.hpp"
#include "plugmq/service/resume.hpp"

namespace plugmq::service {

namespace asio = boost::asio;

namespace {

// The limiter's admission of an attempt of `key`, once it has one.
asio::awaitable<RateLimiter::Admission> admission(RateLimiter& limiter, const std::string& key,
                                                  const std::function<void()>& on_wait) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(RateLimiter::Admission)>(
      [&limiter, &key, &on_wait](auto handler) {
        auto resume = resume_on_own_executor<RateLimiter::Admission>(std::move(handler));
        if (auto now = limiter.begin(key, RateLimiter::Clock::now(), resume)) {
          resume(*now);
        } else if (on_wait) {
          on_wait();
        }
      },
      asio::use_awaitable);
}

}  // namespace

std::string limit_key(std::string key) {
  constexpr std::size_t kMaxKey = 80;
  return key.size() <= kMaxKey ? key : "sha256:" + platform::sha256_hex(key);
}

asio::awaitable<std::optional<LimitPlace>> LimitPlace::take(RateLimiter& limiter, std::string key,
                                                            const std::function<void()>& on_wait) {
  key = limit_key(std::move(key));
  auto op = admission(limiter, key, on_wait);
  if (co_await std::move(op) != RateLimiter::Admission::kGranted) co_return std::nullopt;
  co_return LimitPlace(limiter, std::move(key));
}

void LimitPlace::end(bool failed) {
  if (limiter_ == nullptr) return;
  limiter_->end(key_, RateLimiter::Clock::now(), failed);
  limiter_ = nullptr;
}

asio::awaitable<Admission> run_attempt(const AttemptRun& run, const AttemptStep& step) {
  const auto gone = [&run] { return run.wanted && !run.wanted(); };
  auto take_address = LimitPlace::take(run.limits.per_address, run.address, run.on_wait);
  auto address = co_await std::move(take_address);
  if (!address) co_return Admission::kLimited;
  if (gone()) co_return Admission::kAbandoned;
  auto first = step({});
  Verdict v = co_await std::move(first);
  if (v.check_hash.empty()) {
    address->end(v.failed);
    co_return Admission::kChecked;
  }
  // A person's password: it is hashed only with a place in the identity's limit too.
  if (run.on_wait) run.on_wait();
  auto take_identity = LimitPlace::take(
      run.limits.per_identity, v.identity.empty() ? run.identity : v.identity, run.on_wait);
  auto identity = co_await std::move(take_identity);
  if (!identity) {
    address->end(false);
    co_return Admission::kLimited;
  }
  if (gone()) co_return Admission::kAbandoned;
  auto check = run.hashes.check(run.secret, v.check_hash);
  const HashPool::Result hashed = co_await std::move(check);
  if (hashed != HashPool::Result::kMatch) {
    const bool wrong = hashed == HashPool::Result::kMismatch;
    identity->end(wrong);
    address->end(wrong);
    co_return wrong ? Admission::kWrongSecret : Admission::kBusy;
  }
  if (gone()) co_return Admission::kAbandoned;
  auto second = step(std::move(v.check_hash));
  v = co_await std::move(second);
  identity->end(v.failed);
  address->end(v.failed);
  co_return v.check_hash.empty() ? Admission::kChecked : Admission::kWrongSecret;
}

}  // namespace plugmq::service
