// A session's logins and enrollments (SPEC 3, 5): the CONNECT's credentials checked within the
// login limits (net/attempt.hpp), the one table from a refused login to its CONNACK, and an
// enrollment session's one SUBSCRIBE. Members of Session (session.hpp), instantiated below
// for both streams; the rest of the connection is session.cpp.
#include <spdlog/spdlog.h>

#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "plugmq/codec/codec.hpp"
#include "plugmq/net/enrollment.hpp"
#include "plugmq/net/session.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/platform/outcome.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/store/fleet.hpp"

namespace plugmq::net {

namespace asio = boost::asio;
using broker::EndReason;
using std::chrono::steady_clock;

namespace {

const char* login_name(bool account) { return account ? "account" : "device"; }

// A device login on the store thread, within the limit per (address, device): its place taken,
// the auth code checked and the place given back in one go, atomic on that thread, with no
// wait. Nothing when the limit refuses it. kNeedsCheck (a prototype with a password of its
// own) gives its place back uncounted: the two-step check takes it again.
std::optional<store::DeviceLogin> quick_device_login(broker::RateLimiter& limiter,
                                                     const std::string& address,
                                                     const std::string& user,
                                                     const std::string& pass,
                                                     store::Identity& ids) {
  const std::string key = limit_key(address + '|' + platform::lower_ascii(user));
  const auto now = broker::RateLimiter::Clock::now();
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

LoginResult to_login_result(Admission a) {
  switch (a) {
    case Admission::kWrongSecret:
      return LoginResult::kBadCredentials;
    case Admission::kLimited:
      return LoginResult::kLimited;
    case Admission::kBusy:
      return LoginResult::kBusy;
    case Admission::kAbandoned:  // the session ended meanwhile: nobody reads the answer
    case Admission::kChecked:
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

// The CONNACK that refuses a login, logged once here. The username is an identifier, not a
// secret; the password is never logged.
codec::ConnackCode login_refusal(LoginResult r, const std::string& peer, const std::string& address,
                                 std::string_view client_id, const char* kind,
                                 const std::string& user) {
  using codec::ConnackCode;
  switch (r) {
    case LoginResult::kBadCredentials:
      if (auto t = platform::throttle_log("mqtt bad credentials", address)) {
        spdlog::info("{} {}: bad credentials for {} {}; CONNACK 4{}", peer, client_id, kind, user,
                     t->suffix());
      }
      return ConnackCode::kBadCredentials;
    case LoginResult::kDisabled:
      spdlog::info("{} {}: {} {} is disabled; CONNACK 5", peer, client_id, kind, user);
      return ConnackCode::kNotAuthorized;
    case LoginResult::kLimited:
      if (auto t = platform::throttle_log("mqtt login limited", address)) {
        spdlog::info(
            "{} {}: too many failed logins from this address or for {} {} "
            "(logins.failures_per_address, logins.failures_per_identity); CONNACK 5{}",
            peer, client_id, kind, user, t->suffix());
      }
      return ConnackCode::kNotAuthorized;
    case LoginResult::kBusy:
      if (auto t = platform::throttle_log("mqtt password checks full")) {
        spdlog::warn("{} {}: more password checks queued than logins.max_queued_hashes; "
                     "CONNACK 3{}",
                     peer, client_id, t->suffix());
      }
      return ConnackCode::kServerUnavailable;
    case LoginResult::kError:
    case LoginResult::kOk:
      break;
  }
  return ConnackCode::kServerUnavailable;
}

}  // namespace

template <class Stream>
asio::awaitable<bool> Session<Stream>::on_connect(codec::Connect& c) {
  using codec::ConnackCode;
  auto refuse = [&](ConnackCode code) {
    send_and_close(codec::Connack{false, code}, EndReason::kRefused);
    return false;
  };
  if (c.will && !codec::valid_topic(c.will->topic)) {
    spdlog::info("{}: will topic is not a valid topic name; closing", peer_);
    end(EndReason::kProtocolViolation);
    co_return false;
  }
  if (c.client_id.empty()) {
    // [MQTT-3.1.3-8]: an empty client id needs clean session 1; the server assigns one.
    if (!c.clean_session) co_return refuse(ConnackCode::kIdentifierRejected);
    key_ = broker::Registry::key({}, "auto-" + platform::new_oid());
    client_id_assigned_ = true;
  } else {
    key_ = broker::Registry::key({}, c.client_id);
  }
  const std::string user = c.username.value_or("");
  const std::string pass = c.password.value_or("");
  if (user.empty() && pass.empty()) {
    // An enrollment session (SPEC 5): it may only SUBSCRIBE to one enrollment topic, and it
    // publishes nothing, so its will is ignored.
    login_ = LoginKind::kEnroll;
    key_ = broker::Registry::key("enroll", client_id());  // in logs; never registered
    keep_alive_ = c.keep_alive;
    connected_ = true;
    check_watchdog();  // the enrollment deadline replaces the CONNECT deadline
    send(codec::Connack{false, ConnackCode::kAccepted});
    spdlog::info("{} {}: enrollment session", peer_, client_id());
    co_return true;
  }
  if (user.empty()) co_return refuse(ConnackCode::kBadCredentials);

  const bool account = user.find('@') != std::string::npos;
  auto check = check_login(user, pass, account);
  const LoginResult result = co_await std::move(check);
  if (result != LoginResult::kOk) {
    co_return refuse(
        login_refusal(result, peer_, address(), client_id(), login_name(account), user));
  }
  if (ctx_.stopping) co_return refuse(ConnackCode::kServerUnavailable);

  key_ = broker::Registry::key(
      login_ == LoginKind::kDevice ? principal_->device_id : principal_->account_id, client_id());
  if (login_ == LoginKind::kDevice) {
    auto split = platform::split_client_id(client_id());
    ctx_.store.post(
        [id = std::string(identity()), cid = std::string(client_id()),
         name = split.name](StoreWorker::Repos& r) { r.identity.record_login(id, cid, name); });
  }
  keep_alive_ = c.keep_alive;
  if (c.will) extras().will = std::move(*c.will);
  connected_ = true;
  since_ = steady_clock::now();     // the keep alive runs from the CONNECT on
  ctx_.registry.claim(key_, this);  // closes an older session of the pair
  check_watchdog();  // the keep-alive deadline replaces the CONNECT deadline
  send(codec::Connack{false, ConnackCode::kAccepted});
  spdlog::info("{} {}: {} login {} (keep alive {} s)", peer_, client_id(), login_name(account),
               identity(), keep_alive_);
  co_return true;
}

template <class Stream>
asio::awaitable<LoginResult> Session<Stream>::check_login(const std::string& user,
                                                          const std::string& pass, bool account) {
  // Awaitables are bound to a name before co_await, here and elsewhere: GCC 12 destroys the
  // temporaries of a co_await full-expression twice.
  if (!account) {
    // A device's auth code: one store task, and nothing made on this thread but the task (a
    // reconnecting fleet's logins stay dense in memory). A prototype with a password of its
    // own goes on to the two-step check below.
    auto quick = ctx_.store.run_fresh([&limiter = ctx_.login_per_address, address = address(),
                                       user, pass](StoreWorker::Repos& r) {
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
    if (found->status == store::LoginStatus::kOk) become_device(found->device);
    if (found->status != store::LoginStatus::kNeedsCheck) co_return to_login_result(found->status);
  }
  store::AccountLogin by_account;
  store::DeviceLogin by_device;
  store::LoginStatus status = store::LoginStatus::kBadCredentials;
  // The store's check, with the password deferred and then verified (net/attempt.hpp).
  const AttemptStep step = [&](std::string hash) -> asio::awaitable<Verdict> {
    auto lookup = ctx_.store.run_fresh([account, user, pass, hash](StoreWorker::Repos& r) {
      const auto secret = store::Secret::offered(pass, hash);
      return account ? LoginLookup{r.identity.check_account_login(user, secret), {}}
                     : LoginLookup{{}, r.identity.check_device_login(user, secret)};
    });
    auto found = co_await std::move(lookup);
    by_account = std::move(found.account);
    by_device = std::move(found.device);
    status = account ? by_account.status : by_device.status;
    co_return Verdict{account ? by_account.check_hash : by_device.check_hash,
                      status == store::LoginStatus::kBadCredentials};
  };
  // A login that waits for a place in a limit or for a password check reads nothing meanwhile:
  // the thread's LoginGate place goes to a session with bytes to read.
  const auto leave_gate = [this] {
    if (!gated_) return;
    gated_ = false;
    login_gate().leave();
  };
  // A device's place per address is its own: see net/attempt.hpp.
  const std::string name = platform::lower_ascii(user);
  const AttemptRun run{ctx_.login_limits(),
                       ctx_.hashes,
                       account ? address() : address() + '|' + name,
                       (account ? "account:" : "device:") + name,
                       pass,
                       leave_gate,
                       [this] { return !end_reason_ && !ctx_.stopping; }};
  Admission admission;
  try {
    auto attempt = run_attempt(run, step);
    admission = co_await std::move(attempt);
  } catch (const std::exception& e) {
    spdlog::error("{} {}: login lookup failed: {}", peer_, client_id(), e.what());
    co_return LoginResult::kError;
  }
  if (admission != Admission::kChecked) co_return to_login_result(admission);
  if (status != store::LoginStatus::kOk) co_return to_login_result(status);
  if (account) {
    login_ = LoginKind::kAccount;
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
  login_ = LoginKind::kDevice;
  // The directory's copy when it agrees with the store (most logins): an idle fleet's sessions
  // then hold no permissions of their own.
  auto dir = ctx_.directory.get();
  const DeviceInfo* info = dir->find(d.id);
  std::shared_ptr<const platform::Principal> who;
  if (info != nullptr && info->account_id == d.account_id && info->perm == d.perm &&
      info->controls == d.controls) {
    who = std::shared_ptr<const platform::Principal>(std::move(dir), info);
  } else {
    who = std::make_shared<const platform::Principal>(platform::Principal{
        d.account_id, d.id, std::move(d.perm), std::move(d.controls)});
  }
  std::lock_guard lock(mu_);
  principal_ = std::move(who);
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::on_enroll_packet(codec::Packet& p) {
  switch (codec::type_of(p)) {
    case codec::PacketType::kPingreq:
      send(codec::Pingresp{});
      co_return true;
    case codec::PacketType::kDisconnect:
      end(EndReason::kDisconnect);
      co_return false;
    case codec::PacketType::kSubscribe:
      break;
    default:
      spdlog::info(
          "{} {}: an enrollment session may only SUBSCRIBE to an enrollment topic; "
          "closing",
          peer_, client_id());
      end(EndReason::kProtocolViolation);
      co_return false;
  }
  const auto& sub = std::get<codec::Subscribe>(p);
  if (enroll_used_ || sub.subscriptions.size() != 1) {
    spdlog::info("{} {}: an enrollment session subscribes to exactly one topic, once; closing",
                 peer_, client_id());
    end(EndReason::kProtocolViolation);
    co_return false;
  }
  enroll_used_ = true;
  // The topic holds the enroll password: it is never logged.
  const std::string topic = sub.subscriptions[0].filter;
  send(codec::Suback{sub.packet_id, {0}});

  const auto split = platform::split_client_id(client_id_assigned_ ? "" : client_id());
  auto parsed = platform::parse_enroll_topic(topic);
  bool controller = parsed && parsed->controller;
  store::EnrollResult result;
  if (!parsed) {
    result.outcome = platform::EnrollOutcome::kMalformed;
    result.msg = "malformed enrollment topic: expected MODEL/thing/PASS or MODEL/ctrl/THING_HWID/PASS";
  } else {
    const auto& t = *parsed;
    const EnrollAttempt attempt{
        address(),
        (t.controller ? "ctrl:" : "thing:") + platform::lower_ascii(t.model) + '/' +
            (t.controller ? t.thing_hwid : split.hwid),
        t.pass, t.controller ? "wrong control password" : "wrong enroll password",
        [this] { return !end_reason_ && !ctx_.stopping; }};
    const EnrollStep step = [&t, &split](StoreWorker::Repos& r, const store::Secret& pass) {
      return t.controller ? r.fleet.enroll_controller(t.model, t.thing_hwid, pass, split.hwid,
                                                      split.name)
                          : r.fleet.enroll_thing(t.model, split.hwid, pass, split.name);
    };
    auto enroll = run_enrollment(ctx_, attempt, step);
    result = co_await std::move(enroll);
  }

  std::string reply;
  if (result.ok()) {
    reply = nlohmann::json{{"id", result.id}, {"auth", result.auth}}.dump();
    ctx_.counters.enrolled++;
    ctx_.store.request_reload();  // the new device joins the directory now, not in a second
    spdlog::info("{} {}: enrolled {} {} (HWID {})", peer_, client_id(),
                 controller ? "controller" : "thing", result.id, split.hwid);
  } else {
    reply = platform::error_reply(result.outcome, result.msg);
    ctx_.counters.enroll_failed++;
    if (result.outcome == platform::EnrollOutcome::kFailed) {
      spdlog::error("{} {}: enrollment failed: {}", peer_, client_id(), result.log_detail);
    } else {
      if (auto t = platform::throttle_log("mqtt enrollment refused", address())) {
        spdlog::info("{} {}: enrollment refused: {} {}{}", peer_, client_id(),
                     platform::reply_code(result.outcome), result.msg, t->suffix());
      }
    }
  }
  codec::Publish out;
  out.topic = topic;
  out.payload = std::move(reply);
  send(out);
  if (!result.ok()) {
    // The seed: after a failure the server closes the connection once the reply is out.
    end(EndReason::kEnrollDone);
    close_after_flush();
    co_return false;
  }
  co_return true;
}

// The members defined here, for both streams (session.cpp instantiates the rest).
template asio::awaitable<bool> Session<Socket>::on_connect(codec::Connect&);
template asio::awaitable<LoginResult> Session<Socket>::check_login(const std::string&,
                                                               const std::string&, bool);
template void Session<Socket>::become_device(store::Device&);
template asio::awaitable<bool> Session<Socket>::on_enroll_packet(codec::Packet&);
template asio::awaitable<bool> Session<TlsStream>::on_connect(codec::Connect&);
template asio::awaitable<LoginResult> Session<TlsStream>::check_login(const std::string&,
                                                               const std::string&, bool);
template void Session<TlsStream>::become_device(store::Device&);
template asio::awaitable<bool> Session<TlsStream>::on_enroll_packet(codec::Packet&);

}  // namespace plugmq::net
