// What the publish path hands to each subscriber the router found.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "plugmq/platform/permissions.hpp"

namespace plugmq::service {

// One routed data message. `packet` is the complete QoS 0 PUBLISH, encoded once and shared by
// every subscriber's queue (a QoS 1 or 2 delivery is re-encoded from it with the subscriber's
// packet id, codec::encode_publish_as). `origin` is the device the data belongs to; each
// subscriber checks its read permission against it at delivery (SPEC 6: permissions apply per
// message), with service::may_receive (service/publish.hpp), before queueing the packet.
struct Message {
  std::string_view topic;
  const platform::Target& origin;
  std::shared_ptr<const std::string> packet;
  // The QoS it was published at: an MQTT PUBLISH's, a will's, 1 for HTTP (SPEC 11).
  std::uint8_t publish_qos = 0;
  // The QoS to deliver it at to the subscriber being called: min(publish_qos, the highest QoS
  // granted to its matching filters) [MQTT-3.8.4-6], set by the publish path before each
  // LiveSession::deliver call (the message is handed to one subscriber at a time).
  std::uint8_t qos = 0;
};

}  // namespace plugmq::service
