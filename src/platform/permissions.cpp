#include "plugmq/platform/permissions.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/json.hpp"

namespace plugmq::platform {
namespace {

using Json = nlohmann::ordered_json;

Json list_json(const std::optional<std::vector<std::string>>& list) {
  if (!list) return nullptr;
  Json arr = Json::array();
  for (const auto& id : *list) arr.push_back(id);
  return arr;
}

bool set_error(std::string* error, std::string msg) {
  if (error) *error = std::move(msg);
  return false;
}

// "r"/"w": null, or an array of device Plug-IDs (normalized, duplicates dropped).
bool parse_list(const Json& v, std::string_view name, std::optional<std::vector<std::string>>& out,
                std::string* error) {
  if (v.is_null()) {
    out = std::nullopt;
    return true;
  }
  if (!v.is_array()) {
    return set_error(error, "perm: of." + std::string(name) + " must be null or an array");
  }
  std::vector<std::string> ids;
  for (const auto& item : v) {
    std::optional<std::string> id;
    if (item.is_string())
      id = normalize_plug_id(item.get_ref<const std::string&>(), IdKind::kDevice);
    if (!id) {
      return set_error(error, "perm: of." + std::string(name) +
                                  " must hold device Plug-IDs (dev-…), got " +
                                  (item.is_string() ? item.get<std::string>() : item.type_name()));
    }
    if (std::find(ids.begin(), ids.end(), *id) == ids.end()) ids.push_back(std::move(*id));
  }
  out = std::move(ids);
  return true;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The rules both decisions share; `list` is of.r or of.w, `ctrl_ok` whether the target's ctrl
// setting lets its controllers do this.
bool may(const Principal& who, const Target& what,
         const std::optional<std::vector<std::string>>& list, bool ctrl_ok) {
  if (who.account_id.empty() || who.account_id != what.account_id) return false;
  if (who.device_id.empty()) return true;  // account login
  if (who.device_id == what.device_id) return true;
  if (!list || contains(*list, what.device_id)) return true;
  return ctrl_ok && contains(who.controls, what.device_id);
}

}  // namespace

std::string_view to_string(DeviceKind k) {
  switch (k) {
    case DeviceKind::kPrototype:
      return "prototype";
    case DeviceKind::kThing:
      return "thing";
    case DeviceKind::kController:
      return "controller";
  }
  return "prototype";
}

std::optional<DeviceKind> device_kind_from_string(std::string_view s) {
  if (s == "prototype") return DeviceKind::kPrototype;
  if (s == "thing") return DeviceKind::kThing;
  if (s == "controller") return DeviceKind::kController;
  return std::nullopt;
}

PermFilter default_perm(DeviceKind kind) {
  PermFilter p;
  if (kind != DeviceKind::kPrototype) {
    p.read = std::vector<std::string>{};
    p.write = std::vector<std::string>{};
  }
  p.ctrl = "rw";
  return p;
}

std::string to_json(const PermFilter& p) {
  Json j;
  j["of"]["r"] = list_json(p.read);
  j["of"]["w"] = list_json(p.write);
  j["ctrl"] = p.ctrl;
  return dump_json(j);
}

std::optional<PermFilter> perm_from_json(std::string_view json, const PermFilter& base,
                                         std::string* error) {
  const Json j = Json::parse(json.begin(), json.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    set_error(error, "perm must be a JSON object {\"of\":{\"r\":…,\"w\":…},\"ctrl\":…}");
    return std::nullopt;
  }
  PermFilter p = base;
  // Unknown members are refused rather than ignored: a typo in an operator's permission
  // change must not silently leave the old (possibly wider) permissions in place.
  for (const auto& [key, value] : j.items()) {
    if (key == "of") {
      if (!value.is_object()) {
        set_error(error, "perm: of must be an object");
        return std::nullopt;
      }
      for (const auto& [k, v] : value.items()) {
        if (k == "r") {
          if (!parse_list(v, "r", p.read, error)) return std::nullopt;
        } else if (k == "w") {
          if (!parse_list(v, "w", p.write, error)) return std::nullopt;
        } else {
          set_error(error, "perm: unknown member of." + k);
          return std::nullopt;
        }
      }
    } else if (key == "ctrl") {
      if (!value.is_string() || (value != "rw" && value != "r" && value != "")) {
        set_error(error, "perm: ctrl must be \"rw\", \"r\" or \"\"");
        return std::nullopt;
      }
      p.ctrl = value.get<std::string>();
    } else {
      set_error(error, "perm: unknown member " + key);
      return std::nullopt;
    }
  }
  return p;
}

bool may_read(const Principal& who, const Target& what) {
  return may(who, what, who.perm.read, what.ctrl == "r" || what.ctrl == "rw");
}

bool may_write(const Principal& who, const Target& what) {
  return may(who, what, who.perm.write, what.ctrl == "rw");
}

}  // namespace plugmq::platform
