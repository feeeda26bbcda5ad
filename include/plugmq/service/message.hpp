// What the publish path hands to each subscriber the router found.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "plugmq/platform/permissions.hpp"

namespace plugmq::service {

// One routed data message. `packet` is the complete QoS 0 PUBLISH, encoded once and shared by
// every subscriber's queue. `origin` is the device the data belongs to; each subscriber checks
// its read permission against it at delivery (SPEC 6: permissions apply per message), with
// service::may_receive (service/publish.hpp), before queueing the packet.
struct Message {
  std::string_view topic;
  const platform::Target& origin;
  std::shared_ptr<const std::string> packet;
};

}  // namespace plugmq::service
