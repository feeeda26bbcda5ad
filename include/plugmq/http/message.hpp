// What the REST API works on: a request in, a response out, independent of any socket.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace plugmq::http {

struct Request {
  std::string method;  // as sent ("GET", "POST", ...); Api applies X-HTTP-Method-Override
  std::string target;  // the request-target: "/iot/data/a%2Fb?limit=1"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer_address;  // keys the enrollment rate limit; "" when unknown

  // The first header of that name (case-insensitive); nullptr when absent.
  const std::string* header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string body;  // JSON text; empty for none
  // Content-Type is application/json when there is a body; a Content-Type here replaces it.
  std::vector<std::pair<std::string, std::string>> headers;
};

// `status` with the JSON text `body`.
Response json_response(int status, std::string body);

// The error form of every failure (SPEC 10): `status` and {"err":STATUS,"msg":MSG}.
Response error_response(int status, std::string_view msg);

// The reason phrase of a status code ("Not Found"); "Unknown" for codes not used here.
const char* reason_of(int status);

}  // namespace plugmq::http
