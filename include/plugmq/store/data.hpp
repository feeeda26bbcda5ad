// Data records in SQLite (SPEC 7), their positions for persistent sessions and the retained
// messages (SPEC 11), and the way to a device's additional properties (SPEC 4).
//
// Records are appended by the DataWriter thread in large transactions; reads are newest first
// by channel mask, publisher and time range, served by the table (each channel's records in time
// order) and the per-series index of runs: docs/storage.md describes the tables, the index and
// the invariants the commit hook enforces.
//
// Every record gets a position, `seq`, when it is stored: strictly increasing in commit order
// across every connection that writes records (the server's DataWriter, admin commands). A
// persistent session keeps a position instead of a copy of what it missed, and replay() reads
// what came after it (docs/decisions/016-record-positions.md).
//
// The implementation is split by part: record_writer.cpp (insert, flush), record_query.cpp and
// record_planner.cpp (reads), record_retention.cpp (deletes), record_replay.cpp (replay and
// retained messages), record_keys.hpp (positions in the table, runs).
// A caller's malformed argument is a Failure value where the store checks it (delete_ids) and a
// violated REQUIRES, thrown as Error kInvalid, where the caller must have checked it (a query's
// mask and id bounds). Error is otherwise the database busy or failing (kBusy, kDb).
// Not thread-safe: one DataStore per Db, per thread; it owns hooks on the Db's connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/payload.hpp"
#include "plugmq/store/db.hpp"
#include "plugmq/store/errc.hpp"
#include "plugmq/store/property_store.hpp"

namespace plugmq::store {

// A history read. Every member narrows the result; all of them are optional.
struct DataQuery {
  std::string mask = "#";                // channel mask (platform::valid_channel_mask)
  std::vector<std::string> of;           // publishers (Plug-IDs); empty = any
  std::optional<std::int64_t> before;    // at < before (ms)
  std::optional<std::int64_t> after;     // at > after (ms)
  std::optional<std::int64_t> at;        // at == this (ms)
  std::optional<std::string> before_id;  // records older than this OID (same `at` ties by id)
  std::optional<std::string> after_id;   // records newer than this OID
  std::int64_t offset = 0;
  std::int64_t limit = 100;
};

// What a persistent session missed (SPEC 11): the records of the account's devices, on topics
// OF/data/CHANNEL matching any of the filters, published with QoS 1 or 2, with
// after_seq < seq <= upto_seq.
struct ReplayQuery {
  std::string account_id;  // "com-…": only its devices' records
  // MQTT topic filters, as subscribed ("+/data/#", "#"): those granted QoS 1 or 2, since a
  // message a QoS 0 subscription gets is sent at QoS 0, which an offline session does not keep.
  std::vector<std::string> filters;
  std::int64_t after_seq = 0;  // the session's position (0: from the first record)
  // The highest position to return: the writer's committed_seq() when the replay began, so that
  // what the session gets live from then on is not replayed too.
  std::int64_t upto_seq = std::numeric_limits<std::int64_t>::max();
  std::int64_t limit = 1000;  // records at most (a count for replay_count())
};

namespace detail {
struct RecordStatements;
struct SeriesState;
struct RunKey;
struct ReplayState;
}  // namespace detail

// What DataStore::replay() read for one session and reuses on its next call: the series its
// filters select, and the positions it read ahead (kReadAhead, some 40 bytes each). A
// session that replays much chunk by chunk keeps one, so that a chunk costs about what it
// returns instead of a read of an epoch's runs. Plain memory, no connection: keep it with the
// session and use it with any DataStore of the same database, one thread at a time.
class ReplayCursor {
 public:
  static constexpr std::size_t kReadAhead = 16384;
  // `read_ahead`: the positions a call reads ahead at least (tests use few).
  explicit ReplayCursor(std::size_t read_ahead = kReadAhead);
  ~ReplayCursor();
  ReplayCursor(ReplayCursor&&) noexcept;
  ReplayCursor& operator=(ReplayCursor&&) noexcept;

 private:
  friend class DataStore;
  std::unique_ptr<detail::ReplayState> state_;
};

class DataStore {
 public:
  // Records go into epochs of `epoch_records` inserts each (docs/storage.md, "Epochs"):
  // the fewer, the less of the per-series index one batch touches; the more, the fewer epochs
  // a history read probes. Tests use small epochs to exercise reads across many.
  static constexpr std::int64_t kEpochRecords = 65536;

