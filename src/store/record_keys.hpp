// The keys of the record index (module-private): record ids, (at, id) positions, runs and
// channel ranges. docs/storage.md describes the layout they address.
//
// Pure values and functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "plugmq/base/topic_filter.hpp"
#include "plugmq/platform/ids.hpp"

namespace plugmq::store::detail {

using platform::kOidBytes;
using platform::OidBytes;

inline constexpr std::int64_t kMinMs = std::numeric_limits<std::int64_t>::min();
inline constexpr std::int64_t kMaxMs = std::numeric_limits<std::int64_t>::max();

// A record id's bytes as the blob SQLite compares (memcmp order).
inline std::string_view oid_view(const OidBytes& id) {
  return {reinterpret_cast<const char*>(id.data()), id.size()};
}

// The bytes of a record id. Throws Error kInvalid unless `hex` is 24 hex digits.
OidBytes oid_or_throw(std::string_view hex);

// The Unix seconds in an OID (its first 4 bytes, big-endian): a record whose `at` lies in that
// second is found by id without the data_at side table.
inline std::int64_t oid_seconds(const unsigned char* id) {
  return std::int64_t{id[0]} << 24 | std::int64_t{id[1]} << 16 | std::int64_t{id[2]} << 8 |
         std::int64_t{id[3]};
}

// floor(a / b) for b > 0.
inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if (a % b < 0) --q;
  return q;
}

// A count for SQL LIMIT.
inline std::int64_t as_limit(std::size_t n) {
  return n > static_cast<std::size_t>(kMaxMs) ? kMaxMs : static_cast<std::int64_t>(n);
}

// ---- (at, id) positions: the newest-first order ----

// A point in the (at, id) order. Ids are compared as blobs (memcmp, then length), so the empty
// blob sorts before every id and 13 bytes of 0xFF after every id: with them a bound on `at`
// alone is also an (at, id) bound.
struct Pos {
  std::int64_t at = 0;
  std::string id;        // blob bytes
  std::int64_t cid = 0;  // the record's channel, when a record's; not part of the order
  friend bool operator<(const Pos& a, const Pos& b) {
    return a.at != b.at ? a.at < b.at : a.id < b.id;  // std::string compares bytes unsigned
  }
};

inline const std::string kIdBelowAll;
inline const std::string kIdAboveAll(kOidBytes + 1, '\xFF');

// The positions just outside a record's: nothing lies strictly between before(p) and p, or
// between p and after(p) (ids are 12-byte blobs). They turn a run's inclusive range into the
// exclusive bounds the scans take.
Pos before(Pos p);
Pos after(Pos p);

// A run as stored: its first and last positions (both records of it), inclusive. A run of one
// record (lo == hi) always has that record: deleting it deletes the run (docs/storage.md).
struct RunRange {
  Pos lo;
  Pos hi;
  bool single() const { return lo.at == hi.at && lo.id == hi.id; }
};

// The part of a run's range within lower < (at, id) < upper, as exclusive bounds (lo, hi):
// false when it is empty.
bool run_within(const RunRange& run, const Pos& lower, const Pos& upper, Pos& lo, Pos& hi);

// ---- MQTT filters and channel masks ----

// An MQTT topic filter's shape: not empty, wildcards only as whole levels, '#' only last (MQTT
// 3.1.1 section 4.7.1), what base::filter_matches requires.
bool valid_filter(std::string_view filter);

// A channel mask (platform::valid_channel_mask) against a channel: MQTT filter matching, with
// '$' an ordinary character.
inline bool mask_matches(std::string_view mask, std::string_view channel) {
  return base::filter_matches(mask, channel, base::DollarTopics::kPlain);
}

// Channels that can match a mask lie in [lo, hi): the literal levels before the first
// wildcard. "a/b/+/c" -> ["a/b/", "a/b0"); "a/b/#" -> ["a/b", "a/b0"), which holds "a/b" itself
// ('#' matches the parent level). Other channels in the range are filtered by mask_matches.
struct ChannelRange {
  std::string lo;
  std::string hi;
};

// A mask without wildcards is its own range.
ChannelRange range_of(std::string_view mask);

}  // namespace plugmq::store::detail
