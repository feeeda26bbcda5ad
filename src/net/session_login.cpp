// A session's logins and enrollments (SPEC 3, 5), as its connection asks for them: the CONNECT's
// credentials checked by service::login, and an enrollment session's enrollment
// (service::enroll_by_topic). The CONNACK of each result is the connection's
// (broker::connack_for); the refusal is logged here. Members of Session (session.hpp),
// instantiated below for both streams.
#include <spdlog/spdlog.h>

#include <boost/asio/use_awaitable.hpp>
#include <functional>

#include "plugmq/codec/codec.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/service/enrollment.hpp"
#include "plugmq/service/login.hpp"
#include "session.hpp"
#include "session_io.hpp"

namespace plugmq::net {

namespace asio = boost::asio;
using broker::EndReason;
using broker::LoginResult;
using std::chrono::steady_clock;

namespace {

const char* login_name(bool account) { return account ? "account" : "device"; }

LoginResult to_login_result(service::LoginOutcome o) {
  switch (o) {
    case service::LoginOutcome::kOk:
      return LoginResult::kOk;
    case service::LoginOutcome::kBadCredentials:
      return LoginResult::kBadCredentials;
    case service::LoginOutcome::kDisabled:
      return LoginResult::kDisabled;
    case service::LoginOutcome::kLimited:
      return LoginResult::kLimited;
    case service::LoginOutcome::kBusy:
      return LoginResult::kBusy;
    case service::LoginOutcome::kAbandoned:  // the session ended meanwhile: nobody reads it
    case service::LoginOutcome::kError:
      break;
  }
  return LoginResult::kError;
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
  conn_.on_login(role, id, steady_clock::now(), io);
  if (conn_.role() == broker::Role::kDevice) {
    // Accepted (a connection that ended meanwhile is not): finish() records its end.
    auto split = platform::split_client_id(client_id());
    ctx_.store.post([id, cid = std::string(client_id()), name = split.name,
                     at = platform::now_ms()](service::StoreExecutor::Repos& r) {
      r.identity.record_login(id, cid, name, at);
    });
  }
  settle(io);
  if (io.ask == Io::Ask::kSession) {
    auto resume = run_session();  // clean session 0: the CONNACK waits for the stored state
    co_await std::move(resume);
  } else if (!conn_.client_id_assigned() && !conn_.closing() &&
             ctx_.session_table.maybe_stored(conn_.key())) {
    discard_stored_session();  // clean session 1 [MQTT-3.1.2-6]
  }
}

template <class Stream>
asio::awaitable<LoginResult> Session<Stream>::check_login(const std::string& user,
                                                          const std::string& pass, bool account,
                                                          broker::Role& role) {
  // Awaitables are bound to a name before co_await, here and elsewhere: GCC 12 destroys the
  // temporaries of a co_await full-expression twice.
  // A login that waits for a place in a limit or for a password check reads nothing meanwhile:
  // the thread's LoginGate place goes to a session with bytes to read.
  const service::LoginRequest req{user, pass, address(),
                                  [this] {
                                    if (!gated_) return;
                                    gated_ = false;
                                    login_gate().leave();
                                  },
                                  [this] { return !conn_.closing() && !ctx_.stopping; }};
  auto check = service::login(ctx_, req);
  service::Login found = co_await std::move(check);
  if (found.outcome == service::LoginOutcome::kError) {
    spdlog::error("{} {}: login lookup failed: {}", peer_, client_id(), found.error);
  }
  if (found.outcome != service::LoginOutcome::kOk) co_return to_login_result(found.outcome);
  role = account ? broker::Role::kAccount : broker::Role::kDevice;
  std::lock_guard lock(mu_);
  principal_ = std::move(found.principal);
  co_return LoginResult::kOk;
}

template <class Stream>
asio::awaitable<void> Session<Stream>::run_enroll(const std::string& topic,
                                                  std::string_view serial_client_id) {
  // The topic holds the enroll password: it is never logged. Coroutine arguments are
  // lvalues: see check_login about GCC 12.
  const std::string cid(serial_client_id);
  const std::string addr = address();
  const std::function<bool()> wanted = [this] { return !conn_.closing() && !ctx_.stopping; };
  auto enroll = service::enroll_by_topic(ctx_, topic, cid, addr, wanted, peer_, client_id());
  service::EnrollReply reply = co_await std::move(enroll);
  Io io(*this);
  conn_.on_enrolled(reply.ok, topic, std::move(reply.json), io);
}

// The members defined here, for both streams (session.cpp instantiates the rest).
#define PLUGMQ_SESSION_LOGIN(S)                                                \
  template asio::awaitable<void> Session<S>::run_login(const codec::Connect&); \
  template asio::awaitable<LoginResult> Session<S>::check_login(               \
      const std::string&, const std::string&, bool, broker::Role&);            \
  template asio::awaitable<void> Session<S>::run_enroll(const std::string&, std::string_view);
PLUGMQ_SESSION_LOGIN(Socket)
PLUGMQ_SESSION_LOGIN(TlsStream)
PLUGMQ_SESSION_LOGIN(WsStream)
PLUGMQ_SESSION_LOGIN(WssStream)
#undef PLUGMQ_SESSION_LOGIN

}  // namespace plugmq::net
