// The record index's prepared statements and the writer's state (module-private), one struct
// per part of DataStore: the writer (record_writer.cpp), the reads (record_query.cpp), the
// deletes (record_retention.cpp), replay and retained messages (record_replay.cpp,
// record_retained.cpp).
// docs/storage.md describes the tables.
//
// Owned by one DataStore, used on its thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "plugmq/store/statement.hpp"
#include "record_keys.hpp"

namespace plugmq::store::detail {

// A series as the writer knows it: its id, its channel's, the last epoch in which this
// connection raised its series.last_ep, and the run it is inserting (written by flush()).
struct SeriesState {
  std::int64_t sid;
  std::int64_t cid;
  std::int64_t marked_ep = -1;
  bool queued = false;  // in WriterState::pending
  bool in_run = false;  // the run below holds records not written to `runs` yet
  std::int64_t run_ep = 0;
  std::int64_t lo_at = 0, hi_at = 0;
  OidBytes lo_id{}, hi_id{};
  std::optional<std::int64_t> min_exp;
  // The first and last position of its records of QoS 1 or 2 (none: all are QoS 0).
  std::optional<std::int64_t> lo_seq, hi_seq;
};

// A run as the sweeper and delete_of() find it.
struct RunKey {
  std::int64_t ep;
  std::int64_t sid;
  std::int64_t cid;
  RunRange range;
};

struct WriterStatements {
  explicit WriterStatements(sqlite3* db);
  Stmt insert, at_add, channel_add, channel_get, series_add, series_get, series_in_epoch,
      epoch_last, epoch_widen, epoch_lower_exp, epoch_seq, run_add, retained_set, retained_clear;
};

struct QueryStatements {
  explicit QueryStatements(sqlite3* db);
  Stmt epochs_in, at_moved, at_in_channel, at_in_any, by_key, runs_of, scan_run, scan_channel,
      scan_channel_picked, series_of, series_on, channels_in, count;
};

struct ReplayStatements {
  explicit ReplayStatements(sqlite3* db);
  Stmt account_series, device_series, series_after, max_sid, newest_ep, admin_version, epochs_after,
      runs_in_epoch, runs_of_series, rows_in_range, record_by_key, records_from, retained_of_account,
      retained_of_device, retained_count, last_seq;
};

struct RetentionStatements {
  explicit RetentionStatements(sqlite3* db);
  Stmt epoch_due, delete_single_due, runs_due, delete_single_of, runs_of_publisher, delete_in_run,
      left_in_run, run_set_exp, run_delete, epoch_exact_exp, delete_key;
};

// What the writer keeps between inserts on this connection. Forgotten when a transaction rolls
// back: series it added may be gone, and the epoch bounds it stored are undone.
struct WriterState {
  // (of '\0' channel) -> series, for the series this connection has seen.
  std::unordered_map<std::string, SeriesState> sids;
  std::string key;  // reused lookup buffer
  // The series with a run to write at the end of the transaction (DataStore::flush).
  std::vector<SeriesState*> pending;

  // The epoch this connection inserts into (-1: none open), what it inserted there, the bounds
  // it knows are stored for it. The next insert after forget() opens a new epoch.
  std::int64_t ep = -1;
  std::int64_t ep_records = 0;
  std::int64_t ep_min = 0, ep_max = -1;    // empty
  std::optional<std::int64_t> ep_min_exp;  // epochs.min_exp as stored for `ep`

  // Positions (docs/storage.md, "Positions"). At the first insert of a transaction (and after
  // each flush) the writer reads the newest epoch's max_seq: the highest seq stored, since every
  // insert goes into the newest epoch. `seq_open`: it did, and has not written `ep`'s max_seq
  // back yet (flush does). `next_seq`: the seq of the next record.
  bool seq_open = false;
  std::int64_t next_seq = 1;
  std::int64_t ep_max_seq = 0;  // epochs.max_seq as stored for `ep`
  void forget() {
    pending.clear();
    sids.clear();
    ep = -1;
    seq_open = false;
  }
};

struct RecordStatements {
  explicit RecordStatements(sqlite3* db) : write(db), read(db), sweep(db), replay(db) {}
  WriterStatements write;
  QueryStatements read;
  RetentionStatements sweep;
  ReplayStatements replay;
  WriterState state;
};

}  // namespace plugmq::store::detail
