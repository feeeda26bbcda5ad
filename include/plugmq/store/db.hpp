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
#include <utility>

#include "plugmq/store/errc.hpp"
#include "plugmq/store/statement.hpp"

struct sqlite3;

namespace plugmq::store {

// A store failure thrown: the database busy or failing (kBusy, kDb), a violated REQUIRES, or an
// expected Failure that a caller to whom every failure is fatal took with Result::value() (admin
// commands). `code` lets callers map it to a user-facing reaction.
class Error : public std::runtime_error {
 public:
  using Code = Errc;
  Error(Code code, const std::string& what) : std::runtime_error(what), code_(code) {}
  Code code() const { return code_; }
  boost::system::error_code error_code() const { return make_error_code(code_); }

 private:
  Code code_;
};

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

  // The connection, for the store's own statements and hooks.
  sqlite3* handle() const { return db_; }

  // Runs one or more statements without results. Throws Error.
  void exec(std::string_view sql);
  Stmt prepare(std::string_view sql);

  // Rows changed by the last INSERT, UPDATE or DELETE.
  std::int64_t changes() const;
  // Inside a transaction (BEGIN ... not yet ended), this connection's or a savepoint's.
  bool in_transaction() const;

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

  // Runs `fn` all-or-nothing: inside the caller's transaction as a savepoint, otherwise as a
  // transaction() of its own (IMMEDIATE, so that it waits for another writer rather than fail
  // when a read would upgrade). Rethrows what `fn` throws, after undoing its writes.
  template <class F>
  void savepoint(F&& fn) {
    if (!in_transaction()) {
      transaction(std::forward<F>(fn));
      return;
    }
    exec("SAVEPOINT atomically");
    try {
      fn();
    } catch (...) {
      exec("ROLLBACK TO atomically");
      exec("RELEASE atomically");
      throw;
    }
    exec("RELEASE atomically");
  }

  // One read transaction while it lives: the statements of one call see one snapshot and take
  // one WAL read lock instead of one each (per-statement locking cost more than the b-tree work
  // of a 100-record read). Inside the caller's transaction it does nothing; when BEGIN fails
  // (it cannot for a read), each statement reads on its own.
  class [[nodiscard]] ReadTransaction {
   public:
    explicit ReadTransaction(Db& db);
    ~ReadTransaction();
    ReadTransaction(const ReadTransaction&) = delete;
    ReadTransaction& operator=(const ReadTransaction&) = delete;

   private:
    sqlite3* db_;  // null: nothing to end
  };
  ReadTransaction read_transaction() { return ReadTransaction(*this); }

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

}  // namespace plugmq::store
