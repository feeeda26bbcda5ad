#include "plugmq/platform/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "plugmq/platform/ids.hpp"

namespace plugmq::platform {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kScheme = "pbkdf2-sha256";

// ~40 ms per hash on a current x86 core: slow for an offline guesser, fast enough that a
// login (and the test suite) does not notice. Stored hashes carry their own count, so raising
// it later only affects new hashes.
constexpr int kIterations = 100000;
// verify_secret() takes the count from the stored string; a forged huge count must not pin a
// CPU for minutes.
constexpr long kMaxIterations = 10'000'000;
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;

std::string to_hex(const unsigned char* p, std::size_t n) {
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[p[i] >> 4];
    out[2 * i + 1] = kHex[p[i] & 0xF];
  }
  return out;
}

bool from_hex(std::string_view hex, std::vector<unsigned char>& out) {
  if (hex.empty() || hex.size() % 2 != 0) return false;
  out.resize(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return true;
}

void random_bytes(unsigned char* p, std::size_t n) {
  if (RAND_bytes(p, static_cast<int>(n)) != 1) {
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
}

bool pbkdf2(std::string_view secret, const std::vector<unsigned char>& salt, int iterations,
            unsigned char* out, std::size_t out_len) {
  // PKCS5_PBKDF2_HMAC wants a non-null pointer even for an empty password.
  const char* pass = secret.empty() ? "" : secret.data();
  return PKCS5_PBKDF2_HMAC(pass, static_cast<int>(secret.size()), salt.data(),
                           static_cast<int>(salt.size()), iterations, EVP_sha256(),
                           static_cast<int>(out_len), out) == 1;
}

}  // namespace

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (bytes > 0) random_bytes(buf.data(), bytes);
  return to_hex(buf.data(), bytes);
}

std::string new_auth_code() { return random_hex(16); }

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("OpenSSL SHA-256 failed");
  }
  return to_hex(md, len);
}

std::string hash_secret(std::string_view secret) {
  std::vector<unsigned char> salt(kSaltBytes);
  random_bytes(salt.data(), salt.size());
  unsigned char hash[kHashBytes];
  if (!pbkdf2(secret, salt, kIterations, hash, sizeof hash)) {
    throw std::runtime_error("OpenSSL PBKDF2 failed");
  }
  std::string out(kScheme);
  out += '$';
  out += std::to_string(kIterations);
  out += '$';
  out += to_hex(salt.data(), salt.size());
  out += '$';
  out += to_hex(hash, sizeof hash);
  return out;
}

bool verify_secret(std::string_view secret, std::string_view stored) {
  // "pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX"
  auto next = [&stored](std::string_view& field) {
    const auto pos = stored.find('$');
    field = stored.substr(0, pos);
    stored = pos == std::string_view::npos ? std::string_view{} : stored.substr(pos + 1);
    return pos != std::string_view::npos;
  };
  std::string_view scheme, iter_text, salt_hex, hash_hex;
  if (!next(scheme) || scheme != kScheme) return false;
  if (!next(iter_text) || !next(salt_hex)) return false;
  hash_hex = stored;
  if (hash_hex.find('$') != std::string_view::npos) return false;

  long iterations = 0;
  const auto [end, ec] =
      std::from_chars(iter_text.data(), iter_text.data() + iter_text.size(), iterations);
  if (ec != std::errc{} || end != iter_text.data() + iter_text.size()) return false;
  if (iterations < 1 || iterations > kMaxIterations) return false;

  std::vector<unsigned char> salt, expected;
  if (!from_hex(salt_hex, salt) || !from_hex(hash_hex, expected)) return false;
  if (expected.size() > EVP_MAX_MD_SIZE * 2) return false;

  std::vector<unsigned char> actual(expected.size());
  if (!pbkdf2(secret, salt, static_cast<int>(iterations), actual.data(), actual.size())) {
    return false;
  }
  return CRYPTO_memcmp(actual.data(), expected.data(), actual.size()) == 0;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    // Still touch the content so the time depends on lengths only, as documented.
    volatile int sink = CRYPTO_memcmp(a.data(), a.data(), a.size());
    (void)sink;
    return false;
  }
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool valid_secret(std::string_view secret) { return secret.size() >= 4 && secret.size() <= 128; }

}  // namespace plugmq::platform
