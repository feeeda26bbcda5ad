#include "plugmq/store/statement.hpp"

#include <sqlite3.h>

#include <utility>

#include "sqlite_error.hpp"

namespace plugmq::store {

using detail::fail;

Stmt::Stmt(sqlite3* db, std::string_view sql, Lifetime lifetime) : db_(db) {
  const unsigned flags = lifetime == Lifetime::kPersistent ? SQLITE_PREPARE_PERSISTENT : 0;
  const int rc =
      sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &stmt_, nullptr);
  if (rc != SQLITE_OK) fail(db, rc, "prepare");
  if (!stmt_) throw Error(Error::Code::kDb, "sqlite: prepare: empty statement");
}

Stmt::Stmt(Stmt&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

void Stmt::check(int rc, std::string_view context) const {
  if (rc != SQLITE_OK) fail(db_, rc, context);
}

Stmt& Stmt::bind(int idx, std::string_view text) {
  // A null pointer would bind SQL NULL; an empty string_view may well have one.
  const char* p = text.data() ? text.data() : "";
  check(sqlite3_bind_text64(stmt_, idx, p, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8), "bind");
  return *this;
}

Stmt& Stmt::bind(int idx, std::int64_t value) {
  check(sqlite3_bind_int64(stmt_, idx, value), "bind");
  return *this;
}

Stmt& Stmt::bind_null(int idx) {
  check(sqlite3_bind_null(stmt_, idx), "bind");
  return *this;
}

Stmt& Stmt::bind(int idx, const std::optional<std::string>& text) {
  return text ? bind(idx, std::string_view(*text)) : bind_null(idx);
}

Stmt& Stmt::bind(int idx, const std::optional<std::int64_t>& value) {
  return value ? bind(idx, *value) : bind_null(idx);
}

Stmt& Stmt::bind_static(int idx, std::string_view text) {
  const char* p = text.data() ? text.data() : "";
  check(sqlite3_bind_text64(stmt_, idx, p, text.size(), SQLITE_STATIC, SQLITE_UTF8), "bind");
  return *this;
}

Stmt& Stmt::bind_blob_static(int idx, const void* data, std::size_t size) {
  // As for text: a null pointer would bind SQL NULL, not an empty blob.
  check(sqlite3_bind_blob64(stmt_, idx, size ? data : "", size, SQLITE_STATIC), "bind");
  return *this;
}

Stmt& Stmt::bind_pointer(int idx, void* object, const char* type) {
  check(sqlite3_bind_pointer(stmt_, idx, object, type, nullptr), "bind");
  return *this;
}

bool Stmt::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Reset so the statement releases its locks; keep the message first, reset may change it.
  const std::string msg = std::string("sqlite: step: ") + sqlite3_errmsg(db_);
  sqlite3_reset(stmt_);
  throw Error(detail::code_of(rc), msg);
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Stmt::rewind() { sqlite3_reset(stmt_); }

std::string Stmt::text(int col) const { return std::string(text_view(col)); }

std::string_view Stmt::text_view(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string_view();
}

std::string_view Stmt::blob_view(int col) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string_view();
}

std::int64_t Stmt::int64(int col) const { return sqlite3_column_int64(stmt_, col); }

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

}  // namespace plugmq::store
