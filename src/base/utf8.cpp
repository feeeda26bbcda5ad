// UTF-8 validation [MQTT-1.5.3-1] [MQTT-1.5.3-2].
//
// Every topic and payload of every PUBLISH goes through here, so the common all-ASCII case is checked eight
// bytes at a time; multi-byte sequences follow the Unicode well-formedness table (Unicode 15,
// table 3-7), which rules out overlong forms, surrogates and code points above U+10FFFF.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "plugmq/base/utf8.hpp"

namespace plugmq::base {
namespace {

constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;
constexpr std::uint64_t kLowBits = 0x0101010101010101ULL;

constexpr bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

bool valid_utf8(std::string_view s, Nul nul) noexcept {
  const bool nul_ok = nul == Nul::kAllowed;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  while (p != end) {
    // Fast path: eight ASCII bytes (none of them NUL, unless allowed). memcpy keeps the load
    // aligned-agnostic.
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, sizeof w);
      if ((w & kHighBits) != 0) break;
      // With no high bit set this is non-zero exactly when some byte is zero. [MQTT-1.5.3-2]
      if (!nul_ok && ((w - kLowBits) & ~w & kHighBits) != 0) return false;
      p += 8;
    }
    if (p == end) break;

    const unsigned char c = *p;
    if (c < 0x80) {
      if (c == 0 && !nul_ok) return false;  // U+0000 [MQTT-1.5.3-2]
      ++p;
      continue;
    }
    const auto left = end - p;
    if (c < 0xC2) {
      // 0x80..0xBF: a continuation byte with no lead; 0xC0, 0xC1: overlong two-byte forms.
      return false;
    }
    if (c < 0xE0) {
      if (left < 2 || !is_continuation(p[1])) return false;
      p += 2;
      continue;
    }
    if (c < 0xF0) {
      if (left < 3) return false;
      // E0 needs A0..BF (else overlong); ED needs 80..9F (else a surrogate) [MQTT-1.5.3-1].
      const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80;
      const unsigned char hi = c == 0xED ? 0x9F : 0xBF;
      if (p[1] < lo || p[1] > hi || !is_continuation(p[2])) return false;
      p += 3;
      continue;
    }
    if (c < 0xF5) {
      if (left < 4) return false;
      // F0 needs 90..BF (else overlong); F4 needs 80..8F (else above U+10FFFF).
      const unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
      const unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;
      if (p[1] < lo || p[1] > hi || !is_continuation(p[2]) || !is_continuation(p[3])) {
        return false;
      }
      p += 4;
      continue;
    }
    return false;  // F5..FF never appear in UTF-8.
  }
  return true;
}

}  // namespace plugmq::base
