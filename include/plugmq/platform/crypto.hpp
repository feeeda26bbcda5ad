// Secrets: random tokens, hashes for stored credentials, constant-time comparison.
//
// Device auth codes are 128-bit random values, so a plain SHA-256 is enough to store them.
// Human secrets (account, enroll and control passwords) get PBKDF2-HMAC-SHA256 with a random
// salt. All functions are thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace plugmq::platform {

// `bytes` random bytes from OpenSSL's CSPRNG, as 2*bytes lowercase hex digits.
std::string random_hex(std::size_t bytes);

// A new device auth code: 128 random bits as 32 lowercase hex digits.
std::string new_auth_code();

// SHA-256 of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

// Salted slow hash of a human secret, self-describing:
// "pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX".
std::string hash_secret(std::string_view secret);

// True when `secret` matches a hash_secret() result. Constant time in the hash comparison;
// false for any malformed `stored`.
bool verify_secret(std::string_view secret, std::string_view stored);

// Compares two strings in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

// Human secrets are 4..128 bytes (SPEC 1).
bool valid_secret(std::string_view secret);

}  // namespace plugmq::platform
