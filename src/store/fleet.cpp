#include "plugmq/store/fleet.hpp"

#include <algorithm>
#include <exception>
#include <future>
#include <map>
#include <thread>

#include "auth_codes.hpp"
#include "device_rows.hpp"
#include "expected.hpp"
#include "plugmq/platform/crypto.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::store {
using platform::EnrollOutcome;

namespace {

using platform::DeviceKind;
using platform::PermFilter;

constexpr std::string_view kTemplateColumns = "id, account_id, name, thing_perm, created_at";

[[noreturn]] void invalid(const std::string& msg) { throw Error(Error::Code::kInvalid, msg); }

}  // namespace

std::string detail::quote_for_message(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const bool utf8 = platform::valid_utf8(s);
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F || c == '"' || c == '\\' || (c >= 0x80 && !utf8)) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

namespace {

using detail::quote_for_message;

void check_perm(const PermFilter& p) {
  if (p.ctrl != "rw" && p.ctrl != "r" && !p.ctrl.empty()) {
    invalid("thing perm: ctrl must be \"rw\", \"r\" or \"\"");
  }
}

// Column order: kTemplateColumns.
Template read_template(const Stmt& s) {
  Template t;
  t.id = s.text(0);
  t.account_id = s.text(1);
  t.name = s.text(2);
  // We wrote it, so it parses; should it not, its things get nothing (fail closed).
  auto perm = platform::perm_from_json(s.text(3), platform::default_perm(DeviceKind::kThing));
  t.thing_perm =
      perm ? *perm : PermFilter{std::vector<std::string>{}, std::vector<std::string>{}, ""};
  t.created_at = s.int64(4);
  return t;
}

// A serial checked and hashed, ready to insert.
struct HashedSerial {
  std::string hwid;
  std::string enroll_hash;
  std::optional<std::string> control_hash;
};

// Checks one spec; the message says what is wrong (the caller names the HWID), never the
// secret itself.
void check_spec(const SerialSpec& spec) {
  if (!platform::valid_hwid(spec.hwid)) {
    invalid("hwid must be 1..128 bytes of UTF-8 without '/', '+', '#' or control characters");
  }
  if (!platform::valid_secret(spec.enroll_pass)) invalid("enroll password must be 4..128 bytes");
  if (spec.control_pass && !platform::valid_secret(*spec.control_pass)) {
    invalid("control password must be 4..128 bytes");
  }
}

HashedSerial hash_spec(const SerialSpec& spec) {
  HashedSerial h{spec.hwid, platform::hash_secret(spec.enroll_pass), std::nullopt};
  if (spec.control_pass) h.control_hash = platform::hash_secret(*spec.control_pass);
  return h;
}

// PBKDF2 is deliberately slow (tens of ms a secret), so a batch is hashed on every core, and
// before the write transaction: the server's writer must not wait behind our hashing.
std::vector<HashedSerial> hash_all(const std::vector<SerialSpec>& specs) {
  std::vector<HashedSerial> out(specs.size());
  const std::size_t workers = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 16);
  if (specs.size() < 4 || workers == 1) {
    for (std::size_t i = 0; i < specs.size(); ++i) out[i] = hash_spec(specs[i]);
    return out;
  }
  std::vector<std::future<void>> jobs;
  for (std::size_t w = 0; w < workers; ++w) {
    jobs.push_back(std::async(std::launch::async, [&, w] {
      for (std::size_t i = w; i < specs.size(); i += workers) out[i] = hash_spec(specs[i]);
    }));
  }
  for (auto& j : jobs) j.get();  // rethrows a worker's exception
  return out;
}

void insert_serial(Db& db, const std::string& model, const HashedSerial& h, std::int64_t now) {
  auto s = db.prepare(
      "INSERT INTO serials (model, hwid, enroll_hash, control_hash, thing_id, created_at) "
      "VALUES (?1, ?2, ?3, ?4, NULL, ?5)");
  s.bind(1, model).bind(2, h.hwid).bind(3, h.enroll_hash).bind(4, h.control_hash).bind(5, now);
  try {
    s.step();
  } catch (const Error& e) {
    if (e.code() == Error::Code::kExists) {
      throw Error(Error::Code::kExists, "already registered in " + model);
    }
    throw;
  }
}

// An enrollment refused: thrown inside a transaction to roll it back.
struct Refusal {
  EnrollOutcome outcome;
  std::string msg;
};

// The password was offered deferred and the stored hash is slow: the caller checks it first.
struct NeedsCheck {
  std::string hash;
};

