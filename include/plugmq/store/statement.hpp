// A prepared SQLite statement: the store's one statement wrapper.
//
// Bind indexes start at 1, column indexes at 0. Binding copies by default; the `_static`
// binders and the `_view` readers work in place for the hot paths (ingest, history reads),
// where copying every text and id cost more than the b-tree work.
//
// Ownership: a Stmt owns its sqlite3_stmt and must not outlive the Db it was prepared on (a
// Stmt that does keeps the connection open until it is finalized, see Db::~Db).
// Thread-safety: as its Db: one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace plugmq::store {

class Stmt {
 public:
  // kPersistent: prepared once and stepped for the connection's life (SQLite then keeps it out
  // of its lookaside memory).
  enum class Lifetime { kOnce, kPersistent };

  // Throws Error.
  Stmt(sqlite3* db, std::string_view sql, Lifetime lifetime = Lifetime::kOnce);
  Stmt(Stmt&&) noexcept;
  Stmt& operator=(Stmt&&) noexcept;
  ~Stmt();

  // Binding copies the value. Throws Error.
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

  // Binding without a copy. REQUIRES: the memory stays valid and unchanged until the statement
  // is reset or rebound.
  Stmt& bind_static(int idx, std::string_view text);
  Stmt& bind_blob_static(int idx, const void* data, std::size_t size);
  // An object for an SQL function of the connection (sqlite3_bind_pointer), tagged `type`.
  // REQUIRES: as bind_static, and `type` is a string literal.
  Stmt& bind_pointer(int idx, void* object, const char* type);

  // true: a row is available; false: done. Throws Error (kExists on a UNIQUE violation, kBusy
  // when another connection holds the lock past the busy timeout); the statement is reset then.
  bool step();
  // Ends this execution (releasing its read snapshot) and clears the bindings.
  void reset();
  // Ends this execution and keeps the bindings: for statements whose every parameter is bound
  // again before the next step.
  void rewind();

  // A guard that rewinds the statement when it leaves scope, so that no read outlives its call
  // (a pending SELECT pins the WAL snapshot and blocks checkpoints).
  class [[nodiscard]] Use {
   public:
    explicit Use(Stmt& s) : s_(s) {}
    ~Use() { s_.rewind(); }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    Stmt& s_;
  };
  Use use() { return Use(*this); }

  std::string text(int col) const;
  // The column in place: valid until the next step, reset or column read of another type.
  std::string_view text_view(int col) const;
  std::string_view blob_view(int col) const;
  std::int64_t int64(int col) const;
  bool is_null(int col) const;
  std::optional<std::int64_t> optional_int64(int col) const {
    return is_null(col) ? std::nullopt : std::optional<std::int64_t>(int64(col));
  }

 private:
  void check(int rc, std::string_view context) const;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace plugmq::store
