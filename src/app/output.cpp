#include "output.hpp"

#include <cstdio>
#include <iostream>

#include "plugmq/platform/permissions.hpp"

namespace plugmq::app {

using nlohmann::json;

bool wants_json(const Args& a) { return a.flags.count("json") > 0; }

// "2024-01-02T03:04:05.678Z" for ms since the epoch (UTC, proleptic Gregorian).
std::string iso_time(std::int64_t ms) {
  std::int64_t days = ms / 86'400'000;
  std::int64_t rem = ms % 86'400'000;
  if (rem < 0) {
    rem += 86'400'000;
    --days;
  }
  // Howard Hinnant's civil_from_days.
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(rem / 3'600'000), static_cast<long long>(rem / 60'000 % 60),
                static_cast<long long>(rem / 1000 % 60), static_cast<long long>(rem % 1000));
  return buf;
}

json account_json(const store::Account& a) {
  return {{"id", a.id},
          {"email", a.email},
          {"retention_days", a.retention_days},
          {"disabled", a.disabled},
          {"created_at", a.created_at}};
}

json account_json(const store::Account& a, const store::AccountCounts& c) {
  json out = account_json(a);
  out["devices"] = c.devices;
  out["templates"] = c.templates;
  return out;
}

void print_account_text(const store::Account& a, const store::AccountCounts& c) {
  std::cout << a.id << "  " << a.email << "  retention=" << a.retention_days << "d"
            << "  disabled=" << (a.disabled ? "yes" : "no") << "  devices=" << c.devices
            << "  templates=" << c.templates << "\n";
}

void print_device_text(const store::Device& d, const std::string& props) {
  std::cout << d.id << "  " << platform::to_string(d.kind) << "  name=" << d.name
            << "  hwid=" << d.hwid << "  status=" << d.status
            << "  online=" << (d.online ? "yes" : "no")
            << "  last_seen=" << (d.last_seen > 0 ? iso_time(d.last_seen) : "never")
            << "  perm=" << platform::to_json(d.perm);
  if (d.kind == platform::DeviceKind::kController) {
    std::cout << "  controls=";
    for (std::size_t i = 0; i < d.controls.size(); ++i) {
      std::cout << (i ? "," : "") << d.controls[i];
    }
  }
  std::cout << "  props=" << props << "\n";
}

void print_template_text(const store::Template& t) {
  std::cout << t.id << "  name=" << t.name << "  account=" << t.account_id
            << "  thing_perm=" << platform::to_json(t.thing_perm) << "\n";
}

void print_session_text(const store::Session& s, std::int64_t waiting) {
  std::cout << s.identity << "  " << s.client_id << "  " << (s.online ? "online" : "offline")
            << "  last_seen=" << iso_time(s.last_seen) << "  subscriptions=";
  for (std::size_t i = 0; i < s.subscriptions.size(); ++i) {
    std::cout << (i ? "," : "") << s.subscriptions[i].filter << ":" << s.subscriptions[i].qos;
  }
  std::cout << "  waiting=" << waiting << "\n";
}

}  // namespace plugmq::app