  // Prepares the statements. Throws Error.
  explicit DataStore(Db& db, std::int64_t epoch_records = kEpochRecords);
  ~DataStore();
  DataStore(const DataStore&) = delete;
  DataStore& operator=(const DataStore&) = delete;

  // Appends one record and returns its position (seq). For speed, call it inside a transaction
  // (Db::transaction), many per transaction: the records of one series in a transaction make one
  // run of the per-series index (docs/storage.md, "Runs"), written by flush() when the
  // transaction commits, and the transaction reads and writes the highest position once.
  // Outside a transaction it makes one of its own. With r.retain, the record becomes its topic's
  // retained message, or with data `""` removes it, in the same transaction. r.seq is ignored.
  // With r.update, the record of r.of on r.channel with the same id is deleted first, in the
  // same transaction (stored: it is replaced; gone: r is stored all the same), and r takes a
  // new position; when it was its topic's retained message, r is (docs/decisions/019).
  // REQUIRES: a transaction that holds the write lock, or none (Db::transaction: BEGIN
  // IMMEDIATE); in a deferred one, another connection's commit since its first read makes the
  // insert fail with kBusy, and the transaction must roll back.
  // Throws Error: kInvalid for a malformed id or a qos outside 0..2, kExists for an id stored.
  std::int64_t insert(const platform::Record& r);

  // Writes the runs of the records inserted in the current transaction, and the highest
  // position. Db::transaction() calls it before COMMIT; a transaction committed otherwise must
  // call it first (a COMMIT with runs left unwritten fails and rolls back). Reads call it too,
  // so that they see the transaction's own records. Throws Error.
  void flush();

  // The highest position stored (0: none; committed, or this connection's transaction's).
  // Throws Error.
  std::int64_t last_seq();

  // What a persistent session missed: the records `q` selects, oldest first (by seq), at most
  // q.limit, each with its seq and qos. Call it again with after_seq = the last seq returned for
  // the next ones: nothing is missed or repeated, also while records are being stored, since
  // every record committed later has a higher seq (records stored before positions existed
  // have none and are never replayed). The account's devices are those of the call's snapshot;
  // the caller still checks the session's read permission on each record (SPEC 11).
  // Cost: the session's series, the run rows of those series in each epoch it reads from (every
  // run of the epoch, when they are many) and one read per record returned; memory about
  // 80 bytes x max(q.limit, read ahead) while it runs. With `cursor`, the series and the
  // positions read ahead are kept for the next call with the same account and filters (read
  // again after any device change): use one per session that replays more than one chunk.
  // REQUIRES: valid MQTT filters (wildcards as whole levels, '#' last). Throws Error (kInvalid
  // for a filter that is not).
  std::vector<platform::Record> replay(const ReplayQuery& q);
  std::vector<platform::Record> replay(const ReplayQuery& q, ReplayCursor& cursor);

  // How many records replay(q) would return with no limit, counting up to q.limit (the
  // messages waiting for a session, capped). Reads no record data. Throws Error as replay().
  std::int64_t replay_count(const ReplayQuery& q);

  // The retained messages of the account's devices whose topic (OF/data/CHANNEL) matches any of
  // `filters`, oldest first (by seq), each with its data, qos, seq and retain set. A retained
  // message lasts as long as its record: once retention or a delete removed it, it is gone
  // too, and so it is with its device. REQUIRES and throws as replay().
  std::vector<platform::Record> retained(std::string_view account_id,
                                         const std::vector<std::string>& filters);

  // The retained messages stored, every account (their records still stored): for figures.
  std::int64_t retained_count();

  // Records matching `q`, newest first (by at, then by id), at most q.limit after q.offset.
  // REQUIRES: platform::valid_channel_mask(q.mask), and q.before_id and q.after_id, when set,
  // are record ids (24 hex digits); a violation throws Error kInvalid. Throws Error.
  std::vector<platform::Record> query(const DataQuery& q);

  // Deletes up to `max_rows` records whose expiry is at or before `now_ms`; returns how many.
  // Small batches keep every transaction short (SPEC 7: sweeping never stalls ingest).
  std::size_t delete_expired(std::int64_t now_ms, std::size_t max_rows);

