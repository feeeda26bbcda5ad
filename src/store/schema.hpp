// The schema as an append-only list of migrations (module-private).
#pragma once

#include <string_view>
#include <vector>

namespace plugmq::store::detail {

// migrations()[N - 1] takes the schema from version N - 1 to N (PRAGMA user_version). Each is
// a list of SQL statements run in order inside one transaction. Never edit a released
// migration: append a new one.
const std::vector<std::vector<std::string_view>>& migrations();

}  // namespace plugmq::store::detail
