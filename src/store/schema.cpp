#include "schema.hpp"

namespace plugmq::store::detail {
namespace {

// The records of a schema-5 table whose `at` is not within the second of their OID (SPEC 1:
// the first 4 bytes are Unix seconds, big-endian), into data_at. SQL has no blob-to-integer
// conversion: the seconds are read from the hex digits of the id.
#define PLUGMQ_HEX_DIGIT(i) "(instr('0123456789ABCDEF', substr(hex(id), " #i ", 1)) - 1)"
constexpr const char* kDataAtBackfill =
    "INSERT INTO data_at (id, at) SELECT id, at FROM data6 WHERE "
    "(CASE WHEN at >= 0 THEN at / 1000 ELSE (at - 999) / 1000 END) != "
    "(" PLUGMQ_HEX_DIGIT(1) " * 268435456 + " PLUGMQ_HEX_DIGIT(2) " * 16777216 + "
    PLUGMQ_HEX_DIGIT(3) " * 1048576 + " PLUGMQ_HEX_DIGIT(4) " * 65536 + "
    PLUGMQ_HEX_DIGIT(5) " * 4096 + " PLUGMQ_HEX_DIGIT(6) " * 256 + "
    PLUGMQ_HEX_DIGIT(7) " * 16 + " PLUGMQ_HEX_DIGIT(8) ")";
#undef PLUGMQ_HEX_DIGIT

}  // namespace

const std::vector<std::vector<std::string_view>>& migrations() {
  static const std::vector<std::vector<std::string_view>> kMigrations = {
      // 1: accounts and devices (SPEC 1, 3, 6).
      {
          R"(CREATE TABLE accounts (
               id TEXT PRIMARY KEY,
               email TEXT UNIQUE NOT NULL,
               password_hash TEXT NOT NULL,
               retention_days INTEGER NOT NULL DEFAULT 30,
               disabled INTEGER NOT NULL DEFAULT 0,
               created_at INTEGER NOT NULL))",
          R"(CREATE TABLE devices (
               id TEXT PRIMARY KEY,
               account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
               kind TEXT NOT NULL,
               name TEXT NOT NULL DEFAULT '',
               hwid TEXT NOT NULL DEFAULT '',
               model TEXT NOT NULL DEFAULT '',
               perm TEXT NOT NULL,
               status TEXT NOT NULL DEFAULT 'ok',
               auth_hash TEXT NOT NULL,
               last_client_id TEXT NOT NULL DEFAULT '',
               created_at INTEGER NOT NULL))",
          "CREATE INDEX devices_account ON devices(account_id)",
      },
      // 2: production templates, registered serials, controllers (SPEC 5, 6).
      {
          R"(CREATE TABLE templates (
               id TEXT PRIMARY KEY,
               account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
               name TEXT NOT NULL DEFAULT '',
               thing_perm TEXT NOT NULL,
               created_at INTEGER NOT NULL))",
          "CREATE INDEX templates_account ON templates(account_id)",
          // Enroll and control passwords are hash_secret hashes; control_hash NULL = control
          // disabled. thing_id is NULL until the thing enrolls, and again once that device is
          // deleted (unenrolled), so the serial can enroll anew.
          R"(CREATE TABLE serials (
               model TEXT NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
               hwid TEXT NOT NULL,
               enroll_hash TEXT NOT NULL,
               control_hash TEXT,
               thing_id TEXT REFERENCES devices(id) ON DELETE SET NULL,
               created_at INTEGER NOT NULL,
               PRIMARY KEY (model, hwid)))",
          // Deleting a device looks up the serials that point at it (the foreign key).
          "CREATE INDEX serials_thing ON serials(thing_id)",
          R"(CREATE TABLE controls (
               controller_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
               thing_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
               created_at INTEGER NOT NULL,
               PRIMARY KEY (controller_id, thing_id)))",
          "CREATE INDEX controls_thing ON controls(thing_id)",
          // A repeated controller enrollment finds the account's controller by its HWID.
          "CREATE INDEX devices_account_kind_hwid ON devices(account_id, kind, hwid)",
      },
      // 3: data records and additional properties (SPEC 4, 7).
      {
          // A series is one publisher's channel. Records carry its small integer id, so the
          // one index that inserts scatter over (one insertion point per series) has short
          // integer keys: 1M records ingested 1.8x as fast as with an (of, channel, at) text
          // index (bench/store_bench). AUTOINCREMENT: a sid is never reused, even if series
          // rows are deleted one day while a writer still caches the old id. Series rows are
          // never deleted today (a deleted device's stay: a few bytes each).
          R"(CREATE TABLE series (
               sid INTEGER PRIMARY KEY AUTOINCREMENT,
               of TEXT NOT NULL,
               channel TEXT NOT NULL,
               UNIQUE (of, channel)))",
          // The distinct channels under a mask, across publishers.
          "CREATE INDEX series_channel ON series(channel)",
          // Keyed by the record id, a 12-byte OID blob rather than its 24-char hex. OIDs grow
          // with time, so inserts append at the right edge of the table, and WITHOUT ROWID makes
          // the id the only key: no rowid plus unique id index (one b-tree fewer per insert),
          // and every secondary index ends with the id, which is exactly the "newest first,
          // then by id" order. of and channel are kept (with sid) for reading records back and
          // for the per-channel index.
          // Deleting a device does NOT delete its records here (no trigger): a device with a
          // long history would hold the write lock for seconds and stall ingest. Whoever
          // deletes a device calls DataStore::delete_of in batches.
          R"(CREATE TABLE data (
               id BLOB PRIMARY KEY,
               sid INTEGER NOT NULL,
               of TEXT NOT NULL,
               channel TEXT NOT NULL,
               at INTEGER NOT NULL,
               expire_at INTEGER,
               data TEXT NOT NULL) WITHOUT ROWID)",
          // History of one series, newest first (the index ends with (at, id)).
          "CREATE INDEX data_series_at ON data(sid, at)",
          // A channel across publishers (no `of`), newest first.
          "CREATE INDEX data_channel_at ON data(channel, at)",
          // The retention sweeper; records that never expire stay out of the index.
          "CREATE INDEX data_expire ON data(expire_at) WHERE expire_at IS NOT NULL",
          // Values are compact JSON text; a link is stored as {"channel":"CH"}.
          R"(CREATE TABLE props (
               device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
               name TEXT NOT NULL,
               value TEXT NOT NULL,
               PRIMARY KEY (device_id, name)) WITHOUT ROWID)",
      },
      // 4: a counter of the changes the broker's device directory depends on. Servers poll it
      // to pick up admin commands; PRAGMA data_version would also change with every data
      // record committed by the writer, rebuilding the directory once a second under load.
      {
          R"(CREATE TABLE admin_version (
               id INTEGER PRIMARY KEY CHECK (id = 1),
               n INTEGER NOT NULL))",
          "INSERT INTO admin_version (id, n) VALUES (1, 0)",
          R"(CREATE TRIGGER accounts_added AFTER INSERT ON accounts
               BEGIN UPDATE admin_version SET n = n + 1; END)",
          R"(CREATE TRIGGER accounts_changed AFTER UPDATE ON accounts
               WHEN OLD.disabled IS NOT NEW.disabled
                 OR OLD.retention_days IS NOT NEW.retention_days
               BEGIN UPDATE admin_version SET n = n + 1; END)",
          R"(CREATE TRIGGER accounts_deleted AFTER DELETE ON accounts
               BEGIN UPDATE admin_version SET n = n + 1; END)",
          R"(CREATE TRIGGER devices_added AFTER INSERT ON devices
               BEGIN UPDATE admin_version SET n = n + 1; END)",
          // Not on logins (last_client_id), names or auth codes: the directory holds none.
          R"(CREATE TRIGGER devices_changed AFTER UPDATE ON devices
               WHEN OLD.perm IS NOT NEW.perm OR OLD.status IS NOT NEW.status
                 OR OLD.account_id IS NOT NEW.account_id
               BEGIN UPDATE admin_version SET n = n + 1; END)",
          R"(CREATE TRIGGER devices_deleted AFTER DELETE ON devices
               BEGIN UPDATE admin_version SET n = n + 1; END)",
          R"(CREATE TRIGGER controls_added AFTER INSERT ON controls
               BEGIN UPDATE admin_version SET n = n + 1; END)",
          R"(CREATE TRIGGER controls_deleted AFTER DELETE ON controls
               BEGIN UPDATE admin_version SET n = n + 1; END)",
      },
      // 5: the per-series index, partitioned by insertion epoch. With data_series_at (sid, at)
      // every series has its insertion point somewhere in one index that grows with the
      // table: with thousands of series each record of a batch dirties a page of its own, and
      // ingest fell to 51,000 records/s at 4 million records (10,000 series, bench/store_bench).
      // Records now carry `ep`, the writer's epoch (a new one every DataStore epoch_records
      // inserts), and the index is (ep, sid, at): a batch only touches the current epoch's
      // part of the index, which stays small. A history read probes (ep, sid) per epoch,
      // newest epoch bound first, and stops once the epochs left are older than what it has.
      {
          // The writer widens an epoch's bounds (with some slack) before inserting a record
          // outside them, in the same transaction: every record of `ep` has min_at <= at <=
          // max_at. Reads prune epochs with these bounds.
          R"(CREATE TABLE epochs (
               ep INTEGER PRIMARY KEY,
               min_at INTEGER NOT NULL,
               max_at INTEGER NOT NULL))",
          // The epochs a series may have records in: first_ep..last_ep (set when the series is
          // created, raised when it first publishes in a later epoch).
          "ALTER TABLE series ADD COLUMN first_ep INTEGER NOT NULL DEFAULT 0",
          "ALTER TABLE series ADD COLUMN last_ep INTEGER NOT NULL DEFAULT 0",
          // Records stored before this migration are epoch 0, unbounded.
          "ALTER TABLE data ADD COLUMN ep INTEGER NOT NULL DEFAULT 0",
          "INSERT INTO epochs (ep, min_at, max_at) "
          "VALUES (0, -9223372036854775808, 9223372036854775807)",
          "CREATE INDEX data_epoch_series ON data(ep, sid, at)",
          "DROP INDEX data_series_at",
      },
      // 6: two b-trees per record instead of four. Every index a record goes into costs about
      // as much as the table itself (bench/store_bench: 208,000 records/s with four, 310,000
      // with two), so the per-channel and expiry indexes are gone:
      // - The table is keyed by (at, id): time order, so a channel read across publishers
      //   scans it newest first (filtering series in SQL), and falls back to the per-series
      //   index when that costs fewer rows (DataStore::query).
      // - expire_at moves into the per-series index; `epochs.min_exp` bounds each epoch's
      //   expiries, and the sweeper deletes the expired records of due epochs through the
      //   index, one epoch at a time.
      // - Rows no longer repeat `of` and `channel` (the series has them): smaller rows.
      // - A record is found by its id through the time in the OID: the records of that second
      //   (`at` within it), or `data_at` for the few whose `at` is in another second (given by
      //   the publisher). The id is no longer a key of its own: OIDs are unique by
      //   construction (SPEC 1).
      {
          R"(CREATE TABLE data6 (
               at INTEGER NOT NULL,
               id BLOB NOT NULL,
               sid INTEGER NOT NULL,
               ep INTEGER NOT NULL,
               expire_at INTEGER,
               data TEXT NOT NULL,
               PRIMARY KEY (at, id)) WITHOUT ROWID)",
          "INSERT INTO data6 (at, id, sid, ep, expire_at, data) "
          "SELECT at, id, sid, ep, expire_at, data FROM data ORDER BY at, id",
          R"(CREATE TABLE data_at (
               id BLOB PRIMARY KEY,
               at INTEGER NOT NULL) WITHOUT ROWID)",
          kDataAtBackfill,
          "DROP TABLE data",
          "ALTER TABLE data6 RENAME TO data",
          "CREATE INDEX data_epoch_series ON data(ep, sid, at, id, expire_at)",
          // data_at entries go with their record, whoever deletes it.
          R"(CREATE TRIGGER data_deleted AFTER DELETE ON data
               BEGIN DELETE FROM data_at WHERE id = OLD.id; END)",
          // At or before every expiry in the epoch; NULL when none of its records expires.
          "ALTER TABLE epochs ADD COLUMN min_exp INTEGER",
          "UPDATE epochs SET min_exp = (SELECT min(expire_at) FROM data WHERE data.ep = epochs.ep)",
      },
      // 7: the table clustered by channel. Keyed by (at, id), a channel read across publishers
      // scanned every channel's newest records, about 9,000 rows for the last 100 of one
      // channel among ten (1.6 ms, bench/store_bench). Keyed by (cid, at, id), each channel's
      // records are in time order together: such a read is one range of the table. Inserts
      // append at the end of each channel's range (a handful of hot pages), and the per-series
      // index still serves reads of a few publishers.
      // - `channels` numbers the channels; each series carries its channel's cid. It also
      //   lists the channels under a mask (a range of its unique index), so the series'
      //   per-channel index goes.
      // - A record is found by its id through the time in its OID, as before, in each channel
      //   that may hold it; `data_at` now also holds the cid of the records it places.
      {
          R"(CREATE TABLE channels (
               cid INTEGER PRIMARY KEY,
               channel TEXT NOT NULL UNIQUE))",
          "INSERT INTO channels (channel) SELECT DISTINCT channel FROM series ORDER BY channel",
          "ALTER TABLE series ADD COLUMN cid INTEGER NOT NULL DEFAULT 0",
          "UPDATE series SET cid = (SELECT c.cid FROM channels c WHERE c.channel = series.channel)",
          "DROP INDEX series_channel",
          R"(CREATE TABLE data7 (
               cid INTEGER NOT NULL,
               at INTEGER NOT NULL,
               id BLOB NOT NULL,
               sid INTEGER NOT NULL,
               ep INTEGER NOT NULL,
               expire_at INTEGER,
               data TEXT NOT NULL,
               PRIMARY KEY (cid, at, id)) WITHOUT ROWID)",
          "INSERT INTO data7 (cid, at, id, sid, ep, expire_at, data) "
          "SELECT s.cid, d.at, d.id, d.sid, d.ep, d.expire_at, d.data FROM data d "
          "JOIN series s ON s.sid = d.sid ORDER BY s.cid, d.at, d.id",
          R"(CREATE TABLE data_at7 (
               id BLOB PRIMARY KEY,
               cid INTEGER NOT NULL,
               at INTEGER NOT NULL) WITHOUT ROWID)",
          "INSERT INTO data_at7 (id, cid, at) SELECT a.id, s.cid, a.at FROM data_at a "
          "JOIN data d ON d.at = a.at AND d.id = a.id JOIN series s ON s.sid = d.sid",
          "DROP TABLE data",
          "DROP TABLE data_at",
          "ALTER TABLE data7 RENAME TO data",
          "ALTER TABLE data_at7 RENAME TO data_at",
          // Ends with the table's key: (ep, sid, at, id, expire_at, cid).
          "CREATE INDEX data_epoch_series ON data(ep, sid, at, id, expire_at)",
          R"(CREATE TRIGGER data_deleted AFTER DELETE ON data
               BEGIN DELETE FROM data_at WHERE id = OLD.id; END)",
      },
      // 8: an account's read names every device it has: reading the series of each channel
      // under the mask, filtered by publisher, costs less than a lookup per publisher
      // (DataStore::query; bench/store_bench, 1,000 publishers: 0.8 ms instead of 1.6).
      {
          "CREATE INDEX series_cid ON series(cid, of)",
      },
      // 9: the per-series index holds runs, not records. Keeping data_epoch_series current cost
      // a second b-tree insert per record, scattered over one insertion point per active series:
      // at 20,000 msgs/s from 50 publishers, half of the writer's work and most of the pages
      // each commit wrote, and delivery p99 doubled (docs/decisions/012-series-runs.md). A run is
      // what one transaction inserted for one series: its first and last (at, id) positions in
      // the channel, and the earliest expiry among its records. A series read probes its runs
      // newest first and reads each run's range of the channel's table, keeping that series'
      // rows (the table holds sid). Records published together make one run (about 40 records
      // in a 100 ms commit at 400 msgs/s); a device that publishes once per commit has a run per
      // record, which costs what the index entry did. The records stored before this migration
      // get a run each.
      {
          R"(CREATE TABLE runs (
               ep INTEGER NOT NULL,
               sid INTEGER NOT NULL,
               hi_at INTEGER NOT NULL,
               hi_id BLOB NOT NULL,
               lo_at INTEGER NOT NULL,
               lo_id BLOB NOT NULL,
               min_exp INTEGER,
               PRIMARY KEY (ep, sid, hi_at, hi_id)) WITHOUT ROWID)",
          "INSERT INTO runs (ep, sid, hi_at, hi_id, lo_at, lo_id, min_exp) "
          "SELECT ep, sid, at, id, at, id, expire_at FROM data ORDER BY ep, sid, at, id",
          "DROP INDEX data_epoch_series",
          // A run of one record goes with it, whoever deletes it: such a run always has its
          // record, so reads take its position without reading the table (the run of one record
          // is what most devices, publishing less than once per commit, have).
          "DROP TRIGGER data_deleted",
          R"(CREATE TRIGGER data_deleted AFTER DELETE ON data
               BEGIN
                 DELETE FROM data_at WHERE id = OLD.id;
                 DELETE FROM runs WHERE ep = OLD.ep AND sid = OLD.sid AND hi_at = OLD.at
                   AND hi_id = OLD.id AND lo_at = OLD.at AND lo_id = OLD.id;
               END)",
      },
      // 10: positions, retained messages and persistent sessions (SPEC 11;
      // docs/decisions/016-record-positions.md).
      // - `seq`, a record's position: strictly increasing in commit order across every
      //   connection that writes records. OIDs are made on network threads and `at` is the
      //   publisher's, so neither orders commits. A transaction inserts into the newest epoch
      //   (opening one after another connection's), reads its max_seq at its first insert and
      //   writes it back before COMMIT (DataStore::flush): one row write per transaction and no
      //   index. Epochs (disjoint seq ranges, in ep order) and runs carry seq bounds, so a
      //   replay goes epochs -> runs -> rows. What it costs ingest: the decision's figures.
      // - `qos`, the publish QoS (0 and 1 take no payload byte). Replay never wants a QoS 0
      //   record, so those store no seq (NULL), and a run's seq bounds cover its records of
      //   QoS 1 and 2 only (NULL: none).
      // - Records stored before have no seq either: older than every session.
      {
          "ALTER TABLE data ADD COLUMN seq INTEGER",
          "ALTER TABLE data ADD COLUMN qos INTEGER NOT NULL DEFAULT 0",
          // A run's records of QoS 1 and 2 have seq - seq_span <= data.seq <= seq.
          "ALTER TABLE runs ADD COLUMN seq INTEGER",
          "ALTER TABLE runs ADD COLUMN seq_span INTEGER NOT NULL DEFAULT 0",
          // Every record of the epoch has min_seq <= seq <= max_seq.
          "ALTER TABLE epochs ADD COLUMN min_seq INTEGER",
          "ALTER TABLE epochs ADD COLUMN max_seq INTEGER",
          // The retained message of topic OF/data/CHANNEL, i.e. of a series: the key and seq of
          // its record, whose data and qos it shows. It expires with its record: a read skips
          // an entry whose record is gone (it reads the record anyway), which costs the sweeper
          // and the deletes nothing; a trigger on data would cost them a lookup per record.
          R"(CREATE TABLE retained (
               sid INTEGER PRIMARY KEY,
               at INTEGER NOT NULL,
               id BLOB NOT NULL,
               seq INTEGER NOT NULL))",
          // Persistent sessions (clean session 0), by login identity (a device's Plug-ID or an
          // account's id) and client id. Subscriptions and in-flight messages are small JSON
          // arrays, so that saving a session is one row write. `position`: every matching
          // record with seq <= position was handled, except those in flight.
          R"(CREATE TABLE sessions (
               identity TEXT NOT NULL,
               client_id TEXT NOT NULL,
               account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
               position INTEGER NOT NULL,
               subscriptions TEXT NOT NULL,
               inflight TEXT NOT NULL,
               created_at INTEGER NOT NULL,
               last_seen INTEGER NOT NULL,
               PRIMARY KEY (identity, client_id)) WITHOUT ROWID)",
          "CREATE INDEX sessions_account ON sessions(account_id)",
          // A device's retained messages and sessions go with it (its records go through
          // DataStore::delete_of, in batches).
          R"(CREATE TRIGGER devices_deleted_sessions AFTER DELETE ON devices
               BEGIN
                 DELETE FROM retained WHERE sid IN (SELECT sid FROM series WHERE of = OLD.id);
                 DELETE FROM sessions WHERE identity = OLD.id;
               END)",
      },
      // 11: whether a session's client is connected to the server that saved it, for
      // `plugmq session list` (another process). A server marks every session offline as it
      // starts (one that was killed could not), and the expiry passes over online ones.
      {
          "ALTER TABLE sessions ADD COLUMN online INTEGER NOT NULL DEFAULT 0",
      },
      // 12: the inbound QoS 2 packet ids of a session awaiting their PUBREL (a JSON array), so
      // that a PUBLISH sent again with DUP after the client resumed its session, or after a
      // restart, is not stored again [MQTT-4.3.3-2]. Sessions saved before have none.
      {
          "ALTER TABLE sessions ADD COLUMN awaiting_pubrel TEXT NOT NULL DEFAULT '[]'",
      },
      // 13: when each device was last seen and whether it is connected, for `plugmq device
      // list` (another process). The server writes both on its store thread, at login and at
      // disconnect (no write per publish): `online` counts the device's connections (a device
      // may connect with several client ids), `last_seen` is in ms (0: not since this
      // migration). A server sets every device offline as it starts (one that was killed could
      // not) and as it stops. Neither column moves admin_version: the directory holds neither.
      {
          "ALTER TABLE devices ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0",
          "ALTER TABLE devices ADD COLUMN online INTEGER NOT NULL DEFAULT 0",
      },
      // 14: the retained messages of an account, found by an index instead of through every
      // series of its devices (a SUBSCRIBE on an account of 300,000 series read them all). The
      // writer sets `account_id` from the publisher's device; a device keeps its account.
      {
          "ALTER TABLE retained ADD COLUMN account_id TEXT",
          "UPDATE retained SET account_id = (SELECT d.account_id FROM series s "
          "JOIN devices d ON d.id = s.of WHERE s.sid = retained.sid)",
          "DELETE FROM retained WHERE account_id IS NULL",
          "CREATE INDEX retained_by_account ON retained (account_id)",
      },
      // 15: several auth codes per controller, and their revocation (SPEC 5). The official iOS
      // app enrolls every phone of a thing as one controller (its HWID is the thing's serial):
      // each enrollment's code stays valid for the phone that got it. `earlier_auth`: the
      // SHA-256 hashes of a controller's earlier codes still valid (store::kControllerAuthCodes
      // with the current one), newest first, separated by spaces; '' for every other device,
      // so a login still checks one hash. `auth_revoked` counts the revocations of every code
      // (`plugmq device set ID --revoke-auth`, DELETE /iot/auth/ID): it moves admin_version, so
      // that a server's directory carries it to the sessions that logged in before, which end.
      {
          "ALTER TABLE devices ADD COLUMN earlier_auth TEXT NOT NULL DEFAULT ''",
          "ALTER TABLE devices ADD COLUMN auth_revoked INTEGER NOT NULL DEFAULT 0",
          "DROP TRIGGER devices_changed",
          R"(CREATE TRIGGER devices_changed AFTER UPDATE ON devices
               WHEN OLD.perm IS NOT NEW.perm OR OLD.status IS NOT NEW.status
                 OR OLD.account_id IS NOT NEW.account_id
                 OR OLD.auth_revoked IS NOT NEW.auth_revoked
               BEGIN UPDATE admin_version SET n = n + 1; END)",
      },
  };
  return kMigrations;
}

}  // namespace plugmq::store::detail
