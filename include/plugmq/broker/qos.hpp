// The QoS 1/2 state of one session [MQTT-4.3]: the messages it sends, with their packet ids and
// the acknowledgements they wait for, and the packet ids of QoS 2 messages it received whose
// PUBREL has not come yet. broker::Connection holds them (made with the first QoS 1/2 message,
// dropped once nothing is pending); a resumed persistent session restores its in-flight entries
// (OutboundWindow::restore) with their packet ids, and its inbound QoS 2 ids awaiting PUBREL.
//
// Not thread-safe: one connection's thread uses them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace plugmq::broker {

// A message for one client at QoS 1 or 2: its PUBLISH encoded once at QoS 0 and shared with its
// other subscribers (codec::encode_publish_as makes this client's form, with its packet id),
// and the QoS it is delivered at: min(publish QoS, granted QoS) [MQTT-3.8.4-6]. A persistent
// session's messages carry their record's position in the store (`seq`, store::DataStore), which
// it saves with its in-flight entries; 0 for a clean session's.
struct Outgoing {
  std::shared_ptr<const std::string> packet;
  std::uint8_t qos = 1;
  std::int64_t seq = 0;
};

// A FIFO over a vector: O(1) at both ends, and taking from the front does not move the rest.
// Allocates nothing until used.
template <class T>
class Fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  T& operator[](std::size_t i) { return items_[head_ + i]; }
  const T& operator[](std::size_t i) const { return items_[head_ + i]; }
  T& front() { return items_[head_]; }
  void push_back(T v) { items_.push_back(std::move(v)); }
  T take_front() {
    T v = std::move(items_[head_++]);
    compact();
    return v;
  }
  // Removes the i-th from the front (O(1) for the front, else O(size)).
  void erase(std::size_t i) {
    if (i == 0) {
      take_front();
      return;
    }
    items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(head_ + i));
  }

 private:
  void compact() {
    if (head_ == items_.size()) {
      items_.clear();
      head_ = 0;
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  std::vector<T> items_;
  std::size_t head_ = 0;
};

// The QoS 1/2 messages a session sends: at most `max` unacknowledged (the in-flight window),
// each with a packet id of its own (1..65535, none used twice at a time [MQTT-2.3.1-2]); the
// others wait, in the order they came, for a place. Messages are sent in that order too, so the
// client receives them in the order the server accepted them [MQTT-4.6.0-2, -3].
class OutboundWindow {
 public:
  // What an in-flight message waits for.
  enum class Stage : std::uint8_t {
    kPuback,   // QoS 1, sent
    kPubrec,   // QoS 2, sent
    kPubcomp,  // QoS 2, PUBREC in and PUBREL sent
  };
  struct InFlight {
    std::shared_ptr<const std::string> packet;  // let go at PUBREC: the client has it
    std::int64_t seq = 0;                       // the record's position (Outgoing::seq)
    std::uint64_t nth = 0;  // ids given when this one was; 0: restored (restore())
    std::uint16_t id = 0;
    std::uint8_t qos = 1;
    Stage stage = Stage::kPuback;
  };

  void push(Outgoing m) { waiting_.push_back(std::move(m)); }

  // A resumed session's message in flight before, with its packet id and stage, behind those
  // restored before it: sent again by the caller [MQTT-4.4.0-1]. Its packet may be null at
  // kPubcomp. Ids given later skip the restored ones still in use.
  // REQUIRES: `f.id` in 1..65535 and not in flight.
  void restore(InFlight f);

  // Moves the first waiting message into the window when it holds fewer than `max` (and no
  // more than 65,535), giving it the next free packet id; nullptr when none moved. The result
  // is valid until the next call.
  const InFlight* send_next(std::size_t max);

  // The client's acknowledgements. Each returns nothing for a packet id that waits for no such
  // acknowledgement (unknown, or at another stage), which changes nothing.
  // PUBACK: a QoS 1 message is done; its packet's size.
  std::optional<std::size_t> on_puback(std::uint16_t id);
  // PUBREC: a QoS 2 message was received; its packet's size the first time, 0 for a PUBREC
  // repeated while its PUBCOMP is awaited. Either way a PUBREL is due.
  std::optional<std::size_t> on_pubrec(std::uint16_t id);
  // PUBCOMP: a QoS 2 message whose PUBREL was sent is done.
  bool on_pubcomp(std::uint16_t id);

  std::size_t in_flight() const { return window_.size(); }
  std::size_t waiting() const { return waiting_.size(); }
  bool empty() const { return window_.empty() && waiting_.empty(); }
  // The in-flight messages, oldest first (for a session that is resumed later).
  const InFlight& in_flight_at(std::size_t i) const { return window_[i]; }
  // The position of the first message waiting for a place; nothing when none waits.
  std::optional<std::int64_t> first_waiting_seq() const {
    if (waiting_.empty()) return std::nullopt;
    return waiting_[0].seq;
  }

 private:
  // Takes the entry at `i` out of the window.
  void erase_at(std::size_t i);
  // The position of `id` in the window; nothing when it is not there.
  std::optional<std::size_t> find(std::uint16_t id) const;
  std::uint16_t next_free_id();
  std::uint16_t take_id();  // the next id round, in use or not

  Fifo<InFlight> window_;  // in the order sent
  Fifo<Outgoing> waiting_;
  std::uint64_t ids_given_ = 0;
  std::size_t restored_ = 0;  // restored entries in the window: ids are not given in turn
  std::uint16_t next_id_ = 1;
};

// Packet ids, kept sorted: the QoS 2 messages received whose PUBREC was promised and whose
// PUBREL has not come [MQTT-4.3.3-2]. At most 65,535 ids (128 KiB) by construction.
class PacketIdSet {
 public:
  // False when `id` was held already.
  bool insert(std::uint16_t id);
  // False when `id` was not held.
  bool erase(std::uint16_t id);
  bool contains(std::uint16_t id) const;
  std::size_t size() const { return ids_.size(); }
  bool empty() const { return ids_.empty(); }
  // The ids held, ascending.
  const std::vector<std::uint16_t>& ids() const { return ids_; }

 private:
  std::vector<std::uint16_t> ids_;
};

// One session's QoS 1/2 state.
struct QosState {
  OutboundWindow outbound;
  PacketIdSet awaiting_pubrel;  // inbound QoS 2
  bool idle() const { return outbound.empty() && awaiting_pubrel.empty(); }
};

}  // namespace plugmq::broker
