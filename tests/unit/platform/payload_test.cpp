#include "plugmq/platform/payload.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace plugmq::platform {
namespace {

constexpr std::int64_t kNow = 1700000000000;

DecodedPayload decode(std::string_view p) { return decode_payload(p, kNow); }

// ---- step 1: the envelope ----

TEST(Payload, EnvelopeDataOnly) {
  const auto d = decode(R"({"data":21.5})");
  EXPECT_EQ(d.error, PayloadError::kNone);
  EXPECT_EQ(d.envelope.data_json, "21.5");
  EXPECT_EQ(d.envelope.at, kNow);
  EXPECT_EQ(d.envelope.ttl_s, std::nullopt);
  EXPECT_EQ(d.envelope.expire_at, std::nullopt);
}

TEST(Payload, EnvelopeDataIsAnyJson) {
  EXPECT_EQ(decode(R"({"data":{"t":1,"h":[1,2]}})").envelope.data_json, R"({"t":1,"h":[1,2]})");
  EXPECT_EQ(decode(R"({"data":null})").envelope.data_json, "null");
  EXPECT_EQ(decode(R"({"data":"text"})").envelope.data_json, R"("text")");
  EXPECT_EQ(decode(R"({"data":{"data":1}})").envelope.data_json, R"({"data":1})");
}

TEST(Payload, EnvelopeAtNumber) {
  auto d = decode(R"({"data":1,"at":1600000000000})");
  EXPECT_EQ(d.error, PayloadError::kNone);
  EXPECT_EQ(d.envelope.at, 1600000000000);
  d = decode(R"({"data":1,"at":1600000000000.9})");  // floats are truncated
  EXPECT_EQ(d.envelope.at, 1600000000000);
  d = decode(R"({"data":1,"at":0})");
  EXPECT_EQ(d.envelope.at, 0);
  d = decode(R"({"data":1,"at":-1000})");
  EXPECT_EQ(d.envelope.at, -1000);
}

TEST(Payload, EnvelopeAtNumericString) {
  const auto d = decode(R"({"data":1,"at":"1600000000000"})");
  EXPECT_EQ(d.error, PayloadError::kNone);
  EXPECT_EQ(d.envelope.at, 1600000000000);
}

TEST(Payload, EnvelopeAtIso) {
  auto d = decode(R"({"data":1,"at":"2024-01-02T03:04:05Z"})");
  EXPECT_EQ(d.error, PayloadError::kNone);
  EXPECT_EQ(d.envelope.at, 1704164645000);
  d = decode(R"({"data":1,"at":"2024-01-02T03:04:05.123+00:00"})");
  EXPECT_EQ(d.envelope.at, 1704164645123);
}

TEST(Payload, EnvelopeBadAt) {
  for (const char* p : {
           R"({"data":1,"at":true})",
           R"({"data":1,"at":null})",
           R"({"data":1,"at":[1]})",
           R"({"data":1,"at":{}})",
           R"({"data":1,"at":"yesterday"})",
           R"({"data":1,"at":"2024-13-01T00:00:00Z"})",
           R"({"data":1,"at":""})",
           R"({"data":1,"at":1e300})",
           R"({"data":1,"at":18446744073709551615})",
       }) {
    EXPECT_EQ(decode(p).error, PayloadError::kBadEnvelope) << p;
  }
}

TEST(Payload, EnvelopeTtl) {
  auto d = decode(R"({"data":1,"ttl":3600})");
  EXPECT_EQ(d.error, PayloadError::kNone);
  EXPECT_EQ(d.envelope.ttl_s, 3600);
  d = decode(R"({"data":1,"ttl":0})");
  EXPECT_EQ(d.envelope.ttl_s, 0);
  d = decode(R"({"data":1,"ttl":1.9})");
  EXPECT_EQ(d.envelope.ttl_s, 1);
  for (const char* p :
       {R"({"data":1,"ttl":-1})", R"({"data":1,"ttl":"60"})", R"({"data":1,"ttl":null})",
        R"({"data":1,"ttl":false})", R"({"data":1,"ttl":9223372036854775807})"}) {
    EXPECT_EQ(decode(p).error, PayloadError::kBadEnvelope) << p;
  }
}

TEST(Payload, EnvelopeExpireAt) {
  auto d = decode(R"({"data":1,"expire_at":1800000000000,"ttl":5})");
  EXPECT_EQ(d.error, PayloadError::kNone);
  EXPECT_EQ(d.envelope.expire_at, 1800000000000);
  EXPECT_EQ(d.envelope.ttl_s, 5);  // both kept; the store lets expire_at win
  d = decode(R"({"data":1,"expire_at":"1800000000000"})");
  EXPECT_EQ(d.envelope.expire_at, 1800000000000);
  d = decode(R"({"data":1,"expire_at":"2024-01-02T03:04:05Z"})");
  EXPECT_EQ(d.envelope.expire_at, 1704164645000);
  for (const char* p : {R"({"data":1,"expire_at":"soon"})", R"({"data":1,"expire_at":true})",
                        R"({"data":1,"expire_at":null})"}) {
    EXPECT_EQ(decode(p).error, PayloadError::kBadEnvelope) << p;
  }
}

TEST(Payload, EnvelopeUnknownMembersIgnored) {
  const auto d = decode(R"({"data":[1],"foo":{"bar":1},"at":5,"channel":"c"})");
  EXPECT_EQ(d.error, PayloadError::kNone);
  EXPECT_EQ(d.envelope.data_json, "[1]");
  EXPECT_EQ(d.envelope.at, 5);
  EXPECT_EQ(d.envelope.of, std::nullopt);
  EXPECT_EQ(d.envelope.id, std::nullopt);
}

// "of" and "id" are kept as sent, for the publish path to resolve; a value that is not a string
// names nothing ("") rather than making the envelope bad, and null is no value.
TEST(Payload, EnvelopeOfAndId) {
  auto d = decode(R"({"of":"DEV-0123456789abcdef01234567","id":"65f0a1b2c3d4e5f601234567",)"
                  R"("data":1})");
  EXPECT_EQ(d.error, PayloadError::kNone);
  EXPECT_EQ(d.envelope.of, "DEV-0123456789abcdef01234567");
  EXPECT_EQ(d.envelope.id, "65f0a1b2c3d4e5f601234567");
  d = decode(R"({"data":1,"of":7,"id":{"x":1}})");
  EXPECT_EQ(d.error, PayloadError::kNone);
  EXPECT_EQ(d.envelope.of, "");
  EXPECT_EQ(d.envelope.id, "");
  d = decode(R"({"data":1,"of":null,"id":null})");
  EXPECT_EQ(d.envelope.of, std::nullopt);
  EXPECT_EQ(d.envelope.id, std::nullopt);
  // Only an envelope has them: a record with no "data" is the data itself.
  d = decode(R"({"of":"x","id":"y"})");
  EXPECT_EQ(d.envelope.data_json, R"({"of":"x","id":"y"})");
  EXPECT_EQ(d.envelope.of, std::nullopt);
  EXPECT_EQ(d.envelope.id, std::nullopt);
}

TEST(Payload, EnvelopePrettyPrinted) {
  const auto d = decode(
      "{\n  \"data\": {\n    \"temp\": 21.5,\n    \"ok\": true\n  },\n"
      "  \"at\": \"2024-01-02 03:04:05\"\n}\n");
  EXPECT_EQ(d.error, PayloadError::kNone);
  EXPECT_EQ(d.envelope.data_json, R"({"temp":21.5,"ok":true})");
  EXPECT_EQ(d.envelope.at, 1704164645000);
}

// ---- step 2: any other JSON value ----

TEST(Payload, JsonValueIsData) {
  struct Case {
    const char* in;
    const char* out;
  };
  for (const Case& c : {
           Case{"21.5", "21.5"},
           Case{"42", "42"},
           Case{"-7", "-7"},
           Case{"1.0", "1.0"},
           Case{"true", "true"},
           Case{"null", "null"},
           Case{R"("quoted")", R"("quoted")"},
           Case{"[1, 2, 3]", "[1,2,3]"},
           Case{R"({"temp":21.5})", R"({"temp":21.5})"},
           Case{R"({"b":1,"a":2})", R"({"b":1,"a":2})"},  // member order kept
           Case{" \n 21.5 \n", "21.5"},
           Case{"18446744073709551615", "18446744073709551615"},
       }) {
    const auto d = decode(c.in);
    EXPECT_EQ(d.error, PayloadError::kNone) << c.in;
    EXPECT_EQ(d.envelope.data_json, c.out) << c.in;
    EXPECT_EQ(d.envelope.at, kNow);
  }
}

TEST(Payload, ObjectWithoutDataIsData) {
  const auto d = decode(R"({"at":5,"value":1})");
  EXPECT_EQ(d.error, PayloadError::kNone);
  EXPECT_EQ(d.envelope.data_json, R"({"at":5,"value":1})");
  EXPECT_EQ(d.envelope.at, kNow);  // "at" only means something in an envelope
}

// ---- step 3: UTF-8 text ----

TEST(Payload, TextBecomesJsonString) {
  struct Case {
    std::string in;
    std::string out;
  };
  for (const Case& c : {
           Case{"hello world", R"("hello world")"},
           Case{"", R"("")"},
           Case{"21.5 C", R"("21.5 C")"},
           Case{"{not json", R"("{not json")"},
           Case{"say \"hi\"\n", R"("say \"hi\"\n")"},
           Case{"température", R"("température")"},
           Case{std::string("a\0b", 3), R"("a\u0000b")"},
       }) {
    const auto d = decode(c.in);
    EXPECT_EQ(d.error, PayloadError::kNone) << c.in;
    EXPECT_EQ(d.envelope.data_json, c.out) << c.in;
  }
}

TEST(Payload, DeeplyNestedJsonKeptAsText) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const auto d = decode(deep);
  EXPECT_EQ(d.error, PayloadError::kNone);
  EXPECT_EQ(d.envelope.data_json, "\"" + deep + "\"");
  const std::string ok = std::string(100, '[') + std::string(100, ']');
  EXPECT_EQ(decode(ok).envelope.data_json, ok);
}

// ---- step 4: binary ----

TEST(Payload, BinaryIsRejected) {
  for (const std::string& p : {std::string("\xff\xfe\x00\x01", 4), std::string("abc\x80"),
                               std::string("{\"data\":\"\xc3\x28\"}"), std::string("\xc0\xaf")}) {
    EXPECT_EQ(decode(p).error, PayloadError::kBinary);
  }
}

// ---- parse_time_ms ----

TEST(ParseTime, Numbers) {
  EXPECT_EQ(parse_time_ms("0"), 0);
  EXPECT_EQ(parse_time_ms("1700000000000"), 1700000000000);
  EXPECT_EQ(parse_time_ms("-1000"), -1000);
  EXPECT_EQ(parse_time_ms("1700000000000.7"), 1700000000000);
  EXPECT_EQ(parse_time_ms("9223372036854775807"), INT64_MAX);
  for (const char* bad : {"", "-", "+5", " 5", "5 ", "1e3", "0x10", "12a", "1.", ".5",
                          "99999999999999999999", "--1"}) {
    EXPECT_EQ(parse_time_ms(bad), std::nullopt) << bad;
  }
}

TEST(ParseTime, Iso8601) {
  struct Case {
    const char* in;
    std::int64_t ms;
  };
  for (const Case& c : {
           Case{"2024-01-02T03:04:05Z", 1704164645000},
           Case{"2024-01-02T03:04:05z", 1704164645000},
           Case{"2024-01-02T03:04:05", 1704164645000},
           Case{"2024-01-02 03:04:05", 1704164645000},
           Case{"2024-01-02t03:04:05Z", 1704164645000},
           Case{"2024-01-02T03:04:05.123Z", 1704164645123},
           Case{"2024-01-02T03:04:05.1Z", 1704164645100},
           Case{"2024-01-02T03:04:05.123456789Z", 1704164645123},
           Case{"2024-01-02T03:04:05,5Z", 1704164645500},
           Case{"2024-01-02T05:04:05+02:00", 1704164645000},
           Case{"2024-01-02T05:04:05+0200", 1704164645000},
           Case{"2024-01-02T05:04:05+02", 1704164645000},
           Case{"2024-01-01T21:34:05-05:30", 1704164645000},
           Case{"2024-01-02T03:04Z", 1704164640000},
           Case{"2024-01-02", 1704153600000},
           Case{"2024-02-29", 1709164800000},
           Case{"2000-03-01", 951868800000},
           Case{"1970-01-01T00:00:00Z", 0},
           Case{"1969-12-31T23:59:59Z", -1000},
           Case{"1900-01-01", -2208988800000},
           Case{"9999-12-31T23:59:59.999Z", 253402300799999},
       }) {
    EXPECT_EQ(parse_time_ms(c.in), c.ms) << c.in;
  }
}

TEST(ParseTime, Iso8601Malformed) {
  for (const char* bad : {
           "2024-1-02",
           "2024-01-2",
           "2024-00-10",
           "2024-13-10",
           "2023-02-29",
           "2024-04-31",
           "2024-01-00",
           "2024-01-02T",
           "2024-01-02T3:04:05Z",
           "2024-01-02T24:00:00Z",
           "2024-01-02T03:60:00Z",
           "2024-01-02T03:04:61Z",
           "2024-01-02T03:04:05.Z",
           "2024-01-02T03:04:05ZZ",
           "2024-01-02T03:04:05+2",
           "2024-01-02T03:04:05+24:00",
           "2024-01-02T03:04:05+02:60",
           "2024-01-02T03:04:05 ",
           "2024-01-02X03:04:05",
           "2024/01/02",
           "24-01-02T03:04:05Z",
           "2024-01-02T03:04:05+02:0",
       }) {
    EXPECT_EQ(parse_time_ms(bad), std::nullopt) << bad;
  }
}

// ---- delivery_json ----

TEST(Payload, DeliveryJson) {
  Record r;
  r.id = "0123456789abcdef01234567";
  r.of = "dev-0123456789abcdef01234567";
  r.channel = "temp";
  r.data_json = R"({"t":21.5})";
  r.at = 1700000000123;
  EXPECT_EQ(delivery_json(r),
            R"({"id":"0123456789abcdef01234567","data":{"t":21.5},"at":1700000000123})");
  r.data_json = "\"x\"";
  r.at = -5;
  EXPECT_EQ(delivery_json(r), R"({"id":"0123456789abcdef01234567","data":"x","at":-5})");
}

TEST(Payload, DecodeThenDeliver) {
  const auto d = decode("21.5");
  Record r{"0123456789abcdef01234567",
           "dev-0123456789abcdef01234567",
           "t",
           d.envelope.data_json,
           d.envelope.at,
           std::nullopt};
  EXPECT_EQ(delivery_json(r),
            R"({"id":"0123456789abcdef01234567","data":21.5,"at":1700000000000})");
}

}  // namespace
}  // namespace plugmq::platform

