// DataStore's replay of what persistent sessions missed (SPEC 11). A session's filters select
// series (publisher, channel) of its account's devices; its records after a position are found
// epoch by epoch in seq order, through the runs of those series and the rows of the longer runs
// (docs/storage.md, "Positions"). A ReplayCursor keeps the series and the positions read ahead
// between the calls of one session.
#include <algorithm>
#include <string>
#include <utility>

#include "plugmq/base/topic_filter.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/store/data.hpp"
#include "record_planner.hpp"
#include "replay_series.hpp"

namespace plugmq::store {

using detail::Found;
using detail::ReplayStatements;
using detail::SeriesInfo;
using detail::SeriesMap;

namespace detail {

// What a ReplayCursor keeps for one session between calls.
struct ReplayState {
  std::size_t read_ahead = 0;  // positions a call reads ahead at least
  std::string account_id;
  std::vector<std::string> filters;
  bool has_series = false;
  std::int64_t admin_version = -1;  // device changes bump it: the series are read again
  SeriesMap series;                 // every selected series with sid <= max_sid
  std::int64_t max_sid = 0;
  std::int64_t newest_ep = 0;   // the newest epoch when `series` was read: last_ep holds below it
  std::int64_t lo = 0, hi = 0;  // every record to replay with lo < seq <= hi is in `found` ...
  std::vector<Found> found;     // ... sorted by seq
  bool in(const SeriesInfo& s, std::int64_t ep) const {
    return s.first_ep <= ep && (ep >= newest_ep || ep <= s.last_ep);
  }
};

void throw_unless_valid(const std::vector<std::string>& filters) {
  for (const auto& f : filters) {
    if (!valid_filter(f)) throw Error(Error::Code::kInvalid, "invalid topic filter: " + f);
  }
}

bool selected(const std::vector<std::string>& filters, std::string_view of,
              std::string_view channel, std::string& topic) {
  topic.assign(of).append("/data/").append(channel);
  return std::any_of(filters.begin(), filters.end(),
                     [&](const std::string& f) { return base::filter_matches(f, topic); });
}

std::optional<std::set<std::string>> named_devices(const std::vector<std::string>& filters) {
  std::set<std::string> out;
  for (const auto& f : filters) {
    std::string first = f.substr(0, f.find('/'));
    if (first == "+" || first == "#") return std::nullopt;
    out.insert(std::move(first));
  }
  return out;
}

}  // namespace detail

namespace {

constexpr auto kPersistent = Stmt::Lifetime::kPersistent;

// About how many run rows a scan of an epoch's runs reads in the time of one probe of one
// series' runs: from (series in the epoch) x this many rows per epoch's records, reading all of
// the epoch's runs costs less than probing each series.
constexpr std::int64_t kRowsPerProbe = 16;

// The one integer a statement returns (0 for no row or NULL).
std::int64_t single_int(Stmt& s) {
  auto use = s.use();
  return s.step() ? s.optional_int64(0).value_or(0) : 0;
}

// Reads the session's series: all of them when the session or the devices changed, else the
// series created since (sids grow in commit order).
void read_series(ReplayStatements& st, detail::ReplayState& s) {
  const std::int64_t version = single_int(st.admin_version);
  const std::int64_t max_sid = single_int(st.max_sid);
  std::string topic;
  auto add = [&](Stmt& row) {  // sid, cid, of, channel, first_ep, last_ep
    if (!detail::selected(s.filters, row.text_view(2), row.text_view(3), topic)) return;
    s.series.insert_or_assign(
        row.int64(0), SeriesInfo{row.int64(1), std::string(row.text_view(2)),
                                 std::string(row.text_view(3)), row.int64(4), row.int64(5)});
  };
  if (!s.has_series || version != s.admin_version) {
    s.series.clear();
    s.found.clear();  // a device may have joined the account with records stored before
    s.lo = s.hi = 0;
    detail::for_account_series(st.account_series, st.device_series, s.account_id, s.filters, add);
    s.newest_ep = single_int(st.newest_ep);
  } else if (max_sid > s.max_sid) {
    auto use = st.series_after.use();
    st.series_after.bind_static(1, s.account_id);
    st.series_after.bind(2, s.max_sid);
    while (st.series_after.step()) add(st.series_after);
  }
  s.has_series = true;
  s.admin_version = version;
  s.max_sid = max_sid;
}

// Where the records a replay visits go: positions kept (replay) or counted (replay_count).
class Sink {
 public:
  virtual ~Sink() = default;
  virtual std::int64_t upto() const = 0;  // the highest seq still wanted
  virtual bool done() const = 0;          // nothing more is wanted
  virtual void add(std::int64_t seq, std::int64_t sid, std::int64_t at, std::string_view id) = 0;
};

// The `limit` lowest positions offered. Past `limit * 2` it keeps the lowest `limit`, and from
// then on wants nothing above the highest of them.
class Lowest final : public Sink {
 public:
  Lowest(std::size_t limit, std::int64_t upto) : limit_(limit), upto_(upto) {}
  std::int64_t upto() const override { return upto_; }
  bool done() const override { return false; }
  void add(std::int64_t seq, std::int64_t sid, std::int64_t at, std::string_view id) override {
    if (seq > upto_ || id.size() != detail::kOidBytes) return;
    Found& f = found_.emplace_back(Found{seq, sid, at, {}});
    std::copy(id.begin(), id.end(), f.id.begin());
    if (found_.size() >= 2 * limit_) trim();
  }
  // At least `limit` kept: every later epoch holds higher positions.
  bool full() const { return found_.size() >= limit_; }
  // The lowest `limit`, in seq order.
  std::vector<Found> take() {
    trim();
    std::sort(found_.begin(), found_.end(), by_seq);
    return std::move(found_);
  }

