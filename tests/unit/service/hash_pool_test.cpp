#include "plugmq/service/hash_pool.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <vector>

#include "plugmq/platform/crypto.hpp"

namespace plugmq::service {
namespace {

namespace asio = boost::asio;
using Result = HashPool::Result;

// Runs the checks concurrently on one io_context, all submitted before the pool starts; their
// results in order.
std::vector<Result> check_all(HashPool& pool,
                              const std::vector<std::pair<std::string, std::string>>& checks) {
  asio::io_context ioc;
  std::vector<Result> out(checks.size(), Result::kBusy);
  for (std::size_t i = 0; i < checks.size(); ++i) {
    asio::co_spawn(
        ioc,
        [&pool, &out, i, secret = checks[i].first,
         stored = checks[i].second]() -> asio::awaitable<void> {
          auto op = pool.check(secret, stored);
          out[i] = co_await std::move(op);
        },
        asio::detached);
  }
  asio::post(ioc, [&pool] { pool.start(); });  // runs after every check was submitted
  ioc.run();
  return out;
}

TEST(HashPool, ChecksOnItsThreads) {
  HashPool pool(2, 16);
  const std::string stored = platform::hash_secret("right-pass");
  auto r = check_all(pool, {{"right-pass", stored}, {"wrong-pass", stored}});
  EXPECT_EQ(r, (std::vector<Result>{Result::kMatch, Result::kMismatch}));
  EXPECT_EQ(pool.computed(), 2u);
}

TEST(HashPool, IdenticalChecksShareOneHashAndMatchesAreRemembered) {
  HashPool pool(1, 16);
  const std::string stored = platform::hash_secret("right-pass");
  auto r =
      check_all(pool, std::vector<std::pair<std::string, std::string>>(8, {"right-pass", stored}));
  EXPECT_EQ(r, std::vector<Result>(8, Result::kMatch));
  EXPECT_EQ(pool.computed(), 1u);
  r = check_all(pool, {{"right-pass", stored}});
  EXPECT_EQ(r, std::vector<Result>{Result::kMatch});
  EXPECT_EQ(pool.computed(), 1u);  // remembered
  // A mismatch is not remembered, and another salt is another check.
  const std::string other = platform::hash_secret("right-pass");
  r = check_all(pool, {{"wrong-pass", stored}, {"right-pass", other}});
  EXPECT_EQ(r, (std::vector<Result>{Result::kMismatch, Result::kMatch}));
  EXPECT_EQ(pool.computed(), 3u);
}

TEST(HashPool, ChecksPastTheQueueAreRefused) {
  HashPool pool(1, 2);
  const std::string stored = platform::hash_secret("right-pass");
  auto r = check_all(pool, {{"one-pass", stored}, {"two-pass", stored}, {"three-pass", stored}});
  EXPECT_EQ(r, (std::vector<Result>{Result::kMismatch, Result::kMismatch, Result::kBusy}));
}

}  // namespace
}  // namespace plugmq::service
