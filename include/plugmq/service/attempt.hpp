// Attempts that check a secret (logins of every kind, enrollments), within their rate limits
// and with slow hashes on the HashPool. MQTT sessions and the HTTP API both run them here.
//
// An attempt takes its place in the limit per client address before anything is checked, and
// one in the limit per identity (an account, a serial, a prototype with a password) before a
// person's password is hashed: attempts sent in parallel cannot get past either limit
// together. A device login's place per address is the pair (address, Plug-ID): one device
// that keeps failing (deleted, or its auth code renewed) behind a site's NAT address does not
// lock out the others, and since an auth code is random (128 bits, not guessable) it is not
// limited per device from every address, so that nobody can lock a device out by sending
// wrong codes for its Plug-ID.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>

#include "plugmq/service/rate_limiter.hpp"

namespace plugmq::service {

class HashPool;

// A rate-limit key of bounded size (names are the client's: a username may be 64 KiB): the
// key itself, or its SHA-256 when longer than 80 bytes.
std::string limit_key(std::string key);

// A place taken in a RateLimiter, given back when the attempt ends, with its outcome from end()
// (an attempt cut short by an exception, a store failure, is not counted as failed).
class LimitPlace {
 public:
  // Takes a place for `key`, waiting while attempts in flight hold the others (`on_wait`, when
  // set, is called first). Nothing when the limit refuses the attempt.
  static boost::asio::awaitable<std::optional<LimitPlace>> take(
      RateLimiter& limiter, std::string key, const std::function<void()>& on_wait = {});
  LimitPlace(LimitPlace&& o) noexcept : limiter_(o.limiter_), key_(std::move(o.key_)) {
    o.limiter_ = nullptr;
  }
  LimitPlace& operator=(LimitPlace&&) = delete;
  ~LimitPlace() { end(false); }

  void end(bool failed);

 private:
  LimitPlace(RateLimiter& limiter, std::string key) : limiter_(&limiter), key_(std::move(key)) {}
  RateLimiter* limiter_;
  std::string key_;
};

// The limits one kind of attempt is subject to.
struct AttemptLimits {
  RateLimiter& per_address;
  RateLimiter& per_identity;
};

// What a step of an attempt found (the caller keeps the full result).
struct Verdict {
  std::string check_hash;  // not empty: the secret is to be checked against this slow hash
  bool failed = false;     // a failure for the rate limits (wrong secret, unknown name, ...)
  // Whose password check_hash is, when the step found out (a device's account): the identity
  // limited in its place of the attempt's.
  std::string identity = {};
};

// How an attempt went: its steps decided (kChecked: the last step's result is the answer), the
// slow hash did not match (kWrongSecret), or it was refused before its secret was checked: by
// a rate limit (kLimited) or because the HashPool is full (kBusy); or its caller went away
// while it waited (kAbandoned: nothing more was done, and nothing counted).
enum class Admission { kChecked, kWrongSecret, kLimited, kBusy, kAbandoned };

struct AttemptRun {
  AttemptLimits limits;
  HashPool& hashes;
  std::string address;
  std::string identity;
  std::string secret;
  // Called before the attempt waits for a place in a limit or for a password check (at least
  // once, maybe more); may be empty.
  std::function<void()> on_wait = {};
  // Whether the attempt is still wanted, asked after each wait: a session that ended meanwhile
  // (its deadline, the server stopping) must not enroll a device nobody will hear of. Empty:
  // always.
  std::function<bool()> wanted = {};
};

// One step: the store's check of the secret, offered deferred (empty hash) or verified against
// the hash (store::Secret::offered). Runs on the caller's executor; its exceptions propagate.
using AttemptStep = std::function<boost::asio::awaitable<Verdict>(std::string verified_hash)>;

// Runs `step` with the secret deferred; when it asks for a check, checks the secret on the
// HashPool and, on a match, runs `step` again with it verified.
boost::asio::awaitable<Admission> run_attempt(const AttemptRun& run, const AttemptStep& step);

}  // namespace plugmq::service
