// What replay and retained reads share (module-private): the series of an account's devices
// that a session's MQTT filters select, and records read back by key with their position.
// docs/storage.md, "Positions" and "Retained messages".
//
// Functions over one connection's ReplayStatements; its thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "plugmq/platform/payload.hpp"
#include "plugmq/store/data.hpp"
#include "record_keys.hpp"
#include "record_statements.hpp"

namespace plugmq::store::detail {

// Throws Error kInvalid unless every filter is valid (valid_filter).
void throw_unless_valid(const std::vector<std::string>& filters);

// Whether the topic of series (of, channel), OF/data/CHANNEL, matches one of the filters.
// `topic` is a reused buffer.
bool selected(const std::vector<std::string>& filters, std::string_view of,
              std::string_view channel, std::string& topic);

// The devices that the filters name in their first level, when every one names one: only
// their series can match. Nothing when a filter begins with a wildcard.
std::optional<std::set<std::string>> named_devices(const std::vector<std::string>& filters);

// Steps `all` (parameter 1: the account) or, when every filter names a device, `of_device`
// (parameters 1 and 2: the account and the device) once per device named, and calls `each` with
// the statement on each row.
template <class Each>
void for_account_series(Stmt& all, Stmt& of_device, std::string_view account_id,
                        const std::vector<std::string>& filters, Each each) {
  const auto named = named_devices(filters);
  if (!named) {
    auto use = all.use();
    all.bind_static(1, account_id);
    while (all.step()) each(all);
    return;
  }
  for (const std::string& device : *named) {
    auto use = of_device.use();
    of_device.bind_static(1, account_id);
    of_device.bind_static(2, device);
    while (of_device.step()) each(of_device);
  }
}

// A series of the account that a session's filters select.
struct SeriesInfo {
  std::int64_t cid;
  std::string of;
  std::string channel;
  std::int64_t first_ep;
  std::int64_t last_ep;  // as read: exact for the epochs before the newest one then
};
using SeriesMap = std::unordered_map<std::int64_t, SeriesInfo>;

// A record found by position: its seq, series and key in the channel.
struct Found {
  std::int64_t seq;
  std::int64_t sid;
  std::int64_t at;
  OidBytes id;
};

// The record at (series.cid, at, id) with the series' publisher and channel, its seq (0 for a
// QoS 0 record: it stores none) and qos; nothing when it is gone.
std::optional<platform::Record> record_at(ReplayStatements& st, const SeriesInfo& series,
                                          std::int64_t at, const OidBytes& id);

// Rows a walk of a channel passes over between two records it reads before it seeks instead:
// about what one lookup by key costs.
inline constexpr int kMaxPassed = 4;

// The records of `take` (in seq order) that are still stored, in that order. Those of one
// channel are read in the channel's (at, id) order, by walking the rows between them where few
// others lie in between (records stored about the same time), else by seeking to each: a
// chunk of a replay costs about one read of its rows rather than one lookup per record.
std::vector<platform::Record> fetch_records(ReplayStatements& st, const SeriesMap& series,
                                         const std::vector<Found>& take);

}  // namespace plugmq::store::detail
