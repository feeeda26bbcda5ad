#include "plugmq/http/websocket_upgrade.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace plugmq::http {

namespace {

constexpr std::string_view kHowTo =
    "send a WebSocket upgrade (GET, Upgrade: websocket, Connection: Upgrade, "
    "Sec-WebSocket-Version: 13) offering the subprotocol mqtt (Sec-WebSocket-Protocol: mqtt)";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The items of every value of header `name`, comma-separated lists, trimmed; empty ones left
// out (RFC 9110 section 5.6.1 lets a list hold empty elements).
std::vector<std::string_view> tokens(const Request& req, std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : req.headers) {
    if (!iequals(k, name)) continue;
    std::string_view rest = v;
    for (;;) {
      const auto comma = rest.find(',');
      const auto item = trim(rest.substr(0, comma));
      if (!item.empty()) out.push_back(item);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return out;
}

bool has_token(const Request& req, std::string_view name, std::string_view token) {
  const auto t = tokens(req, name);
  return std::any_of(t.begin(), t.end(), [&](std::string_view x) { return iequals(x, token); });
}

// RFC 6455 section 4.1: base64 of 16 random bytes, 24 characters ending in "==".
bool valid_key(std::string_view key) {
  if (key.size() != 24 || !key.ends_with("==")) return false;
  return std::all_of(key.begin(), key.end() - 2, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/';
  });
}

MqttUpgrade refuse(int status, std::string msg,
                   std::vector<std::pair<std::string, std::string>> headers = {}) {
  MqttUpgrade out;
  out.refusal = error_response(status, msg);
  for (auto& h : headers) out.refusal->headers.push_back(std::move(h));
  return out;
}

}  // namespace

bool is_mqtt_target(std::string_view target) {
  return target.substr(0, target.find('?')) == kMqttPath;
}

std::string choose_mqtt_subprotocol(const Request& req) {
  const auto offered = tokens(req, "Sec-WebSocket-Protocol");
  for (std::string_view want : {"mqtt", "mqttv3.1"}) {
    if (std::find(offered.begin(), offered.end(), want) != offered.end()) return std::string(want);
  }
  return {};
}

MqttUpgrade check_mqtt_upgrade(const Request& req, unsigned version) {
  if (req.method != "GET" || !has_token(req, "Upgrade", "websocket") ||
      !has_token(req, "Connection", "upgrade")) {
    return refuse(426, std::string(kMqttPath) + " is MQTT over WebSocket: " + std::string(kHowTo),
                  {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}});
  }
  const std::string* ws_version = req.header("Sec-WebSocket-Version");
  if (ws_version == nullptr || trim(*ws_version) != "13") {
    return refuse(426,
                  "WebSocket version " + (ws_version ? "\"" + *ws_version + "\"" : "none") +
                      " is not supported: Sec-WebSocket-Version: 13",
                  {{"Sec-WebSocket-Version", "13"}});
  }
  if (version < 11) return refuse(400, "a WebSocket upgrade needs HTTP/1.1");
  if (req.header("Host") == nullptr) return refuse(400, "a WebSocket upgrade needs a Host header");
  const std::string* key = req.header("Sec-WebSocket-Key");
  if (key == nullptr || !valid_key(trim(*key))) {
    return refuse(400,
                  "malformed WebSocket upgrade: Sec-WebSocket-Key must be the base64 of 16 "
                  "bytes");
  }
  MqttUpgrade out;
  out.subprotocol = choose_mqtt_subprotocol(req);
  if (out.subprotocol.empty()) {
    const auto offered = tokens(req, "Sec-WebSocket-Protocol");
    std::string names;
    for (auto t : offered) names += (names.empty() ? "" : ", ") + std::string(t);
    if (names.size() > 200) names = names.substr(0, 200) + "...";
    return refuse(400,
                  "MQTT over WebSocket needs the subprotocol mqtt (Sec-WebSocket-Protocol: "
                  "mqtt); offered: " +
                      (names.empty() ? std::string("none") : names));
  }
  return out;
}

}  // namespace plugmq::http