// Throws Refusal{kWrongPassword, wrong} or NeedsCheck unless `pass` matches `stored`.
void check_pass(const Secret& pass, std::string_view stored, const char* wrong) {
  switch (match_secret(pass, stored)) {
    case SecretMatch::kYes:
      return;
    case SecretMatch::kNeedsCheck:
      throw NeedsCheck{std::string(stored)};
    case SecretMatch::kNo:
      throw Refusal{EnrollOutcome::kWrongPassword, wrong};
  }
}

EnrollResult refused(EnrollOutcome outcome, std::string msg) {
  EnrollResult r;
  r.outcome = outcome;
  r.msg = std::move(msg);
  return r;
}

// A device NAME from the client id: a bad one is ignored rather than failing the enrollment,
// as Identity::record_login does at login.
std::string usable_name(std::string_view name) {
  if (name.size() > detail::kMaxName || !platform::valid_utf8(name)) return {};
  return std::string(name);
}

// Runs an enrollment: a Refusal becomes its outcome; any other failure (database busy or
// broken) becomes kFailed, with the cause kept for the server's log, never for the device.
template <class F>
EnrollResult guarded(F&& fn) {
  try {
    return fn();
  } catch (const Refusal& r) {
    return refused(r.outcome, r.msg);
  } catch (NeedsCheck& n) {
    EnrollResult r;
    r.check_hash = std::move(n.hash);
    return r;
  } catch (const std::exception& e) {
    EnrollResult r = refused(EnrollOutcome::kFailed, "internal error");
    r.log_detail = e.what();
    return r;
  }
}

}  // namespace

// ---- templates ---------------------------------------------------------------------------

Result<Template> Fleet::add_template(std::string_view account_id, std::string_view name,
                                     const platform::PermFilter& thing_perm) {
  return detail::as_result([&] {
    detail::check_name(name);
    check_perm(thing_perm);
    Identity ids(db_);
    auto account = ids.account_by_id(account_id);
    if (!account) throw Error(Error::Code::kNotFound, "no account " + std::string(account_id));

    Template t;
    t.id = platform::new_plug_id(platform::IdKind::kModel);
    t.account_id = account->id;
    t.name = std::string(name);
    t.thing_perm = thing_perm;
    t.created_at = platform::now_ms();
    auto s = db_.prepare(
        "INSERT INTO templates (id, account_id, name, thing_perm, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    s.bind(1, t.id).bind(2, t.account_id).bind(3, t.name).bind(4, platform::to_json(t.thing_perm));
    s.bind(5, t.created_at);
    s.step();
    return t;
  });
}

std::optional<Template> Fleet::template_by_id(std::string_view model) {
  auto id = platform::normalize_plug_id(model, platform::IdKind::kModel);
  if (!id) return std::nullopt;
  auto s = db_.prepare("SELECT " + std::string(kTemplateColumns) + " FROM templates WHERE id = ?1");
  s.bind(1, *id);
  if (!s.step()) return std::nullopt;
  return read_template(s);
}

std::vector<Template> Fleet::templates(const std::optional<std::string>& account_id) {
  std::vector<Template> out;
  std::string sql = "SELECT " + std::string(kTemplateColumns) + " FROM templates";
  std::optional<std::string> account;
  if (account_id) {
    account = platform::normalize_plug_id(*account_id, platform::IdKind::kAccount);
    if (!account) return out;  // no template belongs to a malformed account id
    sql += " WHERE account_id = ?1";
  }
  sql += " ORDER BY created_at, id";
  auto s = db_.prepare(sql);
  if (account) s.bind(1, *account);
  while (s.step()) out.push_back(read_template(s));
  return out;
}

// ---- serials -----------------------------------------------------------------------------

Result<Serial> Fleet::add_serial(std::string_view model, const SerialSpec& spec) {
  return detail::as_result([&] {
    auto t = template_by_id(model);
    if (!t) throw Error(Error::Code::kNotFound, "no template " + std::string(model));
    Serial out;
    out.model = t->id;
    out.hwid = spec.hwid;
    out.control_enabled = spec.control_pass.has_value();
    out.created_at = platform::now_ms();
    try {
      check_spec(spec);
      insert_serial(db_, t->id, hash_spec(spec), out.created_at);
    } catch (const Error& e) {
      throw Error(e.code(), "hwid " + quote_for_message(spec.hwid) + ": " + e.what());
    }
    return out;
  });
}

Result<std::size_t> Fleet::add_serials(std::string_view model,
                                       const std::vector<SerialSpec>& specs) {
  return detail::as_result([&] {
    auto t = template_by_id(model);
    if (!t) throw Error(Error::Code::kNotFound, "no template " + std::string(model));
    auto where = [&](std::size_t i) {
      return "serial " + std::to_string(i + 1) + " of " + std::to_string(specs.size()) + " (hwid " +
             quote_for_message(specs[i].hwid) + "): ";
    };
    // Everything that can be checked without the database first, so a bad entry costs no
    // hashing; duplicates inside the batch too, for a message naming both positions.
    std::map<std::string_view, std::size_t> seen;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      try {
        check_spec(specs[i]);
      } catch (const Error& e) {
        throw Error(e.code(), where(i) + e.what());
      }
      auto [it, fresh] = seen.emplace(specs[i].hwid, i);
      if (!fresh) {
        throw Error(Error::Code::kExists, where(i) + "repeats serial " +
                                              std::to_string(it->second + 1) + " of the batch");
      }
    }
    const auto hashed = hash_all(specs);
    const std::int64_t now = platform::now_ms();
    db_.transaction([&] {
      for (std::size_t i = 0; i < hashed.size(); ++i) {
        try {
          insert_serial(db_, t->id, hashed[i], now);
        } catch (const Error& e) {
          throw Error(e.code(), where(i) + e.what());
        }
      }
    });
    return specs.size();
  });
}

