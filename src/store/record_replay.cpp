// DataStore's replay of what persistent sessions missed, and the retained messages (SPEC 11).
// A session's filters select series (publisher, channel) of its account's devices; its records
// after a position are found epoch by epoch in seq order, through the runs of those series and
// the rows of the longer runs (docs/storage.md, "Positions").
#include <algorithm>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "plugmq/base/topic_filter.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/store/data.hpp"
#include "record_planner.hpp"
#include "record_statements.hpp"

namespace plugmq::store {

using detail::Pos;
using detail::ReplayStatements;
using detail::RunRange;

namespace {

constexpr auto kPersistent = Stmt::Lifetime::kPersistent;

// About how many run rows a scan of an epoch's runs reads in the time of one probe of one
// series' runs: from (series in the epoch) x this many rows per epoch's records, reading all of
// the epoch's runs costs less than probing each series.
constexpr std::int64_t kRowsPerProbe = 16;

void throw_unless_valid(const std::vector<std::string>& filters) {
  for (const auto& f : filters) {
    if (!detail::valid_filter(f)) throw Error(Error::Code::kInvalid, "invalid topic filter: " + f);
  }
}

// A series of the account that the filters select.
struct SeriesInfo {
  std::int64_t cid;
  std::string of;
  std::string channel;
  std::int64_t first_ep;
  std::int64_t last_ep;
  bool in(std::int64_t ep) const { return first_ep <= ep && ep <= last_ep; }
};
using SeriesMap = std::unordered_map<std::int64_t, SeriesInfo>;

// Whether the topic of series (of, channel), OF/data/CHANNEL, matches one of the filters.
// `topic` is a reused buffer.
bool selected(const std::vector<std::string>& filters, std::string_view of,
              std::string_view channel, std::string& topic) {
  topic.assign(of).append("/data/").append(channel);
  return std::any_of(filters.begin(), filters.end(),
                     [&](const std::string& f) { return base::filter_matches(f, topic); });
}

// The devices that the filters name in their first level, when every one names one: only
// their series can match. Nothing when a filter begins with a wildcard.
std::optional<std::set<std::string>> named_devices(const std::vector<std::string>& filters) {
  std::set<std::string> out;
  for (const auto& f : filters) {
    const std::string first = f.substr(0, f.find('/'));
    if (first == "+" || first == "#") return std::nullopt;
    out.insert(first);
  }
  return out;
}

// Runs `each` over the rows of the series of the account's devices that the filters may select
// (account_series, or device_series per device named), each bound and stepped.
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

SeriesMap series_selected(ReplayStatements& st, std::string_view account_id,
                          const std::vector<std::string>& filters) {
  SeriesMap out;
  std::string topic;
  // Columns: sid, cid, of, channel, first_ep, last_ep.
  for_account_series(st.account_series, st.device_series, account_id, filters, [&](Stmt& s) {
    if (!selected(filters, s.text_view(2), s.text_view(3), topic)) return;
    out.emplace(s.int64(0), SeriesInfo{s.int64(1), std::string(s.text_view(2)),
                                       std::string(s.text_view(3)), s.int64(4), s.int64(5)});
  });
  return out;
}

// Where the records a replay visits go: positions kept (replay) or counted (replay_count).
class Sink {
 public:
  virtual ~Sink() = default;
  // The highest seq still wanted.
  virtual std::int64_t upto() const = 0;
  // Nothing more is wanted.
  virtual bool done() const = 0;
  virtual void add(std::int64_t seq, std::int64_t sid, std::int64_t at, std::string_view id) = 0;
};

// A record found: its position and its key (the series gives the channel).
struct Found {
  std::int64_t seq;
  std::int64_t sid;
  std::int64_t at;
  std::string id;
};

// The `limit` lowest positions offered. Above `limit * 2` it keeps the lowest `limit`, and from
// then on wants nothing above the highest of them.
class Lowest final : public Sink {
 public:
  Lowest(std::int64_t limit, std::int64_t upto)
      : limit_(static_cast<std::size_t>(limit)), upto_(upto) {}
  std::int64_t upto() const override { return upto_; }
  bool done() const override { return false; }
  void add(std::int64_t seq, std::int64_t sid, std::int64_t at, std::string_view id) override {
    if (seq > upto_) return;
    found_.push_back(Found{seq, sid, at, std::string(id)});
    if (found_.size() >= 2 * limit_) trim();
  }
  // At least `limit` kept: every later epoch has higher positions (epochs are in seq order).
  bool full() const { return found_.size() >= limit_; }
  // The lowest `limit`, in seq order.
  std::vector<Found> take() {
    trim();
    std::sort(found_.begin(), found_.end(),
              [](const Found& a, const Found& b) { return a.seq < b.seq; });
    return std::move(found_);
  }

