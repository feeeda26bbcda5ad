#include "plugmq/platform/props.hpp"

#include <gtest/gtest.h>

namespace plugmq::platform {
namespace {

TEST(Location, WhatCloudPlugsClientsSend) {
  EXPECT_EQ(check_location(R"({"x":12.49,"y":41.89})"), "");
  EXPECT_EQ(check_location(R"({"x":-180,"y":90,"z":-10.5,"r":3,"t":1700000000000})"), "");
}

TEST(Location, RefusedWithWhy) {
  const std::pair<const char*, const char*> cases[] = {
      {R"("rome")", "JSON object"},
      {"[1,2]", "JSON object"},
      {"not json", "JSON object"},
      {R"({"y":1})", R"(needs "x")"},
      {R"({"x":1})", R"(needs "y")"},
      {R"({"x":180.5,"y":0})", R"("x" must be a number within -180..180)"},
      {R"({"x":0,"y":-91})", R"("y" must be a number within -90..90)"},
      {R"({"x":"1","y":0})", R"("x" must be a number)"},
      {R"({"x":0,"y":0,"r":-1})", R"("r" must be a number >= 0)"},
      {R"({"x":0,"y":0,"z":true})", R"("z" must be a number)"},
      {R"({"x":0,"y":0,"lat":1})", R"(unknown member "lat")"},
  };
  for (const auto& [value, why] : cases) {
    const std::string got = check_location(value);
    EXPECT_NE(got.find(why), std::string::npos) << value << " -> " << got;
  }
}

}  // namespace
}  // namespace plugmq::platform
