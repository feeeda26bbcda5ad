#include "plugmq/store/identity.hpp"

#include <map>

#include "auth_codes.hpp"
#include "device_rows.hpp"
#include "expected.hpp"
#include "plugmq/platform/crypto.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/topic.hpp"

namespace plugmq::store {
namespace {

using detail::check_name;
using detail::kMaxName;
using platform::DeviceKind;
using platform::lower_ascii;
using platform::PermFilter;

constexpr std::string_view kAccountColumns = "id, email, retention_days, disabled, created_at";
constexpr std::string_view kDeviceColumns =
    "id, account_id, kind, name, hwid, model, perm, status, last_client_id, created_at, "
    "last_seen, online, auth_revoked";

[[noreturn]] void invalid(const std::string& msg) { throw Error(Error::Code::kInvalid, msg); }

// Emails are login names (the MQTT username with '@'), not delivery addresses: the check is
// only what keeps them unambiguous.
void check_email(std::string_view email) {
  const auto at = email.find('@');
  const bool ok = email.size() >= 3 && email.size() <= 254 && at != std::string_view::npos &&
                  at != 0 && at != email.size() - 1 &&
                  email.find('@', at + 1) == std::string_view::npos;
  if (!ok) invalid("email must be 3..254 bytes with one '@' (got \"" + std::string(email) + "\")");
  if (!platform::valid_utf8(email)) invalid("email must be UTF-8");
  for (char c : email) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) invalid("email must not contain spaces or control characters");
  }
}

void check_password(std::string_view password) {
  if (!platform::valid_secret(password)) invalid("password must be 4..128 bytes");
}

void check_retention(int days) {
  if (days < 0) invalid("retention_days must be >= 0 (0 = keep forever)");
}

void check_status(std::string_view status) {
  if (status != "ok" && status != "disabled" && status != "reactivate") {
    invalid("status must be ok, disabled or reactivate (got \"" + std::string(status) + "\")");
  }
}

// Column order: kAccountColumns.
Account read_account(const Stmt& s) {
  Account a;
  a.id = s.text(0);
  a.email = s.text(1);
  a.retention_days = static_cast<int>(s.int64(2));
  a.disabled = s.int64(3) != 0;
  a.created_at = s.int64(4);
  return a;
}

// Column order: kDeviceColumns.
Device read_device(const Stmt& s) {
  Device d;
  d.id = s.text(0);
  d.account_id = s.text(1);
  const std::string kind = s.text(2);
  auto k = platform::device_kind_from_string(kind);
  if (!k) throw Error(Error::Code::kDb, "device " + d.id + " has an unknown kind \"" + kind + "\"");
  d.kind = *k;
  d.name = s.text(3);
  d.hwid = s.text(4);
  d.model = s.text(5);
  // We wrote it, so it parses; should it not, fail closed (no reads, no writes of others).
  auto perm = platform::perm_from_json(s.text(6), platform::default_perm(d.kind));
  d.perm = perm ? *perm : PermFilter{std::vector<std::string>{}, std::vector<std::string>{}, ""};
  d.status = s.text(7);
  d.last_client_id = s.text(8);
  d.created_at = s.int64(9);
  d.last_seen = s.int64(10);
  d.online = s.int64(11) > 0;
  d.auth_revoked = s.int64(12);
  return d;
}

// A hash with the current parameters of a secret nobody knows: unknown emails are checked
// against it so they take as long as wrong passwords (no user enumeration by timing).
const std::string& dummy_hash() {
  static const std::string hash = platform::hash_secret(platform::random_hex(16));
  return hash;
}

}  // namespace

// ---- shared device rows (device_rows.hpp) ------------------------------------------------

