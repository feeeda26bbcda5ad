#include "plugmq/platform/crypto.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace plugmq::platform {
namespace {

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

TEST(Crypto, RandomHex) {
  EXPECT_EQ(random_hex(0), "");
  const auto a = random_hex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_TRUE(is_lower_hex(a));
  EXPECT_NE(a, random_hex(16));
}

TEST(Crypto, AuthCodeIs128BitHex) {
  const auto a = new_auth_code();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_TRUE(is_lower_hex(a));
  EXPECT_NE(a, new_auth_code());
}

TEST(Crypto, Sha256KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, HashSecretFormat) {
  const auto h = hash_secret("secret");
  ASSERT_TRUE(h.starts_with("pbkdf2-sha256$"));
  const auto p1 = h.find('$'), p2 = h.find('$', p1 + 1), p3 = h.find('$', p2 + 1);
  ASSERT_NE(p3, std::string::npos);
  EXPECT_GE(std::stol(h.substr(p1 + 1, p2 - p1 - 1)), 10000);
  EXPECT_EQ(p3 - p2 - 1, 32u);        // 16-byte salt
  EXPECT_EQ(h.size() - p3 - 1, 64u);  // 32-byte hash
  EXPECT_NE(h, hash_secret("secret")) << "salts must differ";
}

TEST(Crypto, VerifyRoundTrip) {
  const auto h = hash_secret("correct horse");
  EXPECT_TRUE(verify_secret("correct horse", h));
  EXPECT_FALSE(verify_secret("correct horsE", h));
  EXPECT_FALSE(verify_secret("", h));
}

TEST(Crypto, VerifyKnownVector) {
  // RFC 7914 section 11 PBKDF2-HMAC-SHA256 vector: P="passwd", S="salt", c=1, dkLen=64.
  const std::string stored =
      "pbkdf2-sha256$1$73616c74$"
      "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
      "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783";
  EXPECT_TRUE(verify_secret("passwd", stored));
  EXPECT_FALSE(verify_secret("passwe", stored));
}

TEST(Crypto, VerifyMalformedStored) {
  const auto good = hash_secret("pw12");
  ASSERT_TRUE(verify_secret("pw12", good));
  const auto p3 = good.rfind('$');
  const std::string salt_hash = good.substr(good.find('$', good.find('$') + 1));  // "$SALT$HASH"
  for (const std::string& bad : {
           std::string(""), std::string("pw12"), std::string("pbkdf2-sha256"),
           std::string("pbkdf2-sha256$"), "scrypt$100000" + salt_hash,
           "pbkdf2-sha256$0" + salt_hash, "pbkdf2-sha256$-5" + salt_hash,
           "pbkdf2-sha256$abc" + salt_hash, "pbkdf2-sha256$100000x" + salt_hash,
           "pbkdf2-sha256$99999999999" + salt_hash,  // over the DoS cap
           good.substr(0, p3),                       // no hash
           good + "$00",                             // extra field
           good.substr(0, good.size() - 1),          // odd hex length
           good.substr(0, good.size() - 1) + "g",    // not hex
           good.substr(0, p3 + 1),                   // empty hash
       }) {
    EXPECT_FALSE(verify_secret("pw12", bad)) << bad;
  }
}

TEST(Crypto, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_FALSE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(Crypto, ValidSecret) {
  EXPECT_FALSE(valid_secret(""));
  EXPECT_FALSE(valid_secret("abc"));
  EXPECT_TRUE(valid_secret("abcd"));
  EXPECT_TRUE(valid_secret(std::string(128, 'x')));
  EXPECT_FALSE(valid_secret(std::string(129, 'x')));
}

}  // namespace
}  // namespace plugmq::platform
