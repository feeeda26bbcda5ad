#include "plugmq/service/attempt.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>

#include "plugmq/platform/crypto.hpp"
#include "plugmq/service/hash_pool.hpp"

namespace plugmq::service {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Fixture {
  RateLimiter per_address{3, 60s};
  RateLimiter per_identity{2, 60s};
  HashPool hashes{1, 16};
  Fixture() { hashes.start(); }

  AttemptRun run(std::string secret, std::function<bool()> wanted = {}) {
    return AttemptRun{
        {per_address, per_identity}, hashes, "10.0.0.1",       "account:a@example.com",
        std::move(secret),           {},     std::move(wanted)};
  }

  // Runs one attempt to its end; the steps it ran are counted in `steps`.
  Admission attempt(const AttemptRun& r, const AttemptStep& step) {
    asio::io_context ioc;
    Admission out = Admission::kBusy;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          auto op = run_attempt(r, step);
          out = co_await std::move(op);
        },
        asio::detached);
    ioc.run();
    return out;
  }
};

// A store step over one stored password: deferred, it asks for a check; verified, it accepts
// the hash it was given when it is the stored one.
AttemptStep password_step(const std::string& stored, int& steps) {
  return [&stored, &steps](std::string hash) -> asio::awaitable<Verdict> {
    ++steps;
    if (hash.empty()) co_return Verdict{stored, false};
    co_return Verdict{{}, hash != stored};
  };
}

TEST(RunAttempt, AFastCheckCountsPerAddressOnly) {
  Fixture f;
  int steps = 0;
  const AttemptStep wrong = [&steps](std::string) -> asio::awaitable<Verdict> {
    ++steps;
    co_return Verdict{{}, true};
  };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(f.attempt(f.run("x"), wrong), Admission::kChecked);
  EXPECT_EQ(f.attempt(f.run("x"), wrong), Admission::kLimited);
  EXPECT_EQ(steps, 3);  // the refused attempt never reached the store
  EXPECT_EQ(f.per_identity.tracked(), 0u);
}

TEST(RunAttempt, APasswordIsCheckedOnThePoolWithinBothLimits) {
  Fixture f;
  const std::string stored = platform::hash_secret("right-pass");
  int steps = 0;
  EXPECT_EQ(f.attempt(f.run("right-pass"), password_step(stored, steps)), Admission::kChecked);
  EXPECT_EQ(steps, 2);
  EXPECT_EQ(f.per_identity.tracked(), 0u);  // a success leaves nothing behind
  steps = 0;
  EXPECT_EQ(f.attempt(f.run("wrong-1"), password_step(stored, steps)), Admission::kWrongSecret);
  EXPECT_EQ(f.attempt(f.run("wrong-2"), password_step(stored, steps)), Admission::kWrongSecret);
  EXPECT_EQ(steps, 2);  // one step each: a mismatch needs no second
  // Two failures fill the identity's limit: the right password is refused unchecked now.
  EXPECT_EQ(f.attempt(f.run("right-pass"), password_step(stored, steps)), Admission::kLimited);
  EXPECT_EQ(f.hashes.computed(), 3u);
}

TEST(RunAttempt, AnAttemptNoLongerWantedStopsBeforeItsSecondStep) {
  Fixture f;
  const std::string stored = platform::hash_secret("right-pass");
  int steps = 0;
  bool wanted = true;
  // The caller goes away while the password is checked.
  const AttemptStep step = [&](std::string hash) -> asio::awaitable<Verdict> {
    ++steps;
    wanted = false;
    co_return Verdict{hash.empty() ? stored : std::string(), false};
  };
  EXPECT_EQ(f.attempt(f.run("right-pass", [&] { return wanted; }), step), Admission::kAbandoned);
  EXPECT_EQ(steps, 1);
  EXPECT_EQ(f.per_address.tracked(), 0u);  // nothing counted, every place given back
  EXPECT_EQ(f.per_identity.tracked(), 0u);
}

TEST(RunAttempt, LongNamesAreKeptAsTheirHash) {
  Fixture f;
  const std::string stored = platform::hash_secret("right-pass");
  int steps = 0;
  AttemptRun r = f.run("wrong-pass");
  r.identity = "account:" + std::string(65535, 'a') + "@example.com";
  EXPECT_EQ(f.attempt(r, password_step(stored, steps)), Admission::kWrongSecret);
  EXPECT_EQ(f.per_identity.tracked(), 1u);
  EXPECT_EQ(f.per_identity.in_flight(r.identity), 0u);
  EXPECT_EQ(f.attempt(r, password_step(stored, steps)), Admission::kWrongSecret);
  EXPECT_EQ(f.per_identity.tracked(), 1u);  // the same key both times
}

}  // namespace
}  // namespace plugmq::service
