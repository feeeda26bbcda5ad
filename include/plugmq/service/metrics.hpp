// What the server counts for GET /metrics (SPEC 12), beside the store's own figures
// (DataWriter::written, commit_seconds, backlog): per-message counts in per-thread shards
// (base/sharded_counters.hpp: a publish or a delivery adds to memory no other thread writes),
// and open connections per listener. http/metrics.cpp turns them into the Prometheus model.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "plugmq/base/sharded_counters.hpp"

namespace plugmq::service {

// Where a connection came in (plugmq_connections{listener}).
enum class Listener : std::uint8_t { kMqtt, kMqtts, kHttp, kHttps, kWs, kWss };
inline constexpr std::size_t kListeners = 6;
const char* listener_name(Listener l);

class Metrics {
 public:
  enum Count : std::size_t {
    kReceived,       // data publishes accepted (MQTT and HTTP), before storing
    kDelivered0,     // PUBLISH packets written to subscribers, by QoS
    kDelivered1,
    kDelivered2,
    kDroppedDenied,  // publishes dropped: no write permission, no such device
    kDroppedBinary,  // ... a payload that is not UTF-8
    kDroppedTopic,   // ... a topic plugmq does not store
    kDroppedUnknownId,  // ... an "id" that names no record to update
    kDroppedQueue,   // deliveries lost to a subscriber's full queue
    kBytesIn,        // MQTT bytes read and written (every listener)
    kBytesOut,
    kCounts
  };

  void add(Count c, std::uint64_t n = 1) noexcept { counts_.add(c, n); }
  std::uint64_t total(Count c) const { return counts_.sum(c); }

  // HTTP responses by status (plugmq_http_requests_total{code}): the statuses the API answers,
  // and one slot for any other.
  static constexpr std::array<int, 16> kHttpCodes = {101, 200, 201, 202, 204, 301, 400, 401,
                                                     403, 404, 405, 408, 413, 429, 500, 503};
  void http_response(int status) noexcept;
  std::uint64_t http_responses(std::size_t code_index) const { return http_.sum(code_index); }
  std::uint64_t http_other_responses() const { return http_.sum(kHttpCodes.size()); }

  // Connections open now, per listener.
  void opened(Listener l) noexcept { open_[static_cast<std::size_t>(l)].fetch_add(1); }
  void closed(Listener l) noexcept { open_[static_cast<std::size_t>(l)].fetch_sub(1); }
  std::int64_t open(Listener l) const { return open_[static_cast<std::size_t>(l)].load(); }

 private:
  base::ShardedCounters<kCounts> counts_;
  base::ShardedCounters<kHttpCodes.size() + 1> http_;
  std::array<std::atomic<std::int64_t>, kListeners> open_{};
};

}  // namespace plugmq::service
