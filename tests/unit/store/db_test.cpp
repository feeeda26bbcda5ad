#include "plugmq/store/db.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "temp_dir.hpp"

namespace plugmq::store {
namespace {

namespace fs = std::filesystem;

using plugmq::testing::TempDir;

int table_count(Db& db, const char* name) {
  auto s = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1");
  s.bind(1, name);
  s.step();
  return static_cast<int>(s.int64(0));
}

TEST(Db, MemoryIsMigrated) {
  Db db = Db::open_memory();
  EXPECT_EQ(db.user_version(), 15);
  EXPECT_EQ(table_count(db, "accounts"), 1);
  EXPECT_EQ(table_count(db, "devices"), 1);
}

TEST(Db, ForeignKeysAreOn) {
  Db db = Db::open_memory();
  auto s = db.prepare("PRAGMA foreign_keys");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.int64(0), 1);
  try {
    db.exec(
        "INSERT INTO devices (id, account_id, kind, perm, auth_hash, created_at) "
        "VALUES ('dev-1', 'com-missing', 'prototype', '{}', 'x', 0)");
    FAIL() << "foreign key not enforced";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kDb);
    EXPECT_NE(std::string(e.what()).find("FOREIGN KEY"), std::string::npos) << e.what();
  }
}

TEST(Db, StmtBindAndRead) {
  Db db = Db::open_memory();
  db.exec("CREATE TABLE t (a TEXT, b INTEGER, c TEXT)");
  auto ins = db.prepare("INSERT INTO t VALUES (?1, ?2, ?3)");
  ins.bind(1, std::string("x"))
      .bind(2, std::int64_t{1} << 40)
      .bind(3, std::optional<std::string>());
  EXPECT_FALSE(ins.step());
  ins.reset();
  ins.bind(1, std::string_view{}).bind(2, 7).bind(3, std::optional<std::string>("z"));
  ins.step();
  ins.reset();
  ins.bind(1, std::string("a\0b", 3)).bind(2, std::optional<std::int64_t>()).bind(3, "lit");
  ins.step();

  auto q = db.prepare("SELECT a, b, c FROM t ORDER BY rowid");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.text(0), "x");
  EXPECT_EQ(q.int64(1), std::int64_t{1} << 40);
  EXPECT_TRUE(q.is_null(2));
  EXPECT_EQ(q.text(2), "");
  ASSERT_TRUE(q.step());
  EXPECT_FALSE(q.is_null(0)) << "an empty string_view must bind '', not NULL";
  EXPECT_EQ(q.text(0), "");
  EXPECT_EQ(q.int64(1), 7);
  EXPECT_EQ(q.text(2), "z");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.text(0), std::string("a\0b", 3));
  EXPECT_TRUE(q.is_null(1));
  EXPECT_EQ(q.text(2), "lit");
  EXPECT_FALSE(q.step());
}

TEST(Db, UniqueViolationIsExists) {
  Db db = Db::open_memory();
  db.exec("CREATE TABLE t (id TEXT PRIMARY KEY, u TEXT UNIQUE)");
  db.exec("INSERT INTO t VALUES ('a', 'x')");
  auto s = db.prepare("INSERT INTO t VALUES (?1, ?2)");
  s.bind(1, "a").bind(2, "y");
  try {
    s.step();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kExists) << e.what();
  }
  s.reset();
  s.bind(1, "b").bind(2, "x");
  try {
    s.step();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kExists) << e.what();
    EXPECT_NE(std::string(e.what()).find("UNIQUE"), std::string::npos) << e.what();
  }
  s.reset();
  s.bind(1, "b").bind(2, "y");
  EXPECT_NO_THROW(s.step()) << "a statement is reusable after a failed step";
}

TEST(Db, BadSqlIsDbError) {
  Db db = Db::open_memory();
  try {
    db.prepare("SELEKT 1");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kDb);
    EXPECT_NE(std::string(e.what()).find("syntax error"), std::string::npos) << e.what();
  }
  EXPECT_THROW(db.exec("NOT SQL"), Error);
}