 private:
  static bool by_seq(const Found& a, const Found& b) { return a.seq < b.seq; }
  void trim() {
    if (found_.size() <= limit_) return;
    std::nth_element(found_.begin(), found_.begin() + static_cast<std::ptrdiff_t>(limit_ - 1),
                     found_.end(), by_seq);
    upto_ = found_[limit_ - 1].seq;
    found_.resize(limit_);
  }
  std::size_t limit_;
  std::int64_t upto_;
  std::vector<Found> found_;
};

class Counter final : public Sink {
 public:
  Counter(std::int64_t cap, std::int64_t upto) : cap_(cap), upto_(upto) {}
  std::int64_t upto() const override { return upto_; }
  bool done() const override { return n_ >= cap_; }
  void add(std::int64_t, std::int64_t, std::int64_t, std::string_view) override { ++n_; }
  std::int64_t count() const { return std::min(n_, cap_); }

 private:
  std::int64_t cap_;
  std::int64_t upto_;
  std::int64_t n_ = 0;
};

// A run of an epoch that reaches into the positions wanted: its range of channel `cid`, the
// lowest position of its records of QoS 1 or 2, and the highest (`seq`, with `sid`, the
// record's when the run is one record).
struct EpochRun {
  struct Key {  // a record's place (at, id) in its channel
    std::int64_t at;
    detail::OidBytes id;
    friend bool operator<(const Key& a, const Key& b) {
      return std::pair(a.at, detail::oid_view(a.id)) < std::pair(b.at, detail::oid_view(b.id));
    }
  };
  std::int64_t cid;
  Key lo, hi;
  std::int64_t min_seq;
  std::int64_t seq;
  std::int64_t sid;
  bool single() const { return lo.at == hi.at && lo.id == hi.id; }
};

// Columns c.. hi_at, hi_id, lo_at, lo_id of the current row of `runs`, into `run`.
void read_range(const Stmt& runs, int c, EpochRun& run) {
  const auto key = [&](int col, EpochRun::Key& k) {
    k.at = runs.int64(col);
    const std::string_view id = runs.blob_view(col + 1);
    k.id.fill(0);
    std::copy_n(id.begin(), std::min(id.size(), k.id.size()), k.id.begin());
  };
  key(c, run.hi);
  key(c + 2, run.lo);
}

// The runs' records in (after, sink.upto()]. Runs of a channel whose ranges overlap (the
// series that publish on one channel at the same time, or a record of a series stored later
// with a time inside an earlier run of it) are merged, and each merged range is read once,
// keeping the rows of the epoch's selected series: every record of the epoch is read at most
// once, and a range of interleaved series is not read again for each. A run of one record that
// overlaps no other is its record, without a read.
void visit_runs(ReplayStatements& st, const detail::ReplayState& s, std::int64_t ep,
                std::vector<EpochRun>& runs, std::int64_t after, Sink& sink) {
  std::sort(runs.begin(), runs.end(), [](const EpochRun& a, const EpochRun& b) {
    return a.cid != b.cid ? a.cid < b.cid : a.lo < b.lo;
  });
  Stmt& rows = st.rows_in_range;  // at, id, sid, seq
  for (std::size_t i = 0; i < runs.size() && !sink.done();) {
    const EpochRun& first = runs[i];
    EpochRun::Key hi = first.hi;
    std::int64_t min_seq = first.min_seq;
    std::size_t j = i + 1;
    for (; j < runs.size() && runs[j].cid == first.cid && !(hi < runs[j].lo); ++j) {
      if (hi < runs[j].hi) hi = runs[j].hi;
      min_seq = std::min(min_seq, runs[j].min_seq);
    }
    const bool alone = j == i + 1;
    i = j;
    if (min_seq > sink.upto()) continue;  // Lowest has enough below it
    if (alone && first.single()) {
      if (first.seq > after) sink.add(first.seq, first.sid, first.lo.at, detail::oid_view(first.lo.id));
      continue;
    }
    auto use = rows.use();
    rows.bind(1, first.cid);
    rows.bind(2, first.lo.at);
    rows.bind_blob_static(3, first.lo.id.data(), first.lo.id.size());
    rows.bind(4, hi.at);
    rows.bind_blob_static(5, hi.id.data(), hi.id.size());
    rows.bind(6, ep);
    rows.bind(7, after);
    rows.bind(8, sink.upto());
    while (!sink.done() && rows.step()) {
      const std::int64_t sid = rows.int64(2);
      if (s.series.count(sid) == 0) continue;  // another device's, or a topic not selected
      sink.add(rows.int64(3), sid, rows.int64(0), rows.blob_view(1));
    }
  }
}

// One epoch's records of the selected series: every run of the epoch when they are many,
// else each series' runs.
void visit_epoch(ReplayStatements& st, const detail::ReplayState& s, std::int64_t ep,
                 std::int64_t epoch_records, std::int64_t after, Sink& sink) {
  std::int64_t in_epoch = 0;
  for (const auto& [sid, info] : s.series) in_epoch += s.in(info, ep) ? 1 : 0;
  if (in_epoch == 0) return;
  std::vector<EpochRun> runs;
  if (in_epoch * kRowsPerProbe >= epoch_records) {
    Stmt& all = st.runs_in_epoch;  // sid, seq, seq_span, hi_at, hi_id, lo_at, lo_id
    auto use = all.use();
    all.bind(1, ep);
    all.bind(2, after);
    all.bind(3, sink.upto());
    while (all.step()) {
      const auto it = s.series.find(all.int64(0));
      if (it == s.series.end()) continue;
      const std::int64_t seq = all.int64(1);
      EpochRun& run = runs.emplace_back(EpochRun{it->second.cid, {}, {}, seq - all.int64(2), seq, it->first});
      read_range(all, 3, run);
    }
  } else {
    Stmt& of_series = st.runs_of_series;  // hi_at, hi_id, lo_at, lo_id, seq, seq_span
    for (const auto& [sid, info] : s.series) {
      if (!s.in(info, ep)) continue;
      auto use = of_series.use();
      of_series.bind(1, ep);
      of_series.bind(2, sid);
      of_series.bind(3, after);
      of_series.bind(4, sink.upto());
      while (of_series.step()) {
        const std::int64_t seq = of_series.int64(4);
        EpochRun& run =
            runs.emplace_back(EpochRun{info.cid, {}, {}, seq - of_series.int64(5), seq, sid});
        read_range(of_series, 0, run);
      }
    }
  }
  visit_runs(st, s, ep, runs, after, sink);
}

// The epochs that may hold positions in (after, upto], in seq order (ep order: a transaction
// stores into the newest epoch, so later epochs hold higher positions), as (ep, min_seq).
std::vector<std::pair<std::int64_t, std::int64_t>> epochs_after(ReplayStatements& st,
                                                                std::int64_t after,
                                                                std::int64_t upto) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  auto use = st.epochs_after.use();
  st.epochs_after.bind(1, after);
  st.epochs_after.bind(2, upto);
  while (st.epochs_after.step())
    out.emplace_back(st.epochs_after.int64(0), st.epochs_after.int64(1));
  return out;
}

// Reads the lowest `keep` positions in (after, upto] into s.found, and what they cover.
void read_positions(ReplayStatements& st, std::int64_t epoch_records, detail::ReplayState& s,
                    std::int64_t after, std::int64_t upto, std::size_t keep) {
  const std::int64_t visible = single_int(st.last_seq);
  Lowest lowest(keep, upto);
  for (const auto& [ep, min_seq] : epochs_after(st, after, upto)) {
    if (lowest.full() || min_seq > lowest.upto()) break;
    visit_epoch(st, s, ep, epoch_records, after, lowest);
  }
  s.found = lowest.take();
  s.lo = after;
  // Every position up to the highest kept is among them; when fewer than `keep`, every
  // position stored so far (or up to `upto`).
  s.hi = s.found.size() >= keep ? s.found.back().seq : std::min(upto, visible);
}

// Moves the positions read ahead that follow `after` (up to `upto`) into `take`, up to `limit`
// in all; `after` becomes where the next ones are to be looked for.
void take_read_ahead(const detail::ReplayState& s, std::int64_t& after, std::int64_t upto,
                     std::size_t limit, std::vector<Found>& take) {
  if (after < s.lo || after >= s.hi) return;
  const std::int64_t end = std::min(upto, s.hi);
  auto it = std::upper_bound(s.found.begin(), s.found.end(), after,
                             [](std::int64_t seq, const Found& f) { return seq < f.seq; });
  for (; it != s.found.end() && it->seq <= end && take.size() < limit; ++it) {
    take.push_back(*it);
  }
  after = take.size() < limit ? end : take.back().seq;
}

}  // namespace

