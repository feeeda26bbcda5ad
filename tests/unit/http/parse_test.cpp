#include "plugmq/http/parse.hpp"

#include <gtest/gtest.h>

#include "plugmq/http/message.hpp"

namespace plugmq::http {
namespace {

using V = std::vector<std::string>;

TEST(PercentDecode, EscapesInEitherCase) {
  EXPECT_EQ(percent_decode("a%2Fb"), "a/b");
  EXPECT_EQ(percent_decode("a%2fb"), "a/b");
  EXPECT_EQ(percent_decode("%2B%2b%23"), "++#");
  EXPECT_EQ(percent_decode("caf%C3%A9"), "caf\xC3\xA9");
  EXPECT_EQ(percent_decode("a+b"), "a+b");  // '+' is not a space here
  EXPECT_EQ(percent_decode(""), "");
  EXPECT_FALSE(percent_decode("%"));
  EXPECT_FALSE(percent_decode("%2"));
  EXPECT_FALSE(percent_decode("a%zzb"));
  EXPECT_FALSE(percent_decode("%g0"));
}

TEST(SplitTarget, PathStaysEncodedQueryIsDecoded) {
  auto t = split_target("/iot/data/a%2Fb?of=dev-1%2Cdev-2&limit=5&flag&at=2024-01-01T00:00:00%2B02:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->path, "/iot/data/a%2Fb");
  ASSERT_EQ(t->query.size(), 4u);
  EXPECT_EQ(query_value(*t, "limit"), "5");
  EXPECT_EQ(query_value(*t, "flag"), "");
  EXPECT_EQ(query_value(*t, "at"), "2024-01-01T00:00:00+02:00");
  EXPECT_FALSE(query_value(*t, "missing"));
  EXPECT_EQ(query_list(*t, "of"), (V{"dev-1", "dev-2"}));
  EXPECT_FALSE(split_target("iot/data"));
  EXPECT_FALSE(split_target("/iot/%zz"));
  EXPECT_FALSE(split_target("/iot?a=%"));
}

TEST(SplitTarget, RepeatedAndCommaSeparatedLists) {
  auto t = split_target("/x?of=a,%20b&of=c&limit=1&limit=2");
  ASSERT_TRUE(t);
  EXPECT_EQ(query_list(*t, "of"), (V{"a", "b", "c"}));
  EXPECT_EQ(query_list(*t, "at"), V{});  // absent: no filter
  EXPECT_EQ(query_value(*t, "limit"), "2");  // the last one
}

TEST(SplitTarget, AnEmptyListOrItemIsNoList) {
  // What a client's stray comma sends ("at=%2C" is a known one): refused, not "no filter".
  for (const char* target : {"/x?at=", "/x?at", "/x?at=,", "/x?at=%2C", "/x?at=1,,2", "/x?at=1,",
                             "/x?at=,1", "/x?at=1&at=", "/x?at=%20"}) {
    auto t = split_target(target);
    ASSERT_TRUE(t) << target;
    EXPECT_FALSE(query_list(*t, "at")) << target;
  }
  EXPECT_EQ(split_list(" 1 ,2"), (V{"1", "2"}));
  EXPECT_FALSE(split_list(""));
  EXPECT_FALSE(split_list(" , "));
}

TEST(PlugIdList, EveryFormABodyMayTake) {
  const std::string a = "dev-0123456789abcdef01234567";
  const std::string b = "dev-89abcdef0123456789abcdef";
  const std::string upper_a = "DEV-0123456789ABCDEF01234567";
  EXPECT_EQ(plug_id_list(a), V{a});
  EXPECT_EQ(plug_id_list(a + "," + b), (V{a, b}));
  EXPECT_EQ(plug_id_list(" " + upper_a + " , " + b + ",\n"), (V{a, b}));
  EXPECT_EQ(plug_id_list("\"" + a + "\""), V{a});
  EXPECT_EQ(plug_id_list("\"" + a + "," + b + "\""), (V{a, b}));
  EXPECT_EQ(plug_id_list("[\"" + a + "\",\"" + b + "\",\"" + a + "\"]"), (V{a, b}));
  EXPECT_EQ(plug_id_list("[]"), V{});
  EXPECT_FALSE(plug_id_list(""));
  EXPECT_FALSE(plug_id_list("   "));
  EXPECT_FALSE(plug_id_list("dev-xyz"));
  EXPECT_FALSE(plug_id_list("com-0123456789abcdef01234567"));  // not a device
  EXPECT_FALSE(plug_id_list(a + ",junk"));
  EXPECT_FALSE(plug_id_list("[1,2]"));
  EXPECT_FALSE(plug_id_list("[\"" + a + "\""));
  EXPECT_FALSE(plug_id_list("{\"a\":1}"));
}

TEST(BasicCredentials, DecodesEmailAndPassword) {
  // base64("me@example.com:pa:ss") = bWVAZXhhbXBsZS5jb206cGE6c3M=
  auto c = basic_credentials("Basic bWVAZXhhbXBsZS5jb206cGE6c3M=");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->first, "me@example.com");
  EXPECT_EQ(c->second, "pa:ss");  // split at the first ':'
  EXPECT_TRUE(basic_credentials("basic bWVAZXhhbXBsZS5jb206cGE6c3M"));  // padding optional
  EXPECT_FALSE(basic_credentials("Bearer abc"));
  EXPECT_FALSE(basic_credentials("Basic"));
  EXPECT_FALSE(basic_credentials("Basic !!!!"));
  EXPECT_FALSE(basic_credentials("Basic bm9jb2xvbg=="));  // "nocolon"
  EXPECT_EQ(basic_authorization("me@example.com", "pa:ss"), "Basic bWVAZXhhbXBsZS5jb206cGE6c3M=");
  EXPECT_EQ(basic_authorization("a", ""), "Basic YTo=");
}

TEST(ParseBound, TimeOrRecordId) {
  EXPECT_EQ(parse_bound("1700000000000"), Bound(std::int64_t{1700000000000}));
  EXPECT_EQ(parse_bound("1970-01-01T00:00:01Z"), Bound(std::int64_t{1000}));
  EXPECT_EQ(parse_bound("0123456789ABCDEF01234567"), Bound(std::string("0123456789abcdef01234567")));
  EXPECT_FALSE(parse_bound("yesterday"));
  EXPECT_FALSE(parse_bound(""));
}

TEST(ParseCount, NonNegativeIntegersOnly) {
  EXPECT_EQ(parse_count("0"), 0);
  EXPECT_EQ(parse_count("10000"), 10000);
  EXPECT_FALSE(parse_count("-1"));
  EXPECT_FALSE(parse_count("1.5"));
  EXPECT_FALSE(parse_count(""));
  EXPECT_FALSE(parse_count("99999999999999999999"));
}

TEST(ParseJson, BodiesAndWhyOneIsRefused) {
  std::string why;
  auto j = parse_json(R"({"b":1,"a":[2.5,"x"]})", &why);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->dump(), R"({"b":1,"a":[2.5,"x"]})");  // members in the order sent
  // Too long for 64 bits but a double: that double.
  j = parse_json("123456789012345678901234567890", &why);
  ASSERT_TRUE(j && j->is_number_float());
  EXPECT_DOUBLE_EQ(j->get<double>(), 1.2345678901234568e+29);