std::vector<Serial> Fleet::serials(std::string_view model) {
  std::vector<Serial> out;
  auto id = platform::normalize_plug_id(model, platform::IdKind::kModel);
  if (!id) return out;
  auto s = db_.prepare(
      "SELECT model, hwid, control_hash IS NOT NULL, thing_id, created_at FROM serials "
      "WHERE model = ?1 ORDER BY created_at, rowid");
  s.bind(1, *id);
  while (s.step()) {
    Serial x;
    x.model = s.text(0);
    x.hwid = s.text(1);
    x.control_enabled = s.int64(2) != 0;
    if (!s.is_null(3)) x.thing_id = s.text(3);
    x.created_at = s.int64(4);
    out.push_back(std::move(x));
  }
  return out;
}

// ---- enrollment --------------------------------------------------------------------------

EnrollResult Fleet::enroll_thing(std::string_view model, std::string_view hwid, const Secret& pass,
                                 std::string_view name) {
  return guarded([&]() -> EnrollResult {
    auto model_id = platform::normalize_plug_id(model, platform::IdKind::kModel);
    if (!model_id) return refused(EnrollOutcome::kMalformed, "malformed model");
    if (!platform::valid_hwid(hwid)) return refused(EnrollOutcome::kMalformed, "malformed HWID");

    // The template, its account, the serial (NULL columns when not registered) and the thing
    // it enrolled (NULL when none).
    auto s = db_.prepare(
        "SELECT t.account_id, t.thing_perm, a.disabled, s.hwid, s.enroll_hash, d.id, d.status "
        "FROM templates t JOIN accounts a ON a.id = t.account_id "
        "LEFT JOIN serials s ON s.model = t.id AND s.hwid = ?2 "
        "LEFT JOIN devices d ON d.id = s.thing_id WHERE t.id = ?1");
    s.bind(1, *model_id).bind(2, hwid);
    if (!s.step()) return refused(EnrollOutcome::kUnknown, "unknown model");
    if (s.is_null(3))
      return refused(EnrollOutcome::kUnknown, "serial not registered in this model");
    const std::string account_id = s.text(0);
    const std::string perm_json = s.text(1);
    const bool account_disabled = s.int64(2) != 0;
    const std::string enroll_hash = s.text(4);
    const std::optional<std::string> thing_id =
        s.is_null(5) ? std::nullopt : std::optional<std::string>(s.text(5));
    const bool reactivate = thing_id && s.text(6) == "reactivate";
    // Ends the statement's read transaction: a write transaction begun on an older snapshot
    // than the latest commit fails at once with SQLITE_BUSY_SNAPSHOT, without waiting, and the
    // server's data writer commits many times during the password check.
    s.reset();
    check_pass(pass, enroll_hash, "wrong enroll password");
    if (thing_id && !reactivate) return refused(EnrollOutcome::kNotAllowed, "already enrolled");
    if (account_disabled) return refused(EnrollOutcome::kNotAllowed, "account disabled");

    EnrollResult r;
    const std::string new_name = usable_name(name);
    // The password check ran outside the write lock (it is slow); the conditional updates
    // below refuse when another enrollment of this serial won meanwhile.
    db_.transaction([&] {
      if (reactivate) {
        r.id = *thing_id;
        auto u = db_.prepare(
            "UPDATE devices SET status = 'ok', "
            "name = CASE WHEN name = '' AND ?1 <> '' THEN ?1 ELSE name END "
            "WHERE id = ?2 AND status = 'reactivate'");
        u.bind(1, new_name).bind(2, r.id);
        u.step();
        if (db_.changes() == 0) throw Refusal{EnrollOutcome::kNotAllowed, "already enrolled"};
        r.auth = detail::renew_auth(db_, r.id);
        return;
      }
      Device d;
      d.account_id = account_id;
      d.kind = DeviceKind::kThing;
      d.name = new_name;
      d.hwid = std::string(hwid);
      d.model = *model_id;
      auto perm = platform::perm_from_json(perm_json, platform::default_perm(DeviceKind::kThing));
      if (!perm) throw Error(Error::Code::kDb, "template " + *model_id + " has an unreadable perm");
      d.perm = *perm;
      NewDevice nd = detail::insert_device(db_, std::move(d));
      auto u = db_.prepare(
          "UPDATE serials SET thing_id = ?1 WHERE model = ?2 AND hwid = ?3 AND thing_id IS NULL");
      u.bind(1, nd.device.id).bind(2, *model_id).bind(3, hwid);
      u.step();
      if (db_.changes() == 0) throw Refusal{EnrollOutcome::kNotAllowed, "already enrolled"};
      r.id = nd.device.id;
      r.auth = std::move(nd.auth);
    });
    return r;
  });
}

