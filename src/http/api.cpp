// Api::handle(): method override, authentication, routing (SPEC 10).
#include "plugmq/http/api.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "handlers.hpp"
#include "outcome_status.hpp"
#include "plugmq/http/cors.hpp"
#include "plugmq/platform/crypto.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/service/login.hpp"

namespace plugmq::http {

namespace asio = boost::asio;
using detail::Call;
using detail::Caller;
using std::chrono::steady_clock;

namespace {

// Bounds the login cache; past it, the cache starts over (it only saves hashing work).
constexpr std::size_t kMaxCachedLogins = 10000;

std::string upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

// A login checked on a reader thread, its secret offered deferred or verified
// (store/secret.hpp): kNeedsCheck asks for the check of check_hash on the HashPool.
struct Login {
  store::LoginStatus status = store::LoginStatus::kBadCredentials;
  Caller caller;
  std::string check_hash;
  std::string identity;  // whose password check_hash is, for the rate limit per identity
};

Login device_login(service::StoreExecutor::ReadRepos& r, const std::string& id,
                   const store::Secret& auth) {
  Login out;
  auto login = r.identity.check_device_login(id, auth);
  out.status = login.status;
  out.check_hash = std::move(login.check_hash);
  if (login.status != store::LoginStatus::kOk) return out;
  out.caller.kind = Caller::Kind::kDevice;
  out.caller.device_kind = login.device.kind;
  out.caller.who = {login.device.account_id, login.device.id, login.device.perm,
                    std::move(login.device.controls), login.device.auth_revoked};
  return out;
}

Login account_login(service::StoreExecutor::ReadRepos& r, const std::string& email,
                    const store::Secret& password) {
  Login out;
  auto login = r.identity.check_account_login(email, password);
  out.status = login.status;
  out.check_hash = std::move(login.check_hash);
  if (login.status != store::LoginStatus::kOk) return out;
  out.caller.kind = Caller::Kind::kAccount;
  out.caller.who.account_id = login.account.id;
  return out;
}

// X-Plug-Id + X-Plug-Master: the device, if the password is its account's.
Login hybrid_login(service::StoreExecutor::ReadRepos& r, const std::string& id,
                   const store::Secret& password) {
  Login out;
  auto device = r.identity.device(id);
  std::optional<store::Account> account;
  if (device) account = r.identity.account_by_id(device->account_id);
  // An unknown id is checked as an unknown email: as slow as a wrong password, so that the
  // answer tells nothing about the id.
  auto login = r.identity.check_account_login(account ? account->email : "", password);
  out.status = login.status;
  out.check_hash = std::move(login.check_hash);
  if (account) out.identity = "account:" + account->email;
  if (login.status != store::LoginStatus::kOk) return out;
  if (device->status == "disabled") {
    out.status = store::LoginStatus::kDisabled;
    return out;
  }
  out.caller.kind = Caller::Kind::kHybrid;
  out.caller.device_kind = device->kind;
  out.caller.who = {device->account_id, device->id, device->perm, std::move(device->controls)};
  return out;
}

// The response that refuses a login, logged once here; nothing for a login that passed. The name
// is an identifier, not a secret; the secret is never logged.
std::optional<Response> login_refusal(service::Admission admission, store::LoginStatus status,
                                      const std::string& peer, const std::string& name) {
  const service::LoginOutcome outcome = service::login_outcome(admission, status);
  switch (outcome) {
    case service::LoginOutcome::kOk:
      return std::nullopt;
    case service::LoginOutcome::kLimited:
      if (auto t = platform::throttle_log("http login limited", peer)) {
        spdlog::info("http {}: too many failed logins from this address or for {}; 429{}", peer,
                     name, t->suffix());
      }
      return error_response(status_of(outcome),
                            "too many failed logins from this address or for this "
                            "identity; try again later");
    case service::LoginOutcome::kBusy:
      if (auto t = platform::throttle_log("http password checks full")) {
        spdlog::warn("http {}: more password checks queued than logins.max_queued_hashes; 503{}",
                     peer, t->suffix());
      }
      return error_response(status_of(outcome),
                            "the server is busy checking passwords; try again later");
    case service::LoginOutcome::kAbandoned:
      return error_response(status_of(outcome), "the server is stopping");
    case service::LoginOutcome::kDisabled:
      return error_response(status_of(outcome), "device or account disabled");
    case service::LoginOutcome::kBadCredentials:
    case service::LoginOutcome::kError:
      break;
  }
  if (auto t = platform::throttle_log("http bad credentials", peer)) {
    spdlog::info("http {}: bad credentials for {}{}", peer, name, t->suffix());
  }
  return detail::need_auth("wrong credentials");
}

// A request's credentials, as (kind, name, secret).
struct Credentials {
  Caller::Kind kind = Caller::Kind::kNone;  // kNone: the request has none
  std::string name;
  std::string secret;
};

// The credentials in `req`'s headers (X-Plug-Id with X-Plug-Auth or X-Plug-Master,
// X-Plug-Email with X-Plug-Master, or Basic), or the 401 for malformed or incomplete ones.
std::optional<Response> credentials_of(const Request& req, Credentials& out) {
  const std::string* id = req.header("X-Plug-Id");
  const std::string* auth = req.header("X-Plug-Auth");
  const std::string* email = req.header("X-Plug-Email");
  const std::string* master = req.header("X-Plug-Master");
  const std::string* basic = req.header("Authorization");
  if (id && auth) {
    out = {Caller::Kind::kDevice, *id, *auth};
  } else if (id && master) {
    out = {Caller::Kind::kHybrid, *id, *master};
  } else if (email && master) {
    out = {Caller::Kind::kAccount, *email, *master};
  } else if (basic) {
    auto creds = basic_credentials(*basic);
    if (!creds) return detail::need_auth("malformed Authorization header (Basic expected)");
    out = {Caller::Kind::kAccount, std::move(creds->first), std::move(creds->second)};
  } else if (id || auth || email || master) {
    return detail::need_auth(
        "incomplete credentials: X-Plug-Id with X-Plug-Auth or X-Plug-Master, or X-Plug-Email "
        "with X-Plug-Master");
  }
  return std::nullopt;
}

// The channel mask of a history request (GET and DELETE /iot/data, GET /iot/channel): no mask
// is "#", and a mask ending in '/' ends in "/#" (a client that sends "home/#" unescaped loses
// its '#' as a fragment, leaving "home/").
std::string history_mask(std::string mask) {
  if (mask.empty() || mask.back() == '/') mask += '#';
  return mask;
}

}  // namespace

struct Api::Impl {
  explicit Impl(service::Context& c) : ctx(c) {}

