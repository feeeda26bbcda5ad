// DataStore's deletes: the sweeper of expired records (SPEC 7), a device's records, a query's
// records and records by id. Each keeps the runs of the index consistent with what is left
// (docs/storage.md, "Retention").
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/store/data.hpp"
#include "record_planner.hpp"
#include "record_statements.hpp"

namespace plugmq::store {

using detail::as_limit;
using detail::OidBytes;
using detail::Pos;
using detail::RetentionStatements;
using detail::RunKey;

namespace {

// Runs the sweeper and delete_of() read at once, before deleting through them.
constexpr std::int64_t kRunsPerPass = 256;

constexpr auto kPersistent = Stmt::Lifetime::kPersistent;

// Deletes one record by its key; returns how many rows went (0 or 1).
std::size_t delete_key(Db& db, Stmt& del, std::int64_t at, const OidBytes& id, std::int64_t cid) {
  auto use = del.use();
  del.bind(1, at);
  del.bind_blob_static(2, id.data(), id.size());
  del.bind(3, cid);
  del.step();
  return static_cast<std::size_t>(db.changes());
}

}  // namespace

namespace detail {

RetentionStatements::RetentionStatements(sqlite3* db)
    :  // The epoch whose expiry bound is the earliest passed.
      epoch_due(db, "SELECT ep FROM epochs WHERE min_exp <= ?1 ORDER BY min_exp, ep LIMIT 1",
                kPersistent),
      // The records of one epoch's runs of one record expired at ?2, at most ?3 (their runs go
      // with them).
      delete_single_due(db,
                        "DELETE FROM data WHERE (cid, at, id) IN (SELECT s.cid, r.hi_at, "
                        "r.hi_id FROM runs r JOIN series s ON s.sid = r.sid WHERE r.ep = ?1 "
                        "AND r.min_exp <= ?2 AND r.lo_at = r.hi_at AND r.lo_id = r.hi_id "
                        "LIMIT ?3)",
                        kPersistent),
      // Runs of several records of one epoch with a record expired at ?2.
      runs_due(db,
               "SELECT r.sid, s.cid, r.hi_at, r.hi_id, r.lo_at, r.lo_id FROM runs r "
               "JOIN series s ON s.sid = r.sid WHERE r.ep = ?1 AND r.min_exp <= ?2 "
               "AND NOT (r.lo_at = r.hi_at AND r.lo_id = r.hi_id) LIMIT ?3",
               kPersistent),
      // The records of a publisher's runs of one record, at most ?2.
      delete_single_of(db,
                       "DELETE FROM data WHERE (cid, at, id) IN (SELECT s.cid, r.hi_at, r.hi_id "
                       "FROM series s CROSS JOIN epochs e "
                       "ON e.ep BETWEEN s.first_ep AND s.last_ep "
                       "CROSS JOIN runs r ON r.ep = e.ep AND r.sid = s.sid "
                       "WHERE s.of = ?1 AND r.lo_at = r.hi_at AND r.lo_id = r.hi_id LIMIT ?2)",
                       kPersistent),
      // A publisher's runs of several records, epoch by epoch.
      runs_of_publisher(db,
                        "SELECT r.ep, r.sid, s.cid, r.hi_at, r.hi_id, r.lo_at, r.lo_id "
                        "FROM series s CROSS JOIN epochs e "
                        "ON e.ep BETWEEN s.first_ep AND s.last_ep "
                        "CROSS JOIN runs r ON r.ep = e.ep AND r.sid = s.sid "
                        "WHERE s.of = ?1 AND NOT (r.lo_at = r.hi_at AND r.lo_id = r.hi_id) "
                        "LIMIT ?2",
                        kPersistent),
      // A series' rows in a range of its channel (scan_run's parameters), at most ?8; with ?7,
      // only those expired then.
      delete_in_run(db,
                    "DELETE FROM data WHERE (cid, at, id) IN (SELECT cid, at, id FROM data "
                    "WHERE cid = ?1 AND (at, id) > (?2, ?3) AND (at, id) < (?4, ?5) "
                    "AND sid = ?6 AND (?7 IS NULL OR expire_at <= ?7) LIMIT ?8)",
                    kPersistent),
      // What is left of a series in a range of its channel: the earliest expiry, and whether
      // any row is.
      left_in_run(db,
                  "SELECT min(expire_at), count(*) > 0 FROM data WHERE cid = ?1 "
                  "AND (at, id) > (?2, ?3) AND (at, id) < (?4, ?5) AND sid = ?6",
                  kPersistent),
      run_set_exp(db,
                  "UPDATE runs SET min_exp = ?5 "
                  "WHERE ep = ?1 AND sid = ?2 AND hi_at = ?3 AND hi_id = ?4",
                  kPersistent),
      run_delete(db, "DELETE FROM runs WHERE ep = ?1 AND sid = ?2 AND hi_at = ?3 AND hi_id = ?4",
                 kPersistent),
      epoch_exact_exp(db,
                      "UPDATE epochs SET min_exp = (SELECT min(min_exp) FROM runs "
                      "WHERE ep = ?1) WHERE ep = ?1 RETURNING min_exp",
                      kPersistent),
      delete_key(db, "DELETE FROM data WHERE cid = ?3 AND at = ?1 AND id = ?2", kPersistent) {}

}  // namespace detail

std::size_t DataStore::delete_in_run(const RunKey& run, std::optional<std::int64_t> expired_at,
                                     std::size_t max_rows) {
  RetentionStatements& st = st_->sweep;
  const Pos all_lo{detail::kMinMs, detail::kIdBelowAll};
  const Pos all_hi{detail::kMaxMs, detail::kIdAboveAll};
  Pos lo, hi;
  if (!detail::run_within(run.range, all_lo, all_hi, lo, hi)) return 0;
  std::size_t n;
  {
    auto use = st.delete_in_run.use();
    detail::bind_run_scan(st.delete_in_run, run.cid, run.sid, lo, hi);
    st.delete_in_run.bind(7, expired_at);
    st.delete_in_run.bind(8, as_limit(max_rows));
    st.delete_in_run.step();
    n = static_cast<std::size_t>(db_.changes());
  }
  if (n == max_rows) return n;  // maybe more: the next call goes on
  // Done with this run: it goes once none of its series' rows is left in its range, or it
  // keeps the earliest expiry left there.
  std::optional<std::int64_t> min_exp;
  bool any = false;
  {
    auto use = st.left_in_run.use();
    detail::bind_run_scan(st.left_in_run, run.cid, run.sid, lo, hi);
    if (st.left_in_run.step()) {
      min_exp = st.left_in_run.optional_int64(0);
      any = st.left_in_run.int64(1) != 0;
    }
  }
  Stmt& change = any ? st.run_set_exp : st.run_delete;
  auto use = change.use();
  change.bind(1, run.ep);
  change.bind(2, run.sid);
  change.bind(3, run.range.hi.at);
  change.bind_blob_static(4, run.range.hi.id.data(), run.range.hi.id.size());
  if (any) change.bind(5, min_exp);
  change.step();
  return n;
}

std::size_t DataStore::delete_expired_in(std::int64_t ep, std::int64_t now_ms,
                                         std::size_t max_rows) {
  RetentionStatements& st = st_->sweep;
  std::size_t deleted = 0;
  {
    // Runs of one record: one statement for many.
    auto use = st.delete_single_due.use();
    st.delete_single_due.bind(1, ep);
    st.delete_single_due.bind(2, now_ms);
    st.delete_single_due.bind(3, as_limit(max_rows));
    st.delete_single_due.step();
    deleted = static_cast<std::size_t>(db_.changes());
    if (deleted == max_rows) return deleted;  // maybe more in this epoch: the next call goes on
  }
  std::vector<RunKey> runs;
  {
    auto use = st.runs_due.use();
    st.runs_due.bind(1, ep);
    st.runs_due.bind(2, now_ms);
    st.runs_due.bind(3, kRunsPerPass);
    while (st.runs_due.step()) {
      runs.push_back(
          {ep, st.runs_due.int64(0), st.runs_due.int64(1), detail::run_at(st.runs_due, 2)});
    }
  }
  for (const RunKey& run : runs) {
    deleted += delete_in_run(run, now_ms, max_rows - deleted);
    if (deleted == max_rows) return deleted;  // maybe more in this epoch: the next call
  }
  if (static_cast<std::int64_t>(runs.size()) == kRunsPerPass) return deleted;  // more runs due
  auto use = st.epoch_exact_exp.use();
  st.epoch_exact_exp.bind(1, ep);
  std::optional<std::int64_t> left;
  if (st.epoch_exact_exp.step()) left = st.epoch_exact_exp.optional_int64(0);
  if (ep == st_->state.ep) st_->state.ep_min_exp = left;  // what the writer knows is stored
  return deleted;
}

std::size_t DataStore::delete_expired(std::int64_t now_ms, std::size_t max_rows) {
  std::size_t deleted = 0;
  // One transaction for the statements of a batch (runs' rows, their new bounds).
  db_.savepoint([&] {
    flush();
    // Epoch by epoch, the earliest expiry bound first; in an epoch, run by run. An epoch with
    // nothing more to delete gets its exact bound again (the earliest expiry left), which a
    // later sweep waits for.
    while (deleted < max_rows) {
      std::int64_t ep;
      {
        Stmt& due = st_->sweep.epoch_due;
        auto use = due.use();
        due.bind(1, now_ms);
        if (!due.step()) break;
        ep = due.int64(0);
      }
      deleted += delete_expired_in(ep, now_ms, max_rows - deleted);
    }
  });
  return deleted;
}

std::size_t DataStore::delete_of(std::string_view of, std::size_t max_rows) {
  if (max_rows == 0) return 0;
  RetentionStatements& st = st_->sweep;
  const std::string id = platform::lower_ascii(of);
  std::size_t deleted = 0;
  db_.savepoint([&] {
    flush();
    {
      // Runs of one record: one statement for many.
      auto use = st.delete_single_of.use();
      st.delete_single_of.bind_static(1, id);
      st.delete_single_of.bind(2, as_limit(max_rows));
      st.delete_single_of.step();
      deleted = static_cast<std::size_t>(db_.changes());
      if (deleted == max_rows) return;
    }
    // Then run by run; each run emptied of its series' rows goes, so the next pass starts with
    // the runs left.
    for (;;) {
      std::vector<RunKey> runs;
      {
        Stmt& find = st.runs_of_publisher;
        auto use = find.use();
        find.bind_static(1, id);
        find.bind(2, kRunsPerPass);
        while (find.step()) {
          runs.push_back({find.int64(0), find.int64(1), find.int64(2), detail::run_at(find, 3)});
        }
      }
      for (const RunKey& run : runs) {
        deleted += delete_in_run(run, std::nullopt, max_rows - deleted);
        if (deleted == max_rows) return;
      }
      if (static_cast<std::int64_t>(runs.size()) < kRunsPerPass) return;
    }
  });
  return deleted;
}

std::size_t DataStore::delete_matching(const DataQuery& q, std::size_t max_rows) {
  if (max_rows == 0) return 0;
  DataQuery page = q;
  page.offset = 0;
  page.limit = as_limit(max_rows);
  const auto records = query(page);
  std::map<std::string, std::int64_t, std::less<>> cids;
  if (!records.empty()) {
    for (auto& c : detail::channels_matching(st_->read, q.mask, detail::range_of(q.mask))) {
      cids.emplace(std::move(c.channel), c.cid);
    }
  }
  std::size_t n = 0;
  db_.savepoint([&] {
    for (const auto& r : records) {
      const OidBytes id = detail::oid_or_throw(r.id);
      n += delete_key(db_, st_->sweep.delete_key, r.at, id, cids.at(r.channel));
    }
  });
  return n;
}

Result<std::size_t> DataStore::delete_ids(const std::vector<std::string>& ids,
                                          const std::vector<std::string>& of,
                                          std::string_view mask) {
  const auto refuse = [](std::string message) -> Result<std::size_t> {
    return Failure{Errc::kInvalid, std::move(message)};
  };
  if (!platform::valid_channel_mask(mask)) {
    return refuse("invalid channel mask: " + std::string(mask));
  }
  // Every id is checked before anything is deleted.
  std::vector<OidBytes> keys;
  keys.reserve(ids.size());
  for (const auto& hex : ids) {
    auto key = platform::oid_bytes(hex);
    if (!key) return refuse("record id must be 24 hex digits: " + hex);
    keys.push_back(*key);
  }
  std::set<std::string> allowed;
  for (const auto& o : of) allowed.insert(platform::lower_ascii(o));
  std::size_t n = 0;
  detail::QueryStatements& read = st_->read;
  db_.savepoint([&] {
    // Only records on the channels under the mask may go.
    DataQuery under;
    under.mask = mask;
    const std::vector<std::int64_t> cids = detail::cids_of(detail::parts_of(read, under));
    for (const OidBytes& id : keys) {
      const auto found = detail::locate(read, id, cids, false);
      if (!found) continue;
      {
        auto use = read.by_key.use();
        read.by_key.bind(1, found->at);
        read.by_key.bind_blob_static(2, id.data(), id.size());
        read.by_key.bind(3, found->cid);
        if (!read.by_key.step()) continue;
        const platform::Record r = detail::record_from(read.by_key);
        if (!allowed.empty() && !allowed.count(r.of)) continue;
        if (!detail::mask_matches(mask, r.channel)) continue;
      }
      n += delete_key(db_, st_->sweep.delete_key, found->at, id, found->cid);
    }
  });
  return n;
}

}  // namespace plugmq::store
