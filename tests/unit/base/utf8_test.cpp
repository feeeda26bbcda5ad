// valid_utf8: well-formed UTF-8 per Unicode table 3-7, and U+0000 only where allowed
// [MQTT-1.5.3-1] [MQTT-1.5.3-2].
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "plugmq/base/utf8.hpp"

namespace plugmq::base {
namespace {

using std::string_literals::operator""s;

// The MQTT rule: no U+0000.
bool valid_utf8(std::string_view s) { return base::valid_utf8(s, Nul::kRejected); }
bool valid_with_nul(std::string_view s) { return base::valid_utf8(s, Nul::kAllowed); }

struct Case {
  std::string bytes;
  bool valid;
  const char* why;
};

const Case kCases[] = {
    {""s, true, "empty"},
    {"plain ascii"s, true, "ASCII"},
    {"\x7F"s, true, "DEL is a valid code point"},
    {"\xC2\x80"s, true, "U+0080, smallest two-byte"},
    {"\xC3\xA9"s, true, "U+00E9"},
    {"\xDF\xBF"s, true, "U+07FF, largest two-byte"},
    {"\xE0\xA0\x80"s, true, "U+0800, smallest three-byte"},
    {"\xE2\x82\xAC"s, true, "U+20AC euro sign"},
    {"\xED\x9F\xBF"s, true, "U+D7FF, just below the surrogates"},
    {"\xEE\x80\x80"s, true, "U+E000, just above the surrogates"},
    {"\xEF\xBB\xBF"s, true, "U+FEFF BOM, kept as is [MQTT-1.5.3-3]"},
    {"\xEF\xBF\xBF"s, true, "U+FFFF non-character: allowed"},
    {"\xF0\x90\x80\x80"s, true, "U+10000, smallest four-byte"},
    {"\xF0\x9F\x98\x80"s, true, "U+1F600, a valid four-byte sequence"},
    {"\xF4\x8F\xBF\xBF"s, true, "U+10FFFF, largest code point"},
    {"a/\xC3\xA9/\xF0\x9F\x98\x80/z"s, true, "mixed"},

    {"\0"s, false, "U+0000 alone [MQTT-1.5.3-2]"},
    {"a\0b"s, false, "U+0000 inside"},
    {"\xC0\x80"s, false, "overlong U+0000 (modified UTF-8)"},
    {"\xC0\xAF"s, false, "overlong '/'"},
    {"\xC1\xBF"s, false, "overlong two-byte"},
    {"\xE0\x80\xAF"s, false, "overlong three-byte '/'"},
    {"\xE0\x9F\xBF"s, false, "overlong U+07FF"},
    {"\xF0\x80\x80\xAF"s, false, "overlong four-byte '/'"},
    {"\xF0\x8F\xBF\xBF"s, false, "overlong U+FFFF"},
    {"\xED\xA0\x80"s, false, "U+D800 high surrogate [MQTT-1.5.3-1]"},
    {"\xED\xAF\xBF"s, false, "U+DBFF"},
    {"\xED\xB0\x80"s, false, "U+DC00 low surrogate"},
    {"\xED\xBF\xBF"s, false, "U+DFFF"},
    {"\xED\xA0\xBD\xED\xB8\x80"s, false, "CESU-8 surrogate pair"},
    {"\xF4\x90\x80\x80"s, false, "U+110000, above the maximum"},
    {"\xF5\x80\x80\x80"s, false, "F5 lead byte"},
    {"\xF8\x88\x80\x80\x80"s, false, "five-byte form"},
    {"\xFE"s, false, "FE"},
    {"\xFF"s, false, "FF"},
    {"\x80"s, false, "lone continuation"},
    {"a\xBF"s, false, "continuation after ASCII"},
    {"\xC3"s, false, "truncated two-byte"},
    {"\xE2\x82"s, false, "truncated three-byte"},
    {"\xF0\x9F\x98"s, false, "truncated four-byte"},
    {"\xF0\x9F"s, false, "four-byte lead with one continuation"},
    {"\xC3\x28"s, false, "two-byte with an ASCII second byte"},
    {"\xE2\x28\xA1"s, false, "three-byte with a bad second byte"},
    {"\xE2\x82\x28"s, false, "three-byte with a bad third byte"},
    {"\xF0\x9F\x28\x80"s, false, "four-byte with a bad third byte"},
    {"\xF0\x9F\x98\x28"s, false, "four-byte with a bad fourth byte"},
    {"\xC3\xA9\xC3"s, false, "valid then truncated"},
};

TEST(Utf8, Table) {
  for (const Case& c : kCases) EXPECT_EQ(valid_utf8(c.bytes), c.valid) << c.why;
}

// Allowing U+0000 changes nothing else: every other answer of the table stands.
TEST(Utf8, TableWithNulAllowed) {
  for (const Case& c : kCases) {
    const bool has_nul = c.bytes.find('\0') != std::string::npos;
    EXPECT_EQ(valid_with_nul(c.bytes), c.valid || has_nul) << c.why;
  }
}

// The ASCII fast path reads eight bytes at a time: check every position of a bad byte across
// two words and a tail, so neither the word loop nor the byte loop can miss it.
TEST(Utf8, MQTT_1_5_3_2_NulAtEveryPosition) {
  for (std::size_t len = 1; len <= 20; ++len) {
    for (std::size_t at = 0; at < len; ++at) {
      std::string s(len, 'a');
      EXPECT_TRUE(valid_utf8(s));
      s[at] = '\0';
      EXPECT_FALSE(valid_utf8(s)) << len << "@" << at;
      EXPECT_TRUE(valid_with_nul(s)) << len << "@" << at;
    }
  }
}

TEST(Utf8, BadByteAtEveryPosition) {
  for (std::size_t len = 1; len <= 20; ++len) {
    for (std::size_t at = 0; at < len; ++at) {
      std::string s(len, 'a');
      s[at] = '\xFF';
      EXPECT_FALSE(valid_utf8(s)) << len << "@" << at;
      EXPECT_FALSE(valid_with_nul(s)) << len << "@" << at;
      s[at] = '\x80';
      EXPECT_FALSE(valid_utf8(s)) << len << "@" << at;
    }
  }
}

TEST(Utf8, MultiByteAtEveryAlignment) {
  for (std::size_t pad = 0; pad <= 16; ++pad) {
    const std::string prefix(pad, 'x');
    EXPECT_TRUE(valid_utf8(prefix + "\xF0\x9F\x98\x80" + prefix)) << pad;
    EXPECT_TRUE(valid_utf8(prefix + "\xE2\x82\xAC" + prefix)) << pad;
    EXPECT_FALSE(valid_utf8(prefix + "\xF0\x9F\x98")) << pad;  // truncated at the end
    EXPECT_FALSE(valid_utf8(prefix + "\xED\xA0\x80" + prefix)) << pad;
  }
}

TEST(Utf8, LongValidText) {
  std::string s;
  for (int i = 0; i < 1000; ++i) s += "topic/\xC3\xA9t\xC3\xA9/\xE2\x82\xAC/\xF0\x9F\x98\x80/";
  EXPECT_TRUE(valid_utf8(s));
  s += '\xC3';
  EXPECT_FALSE(valid_utf8(s));
}

}  // namespace
}  // namespace plugmq::base
