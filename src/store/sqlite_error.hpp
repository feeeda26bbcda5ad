// SQLite result codes to store::Error (module-private): the one place that maps them.
#pragma once

#include <string_view>

#include "plugmq/store/db.hpp"

struct sqlite3;

namespace plugmq::store::detail {

// kExists for a UNIQUE or PRIMARY KEY violation, kBusy for a lock held past the busy timeout,
// else kDb. `rc` is an extended result code (switched on at open).
Error::Code code_of(int rc);

// Throws Error(code_of(rc)) with "sqlite: <context>: <the connection's message>" (SQLite's text
// for `rc` when there is no connection).
[[noreturn]] void fail(sqlite3* db, int rc, std::string_view context);

}  // namespace plugmq::store::detail
