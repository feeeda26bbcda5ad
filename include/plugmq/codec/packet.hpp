// MQTT 3.1.1 control packets as plain values.
//
// The codec is sans-I/O: it turns bytes into these structs and back. No Asio, no SQLite, no
// logging. Strings hold raw bytes; the decoder guarantees topic names, filters and the client
// id are well-formed UTF-8 without U+0000 [MQTT-1.5.3-1] [MQTT-1.5.3-2].
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace plugmq::codec {

enum class PacketType : std::uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
};

struct Will {
  std::string topic;
  std::string payload;
  std::uint8_t qos = 0;
  bool retain = false;
  bool operator==(const Will&) const = default;
};

struct Connect {
  std::string protocol_name = "MQTT";
  std::uint8_t protocol_level = 4;
  bool clean_session = true;
  std::uint16_t keep_alive = 0;
  std::string client_id;
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<std::string> password;
  bool operator==(const Connect&) const = default;
};

// CONNACK return codes [MQTT-3.2.2.3].
enum class ConnackCode : std::uint8_t {
  kAccepted = 0,
  kBadProtocolVersion = 1,
  kIdentifierRejected = 2,
  kServerUnavailable = 3,
  kBadCredentials = 4,
  kNotAuthorized = 5,
};

struct Connack {
  bool session_present = false;
  ConnackCode code = ConnackCode::kAccepted;
  bool operator==(const Connack&) const = default;
};

struct Publish {
  bool dup = false;
  std::uint8_t qos = 0;
  bool retain = false;
  std::string topic;
  std::uint16_t packet_id = 0;  // meaningful only when qos > 0
  std::string payload;
  bool operator==(const Publish&) const = default;
};

struct Puback {
  std::uint16_t packet_id = 0;
  bool operator==(const Puback&) const = default;
};
struct Pubrec {
  std::uint16_t packet_id = 0;
  bool operator==(const Pubrec&) const = default;
};
struct Pubrel {
  std::uint16_t packet_id = 0;
  bool operator==(const Pubrel&) const = default;
};
struct Pubcomp {
  std::uint16_t packet_id = 0;
  bool operator==(const Pubcomp&) const = default;
};

struct Subscription {
  std::string filter;
  std::uint8_t qos = 0;
  bool operator==(const Subscription&) const = default;
};

struct Subscribe {
  std::uint16_t packet_id = 0;
  std::vector<Subscription> subscriptions;  // never empty after decode [MQTT-3.8.3-3]
  bool operator==(const Subscribe&) const = default;
};

inline constexpr std::uint8_t kSubackFailure = 0x80;

struct Suback {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> return_codes;  // 0, 1, 2 or kSubackFailure
  bool operator==(const Suback&) const = default;
};

struct Unsubscribe {
  std::uint16_t packet_id = 0;
  std::vector<std::string> filters;  // never empty after decode [MQTT-3.10.3-2]
  bool operator==(const Unsubscribe&) const = default;
};

struct Unsuback {
  std::uint16_t packet_id = 0;
  bool operator==(const Unsuback&) const = default;
};

struct Pingreq {
  bool operator==(const Pingreq&) const = default;
};
struct Pingresp {
  bool operator==(const Pingresp&) const = default;
};
struct Disconnect {
  bool operator==(const Disconnect&) const = default;
};

// The alternatives are ordered so that index() + 1 == PacketType.
using Packet = std::variant<Connect, Connack, Publish, Puback, Pubrec, Pubrel, Pubcomp, Subscribe,
                            Suback, Unsubscribe, Unsuback, Pingreq, Pingresp, Disconnect>;

inline PacketType type_of(const Packet& p) {
  return static_cast<PacketType>(p.index() + 1);
}

}  // namespace plugmq::codec
