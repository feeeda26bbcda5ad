// MQTT over WebSocket's opening handshake (SPEC 12, MQTT 3.1.1 section 6): which requests to
// /mqtt are upgraded, with which subprotocol, and what the others are answered. Pure; the
// listener (listener.cpp) performs the handshake and hands the connection to the MQTT server
// (Host::start_mqtt). Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "plugmq/http/message.hpp"

namespace plugmq::http {

// The path of MQTT over WebSocket on the http and https listeners.
inline constexpr std::string_view kMqttPath = "/mqtt";

// Whether the request-target `target` is kMqttPath (with or without a query string).
bool is_mqtt_target(std::string_view target);

// The subprotocol the server answers with, from every Sec-WebSocket-Protocol value the client
// sent (comma-separated lists, in its order of preference): "mqtt" when offered
// [MQTT-6.0.0-3] [MQTT-6.0.0-4], else "mqttv3.1" (what clients written for MQTT 3.1 offer, and
// a browser fails a handshake answered with a subprotocol it did not offer); empty when
// neither is. Subprotocol names are case-sensitive tokens (RFC 6455 section 4.1).
std::string choose_mqtt_subprotocol(const Request& req);

// What a request to kMqttPath gets: the subprotocol of the upgrade, or the refusal to send
// (its status, {"err","msg"} and the headers RFC 6455 and RFC 9110 ask for).
//   - not a WebSocket upgrade (not GET with Upgrade: websocket and Connection: upgrade): 426,
//     with Upgrade: websocket;
//   - an upgrade of another WebSocket version than 13: 426 with Sec-WebSocket-Version: 13;
//   - HTTP/1.0, no Host, no or a malformed Sec-WebSocket-Key: 400;
//   - neither subprotocol offered: 400 naming Sec-WebSocket-Protocol: mqtt.
// `version` is the request's HTTP version (11 for HTTP/1.1).
struct MqttUpgrade {
  std::string subprotocol;          // when accepted
  std::optional<Response> refusal;  // when not
};
MqttUpgrade check_mqtt_upgrade(const Request& req, unsigned version);

}  // namespace plugmq::http