namespace detail {

void check_name(std::string_view name) {
  // Free text, but bounded and UTF-8 so every JSON output can carry it.
  if (name.size() > kMaxName || !platform::valid_utf8(name)) {
    invalid("name must be at most 256 bytes of UTF-8");
  }
}

NewDevice insert_device(Db& db, Device d) {
  d.id = platform::new_plug_id(platform::IdKind::kDevice);
  d.status = "ok";
  d.last_client_id.clear();
  d.created_at = platform::now_ms();
  d.controls.clear();
  NewDevice nd{std::move(d), platform::new_auth_code()};
  const Device& n = nd.device;
  auto s = db.prepare(
      "INSERT INTO devices (id, account_id, kind, name, hwid, model, perm, status, auth_hash, "
      "last_client_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'ok', ?8, '', ?9)");
  s.bind(1, n.id).bind(2, n.account_id).bind(3, platform::to_string(n.kind));
  s.bind(4, n.name).bind(5, n.hwid).bind(6, n.model).bind(7, platform::to_json(n.perm));
  s.bind(8, platform::sha256_hex(nd.auth)).bind(9, n.created_at);
  s.step();
  return nd;
}

std::vector<std::string> controls_of(Db& db, const std::string& controller_id) {
  // rowid breaks ties between things added in the same millisecond, in insertion order.
  auto s = db.prepare(
      "SELECT thing_id FROM controls WHERE controller_id = ?1 ORDER BY created_at, rowid");
  s.bind(1, controller_id);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.text(0));
  return out;
}

}  // namespace detail

// ---- accounts ----------------------------------------------------------------------------

Result<Account> Identity::add_account(std::string_view email, std::string_view password,
                                      int retention_days) {
  return detail::as_result([&] {
    const std::string mail = lower_ascii(email);
    check_email(mail);
    check_password(password);
    check_retention(retention_days);

    Account a;
    a.id = platform::new_plug_id(platform::IdKind::kAccount);
    a.email = mail;
    a.retention_days = retention_days;
    a.created_at = platform::now_ms();
    auto s = db_.prepare(
        "INSERT INTO accounts (id, email, password_hash, retention_days, disabled, created_at) "
        "VALUES (?1, ?2, ?3, ?4, 0, ?5)");
    s.bind(1, a.id).bind(2, a.email).bind(3, platform::hash_secret(password));
    s.bind(4, a.retention_days).bind(5, a.created_at);
    try {
      s.step();
    } catch (const Error& e) {
      if (e.code() == Error::Code::kExists) {
        throw Error(Error::Code::kExists, "account " + mail + " already exists");
      }
      throw;
    }
    return a;
  });
}

Result<Account> Identity::set_account(std::string_view email,
                                      const std::optional<std::string>& password,
                                      std::optional<int> retention_days,
                                      std::optional<bool> disabled) {
  return detail::as_result([&] {
    const std::string mail = lower_ascii(email);
    if (password) check_password(*password);
    if (retention_days) check_retention(*retention_days);

    std::optional<std::string> hash;
    if (password) hash = platform::hash_secret(*password);
    std::optional<std::int64_t> days, off;
    if (retention_days) days = *retention_days;
    if (disabled) off = *disabled ? 1 : 0;

    auto s = db_.prepare(
        "UPDATE accounts SET password_hash = coalesce(?1, password_hash), "
        "retention_days = coalesce(?2, retention_days), disabled = coalesce(?3, disabled) "
        "WHERE email = ?4");
    s.bind(1, hash).bind(2, days).bind(3, off).bind(4, mail);
    s.step();
    if (db_.changes() == 0) {
      throw Error(Error::Code::kNotFound, "no account with email " + mail);
    }
    auto a = account_by_email(mail);
    if (!a) throw Error(Error::Code::kNotFound, "no account with email " + mail);
    return *a;
  });
}

std::optional<Account> Identity::account_by_email(std::string_view email) {
  auto s =
      db_.prepare("SELECT " + std::string(kAccountColumns) + " FROM accounts WHERE email = ?1");
  s.bind(1, lower_ascii(email));
  if (!s.step()) return std::nullopt;
  return read_account(s);
}

std::optional<Account> Identity::account_by_id(std::string_view id) {
  auto norm = platform::normalize_plug_id(id, platform::IdKind::kAccount);
  if (!norm) return std::nullopt;
  auto s = db_.prepare("SELECT " + std::string(kAccountColumns) + " FROM accounts WHERE id = ?1");
  s.bind(1, *norm);
  if (!s.step()) return std::nullopt;
  return read_account(s);
}

std::vector<Account> Identity::accounts() {
  auto s = db_.prepare("SELECT " + std::string(kAccountColumns) +
                       " FROM accounts ORDER BY created_at, id");
  std::vector<Account> out;
  while (s.step()) out.push_back(read_account(s));
  return out;
}

