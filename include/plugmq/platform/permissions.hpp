// Device permissions (SPEC 6).
//
// A device's filter is {"of":{"r":LIST|null,"w":LIST|null},"ctrl":"rw"|"r"|""}: LIST is an
// array of Plug-IDs, null means every device of the account, [] means none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace plugmq::platform {

enum class DeviceKind { kPrototype, kThing, kController };
std::string_view to_string(DeviceKind k);  // "prototype", "thing", "controller"
std::optional<DeviceKind> device_kind_from_string(std::string_view s);

struct PermFilter {
  std::optional<std::vector<std::string>> read;   // nullopt = every device of the account
  std::optional<std::vector<std::string>> write;  // nullopt = every device of the account
  std::string ctrl = "rw";                        // what controllers of this device may do
  bool operator==(const PermFilter&) const = default;
};

// Defaults by kind: prototype r = w = null; thing r = w = [] and ctrl "rw"; controller
// r = w = [].
PermFilter default_perm(DeviceKind kind);

// Compact JSON form.
std::string to_json(const PermFilter& p);

// Parses the JSON form; Plug-IDs are normalized to lowercase. A missing "of", "r", "w" or
// "ctrl" keeps the value from `base`. Nothing, with `error` set, when malformed.
std::optional<PermFilter> perm_from_json(std::string_view json, const PermFilter& base,
                                         std::string* error = nullptr);

// Who is acting: a device login or an account login.
struct Principal {
  std::string account_id;
  std::string device_id;  // empty for an account login
  PermFilter perm;
  std::vector<std::string> controls;  // things this device controls (controllers)
  // The device's count of revocations of all its auth codes (SPEC 5) as its login saw it: a
  // session whose count is not the directory's logged in with a code revoked since, and ends.
  // Permissions do not read it.
  std::int64_t auth_revoked = 0;
};

// The device being read or written.
struct Target {
  std::string account_id;
  std::string device_id;
  std::string ctrl = "rw";  // the target's own "ctrl" setting
};

// Read/write decisions: never across accounts; an account login may do everything in its
// account; a device may read/write itself, devices in its of.r / of.w (null = all), and
// things it controls when their ctrl is "r"/"rw" (read) or "rw" (write).
bool may_read(const Principal& who, const Target& what);
bool may_write(const Principal& who, const Target& what);

}  // namespace plugmq::platform
