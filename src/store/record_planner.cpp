#include "record_planner.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "plugmq/platform/json.hpp"
#include "sqlite_error.hpp"

namespace plugmq::store::detail {
namespace {

// From this many publishers on, a read finds their series among each channel's (one range of
// an index) rather than one lookup per publisher, as long as the channels under the mask hold
// at most this many series per publisher.
constexpr std::size_t kManyPublishers = 64;
constexpr std::size_t kSeriesPerPublisher = 4;

void pick_function(sqlite3_context* c, int, sqlite3_value** v) {
  auto* pick = static_cast<Pick*>(sqlite3_value_pointer(v[1], Pick::kType));
  if (pick == nullptr) {
    sqlite3_result_error(c, "plugmq_pick: no scan state", -1);
    return;
  }
  const bool match = pick->sids->count(sqlite3_value_int64(v[0])) > 0;
  if (--pick->budget < 0) {
    pick->over = true;
    pick->matched = match;
    sqlite3_result_int(c, 1);
    return;
  }
  sqlite3_result_int(c, match ? 1 : 0);
}

}  // namespace

void register_pick(sqlite3* db) {
  const int rc = sqlite3_create_function_v2(db, Pick::kType, 2, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                            nullptr, pick_function, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(db, rc, "create function plugmq_pick");
}

platform::Record record_from(const Stmt& s) {
  platform::Record r;
  r.id = platform::oid_hex(s.blob_view(0));
  r.of = s.text_view(1);
  r.channel = s.text_view(2);
  r.data_json = s.text_view(3);
  r.at = s.int64(4);
  if (!s.is_null(5)) r.expire_at = s.int64(5);
  return r;
}

// Where the record with this id is stored, if it is: data_at places records whose `at` is not
// in their OID's second; the others are among the records of that second, in one of the
// channels `cids`, or with `anywhere`, in any channel.
std::optional<Located> locate(QueryStatements& st, const OidBytes& id,
                              const std::vector<std::int64_t>& cids, bool anywhere) {
  {
    auto use = st.at_moved.use();
    st.at_moved.bind_blob_static(1, id.data(), id.size());
    if (st.at_moved.step()) return Located{st.at_moved.int64(0), st.at_moved.int64(1)};
  }
  const std::int64_t second = oid_seconds(id.data());
  for (std::int64_t cid : cids) {
    auto use = st.at_in_channel.use();
    st.at_in_channel.bind(1, second * 1000);
    st.at_in_channel.bind(2, second * 1000 + 999);
    st.at_in_channel.bind_blob_static(3, id.data(), id.size());
    st.at_in_channel.bind(4, cid);
    if (st.at_in_channel.step()) return Located{cid, st.at_in_channel.int64(0)};
  }
  if (!anywhere) return std::nullopt;
  auto use = st.at_in_any.use();
  st.at_in_any.bind(1, second * 1000);
  st.at_in_any.bind(2, second * 1000 + 999);
  st.at_in_any.bind_blob_static(3, id.data(), id.size());
  if (st.at_in_any.step()) return Located{st.at_in_any.int64(0), st.at_in_any.int64(1)};
  return std::nullopt;
}

// The (at, id) window of a query: lower < (at, id) < upper. False when it is empty. An id
// bound is looked for in the channels `cids` first (a page's last record usually is in them).
bool window_of(QueryStatements& st, const DataQuery& q, const std::vector<std::int64_t>& cids,
               Pos& lower, Pos& upper) {
  lower = Pos{kMinMs, kIdBelowAll};  // at >= INT64_MIN: everything
  upper = Pos{kMaxMs, kIdAboveAll};  // at <= INT64_MAX: everything
  auto raise_lower = [&](Pos p) { lower = std::max(lower, std::move(p)); };
  auto cut_upper = [&](Pos p) { upper = std::min(upper, std::move(p)); };
  if (q.before) cut_upper({*q.before, kIdBelowAll});  // at < before
  if (q.after) raise_lower({*q.after, kIdAboveAll});  // at > after
  if (q.at) {
    raise_lower({*q.at, kIdBelowAll});  // at >= q.at
    cut_upper({*q.at, kIdAboveAll});    // at <= q.at
  }
  // An id bound is the referenced record's place in the order. A record that is gone
  // (expired, deleted) is placed by the creation second in its OID: before_id then means
  // "at earlier than that second", after_id "at later than that second".
  auto position_of = [&](const std::string& hex, bool for_upper) -> Pos {
    const OidBytes id = oid_or_throw(hex);
    const std::string bytes(reinterpret_cast<const char*>(id.data()), id.size());
    if (auto found = locate(st, id, cids, true)) return {found->at, bytes};
    const std::int64_t second = oid_seconds(id.data());
    return for_upper ? Pos{second * 1000, kIdBelowAll} : Pos{second * 1000 + 999, kIdAboveAll};
  };
  if (q.before_id) cut_upper(position_of(*q.before_id, true));
  if (q.after_id) raise_lower(position_of(*q.after_id, false));
  return lower < upper;
}

// The epochs that may hold records with lower.at <= at <= upper.at, the newest bound first.
std::vector<EpochBound> epochs_between(QueryStatements& st, const Pos& lower, const Pos& upper) {
  std::vector<EpochBound> out;
  Stmt& epochs_in = st.epochs_in;
  auto use = epochs_in.use();
  epochs_in.bind(1, lower.at);
  epochs_in.bind(2, upper.at);
  while (epochs_in.step()) out.push_back({epochs_in.int64(0), epochs_in.int64(1)});
  return out;
}

namespace {

// The series of `ofs` whose channel matches `mask` (within `range`).
// One statement for all of them (a JSON array of the publishers): an account's read lists
// every device it has, and a statement execution per publisher cost more than the read.
template <class Ofs>
std::vector<SeriesKey> series_under(Stmt& series_of, const Ofs& ofs, std::string_view mask,
                                    const ChannelRange& range) {
  std::vector<SeriesKey> out;
  platform::OrderedJson list = platform::OrderedJson::array();
  for (const auto& o : ofs) list.push_back(o);
  const std::string json = platform::dump_json(list);
  auto use = series_of.use();
  series_of.bind_static(1, json);
  series_of.bind_static(2, range.lo);
  series_of.bind_static(3, range.hi);
  while (series_of.step()) {
    if (!mask_matches(mask, series_of.text_view(1))) continue;
    out.push_back({series_of.int64(0), series_of.int64(4), std::string(series_of.text_view(1)),
                   series_of.int64(2), series_of.int64(3)});
  }
  return out;
}

}  // namespace

// Binds Statements::runs_of: the runs of series `sid` in epoch `ep` that reach into
// lower < (at, id) < upper, newest last record first.
void bind_runs_of(Stmt& runs, std::int64_t sid, std::int64_t ep, const Pos& lower,
                  const Pos& upper) {
  runs.bind(1, ep);
  runs.bind(2, sid);
  runs.bind(3, lower.at);
  runs.bind_blob_static(4, lower.id.data(), lower.id.size());
  runs.bind(5, upper.at);
  runs.bind_blob_static(6, upper.id.data(), upper.id.size());
}

// The run in the current row of a statement whose columns `c`.. are hi_at, hi_id, lo_at, lo_id.
RunRange run_at(const Stmt& s, int c) {
  return {Pos{s.int64(c + 2), std::string(s.blob_view(c + 3))},
          Pos{s.int64(c), std::string(s.blob_view(c + 1))}};
}

// Binds Statements::scan_run (or a statement with the same first six parameters): series
// `sid`'s rows of channel `cid` with lo < (at, id) < hi, newest first. `lo` and `hi` must
// outlive the statement's steps.
void bind_run_scan(Stmt& scan, std::int64_t cid, std::int64_t sid, const Pos& lo, const Pos& hi) {
  scan.bind(1, cid);
  scan.bind(2, lo.at);
  scan.bind_blob_static(3, lo.id.data(), lo.id.size());
  scan.bind(4, hi.at);
  scan.bind_blob_static(5, hi.id.data(), hi.id.size());
  scan.bind(6, sid);
}

// Binds Statements::scan_channel or scan_channel_picked: channel `cid` newest first with
// lower < (at, id) < upper.
void bind_channel_scan(Stmt& scan, std::int64_t cid, const Pos& lower, const Pos& upper) {
  scan.bind(1, lower.at);
  scan.bind_blob_static(2, lower.id.data(), lower.id.size());
  scan.bind(3, upper.at);
  scan.bind_blob_static(4, upper.id.data(), upper.id.size());
  scan.bind(5, cid);
}

// The channels that match `mask` (within `range`), whoever published them, sorted by name.
std::vector<ChannelKey> channels_matching(QueryStatements& st, std::string_view mask,
                                          const ChannelRange& range) {
  std::vector<ChannelKey> out;
  Stmt& channels_in = st.channels_in;
  auto use = channels_in.use();
  channels_in.bind_static(1, range.lo);
  channels_in.bind_static(2, range.hi);
  while (channels_in.step()) {
    if (mask_matches(mask, channels_in.text_view(1))) {
      out.push_back({channels_in.int64(0), std::string(channels_in.text_view(1))});
    }
  }
  return out;
}

// The channels under q.mask with the publishers' series on them (q.of), or every channel under
// the mask with no series listed (any publisher), sorted by channel.
std::vector<ChannelPart> parts_of(QueryStatements& st, const DataQuery& q) {
  const ChannelRange range = range_of(q.mask);
  std::vector<ChannelPart> parts;
  if (q.of.empty()) {
    for (auto& c : channels_matching(st, q.mask, range)) {
      parts.push_back({c.cid, std::move(c.channel), {}});
    }
    return parts;
  }
  std::set<std::string, std::less<>> ofs;  // without repeats, which would repeat records
  for (const auto& o : q.of) ofs.insert(platform::lower_ascii(o));
  if (ofs.size() >= kManyPublishers) {
    // Each channel's series, while they are not many more than the publishers.
    const auto channels = channels_matching(st, q.mask, range);
    const auto budget = static_cast<std::int64_t>(kSeriesPerPublisher * ofs.size());
    std::int64_t seen = 0;
    for (const auto& c : channels) {
      ChannelPart part{c.cid, c.channel, {}};
      Stmt& series_on = st.series_on;
      auto use = series_on.use();
      series_on.bind(1, c.cid);
      series_on.bind(2, budget - seen + 1);
      while (series_on.step()) {
        ++seen;
        if (ofs.count(series_on.text_view(1)) == 0) continue;
        part.series.push_back(
            {series_on.int64(0), c.cid, c.channel, series_on.int64(2), series_on.int64(3)});
      }
      if (seen > budget) break;
      if (!part.series.empty()) parts.push_back(std::move(part));
    }
    if (seen <= budget) return parts;
    parts.clear();  // too many other publishers' series: a lookup per publisher
  }
  std::map<std::string, ChannelPart> by_channel;
  for (auto& key : series_under(st.series_of, ofs, q.mask, range)) {
    auto [it, added] = by_channel.try_emplace(key.channel);
    if (added) {
      it->second.cid = key.cid;
      it->second.channel = key.channel;
    }
    it->second.series.push_back(std::move(key));
  }
  for (auto& [channel, part] : by_channel) parts.push_back(std::move(part));
  return parts;
}

std::vector<std::int64_t> cids_of(const std::vector<ChannelPart>& parts) {
  std::vector<std::int64_t> out;
  out.reserve(parts.size());
  for (const auto& p : parts) out.push_back(p.cid);
  return out;
}

}  // namespace plugmq::store::detail