using platform::EnrollOutcome;

namespace {

// What a controller needs to take control of a thing: the SPEC 5 checks shared by a controller's
// enrollment and by an enrolled controller adding a thing. Throws Refusal.
struct ControlGrant {
  std::string account_id;
  std::string thing_id;
};

ControlGrant check_control(Db& db, std::string_view model, std::string_view thing_hwid,
                           const Secret& pass) {
  auto model_id = platform::normalize_plug_id(model, platform::IdKind::kModel);
  if (!model_id) throw Refusal{EnrollOutcome::kMalformed, "malformed model"};
  if (!platform::valid_hwid(thing_hwid))
    throw Refusal{EnrollOutcome::kMalformed, "malformed thing HWID"};
  auto s = db.prepare(
      "SELECT t.account_id, a.disabled, s.hwid, s.control_hash, s.thing_id "
      "FROM templates t JOIN accounts a ON a.id = t.account_id "
      "LEFT JOIN serials s ON s.model = t.id AND s.hwid = ?2 WHERE t.id = ?1");
  s.bind(1, *model_id).bind(2, thing_hwid);
  if (!s.step()) throw Refusal{EnrollOutcome::kUnknown, "unknown model"};
  if (s.is_null(2)) throw Refusal{EnrollOutcome::kUnknown, "serial not registered in this model"};
  Identity ids(db);
  std::optional<Device> thing;
  if (!s.is_null(4)) thing = ids.device(s.text(4));
  if (!thing) throw Refusal{EnrollOutcome::kUnknown, "thing not enrolled yet"};
  if (s.is_null(3) || thing->perm.ctrl.empty())
    throw Refusal{EnrollOutcome::kNotAllowed, "control disabled"};
  if (thing->status == "disabled") throw Refusal{EnrollOutcome::kNotAllowed, "thing disabled"};
  if (s.int64(1) != 0) throw Refusal{EnrollOutcome::kNotAllowed, "account disabled"};
  check_pass(pass, s.text(3), "wrong control password");
  return {s.text(0), thing->id};
}

void add_control(Db& db, const std::string& controller_id, const std::string& thing_id) {
  auto link = db.prepare(
      "INSERT OR IGNORE INTO controls (controller_id, thing_id, created_at) VALUES (?1, ?2, ?3)");
  link.bind(1, controller_id).bind(2, thing_id).bind(3, platform::now_ms());
  link.step();
}

}  // namespace

