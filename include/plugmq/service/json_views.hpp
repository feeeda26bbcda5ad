// The JSON forms of devices, templates, serials and persistent sessions, as both the command
// line (`--json`) and the HTTP API's lists (GET /iot/device, /iot/template…, /iot/session)
// print them: one shape for scripts, whichever way they ask.
//
// nlohmann::json (not ordered_json): members come out sorted by name, as the command line has
// always printed them. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"
#include "plugmq/store/session_store.hpp"

namespace plugmq::service {

// {"id","kind","name","hwid","model","account","perm","status","last_client_id","created_at",
// "online","last_seen","props"} (+ "controls" for a controller); last_seen null: never.
// `props` is PropertyStore::raw text.
nlohmann::json device_json(const store::Device& d, const std::string& props);
// {"id","name","account","thing_perm","created_at"}
nlohmann::json template_json(const store::Template& t);
// {"hwid","control","thing"}; thing null until it enrolls.
nlohmann::json serial_json(const store::Serial& s);
// {"id","client_id","account","online","subscriptions":[{"filter","qos"}],"waiting",
// "position","created_at","last_seen"}, with the messages waiting for it
// (SessionStore::waiting, counted up to kSessionWaitingCap).
nlohmann::json session_json(const store::Session& s, std::int64_t waiting);

// Waiting messages are counted up to this many per session (a count reads no record data).
inline constexpr std::int64_t kSessionWaitingCap = 1'000'000;

}  // namespace plugmq::service