 private:
  void trim() {
    if (found_.size() <= limit_) return;
    auto by_seq = [](const Found& a, const Found& b) { return a.seq < b.seq; };
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

// One run's records in (after, sink.upto()]: a run of one record is that record (its run goes
// with it), a longer one's rows are read from its range of the channel.
void visit_run(ReplayStatements& st, std::int64_t cid, std::int64_t sid, const RunRange& run,
               std::int64_t run_seq, std::int64_t after, Sink& sink) {
  if (run.single()) {
    if (run_seq > after && run_seq <= sink.upto()) sink.add(run_seq, sid, run.hi.at, run.hi.id);
    return;
  }
  const Pos lo = detail::before(run.lo);
  const Pos hi = detail::after(run.hi);
  Stmt& rows = st.rows_in_run;
  auto use = rows.use();
  detail::bind_run_scan(rows, cid, sid, lo, hi);
  rows.bind(7, after);
  rows.bind(8, sink.upto());
  while (!sink.done() && rows.step()) {
    sink.add(rows.int64(2), sid, rows.int64(0), rows.blob_view(1));
  }
}

// One epoch's records of the selected series: every run of the epoch when they are many,
// else each series' runs.
void visit_epoch(ReplayStatements& st, const SeriesMap& series, std::int64_t ep,
                 std::int64_t epoch_records, std::int64_t after, Sink& sink) {
  std::int64_t in_epoch = 0;
  for (const auto& [sid, info] : series) in_epoch += info.in(ep) ? 1 : 0;
  if (in_epoch == 0) return;
  if (in_epoch * kRowsPerProbe >= epoch_records) {
    Stmt& runs = st.runs_in_epoch;  // sid, hi_at, hi_id, lo_at, lo_id, seq
    auto use = runs.use();
    runs.bind(1, ep);
    runs.bind(2, after);
    runs.bind(3, sink.upto());
    while (!sink.done() && runs.step()) {
      const auto it = series.find(runs.int64(0));
      if (it == series.end()) continue;
      visit_run(st, it->second.cid, it->first, detail::run_at(runs, 1), runs.int64(5), after, sink);
    }
    return;
  }
  for (const auto& [sid, info] : series) {
    if (!info.in(ep) || sink.done()) continue;
    Stmt& runs = st.runs_of_series;  // hi_at, hi_id, lo_at, lo_id, seq
    auto use = runs.use();
    runs.bind(1, ep);
    runs.bind(2, sid);
    runs.bind(3, after);
    runs.bind(4, sink.upto());
    while (!sink.done() && runs.step()) {
      visit_run(st, info.cid, sid, detail::run_at(runs, 0), runs.int64(4), after, sink);
    }
  }
}

// The epochs that may hold positions in (after, upto], in seq order (ep order: each transaction
// stores into the newest epoch, so later epochs hold higher positions).
struct EpochSeq {
  std::int64_t ep;
  std::int64_t min_seq;
};

std::vector<EpochSeq> epochs_after(ReplayStatements& st, std::int64_t after, std::int64_t upto) {
  std::vector<EpochSeq> out;
  auto use = st.epochs_after.use();
  st.epochs_after.bind(1, after);
  st.epochs_after.bind(2, upto);
  while (st.epochs_after.step())
    out.push_back({st.epochs_after.int64(0), st.epochs_after.int64(1)});
  return out;
}

// The record at a key, with the series' publisher and channel; nothing when it is gone.
std::optional<platform::Record> record_at(ReplayStatements& st, const SeriesInfo& series,
                                          std::int64_t at, std::string_view id) {
  Stmt& get = st.record_by_key;  // data, expire_at, qos, seq
  auto use = get.use();
  get.bind(1, series.cid);
  get.bind(2, at);
  get.bind_blob_static(3, id.data(), id.size());
  if (!get.step()) return std::nullopt;
  platform::Record r;
  r.id = platform::oid_hex(id);
  r.of = series.of;
  r.channel = series.channel;
  r.data_json = get.text_view(0);
  r.at = at;
  r.expire_at = get.optional_int64(1);
  r.qos = static_cast<int>(get.int64(2));
  r.seq = get.optional_int64(3).value_or(0);
  return r;
}

}  // namespace

namespace detail {

ReplayStatements::ReplayStatements(sqlite3* db)
    :  // The series of an account's devices (of one of them): sid, cid, of, channel, epochs.
      account_series(db,
                     "SELECT s.sid, s.cid, s.of, s.channel, s.first_ep, s.last_ep "
                     "FROM devices d CROSS JOIN series s ON s.of = d.id WHERE d.account_id = ?1",
                     kPersistent),
      device_series(db,
                    "SELECT s.sid, s.cid, s.of, s.channel, s.first_ep, s.last_ep "
                    "FROM devices d CROSS JOIN series s ON s.of = d.id "
                    "WHERE d.id = ?2 AND d.account_id = ?1",
                    kPersistent),
      epochs_after(db,
                   "SELECT ep, min_seq FROM epochs WHERE max_seq > ?1 AND min_seq <= ?2 "
                   "ORDER BY ep",
                   kPersistent),
      // The runs of an epoch (of one series in it) that may hold records of QoS 1 or 2 with
      // ?2 < seq <= ?3 (?3 < seq <= ?4).
      runs_in_epoch(db,
                    "SELECT sid, hi_at, hi_id, lo_at, lo_id, seq FROM runs WHERE ep = ?1 "
                    "AND seq > ?2 AND seq - seq_span <= ?3 AND qos >= 1",
                    kPersistent),
      runs_of_series(db,
                     "SELECT hi_at, hi_id, lo_at, lo_id, seq FROM runs WHERE ep = ?1 AND sid = ?2 "
                     "AND seq > ?3 AND seq - seq_span <= ?4 AND qos >= 1",
                     kPersistent),
      // scan_run's parameters, and ?7 < seq <= ?8.
      rows_in_run(db,
                  "SELECT at, id, seq FROM data WHERE cid = ?1 AND (at, id) > (?2, ?3) "
                  "AND (at, id) < (?4, ?5) AND sid = ?6 AND seq > ?7 AND seq <= ?8 AND qos >= 1",
                  kPersistent),
      record_by_key(db,
                    "SELECT data, expire_at, qos, seq FROM data WHERE cid = ?1 AND at = ?2 "
                    "AND id = ?3",
                    kPersistent),
      // Retained messages of an account's devices (of one of them): sid, cid, of, channel,
      // the record's at and id.
      retained_of_account(db,
                          "SELECT s.sid, s.cid, s.of, s.channel, r.at, r.id FROM devices d "
                          "CROSS JOIN series s ON s.of = d.id CROSS JOIN retained r "
                          "ON r.sid = s.sid WHERE d.account_id = ?1",
                          kPersistent),
      retained_of_device(db,
                         "SELECT s.sid, s.cid, s.of, s.channel, r.at, r.id FROM devices d "
                         "CROSS JOIN series s ON s.of = d.id CROSS JOIN retained r "
                         "ON r.sid = s.sid WHERE d.id = ?2 AND d.account_id = ?1",
                         kPersistent),
      retained_count(db,
                     "SELECT count(*) FROM retained r CROSS JOIN series s ON s.sid = r.sid "
                     "CROSS JOIN data d ON d.cid = s.cid AND d.at = r.at AND d.id = r.id",
                     kPersistent),
      last_seq(db, "SELECT coalesce(max_seq, 0) FROM epochs ORDER BY ep DESC LIMIT 1",
               kPersistent) {}

}  // namespace detail

std::int64_t DataStore::last_seq() {
  flush();  // this transaction's own records
  Stmt& s = st_->replay.last_seq;
  auto use = s.use();
  return s.step() ? s.int64(0) : 0;
}

std::vector<platform::Record> DataStore::replay(const ReplayQuery& q) {
  throw_unless_valid(q.filters);
  if (q.limit <= 0 || q.filters.empty() || q.upto_seq <= q.after_seq) return {};
  flush();  // this transaction's own records
  auto txn = db_.read_transaction();
  ReplayStatements& st = st_->replay;
  const SeriesMap series = series_selected(st, q.account_id, q.filters);
  if (series.empty()) return {};
  Lowest lowest(q.limit, q.upto_seq);
  for (const EpochSeq& e : epochs_after(st, q.after_seq, q.upto_seq)) {
    if (lowest.full() || e.min_seq > lowest.upto()) break;
    visit_epoch(st, series, e.ep, epoch_records_, q.after_seq, lowest);
  }
  std::vector<platform::Record> out;
  for (const Found& f : lowest.take()) {
    if (auto r = record_at(st, series.at(f.sid), f.at, f.id)) out.push_back(std::move(*r));
  }
  return out;
}

std::int64_t DataStore::replay_count(const ReplayQuery& q) {
  throw_unless_valid(q.filters);
  if (q.limit <= 0 || q.filters.empty() || q.upto_seq <= q.after_seq) return 0;
  flush();
  auto txn = db_.read_transaction();
  ReplayStatements& st = st_->replay;
  const SeriesMap series = series_selected(st, q.account_id, q.filters);
  if (series.empty()) return 0;
  Counter counter(q.limit, q.upto_seq);
  for (const EpochSeq& e : epochs_after(st, q.after_seq, q.upto_seq)) {
    if (counter.done()) break;
    visit_epoch(st, series, e.ep, epoch_records_, q.after_seq, counter);
  }
  return counter.count();
}

std::vector<platform::Record> DataStore::retained(std::string_view account_id,
                                                  const std::vector<std::string>& filters) {
  throw_unless_valid(filters);
  std::vector<platform::Record> out;
  if (filters.empty()) return out;
  flush();
  auto txn = db_.read_transaction();
  ReplayStatements& st = st_->replay;
  std::string topic;
  // Columns: sid, cid, of, channel, at, id. Read into a list first: record_at() steps another
  // statement.
  std::vector<std::pair<SeriesInfo, Found>> entries;
  for_account_series(
      st.retained_of_account, st.retained_of_device, account_id, filters, [&](Stmt& s) {
        if (!selected(filters, s.text_view(2), s.text_view(3), topic)) return;
        entries.emplace_back(
            SeriesInfo{s.int64(1), std::string(s.text_view(2)), std::string(s.text_view(3)), 0, 0},
            Found{0, s.int64(0), s.int64(4), std::string(s.blob_view(5))});
      });
  for (const auto& [series, entry] : entries) {
    // Gone with its record (expired, deleted): the entry stays until the topic's next retained
    // publish, and is never shown.
    auto r = record_at(st, series, entry.at, entry.id);
    if (!r) continue;
    r->retain = true;
    out.push_back(std::move(*r));
  }
  std::sort(out.begin(), out.end(),
            [](const platform::Record& a, const platform::Record& b) { return a.seq < b.seq; });
  return out;
}

std::int64_t DataStore::retained_count() {
  flush();
  Stmt& s = st_->replay.retained_count;
  auto use = s.use();
  s.step();
  return s.int64(0);
}

}  // namespace plugmq::store
