#include "plugmq/http/cors.hpp"

#include <algorithm>
#include <cctype>

namespace plugmq::http {

namespace {

constexpr const char* kMethods = "GET, POST, PUT, PATCH, DELETE";
constexpr const char* kHeaders =
    "Authorization, Content-Type, X-Plug-Id, X-Plug-Auth, X-Plug-Email, X-Plug-Master, "
    "X-HTTP-Method-Override";
constexpr const char* kMaxAgeS = "600";

// The value of Access-Control-Allow-Origin for `origin`; nothing when it is not allowed.
std::optional<std::string> allow_origin(const std::vector<std::string>& allowed,
                                        const std::string& origin) {
  if (std::find(allowed.begin(), allowed.end(), "*") != allowed.end()) return "*";
  if (std::find(allowed.begin(), allowed.end(), origin) != allowed.end()) return origin;
  return std::nullopt;
}

void add_allow(Response& res, const std::string& value) {
  res.headers.emplace_back("Access-Control-Allow-Origin", value);
  if (value != "*") res.headers.emplace_back("Vary", "Origin");  // the answer depends on it
}

}  // namespace

std::string check_cors_origin(std::string_view origin) {
  if (origin == "*") return {};
  std::string_view host;
  for (std::string_view scheme : {"http://", "https://"}) {
    if (origin.starts_with(scheme)) host = origin.substr(scheme.size());
  }
  const auto bad = [](char c) {
    return !(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
             c == '[' || c == ']');
  };
  if (host.empty() || std::any_of(host.begin(), host.end(), bad)) {
    return "not an origin: \"" + std::string(origin) +
           "\" (scheme://host[:port] as a browser sends it, e.g. \"https://app.example.com\", "
           "or \"*\")";
  }
  return {};
}

std::optional<Response> cors_preflight(const std::vector<std::string>& allowed,
                                       const Request& req) {
  const std::string* origin = req.header("Origin");
  if (req.method != "OPTIONS" || !origin || !req.header("Access-Control-Request-Method")) {
    return std::nullopt;
  }
  auto value = allow_origin(allowed, *origin);
  if (!value) {
    return error_response(403, allowed.empty()
                                   ? "cross-origin requests are off (http.cors_origins)"
                                   : "origin \"" + *origin + "\" is not in http.cors_origins");
  }
  Response res;
  res.status = 204;
  add_allow(res, *value);
  res.headers.emplace_back("Access-Control-Allow-Methods", kMethods);
  res.headers.emplace_back("Access-Control-Allow-Headers", kHeaders);
  res.headers.emplace_back("Access-Control-Max-Age", kMaxAgeS);
  return res;
}

void add_cors_headers(const std::vector<std::string>& allowed, const Request& req, Response& res) {
  const std::string* origin = req.header("Origin");
  if (!origin) return;
  if (auto value = allow_origin(allowed, *origin)) add_allow(res, *value);
}

}  // namespace plugmq::http
