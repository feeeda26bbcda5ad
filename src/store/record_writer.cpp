// DataStore's writer side: the epochs, series and runs of the record index, the records'
// positions and the retained messages (docs/storage.md), and the hooks that keep them
// consistent with the connection's transactions.
#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <utility>

#include "plugmq/platform/saturating.hpp"
#include "plugmq/store/data.hpp"
#include "record_planner.hpp"
#include "record_statements.hpp"

namespace plugmq::store {

using detail::OidBytes;
using detail::SeriesState;
using platform::saturating_add;

namespace {

// A run holds one series' records of one transaction whose times lie within this span; a
// record further out starts another run. A series read scans each run's range of the channel,
// other series' rows included, so a run spread over a long time (a publisher sending old
// records, a writer catching up on a backlog) would cost a long scan.
constexpr std::int64_t kRunSpanMs = 1000;
// An epoch's `at` bounds are widened with this slack, so that records stamped with the current
// time widen them about once a minute.
constexpr std::int64_t kSlackMs = 60'000;
// The data of a retained publish with an empty payload, which removes its topic's retained
// message instead [MQTT-3.3.1-10] (SPEC 11: such a record is stored with data "").
constexpr std::string_view kEmptyData = "\"\"";

constexpr auto kPersistent = Stmt::Lifetime::kPersistent;

}  // namespace

namespace detail {

WriterStatements::WriterStatements(sqlite3* db)
    : insert(db,
             "INSERT INTO data (at, id, sid, ep, expire_at, data, cid, seq, qos) "
             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
             kPersistent),
      at_add(db, "INSERT INTO data_at (id, at, cid) VALUES (?1, ?2, ?3)", kPersistent),
      channel_add(db, "INSERT INTO channels (channel) VALUES (?1) ON CONFLICT DO NOTHING",
                  kPersistent),
      channel_get(db, "SELECT cid FROM channels WHERE channel = ?1", kPersistent),
      series_add(db,
                 "INSERT INTO series (of, channel, cid, first_ep, last_ep) "
                 "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT DO NOTHING",
                 kPersistent),
      series_get(db, "SELECT sid, cid FROM series WHERE of = ?1 AND channel = ?2", kPersistent),
      series_in_epoch(db, "UPDATE series SET last_ep = ?2 WHERE sid = ?1 AND last_ep < ?2",
                      kPersistent),
      // The newest epoch: it holds the highest seq stored.
      epoch_last(db, "SELECT ep, max_seq FROM epochs ORDER BY ep DESC LIMIT 1", kPersistent),
      // Creates the epoch (its first record has seq ?4) or widens its `at` bounds.
      epoch_widen(db,
                  "INSERT INTO epochs (ep, min_at, max_at, min_seq, max_seq) "
                  "VALUES (?1, ?2, ?3, ?4, ?4) "
                  "ON CONFLICT (ep) DO UPDATE SET min_at = min(min_at, excluded.min_at), "
                  "max_at = max(max_at, excluded.max_at)",
                  kPersistent),
      epoch_lower_exp(db,
                      "UPDATE epochs SET min_exp = ?2 "
                      "WHERE ep = ?1 AND (min_exp IS NULL OR min_exp > ?2)",
                      kPersistent),
      epoch_seq(db, "UPDATE epochs SET max_seq = ?2 WHERE ep = ?1", kPersistent),
      // A run may end where a run of the same series and epoch ended before: an update (SPEC
      // 4) stored again at the `at` and id of the record it replaced, which was the last of a
      // longer run. The two are then one run, their bounds merged (docs/decisions/019).
      run_add(db,
              "INSERT INTO runs (ep, sid, hi_at, hi_id, lo_at, lo_id, min_exp, seq, seq_span) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
              "ON CONFLICT (ep, sid, hi_at, hi_id) DO UPDATE SET "
              "lo_at = CASE WHEN (excluded.lo_at, excluded.lo_id) < (lo_at, lo_id) "
              "THEN excluded.lo_at ELSE lo_at END, "
              "lo_id = CASE WHEN (excluded.lo_at, excluded.lo_id) < (lo_at, lo_id) "
              "THEN excluded.lo_id ELSE lo_id END, "
              "min_exp = CASE WHEN min_exp IS NULL THEN excluded.min_exp "
              "WHEN excluded.min_exp IS NULL THEN min_exp ELSE min(min_exp, excluded.min_exp) END, "
              "seq = CASE WHEN seq IS NULL THEN excluded.seq WHEN excluded.seq IS NULL THEN seq "
              "ELSE max(seq, excluded.seq) END, "
              "seq_span = CASE WHEN seq IS NULL THEN excluded.seq_span "
              "WHEN excluded.seq IS NULL THEN seq_span ELSE max(seq, excluded.seq) - "
              "min(seq - seq_span, excluded.seq - excluded.seq_span) END",
              kPersistent),
      retained_set(db,
                   "INSERT INTO retained (sid, at, id, seq, account_id) "
                   "SELECT ?1, ?2, ?3, ?4, account_id FROM devices WHERE id = ?5 "
                   "ON CONFLICT (sid) DO UPDATE SET at = excluded.at, id = excluded.id, "
                   "seq = excluded.seq, account_id = excluded.account_id",
                   kPersistent),
      retained_clear(db, "DELETE FROM retained WHERE sid = ?1", kPersistent) {}

}  // namespace detail

DataStore::DataStore(Db& db, std::int64_t epoch_records)
    : db_(db), epoch_records_(std::max<std::int64_t>(epoch_records, 1)), props_(db, *this) {
  detail::register_pick(db.handle());  // before the statements that call it are prepared
  st_ = std::make_unique<detail::RecordStatements>(db.handle());
  // Ingest keeps the current epoch's part of `runs` and the right edges of the other
  // indexes hot; SQLite's default 2 MB cache would re-read them for every batch. Allocated as
  // used.
  db.exec("PRAGMA cache_size = -65536");
  detail::WriterState* state = &st_->state;
  sqlite3_rollback_hook(
      db.handle(), [](void* st) { static_cast<detail::WriterState*>(st)->forget(); }, state);
  // Runs and the highest position are written at the end of each transaction:
  // Db::transaction() does it, and a COMMIT that would leave them unwritten (a transaction begun
  // and committed some other way) fails and rolls back rather than store records that series
  // reads cannot find, or positions that the next transaction would take again.
  db.set_before_commit([](void* self) { static_cast<DataStore*>(self)->flush(); }, this);
  sqlite3_commit_hook(
      db.handle(),
      [](void* st) {
        const auto* w = static_cast<detail::WriterState*>(st);
        return w->pending.empty() && !w->seq_open ? 0 : 1;
      },
      state);
}

DataStore::~DataStore() {
  sqlite3_commit_hook(db_.handle(), nullptr, nullptr);
  db_.set_before_commit(nullptr, nullptr);
  sqlite3_rollback_hook(db_.handle(), nullptr, nullptr);
}

void DataStore::write_run(SeriesState& series) {
  Stmt& add = st_->write.run_add;
  auto use = add.use();
  add.bind(1, series.run_ep);
  add.bind(2, series.sid);
  add.bind(3, series.hi_at);
  add.bind_blob_static(4, series.hi_id.data(), series.hi_id.size());
  add.bind(5, series.lo_at);
  add.bind_blob_static(6, series.lo_id.data(), series.lo_id.size());
  add.bind(7, series.min_exp);
  // Bounds of the positions replay may want: NULL when every record of the run is QoS 0.
  add.bind(8, series.hi_seq);
  add.bind(9, series.hi_seq ? *series.hi_seq - *series.lo_seq : 0);
  add.step();
  series.in_run = false;
}

void DataStore::flush() {
  detail::WriterState& st = st_->state;
  if (st.pending.empty()) return;
  // Taken first: outside a transaction each run commits as it is written, and the commit hook
  // refuses a COMMIT while runs are pending. Inside one, a failure rolls back, which forgets
  // every series (and so what was taken here).
  std::vector<SeriesState*> pending;
  pending.swap(st.pending);
  for (SeriesState* series : pending) series->queued = false;
  for (SeriesState* series : pending) {
    if (series->in_run) write_run(*series);
  }
  pending.clear();
  if (st.pending.empty()) st.pending.swap(pending);  // keeps the capacity
  if (st.seq_open) {
    write_epoch_seq();
    st.seq_open = false;  // the next insert reads the highest seq again
  }
}

void DataStore::write_epoch_seq() {
  detail::WriterState& st = st_->state;
  const std::int64_t last = st.next_seq - 1;  // the last record this connection stored in `ep`
  if (st.ep < 0 || last <= st.ep_max_seq) return;
  Stmt& s = st_->write.epoch_seq;
  auto use = s.use();
  s.bind(1, st.ep);
  s.bind(2, last);
  s.step();
  st.ep_max_seq = last;
}

void DataStore::open_positions() {
  detail::WriterState& st = st_->state;
  Stmt& newest = st_->write.epoch_last;
  std::int64_t ep = -1, max_seq = 0;
  {
    auto use = newest.use();
    if (newest.step()) {
      ep = newest.int64(0);
      max_seq = newest.optional_int64(1).value_or(0);  // NULL: no record has a seq yet
    }
  }
  st.seq_open = true;
  st.next_seq = max_seq + 1;
  // Every insert goes into the newest epoch, so that its max_seq is the highest seq stored: once
  // another connection opened a newer one, this connection opens the next.
  if (st.ep != ep) st.ep = -1;
}

SeriesState& DataStore::series(std::string_view of, std::string_view channel) {
  detail::WriterState& st = st_->state;
  detail::WriterStatements& w = st_->write;
  std::string& key = st.key;
  key.assign(of);
  key += '\0';
  key += channel;
  if (auto it = st.sids.find(key); it != st.sids.end()) return it->second;
  std::int64_t cid;
  {
    auto use = w.channel_add.use();
    w.channel_add.bind_static(1, channel);
    w.channel_add.step();
  }
  {
    auto use = w.channel_get.use();
    w.channel_get.bind_static(1, channel);
    if (!w.channel_get.step()) throw Error(Error::Code::kDb, "channel row missing after insert");
    cid = w.channel_get.int64(0);
  }
  {
    auto use = w.series_add.use();
    w.series_add.bind_static(1, of);
    w.series_add.bind_static(2, channel);
    w.series_add.bind(3, cid);
    w.series_add.bind(4, st.ep);
    w.series_add.step();
  }
  Stmt& get = w.series_get;
  auto use = get.use();
  get.bind_static(1, of);
  get.bind_static(2, channel);
  if (!get.step()) throw Error(Error::Code::kDb, "series row missing after insert");
  return st.sids.emplace(key, SeriesState{get.int64(0), get.int64(1)}).first->second;
}

void DataStore::prepare_epoch(const platform::Record& r) {
  detail::WriterState& st = st_->state;
  detail::WriterStatements& w = st_->write;
  if (!st.seq_open) open_positions();
  if (st.ep < 0 || st.ep_records >= epoch_records_) {
    // A new epoch: after every other one, including those of other connections (the write
    // lock is held: none can open one meanwhile). The full one gets its exact seq bound.
    write_epoch_seq();
    std::int64_t newest = -1;
    {
      auto use = w.epoch_last.use();
      if (w.epoch_last.step()) newest = w.epoch_last.int64(0);
    }
    st.ep = newest + 1;
    st.ep_records = 0;
    st.ep_min = 0;
    st.ep_max = -1;  // empty: the widening below creates the row, with min_seq = max_seq = next
    st.ep_min_exp.reset();
    st.ep_max_seq = st.next_seq;
  }
  if (r.at < st.ep_min || r.at > st.ep_max) {
    const bool empty = st.ep_max < st.ep_min;
    const std::int64_t lo = empty ? saturating_add(r.at, -kSlackMs)
                                  : std::min(st.ep_min, saturating_add(r.at, -kSlackMs));
    const std::int64_t hi = empty ? saturating_add(r.at, kSlackMs)
                                  : std::max(st.ep_max, saturating_add(r.at, kSlackMs));
    auto use = w.epoch_widen.use();
    w.epoch_widen.bind(1, st.ep);
    w.epoch_widen.bind(2, lo);
    w.epoch_widen.bind(3, hi);
    w.epoch_widen.bind(4, st.next_seq);
    w.epoch_widen.step();
    st.ep_min = lo;
    st.ep_max = hi;
  }
  if (r.expire_at && (!st.ep_min_exp || *r.expire_at < *st.ep_min_exp)) {
    auto use = w.epoch_lower_exp.use();
    w.epoch_lower_exp.bind(1, st.ep);
    w.epoch_lower_exp.bind(2, *r.expire_at);
    w.epoch_lower_exp.step();
    st.ep_min_exp = r.expire_at;
  }
}

std::int64_t DataStore::insert(const platform::Record& r) {
  if (!db_.in_transaction()) {
    // In a transaction of its own: reading the highest seq and storing the next one must not
    // let another connection's commit in between.
    std::int64_t seq = 0;
    db_.transaction([&] { seq = insert(r); });
    return seq;
  }
  if (r.qos < 0 || r.qos > 2) {
    throw Error(Error::Code::kInvalid, "invalid qos " + std::to_string(r.qos) + " of " + r.id);
  }
  const OidBytes id = detail::oid_or_throw(r.id);
  // An update: the record it replaces goes first (record_update.cpp); r takes a new position,
  // and its place as its topic's retained message.
  const bool replaces_retained = r.update && drop_replaced(r, id);
  detail::WriterState& st = st_->state;
  detail::WriterStatements& w = st_->write;
  prepare_epoch(r);
  const std::int64_t seq = st.next_seq;
  SeriesState& series = this->series(r.of, r.channel);
  if (series.marked_ep != st.ep) {
    auto use = w.series_in_epoch.use();
    w.series_in_epoch.bind(1, series.sid);
    w.series_in_epoch.bind(2, st.ep);
    w.series_in_epoch.step();
    series.marked_ep = st.ep;
  }
  if (detail::floor_div(r.at, 1000) != detail::oid_seconds(id.data())) {
    // Not findable through its OID's second: data_at places it.
    auto use = w.at_add.use();
    w.at_add.bind_blob_static(1, id.data(), id.size());
    w.at_add.bind(2, r.at);
    w.at_add.bind(3, series.cid);
    w.at_add.step();
  }
  {
    Stmt& s = w.insert;
    auto use = s.use();
    s.bind(1, r.at);
    s.bind_blob_static(2, id.data(), id.size());
    s.bind(3, series.sid);
    s.bind(4, st.ep);
    s.bind(5, r.expire_at);
    s.bind_static(6, r.data_json);
    s.bind(7, series.cid);
    // Only replay reads a record's position, and it never wants a QoS 0 record: those store
    // none (no payload byte instead of 3 to 5).
    s.bind(8, r.qos > 0 ? std::optional<std::int64_t>(seq) : std::nullopt);
    s.bind(9, r.qos);
    s.step();
  }
  ++st.next_seq;
  ++st.ep_records;
  extend_run(series, r, id, seq);
  if (r.retain || replaces_retained) set_retained(series.sid, r, id, seq);
  return seq;
}

void DataStore::set_retained(std::int64_t sid, const platform::Record& r, const OidBytes& id,
                             std::int64_t seq) {
  detail::WriterStatements& w = st_->write;
  Stmt& s = r.data_json == kEmptyData ? w.retained_clear : w.retained_set;
  auto use = s.use();
  s.bind(1, sid);
  if (r.data_json != kEmptyData) {
    s.bind(2, r.at);
    s.bind_blob_static(3, id.data(), id.size());
    s.bind(4, seq);
    s.bind_static(5, r.of);  // a publisher that is no device (gone meanwhile) retains nothing
  }
  s.step();
}

void DataStore::extend_run(SeriesState& series, const platform::Record& r, const OidBytes& id,
                           std::int64_t seq) {
  detail::WriterState& st = st_->state;
  // The record joins its series' run, unless the run belongs to an earlier epoch or would
  // spread over more than kRunSpanMs: then that run is written and a new one begins.
  auto too_wide = [&] {
    std::int64_t span;  // `at` is any 64-bit value a publisher sent
    return __builtin_sub_overflow(std::max(series.hi_at, r.at), std::min(series.lo_at, r.at),
                                  &span) ||
           span > kRunSpanMs;
  };
  if (series.in_run && (series.run_ep != st.ep || too_wide())) write_run(series);
  auto position_below = [](std::int64_t at_a, const OidBytes& id_a, std::int64_t at_b,
                           const OidBytes& id_b) {
    return at_a != at_b ? at_a < at_b : id_a < id_b;  // std::array compares bytes unsigned
  };
  if (!series.in_run) {
    series.in_run = true;
    series.run_ep = st.ep;
    series.lo_at = series.hi_at = r.at;
    series.lo_id = series.hi_id = id;
    series.min_exp = r.expire_at;
    series.lo_seq.reset();
    series.hi_seq.reset();
  } else {
    if (position_below(r.at, id, series.lo_at, series.lo_id)) {
      series.lo_at = r.at;
      series.lo_id = id;
    }
    if (position_below(series.hi_at, series.hi_id, r.at, id)) {
      series.hi_at = r.at;
      series.hi_id = id;
    }
    if (r.expire_at && (!series.min_exp || *r.expire_at < *series.min_exp)) {
      series.min_exp = r.expire_at;
    }
  }
  if (r.qos > 0) {  // a connection stores its records in seq order
    if (!series.lo_seq) series.lo_seq = seq;
    series.hi_seq = seq;
  }
  if (!series.queued) {
    series.queued = true;
    st.pending.push_back(&series);
  }
}

}  // namespace plugmq::store
