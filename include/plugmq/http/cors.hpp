// Cross-origin requests to the REST API (CORS, the Fetch standard): which origins' browser pages
// may call it, from http.cors_origins. Off (no origin allowed) by default; "*" allows any.
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin is
// answered 204 with the methods and the headers the API reads (Authorization, Content-Type, the
// X-Plug-* credentials, X-HTTP-Method-Override); from any other origin 403, naming the setting.
// Every other response to an allowed origin carries Access-Control-Allow-Origin. Credentials
// travel in headers the page sets, never in cookies, so Access-Control-Allow-Credentials is
// not sent. Pure; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugmq/http/message.hpp"

namespace plugmq::http {

// Empty when `origin` may be listed in http.cors_origins: "*", or "http://HOST[:PORT]" or
// "https://HOST[:PORT]" as a browser sends it in Origin (no path, no trailing '/'); else why.
std::string check_cors_origin(std::string_view origin);

// The preflight's response when `req` is one (OPTIONS with Origin and
// Access-Control-Request-Method); nothing for any other request.
std::optional<Response> cors_preflight(const std::vector<std::string>& allowed,
                                       const Request& req);

// Adds Access-Control-Allow-Origin (and Vary: Origin) to `res` when `req` comes with an allowed
// Origin.
void add_cors_headers(const std::vector<std::string>& allowed, const Request& req, Response& res);

}  // namespace plugmq::http
