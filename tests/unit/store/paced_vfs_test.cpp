#include "plugmq/os/paced_vfs.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <thread>

#include "plugmq/store/db.hpp"
#include "temp_dir.hpp"

namespace plugmq::store {
namespace {

using os::paced_vfs_name;
using os::ScopedWritePacer;
using plugmq::testing::TempDir;

// Counts the calls of the pacer it installs on the constructing thread while it lives.
struct CountingPacer {
  int calls = 0;
  ScopedWritePacer scope{[](void* self) noexcept { ++static_cast<CountingPacer*>(self)->calls; },
                         this};
};

std::string vfs_of(Db& db) {
  char* name = nullptr;
  EXPECT_EQ(sqlite3_file_control(db.handle(), "main", SQLITE_FCNTL_VFSNAME, &name), SQLITE_OK);
  std::string out = name ? name : "";
  sqlite3_free(name);
  return out;
}

// The connection's files go through the paced VFS (which names itself before the one it wraps).
bool is_paced(Db& db) {
  return paced_vfs_name() != nullptr &&
         vfs_of(db).rfind(std::string(paced_vfs_name()) + "/", 0) == 0;
}

void insert_rows(Db& db, int n) {
  db.transaction([&] {
    auto s = db.prepare("INSERT INTO t (v) VALUES (?1)");
    for (int i = 0; i < n; ++i) {
      s.bind(1, std::string(200, static_cast<char>('a' + i % 26)));
      s.step();
      s.reset();
    }
  });
}

std::int64_t count_rows(Db& db) {
  auto s = db.prepare("SELECT count(*) FROM t");
  s.step();
  return s.int64(0);
}

TEST(PacedVfs, DatabaseFilesAreOpenedThroughIt) {
  ASSERT_NE(paced_vfs_name(), nullptr);
  TempDir dir;
  Db db = Db::open(dir.path() / "p.db");
  EXPECT_TRUE(is_paced(db)) << vfs_of(db);
  // It is not the default: other programs linking SQLite are not affected.
  EXPECT_STRNE(sqlite3_vfs_find(nullptr)->zName, paced_vfs_name());
}

TEST(PacedVfs, PacerRunsBeforeTheWritesOfItsThreadOnly) {
  TempDir dir;
  Db db = Db::open(dir.path() / "p.db");
  ASSERT_TRUE(is_paced(db));
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  {
    CountingPacer pacer;
    // 1,000 rows of 200 bytes: several 16 KiB pages, each a write of its own to the WAL.
    insert_rows(db, 1000);
    EXPECT_GE(pacer.calls, 10);
    // Another thread's writes do not call this thread's pacer.
    const int before = pacer.calls;
    std::thread other([&] {
      Db db2 = Db::open(dir.path() / "p.db");
      insert_rows(db2, 1000);
    });
    other.join();
    EXPECT_EQ(pacer.calls, before);
  }
  // Without a pacer, writes go through unpaced and the data is all there.
  insert_rows(db, 10);
  EXPECT_EQ(count_rows(db), 2010);
}

TEST(PacedVfs, ScopedPacersNest) {
  TempDir dir;
  Db db = Db::open(dir.path() / "p.db");
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  CountingPacer outer;
  {
    CountingPacer inner;
    insert_rows(db, 200);
    EXPECT_GT(inner.calls, 0);
    EXPECT_EQ(outer.calls, 0);
  }
  insert_rows(db, 200);
  EXPECT_GT(outer.calls, 0);
}

TEST(PacedVfs, SharesFilesAndLocksWithTheDefaultVfs) {
  // Admin commands of another build, or the sqlite3 shell, open the same files with the
  // default VFS: both must see each other's commits and locks (same WAL, same shared memory).
  TempDir dir;
  const auto file = (dir.path() / "p.db").string();
  Db db = Db::open(file);
  ASSERT_TRUE(is_paced(db));
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  insert_rows(db, 100);

  sqlite3* plain = nullptr;
  ASSERT_EQ(sqlite3_open_v2(file.c_str(), &plain, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(plain, "SELECT count(*) FROM t", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(s, 0), 100);
  sqlite3_finalize(s);

  // While the plain connection holds the write lock, the paced one cannot take it.
  ASSERT_EQ(sqlite3_exec(plain, "BEGIN IMMEDIATE; INSERT INTO t (v) VALUES ('x')", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  sqlite3_busy_timeout(db.handle(), 0);
  EXPECT_THROW(db.exec("BEGIN IMMEDIATE"), Error);
  ASSERT_EQ(sqlite3_exec(plain, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close_v2(plain);
  EXPECT_EQ(count_rows(db), 101);
}

TEST(PacedVfs, CheckpointWritesArePaced) {
  // The store thread paces its WAL checkpoints: the pages a checkpoint copies into the
  // database are writes through the VFS like a commit's.
  TempDir dir;
  Db db = Db::open(dir.path() / "p.db");
  ASSERT_TRUE(is_paced(db));
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
  insert_rows(db, 1000);
  CountingPacer pacer;
  auto s = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.int64(0), 0);           // not busy
  EXPECT_EQ(s.int64(2), s.int64(1));  // every frame copied
  // 1,000 rows of 200 bytes fill at least 12 pages of 16 KiB, each a write to the database.
  EXPECT_GE(pacer.calls, 12);
}

TEST(PacedVfs, OpenFailureIsPassedOn) {
  ASSERT_NE(paced_vfs_name(), nullptr);
  TempDir dir;
  // A directory where the database file should be: the wrapped open fails, and so does this.
  EXPECT_THROW(Db::open(dir.path()), Error);
}

}  // namespace
}  // namespace plugmq::store
