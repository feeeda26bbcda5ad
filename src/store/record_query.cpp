// DataStore's reads: history pages newest first, the channels with records, the last value.
// record_planner.cpp finds what to visit; this file visits it.
#include <algorithm>
#include <set>
#include <unordered_set>
#include <utility>

#include "plugmq/platform/saturating.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/store/data.hpp"
#include "record_planner.hpp"
#include "record_statements.hpp"

namespace plugmq::store {

using detail::ChannelPart;
using detail::EpochBound;
using detail::Pos;
using detail::QueryStatements;
using detail::RunRange;
using detail::SeriesKey;
using platform::saturating_add;
using platform::saturating_mul;

namespace {

// From this many publishers' series on one channel, a history read first scans the channel's
// range of the table newest first (DataStore::query) before probing the series one by one.
constexpr std::size_t kScanFromSeries = 4;
// About how many rows a channel scan reads in the time of one probe of the per-series index
// (bench/store_bench, 1,000 series on one channel: about 0.17 us per row scanned, 2.5 us per
// probe); the scan's budget is this many rows per series.
constexpr std::int64_t kRowsPerProbe = 16;

constexpr auto kPersistent = Stmt::Lifetime::kPersistent;

// A record with its series' publisher and channel, by its key (cid, at, id).
constexpr std::string_view kRecordByKey =
    "SELECT d.id, s.of, s.channel, d.data, d.at, d.expire_at FROM data d "
    "JOIN series s ON s.sid = d.sid WHERE d.cid = ?3 AND d.at = ?1 AND d.id = ?2";

void throw_unless_valid_mask(std::string_view mask) {
  if (!platform::valid_channel_mask(mask)) {
    throw Error(Error::Code::kInvalid, "invalid channel mask: " + std::string(mask));
  }
}

// Top-N over the channels and series of one read, N = offset + limit: the newest positions so
// far, in order. Once it is full, its oldest entry raises the lower bound of the next scan, so
// most return nothing or a few rows. A set: a record can be reached through two runs of its
// series when their ranges overlap (records sent with times out of order), and counts once.
class Newest {
 public:
  Newest(std::int64_t n, Pos lower) : n_(n), lower_(std::move(lower)) {}

  // Keeps `p` when it is among the newest N so far; false when it is older than all N kept
  // (rows come newest first: the rest of that scan are older still).
  bool offer(Pos&& p) {
    if (!full()) {
      best_.insert(std::move(p));
    } else if (*best_.begin() < p) {
      if (best_.insert(std::move(p)).second) best_.erase(best_.begin());
    } else {
      return false;
    }
    return true;
  }
  // The lower bound of the next scan: above the oldest kept once N are. A copy: the set changes.
  Pos lower() const { return full() ? std::max(lower_, *best_.begin()) : lower_; }
  // Offers each row of a scan (columns at, id) of channel `cid`, newest first, until one is too
  // old.
  void offer_rows(Stmt& scan, std::int64_t cid) {
    while (scan.step()) {
      if (!offer(Pos{scan.int64(0), std::string(scan.blob_view(1)), cid})) break;
    }
  }
  // The positions kept, newest first.
  std::vector<Pos> newest_first() const { return {best_.rbegin(), best_.rend()}; }

