// What one QoS 1 delivery's PUBLISH costs a subscriber's thread, encoded two ways (decision
// 015), with a QoS 0 delivery for scale:
//
//   qos0   the shared, once-encoded packet queued as it is (today's QoS 0 path);
//   copy   the subscriber's own copy, made as it enters the in-flight window
//          (codec::encode_publish_as into a new shared string), then queued and written like
//          any packet;
//   patch  the shared QoS 0 packet queued with the packet id, and the header and id patched in
//          at write time: each queue entry carries its 5-byte header and 2-byte id, and the
//          write gathers header, topic, id and payload as four buffers.
//
// Each delivery is queued, then taken in batches of 64 into an iovec array as the write loop
// does, and released; no system call is made, so the figures are the encoding's own cost.
//
//   qos_encoding_bench [--deliveries N] [--rounds R]
#include <sys/uio.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "plugmq/codec/codec.hpp"

namespace {

using Packet = std::shared_ptr<const std::string>;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kBatch = 64;  // net::Session's kMaxWriteBatch

// Keeps the optimizer from dropping the work.
std::size_t g_sink = 0;

Packet shared_packet(std::size_t payload) {
  plugmq::codec::Publish p;
  p.topic = "dev-0123456789abcdef01234567/data/temperature";
  p.payload.assign(payload, 'x');
  return std::make_shared<const std::string>(plugmq::codec::encode(p));
}

double qos0(const Packet& shared, std::size_t n) {
  std::vector<Packet> queue;
  queue.reserve(kBatch);
  iovec iov[kBatch];
  const auto start = Clock::now();
  for (std::size_t i = 0; i < n; i += kBatch) {
    for (std::size_t j = 0; j < kBatch; ++j) queue.push_back(shared);
    for (std::size_t j = 0; j < queue.size(); ++j) {
      iov[j] = {const_cast<char*>(queue[j]->data()), queue[j]->size()};
    }
    g_sink += iov[kBatch - 1].iov_len;
    queue.clear();
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;
}

double copy(const Packet& shared, std::size_t n) {
  std::vector<Packet> queue;
  queue.reserve(kBatch);
  iovec iov[kBatch];
  std::uint16_t id = 1;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < n; i += kBatch) {
    for (std::size_t j = 0; j < kBatch; ++j) {
      auto bytes = std::make_shared<std::string>();
      plugmq::codec::encode_publish_as(*shared, 1, id++, false, *bytes);
      queue.push_back(std::move(bytes));
    }
    for (std::size_t j = 0; j < queue.size(); ++j) {
      iov[j] = {const_cast<char*>(queue[j]->data()), queue[j]->size()};
    }
    g_sink += iov[kBatch - 1].iov_len;
    queue.clear();
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;
}

// A queue entry of the patching design: the shared packet, where its topic ends, and the
// bytes that differ for this subscriber.
struct Patched {
  Packet packet;
  std::uint32_t topic_at = 0;   // offset of the topic (its length first) in *packet
  std::uint32_t topic_end = 0;  // offset of the payload
  std::uint8_t head_len = 0;    // 2..5: the fixed header
  std::uint8_t head[5] = {};
  std::uint8_t id[2] = {};
};

Patched patch_entry(const Packet& shared, std::uint16_t id) {
  // The QoS 0 packet's fixed header and topic length (as codec::encode_publish_as reads them).
  const auto* b = reinterpret_cast<const std::uint8_t*>(shared->data());
  std::size_t at = 1, remaining = 0;
  for (unsigned shift = 0;; shift += 7) {
    remaining |= std::size_t{b[at] & 0x7Fu} << shift;
    if ((b[at++] & 0x80) == 0) break;
  }
  Patched e;
  e.packet = shared;
  e.topic_at = static_cast<std::uint32_t>(at);
  e.topic_end = static_cast<std::uint32_t>(at + 2 + ((b[at] << 8) | b[at + 1]));
  e.head[0] = static_cast<std::uint8_t>(b[0] | 0x02);
  std::uint8_t len[4];
  const std::size_t n = plugmq::codec::encode_remaining_length(remaining + 2, len);
  std::memcpy(e.head + 1, len, n);
  e.head_len = static_cast<std::uint8_t>(1 + n);
  e.id[0] = static_cast<std::uint8_t>(id >> 8);
  e.id[1] = static_cast<std::uint8_t>(id & 0xFF);
  return e;
}

double patch(const Packet& shared, std::size_t n) {
  std::vector<Patched> queue;
  queue.reserve(kBatch);
  iovec iov[4 * kBatch];
  std::uint16_t id = 1;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < n; i += kBatch) {
    for (std::size_t j = 0; j < kBatch; ++j) queue.push_back(patch_entry(shared, id++));
    std::size_t k = 0;
    for (auto& e : queue) {
      const char* p = e.packet->data();
      iov[k++] = {e.head, e.head_len};
      iov[k++] = {const_cast<char*>(p + e.topic_at), e.topic_end - e.topic_at};
      iov[k++] = {e.id, 2};
      iov[k++] = {const_cast<char*>(p + e.topic_end), e.packet->size() - e.topic_end};
    }
    g_sink += iov[k - 1].iov_len;
    queue.clear();
  }
  return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t deliveries = 2'000'000;
  int rounds = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--deliveries") == 0) deliveries = std::strtoul(argv[i + 1], 0, 10);
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
  }
  deliveries = std::max(deliveries / kBatch, std::size_t{1}) * kBatch;
  std::printf("%-10s %10s %10s %10s %10s\n", "payload", "qos0 ns", "copy ns", "patch ns",
              "copy-patch");
  for (std::size_t payload : {64, 200, 1024, 16 * 1024, 256 * 1024}) {
    const Packet shared = shared_packet(payload);
    // Large packets: fewer deliveries, the same bytes at most.
    const std::size_t n = std::max<std::size_t>(
        kBatch, std::min(deliveries, (std::size_t{1} << 31) / shared->size()) / kBatch * kBatch);
    std::vector<double> a, b, c;
    for (int r = 0; r < rounds; ++r) {
      a.push_back(qos0(shared, n));
      b.push_back(copy(shared, n));
      c.push_back(patch(shared, n));
    }
    std::printf("%-10zu %10.1f %10.1f %10.1f %10.1f\n", payload, median(a), median(b), median(c),
                median(b) - median(c));
  }
  return g_sink == 42 ? 1 : 0;
}
