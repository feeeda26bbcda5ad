// MQTT over WebSocket's opening handshake (SPEC 12): which requests to /mqtt are upgraded, with
// which subprotocol, and what the others are answered.
#include "plugmq/http/websocket_upgrade.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace plugmq::http {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// What a browser sends (RFC 6455 section 1.2's example key), offering `protocols`.
Request upgrade(const std::string& protocols) {
  Request r;
  r.method = "GET";
  r.target = "/mqtt";
  r.headers = {{"Host", "localhost:8080"},
               {"Upgrade", "websocket"},
               {"Connection", "Upgrade"},
               {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
               {"Sec-WebSocket-Version", "13"}};
  if (!protocols.empty()) r.headers.emplace_back("Sec-WebSocket-Protocol", protocols);
  return r;
}

std::string header(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

void set(Request& r, const std::string& name, const std::string& value) {
  for (auto& [k, v] : r.headers) {
    if (k == name) {
      v = value;
      return;
    }
  }
  r.headers.emplace_back(name, value);
}

void drop(Request& r, const std::string& name) {
  std::erase_if(r.headers, [&](const auto& h) { return h.first == name; });
}

// The refusal's status, asserting the {"err","msg"} body.
int refused(const MqttUpgrade& u, std::string* msg = nullptr) {
  EXPECT_TRUE(u.subprotocol.empty());
  if (!u.refusal) return 0;
  const auto body = nlohmann::json::parse(u.refusal->body);
  EXPECT_EQ(body["err"], u.refusal->status);
  EXPECT_TRUE(body["msg"].is_string());
  if (msg) *msg = body["msg"].get<std::string>();
  return u.refusal->status;
}

TEST(MqttUpgrade, TheMqttPathWithOrWithoutAQuery) {
  EXPECT_TRUE(is_mqtt_target("/mqtt"));
  EXPECT_TRUE(is_mqtt_target("/mqtt?clientId=x"));
  for (const char* other : {"/", "/mqtt/", "/mqttx", "/iot/mqtt", "/MQTT", "mqtt", ""}) {
    EXPECT_FALSE(is_mqtt_target(other)) << other;
  }
}

// [MQTT-6.0.0-3] [MQTT-6.0.0-4]
TEST(MqttUpgrade, MQTT_6_0_0_4_answersMqttWheneverOffered) {
  for (const char* offered : {"mqtt", "mqtt, mqttv3.1", "mqttv3.1, mqtt", "wamp,mqtt", " mqtt "}) {
    const auto u = check_mqtt_upgrade(upgrade(offered), 11);
    EXPECT_FALSE(u.refusal) << offered;
    EXPECT_EQ(u.subprotocol, "mqtt") << offered;
  }
}

TEST(MqttUpgrade, MqttV31AloneIsAnsweredWithItself) {
  // A browser fails a handshake answered with a subprotocol it did not offer.
  const auto u = check_mqtt_upgrade(upgrade("mqttv3.1"), 11);
  EXPECT_FALSE(u.refusal);
  EXPECT_EQ(u.subprotocol, "mqttv3.1");
}

TEST(MqttUpgrade, OfferSplitOverSeveralHeaders) {
  Request r = upgrade("wamp");
  r.headers.emplace_back("Sec-WebSocket-Protocol", "chat, mqtt");
  EXPECT_EQ(choose_mqtt_subprotocol(r), "mqtt");
}

TEST(MqttUpgrade, NoMqttSubprotocolIsA400NamingIt) {
  for (const char* offered : {"", "wamp", "MQTT", "mqttv5", "mqtt3.1", ","}) {
    std::string msg;
    EXPECT_EQ(refused(check_mqtt_upgrade(upgrade(offered), 11), &msg), 400) << offered;
    EXPECT_NE(msg.find("Sec-WebSocket-Protocol: mqtt"), std::string::npos) << msg;
  }
  std::string msg;
  refused(check_mqtt_upgrade(upgrade("wamp, chat"), 11), &msg);
  EXPECT_NE(msg.find("offered: wamp, chat"), std::string::npos) << msg;
  refused(check_mqtt_upgrade(upgrade(""), 11), &msg);
  EXPECT_NE(msg.find("offered: none"), std::string::npos) << msg;
}

TEST(MqttUpgrade, NotAnUpgradeIs426WithUpgradeHeader) {
  Request plain;
  plain.method = "GET";
  plain.target = "/mqtt";
  plain.headers = {{"Host", "localhost"}};
  const auto u = check_mqtt_upgrade(plain, 11);
  std::string msg;
  EXPECT_EQ(refused(u, &msg), 426);
  EXPECT_EQ(header(*u.refusal, "Upgrade"), "websocket");
  EXPECT_NE(msg.find("MQTT over WebSocket"), std::string::npos) << msg;

  Request post = upgrade("mqtt");
  post.method = "POST";
  EXPECT_EQ(refused(check_mqtt_upgrade(post, 11)), 426);

  Request other = upgrade("mqtt");
  set(other, "Upgrade", "h2c");
  EXPECT_EQ(refused(check_mqtt_upgrade(other, 11)), 426);

  Request no_connection = upgrade("mqtt");
  set(no_connection, "Connection", "keep-alive");
  EXPECT_EQ(refused(check_mqtt_upgrade(no_connection, 11)), 426);
}

TEST(MqttUpgrade, HeaderTokensAreCaseInsensitiveLists) {
  Request r = upgrade("mqtt");
  set(r, "Upgrade", "WebSocket");
  set(r, "Connection", "keep-alive, Upgrade");  // Firefox
  EXPECT_EQ(check_mqtt_upgrade(r, 11).subprotocol, "mqtt");
}

TEST(MqttUpgrade, OtherWebSocketVersionIs426Naming13) {
  Request r = upgrade("mqtt");
  set(r, "Sec-WebSocket-Version", "8");
  const auto u = check_mqtt_upgrade(r, 11);
  EXPECT_EQ(refused(u), 426);
  EXPECT_EQ(header(*u.refusal, "Sec-WebSocket-Version"), "13");
  drop(r, "Sec-WebSocket-Version");
  EXPECT_EQ(refused(check_mqtt_upgrade(r, 11)), 426);
}

TEST(MqttUpgrade, MalformedHandshakeIs400) {
  EXPECT_EQ(refused(check_mqtt_upgrade(upgrade("mqtt"), 10)), 400);  // HTTP/1.0
  Request no_host = upgrade("mqtt");
  drop(no_host, "Host");
  EXPECT_EQ(refused(check_mqtt_upgrade(no_host, 11)), 400);
  for (const char* key : {"", "short==", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=x",
                          "dGhlIHNhbXBsZSBub25j!Q=="}) {
    Request r = upgrade("mqtt");
    set(r, "Sec-WebSocket-Key", key);
    EXPECT_EQ(refused(check_mqtt_upgrade(r, 11)), 400) << key;
  }
  Request no_key = upgrade("mqtt");
  drop(no_key, "Sec-WebSocket-Key");
  EXPECT_EQ(refused(check_mqtt_upgrade(no_key, 11)), 400);
}

}  // namespace
}  // namespace plugmq::http
