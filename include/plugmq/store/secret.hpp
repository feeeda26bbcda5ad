// A secret a caller offers (an account password, an auth code, an enroll or control password)
// and how the store may check it against the hash it keeps.
//
// People's passwords are kept as slow hashes (platform::hash_secret, PBKDF2: tens of ms each).
// The server must not compute those on its store thread, which serves every device login and
// enrollment, so it checks in two steps. It offers the secret `deferred`: where a slow hash
// would have to be computed, the store answers "needs a check" with the stored hash instead,
// and the server checks the secret against it on a pool of its own (service::HashPool). It then
// offers the secret again, `verified` against that hash: the store accepts it only while it
// still keeps that very hash, so a password changed meanwhile does not let the old one in.
// Admin commands and tests offer secrets `direct`: checked on the spot, however slow.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace plugmq::store {

struct Secret {
  enum class Mode : std::uint8_t { kDirect, kDeferred, kVerified };

  // Direct: implicit, so that admin code passes a password as it is.
  Secret(std::string_view secret) : text(secret) {}    // NOLINT(google-explicit-constructor)
  Secret(const std::string& secret) : text(secret) {}  // NOLINT(google-explicit-constructor)
  Secret(const char* secret) : text(secret) {}         // NOLINT(google-explicit-constructor)
  static Secret deferred(std::string_view secret) { return {secret, Mode::kDeferred, {}}; }
  static Secret verified(std::string_view secret, std::string_view hash) {
    return {secret, Mode::kVerified, hash};
  }
  // Deferred when `hash` is empty, else verified against it: a step of the two-step check.
  static Secret offered(std::string_view secret, std::string_view hash) {
    return hash.empty() ? deferred(secret) : verified(secret, hash);
  }

  std::string_view text;
  Mode mode = Mode::kDirect;
  std::string_view verified_hash;  // kVerified: the stored hash `text` was found to match

 private:
  Secret(std::string_view t, Mode m, std::string_view h) : text(t), mode(m), verified_hash(h) {}
};

enum class SecretMatch : std::uint8_t { kYes, kNo, kNeedsCheck };

// Whether `secret` matches `stored`: a platform::hash_secret() hash, or (device auth codes,
// random 128-bit values) a SHA-256 in hex. kNeedsCheck only for a deferred secret against a
// slow hash. Constant time in the comparison.
SecretMatch match_secret(const Secret& secret, std::string_view stored);

// True when `stored` is a slow hash (a person's password) rather than a fast one.
bool is_slow_hash(std::string_view stored);

}  // namespace plugmq::store