AccountLogin Identity::check_account_login(std::string_view email, const Secret& password) {
  AccountLogin out;
  auto s = db_.prepare("SELECT " + std::string(kAccountColumns) +
                       ", password_hash FROM accounts WHERE email = ?1");
  s.bind(1, lower_ascii(email));
  const bool found = s.step();
  const std::string stored = found ? s.text(5) : dummy_hash();
  switch (match_secret(password, stored)) {
    case SecretMatch::kNeedsCheck:
      out.status = LoginStatus::kNeedsCheck;
      out.check_hash = stored;
      return out;
    case SecretMatch::kNo:
      return out;
    case SecretMatch::kYes:
      break;
  }
  if (!found) return out;
  out.account = read_account(s);
  // Only a caller with the right password learns that the account is disabled.
  out.status = out.account.disabled ? LoginStatus::kDisabled : LoginStatus::kOk;
  return out;
}

// ---- devices -----------------------------------------------------------------------------

DeviceLogin Identity::check_device_login(std::string_view plug_id, const Secret& auth) {
  DeviceLogin out;
  auto id = platform::normalize_plug_id(plug_id, platform::IdKind::kDevice);
  if (!id) return out;
  auto s = db_.prepare(
      "SELECT d.id, d.account_id, d.kind, d.name, d.hwid, d.model, d.perm, d.status, "
      "d.last_client_id, d.created_at, d.last_seen, d.online, d.auth_revoked, d.auth_hash, "
      "d.earlier_auth, a.disabled "
      "FROM devices d JOIN accounts a ON a.id = d.account_id WHERE d.id = ?1");
  s.bind(1, *id);
  if (!s.step()) return out;
  // A device's stored credential: the SHA-256 of a server-generated auth code, or (a prototype
  // created with a password of its own) a slow hash; a controller enrolled several times also
  // has its earlier codes' (auth_codes.hpp), looked at only when the current one is not it.
  switch (match_secret(auth, s.text(13))) {
    case SecretMatch::kNeedsCheck:
      out.status = LoginStatus::kNeedsCheck;
      out.check_hash = s.text(13);
      return out;
    case SecretMatch::kNo:
      if (!detail::matches_earlier(auth, s.text_view(14))) return out;
      break;
    case SecretMatch::kYes:
      break;
  }
  out.device = read_device(s);
  const bool account_disabled = s.int64(15) != 0;
  if (out.device.kind == DeviceKind::kController) {
    out.device.controls = detail::controls_of(db_, out.device.id);
  }
  // "reactivate" still logs in: it only allows the thing to enroll again.
  out.status = out.device.status == "disabled" || account_disabled ? LoginStatus::kDisabled
                                                                   : LoginStatus::kOk;
  return out;
}

Result<NewDevice> Identity::add_prototype(std::string_view account_id, std::string_view name,
                                          std::string_view hwid,
                                          std::optional<std::string_view> pass) {
  return detail::as_result([&] {
    if (!hwid.empty() && !platform::valid_hwid(hwid)) {
      invalid("hwid must be 1..128 bytes of UTF-8 without '/', '+', '#' or control characters");
    }
    check_name(name);
    if (pass) check_password(*pass);
    auto account = account_by_id(account_id);
    if (!account) throw Error(Error::Code::kNotFound, "no account " + std::string(account_id));

    Device d;
    d.account_id = account->id;
    d.kind = DeviceKind::kPrototype;
    d.name = std::string(name);
    d.hwid = std::string(hwid);
    d.perm = platform::default_perm(DeviceKind::kPrototype);
    NewDevice nd = detail::insert_device(db_, std::move(d));
    if (pass) {
      // A password a person chose: a slow salted hash, like the account passwords.
      auto s = db_.prepare("UPDATE devices SET auth_hash = ?1 WHERE id = ?2");
      s.bind(1, platform::hash_secret(*pass)).bind(2, nd.device.id);
      s.step();
      nd.auth = std::string(*pass);
    }
    return nd;
  });
}

bool Identity::delete_device(std::string_view plug_id) {
  auto id = platform::normalize_plug_id(plug_id, platform::IdKind::kDevice);
  if (!id) return false;
  // The schema's foreign keys do the rest: its properties and controls go, a thing's serial
  // becomes free to enroll again. Its data records stay: see DataStore::delete_of.
  auto s = db_.prepare("DELETE FROM devices WHERE id = ?1");
  s.bind(1, *id);
  s.step();
  return db_.changes() > 0;
}

std::optional<Device> Identity::device(std::string_view plug_id) {
  auto id = platform::normalize_plug_id(plug_id, platform::IdKind::kDevice);
  if (!id) return std::nullopt;
  auto s = db_.prepare("SELECT " + std::string(kDeviceColumns) + " FROM devices WHERE id = ?1");
  s.bind(1, *id);
  if (!s.step()) return std::nullopt;
  Device d = read_device(s);
  if (d.kind == DeviceKind::kController) d.controls = detail::controls_of(db_, d.id);
  return d;
}

