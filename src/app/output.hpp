// How the admin commands print records: JSON (--json) and one line of text each.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "plugmq/app/args.hpp"
#include "plugmq/service/json_views.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"
#include "plugmq/store/session_store.hpp"

namespace plugmq::app {

// Whether the command was given --json.
bool wants_json(const Args& a);

// "2024-01-02T03:04:05.678Z" for ms since the epoch (UTC, proleptic Gregorian).
std::string iso_time(std::int64_t ms);

nlohmann::json account_json(const store::Account& a);
// An account as `account list` shows it: account_json with what it holds.
nlohmann::json account_json(const store::Account& a, const store::AccountCounts& c);
void print_account_text(const store::Account& a, const store::AccountCounts& c);
// The JSON forms of devices, templates, serials and sessions are the HTTP API's too:
// service/json_views.hpp.
// `props` is PropertyStore::raw text.
void print_device_text(const store::Device& d, const std::string& props);
void print_template_text(const store::Template& t);
// A persistent session, with the messages waiting for it (SessionStore::waiting).
void print_session_text(const store::Session& s, std::int64_t waiting);

}  // namespace plugmq::app
