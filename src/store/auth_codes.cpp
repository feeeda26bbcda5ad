#include "auth_codes.hpp"

#include "plugmq/platform/crypto.hpp"
#include "plugmq/store/errc.hpp"

namespace plugmq::store::detail {

namespace {

// SHA-256 in hex: what a generated code's hash is.
constexpr std::size_t kHashChars = 64;

}  // namespace

std::string renew_auth(Db& db, const std::string& device_id) {
  std::string auth = platform::new_auth_code();
  auto s = db.prepare("UPDATE devices SET auth_hash = ?1, earlier_auth = '' WHERE id = ?2");
  s.bind(1, platform::sha256_hex(auth)).bind(2, device_id);
  s.step();
  if (db.changes() == 0) {
    throw Error(Error::Code::kNotFound, "no device " + device_id);
  }
  return auth;
}

std::string add_auth(Db& db, const std::string& device_id, std::size_t keep) {
  std::string current, earlier;
  {
    auto s = db.prepare("SELECT auth_hash, earlier_auth FROM devices WHERE id = ?1");
    s.bind(1, device_id);
    if (!s.step()) throw Error(Error::Code::kNotFound, "no device " + device_id);
    current = s.text(0);
    earlier = s.text(1);
  }
  std::string auth = platform::new_auth_code();
  auto s = db.prepare("UPDATE devices SET auth_hash = ?1, earlier_auth = ?2 WHERE id = ?3");
  s.bind(1, platform::sha256_hex(auth)).bind(2, earlier_after_new(current, earlier, keep));
  s.bind(3, device_id);
  s.step();
  return auth;
}

bool revoke_auth(Db& db, const std::string& device_id) {
  // An empty hash matches no code: match_secret compares a 64-digit SHA-256 with it.
  auto s = db.prepare(
      "UPDATE devices SET auth_hash = '', earlier_auth = '', auth_revoked = auth_revoked + 1 "
      "WHERE id = ?1");
  s.bind(1, device_id);
  s.step();
  return db.changes() > 0;
}

std::string earlier_after_new(std::string_view current, std::string_view earlier,
                              std::size_t keep) {
  std::string out;
  std::size_t n = 0;
  auto add = [&](std::string_view hash) {
    if (hash.size() != kHashChars || is_slow_hash(hash) || n + 1 >= keep) return;
    if (!out.empty()) out += ' ';
    out += hash;
    ++n;
  };
  add(current);
  while (!earlier.empty()) {
    const auto space = earlier.find(' ');
    add(earlier.substr(0, space));
    earlier = space == std::string_view::npos ? std::string_view() : earlier.substr(space + 1);
  }
  return out;
}

bool matches_earlier(const Secret& secret, std::string_view earlier) {
  if (earlier.empty()) return false;
  const std::string hash = platform::sha256_hex(secret.text);
  bool found = false;
  while (!earlier.empty()) {
    const auto space = earlier.find(' ');
    // Every one compared, found or not: the time says nothing about which code matched.
    found |= platform::constant_time_equal(hash, earlier.substr(0, space));
    earlier = space == std::string_view::npos ? std::string_view() : earlier.substr(space + 1);
  }
  return found;
}

}  // namespace plugmq::store::detail