namespace detail {

ReplayStatements::ReplayStatements(sqlite3* db)
    :  // The series of an account's devices (of one of them; created after ?2): sid, cid, of,
       // channel, first_ep, last_ep.
      account_series(db,
                     "SELECT s.sid, s.cid, s.of, s.channel, s.first_ep, s.last_ep "
                     "FROM devices d CROSS JOIN series s ON s.of = d.id WHERE d.account_id = ?1",
                     kPersistent),
      device_series(db,
                    "SELECT s.sid, s.cid, s.of, s.channel, s.first_ep, s.last_ep "
                    "FROM devices d CROSS JOIN series s ON s.of = d.id "
                    "WHERE d.id = ?2 AND d.account_id = ?1",
                    kPersistent),
      series_after(db,
                   "SELECT s.sid, s.cid, s.of, s.channel, s.first_ep, s.last_ep "
                   "FROM series s CROSS JOIN devices d ON d.id = s.of "
                   "WHERE s.sid > ?2 AND d.account_id = ?1",
                   kPersistent),
      max_sid(db, "SELECT max(sid) FROM series", kPersistent),
      newest_ep(db, "SELECT max(ep) FROM epochs", kPersistent),
      admin_version(db, "SELECT n FROM admin_version", kPersistent),
      epochs_after(db,
                   "SELECT ep, min_seq FROM epochs WHERE max_seq > ?1 AND min_seq <= ?2 "
                   "ORDER BY ep",
                   kPersistent),
      // The runs of an epoch (of one series in it) that may hold records with ?2 < seq <= ?3
      // (?3 < seq <= ?4); records of QoS 0 have no seq, runs of them alone neither.
      runs_in_epoch(db,
                    "SELECT sid, seq, seq_span, hi_at, hi_id, lo_at, lo_id FROM runs "
                    "WHERE ep = ?1 AND seq > ?2 AND seq - seq_span <= ?3",
                    kPersistent),
      runs_of_series(db,
                     "SELECT hi_at, hi_id, lo_at, lo_id, seq, seq_span FROM runs WHERE ep = ?1 "
                     "AND sid = ?2 AND seq > ?3 AND seq - seq_span <= ?4",
                     kPersistent),
      // The records of QoS 1 or 2 of epoch ?6 in channel ?1 with (?2, ?3) <= (at, id) <=
      // (?4, ?5) and ?7 < seq <= ?8.
      rows_in_range(db,
                    "SELECT at, id, sid, seq FROM data WHERE cid = ?1 AND (at, id) >= (?2, ?3) "
                    "AND (at, id) <= (?4, ?5) AND ep = ?6 AND seq > ?7 AND seq <= ?8",
                    kPersistent),
      record_by_key(db,
                    "SELECT data, expire_at, qos, seq FROM data WHERE cid = ?1 AND at = ?2 "
                    "AND id = ?3",
                    kPersistent),
      // A channel's records from (?2, ?3) on, in its order.
      records_from(db,
                   "SELECT at, id, data, expire_at, qos, seq FROM data WHERE cid = ?1 "
                   "AND (at, id) >= (?2, ?3) ORDER BY at, id",
                   kPersistent),
      // Retained messages of an account's devices (of one of them): sid, cid, of, channel,
      // the record's at, id and seq.
      retained_of_account(db,
                          "SELECT s.sid, s.cid, s.of, s.channel, r.at, r.id, r.seq "
                          "FROM retained r CROSS JOIN series s ON s.sid = r.sid "
                          "WHERE r.account_id = ?1",
                          kPersistent),
      retained_of_device(db,
                         "SELECT s.sid, s.cid, s.of, s.channel, r.at, r.id, r.seq "
                         "FROM devices d "
                         "CROSS JOIN series s ON s.of = d.id CROSS JOIN retained r "
                         "ON r.sid = s.sid WHERE d.id = ?2 AND d.account_id = ?1",
                         kPersistent),
      retained_count(db,
                     "SELECT count(*) FROM retained r CROSS JOIN series s ON s.sid = r.sid "
                     "CROSS JOIN data d ON d.cid = s.cid AND d.at = r.at AND d.id = r.id",
                     kPersistent),
      // The highest position stored: the newest epoch's bound.
      last_seq(db, "SELECT max_seq FROM epochs ORDER BY ep DESC LIMIT 1", kPersistent) {}

}  // namespace detail