namespace plugmq::platform {
namespace {

// What the general path makes of a payload that is one JSON value (step 2): the compact dump
// of the parsed document, or, for text that is not JSON, the text as a JSON string (step 3).
std::string general_path(std::string_view p) {
  using Json = nlohmann::ordered_json;
  Json j = Json::parse(p.begin(), p.end(), nullptr, false);
  if (j.is_discarded()) j = Json(std::string(p));
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Strings and integers skip the JSON document; the data must be byte for byte the same as
// through it, for everything near the edges of what the shortcut accepts.
TEST(Payload, ScalarShortcutMatchesTheGeneralPath) {
  std::vector<std::string> cases = {
      "0", "7", "-7", "-0", "00", "01", "-01", "10", "123456789012345678",
      "1234567890123456789", "-123456789012345678", "9223372036854775807", "-", "--1", "1-",
      "1.5", "1e3", "+1", " 1", "1 ", R"("")", R"("a")", R"("hello world")",
      R"("caf\u00e9")", R"("tab\there")", R"("quote\"d")", R"("back\\slash")", "\"\x7f\"",
      "\"\xc3\xa9t\xc3\xa9\"", "\"\xe2\x82\xac 12\"", R"("unterminated)", R"(")", R"(""")",
      R"("a"b")", "\"line\nbreak\"", R"("1700000000000:42:xxxxxxxx")", "true", "null",
      "text", "",
  };
  for (char c = 0x20; c < 0x7f; ++c) cases.push_back(std::string("\"x") + c + "y\"");
  for (const auto& p : cases) {
    const auto d = decode(p);
    EXPECT_EQ(d.error, PayloadError::kNone) << p;
    EXPECT_EQ(d.envelope.data_json, general_path(p)) << "payload: " << p;
    EXPECT_EQ(d.envelope.at, kNow) << p;
  }
}