  service::Context& ctx;
  std::mutex mu;
  struct Cached {
    Caller caller;
    steady_clock::time_point expires;
  };
  std::unordered_map<std::string, Cached> logins;  // key: SHA-256 of the credentials

  std::optional<Caller> cached(const std::string& key) {
    std::lock_guard lock(mu);
    auto it = logins.find(key);
    if (it == logins.end()) return std::nullopt;
    if (steady_clock::now() >= it->second.expires) {
      logins.erase(it);
      return std::nullopt;
    }
    return it->second.caller;
  }
  void remember(const std::string& key, const Caller& caller) {
    std::lock_guard lock(mu);
    if (logins.size() >= kMaxCachedLogins) logins.clear();
    logins[key] = Cached{caller, steady_clock::now() + kLoginCacheTtl};
  }

  asio::awaitable<std::optional<Response>> authenticate(Call& call);
  // Checks `c` against the store within the login limits: the caller into `out`, or the
  // response that refuses the request.
  asio::awaitable<std::optional<Response>> log_in(const Request& req, const Credentials& c,
                                                  Caller& out);
  // The caller's permissions and disabled flags as the directory has them now (SPEC 6: an
  // operator's change reaches every request within the directory's refresh); the 403 when
  // the device or its account is disabled.
  std::optional<Response> apply_directory(Caller& caller);
  // authenticate(), and a 401 for a request without credentials.
  asio::awaitable<std::optional<Response>> require_auth(Call& call);
  // The response to `req`, CORS aside: method override, routing, a 500 for what throws.
  asio::awaitable<Response> respond(const Request& req);
  asio::awaitable<Response> route(Call& call);
  // The handler for the request's method and path, or the response when there is none.
  std::optional<Response> pick(Call& call, std::function<asio::awaitable<Response>()>& handler,
                               bool& needs_auth);
};

Api::Api(service::Context& ctx) : impl_(std::make_unique<Impl>(ctx)) {}
Api::~Api() = default;

asio::awaitable<std::optional<Response>> Api::Impl::authenticate(Call& call) {
  if (call.authenticated) co_return std::nullopt;
  Credentials creds;
  if (auto refused = credentials_of(call.req, creds)) co_return refused;
  if (creds.kind == Caller::Kind::kNone) {
    call.authenticated = true;  // no credentials: the caller is nobody
    co_return std::nullopt;
  }
  const std::string key = platform::sha256_hex(std::to_string(static_cast<int>(creds.kind)) + '\n' +
                                               creds.name + '\n' + creds.secret);
  std::optional<Caller> caller = cached(key);
  if (caller && !caller->who.device_id.empty()) {
    // A device the directory no longer knows may have been deleted, and one whose auth codes
    // were revoked since (SPEC 5) holds a code that may be one of them: check again.
    const auto* info = ctx.directory.get()->find(caller->who.device_id);
    if (info == nullptr ||
        (caller->kind == Caller::Kind::kDevice && info->auth_revoked != caller->who.auth_revoked)) {
      caller.reset();
    }
  }
  if (!caller) {
    Caller fresh;
    auto op = log_in(call.req, creds, fresh);
    if (auto refused = co_await std::move(op)) co_return refused;
    remember(key, fresh);
    caller = std::move(fresh);
  }
  if (auto refused = apply_directory(*caller)) co_return refused;
  call.caller = std::move(*caller);
  call.authenticated = true;
  co_return std::nullopt;
}

asio::awaitable<std::optional<Response>> Api::Impl::log_in(const Request& req, const Credentials& c,
                                                           Caller& out) {
  Login login;
  const service::AttemptStep step = [&](std::string hash) -> asio::awaitable<service::Verdict> {
    auto op = ctx.store.read([kind = c.kind, name = c.name, secret = c.secret,
                              hash](service::StoreExecutor::ReadRepos& r) {
      const auto offered = store::Secret::offered(secret, hash);
      switch (kind) {
        case Caller::Kind::kDevice:
          return device_login(r, name, offered);
        case Caller::Kind::kHybrid:
          return hybrid_login(r, name, offered);
        default:
          return account_login(r, name, offered);
      }
    });
    login = co_await std::move(op);
    co_return service::Verdict{login.check_hash,
                               login.status == store::LoginStatus::kBadCredentials, login.identity};
  };
  // A device's place per address is its own: see service/attempt.hpp.
  const std::string lower = platform::lower_ascii(c.name);
  const service::AttemptRun run{
      ctx.login_limits(),
      ctx.hashes,
      c.kind == Caller::Kind::kDevice ? req.peer_address + '|' + lower : req.peer_address,
      (c.kind == Caller::Kind::kAccount ? "account:" : "device:") + lower,
      c.secret,
      {},
      [this] { return !ctx.stopping; }};
  service::Admission admission;
  try {
    auto op = service::run_attempt(run, step);
    admission = co_await std::move(op);
  } catch (const std::exception& e) {
    spdlog::error("http {}: login lookup failed: {}", req.peer_address, e.what());
    co_return error_response(500, "internal error");
  }
  if (auto refused = login_refusal(admission, login.status, req.peer_address, c.name)) {
    co_return std::move(*refused);
  }
  if (c.kind == Caller::Kind::kDevice) login.caller.auth = c.secret;
  out = std::move(login.caller);
  co_return std::nullopt;
}

std::optional<Response> Api::Impl::apply_directory(Caller& caller) {
  const auto dir = ctx.directory.get();
  if (auto it = dir->account_disabled.find(caller.who.account_id);
      it != dir->account_disabled.end() && it->second) {
    return error_response(403, "device or account disabled");
  }
  if (!caller.who.device_id.empty()) {
    if (const auto* info = dir->find(caller.who.device_id)) {
      if (info->disabled) return error_response(403, "device or account disabled");
      caller.who.perm = info->perm;
      caller.who.controls = info->controls;
    }
  }
  return std::nullopt;
}

asio::awaitable<Response> Api::handle(const Request& req) {
  // Cross-origin requests (http/cors.hpp): only requests with an Origin, which browsers send
  // and other clients do not, read the setting.
  std::shared_ptr<const std::vector<std::string>> cors;
  if (req.header("Origin")) {
    cors = impl_->ctx.live.cors_origins.get();
    if (auto preflight = cors_preflight(*cors, req)) co_return std::move(*preflight);
  }
  auto op = impl_->respond(req);
  Response res = co_await std::move(op);
  if (cors) add_cors_headers(*cors, req, res);
  co_return res;
}

asio::awaitable<Response> Api::Impl::respond(const Request& req) {
  auto target = split_target(req.target);
  if (!target) co_return error_response(400, "malformed request target");
  std::string method = req.method;
  if (method == "POST") {
    // Clients that can only POST (or must, behind proxies) send PATCH and DELETE this way.
    if (const std::string* o = req.header("X-HTTP-Method-Override")) method = upper(*o);
  }
  Call call{ctx, req, *target, std::move(method), {}, false};
  try {
    auto op = route(call);
    co_return co_await std::move(op);
  } catch (const std::exception& e) {
    if (auto t = platform::throttle_log("http request failed", req.peer_address)) {
      spdlog::error("http {}: {} {}: {}{}", req.peer_address, call.method, req.target, e.what(),
                    t->suffix());
    }
    co_return error_response(500, "internal error");
  }
}

asio::awaitable<std::optional<Response>> Api::Impl::require_auth(Call& call) {
  auto op = authenticate(call);
  auto refused = co_await std::move(op);
  if (refused) co_return refused;
  if (call.caller.kind == Caller::Kind::kNone) co_return detail::need_auth();
  co_return std::nullopt;
}

asio::awaitable<Response> Api::Impl::route(Call& call) {
  // Picks the handler (and whether it needs credentials); awaited below, once, so that no
  // awaitable temporary sits inside a co_await expression (GCC 12 destroys those twice).
  std::function<asio::awaitable<Response>()> handler;
  bool needs_auth = true;
  std::optional<Response> early = pick(call, handler, needs_auth);
  if (early) co_return std::move(*early);
  if (needs_auth) {
    auto check = require_auth(call);
    auto refused = co_await std::move(check);
    if (refused) co_return std::move(*refused);
  }
  auto op = handler();
  co_return co_await std::move(op);
}

std::optional<Response> Api::Impl::pick(Call& call,
                                        std::function<asio::awaitable<Response>()>& handler,
                                        bool& needs_auth) {
  constexpr std::string_view kPrefix = "/iot/";
  const std::string& path = call.target.path;
  // Outside /iot/: GET only, and no API credentials (/metrics checks its own, metrics.cpp).
  using Get = asio::awaitable<Response> (*)(Call&);
  for (const auto& [p, get] : {std::pair<const char*, Get>{"/health", &detail::get_health},
                               std::pair<const char*, Get>{"/metrics", &detail::get_metrics}}) {
    if (path != p) continue;
    if (call.method != "GET") {
      Response r = error_response(405, "method not allowed; allowed: GET");
      r.headers.emplace_back("Allow", "GET");
      return r;
    }
    needs_auth = false;
    handler = [&call, get] { return get(call); };
    return std::nullopt;
  }
  if (!path.starts_with(kPrefix)) return error_response(404, "no such resource");
  const std::string_view rest = std::string_view(path).substr(kPrefix.size());
  const auto slash = rest.find('/');
  const std::string_view resource = rest.substr(0, slash);
  const bool has_tail = slash != std::string_view::npos;
  const std::string_view tail = has_tail ? rest.substr(slash + 1) : std::string_view{};
  const std::string& m = call.method;

  auto not_allowed = [](const char* allow) {
    Response r = error_response(405, std::string("method not allowed; allowed: ") + allow);
    r.headers.emplace_back("Allow", allow);
    return r;
  };

  if (resource == "device") {
    if (!has_tail || tail.empty()) {
      // The enrollment calls authenticate only when they need to.
      detail::Authenticate auth = [this](Call& c) { return authenticate(c); };
      if (m == "POST") {
        needs_auth = false;
        handler = [&call, auth] { return detail::post_device(call, auth); };
      } else if (m == "PUT") {
        needs_auth = false;
        handler = [&call, auth] { return detail::put_device(call, auth); };
      } else if (m == "DELETE") {
        handler = [&call] { return detail::delete_devices(call); };
      } else {
        return not_allowed("POST, PUT, DELETE");
      }
      return std::nullopt;
    }
    const auto sep = tail.find('/');
    auto decoded = percent_decode(tail.substr(0, sep));
    if (!decoded) return error_response(400, "malformed request target");
    std::string id = std::move(*decoded);
    if (sep == std::string_view::npos) {
      if (m == "GET") {
        handler = [&call, id] { return detail::get_device(call, id); };
      } else if (m == "PATCH") {
        handler = [&call, id] { return detail::patch_device(call, id); };
      } else if (m == "DELETE") {
        handler = [&call, id] { return detail::release_things(call, id); };
      } else {
        return not_allowed("GET, PATCH, DELETE");
      }
      return std::nullopt;
    }
    auto prop = percent_decode(tail.substr(sep + 1));
    if (!prop) return error_response(400, "malformed request target");
    std::optional<std::string> name;
    if (!prop->empty()) name = std::move(*prop);
    if (m == "GET") {
      handler = [&call, id, name] { return detail::get_props(call, id, name); };
    } else if (m == "PATCH") {
      handler = [&call, id, name] { return detail::patch_props(call, id, name); };
    } else if (m == "DELETE" && name) {
      handler = [&call, id, n = *name] { return detail::delete_prop(call, id, n); };
    } else {
      return not_allowed(name ? "GET, PATCH, DELETE" : "GET, PATCH");
    }
    return std::nullopt;
  }

  if (resource == "auth") {
    // DELETE /iot/auth/ID: the account ends every auth code of its device ID (SPEC 5).
    auto id = percent_decode(tail);
    if (!id || id->empty() || id->find('/') != std::string::npos) {
      return error_response(404, "no such resource; DELETE /iot/auth/DEVICE_ID");
    }
    if (m != "DELETE") return not_allowed("DELETE");
    handler = [&call, id = std::move(*id)] { return detail::delete_auth(call, id); };
    return std::nullopt;
  }

  if (resource == "data" || resource == "channel") {
    // The mask is the whole rest of the path: its '/' separate levels, and "%2F" is one too.
    auto decoded = percent_decode(tail);
    if (!decoded) return error_response(400, "malformed request target");
    std::string mask = std::move(*decoded);
    if (resource == "channel") {
      if (m != "GET") return not_allowed("GET");
      mask = history_mask(std::move(mask));
      handler = [&call, mask] { return detail::get_channels(call, mask); };
      return std::nullopt;
    }
    if (m == "PUT") {
      std::optional<std::string> channel;
      if (!mask.empty()) channel = mask;
      handler = [&call, channel] { return detail::put_data(call, channel); };
      return std::nullopt;
    }
    mask = history_mask(std::move(mask));
    if (m == "GET") {
      handler = [&call, mask] { return detail::get_data(call, mask); };
    } else if (m == "DELETE") {
      handler = [&call, mask] { return detail::delete_data(call, mask); };
    } else {
      return not_allowed("GET, PUT, DELETE");
    }
    return std::nullopt;
  }
  return error_response(404, "no such resource");
}

}  // namespace plugmq::http
