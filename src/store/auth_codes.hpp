// A device's auth codes (SPEC 1, 5): the current one, and a controller's earlier ones that stay
// valid, so that several phones that enrolled as one controller can all log in; module-private.
//
// devices.auth_hash holds the current code's hash (a SHA-256, or a prototype's own password as
// a slow hash); devices.earlier_auth the SHA-256 hashes of earlier codes still valid, newest
// first, separated by spaces (migration 15): empty for every device but a controller enrolled
// more than once, so a login checks one hash in the common case. devices.auth_revoked counts
// the revocations of them all, which the directory carries to the server's sessions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "plugmq/store/db.hpp"
#include "plugmq/store/secret.hpp"

namespace plugmq::store::detail {

// A new auth code for a device that has one: the old one stops working, the earlier ones too.
// Returns it in clear. REQUIRES: the device exists: the caller found it in the transaction it
// runs this in (a missing one throws Error kNotFound, which the enrollment reports as kFailed).
std::string renew_auth(Db& db, const std::string& device_id);

// A new auth code for a device, its current one and the earlier ones staying valid, `keep` in
// all (the oldest dropped first; a slow hash, a person's own password, is never kept). Returns
// it in clear. REQUIRES as renew_auth; keep >= 1.
std::string add_auth(Db& db, const std::string& device_id, std::size_t keep);

// Ends every auth code of the device (none is valid after it) and counts the revocation
// (devices.auth_revoked), which makes the server close the connections that logged in before.
// False when there is no such device.
bool revoke_auth(Db& db, const std::string& device_id);

// The earlier hashes to store after a new code: `current` (when it is a SHA-256) then
// `earlier`, at most keep - 1 of them.
std::string earlier_after_new(std::string_view current, std::string_view earlier, std::size_t keep);

// Whether `secret` is one of the earlier codes whose hashes `earlier` holds (constant time in
// each comparison). False at once when there are none.
bool matches_earlier(const Secret& secret, std::string_view earlier);

}  // namespace plugmq::store::detail
