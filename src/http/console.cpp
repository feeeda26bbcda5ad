// GET /console/…: the web console's static files (SPEC 12), from the table built into the
// binary (console_files.hpp). Nothing here touches the file system, so no path can reach
// outside the table: a path is one of its names, byte for byte, or a 404.
//
// Every answer carries a strict Content-Security-Policy (the page's scripts and styles are its
// own files, no inline code, no framing; it talks to this server only: the API and MQTT over
// WebSocket on the same host), nosniff, and an ETag with Cache-Control: no-cache, so that a
// browser asks again each time and gets a 304 while the binary is the same.
#include <algorithm>
#include <cctype>

#include "console_files.hpp"
#include "handlers.hpp"

namespace plugmq::http::detail {

namespace {

// A Host header a policy may name: host[:port], an IPv6 literal in brackets, nothing else (the
// header comes from the client; a value outside this set is left out of the policy).
bool plain_host(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
           c == '[' || c == ']';
  });
}

std::string content_security_policy(const Request& req) {
  std::string connect = "'self'";
  // 'self' covers ws: and wss: of the page's own origin in CSP 3; older browsers need them
  // named (the console's MQTT over WebSocket).
  if (const std::string* host = req.header("Host"); host && plain_host(*host)) {
    connect += " ws://" + *host + " wss://" + *host;
  }
  return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
         "font-src 'self'; connect-src " +
         connect +
         "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
}

void add_security_headers(const Request& req, Response& res) {
  res.headers.emplace_back("Content-Security-Policy", content_security_policy(req));
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("X-Frame-Options", "DENY");
  res.headers.emplace_back("Referrer-Policy", "no-referrer");
  res.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  res.headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
}

const ConsoleFile* find_file(std::string_view path) {
  for (const auto& f : console_files()) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

// Whether If-None-Match (a list of entity tags, or "*") names `etag`.
bool matches(const std::string* if_none_match, std::string_view etag) {
  if (!if_none_match) return false;
  // A weak comparison, as RFC 9110 asks for If-None-Match: W/"x" names "x" too.
  const std::string_view list = *if_none_match;
  return list.find('*') != std::string_view::npos || list.find(etag) != std::string_view::npos;
}

}  // namespace

Response get_console(const Call& call, std::string_view file) {
  if (file.empty()) file = "index.html";
  const ConsoleFile* f = find_file(file);
  Response res;
  if (!f) {
    res = error_response(404, "no such file in the console");
  } else {
    const std::string etag = "\"" + std::string(f->sha256) + "\"";
    if (matches(call.req.header("If-None-Match"), etag)) {
      res.status = 304;
    } else {
      res.status = 200;
      res.body = std::string(f->body);
      res.headers.emplace_back("Content-Type", std::string(f->content_type));
    }
    res.headers.emplace_back("ETag", etag);
    res.headers.emplace_back("Cache-Control", "no-cache");
  }
  add_security_headers(call.req, res);
  return res;
}

}  // namespace plugmq::http::detail
