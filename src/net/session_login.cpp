// A session's logins and enrollments (SPEC 3, 5), as its connection asks for them: the CONNECT's
// credentials checked within the login limits (service/attempt.hpp), and an enrollment session's
// enrollment. The CONNACK of each result is the connection's (broker::connack_for). Members of
// Session (session.hpp), instantiated below for both streams.
#include <spdlog/spdlog.h>

#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "plugmq/codec/codec.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/service/enrollment.hpp"
#include "plugmq/store/fleet.hpp"
#include "session.hpp"
#include "session_io.hpp"

namespace plugmq::net {

namespace asio = boost::asio;
using broker::EndReason;
using broker::LoginResult;
using std::chrono::steady_clock;

namespace {

const char* login_name(bool account) { return account ? "account" : "device"; }

// A device login on the store thread, within the limit per (address, device): its place taken,
// the auth code checked and the place given back in one go, atomic on that thread, with no
// wait. Nothing when the limit refuses it. kNeedsCheck (a prototype with a password of its
// own) gives its place back uncounted: the two-step check takes it again.
std::optional<store::DeviceLogin> quick_device_login(service::RateLimiter& limiter,
                                                     const std::string& address,
                                                     const std::string& user,
                                                     const std::string& pass,
                                                     store::Identity& ids) {
  const std::string key = service::limit_key(address + '|' + platform::lower_ascii(user));
  const auto now = service::RateLimiter::Clock::now();
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

LoginResult to_login_result(service::Admission a) {
  switch (a) {
    case service::Admission::kWrongSecret:
      return LoginResult::kBadCredentials;
    case service::Admission::kLimited:
      return LoginResult::kLimited;
    case service::Admission::kBusy:
      return LoginResult::kBusy;
    case service::Admission::kAbandoned:  // the session ended meanwhile: nobody reads the answer
    case service::Admission::kChecked:
      break;
  }
  return LoginResult::kError;  // the caller reads a checked login's store status instead
}

LoginResult to_login_result(store::LoginStatus s) {
  switch (s) {
    case store::LoginStatus::kOk:
      return LoginResult::kOk;
    case store::LoginStatus::kDisabled:
      return LoginResult::kDisabled;
    default:
      return LoginResult::kBadCredentials;
  }
}

// Logs why a login was refused (its CONNACK is broker::connack_for). The username is an
// identifier, not a secret; the password is never logged.
void log_refusal(LoginResult r, const std::string& peer, const std::string& address,
                 std::string_view client_id, const char* kind, const std::string& user) {
  switch (r) {
    case LoginResult::kBadCredentials:
      if (auto t = platform::throttle_log("mqtt bad credentials", address)) {
        spdlog::info("{} {}: bad credentials for {} {}; CONNACK 4{}", peer, client_id, kind, user,
                     t->suffix());
      }
      return;
    case LoginResult::kDisabled:
      spdlog::info("{} {}: {} {} is disabled; CONNACK 5", peer, client_id, kind, user);
      return;
    case LoginResult::kLimited:
      if (auto t = platform::throttle_log("mqtt login limited", address)) {
        spdlog::info(
            "{} {}: too many failed logins from this address or for {} {} "
            "(logins.failures_per_address, logins.failures_per_identity); CONNACK 5{}",
            peer, client_id, kind, user, t->suffix());
      }
      return;
    case LoginResult::kBusy:
      if (auto t = platform::throttle_log("mqtt password checks full")) {
        spdlog::warn(
            "{} {}: more password checks queued than logins.max_queued_hashes; "
            "CONNACK 3{}",
            peer, client_id, t->suffix());
      }
      return;
    case LoginResult::kError:
    case LoginResult::kOk:
      break;
  }
}

}  // namespace

template <class Stream>
asio::awaitable<void> Session<Stream>::run_login(const codec::Connect& c) {
  const std::string user = c.username.value_or("");
  const std::string pass = c.password.value_or("");
  const bool account = user.find('@') != std::string::npos;
  broker::Role role = broker::Role::kNone;
  auto check = check_login(user, pass, account, role);
  LoginResult result = co_await std::move(check);
  if (result != LoginResult::kOk) {
    log_refusal(result, peer_, address(), client_id(), login_name(account), user);
  } else if (ctx_.stopping) {
    result = LoginResult::kError;  // CONNACK 3
  }
  Io io(*this);
  if (result != LoginResult::kOk) {
    conn_.on_login_refused(result, io);
    co_return;
  }
  const std::string& id = account ? principal_->account_id : principal_->device_id;
  if (!account && !conn_.closing()) {
    auto split = platform::split_client_id(client_id());
    ctx_.store.post(
        [id, cid = std::string(client_id()), name = split.name](service::StoreWorker::Repos& r) {
          r.identity.record_login(id, cid, name);
        });
  }
  conn_.on_login(role, id, steady_clock::now(), io);
  settle(io);
}

template <class Stream>
asio::awaitable<std::optional<LoginResult>> Session<Stream>::quick_login(const std::string& user,
                                                                         const std::string& pass,
                                                                         broker::Role& role) {
  // A device's auth code: one store task, and nothing made on this thread but the task (a
  // reconnecting fleet's logins stay dense in memory). A prototype with a password of its own
  // goes on to the two-step check (nothing returned).
  auto quick = ctx_.store.run_fresh([&limiter = ctx_.login_per_address, address = address(), user,
                                     pass](service::StoreWorker::Repos& r) {
    return quick_device_login(limiter, address, user, pass, r.identity);
  });
  std::optional<store::DeviceLogin> found;
  try {
    found = co_await std::move(quick);
  } catch (const std::exception& e) {
    spdlog::error("{} {}: login lookup failed: {}", peer_, client_id(), e.what());
    co_return LoginResult::kError;
  }
  if (!found) co_return LoginResult::kLimited;
  if (found->status == store::LoginStatus::kNeedsCheck) co_return std::nullopt;
  if (found->status == store::LoginStatus::kOk) {
    become_device(found->device);
    role = broker::Role::kDevice;
  }
  co_return to_login_result(found->status);
}

template <class Stream>
asio::awaitable<LoginResult> Session<Stream>::check_login(const std::string& user,
                                                          const std::string& pass, bool account,
                                                          broker::Role& role) {
  // Awaitables are bound to a name before co_await, here and elsewhere: GCC 12 destroys the
  // temporaries of a co_await full-expression twice.
  if (!account) {
    auto quick = quick_login(user, pass, role);
    auto done = co_await std::move(quick);
    if (done) co_return *done;
  }
  store::AccountLogin by_account;
  store::DeviceLogin by_device;
  store::LoginStatus status = store::LoginStatus::kBadCredentials;
  // The store's check, with the password deferred and then verified (service/attempt.hpp).
  const service::AttemptStep step = [&](std::string hash) -> asio::awaitable<service::Verdict> {
    auto lookup = ctx_.store.run_fresh([account, user, pass, hash](service::StoreWorker::Repos& r) {
      const auto secret = store::Secret::offered(pass, hash);
      return account ? LoginLookup{r.identity.check_account_login(user, secret), {}}
                     : LoginLookup{{}, r.identity.check_device_login(user, secret)};
    });
    auto found = co_await std::move(lookup);
    by_account = std::move(found.account);
    by_device = std::move(found.device);
    status = account ? by_account.status : by_device.status;
    co_return service::Verdict{account ? by_account.check_hash : by_device.check_hash,
                               status == store::LoginStatus::kBadCredentials};
  };
  // A login that waits for a place in a limit or for a password check reads nothing meanwhile:
  // the thread's LoginGate place goes to a session with bytes to read.
  const auto leave_gate = [this] {
    if (!gated_) return;
    gated_ = false;
    login_gate().leave();
  };
  // A device's place per address is its own: see service/attempt.hpp.
  const std::string name = platform::lower_ascii(user);
  const service::AttemptRun run{ctx_.login_limits(),
                                ctx_.hashes,
                                account ? address() : address() + '|' + name,
                                (account ? "account:" : "device:") + name,
                                pass,
                                leave_gate,
                                [this] { return !conn_.closing() && !ctx_.stopping; }};
  service::Admission admission;
  try {
    auto attempt = service::run_attempt(run, step);
    admission = co_await std::move(attempt);
  } catch (const std::exception& e) {
    spdlog::error("{} {}: login lookup failed: {}", peer_, client_id(), e.what());
    co_return LoginResult::kError;
  }
  if (admission != service::Admission::kChecked) co_return to_login_result(admission);
  if (status != store::LoginStatus::kOk) co_return to_login_result(status);
  role = account ? broker::Role::kAccount : broker::Role::kDevice;
  if (account) {
    std::lock_guard lock(mu_);
    principal_ = std::make_shared<const platform::Principal>(
        platform::Principal{by_account.account.id, {}, {}, {}});
  } else {
    become_device(by_device.device);
  }
  co_return LoginResult::kOk;
}

template <class Stream>
void Session<Stream>::become_device(store::Device& d) {
  // The directory's copy when it agrees with the store (most logins): an idle fleet's sessions
  // then hold no permissions of their own.
  auto dir = ctx_.directory.get();
  const service::DeviceInfo* info = dir->find(d.id);
  std::shared_ptr<const platform::Principal> who;
  if (info != nullptr && info->account_id == d.account_id && info->perm == d.perm &&
      info->controls == d.controls) {
    who = std::shared_ptr<const platform::Principal>(std::move(dir), info);
  } else {
    who = std::make_shared<const platform::Principal>(
        platform::Principal{d.account_id, d.id, std::move(d.perm), std::move(d.controls)});
  }
  std::lock_guard lock(mu_);
  principal_ = std::move(who);
}

template <class Stream>
asio::awaitable<void> Session<Stream>::run_enroll(const std::string& topic,
                                                  std::string_view serial_client_id) {
  // The topic holds the enroll password: it is never logged.
  const auto split = platform::split_client_id(serial_client_id);
  auto parsed = platform::parse_enroll_topic(topic);
  bool controller = parsed && parsed->controller;
  store::EnrollResult result;
  if (!parsed) {
    result.err = 400;
    result.msg =
        "malformed enrollment topic: expected MODEL/thing/PASS or MODEL/ctrl/THING_HWID/PASS";
  } else {
    const auto& t = *parsed;
    const service::EnrollAttempt attempt{
        address(),
        (t.controller ? "ctrl:" : "thing:") + platform::lower_ascii(t.model) + '/' +
            (t.controller ? t.thing_hwid : split.hwid),
        t.pass, t.controller ? "wrong control password" : "wrong enroll password",
        [this] { return !conn_.closing() && !ctx_.stopping; }};
    const service::EnrollStep step = [&t, &split](service::StoreWorker::Repos& r,
                                                  const store::Secret& pass) {
      return t.controller
                 ? r.fleet.enroll_controller(t.model, t.thing_hwid, pass, split.hwid, split.name)
                 : r.fleet.enroll_thing(t.model, split.hwid, pass, split.name);
    };
    auto enroll = service::run_enrollment(ctx_, attempt, step);
    result = co_await std::move(enroll);
  }

  nlohmann::json reply;
  if (result.ok()) {
    reply = {{"id", result.id}, {"auth", result.auth}};
    ctx_.counters.enrolled++;
    ctx_.store.request_reload();  // the new device joins the directory now, not in a second
    spdlog::info("{} {}: enrolled {} {} (HWID {})", peer_, client_id(),
                 controller ? "controller" : "thing", result.id, split.hwid);
  } else {
    reply = {{"err", result.err}, {"msg", result.msg}};
    ctx_.counters.enroll_failed++;
    if (result.err == 500) {
      spdlog::error("{} {}: enrollment failed: {}", peer_, client_id(), result.log_detail);
    } else {
      if (auto t = platform::throttle_log("mqtt enrollment refused", address())) {
        spdlog::info("{} {}: enrollment refused: {} {}{}", peer_, client_id(), result.err,
                     result.msg, t->suffix());
      }
    }
  }
  Io io(*this);
  conn_.on_enrolled(result.ok(), topic, reply.dump(), io);
}

// The members defined here, for both streams (session.cpp instantiates the rest).
#define PLUGMQ_SESSION_LOGIN(S)                                                 \
  template asio::awaitable<void> Session<S>::run_login(const codec::Connect&);  \
  template asio::awaitable<std::optional<LoginResult>> Session<S>::quick_login( \
      const std::string&, const std::string&, broker::Role&);                   \
  template asio::awaitable<LoginResult> Session<S>::check_login(                \
      const std::string&, const std::string&, bool, broker::Role&);             \
  template void Session<S>::become_device(store::Device&);                      \
  template asio::awaitable<void> Session<S>::run_enroll(const std::string&, std::string_view);
PLUGMQ_SESSION_LOGIN(Socket)
PLUGMQ_SESSION_LOGIN(TlsStream)
#undef PLUGMQ_SESSION_LOGIN

}  // namespace plugmq::net
