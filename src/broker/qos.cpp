// A session's QoS 1/2 state: the outbound window with its packet ids, and the inbound QoS 2
// packet ids awaiting their PUBREL.
#include "plugmq/broker/qos.hpp"

#include <algorithm>

namespace plugmq::broker {

namespace {
constexpr std::size_t kPacketIds = 65535;  // 1..65535 [MQTT-2.3.1-1]
}  // namespace

std::optional<std::size_t> OutboundWindow::find(std::uint16_t id) const {
  // Acknowledgements mostly come in the order the messages were sent: the oldest is first.
  for (std::size_t i = 0; i < window_.size(); ++i) {
    if (window_[i].id == id) return i;
  }
  return std::nullopt;
}

std::uint16_t OutboundWindow::next_free_id() {
  // REQUIRES: fewer than kPacketIds in flight, so that one is free. The ids go round 1..65535:
  // the id given as the n-th comes round again as the (n + kPacketIds)-th. While the oldest
  // message in flight (the first) was given its id less than that long ago, the next id is
  // free: the common case costs nothing.
  // Restored messages hold ids out of turn: then too the ids in use are skipped.
  if (restored_ == 0 && (window_.empty() || ids_given_ + 1 < window_.front().nth + kPacketIds)) {
    return take_id();
  }
  // A message has stayed unacknowledged for a whole round: skip the ids still in use.
  std::vector<std::uint16_t> in_use;
  in_use.reserve(window_.size());
  for (std::size_t i = 0; i < window_.size(); ++i) in_use.push_back(window_[i].id);
  std::sort(in_use.begin(), in_use.end());
  for (;;) {
    const std::uint16_t id = take_id();
    if (!std::binary_search(in_use.begin(), in_use.end(), id)) return id;
  }
}

std::uint16_t OutboundWindow::take_id() {
  ++ids_given_;
  const std::uint16_t id = next_id_;
  next_id_ = next_id_ == kPacketIds ? 1 : static_cast<std::uint16_t>(next_id_ + 1);
  return id;
}

const OutboundWindow::InFlight* OutboundWindow::send_next(std::size_t max) {
  if (waiting_.empty() || window_.size() >= std::min(max, kPacketIds)) return nullptr;
  Outgoing m = waiting_.take_front();
  InFlight f;
  f.id = next_free_id();
  f.nth = ids_given_;
  f.seq = m.seq;
  f.qos = m.qos;
  f.stage = m.qos == 1 ? Stage::kPuback : Stage::kPubrec;
  f.packet = std::move(m.packet);
  window_.push_back(std::move(f));
  return &window_[window_.size() - 1];
}

void OutboundWindow::restore(InFlight f) {
  f.nth = 0;
  next_id_ = f.id == kPacketIds ? 1 : static_cast<std::uint16_t>(f.id + 1);
  window_.push_back(std::move(f));
  ++restored_;
}

void OutboundWindow::erase_at(std::size_t i) {
  if (window_[i].nth == 0) --restored_;
  window_.erase(i);
}

std::optional<std::size_t> OutboundWindow::on_puback(std::uint16_t id) {
  const auto at = find(id);
  if (!at || window_[*at].stage != Stage::kPuback) return std::nullopt;
  const std::size_t bytes = window_[*at].packet->size();
  erase_at(*at);
  return bytes;
}

std::optional<std::size_t> OutboundWindow::on_pubrec(std::uint16_t id) {
  const auto at = find(id);
  if (!at) return std::nullopt;
  InFlight& f = window_[*at];
  if (f.stage == Stage::kPubcomp) return 0;  // its PUBREL went astray: sent again
  if (f.stage != Stage::kPubrec) return std::nullopt;
  // The client owns the message now: it is never sent again [MQTT-4.3.3-1], only its id stays
  // in use until PUBCOMP.
  // A restored entry's packet may have been read again (it is at kPubrec).
  const std::size_t bytes = f.packet ? f.packet->size() : 0;
  f.packet.reset();
  f.stage = Stage::kPubcomp;
  return bytes;
}

bool OutboundWindow::on_pubcomp(std::uint16_t id) {
  const auto at = find(id);
  if (!at || window_[*at].stage != Stage::kPubcomp) return false;
  erase_at(*at);
  return true;
}

bool PacketIdSet::insert(std::uint16_t id) {
  // Ids mostly come in increasing order: then this appends.
  auto at = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (at != ids_.end() && *at == id) return false;
  ids_.insert(at, id);
  return true;
}

bool PacketIdSet::erase(std::uint16_t id) {
  auto at = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (at == ids_.end() || *at != id) return false;
  ids_.erase(at);
  if (ids_.empty() && ids_.capacity() > 64) std::vector<std::uint16_t>().swap(ids_);
  return true;
}

bool PacketIdSet::contains(std::uint16_t id) const {
  return std::binary_search(ids_.begin(), ids_.end(), id);
}

}  // namespace plugmq::broker
