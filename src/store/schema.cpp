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
  };
  return kMigrations;
}

}  // namespace plugmq::store::detail
