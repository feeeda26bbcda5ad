// Serials from CSV (service/serials_csv.hpp): what `plugmq serial add --csv` and
// POST /iot/template/MODEL/serial (text/csv) both read.
#include "plugmq/service/serials_csv.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace plugmq::service {
namespace {

std::optional<std::vector<CsvSerial>> parse(const std::string& text, std::string& error) {
  std::istringstream in(text);
  return parse_serials_csv(in, "serials.csv", error);
}

std::string error_of(const std::string& text) {
  std::string error;
  EXPECT_FALSE(parse(text, error).has_value()) << text;
  return error;
}

TEST(SplitCsv, QuotingWithinALine) {
  EXPECT_EQ(split_csv("a,b,c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(split_csv("\"a,b\",\"say \"\"hi\"\"\","),
            (std::vector<std::string>{"a,b", "say \"hi\"", ""}));
  EXPECT_EQ(split_csv(""), (std::vector<std::string>{""}));
  EXPECT_FALSE(split_csv("\"open,b"));
  EXPECT_FALSE(split_csv("\"a\"b,c"));
  EXPECT_FALSE(split_csv("a\"b,c"));
}

TEST(SerialsCsv, HeaderCommentsBlankLinesAndCrLf) {
  std::string error;
  auto got = parse(
      "hwid,enroll_pass,control_pass\r\n# factory batch 7\r\n\r\nSN-1,pass-1,ctrl-1\r\n"
      "  \nSN-2,pass-2\nSN-3,pass-3,\n",
      error);
  ASSERT_TRUE(got) << error;
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].spec.hwid, "SN-1");
  EXPECT_EQ((*got)[0].spec.enroll_pass, "pass-1");
  EXPECT_EQ((*got)[0].spec.control_pass, "ctrl-1");
  EXPECT_EQ((*got)[0].line, 4u);
  EXPECT_FALSE((*got)[1].spec.control_pass) << "no control password: control disabled";
  EXPECT_FALSE((*got)[2].spec.control_pass) << "an empty one too";
  EXPECT_EQ((*got)[2].line, 7u);
}

TEST(SerialsCsv, TheFirstBadLineIsNamed) {
  EXPECT_EQ(error_of("SN-1,pass-1\nSN-2\n"),
            "serials.csv line 2: expected hwid,enroll_pass[,control_pass], got 1 field(s)");
  EXPECT_EQ(error_of("SN-1,pass-1,c-1,extra\n"),
            "serials.csv line 1: expected hwid,enroll_pass[,control_pass], got 4 field(s)");
  EXPECT_EQ(error_of("\"SN-1,pass-1\n"),
            "serials.csv line 1: unbalanced or misplaced double quote");
  EXPECT_EQ(error_of("SN/1,pass-1\n"),
            "serials.csv line 1: hwid must be 1..128 bytes of UTF-8 without '/', '+', '#' or "
            "control characters");
  EXPECT_EQ(error_of("SN-1,abc\n"), "serials.csv line 1: enroll password must be 4..128 bytes");
  EXPECT_EQ(error_of("SN-1,pass-1,abc\n"),
            "serials.csv line 1: control password must be 4..128 bytes");
  EXPECT_EQ(error_of("SN-1,pass-1\n\nSN-1,pass-2\n"),
            "serials.csv line 3: hwid \"SN-1\" repeats line 1");
  // A header only counts first.
  EXPECT_EQ(error_of("SN-1,pass-1\nhwid,abc\n"),
            "serials.csv line 2: enroll password must be 4..128 bytes");
}

TEST(SerialsCsv, NothingToRegisterIsNoError) {
  std::string error;
  auto got = parse("hwid,enroll_pass\n# none yet\n", error);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->empty());
}

TEST(SerialsCsv, AlreadyRegisteredIsNamedByLine) {
  std::string error;
  auto got = parse("SN-1,pass-1\nSN-2,pass-2\n", error);
  ASSERT_TRUE(got);
  std::vector<store::Serial> registered(1);
  registered[0].hwid = "SN-2";
  EXPECT_EQ(already_registered(registered, *got, "CSV", "mod-1"),
            "CSV line 2: hwid \"SN-2\" is already registered in mod-1");
  registered[0].hwid = "SN-3";
  EXPECT_FALSE(already_registered(registered, *got, "CSV", "mod-1"));
}

}  // namespace
}  // namespace plugmq::service
