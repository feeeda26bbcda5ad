// The earlier auth codes of a controller (src/store/auth_codes.hpp): which hashes are kept after
// a new code, and the check of a code against them.
#include "../../../src/store/auth_codes.hpp"

#include <gtest/gtest.h>

#include <string>

#include "plugmq/platform/crypto.hpp"

namespace plugmq::store::detail {
namespace {

std::string hash(const std::string& code) { return platform::sha256_hex(code); }

TEST(AuthCodes, TheNewestEarlierHashesAreKept) {
  const std::string h1 = hash("1"), h2 = hash("2"), h3 = hash("3");
  EXPECT_EQ(earlier_after_new(h1, "", 8), h1);
  EXPECT_EQ(earlier_after_new(h2, h1, 8), h2 + " " + h1);
  EXPECT_EQ(earlier_after_new(h3, h2 + " " + h1, 3), h3 + " " + h2) << "keep - 1 earlier ones";
  EXPECT_EQ(earlier_after_new(h3, h2 + " " + h1, 1), "") << "one code: none earlier";
  // No code (revoked), and a person's password as a slow hash, are not codes to keep.
  EXPECT_EQ(earlier_after_new("", h1, 8), h1);
  EXPECT_EQ(earlier_after_new(platform::hash_secret("my-password"), "", 8), "");
}

TEST(AuthCodes, ACodeMatchesAnyEarlierHash) {
  const std::string earlier = hash("b") + " " + hash("a");
  EXPECT_TRUE(matches_earlier(Secret("a"), earlier));
  EXPECT_TRUE(matches_earlier(Secret("b"), earlier));
  EXPECT_FALSE(matches_earlier(Secret("c"), earlier));
  EXPECT_FALSE(matches_earlier(Secret(""), earlier));
  EXPECT_FALSE(matches_earlier(Secret("a"), ""));
  EXPECT_FALSE(matches_earlier(Secret(hash("a")), earlier)) << "the hash is not the code";
}

}  // namespace
}  // namespace plugmq::store::detail
