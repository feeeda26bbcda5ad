// What the broker knows of a subscriber.
#pragma once

#include <cstdint>

#include "plugmq/broker/policy.hpp"

namespace plugmq::broker {

// A subscriber: a session, as the router and the registry hold it. What a routed message is,
// and how a subscriber receives it, is the service layer's (service::LiveSession::deliver):
// the broker only finds who subscribed, and at which QoS. Implementations must be thread-safe.
class Sink {
 public:
  virtual ~Sink() = default;
  // Ends the connection for `why` (a takeover [MQTT-3.1.4-2], server shutdown, ...). Callable
  // from any thread; returns at once.
  virtual void close(EndReason why) = 0;
};

// A sink with the QoS granted to one of its filters (0, 1 or 2), in one word: a Sink is at
// least pointer-aligned, so the QoS takes the pointer's two low bits. Ordered by sink first, and
// for one sink by QoS.
class Subscriber {
 public:
  Subscriber(Sink* sink, std::uint8_t qos)
      : bits_(reinterpret_cast<std::uintptr_t>(sink) | (qos & kQosMask)) {}

  Sink* sink() const { return reinterpret_cast<Sink*>(bits_ & ~kQosMask); }
  std::uint8_t qos() const { return static_cast<std::uint8_t>(bits_ & kQosMask); }

  friend bool operator==(Subscriber a, Subscriber b) { return a.bits_ == b.bits_; }
  friend bool operator<(Subscriber a, Subscriber b) { return a.bits_ < b.bits_; }

 private:
  static constexpr std::uintptr_t kQosMask = 3;
  std::uintptr_t bits_;
};
static_assert(alignof(Sink) >= 4, "Subscriber keeps the QoS in a Sink*'s two low bits");
static_assert(sizeof(Subscriber) == sizeof(Sink*));

}  // namespace plugmq::broker
