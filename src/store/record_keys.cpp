#include "record_keys.hpp"

#include <algorithm>
#include <utility>

#include "plugmq/store/db.hpp"

namespace plugmq::store::detail {

namespace {

// Above every valid channel: UTF-8 never has the byte 0xFF, and text compares as bytes.
const std::string kChannelAboveAll = "\xFF";

}  // namespace

OidBytes oid_or_throw(std::string_view hex) {
  auto b = platform::oid_bytes(hex);
  if (!b) {
    throw Error(Error::Code::kInvalid, "record id must be 24 hex digits: " + std::string(hex));
  }
  return *b;
}

Pos before(Pos p) {
  for (std::size_t i = p.id.size(); i-- > 0;) {
    if (p.id[i] != '\0') {
      p.id[i] = static_cast<char>(static_cast<unsigned char>(p.id[i]) - 1);
      return p;
    }
    p.id[i] = '\xFF';
  }
  return Pos{p.at, kIdBelowAll, p.cid};  // the id was all zeros
}

Pos after(Pos p) {
  for (std::size_t i = p.id.size(); i-- > 0;) {
    if (p.id[i] != '\xFF') {
      p.id[i] = static_cast<char>(static_cast<unsigned char>(p.id[i]) + 1);
      return p;
    }
    p.id[i] = '\0';
  }
  return Pos{p.at, kIdAboveAll, p.cid};  // the id was all 0xFF
}

bool run_within(const RunRange& run, const Pos& lower, const Pos& upper, Pos& lo, Pos& hi) {
  lo = std::max(lower, before(run.lo));
  hi = std::min(upper, after(run.hi));
  return lo < hi;
}

ChannelRange range_of(std::string_view mask) {
  std::size_t literal = 0;  // bytes of the literal levels, with their trailing '/'
  for (std::size_t pos = 0;;) {
    const std::size_t end = std::min(mask.find('/', pos), mask.size());
    const std::string_view level = mask.substr(pos, end - pos);
    if (level == "+" || level == "#") {
      if (literal == 0) return {"", kChannelAboveAll};
      std::string hi(mask.substr(0, literal));
      hi.back() = '/' + 1;  // the first string after every "prefix/..."
      std::string lo(mask.substr(0, level == "#" ? literal - 1 : literal));
      return {std::move(lo), std::move(hi)};
    }
    if (end == mask.size()) return {std::string(mask), std::string(mask) + '\0'};  // itself
    literal = end + 1;
    pos = end + 1;
  }
}

bool valid_filter(std::string_view filter) {
  if (filter.empty()) return false;
  for (std::size_t start = 0;;) {
    const std::size_t end = filter.find('/', start);
    const std::string_view level =
        filter.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (level.find_first_of("+#") != std::string_view::npos && level.size() != 1) return false;
    if (level == "#" && end != std::string_view::npos) return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

}  // namespace plugmq::store::detail