TEST(Db, TransactionCommitsAndRollsBack) {
  Db db = Db::open_memory();
  db.exec("CREATE TABLE t (v INTEGER)");
  db.transaction([&] { db.exec("INSERT INTO t VALUES (1)"); });
  EXPECT_THROW(db.transaction([&] {
    db.exec("INSERT INTO t VALUES (2)");
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  auto s = db.prepare("SELECT group_concat(v) FROM t");
  s.step();
  EXPECT_EQ(s.text(0), "1");
}

TEST(Db, MoveKeepsConnection) {
  Db a = Db::open_memory();
  a.exec("CREATE TABLE t (v INTEGER)");
  Db b = std::move(a);
  EXPECT_EQ(a.handle(), nullptr);
  b.exec("INSERT INTO t VALUES (1)");
  Db c = Db::open_memory();
  c = std::move(b);
  auto s = c.prepare("SELECT count(*) FROM t");
  s.step();
  EXPECT_EQ(s.int64(0), 1);
}

TEST(Db, FileIsWalAndReopens) {
  TempDir dir;
  const auto file = dir.path() / "plugmq.db";
  {
    Db db = Db::open(file);
    EXPECT_EQ(db.user_version(), 15);
    auto s = db.prepare("PRAGMA journal_mode");
    s.step();
    EXPECT_EQ(s.text(0), "wal");
    db.exec(
        "INSERT INTO accounts (id, email, password_hash, created_at) "
        "VALUES ('com-1', 'a@b.c', 'h', 1)");
  }
  Db db = Db::open(file);
  EXPECT_EQ(db.user_version(), 15);
  auto s = db.prepare("SELECT email FROM accounts");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.text(0), "a@b.c");
}

TEST(Db, TwoConnectionsShareTheFile) {
  TempDir dir;
  const auto file = dir.path() / "plugmq.db";
  Db a = Db::open(file);
  Db b = Db::open(file);  // e.g. an admin command while the server runs
  a.exec(
      "INSERT INTO accounts (id, email, password_hash, created_at) "
      "VALUES ('com-1', 'a@b.c', 'h', 1)");
  auto s = b.prepare("SELECT count(*) FROM accounts");
  s.step();
  EXPECT_EQ(s.int64(0), 1);
}

TEST(Db, NewerSchemaIsRefused) {
  TempDir dir;
  const auto file = dir.path() / "plugmq.db";
  {
    Db db = Db::open(file);
    db.exec("PRAGMA user_version = 999");
  }
  try {
    Db::open(file);
    FAIL() << "opened a database from the future";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kInvalid);
    EXPECT_NE(std::string(e.what()).find("database schema version 999 is newer than this plugmq "
                                         "supports (15)"),
              std::string::npos)
        << e.what();
  }
}

TEST(Db, MissingDirectoryFails) {
  TempDir dir;
  try {
    Db::open(dir.path() / "no" / "such" / "plugmq.db");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kDb);
    EXPECT_NE(std::string(e.what()).find("plugmq.db"), std::string::npos) << e.what();
  }
}

TEST(Db, NotADatabaseFails) {
  TempDir dir;
  const auto file = dir.path() / "plugmq.db";
  {
    FILE* f = std::fopen(file.c_str(), "wb");
    ASSERT_TRUE(f);
    std::fputs("this is not an sqlite database, not even close, but it is long enough", f);
    std::fclose(f);
  }
  EXPECT_THROW(Db::open(file), Error);
}

TEST(Db, BusyIsReported) {
  TempDir dir;
  const auto file = dir.path() / "plugmq.db";
  Db a = Db::open(file);
  Db b = Db::open(file);
  sqlite3_busy_timeout(b.handle(), 10);  // don't wait the full 5 s in a test
  a.exec("BEGIN IMMEDIATE");
  try {
    b.exec("BEGIN IMMEDIATE");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Error::Code::kBusy) << e.what();
  }
  a.exec("COMMIT");
}

}  // namespace
}  // namespace plugmq::store
