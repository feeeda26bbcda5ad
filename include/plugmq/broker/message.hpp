// What the router hands to subscribers.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "plugmq/broker/policy.hpp"
#include "plugmq/platform/permissions.hpp"

namespace plugmq::broker {

// One routed data message. `packet` is the complete QoS 0 PUBLISH, encoded once and shared
// by every subscriber's queue. `origin` is the device the data belongs to; each subscriber
// checks its read permission against it at delivery (SPEC 6: permissions apply per message),
// with service::may_receive (service/publish.hpp), before queueing the packet.
struct Message {
  std::string_view topic;
  const platform::Target& origin;
  std::shared_ptr<const std::string> packet;
};

// A subscriber: a session. Implementations must be thread-safe and must not block:
// deliver() is called from the publishing session's thread.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void deliver(const Message& msg) = 0;
  // Ends the connection for `why` (a takeover [MQTT-3.1.4-2], server shutdown, ...). Callable
  // from any thread; returns at once.
  virtual void close(EndReason why) = 0;
};

}  // namespace plugmq::broker