  const std::pair<const char*, const char*> out_of_range[] = {
      {"1e999", "1e999"}, {R"({"model":-1e999})", "-1e999"}, {R"([0,{"a":[1E+400]}])", "1E+400"}};
  for (const auto& [text, token] : out_of_range) {
    EXPECT_FALSE(parse_json(text, &why)) << text;
    EXPECT_EQ(why, "body has a number out of range: number overflow parsing '" +
                       std::string(token) + "'");
  }
  EXPECT_FALSE(parse_json("{oops", &why));
  EXPECT_TRUE(why.starts_with("body is not valid JSON: parse error at line 1, column 2")) << why;
  EXPECT_FALSE(parse_json(std::string(129, '[') + std::string(129, ']'), &why));
  EXPECT_TRUE(parse_json(std::string(128, '[') + std::string(128, ']'), &why));
  EXPECT_FALSE(parse_json(std::string(200, '['), &why));
  EXPECT_EQ(why, "body is nested more than 128 levels deep");
  EXPECT_FALSE(parse_json("", nullptr));  // no message asked for
  // The parser's message quotes the token; a 400 repeats at most 200 bytes of it.
  EXPECT_FALSE(parse_json("1" + std::string(100000, '0') + "e999", &why));
  EXPECT_LT(why.size(), 300u);
  EXPECT_TRUE(why.ends_with("...")) << why;
}

TEST(Messages, ErrorBodyAndHeaders) {
  auto r = error_response(404, "unknown \"device\"");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"err":404,"msg":"unknown \"device\""})");
  Request req;
  req.headers = {{"x-plug-id", "a"}, {"X-Plug-Id", "b"}};
  ASSERT_NE(req.header("X-PLUG-ID"), nullptr);
  EXPECT_EQ(*req.header("X-PLUG-ID"), "a");
  EXPECT_EQ(req.header("X-Plug-Auth"), nullptr);
  EXPECT_STREQ(reason_of(413), "Payload Too Large");
}

}  // namespace
}  // namespace plugmq::http