 private:
  bool full() const { return static_cast<std::int64_t>(best_.size()) >= n_; }
  std::int64_t n_;
  Pos lower_;
  std::set<Pos> best_;
};

// 2. Many publishers: the channel newest first, their series filtered in SQL. About one row per
// record kept when they wrote most of the channel's recent records, where probing would cost a
// seek per series and epoch. When other publishers' rows dominate, the scan stops after about as
// many rows as the probes cost, and the probes read the rest: returns the upper bound left to
// them (nothing: the scan covered the window).
std::optional<Pos> scan_picked(QueryStatements& st, const ChannelPart& part, std::int64_t n,
                               const Pos& upper, Newest& best) {
  std::unordered_set<std::int64_t> sids;
  for (const SeriesKey& key : part.series) sids.insert(key.sid);
  detail::Pick pick;
  pick.sids = &sids;
  pick.budget = saturating_add(
      n, saturating_mul(kRowsPerProbe, static_cast<std::int64_t>(part.series.size())));
  Stmt& scan = st.scan_channel_picked;
  auto use = scan.use();
  const Pos lo = best.lower();
  detail::bind_channel_scan(scan, part.cid, lo, upper);
  scan.bind_pointer(6, &pick, detail::Pick::kType);
  while (scan.step()) {
    Pos p{scan.int64(0), std::string(scan.blob_view(1)), part.cid};
    if (pick.over) {
      Pos probe_upper = p;
      if (pick.matched) best.offer(std::move(p));
      return probe_upper;
    }
    if (!best.offer(std::move(p))) break;  // older than the N kept: so is the rest
  }
  return std::nullopt;
}

// 3. One series in one epoch: its runs newest first, each run's rows newest first, below
// `probe_upper`.
void probe_runs(QueryStatements& st, const ChannelPart& part, const SeriesKey& key, std::int64_t ep,
                const Pos& probe_upper, Newest& best) {
  Stmt& runs = st.runs_of;
  auto use_runs = runs.use();
  const Pos plo = best.lower();
  detail::bind_runs_of(runs, key.sid, ep, plo, probe_upper);
  while (runs.step()) {
    RunRange run = detail::run_at(runs, 0);
    // Later runs end at or before this one: once it ends below what is kept, so do they.
    const Pos rlo = best.lower();
    if (!(rlo < run.hi)) break;
    if (run.single()) {
      if (run.hi < probe_upper) {
        run.hi.cid = part.cid;
        best.offer(std::move(run.hi));
      }
      continue;
    }
    Pos lo, hi;
    if (!detail::run_within(run, rlo, probe_upper, lo, hi)) continue;
    Stmt& scan = st.scan_run;
    auto use_scan = scan.use();
    detail::bind_run_scan(scan, part.cid, key.sid, lo, hi);
    best.offer_rows(scan, part.cid);
  }
}

// The records at `order[offset..]`, by key.
std::vector<platform::Record> records_at(QueryStatements& st, const std::vector<Pos>& order,
                                         std::int64_t offset) {
  std::vector<platform::Record> out;
  if (offset >= static_cast<std::int64_t>(order.size())) return out;
  out.reserve(order.size() - static_cast<std::size_t>(offset));
  Stmt& get = st.by_key;
  for (std::size_t i = static_cast<std::size_t>(offset); i < order.size(); ++i) {
    auto use = get.use();
    get.bind(1, order[i].at);
    get.bind_blob_static(2, order[i].id.data(), order[i].id.size());
    get.bind(3, order[i].cid);
    if (get.step()) out.push_back(detail::record_from(get));
  }
  return out;
}

}  // namespace

namespace detail {

QueryStatements::QueryStatements(sqlite3* db)
    :  // The epochs that may hold records in [?1, ?2] (at), newest bound first.
      epochs_in(db,
                "SELECT ep, max_at FROM epochs WHERE max_at >= ?1 AND min_at <= ?2 "
                "ORDER BY max_at DESC, ep DESC",
                kPersistent),
      at_moved(db, "SELECT cid, at FROM data_at WHERE id = ?1", kPersistent),
      at_in_channel(db, "SELECT at FROM data WHERE cid = ?4 AND at >= ?1 AND at <= ?2 AND id = ?3",
                    kPersistent),
      // One seek per channel.
      at_in_any(db,
                "SELECT d.cid, d.at FROM channels c CROSS JOIN data d ON d.cid = c.cid "
                "WHERE d.at >= ?1 AND d.at <= ?2 AND d.id = ?3 LIMIT 1",
                kPersistent),
      by_key(db, kRecordByKey, kPersistent),
      // The runs of one series in one epoch that reach into (?3, ?4) < (at, id) < (?5, ?6),
      // newest last record first.
      runs_of(db,
              "SELECT hi_at, hi_id, lo_at, lo_id FROM runs WHERE ep = ?1 AND sid = ?2 "
              "AND (hi_at, hi_id) > (?3, ?4) AND (lo_at, lo_id) < (?5, ?6) "
              "ORDER BY hi_at DESC, hi_id DESC",
              kPersistent),
      // One series' rows in a range of its channel, newest first. Records are read by key at the
      // end.
      scan_run(db,
               "SELECT at, id FROM data WHERE cid = ?1 AND (at, id) > (?2, ?3) "
               "AND (at, id) < (?4, ?5) AND sid = ?6 ORDER BY at DESC, id DESC",
               kPersistent),
      // One channel newest first between two (at, id) bounds: every publisher's records, or with
      // the series filtered in SQL.
      scan_channel(db,
                   "SELECT at, id FROM data WHERE cid = ?5 AND (at, id) > (?1, ?2) "
                   "AND (at, id) < (?3, ?4) ORDER BY at DESC, id DESC",
                   kPersistent),
      scan_channel_picked(db,
                          "SELECT at, id FROM data WHERE cid = ?5 AND (at, id) > (?1, ?2) "
                          "AND (at, id) < (?3, ?4) AND plugmq_pick(sid, ?6) "
                          "ORDER BY at DESC, id DESC",
                          kPersistent),
      // The series of the publishers in ?1 (a JSON array) whose channel is in [lo, hi).
      series_of(db,
                "SELECT s.sid, s.channel, s.first_ep, s.last_ep, s.cid FROM json_each(?1) j "
                "CROSS JOIN series s ON s.of = j.value "
                "WHERE s.channel >= ?2 AND s.channel < ?3",
                kPersistent),
      // Up to ?2 series of one channel.
      series_on(db, "SELECT sid, of, first_ep, last_ep FROM series WHERE cid = ?1 LIMIT ?2",
                kPersistent),
      // The channels in [lo, hi).
      channels_in(db,
                  "SELECT cid, channel FROM channels WHERE channel >= ?1 AND channel < ?2 "
                  "ORDER BY channel",
                  kPersistent),
      count(db, "SELECT count(*) FROM data", kPersistent) {}

}  // namespace detail

std::vector<platform::Record> DataStore::query(const DataQuery& q) {
  throw_unless_valid_mask(q.mask);
  if (q.limit <= 0) return {};
  const std::int64_t offset = std::max<std::int64_t>(q.offset, 0);
  flush();  // this transaction's own records
  auto txn = db_.read_transaction();
  QueryStatements& st = st_->read;

  const std::vector<ChannelPart> parts = detail::parts_of(st, q);
  if (parts.empty()) return {};
  Pos lower, upper;  // the window: lower < (at, id) < upper
  if (!detail::window_of(st, q, detail::cids_of(parts), lower, upper)) return {};

  const std::int64_t n = saturating_add(offset, q.limit);
  Newest best(n, lower);
  std::optional<std::vector<EpochBound>> epochs;  // read when a series is first probed
  for (const ChannelPart& part : parts) {
    const Pos lo = best.lower();
    if (!(lo < upper)) break;
    // 1. Any publisher: the channel's range of the table, newest first.
    if (part.series.empty()) {
      Stmt& scan = st.scan_channel;
      auto use = scan.use();
      detail::bind_channel_scan(scan, part.cid, lo, upper);
      best.offer_rows(scan, part.cid);
      continue;
    }
    Pos probe_upper = upper;  // the probes read lower < (at, id) < probe_upper
    if (part.series.size() >= kScanFromSeries) {
      auto left = scan_picked(st, part, n, upper, best);
      if (!left) continue;
      probe_upper = std::move(*left);
    }
    // 3. Each series epoch by epoch, the newest bound first: once the records kept are newer
    // than an epoch's bound, that epoch and every one after it have nothing to add.
    if (!(best.lower() < probe_upper)) continue;
    if (!epochs) epochs = detail::epochs_between(st, lower, upper);
    for (const EpochBound& e : *epochs) {
      if (e.max_at < best.lower().at) break;
      for (const SeriesKey& key : part.series) {
        if (!key.in(e.ep)) continue;
        if (e.max_at < best.lower().at) break;
        probe_runs(st, part, key, e.ep, probe_upper, best);
      }
    }
  }
  return records_at(st, best.newest_first(), offset);
}

std::vector<std::string> DataStore::channels(const DataQuery& q) {
  throw_unless_valid_mask(q.mask);
  if (q.limit <= 0) return {};
  flush();  // this transaction's own records
  auto txn = db_.read_transaction();
  QueryStatements& st = st_->read;
  const std::vector<ChannelPart> parts = detail::parts_of(st, q);
  if (parts.empty()) return {};
  Pos lower, upper;
  if (!detail::window_of(st, q, detail::cids_of(parts), lower, upper)) return {};

  // Per channel, one probe of its range of the table (any publisher), or one probe per run of
  // each series until one has a record in the window: series and channels outlive their
  // records (expired, deleted), and so may runs.
  std::optional<std::vector<EpochBound>> epochs;
  auto any_in_window = [&](const SeriesKey& key) {
    if (!epochs) epochs = detail::epochs_between(st, lower, upper);
    for (const EpochBound& e : *epochs) {
      if (!key.in(e.ep)) continue;
      auto use_runs = st.runs_of.use();
      detail::bind_runs_of(st.runs_of, key.sid, e.ep, lower, upper);
      while (st.runs_of.step()) {
        const RunRange run = detail::run_at(st.runs_of, 0);
        if (run.single() && lower < run.hi && run.hi < upper) return true;
        Pos lo, hi;
        if (!detail::run_within(run, lower, upper, lo, hi)) continue;
        auto use_scan = st.scan_run.use();
        detail::bind_run_scan(st.scan_run, key.cid, key.sid, lo, hi);
        if (st.scan_run.step()) return true;
      }
    }
    return false;
  };
  std::vector<std::string> out;
  std::int64_t skip = std::max<std::int64_t>(q.offset, 0);
  for (const ChannelPart& part : parts) {  // sorted by channel
    if (static_cast<std::int64_t>(out.size()) >= q.limit) break;
    bool any;
    if (part.series.empty()) {
      auto use = st.scan_channel.use();
      detail::bind_channel_scan(st.scan_channel, part.cid, lower, upper);
      any = st.scan_channel.step();
    } else {
      any = std::any_of(part.series.begin(), part.series.end(), any_in_window);
    }
    if (!any) continue;
    if (skip > 0) {
      --skip;
      continue;
    }
    out.push_back(part.channel);
  }
  return out;
}

std::optional<std::string> DataStore::last_value(std::string_view of, std::string_view channel) {
  if (!platform::valid_channel(channel)) return std::nullopt;
  DataQuery q;
  q.mask = channel;
  q.of = {std::string(of)};
  q.limit = 1;
  auto newest = query(q);
  if (newest.empty()) return std::nullopt;
  return std::move(newest.front().data_json);
}

std::int64_t DataStore::count() {
  Stmt& s = st_->read.count;
  auto use = s.use();
  s.step();
  return s.int64(0);
}

}  // namespace plugmq::store
