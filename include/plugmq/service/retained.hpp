// The retained messages a new subscription receives (SPEC 11, [MQTT-3.3.1-6, -8]).
//
// Setting and removing a topic's retained message is the publish path's (publish_record copies
// Envelope::retain into the record, which the store makes its topic's retained message, or with
// data "" removes it: store::DataStore::insert). Sending them is here: a SUBSCRIBE's granted
// filters are collected (RetainedSender::add, called by the session for each
// broker::Actions::send_retained), and once its SUBACK is queued the session calls send_some()
// until it returns true. The messages are read on the StoreExecutor's reader threads, never on
// an io thread, a turn of filters at a time, and handed to the session like any delivery
// (LiveSession::deliver: the read check, the queue limits, QoS 1/2 through the in-flight
// window), encoded with RETAIN 1.
//
// Not thread-safe: one session's thread uses one.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "plugmq/platform/payload.hpp"
#include "plugmq/platform/permissions.hpp"
#include "plugmq/service/context.hpp"

namespace plugmq::service {

// Whether `filter` (a valid MQTT filter) can match a data topic P/data/CHANNEL: only those
// can have retained messages.
bool may_match_data_topic(std::string_view filter);

// Waits until everything queued to the data writer before the call is committed
// (DataWriter::push_done): a read begun afterwards sees every record the server accepted
// before it, such as a retained publish that came just before a SUBSCRIBE.
boost::asio::awaitable<void> stored_so_far(Context& ctx);

// The retained messages due to one SUBSCRIBE's filters, sent in turns.
class RetainedSender {
 public:
  // Filters read together, in one store read.
  static constexpr std::size_t kFiltersPerRead = 64;
  // Messages handed to the session per send_some() call.
  static constexpr std::size_t kMessagesPerTurn = 256;

  // `filter` (a valid filter) was granted at `qos`. Each filter is sent once per SUBSCRIBE, at
  // the QoS granted to it last; one that cannot match a data topic is left out.
  void add(std::string_view filter, std::uint8_t qos);
  // Nothing to send (any more).
  bool empty() const { return next_ == asks_.size() && next_record_ == records_.size(); }

  // One turn: the first call waits for stored_so_far(); then reads the next filters' retained
  // messages of who.account_id (on a reader thread) when none is left from the last read, and
  // hands up to kMessagesPerTurn of them to `to`, oldest first, with RETAIN 1, at min(the
  // record's QoS, the highest QoS granted to this read's filters that match it). `to` checks
  // the read permission as for any delivery. True when all are sent.
  // REQUIRES: `who` and `to` outlive the await.
  boost::asio::awaitable<bool> send_some(Context& ctx, const platform::Principal& who,
                                         LiveSession& to);

 private:
  struct Ask {
    std::string filter;
    std::uint8_t qos;
  };
  // Hands records_[next_record_...] to `to`, at most kMessagesPerTurn.
  boost::asio::awaitable<void> deliver_some(Context& ctx, const platform::Principal& who,
                                            LiveSession& to);
  // The highest QoS the current read's filters grant to `topic`.
  std::uint8_t granted(std::string_view topic) const;

  std::vector<Ask> asks_;                               // in the order first asked
  std::unordered_map<std::string, std::size_t> index_;  // filter -> its place in asks_
  std::size_t next_ = 0;                                // asks_[next_...] are not read yet
  std::size_t read_from_ = 0;                           // asks_[read_from_, next_) made records_
  std::vector<platform::Record> records_;               // the last read's
  std::size_t next_record_ = 0;
  bool waited_ = false;  // stored_so_far() is behind us
};

}  // namespace plugmq::service
