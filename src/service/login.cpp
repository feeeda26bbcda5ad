#include "plugmq/service/login.hpp"

#include <optional>
#include <utility>

#include "plugmq/platform/ids.hpp"

namespace plugmq::service {

namespace asio = boost::asio;

namespace {

// A device login on the store thread, within the limit per (address, device): its place taken,
// the auth code checked and the place given back in one go, atomic on that thread, with no
// wait. Nothing when the limit refuses it. kNeedsCheck (a prototype with a password of its
// own) gives its place back uncounted: the two-step check takes it again.
std::optional<store::DeviceLogin> quick_device_login(RateLimiter& limiter,
                                                     const std::string& address,
                                                     const std::string& user,
                                                     const std::string& pass,
                                                     store::Identity& ids) {
  const std::string key = limit_key(address + '|' + platform::lower_ascii(user));
  const auto now = RateLimiter::Clock::now();
  if (!limiter.try_begin(key, now)) return std::nullopt;
  store::DeviceLogin login;
  try {
    login = ids.check_device_login(user, store::Secret::deferred(pass));
  } catch (...) {
    limiter.end(key, now, false);
    throw;
  }
  limiter.end(key, now, login.status == store::LoginStatus::kBadCredentials);
  return login;
}

// What a login's store step found (one of the two, by the kind of login).
struct LoginLookup {
  store::AccountLogin account;
  store::DeviceLogin device;
};

Login refused(LoginOutcome outcome) { return Login{outcome, nullptr, {}}; }

}  // namespace

LoginOutcome login_outcome(Admission admission, store::LoginStatus status) {
  switch (admission) {
    case Admission::kWrongSecret:
      return LoginOutcome::kBadCredentials;
    case Admission::kLimited:
      return LoginOutcome::kLimited;
    case Admission::kBusy:
      return LoginOutcome::kBusy;
    case Admission::kAbandoned:
      return LoginOutcome::kAbandoned;
    case Admission::kChecked:
      break;
  }
  switch (status) {
    case store::LoginStatus::kOk:
      return LoginOutcome::kOk;
    case store::LoginStatus::kDisabled:
      return LoginOutcome::kDisabled;
    default:
      return LoginOutcome::kBadCredentials;
  }
}

std::shared_ptr<const platform::Principal> device_principal(Context& ctx, store::Device& d) {
  auto dir = ctx.directory.get();
  const DeviceInfo* info = dir->find(d.id);
  if (info != nullptr && info->account_id == d.account_id && info->perm == d.perm &&
      info->controls == d.controls && info->auth_revoked == d.auth_revoked) {
    return std::shared_ptr<const platform::Principal>(std::move(dir), info);
  }
  return std::make_shared<const platform::Principal>(platform::Principal{
      d.account_id, d.id, std::move(d.perm), std::move(d.controls), d.auth_revoked});
}

namespace {

// A device's auth code checked in one store task (quick_device_login). Not a coroutine: a
// waiting login holds the store task's closure, no frame of its own.
asio::awaitable<std::optional<store::DeviceLogin>> check_auth_code(Context& ctx,
                                                                   const LoginRequest& req) {
  return ctx.store.run_fresh([&limiter = ctx.login_per_address, address = req.address,
                              user = req.user, pass = req.pass](StoreExecutor::Repos& r) {
    return quick_device_login(limiter, address, user, pass, r.identity);
  });
}

// The login that the auth code check `found` decides; nothing for a prototype with a password
// of its own (kNeedsCheck), which goes on to the two-step check.
std::optional<Login> auth_code_login(Context& ctx, std::optional<store::DeviceLogin>& found) {
  if (!found) return refused(LoginOutcome::kLimited);
  if (found->status == store::LoginStatus::kOk) {
    return Login{LoginOutcome::kOk, device_principal(ctx, found->device), {}};
  }
  if (found->status != store::LoginStatus::kNeedsCheck) {
    return refused(login_outcome(Admission::kChecked, found->status));
  }
  return std::nullopt;
}

// An account's or a prototype's password: the store's check, with the password deferred and
// then verified (service/attempt.hpp), within the login limits.
asio::awaitable<Login> checked_login(Context& ctx, const LoginRequest& req) {
  const bool account = req.account();
  LoginLookup found;
  store::LoginStatus status = store::LoginStatus::kBadCredentials;
  const AttemptStep step = [&](std::string hash) -> asio::awaitable<Verdict> {
    auto lookup = ctx.store.run_fresh(
        [account, user = req.user, pass = req.pass, hash](StoreExecutor::Repos& r) {
          const auto secret = store::Secret::offered(pass, hash);
          return account ? LoginLookup{r.identity.check_account_login(user, secret), {}}
                         : LoginLookup{{}, r.identity.check_device_login(user, secret)};
        });
    found = co_await std::move(lookup);
    status = account ? found.account.status : found.device.status;
    co_return Verdict{account ? found.account.check_hash : found.device.check_hash,
                      status == store::LoginStatus::kBadCredentials};
  };
  // A device's place per address is its own: see service/attempt.hpp.
  const std::string name = platform::lower_ascii(req.user);
  const AttemptRun run{ctx.login_limits(),
                       ctx.hashes,
                       account ? req.address : req.address + '|' + name,
                       (account ? "account:" : "device:") + name,
                       req.pass,
                       req.on_wait,
                       req.wanted};
  Admission admission;
  try {
    auto attempt = run_attempt(run, step);
    admission = co_await std::move(attempt);
  } catch (const std::exception& e) {
    co_return Login{LoginOutcome::kError, nullptr, e.what()};
  }
  if (auto outcome = login_outcome(admission, status); outcome != LoginOutcome::kOk) {
    co_return refused(outcome);
  }
  if (account) {
    co_return Login{LoginOutcome::kOk,
                    std::make_shared<const platform::Principal>(
                        platform::Principal{found.account.account.id, {}, {}, {}}),
                    {}};
  }
  co_return Login{LoginOutcome::kOk, device_principal(ctx, found.device.device), {}};
}

}  // namespace

asio::awaitable<Login> login(Context& ctx, const LoginRequest& req) {
  // Awaitables are bound to a name before co_await, here and elsewhere: GCC 12 destroys the
  // temporaries of a co_await full-expression twice.
  if (!req.account()) {
    // A device's auth code: one store task, and nothing made on this thread but the task (a
    // reconnecting fleet's logins stay dense in memory).
    auto quick = check_auth_code(ctx, req);
    std::optional<store::DeviceLogin> found;
    try {
      found = co_await std::move(quick);
    } catch (const std::exception& e) {
      co_return Login{LoginOutcome::kError, nullptr, e.what()};
    }
    if (auto decided = auth_code_login(ctx, found)) co_return std::move(*decided);
  }
  auto checked = checked_login(ctx, req);
  co_return co_await std::move(checked);
}

}  // namespace plugmq::service
