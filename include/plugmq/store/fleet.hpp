// Production templates, registered serial numbers, enrollment and controllers (SPEC 5, 6).
//
// A production template ("mod-…") belongs to an account and gives its things their default
// permission filter. Serial numbers (HWIDs) are registered per template with an enroll password
// and, optionally, a control password (none: control disabled); both are stored only as
// platform::hash_secret hashes. A thing enrolls once (again only when an operator marked it
// "reactivate"); controllers enroll per thing and accumulate the things they control.
// Expected failures are values: Result ("Fails with") for registrations, an EnrollResult's
// outcome for enrollments; the others throw Error only when the database is busy or fails.
// Not thread-safe: one Fleet per Db, per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugmq/platform/outcome.hpp"
#include "plugmq/platform/permissions.hpp"
#include "plugmq/store/db.hpp"
#include "plugmq/store/errc.hpp"
#include "plugmq/store/secret.hpp"

namespace plugmq::store {

struct Template {
  std::string id;  // "mod-…"
  std::string account_id;
  std::string name;
  platform::PermFilter thing_perm;  // what its things get at enrollment
  std::int64_t created_at = 0;      // ms
};

struct Serial {
  std::string model;
  std::string hwid;
  bool control_enabled = false;  // a control password is registered
  std::string thing_id;          // the enrolled thing, empty until it enrolls
  std::int64_t created_at = 0;   // ms
};

// One serial to register.
struct SerialSpec {
  std::string hwid;
  std::string enroll_pass;
  std::optional<std::string> control_pass;
};

// A template deleted, with what went with it and what stayed.
struct DeletedTemplate {
  Template tmpl;
  std::size_t serials = 0;  // its serials, deleted with it
  // Things enrolled from it. They stay, and so do their controllers: same Plug-IDs, auth codes
  // and permissions, and `model` still names the template. Without their serials none can
  // enroll again (reactivate) and no new controller can enroll for them.
  std::size_t things = 0;
};

// The outcome of an enrollment: kOk and id/auth on success, else why (SPEC 5) with a short
// message safe to send to the device. The edges turn it into a reply: service/reply.hpp's table
// for MQTT, http/outcome_status's for HTTP.
struct EnrollResult {
  platform::EnrollOutcome outcome = platform::EnrollOutcome::kOk;
  std::string msg;
  std::string id;
  std::string auth;  // in clear, only here: stored as a hash
  // For kFailed only: the cause (e.g. a database error), for the server's log. Never send it
  // to the device. The enroll_* functions report failures this way rather than throwing.
  std::string log_detail;
  // Controllers: a new device was created (false: an existing controller of that HWID got a new
  // auth code, or, for control_thing, a thing was added).
  bool created = false;
  // Set when the password was offered deferred: the stored hash to check it against off the
  // store thread before offering it again verified (store/secret.hpp). outcome is kOk then.
  std::string check_hash;
  bool needs_check() const { return !check_hash.empty(); }
  bool ok() const { return outcome == platform::EnrollOutcome::kOk && !needs_check(); }
};

// The auth codes of one controller that stay valid together (SPEC 5): the official iOS app
// enrolls every phone of a thing as one controller (its HWID is the thing's serial), and each
// enrollment's code must keep working for the phone that got it. The oldest goes first.
inline constexpr std::size_t kControllerAuthCodes = 8;

class Fleet {
 public:
  explicit Fleet(Db& db) : db_(db) {}

  // A template in the account; things it enrolls get `thing_perm` (default: r = w = [],
  // ctrl "rw"). Fails with kNotFound (account) / kInvalid (name over 256 bytes or not UTF-8).
  Result<Template> add_template(std::string_view account_id, std::string_view name,
                                const platform::PermFilter& thing_perm);
  std::optional<Template> template_by_id(std::string_view model);  // case-insensitive
  std::vector<Template> templates(const std::optional<std::string>& account_id = std::nullopt);

  // Registers one serial. Fails with kNotFound (model), kInvalid (HWID not valid per
  // platform::valid_hwid, passwords outside 4..128 bytes), kExists (HWID already registered in
  // that model); the message names the HWID.
  Result<Serial> add_serial(std::string_view model, const SerialSpec& spec);
  // Registers many in one transaction: all or none. Fails as add_serial, with the message
  // naming the offending HWID and its position (1-based).
  Result<std::size_t> add_serials(std::string_view model, const std::vector<SerialSpec>& specs);
  std::vector<Serial> serials(std::string_view model);

  // Deletes a template and its serials (DeletedTemplate says what becomes of its things).
  // Fails with kNotFound.
  Result<DeletedTemplate> delete_template(std::string_view model);
  // Deletes one serial and returns it. A thing that enrolled with it stays, as with
  // delete_template. Fails with kNotFound (the template, or the HWID in it).
  Result<Serial> delete_serial(std::string_view model, std::string_view hwid);

  // SPEC 5, thing: `model` and `pass` as found in the topic MODEL/thing/PASS, `hwid` and `name`
  // from the client id HWID[/NAME]. Checks, in order: 400 malformed model or HWID; 404 unknown
  // model or HWID not registered in it; 401 wrong enroll password; 403 already enrolled (unless
  // the thing's status is "reactivate": then the same Plug-ID gets a new auth code and status
  // "ok"), or the account disabled. Success creates the thing (kind thing, the template's
  // thing_perm, hwid, model, name) in the template's account.
  EnrollResult enroll_thing(std::string_view model, std::string_view hwid, const Secret& pass,
                            std::string_view name);

  // SPEC 5, controller: topic MODEL/ctrl/THING_HWID/PASS, controller HWID and NAME from the
  // client id. Checks, in order: 400 malformed; 404 unknown model, THING_HWID not registered, or
  // that thing not enrolled yet; 403 control disabled (no control password registered, or the
  // thing's perm.ctrl is ""), the thing disabled, or the account disabled; 401 wrong control
  // password. Success: the account's existing controller with that HWID (same Plug-ID, new auth
  // code, its earlier codes still valid up to kControllerAuthCodes in all, oldest dropped first)
  // or a new one (kind controller, perm r = w = [], name NAME); either way the thing is added to
  // the things it controls. A disabled existing controller gets 403.
  EnrollResult enroll_controller(std::string_view model, std::string_view thing_hwid,
                                 const Secret& pass, std::string_view controller_hwid,
                                 std::string_view name);

  // An enrolled controller takes control of another thing (HTTP `PUT /iot/device` with the
  // controller's own credentials): the checks of enroll_controller on MODEL, THING_HWID and the
  // control password, plus 404 unknown controller, 403 not a controller, controller disabled,
  // or the thing in another account. Success adds the thing (id = the controller, no new auth).
  EnrollResult control_thing(std::string_view controller_id, std::string_view model,
                             std::string_view thing_hwid, const Secret& pass);

  // A controller releases things it controls: those listed (Plug-IDs; others are ignored), or
  // every one when `things` is nothing. Returns how many it no longer controls. Throws Error.
  std::size_t release_things(std::string_view controller_id,
                             const std::optional<std::vector<std::string>>& things);

  // Things a controller controls, oldest first.
  std::vector<std::string> controlled_things(std::string_view controller_id);
  // Every (controller, thing) pair: the server's directory snapshot.
  std::vector<std::pair<std::string, std::string>> all_controls();

 private:
  Db& db_;
};

}  // namespace plugmq::store
