// Connection-lifetime rules that do not depend on I/O.
#pragma once

#include <chrono>
#include <cstdint>

namespace plugmq::broker {

// How a connection ended; decides whether its Last Will is published.
enum class EndReason : std::uint8_t {
  kDisconnect,         // the client sent DISCONNECT
  kClosedByPeer,       // EOF or socket error
  kKeepAliveExpired,   // [MQTT-3.1.2-24]
  kProtocolViolation,  // malformed or forbidden packet
  kTakenOver,          // a newer connection with the same identity and client id
  kServerShutdown,     // the server is stopping
  kSlowConsumer,       // stayed over its outgoing queue limit
  kRefused,            // CONNECT refused with a non-zero CONNACK
  kRevoked,            // the device or account was disabled while connected
  kEnrollDone,         // an enrollment session ended (failure reply sent, or its time is up)
  kStoreFailed,        // a QoS 1/2 publish could not be stored: the client must send it again
};

const char* to_string(EndReason r);

// The will is published on every end except a clean DISCONNECT [MQTT-3.1.2-8]
// [MQTT-3.14.4-3]. On server shutdown nothing new is published (SPEC 7), and a device whose
// access was revoked publishes nothing more.
inline bool publishes_will(EndReason r) {
  return r != EndReason::kDisconnect && r != EndReason::kServerShutdown &&
         r != EndReason::kRevoked;
}

// A connection silent for 1.5 x its keep alive is closed; keep alive 0 disables the check
// [MQTT-3.1.2-24].
inline std::chrono::milliseconds keep_alive_limit(std::uint16_t keep_alive_s) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(keep_alive_s) * 1500);
}

}  // namespace plugmq::broker
