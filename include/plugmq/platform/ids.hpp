// CloudPlugs identifiers: Plug-IDs and record ids (OIDs).
//
// An OID is 24 lowercase hex digits built like a MongoDB ObjectId: 4 bytes of Unix seconds
// (big endian), 5 random bytes chosen once per process, 3 bytes of a counter. Ids therefore
// sort by creation time. A Plug-ID is a kind prefix ("dev-", "mod-", "com-") plus an OID.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace plugmq::platform {

enum class IdKind { kDevice, kModel, kAccount };

// "dev-", "mod-" or "com-".
std::string_view prefix_of(IdKind kind);

// A new OID. Thread-safe, lock-free.
std::string new_oid();
// The same with the given Unix seconds as its time. The store finds a record by its id through
// that second (store::DataStore): a record stamped by the server gets the second of its `at`.
std::string new_oid(std::int64_t unix_seconds);

// A new Plug-ID of the given kind. Thread-safe.
std::string new_plug_id(IdKind kind);

// Checks `s` is a Plug-ID (any kind, or `kind` when given), accepting upper case; returns
// it in lowercase, or nothing when malformed.
std::optional<std::string> normalize_plug_id(std::string_view s,
                                             std::optional<IdKind> kind = std::nullopt);

// Checks `s` is 24 hex digits; returns it in lowercase.
std::optional<std::string> normalize_oid(std::string_view s);

// An OID as the store keeps it: 12 bytes, in the order its hex digits give.
inline constexpr std::size_t kOidBytes = 12;
using OidBytes = std::array<unsigned char, kOidBytes>;

// The bytes of a 24-hex-digit OID (either case); nothing when malformed.
std::optional<OidBytes> oid_bytes(std::string_view hex);
// Lowercase hex for `bytes` (an OID's 12 bytes give its 24 digits).
std::string oid_hex(std::string_view bytes);

// The value of a hex digit (either case), or -1.
int hex_value(char c);

// `s` with ASCII letters in lowercase (Plug-IDs and emails compare case-insensitively).
std::string lower_ascii(std::string_view s);

// Milliseconds since the Unix epoch (system clock).
std::int64_t now_ms();

}  // namespace plugmq::platform
