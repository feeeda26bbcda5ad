#include "plugmq/http/cors.hpp"

#include <gtest/gtest.h>

namespace plugmq::http {
namespace {

using Origins = std::vector<std::string>;

Request request(const std::string& method, std::vector<std::pair<std::string, std::string>> h) {
  Request r;
  r.method = method;
  r.target = "/iot/data/x";
  r.headers = std::move(h);
  return r;
}

std::string header(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST(Cors, OriginsTheSettingTakes) {
  for (const char* ok : {"*", "http://localhost:3000", "https://app.example.com",
                         "http://127.0.0.1:8080", "http://[::1]:8080"}) {
    EXPECT_EQ(check_cors_origin(ok), "") << ok;
  }
  for (const char* bad : {"", "app.example.com", "https://app.example.com/", "https://",
                          "ftp://x", "https://a.example.com/path", "http://a b", "null"}) {
    EXPECT_NE(check_cors_origin(bad), "") << bad;
  }
}

TEST(Cors, PreflightFromAListedOrigin) {
  const Origins allowed = {"https://a.example.com"};
  auto res = cors_preflight(
      allowed, request("OPTIONS", {{"Origin", "https://a.example.com"},
                                   {"Access-Control-Request-Method", "PATCH"},
                                   {"Access-Control-Request-Headers", "x-plug-id,x-plug-auth"}}));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(header(*res, "Access-Control-Allow-Origin"), "https://a.example.com");
  EXPECT_EQ(header(*res, "Vary"), "Origin");
  EXPECT_NE(header(*res, "Access-Control-Allow-Methods").find("PATCH"), std::string::npos);
  EXPECT_NE(header(*res, "Access-Control-Allow-Headers").find("X-Plug-Auth"), std::string::npos);
  EXPECT_EQ(header(*res, "Access-Control-Allow-Credentials"), "");
}

TEST(Cors, PreflightFromAnyOtherOriginIs403) {
  const auto req = request("OPTIONS", {{"Origin", "https://b.example.com"},
                                       {"Access-Control-Request-Method", "GET"}});
  auto res = cors_preflight({"https://a.example.com"}, req);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_NE(res->body.find("is not in http.cors_origins"), std::string::npos) << res->body;
  res = cors_preflight({}, req);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_NE(res->body.find("cross-origin requests are off"), std::string::npos) << res->body;
  res = cors_preflight({"*"}, req);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(header(*res, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(header(*res, "Vary"), "");
}

TEST(Cors, OnlyPreflightsAreAnsweredHere) {
  const Origins any = {"*"};
  EXPECT_FALSE(cors_preflight(any, request("OPTIONS", {{"Origin", "https://a.example.com"}})));
  EXPECT_FALSE(cors_preflight(any, request("OPTIONS", {{"Access-Control-Request-Method", "GET"}})));
  EXPECT_FALSE(cors_preflight(any, request("GET", {{"Origin", "https://a.example.com"},
                                                   {"Access-Control-Request-Method", "GET"}})));
}

TEST(Cors, ResponsesToAListedOriginSayItMayRead) {
  Response res;
  add_cors_headers({"https://a.example.com"}, request("GET", {{"Origin", "https://a.example.com"}}),
                   res);
  EXPECT_EQ(header(res, "Access-Control-Allow-Origin"), "https://a.example.com");
  Response other;
  add_cors_headers({"https://a.example.com"}, request("GET", {{"Origin", "https://b.example.com"}}),
                   other);
  EXPECT_TRUE(other.headers.empty());
  Response none;
  add_cors_headers({"*"}, request("GET", {}), none);
  EXPECT_TRUE(none.headers.empty());
}

}  // namespace
}  // namespace plugmq::http
