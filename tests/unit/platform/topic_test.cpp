#include "plugmq/platform/topic.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace plugmq::platform {
namespace {

const std::string kDev = "dev-0123456789abcdef01234567";

TEST(Topic, DataTopic) {
  const auto t = parse_topic(kDev + "/data/temp");
  EXPECT_EQ(t.kind, TopicKind::kData);
  EXPECT_EQ(t.plug_id, kDev);
  EXPECT_EQ(t.channel, "temp");
}

TEST(Topic, DataTopicMultiLevelChannel) {
  const auto t = parse_topic(kDev + "/data/My/Sensor/1");
  EXPECT_EQ(t.kind, TopicKind::kData);
  EXPECT_EQ(t.channel, "My/Sensor/1");
}

TEST(Topic, UppercasePlugIdIsLowercased) {
  const auto t = parse_topic("DEV-0123456789ABCDEF01234567/data/Temp");
  EXPECT_EQ(t.kind, TopicKind::kData);
  EXPECT_EQ(t.plug_id, kDev);
  EXPECT_EQ(t.channel, "Temp");  // channels are case-sensitive
}

TEST(Topic, OwnDataTopic) {
  const auto t = parse_topic("/data/temp/in");
  EXPECT_EQ(t.kind, TopicKind::kData);
  EXPECT_EQ(t.plug_id, "");
  EXPECT_EQ(t.channel, "temp/in");
}

TEST(Topic, Properties) {
  auto t = parse_topic(kDev + "/ag/prop/set");
  EXPECT_EQ(t.kind, TopicKind::kPropSet);
  EXPECT_EQ(t.plug_id, kDev);
  t = parse_topic("Dev-0123456789abcdef01234567/ag/prop/get");
  EXPECT_EQ(t.kind, TopicKind::kPropGet);
  EXPECT_EQ(t.plug_id, kDev);
}

TEST(Topic, Invalid) {
  const std::string hex = "0123456789abcdef01234567";
  for (const std::string& topic : {
           std::string(""),
           std::string("/"),
           std::string("data"),
           std::string("x/data/ch"),
           std::string("x/data"),
           "mod-" + hex + "/data/ch",
           "com-" + hex + "/data/ch",
           "dev-" + hex.substr(1) + "/data/ch",
           kDev,
           kDev + "/",
           kDev + "/data",
           kDev + "/data/",
           kDev + "/data/ch/",
           kDev + "/data//ch",
           kDev + "/data/a+b",
           kDev + "/data/#",
           kDev + "/Data/ch",
           kDev + "/ag/prop",
           kDev + "/ag/prop/set/x",
           kDev + "/ag/prop/SET",
           kDev + "/thing/pass",
           kDev + "/data/" + std::string(201, 'c'),
           std::string("/data/"),
           std::string("/data"),
           std::string("//data/ch"),
           std::string("/ag/prop/set"),
           std::string("/data/a\xff"),
       }) {
    EXPECT_EQ(parse_topic(topic).kind, TopicKind::kInvalid) << topic;
  }
  EXPECT_EQ(parse_topic(kDev + "/data/" + std::string(200, 'c')).kind, TopicKind::kData);
}

TEST(Topic, ValidChannel) {
  for (const std::string& ok :
       {std::string("a"), std::string("temp"), std::string("My/Sensor"), std::string("a/b/c"),
        std::string("température"), std::string("with space"), std::string(200, 'x'),
        std::string("$sys")}) {
    EXPECT_TRUE(valid_channel(ok)) << ok;
  }
  for (const std::string& bad :
       {std::string(""), std::string("/"), std::string("/a"), std::string("a/"),
        std::string("a//b"), std::string("+"), std::string("a/+"), std::string("#"),
        std::string("a#"), std::string("a+b"), std::string(201, 'x'), std::string("\xc3\x28"),
        std::string("\xed\xa0\x80"),  // a UTF-16 surrogate
        std::string("a\0b", 3)}) {
    EXPECT_FALSE(valid_channel(bad)) << bad;
  }
}

TEST(Topic, ValidChannelMask) {
  for (const std::string& ok :
       {std::string("a"), std::string("+"), std::string("#"), std::string("a/#"),
        std::string("+/b"), std::string("a/+/c"), std::string("+/+/#"), std::string("My/Sensor")}) {
    EXPECT_TRUE(valid_channel_mask(ok)) << ok;
  }
  for (const std::string& bad :
       {std::string(""), std::string("a/"), std::string("/a"), std::string("a//b"),
        std::string("a#"), std::string("#/a"), std::string("a/#/b"), std::string("a+"),
        std::string("+a/b"), std::string("++"), std::string(201, 'x'), std::string("\xff")}) {
    EXPECT_FALSE(valid_channel_mask(bad)) << bad;
  }
}

TEST(Topic, ValidHwid) {
  for (const std::string& ok :
       {std::string("a"), std::string("00:11:22:33:44:55"), std::string("SN-001 rev.B"),
        std::string("ñandú"), std::string(128, 'h')}) {
    EXPECT_TRUE(valid_hwid(ok)) << ok;
  }
  for (const std::string& bad :
       {std::string(""), std::string(129, 'h'), std::string("a/b"), std::string("a+b"),
        std::string("a#b"), std::string("a\tb"), std::string("a\nb"), std::string("a\x7f"),
        std::string("a\xc2\x85"),  // U+0085, a C1 control
        std::string("a\0b", 3), std::string("\xc0\xaf")}) {
    EXPECT_FALSE(valid_hwid(bad)) << bad;
  }
}

TEST(Topic, ValidUtf8) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("ascii"));
  EXPECT_TRUE(valid_utf8("\xc3\xa9"));          // é
  EXPECT_TRUE(valid_utf8("\xe2\x82\xac"));      // €
  EXPECT_TRUE(valid_utf8("\xf0\x9f\x98\x80"));  // 😀
  EXPECT_TRUE(valid_utf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF
  EXPECT_FALSE(valid_utf8("\x80"));
  EXPECT_FALSE(valid_utf8("\xc3"));              // truncated
  EXPECT_FALSE(valid_utf8("\xc0\x80"));          // overlong NUL
  EXPECT_FALSE(valid_utf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(valid_utf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(valid_utf8("\xe2\x82"));
}

TEST(Topic, SplitClientId) {
  auto c = split_client_id("00:11:22/Kitchen sensor");
  EXPECT_EQ(c.hwid, "00:11:22");
  EXPECT_EQ(c.name, "Kitchen sensor");
  c = split_client_id("hw/name/with/slashes");
  EXPECT_EQ(c.hwid, "hw");
  EXPECT_EQ(c.name, "name/with/slashes");
  c = split_client_id("only-hwid");
  EXPECT_EQ(c.hwid, "only-hwid");
  EXPECT_EQ(c.name, "");
  c = split_client_id("");
  EXPECT_EQ(c.hwid, "");
  EXPECT_EQ(c.name, "");
  c = split_client_id("hw/");
  EXPECT_EQ(c.hwid, "hw");
  EXPECT_EQ(c.name, "");
}

TEST(EnrollTopic, ThingAndControllerShapes) {
  auto t = parse_enroll_topic("mod-0123456789abcdef01234567/thing/s3cret");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->controller);
  EXPECT_EQ(t->model, "mod-0123456789abcdef01234567");
  EXPECT_EQ(t->pass, "s3cret");

  auto c = parse_enroll_topic("mod-x/ctrl/SN-001/pa/ss");  // PASS may contain '/'
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->controller);
  EXPECT_EQ(c->model, "mod-x");
  EXPECT_EQ(c->thing_hwid, "SN-001");
  EXPECT_EQ(c->pass, "pa/ss");
}

