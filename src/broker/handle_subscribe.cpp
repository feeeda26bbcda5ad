// SUBSCRIBE, UNSUBSCRIBE and leaving the router at the end, each in turns (kFiltersPerTurn).
#include <string>

#include "plugmq/broker/connection.hpp"

namespace plugmq::broker {

namespace {

// Counts the filters handled in the current turn.
class Turn {
 public:
  // Counts a filter of `bytes`; true when the turn is over.
  bool over_after(std::size_t bytes) {
    ++filters_;
    bytes_ += bytes;
    return filters_ >= Connection::kFiltersPerTurn || bytes_ >= Connection::kFilterBytesPerTurn;
  }

 private:
  std::size_t filters_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace

bool Connection::subscribe_some(codec::FilterCursor& at, codec::Suback& ack, Actions& out) {
  if (closing()) return true;
  Turn turn;
  while (!at.done()) {
    std::uint8_t qos;
    const std::string_view filter = at.next(qos);
    ack.return_codes.push_back(subscribe(filter, qos, out));
    if (turn.over_after(filter.size()) && !at.done()) return false;
  }
  out.send(ack);
  return true;
}

std::uint8_t Connection::subscribe(std::string_view filter, std::uint8_t qos, Actions& out) {
  if (!codec::valid_filter(filter)) return codec::kSubackFailure;
  // Permissions are applied per message at delivery (SPEC 4), so every valid filter is
  // granted, up to max_subscriptions, at the QoS asked for (the decoder refused QoS 3): each
  // message is delivered at min(its QoS, this) [MQTT-3.8.4-6].
  auto& x = extras();
  const std::size_t limit = out.limits().max_subscriptions;
  switch (x.filters.add(filter, qos, limit)) {
    case FilterSet::Added::kNew:
    case FilterSet::Added::kRegranted:  // the new QoS replaces the old [MQTT-3.8.4-3]
      out.route_add(filter, qos);
      out.send_retained(filter, qos);
      return qos;
    case FilterSet::Added::kHeld:
      out.send_retained(filter, qos);  // a subscription made again resends them [MQTT-3.8.4-3]
      return qos;
    case FilterSet::Added::kOverLimit:
      if (!std::exchange(x.limit_logged, true)) {
        out.log(LogLevel::kInfo, nullptr,
                std::to_string(x.filters.size()) +
                    " filters held (max_subscriptions); SUBACK 0x80 for further ones");
      }
      return codec::kSubackFailure;
  }
  return codec::kSubackFailure;  // unreachable
}

bool Connection::unsubscribe_some(codec::FilterCursor& at, std::uint16_t packet_id, Actions& out) {
  if (closing()) return true;
  Turn turn;
  while (!at.done()) {
    std::uint8_t qos;
    const std::string_view filter = at.next(qos);
    if (extras_ && extras_->filters.remove(filter)) out.route_remove(filter);
    if (turn.over_after(filter.size()) && !at.done()) return false;
  }
  out.send(codec::Unsuback{packet_id});
  return true;
}

bool Connection::leave_some(Actions& out) {
  Turn turn;
  while (extras_ && !extras_->filters.empty()) {
    const std::string filter = extras_->filters.take_one();
    out.route_remove(filter);
    if (turn.over_after(filter.size()) && !extras_->filters.empty()) return false;
  }
  if (claimed_) {
    claimed_ = false;
    out.release();
  }
  return true;
}

}  // namespace plugmq::broker
