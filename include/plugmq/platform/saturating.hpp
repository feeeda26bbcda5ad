// 64-bit arithmetic that saturates instead of overflowing: times and limits come from clients
// as any 64-bit value. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <limits>

namespace plugmq::platform {

// a + b, clamped to [INT64_MIN, INT64_MAX].
inline std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<std::int64_t>::max()
                 : std::numeric_limits<std::int64_t>::min();
  }
  return r;
}

// a * b, clamped to [INT64_MIN, INT64_MAX].
inline std::int64_t saturating_mul(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) {
    return (a < 0) != (b < 0) ? std::numeric_limits<std::int64_t>::min()
                              : std::numeric_limits<std::int64_t>::max();
  }
  return r;
}

}  // namespace plugmq::platform
