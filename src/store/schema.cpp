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
  };
  return kMigrations;
}

}  // namespace plugmq::store::detail
