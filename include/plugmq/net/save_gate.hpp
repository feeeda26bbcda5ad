// The acknowledgements of a persistent session (SPEC 11) that may go only once a save of its
// state is committed, so that a SIGKILL of the server cannot make the session repeat what its
// client was told is done (docs/decisions/017, "What a SIGKILL can repeat"):
//
// - the PUBREL answering a PUBREC of an outbound QoS 2 message: after a save holding the message
//   at its PUBCOMP stage (a restart sends the PUBREL again, never the PUBLISH);
// - the PUBREC of an inbound QoS 2 PUBLISH: after a save holding its packet id as awaiting its
//   PUBREL, pushed behind its record (one sent again with DUP after a restart is not stored
//   again);
// - the PUBCOMP answering a PUBREL of an id a save holds: after a save without it (the id's next
//   PUBLISH is a new message).
//
// Those that come while a save is being committed wait for the next one together: a session
// pushes at most one such save at a time, so a stream of QoS 2 exchanges costs one save per
// commit of the data writer, not one per message. A PUBACK or PUBREC that would go in order
// behind one waiting here (through the writer's queue) joins them instead, so that
// acknowledgements of PUBLISHes never overtake each other [MQTT-4.6.0-2, -3].
//
// The session thread drives it: hold() (or group() for a publish), flush when want_flush()
// says, take() the acknowledgements to send behind the save it then pushes, committed() when
// that save's commit is reported back. No save is taken while a publish is being handed to the
// data writer (begin_publish / end_publish): a save never precedes the record of an id it holds.
//
// Not thread-safe: one session thread's. A Held, once taken, belongs to the data writer's
// callbacks.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "plugmq/codec/packet.hpp"

namespace plugmq::net {

class SaveGate {
 public:
  // Acknowledgements waiting for one save, in the order they are to be sent.
  struct Held {
    std::vector<codec::Packet> acks;
    // Set by the data writer when the record of a PUBLISH acknowledged here was not committed
    // (its callback runs before the save's, in queue order): nothing is sent, the connection
    // ends unacknowledged.
    bool failed = false;
    // Some acknowledge PUBLISHes (PUBACK, PUBREC): the later ones of the session join them.
    bool orders_publishes = false;
  };

  // Whether an acknowledgement of a PUBLISH that would go through the writer's queue must join
  // those held here to keep its place behind them.
  bool orders_publishes() const { return held_ && held_->orders_publishes; }
  bool holding() const { return held_ != nullptr; }
  // An acknowledgement that waits for the next save; `of_publish`: a PUBACK or PUBREC.
  void hold(codec::Packet ack, bool of_publish = false) {
    group(of_publish).acks.push_back(std::move(ack));
  }
  // The group a PUBLISH's acknowledgement will join once its record is queued (made when none
  // waits): the record's callback notes a failure in it.
  std::shared_ptr<Held> group_for_publish() {
    group(true);
    return held_;
  }
  // A publish is being handed to the data writer: no save is taken until it is queued.
  void begin_publish() { publishing_ = true; }
  void end_publish() { publishing_ = false; }

  // Whether the session should flush now (a save is due, and no flush is pending): true once
  // until take().
  bool want_flush() {
    if (posted_ || !ready()) return false;
    posted_ = true;
    return true;
  }
  // The flush: the acknowledgements to send once the save the session pushes now is committed;
  // nullptr when there is nothing to save for yet (a save uncommitted, a publish being handed
  // over: want_flush() says again when).
  std::shared_ptr<Held> take() {
    posted_ = false;
    if (!ready()) return nullptr;
    in_flight_ = true;
    return std::move(held_);
  }
  // The save of the last take() is committed (or failed): the next may go. True when
  // acknowledgements wait for it: flush.
  bool committed() {
    in_flight_ = false;
    return want_flush();
  }
  // A save of the gate is pushed and not yet committed.
  bool saving() const { return in_flight_; }

 private:
  Held& group(bool publish_ack) {
    if (!held_) held_ = std::make_shared<Held>();
    held_->orders_publishes = held_->orders_publishes || publish_ack;
    return *held_;
  }
  bool ready() const { return held_ && !in_flight_ && !publishing_; }

  std::shared_ptr<Held> held_;
  bool posted_ = false;      // a flush is due (want_flush() said so), take() not yet called
  bool in_flight_ = false;   // a save taken is not yet committed
  bool publishing_ = false;  // a record is being handed to the data writer
};

}  // namespace plugmq::net
