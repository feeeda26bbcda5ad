#include "plugmq/store/secret.hpp"

#include "plugmq/platform/crypto.hpp"

namespace plugmq::store {

bool is_slow_hash(std::string_view stored) { return stored.starts_with("pbkdf2-"); }

SecretMatch match_secret(const Secret& secret, std::string_view stored) {
  auto yes = [](bool b) { return b ? SecretMatch::kYes : SecretMatch::kNo; };
  if (!is_slow_hash(stored)) {
    return yes(platform::constant_time_equal(platform::sha256_hex(secret.text), stored));
  }
  // A person's secret outside 4..128 bytes was never accepted: no need to hash it.
  if (!platform::valid_secret(secret.text)) return SecretMatch::kNo;
  switch (secret.mode) {
    case Secret::Mode::kVerified:
      return yes(platform::constant_time_equal(secret.verified_hash, stored));
    case Secret::Mode::kDeferred:
      return SecretMatch::kNeedsCheck;
    case Secret::Mode::kDirect:
      break;
  }
  return yes(platform::verify_secret(secret.text, stored));
}

}  // namespace plugmq::store