TEST(EnrollTopic, MalformedShapesAreRejected) {
  for (const char* bad : {"", "mod-x", "mod-x/thing", "mod-x/thing/", "/thing/p",
                          "mod-x/other/p", "mod-x/ctrl/SN", "mod-x/ctrl//p", "mod-x/ctrl/SN/",
                          "mod-x/thing/+", "mod-x/thing/#", "+/thing/p", "mod-x/data/p"}) {
    EXPECT_FALSE(parse_enroll_topic(bad)) << bad;
  }
}

TEST(Topic, FiltersThatCanMatchWhatPlugmqDelivers) {
  for (const std::string& f : std::vector<std::string>
       {"#", "+/#", "+/data/#", "+/data/+", "+/+/+", kDev + "/data/t", kDev + "/data/a/b/c",
        kDev + "/data/+/c", kDev + "/#", "+/data/t/#", kDev + "/ag/prop/get", "+/ag/prop/+",
        "+/+/+/+", kDev + "/ag/#", "+/ag/prop/#"}) {
    EXPECT_TRUE(filter_can_match(f)) << f;
  }
  for (const std::string& f : std::vector<std::string>
       {"foo/bar", "sensors/#", "+", "+/+", "+/data", kDev + "/data", kDev + "/status",
        "home/data/t", kDev + "/dat/t", kDev + "/ag/prop/put", kDev + "/ag/prop/get/x",
        kDev + "/ag/props/#", "/data/t", kDev + "/data//t", "notadev/#"}) {
    EXPECT_FALSE(filter_can_match(f)) << f;
  }
}

}  // namespace
}  // namespace plugmq::platform
