// Accounts and devices: the identity repository (SPEC 1, 3, 6, 8).
//
// Secrets are never stored in clear: account passwords with platform::hash_secret, device
// auth codes with platform::sha256_hex. Expected failures are Result values ("Fails with");
// every function throws Error only when the database is busy or fails (kBusy, kDb). Not
// thread-safe: one Identity per Db, per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugmq/platform/permissions.hpp"
#include "plugmq/store/db.hpp"
#include "plugmq/store/errc.hpp"
#include "plugmq/store/secret.hpp"

namespace plugmq::store {

inline constexpr int kDefaultRetentionDays = 30;

struct Account {
  std::string id;  // "com-…"
  std::string email;
  int retention_days = kDefaultRetentionDays;  // 0 = forever
  bool disabled = false;
  std::int64_t created_at = 0;  // ms
};

struct Device {
  std::string id;  // "dev-…"
  std::string account_id;
  platform::DeviceKind kind = platform::DeviceKind::kPrototype;
  std::string name;
  std::string hwid;
  std::string model;  // "mod-…" for things and controllers, empty for prototypes
  platform::PermFilter perm;
  std::string status = "ok";  // "ok", "disabled", "reactivate"
  std::string last_client_id;
  std::int64_t created_at = 0;  // ms
  // As the server last recorded them (record_login, record_logout): when the device last
  // logged in or disconnected (ms; 0: never), and whether a connection of it is open.
  std::int64_t last_seen = 0;
  bool online = false;
  // How many times all its auth codes were revoked (revoke_auth): a session that logged in
  // under a lower count holds a revoked code.
  std::int64_t auth_revoked = 0;
  // Controllers: the things they control, oldest first (Identity::device(), devices() and
  // check_device_login() fill it). Empty for other kinds.
  std::vector<std::string> controls;
};

// A device just created, with its auth code in clear (shown once, never stored).
struct NewDevice {
  Device device;
  std::string auth;
};

// What an account holds, for `plugmq account list` and before its deletion.
struct AccountCounts {
  std::int64_t devices = 0;
  std::int64_t templates = 0;
  std::int64_t serials = 0;   // registered in its templates
  std::int64_t sessions = 0;  // persistent sessions of the account and of its devices
};

// An account deleted, with what went with it: its devices (their Plug-IDs, whose records the
// caller deletes with DataStore::delete_of) and the counts before the deletion.
struct DeletedAccount {
  Account account;
  std::vector<std::string> devices;
  AccountCounts counts;
};

// kNeedsCheck: the secret was offered deferred and is to be checked against check_hash off the
// store thread, then offered again verified (store/secret.hpp).
enum class LoginStatus { kOk, kBadCredentials, kDisabled, kNeedsCheck };

struct AccountLogin {
  LoginStatus status = LoginStatus::kBadCredentials;
  Account account;         // valid when kOk
  std::string check_hash;  // kNeedsCheck
};

struct DeviceLogin {
  LoginStatus status = LoginStatus::kBadCredentials;
  Device device;           // valid when kOk
  std::string check_hash;  // kNeedsCheck
};

class Identity {
 public:
  explicit Identity(Db& db) : db_(db) {}

  // Emails are compared case-insensitively and stored lowercase. Fails with kInvalid for a
  // malformed email (needs one '@', 3..254 bytes), a password outside 4..128 bytes or a
  // negative retention; kExists when the email is taken.
  Result<Account> add_account(std::string_view email, std::string_view password,
                              int retention_days = kDefaultRetentionDays);

  // Changes the given fields. Fails with kNotFound / kInvalid.
  Result<Account> set_account(std::string_view email, const std::optional<std::string>& password,
                              std::optional<int> retention_days, std::optional<bool> disabled);

  std::optional<Account> account_by_email(std::string_view email);
  std::optional<Account> account_by_id(std::string_view id);
  std::vector<Account> accounts();

  // What the account holds (`account_id` as stored: "com-…" lowercase); zeros for none.
  AccountCounts account_counts(std::string_view account_id);

  // Deletes the account and, in the same transaction, everything of it: its devices (with
  // their properties, controls, retained messages and sessions), its templates and their
  // serials, its own sessions. Its devices' data records stay until DataStore::delete_of
  // removes them (see delete_device). Fails with kNotFound.
  Result<DeletedAccount> delete_account(std::string_view email);

  // kBadCredentials for an unknown email or wrong password, kDisabled for a disabled account
  // with the right password. A deferred password gets kNeedsCheck, for an unknown email too
  // (against a hash nobody knows the secret of): both then cost the same time.
  AccountLogin check_account_login(std::string_view email, const Secret& password);

  // kBadCredentials for an unknown or malformed Plug-ID or wrong auth code; kDisabled when the
  // device's status is "disabled" or its account is disabled. Plug-ID case-insensitive. A
  // prototype with a password of its own gets kNeedsCheck for a deferred one.
  DeviceLogin check_device_login(std::string_view plug_id, const Secret& auth);

  // Creates a prototype (default permissions) in the account. `hwid` may be empty; when set
  // it must be a valid HWID. With `pass` (4..128 bytes), that password is the device's auth
  // code (stored as a slow salted hash, as it is a person's choice) instead of a generated one.
  // Fails with kNotFound (account) / kInvalid.
  Result<NewDevice> add_prototype(std::string_view account_id, std::string_view name,
                                  std::string_view hwid = {},
                                  std::optional<std::string_view> pass = std::nullopt);

  // Deletes a device (unenroll): with it go its properties and the controls to or from it; a
  // thing's serial can enroll again. Its data records stay until DataStore::delete_of removes
  // them. False when there was no such device.
  bool delete_device(std::string_view plug_id);

  std::optional<Device> device(std::string_view plug_id);  // case-insensitive
  // All devices, or those of one account, oldest first.
  std::vector<Device> devices(const std::optional<std::string>& account_id = std::nullopt);

  // Changes the given fields. `status` must be "ok", "disabled" or "reactivate". Fails with
  // kNotFound / kInvalid.
  Result<Device> set_device(std::string_view plug_id,
                            const std::optional<platform::PermFilter>& perm,
                            const std::optional<std::string>& status,
                            const std::optional<std::string>& name);

  // Gives the device a new auth code, generated (a prototype's own password goes too), and
  // returns it in clear with the device: the old code (and a controller's earlier ones) is
  // refused from the next login on. Fails with kNotFound.
  Result<NewDevice> new_auth(std::string_view plug_id);

  // Ends every auth code of the device (no login succeeds until new_auth() or, for a thing or a
  // controller, an enrollment gives it one) and counts it in Device::auth_revoked, so that a
  // server closes the connections that logged in before (SPEC 5). Fails with kNotFound.
  Result<Device> revoke_auth(std::string_view plug_id);

  // Records a login at `at_ms`: the client id last seen, `name` as the device's name when it
  // has none yet (empty `name` changes nothing), one more open connection and last_seen.
  void record_login(std::string_view plug_id, std::string_view client_id, std::string_view name,
                    std::int64_t at_ms);
  // Records that a connection recorded by record_login ended at `at_ms`: one open connection
  // fewer, and last_seen.
  void record_logout(std::string_view plug_id, std::int64_t at_ms);
  // Marks every device offline, seen at `now_ms` if it was online: a server starting (the one
  // before it may have been killed with devices connected) or stopping. Returns how many
  // changed.
  std::int64_t all_devices_offline(std::int64_t now_ms);

 private:
  Db& db_;
};

}  // namespace plugmq::store
