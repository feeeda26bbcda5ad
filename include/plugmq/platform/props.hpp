// Additional properties of a device (SPEC 4): what a P/ag/prop/set or P/ag/prop/get payload asks
// for, checked. Storing them is the store's (store::PropertyStore). Pure; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace plugmq::platform {

inline constexpr std::size_t kMaxPropName = 256;

// One member of a set request.
struct PropChange {
  std::string name;
  std::optional<std::string> value;  // the JSON text to store; nothing: delete the property
};

// A set request: a JSON object whose members each set a property to a static JSON value or to
// a link {"channel":"CH"} (CH a valid channel), or delete it (null). `error` (why, for the
// device) when any member is not acceptable: then nothing applies.
struct PropSet {
  std::vector<PropChange> changes;
  std::string error;
  bool ok() const { return error.empty(); }
};
PropSet parse_prop_set(std::string_view payload);

// A get request: empty (blank) for every property, or a JSON array of names (kept in request
// order without repeats). `error` for any other payload.
struct PropGet {
  std::optional<std::vector<std::string>> names;  // nothing: all
  std::string error;
  bool ok() const { return error.empty(); }
};
PropGet parse_prop_get(std::string_view payload);

// A device's location as CloudPlugs' clients send it, the property named "location": a JSON
// object with x (longitude, -180..180) and y (latitude, -90..90), and optionally z (altitude),
// r (accuracy) and t (a time), all numbers. Empty when `value` (JSON text) is one; else why.
inline constexpr const char* kLocationProp = "location";
std::string check_location(std::string_view value);

// The channel of a stored value that is a link; nothing for a static value.
std::optional<std::string> prop_link_channel(std::string_view stored);

}  // namespace plugmq::platform
