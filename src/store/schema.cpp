#include "schema.hpp"

namespace plugmq::store::detail {

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
          // Keyed by the record id: a 12-byte OID blob, not its 24-char hex. OIDs grow with
          // time, so inserts append at the right edge of every b-tree but the per-channel one,
          // and WITHOUT ROWID makes the id the row's only key: no separate rowid and no extra
          // unique index on id (one b-tree fewer to update per insert), and every secondary
          // index ends with the id, which is exactly the "newest first, then by id" order.
          // Deleting a device does NOT delete its records here (no trigger): a device with a
          // long history would hold the write lock for seconds and stall ingest. Whoever
          // deletes a device calls DataStore::delete_of in batches.
          R"(CREATE TABLE data (
               id BLOB PRIMARY KEY,
               of TEXT NOT NULL,
               channel TEXT NOT NULL,
               at INTEGER NOT NULL,
               expire_at INTEGER,
               data TEXT NOT NULL) WITHOUT ROWID)",
          // History of one device's channel, newest first; also channel masks under one
          // publisher (skip-scan of its distinct channels) and deleting a device's records.
          "CREATE INDEX data_of_channel_at ON data(of, channel, at)",
          // A channel across publishers (no `of`), and the distinct channels of a mask.
          "CREATE INDEX data_channel_at ON data(channel, at)",
          // The retention sweeper; records that never expire are left out of the index.
          "CREATE INDEX data_expire ON data(expire_at) WHERE expire_at IS NOT NULL",
          // Values are compact JSON text; a link is stored as {"channel":"CH"}.
          R"(CREATE TABLE props (
               device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
               name TEXT NOT NULL,
               value TEXT NOT NULL,
               PRIMARY KEY (device_id, name)) WITHOUT ROWID)",
      },
  };
  return kMigrations;
}

}  // namespace plugmq::store::detail
