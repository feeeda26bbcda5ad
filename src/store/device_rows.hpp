// Device rows shared by Identity (prototypes) and Fleet (enrollment); module-private.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "plugmq/store/db.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::store::detail {

inline constexpr std::size_t kMaxName = 256;

// A device name: at most kMaxName bytes of UTF-8. Throws Error kInvalid.
void check_name(std::string_view name);

// Inserts `d` (its account_id, kind, name, hwid, model and perm as given; id, status "ok",
// last_client_id and created_at are set here) with a new auth code, stored as a hash. Returns
// the device and the code in clear. The caller checked the fields.
NewDevice insert_device(Db& db, Device d);

// `s` quoted for a message: bytes that could garble a terminal or a log line are escaped, so
// even an invalid HWID can be named.
std::string quote_for_message(std::string_view s);

// The things a controller controls, oldest first.
std::vector<std::string> controls_of(Db& db, const std::string& controller_id);

}  // namespace plugmq::store::detail
