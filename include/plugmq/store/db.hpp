// RAII wrapper over one SQLite connection.
//
// Thread-safety: a Db (and its statements) is used by one thread at a time. The server keeps
// its connections on store threads, never on network threads. Several processes may open the
// same file (WAL mode, busy timeout), so admin commands work while the server runs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace plugmq::store {

// Every store failure. `code` lets callers map it to a user-facing reaction.
class Error : public std::runtime_error {
 public:
  enum class Code { kNotFound, kExists, kInvalid, kBusy, kDb };
  Error(Code code, const std::string& what) : std::runtime_error(what), code_(code) {}
  Code code() const { return code_; }

 private:
  Code code_;
};

class Stmt;

class Db {
 public:
  // Opens (creating when missing) `file`, sets WAL, foreign keys, a busy timeout, and migrates
  // the schema to the newest version (PRAGMA user_version). Throws Error.
  static Db open(const std::filesystem::path& file);
  // A private in-memory database with the same schema (tests).
  static Db open_memory();

  Db(Db&&) noexcept;
  Db& operator=(Db&&) noexcept;
  ~Db();

  sqlite3* handle() const { return db_; }

  // Runs one or more statements without results. Throws Error.
  void exec(std::string_view sql);
  Stmt prepare(std::string_view sql);

  // Schema version after migration.
  int user_version();

  // BEGIN IMMEDIATE ... COMMIT; rolls back when `fn` throws (and rethrows). The before-commit
  // callback runs after `fn`, inside the transaction.
  template <class F>
  void transaction(F&& fn) {
    exec("BEGIN IMMEDIATE");
    try {
      fn();
      if (before_commit_) before_commit_(before_commit_arg_);
    } catch (...) {
      exec("ROLLBACK");
      throw;
    }
    exec("COMMIT");
  }

  // What transaction() runs before each COMMIT (one callback; nullptr: none). DataStore writes
  // what it kept for the end of the transaction here. Throwing from it rolls back.
  void set_before_commit(void (*fn)(void*), void* arg) {
    before_commit_ = fn;
    before_commit_arg_ = arg;
  }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  void migrate();
  sqlite3* db_ = nullptr;
  void (*before_commit_)(void*) = nullptr;
  void* before_commit_arg_ = nullptr;
};

// A prepared statement. Bind indexes start at 1, column indexes at 0.
class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql);
  Stmt(Stmt&&) noexcept;
  Stmt& operator=(Stmt&&) noexcept;
  ~Stmt();

  Stmt& bind(int idx, std::string_view text);
  // Exact matches for std::string and literals, which otherwise convert equally well to
  // std::string_view and std::optional<std::string> (an ambiguous call).
  Stmt& bind(int idx, const std::string& text) { return bind(idx, std::string_view(text)); }
  Stmt& bind(int idx, const char* text) { return bind(idx, std::string_view(text)); }
  Stmt& bind(int idx, std::int64_t value);
  Stmt& bind(int idx, int value) { return bind(idx, static_cast<std::int64_t>(value)); }
  Stmt& bind_null(int idx);
  Stmt& bind(int idx, const std::optional<std::string>& text);
  Stmt& bind(int idx, const std::optional<std::int64_t>& value);

  // true: a row is available; false: done. Throws Error (kExists on a UNIQUE violation).
  bool step();
  void reset();  // reset and clear bindings

  std::string text(int col) const;
  std::int64_t int64(int col) const;
  bool is_null(int col) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace plugmq::store