std::vector<Device> Identity::devices(const std::optional<std::string>& account_id) {
  std::vector<Device> out;
  std::string sql = "SELECT " + std::string(kDeviceColumns) + " FROM devices";
  std::optional<std::string> account;
  if (account_id) {
    account = platform::normalize_plug_id(*account_id, platform::IdKind::kAccount);
    if (!account) return out;  // no device belongs to a malformed account id
    sql += " WHERE account_id = ?1";
  }
  sql += " ORDER BY created_at, id";
  auto s = db_.prepare(sql);
  if (account) s.bind(1, *account);
  std::map<std::string, std::size_t> controllers;  // id -> index in out
  while (s.step()) {
    out.push_back(read_device(s));
    if (out.back().kind == DeviceKind::kController) controllers[out.back().id] = out.size() - 1;
  }
  if (controllers.empty()) return out;
  // One pass over the pairs rather than a query per controller.
  auto c = db_.prepare("SELECT controller_id, thing_id FROM controls ORDER BY created_at, rowid");
  while (c.step()) {
    auto it = controllers.find(c.text(0));
    if (it != controllers.end()) out[it->second].controls.push_back(c.text(1));
  }
  return out;
}

Result<Device> Identity::set_device(std::string_view plug_id,
                                    const std::optional<platform::PermFilter>& perm,
                                    const std::optional<std::string>& status,
                                    const std::optional<std::string>& name) {
  return detail::as_result([&] {
    if (status) check_status(*status);
    if (name) check_name(*name);
    if (perm && perm->ctrl != "rw" && perm->ctrl != "r" && !perm->ctrl.empty()) {
      invalid("perm: ctrl must be \"rw\", \"r\" or \"\"");
    }
    auto id = platform::normalize_plug_id(plug_id, platform::IdKind::kDevice);
    if (!id) throw Error(Error::Code::kNotFound, "no device " + std::string(plug_id));

    std::optional<std::string> perm_json;
    if (perm) perm_json = platform::to_json(*perm);
    auto s = db_.prepare(
        "UPDATE devices SET perm = coalesce(?1, perm), status = coalesce(?2, status), "
        "name = coalesce(?3, name) WHERE id = ?4");
    s.bind(1, perm_json).bind(2, status).bind(3, name).bind(4, *id);
    s.step();
    if (db_.changes() == 0) {
      throw Error(Error::Code::kNotFound, "no device " + *id);
    }
    auto d = device(*id);
    if (!d) throw Error(Error::Code::kNotFound, "no device " + *id);
    return *d;
  });
}

void Identity::record_login(std::string_view plug_id, std::string_view client_id,
                            std::string_view name, std::int64_t at_ms) {
  auto id = platform::normalize_plug_id(plug_id, platform::IdKind::kDevice);
  if (!id) return;
  // A bad NAME (or client id) is ignored rather than failing the login; the codec already
  // checked both are UTF-8, this only keeps the table clean for other callers.
  if (name.size() > kMaxName || !platform::valid_utf8(name)) name = {};
  if (!platform::valid_utf8(client_id)) client_id = {};
  auto s = db_.prepare(
      "UPDATE devices SET last_client_id = ?1, "
      "name = CASE WHEN name = '' AND ?2 <> '' THEN ?2 ELSE name END, "
      "online = online + 1, last_seen = ?4 WHERE id = ?3");
  s.bind(1, client_id).bind(2, name).bind(3, *id).bind(4, at_ms);
  s.step();
}

void Identity::record_logout(std::string_view plug_id, std::int64_t at_ms) {
  auto id = platform::normalize_plug_id(plug_id, platform::IdKind::kDevice);
  if (!id) return;
  auto s =
      db_.prepare("UPDATE devices SET online = max(online - 1, 0), last_seen = ?2 WHERE id = ?1");
  s.bind(1, *id).bind(2, at_ms);
  s.step();
}

std::int64_t Identity::all_devices_offline(std::int64_t now_ms) {
  auto s = db_.prepare("UPDATE devices SET online = 0, last_seen = ?1 WHERE online != 0");
  s.bind(1, now_ms);
  s.step();
  return db_.changes();
}

}  // namespace plugmq::store
