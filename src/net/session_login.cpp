// A session's logins and enrollments (SPEC 3, 5): the CONNECT's credentials checked by
// service::login, the one table from a refused login to its CONNACK, and an enrollment
// session's one SUBSCRIBE (service::enroll_by_topic). Members of Session (session.hpp),
// instantiated below for both streams; the rest of the connection is session.cpp.
#include <spdlog/spdlog.h>

#include <boost/asio/use_awaitable.hpp>

#include "plugmq/codec/codec.hpp"
#include "plugmq/net/session.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/service/enrollment.hpp"
#include "plugmq/service/login.hpp"
#include "plugmq/store/fleet.hpp"

namespace plugmq::net {

namespace asio = boost::asio;
using broker::EndReason;
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
    ctx_.store.post([id = std::string(identity()), cid = std::string(client_id()),
                     name = split.name](service::StoreWorker::Repos& r) {
      r.identity.record_login(id, cid, name);
    });
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
  // A login that waits for a place in a limit or for a password check reads nothing meanwhile:
  // the thread's LoginGate place goes to a session with bytes to read.
  const service::LoginRequest req{user, pass, address(),
                                  [this] {
                                    if (!gated_) return;
                                    gated_ = false;
                                    login_gate().leave();
                                  },
                                  [this] { return !end_reason_ && !ctx_.stopping; }};
  auto check = service::login(ctx_, req);
  service::Login found = co_await std::move(check);
  if (found.outcome == service::LoginOutcome::kError) {
    spdlog::error("{} {}: login lookup failed: {}", peer_, client_id(), found.error);
  }
  if (found.outcome != service::LoginOutcome::kOk) co_return to_login_result(found.outcome);
  login_ = account ? LoginKind::kAccount : LoginKind::kDevice;
  std::lock_guard lock(mu_);
  principal_ = std::move(found.principal);
  co_return LoginResult::kOk;
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

  // Coroutine arguments are lvalues: see check_login about GCC 12.
  const std::string cid(client_id_assigned_ ? "" : client_id());
  const std::string addr = address();
  const std::function<bool()> wanted = [this] { return !end_reason_ && !ctx_.stopping; };
  auto enroll = service::enroll_by_topic(ctx_, topic, cid, addr, wanted, peer_, client_id());
  const service::EnrollReply reply = co_await std::move(enroll);
  codec::Publish out;
  out.topic = topic;
  out.payload = reply.json;
  send(out);
  if (!reply.ok) {
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
template asio::awaitable<bool> Session<Socket>::on_enroll_packet(codec::Packet&);
template asio::awaitable<bool> Session<TlsStream>::on_connect(codec::Connect&);
template asio::awaitable<LoginResult> Session<TlsStream>::check_login(const std::string&,
                                                                      const std::string&, bool);
template asio::awaitable<bool> Session<TlsStream>::on_enroll_packet(codec::Packet&);

}  // namespace plugmq::net