// A chunk of a wide session's replay reads every run of an epoch (65,536 records): read ahead,
// it reads them once per kReadAhead records at most.
ReplayCursor::ReplayCursor(std::size_t read_ahead)
    : state_(std::make_unique<detail::ReplayState>()) {
  state_->read_ahead = read_ahead;
}
ReplayCursor::~ReplayCursor() = default;
ReplayCursor::ReplayCursor(ReplayCursor&&) noexcept = default;
ReplayCursor& ReplayCursor::operator=(ReplayCursor&&) noexcept = default;

std::int64_t DataStore::last_seq() {
  flush();  // this transaction's own records
  return single_int(st_->replay.last_seq);
}

std::vector<platform::Record> DataStore::replay(const ReplayQuery& q) {
  ReplayCursor once(0);
  return replay_with(q, *once.state_);
}

std::vector<platform::Record> DataStore::replay(const ReplayQuery& q, ReplayCursor& cursor) {
  if (!cursor.state_) cursor = ReplayCursor();  // moved from
  return replay_with(q, *cursor.state_);
}

std::vector<platform::Record> DataStore::replay_with(const ReplayQuery& q, detail::ReplayState& s) {
  detail::throw_unless_valid(q.filters);
  if (q.limit <= 0 || q.filters.empty() || q.upto_seq <= q.after_seq) return {};
  if (s.account_id != q.account_id || s.filters != q.filters) {
    s = detail::ReplayState{s.read_ahead};
    s.account_id = q.account_id;
    s.filters = q.filters;
  }
  flush();  // this transaction's own records
  auto txn = db_.read_transaction();
  ReplayStatements& st = st_->replay;
  read_series(st, s);
  const auto limit = static_cast<std::size_t>(q.limit);
  std::vector<Found> take;
  std::int64_t after = q.after_seq;
  take_read_ahead(s, after, q.upto_seq, limit, take);
  if (take.size() < limit && after < q.upto_seq && !s.series.empty()) {
    read_positions(st, epoch_records_, s, after, q.upto_seq,
                   std::max(s.read_ahead, limit - take.size()));
    take_read_ahead(s, after, q.upto_seq, limit, take);
  }
  return detail::fetch_records(st, s.series, take);
}

std::int64_t DataStore::replay_count(const ReplayQuery& q) {
  detail::throw_unless_valid(q.filters);
  if (q.limit <= 0 || q.filters.empty() || q.upto_seq <= q.after_seq) return 0;
  flush();
  auto txn = db_.read_transaction();
  ReplayStatements& st = st_->replay;
  detail::ReplayState s;
  s.account_id = q.account_id;
  s.filters = q.filters;
  read_series(st, s);
  if (s.series.empty()) return 0;
  Counter counter(q.limit, q.upto_seq);
  for (const auto& [ep, min_seq] : epochs_after(st, q.after_seq, q.upto_seq)) {
    if (counter.done()) break;
    visit_epoch(st, s, ep, epoch_records_, q.after_seq, counter);
  }
  return counter.count();
}

}  // namespace plugmq::store
