#include "plugmq/platform/ids.hpp"

#include <openssl/rand.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>

namespace plugmq::platform {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Per-process part of every OID, fixed at first use: the 5 random bytes already as hex, so
// new_oid() only formats the time and the counter.
struct OidState {
  std::array<char, 10> random_hex;
  std::atomic<std::uint32_t> counter;

  OidState() {
    unsigned char bytes[8];
    if (RAND_bytes(bytes, sizeof bytes) != 1) {
      throw std::runtime_error("OpenSSL RAND_bytes failed: cannot create ids");
    }
    for (int i = 0; i < 5; ++i) {
      random_hex[2 * i] = kHex[bytes[i] >> 4];
      random_hex[2 * i + 1] = kHex[bytes[i] & 0xF];
    }
    // A random start, as MongoDB does: ids of two processes differ even if they drew the same
    // random bytes in the same second.
    counter.store((std::uint32_t{bytes[5]} << 16) | (std::uint32_t{bytes[6]} << 8) | bytes[7],
                  std::memory_order_relaxed);
  }
};

// A function-local static: initialized on first use (after OpenSSL is usable), then only a
// guard check per call.
OidState& oid_state() {
  static OidState state;
  return state;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<OidBytes> oid_bytes(std::string_view hex) {
  if (hex.size() != 2 * kOidBytes) return std::nullopt;
  OidBytes out;
  for (std::size_t i = 0; i < kOidBytes; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return out;
}

std::string oid_hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

std::string_view prefix_of(IdKind kind) {
  switch (kind) {
    case IdKind::kDevice:
      return "dev-";
    case IdKind::kModel:
      return "mod-";
    case IdKind::kAccount:
      return "com-";
  }
  return "dev-";
}

std::string new_oid() {
  return new_oid(std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count());
}

std::string new_oid(std::int64_t unix_seconds) {
  OidState& s = oid_state();
  const auto secs = static_cast<std::uint32_t>(unix_seconds);
  const std::uint32_t count = s.counter.fetch_add(1, std::memory_order_relaxed) & 0xFFFFFF;

  std::string out(24, '0');
  char* p = out.data();
  for (int i = 0; i < 8; ++i) p[i] = kHex[(secs >> (28 - 4 * i)) & 0xF];
  for (int i = 0; i < 10; ++i) p[8 + i] = s.random_hex[i];
  for (int i = 0; i < 6; ++i) p[18 + i] = kHex[(count >> (20 - 4 * i)) & 0xF];
  return out;
}

std::string new_plug_id(IdKind kind) {
  std::string id(prefix_of(kind));
  id += new_oid();
  return id;
}

std::optional<std::string> normalize_oid(std::string_view s) {
  if (s.size() != 24) return std::nullopt;
  std::string out(24, '0');
  for (std::size_t i = 0; i < 24; ++i) {
    const int v = hex_value(s[i]);
    if (v < 0) return std::nullopt;
    out[i] = kHex[v];
  }
  return out;
}

std::optional<std::string> normalize_plug_id(std::string_view s, std::optional<IdKind> kind) {
  if (s.size() != 28) return std::nullopt;
  std::string prefix{lower(s[0]), lower(s[1]), lower(s[2]), lower(s[3])};
  bool matched = false;
  for (IdKind k : {IdKind::kDevice, IdKind::kModel, IdKind::kAccount}) {
    if (prefix == prefix_of(k) && (!kind || *kind == k)) matched = true;
  }
  if (!matched) return std::nullopt;
  auto oid = normalize_oid(s.substr(4));
  if (!oid) return std::nullopt;
  return prefix + *oid;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace plugmq::platform
