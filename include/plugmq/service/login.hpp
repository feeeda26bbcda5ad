// MQTT logins (SPEC 3) as a use case: the credentials of a CONNECT checked against the store
// within the login limits (service/attempt.hpp), with people's passwords hashed on the
// HashPool; the principal the session then acts as. The session keeps the protocol (the
// CONNACK table, its registry key, its will).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "plugmq/platform/permissions.hpp"
#include "plugmq/service/attempt.hpp"
#include "plugmq/service/context.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::service {

// How a login went; every refusal is the client's to hear except kAbandoned.
enum class LoginOutcome : std::uint8_t {
  kOk,
  kBadCredentials,  // unknown name or wrong secret
  kDisabled,        // the device or its account is disabled
  kLimited,         // too many failed logins from this address or for this identity
  kBusy,            // too many password checks queued
  kAbandoned,       // the caller went away while it waited (nothing counted)
  kError,           // the store failed (`error` says why)
};

// The outcome of a login attempt (service/attempt.hpp) from its admission and, when its
// steps decided (kChecked), the store's status. MQTT and HTTP map it to their replies.
LoginOutcome login_outcome(Admission admission, store::LoginStatus status);

struct LoginRequest {
  std::string user;     // a Plug-ID (a device) or an email (an account: it holds '@')
  std::string pass;     // never logged
  std::string address;  // the client's, without the port: the limits' key
  // Called before the attempt waits (for a place in a limit or a password check); may be empty.
  std::function<void()> on_wait = {};
  // Whether the login is still wanted after a wait; empty: always.
  std::function<bool()> wanted = {};

  bool account() const { return user.find('@') != std::string::npos; }
};

struct Login {
  LoginOutcome outcome = LoginOutcome::kError;
  // With kOk: who the session acts as (a device: the directory's copy when it agrees with the
  // store, so that an idle fleet's sessions hold no permissions of their own).
  std::shared_ptr<const platform::Principal> principal;
  std::string error;  // with kError
};

// Checks `req` on the store thread, the directory refreshed first when another process changed
// the database: a device's auth code in one store task, within its place per (address, device)
// and with no wait; an account's or a prototype's password through the two-step check.
// REQUIRES: `req` outlives the await.
boost::asio::awaitable<Login> login(Context& ctx, const LoginRequest& req);

// Device `d` as a principal: the directory's copy when it agrees with `d`, else `d`'s own
// (moved from).
std::shared_ptr<const platform::Principal> device_principal(Context& ctx, store::Device& d);

}  // namespace plugmq::service
