// valid_topic and valid_filter tables [MQTT-4.7].
#include <gtest/gtest.h>

#include <string>

#include "plugmq/codec/codec.hpp"

namespace plugmq::codec {
namespace {

using std::string_literals::operator""s;

struct Case {
  std::string text;
  bool valid;
};

TEST(Topic, MQTT_4_7_Table) {
  const Case cases[] = {
      {"a", true},
      {"a/b/c", true},
      {"/", true},       // two empty levels
      {"/a", true},      // leading empty level
      {"a/", true},      // trailing empty level
      {"a//b", true},    // empty level in the middle
      {" ", true},       // spaces are characters like any other
      {"$SYS/x", true},  // '$' topics are names too
      {"d\xC3\xA9v/\xF0\x9F\x98\x80", true},
      {"", false},   // [MQTT-4.7.3-1]
      {"+", false},  // [MQTT-4.7.1-1]
      {"#", false},
      {"a/+", false},
      {"a/#", false},
      {"a+b", false},
      {"a#", false},
      {"a\0b"s, false},      // [MQTT-1.5.3-2]
      {"\xC0\xAF"s, false},  // [MQTT-1.5.3-1]
      {"\xED\xA0\x80"s, false},
  };
  for (const Case& c : cases) EXPECT_EQ(valid_topic(c.text), c.valid) << '"' << c.text << '"';
}

TEST(Topic, LengthLimit) {
  EXPECT_TRUE(valid_topic(std::string(65535, 'a')));
  EXPECT_FALSE(valid_topic(std::string(65536, 'a')));
}

TEST(Filter, MQTT_4_7_1_Table) {
  const Case cases[] = {
      {"a", true},
      {"a/b", true},
      {"#", true},  // everything
      {"+", true},  // one level
      {"+/+", true},
      {"a/#", true},
      {"a/+/c", true},
      {"+/#", true},
      {"/#", true},
      {"/+", true},
      {"+/", true},
      {"a//b", true},  // empty levels are allowed by MQTT
      {"/a", true},
      {"//", true},
      {"a/+/", true},
      {"$SYS/#", true},
      {"", false},    // [MQTT-4.7.3-1]
      {"a#", false},  // '#' alone in its level [MQTT-4.7.1-2]
      {"#a", false},
      {"a/#/b", false},  // '#' last [MQTT-4.7.1-2]
      {"#/", false},
      {"##", false},
      {"a/b#", false},
      {"a+", false},  // '+' alone in its level [MQTT-4.7.1-3]
      {"+a", false},
      {"a/+b/c", false},
      {"a/b+", false},
      {"++", false},
      {"+#", false},
      {"a\0b"s, false},    // [MQTT-1.5.3-2]
      {"a/\xC3"s, false},  // [MQTT-1.5.3-1]
      {"\xED\xBF\xBF/#"s, false},
  };
  for (const Case& c : cases) EXPECT_EQ(valid_filter(c.text), c.valid) << '"' << c.text << '"';
}

TEST(Filter, LengthLimit) {
  EXPECT_TRUE(valid_filter(std::string(65535, 'a')));
  EXPECT_FALSE(valid_filter(std::string(65536, 'a')));
  EXPECT_TRUE(valid_filter(std::string(65533, 'a') + "/#"));
}

}  // namespace
}  // namespace plugmq::codec