EnrollResult Fleet::enroll_controller(std::string_view model, std::string_view thing_hwid,
                                      const Secret& pass, std::string_view controller_hwid,
                                      std::string_view name) {
  return guarded([&]() -> EnrollResult {
    auto model_id = platform::normalize_plug_id(model, platform::IdKind::kModel);
    if (!model_id) return refused(EnrollOutcome::kMalformed, "malformed model");
    if (!platform::valid_hwid(thing_hwid))
      return refused(EnrollOutcome::kMalformed, "malformed thing HWID");
    if (!platform::valid_hwid(controller_hwid))
      return refused(EnrollOutcome::kMalformed, "malformed HWID");
    const ControlGrant grant = check_control(db_, *model_id, thing_hwid, pass);

    EnrollResult r;
    db_.transaction([&] {
      // The account's controller with that HWID, the oldest should there ever be two.
      auto c = db_.prepare(
          "SELECT id, status FROM devices WHERE account_id = ?1 AND kind = 'controller' "
          "AND hwid = ?2 ORDER BY created_at, id LIMIT 1");
      c.bind(1, grant.account_id).bind(2, controller_hwid);
      if (c.step()) {
        if (c.text(1) == "disabled")
          throw Refusal{EnrollOutcome::kNotAllowed, "controller disabled"};
        r.id = c.text(0);
        // A controller has nothing to re-enroll: "reactivate" on it just means "ok". NAME
        // only names a controller that has none, as at login.
        auto u = db_.prepare(
            "UPDATE devices SET status = 'ok', "
            "name = CASE WHEN name = '' AND ?1 <> '' THEN ?1 ELSE name END WHERE id = ?2");
        u.bind(1, usable_name(name)).bind(2, r.id);
        u.step();
        r.auth = detail::add_auth(db_, r.id, kControllerAuthCodes);
      } else {
        Device d;
        d.account_id = grant.account_id;
        d.kind = DeviceKind::kController;
        d.name = usable_name(name);
        d.hwid = std::string(controller_hwid);
        d.model = *model_id;
        d.perm = platform::default_perm(DeviceKind::kController);
        NewDevice nd = detail::insert_device(db_, std::move(d));
        r.id = nd.device.id;
        r.auth = std::move(nd.auth);
        r.created = true;
      }
      add_control(db_, r.id, grant.thing_id);
    });
    return r;
  });
}

EnrollResult Fleet::control_thing(std::string_view controller_id, std::string_view model,
                                  std::string_view thing_hwid, const Secret& pass) {
  return guarded([&]() -> EnrollResult {
    auto id = platform::normalize_plug_id(controller_id, platform::IdKind::kDevice);
    std::optional<Device> controller;
    if (id) controller = Identity(db_).device(*id);
    if (!controller) return refused(EnrollOutcome::kUnknown, "unknown controller");
    if (controller->kind != DeviceKind::kController) {
      return refused(EnrollOutcome::kNotAllowed, "only a controller can take control of a thing");
    }
    if (controller->status == "disabled")
      return refused(EnrollOutcome::kNotAllowed, "controller disabled");
    const ControlGrant grant = check_control(db_, model, thing_hwid, pass);
    // Devices never reach across accounts (SPEC 6), whatever password they know.
    if (grant.account_id != controller->account_id) {
      return refused(EnrollOutcome::kNotAllowed, "that thing belongs to another account");
    }
    add_control(db_, controller->id, grant.thing_id);
    EnrollResult r;
    r.id = controller->id;
    return r;
  });
}

std::size_t Fleet::release_things(std::string_view controller_id,
                                  const std::optional<std::vector<std::string>>& things) {
  auto id = platform::normalize_plug_id(controller_id, platform::IdKind::kDevice);
  if (!id) return 0;
  if (!things) {
    auto s = db_.prepare("DELETE FROM controls WHERE controller_id = ?1");
    s.bind(1, *id);
    s.step();
    return static_cast<std::size_t>(db_.changes());
  }
  std::size_t n = 0;
  db_.transaction([&] {
    auto s = db_.prepare("DELETE FROM controls WHERE controller_id = ?1 AND thing_id = ?2");
    for (const auto& t : *things) {
      auto thing = platform::normalize_plug_id(t, platform::IdKind::kDevice);
      if (!thing) continue;
      s.reset();
      s.bind(1, *id).bind(2, *thing);
      s.step();
      n += static_cast<std::size_t>(db_.changes());
    }
  });
  return n;
}

// ---- controls ----------------------------------------------------------------------------

std::vector<std::string> Fleet::controlled_things(std::string_view controller_id) {
  auto id = platform::normalize_plug_id(controller_id, platform::IdKind::kDevice);
  if (!id) return {};
  return detail::controls_of(db_, *id);
}

std::vector<std::pair<std::string, std::string>> Fleet::all_controls() {
  auto s = db_.prepare("SELECT controller_id, thing_id FROM controls ORDER BY created_at, rowid");
  std::vector<std::pair<std::string, std::string>> out;
  while (s.step()) out.emplace_back(s.text(0), s.text(1));
  return out;
}

}  // namespace plugmq::store
