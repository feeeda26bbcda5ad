// The history read planner (module-private): which channels, series, epochs and runs a read
// of DataStore::query or channels() visits, and the plugmq_pick scan filter. docs/storage.md
// describes the index it plans over.
//
// Functions over one connection's QueryStatements; its thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "plugmq/platform/payload.hpp"
#include "plugmq/store/data.hpp"
#include "record_keys.hpp"
#include "record_statements.hpp"

struct sqlite3;

namespace plugmq::store::detail {

// ---- plugmq_pick ----

// The channel scan's filter, plugmq_pick(sid, state): true for the series the read wants, and
// true once more for the row that exhausts the budget, which ends the scan there.
struct Pick {
  static constexpr const char* kType = "plugmq_pick";
  const std::unordered_set<std::int64_t>* sids = nullptr;
  std::int64_t budget = 0;  // rows left to examine
  bool over = false;        // the row returned last exhausted the budget
  bool matched = false;     // ... and is one of `sids`
};

// Registers plugmq_pick on the connection. REQUIRES: before the statements that call it are
// prepared. Throws Error.
void register_pick(sqlite3* db);

// ---- records by key and by id ----

// The record in the current row of QueryStatements::by_key.
platform::Record record_from(const Stmt& by_key);

// Where a record is stored: its key is (cid, at, id).
struct Located {
  std::int64_t cid;
  std::int64_t at;
};

// Where the record with this id is stored, if it is: data_at places records whose `at` is not
// in their OID's second; the others are among the records of that second, in one of the
// channels `cids`, or with `anywhere`, in any channel.
std::optional<Located> locate(QueryStatements& st, const OidBytes& id,
                              const std::vector<std::int64_t>& cids, bool anywhere);

// The (at, id) window of a query: lower < (at, id) < upper. False when it is empty. An id
// bound is looked for in the channels `cids` first (a page's last record usually is in them).
// Throws Error kInvalid for a malformed id bound.
bool window_of(QueryStatements& st, const DataQuery& q, const std::vector<std::int64_t>& cids,
               Pos& lower, Pos& upper);

// ---- epochs, series, channels ----

// An epoch that may hold records of a window: each of its records has at <= max_at.
struct EpochBound {
  std::int64_t ep;
  std::int64_t max_at;
};

// The epochs that may hold records with lower.at <= at <= upper.at, the newest bound first.
std::vector<EpochBound> epochs_between(QueryStatements& st, const Pos& lower, const Pos& upper);

// A publisher's series under a mask, and the epochs it may have records in.
struct SeriesKey {
  std::int64_t sid;
  std::int64_t cid;
  std::string channel;
  std::int64_t first_ep;
  std::int64_t last_ep;
  bool in(std::int64_t ep) const { return first_ep <= ep && ep <= last_ep; }
};

// A channel under a mask.
struct ChannelKey {
  std::int64_t cid;
  std::string channel;
};

// The channels that match `mask` (within `range`), whoever published them, sorted by name.
std::vector<ChannelKey> channels_matching(QueryStatements& st, std::string_view mask,
                                          const ChannelRange& range);

// What a read covers on one channel: every publisher's records (`series` empty), or those of
// the publishers' series on it.
struct ChannelPart {
  std::int64_t cid;
  std::string channel;
  std::vector<SeriesKey> series;
};

// The channels under q.mask with the publishers' series on them (q.of), or every channel under
// the mask with no series listed (any publisher), sorted by channel.
std::vector<ChannelPart> parts_of(QueryStatements& st, const DataQuery& q);

std::vector<std::int64_t> cids_of(const std::vector<ChannelPart>& parts);

// ---- binding the scans ----

// Binds QueryStatements::runs_of: the runs of series `sid` in epoch `ep` that reach into
// lower < (at, id) < upper, newest last record first. The bounds must outlive the steps.
void bind_runs_of(Stmt& runs, std::int64_t sid, std::int64_t ep, const Pos& lower,
                  const Pos& upper);

// The run in the current row of a statement whose columns `c`.. are hi_at, hi_id, lo_at, lo_id.
RunRange run_at(const Stmt& s, int c);

// Binds QueryStatements::scan_run (or a statement with the same first six parameters): series
// `sid`'s rows of channel `cid` with lo < (at, id) < hi, newest first. `lo` and `hi` must
// outlive the statement's steps.
void bind_run_scan(Stmt& scan, std::int64_t cid, std::int64_t sid, const Pos& lo, const Pos& hi);

// Binds QueryStatements::scan_channel or scan_channel_picked: channel `cid` newest first with
// lower < (at, id) < upper.
void bind_channel_scan(Stmt& scan, std::int64_t cid, const Pos& lower, const Pos& upper);

}  // namespace plugmq::store::detail