// ---- expiry (SPEC 7) ----

struct ExpiryCase {
  std::int64_t at;
  std::optional<std::int64_t> ttl_s, expire_at;
  int retention_days;
  std::optional<std::int64_t> want;
};

TEST(ExpiryOf, Table) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  const ExpiryCase cases[] = {
      {1000, std::nullopt, std::nullopt, 30, 1000 + 30 * 86'400'000LL},
      {1000, std::nullopt, std::nullopt, 0, std::nullopt},
      {1000, 60, std::nullopt, 30, 61'000},
      {1000, 60, std::nullopt, 0, 61'000},
      {1000, 60, 5000, 30, 5000},  // expire_at wins over ttl
      {1000, std::nullopt, 5000, 0, 5000},
      {1000, 0, std::nullopt, 30, 1000},
      {kMax - 10, 60, std::nullopt, 0, kMax},  // saturates
      {kMax - 10, std::nullopt, std::nullopt, 30, kMax},
      {1000, kMax, std::nullopt, 0, kMax},
      {1000, kMin, std::nullopt, 0, kMin + 1000},  // the product saturates, then + at
      {kMin, -1, std::nullopt, 0, kMin},
  };
  for (const auto& c : cases) {
    Envelope e;
    e.at = c.at;
    e.ttl_s = c.ttl_s;
    e.expire_at = c.expire_at;
    EXPECT_EQ(expiry_of(e, c.retention_days), c.want)
        << c.at << " " << c.ttl_s.value_or(-1) << " " << c.retention_days;
  }
}

}  // namespace
}  // namespace plugmq::platform
