// What the broker knows of a subscriber.
#pragma once

#include "plugmq/broker/policy.hpp"

namespace plugmq::broker {

// A subscriber: a session, as the router and the registry hold it. What a routed message is,
// and how a subscriber receives it, is the service layer's (service::LiveSession::deliver):
// the broker only finds who subscribed. Implementations must be thread-safe.
class Sink {
 public:
  virtual ~Sink() = default;
  // Ends the connection for `why` (a takeover [MQTT-3.1.4-2], server shutdown, ...). Callable
  // from any thread; returns at once.
  virtual void close(EndReason why) = 0;
};

}  // namespace plugmq::broker
