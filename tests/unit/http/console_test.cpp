// GET /console/…: the web console's files built into the binary (http/console.cpp), with their
// content types, a strict Content-Security-Policy, ETags and 304s; "/" leads there; nothing
// outside the table is ever served.
#include <gtest/gtest.h>

#include <regex>

#include "../service/live_context.hpp"
#include "plugmq/http/api.hpp"

namespace plugmq::http {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
using service::testing::LiveContext;

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    live_.start();
    api_ = std::make_unique<Api>(live_.ctx());
  }
  void TearDown() override { api_.reset(); }

  Response get(const std::string& target, Headers headers = {{"Host", "broker.example:8080"}},
               const std::string& method = "GET") {
    Request req;
    req.method = method;
    req.target = target;
    req.headers = std::move(headers);
    req.peer_address = "192.0.2.7";
    return live_.run(api_->handle(req));
  }

  static std::string header(const Response& r, const std::string& name) {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return "";
  }

  LiveContext live_;
  std::unique_ptr<Api> api_;
};

TEST_F(ConsoleTest, RootAndBareConsoleRedirect) {
  auto root = get("/");
  EXPECT_EQ(root.status, 302);
  EXPECT_EQ(header(root, "Location"), "/console/");
  auto bare = get("/console");
  EXPECT_EQ(bare.status, 301);
  EXPECT_EQ(header(bare, "Location"), "/console/");
}

TEST_F(ConsoleTest, ThePageWithAStrictPolicy) {
  auto r = get("/console/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(header(r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<title>plugmq console</title>"), std::string::npos);
  const std::string csp = header(r, "Content-Security-Policy");
  for (const char* part :
       {"default-src 'self'", "script-src 'self';", "style-src 'self';", "object-src 'none'",
        "frame-ancestors 'none'", "base-uri 'none'",
        "connect-src 'self' ws://broker.example:8080 wss://broker.example:8080;"}) {
    EXPECT_NE(csp.find(part), std::string::npos) << part << " in " << csp;
  }
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header(r, "X-Frame-Options"), "DENY");
  EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
  EXPECT_EQ(get("/console/index.html").body, r.body);
  // The page has no inline script or style: everything it runs is a file of its own.
  EXPECT_EQ(r.body.find("<style"), std::string::npos);
  EXPECT_EQ(r.body.find("style="), std::string::npos);
  EXPECT_FALSE(std::regex_search(r.body, std::regex(R"(\son[a-z]+\s*=)"))) << "an inline handler";
  for (std::size_t at = 0; (at = r.body.find("<script", at)) != std::string::npos; ++at) {
    EXPECT_EQ(r.body.compare(r.body.find('>', at) - 0, 10, "></script>"), 0)
        << "a script with a src and no body: " << r.body.substr(at, 80);
  }
}

TEST_F(ConsoleTest, EveryKindOfFileWithItsType) {
  EXPECT_EQ(header(get("/console/app.js"), "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(header(get("/console/views/devices.js"), "Content-Type"),
            "text/javascript; charset=utf-8");
  EXPECT_EQ(header(get("/console/console.css"), "Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(header(get("/console/favicon.svg"), "Content-Type"), "image/svg+xml");
  auto lib = get("/console/vendor/mqtt.min.js");
  EXPECT_EQ(lib.status, 200);
  EXPECT_GT(lib.body.size(), 100000u);
  EXPECT_EQ(header(get("/console/vendor/uPlot.LICENSE"), "Content-Type"),
            "text/plain; charset=utf-8");
}

TEST_F(ConsoleTest, AnEtagAndA304) {
  auto first = get("/console/app.js");
  const std::string etag = header(first, "ETag");
  ASSERT_EQ(etag.size(), 66u) << etag;  // "SHA-256 in hex"
  auto again = get("/console/app.js", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(header(again, "ETag"), etag);
  EXPECT_EQ(get("/console/app.js", {{"If-None-Match", "W/" + etag}}).status, 304);
  EXPECT_EQ(get("/console/app.js", {{"If-None-Match", "\"other\""}}).status, 200);
  EXPECT_NE(header(get("/console/console.css"), "ETag"), etag);
}

TEST_F(ConsoleTest, NothingOutsideTheTable) {
  for (const char* target :
       {"/console/nothing.js", "/console/../CMakeLists.txt", "/console/%2e%2e/CMakeLists.txt",
        "/console/vendor/../index.html", "/console//index.html", "/console/views/",
        "/console/vendor", "/console/./app.js", "/console/APP.JS", "/console/app.js/"}) {
    auto r = get(target);
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_FALSE(header(r, "Content-Security-Policy").empty()) << target;
    EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff") << target;
  }
  // A query string is not part of the name.
  EXPECT_EQ(get("/console/app.js?v=2").status, 200);
}

TEST_F(ConsoleTest, OnlyGet) {
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    auto r = get("/console/", {}, method);
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(header(r, "Allow"), "GET");
  }
  EXPECT_EQ(get("/", {}, "POST").status, 405);
}

TEST_F(ConsoleTest, AHostThePolicyCannotNameIsLeftOut) {
  auto r = get("/console/", {{"Host", "evil.example; script-src *"}});
  const std::string csp = header(r, "Content-Security-Policy");
  EXPECT_NE(csp.find("connect-src 'self';"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("evil"), std::string::npos) << csp;
  auto none = get("/console/", {});
  EXPECT_NE(header(none, "Content-Security-Policy").find("connect-src 'self';"), std::string::npos);
  auto v6 = get("/console/", {{"Host", "[::1]:8443"}});
  EXPECT_NE(header(v6, "Content-Security-Policy").find("wss://[::1]:8443"), std::string::npos);
}

}  // namespace
}  // namespace plugmq::http
