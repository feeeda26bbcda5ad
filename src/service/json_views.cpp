#include "plugmq/service/json_views.hpp"

#include "plugmq/platform/permissions.hpp"

namespace plugmq::service {

using nlohmann::json;

json device_json(const store::Device& d, const std::string& props) {
  json out = {{"id", d.id},
              {"kind", std::string(platform::to_string(d.kind))},
              {"name", d.name},
              {"hwid", d.hwid},
              {"model", d.model},
              {"account", d.account_id},
              {"perm", json::parse(platform::to_json(d.perm))},
              {"status", d.status},
              {"last_client_id", d.last_client_id},
              {"created_at", d.created_at},
              {"online", d.online},
              {"last_seen", d.last_seen > 0 ? json(d.last_seen) : json(nullptr)}};
  if (d.kind == platform::DeviceKind::kController) out["controls"] = d.controls;
  out["props"] = json::parse(props);
  return out;
}

json template_json(const store::Template& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"account", t.account_id},
          {"thing_perm", json::parse(platform::to_json(t.thing_perm))},
          {"created_at", t.created_at}};
}

json serial_json(const store::Serial& s) {
  return {{"hwid", s.hwid},
          {"control", s.control_enabled},
          {"thing", s.thing_id.empty() ? json(nullptr) : json(s.thing_id)}};
}

json session_json(const store::Session& s, std::int64_t waiting) {
  json subs = json::array();
  for (const auto& sub : s.subscriptions)
    subs.push_back({{"filter", sub.filter}, {"qos", sub.qos}});
  return {{"id", s.identity},       {"client_id", s.client_id},         {"account", s.account_id},
          {"online", s.online},     {"subscriptions", std::move(subs)}, {"waiting", waiting},
          {"position", s.position}, {"created_at", s.created_at},       {"last_seen", s.last_seen}};
}

}  // namespace plugmq::service