  // Deletes up to `max_rows` records published by `of`; returns how many. Deleting a device
  // does not delete its records by itself (a long history would hold the write lock for
  // seconds): whoever deletes a device calls this until it returns 0, each call one short
  // statement (e.g. through DataWriter::push_task, between ingest batches).
  std::size_t delete_of(std::string_view of, std::size_t max_rows);

  // The distinct channels with at least one record matching `q` (mask, publishers, time and id
  // bounds), sorted by name, at most q.limit after q.offset.
  // REQUIRES: as query(). Throws Error.
  std::vector<std::string> channels(const DataQuery& q);

  // Deletes up to `max_rows` of the records `q` selects (newest first; q.offset and q.limit are
  // ignored); returns how many. Call it until it returns less than `max_rows`: small batches
  // keep each transaction short (through DataWriter::push_task, between ingest batches).
  // REQUIRES: as query(). Throws Error.
  std::size_t delete_matching(const DataQuery& q, std::size_t max_rows);

  // Deletes the records with these ids (OIDs) whose channel matches `mask` and whose publisher
  // is in `of` (empty: any); returns how many. Fails with kInvalid, deleting nothing, for a
  // malformed id (not 24 hex digits) or mask. Throws Error when the database fails.
  Result<std::size_t> delete_ids(const std::vector<std::string>& ids,
                                 const std::vector<std::string>& of, std::string_view mask);

  // The record with this id (an OID, any case) when it is `of`'s on `channel`: what a published
  // record with "id" may replace (SPEC 4). Nothing for a malformed id, a record gone, or
  // another publisher's or channel's. Reads the transaction's own records too. Throws Error.
  std::optional<platform::Record> find(std::string_view id, std::string_view of,
                                       std::string_view channel);

  // The data (JSON text) of the newest record of `of` on `channel`, if any.
  std::optional<std::string> last_value(std::string_view of, std::string_view channel);

  // The device properties (PropertyStore), for callers that hold a DataStore: property links
  // resolve to this store's records.
  PropertyStore& properties() { return props_; }

  // Records stored (all devices); for tests and figures.
  std::int64_t count();

 private:
  // The series (of, channel) as this connection knows it, created (with its channel) when new.
  detail::SeriesState& series(std::string_view of, std::string_view channel);
  // Writes the run that `series` is inserting.
  void write_run(detail::SeriesState& series);
  // replay() with `s` kept from the last call.
  std::vector<platform::Record> replay_with(const ReplayQuery& q, detail::ReplayState& s);
  // Opens a new epoch when none is open or the open one is full, then widens its bounds (at,
  // expiry) to cover `r`, before `r` is stored: reads never prune an epoch holding a record,
  // and the sweeper never passes over one.
  void prepare_epoch(const platform::Record& r);
  // At the first insert of a transaction (and after a flush): reads the highest seq stored, the
  // newest epoch's max_seq, and leaves this connection's epoch unless it is the newest.
  void open_positions();
  // Stores the open epoch's max_seq: the last seq this connection stored there.
  void write_epoch_seq();
  // An update's first step (insert() with r.update): deletes the record it replaces, if it is
  // stored; whether that record was its topic's retained message.
  bool drop_replaced(const platform::Record& r, const platform::OidBytes& id);
  // Makes the record just stored its topic's retained message, or with data `""` removes it.
  void set_retained(std::int64_t sid, const platform::Record& r, const platform::OidBytes& id,
                    std::int64_t seq);
  // Adds the record just stored to its series' run, writing the run first when `r` cannot join it.
  void extend_run(detail::SeriesState& series, const platform::Record& r,
                  const platform::OidBytes& id, std::int64_t seq);
  // Deletes up to `max_rows` of the rows of `run`'s series in its range (with `expired_at`, only
  // those expired then); once that leaves none to delete, the run goes or gets the earliest
  // expiry left in its range. Returns how many rows it deleted.
  std::size_t delete_in_run(const detail::RunKey& run, std::optional<std::int64_t> expired_at,
                            std::size_t max_rows);
  // One epoch's share of delete_expired(): deletes up to `max_rows` records expired at `now_ms`
  // and returns how many. Once none is left to delete, the epoch's expiry bound is made exact.
  std::size_t delete_expired_in(std::int64_t ep, std::int64_t now_ms, std::size_t max_rows);

  Db& db_;
  std::unique_ptr<detail::RecordStatements> st_;
  std::int64_t epoch_records_;
  PropertyStore props_;
};

}  // namespace plugmq::store
