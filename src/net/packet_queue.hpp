// A session's outgoing FIFO of shared, once-encoded packets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace plugmq::net {

// Unlike std::deque it allocates nothing until used and gives its memory back when drained, so
// an idle connection costs nothing here. Not thread-safe: the session guards it (mu_).
class PacketQueue {
 public:
  using Packet = std::shared_ptr<const std::string>;

  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  void push_back(Packet p) { items_.push_back(std::move(p)); }
  Packet take_front() {
    Packet p = std::move(items_[head_++]);
    if (head_ == items_.size()) {
      release();
    } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
      // Drop the taken prefix: amortized O(1), and a queue that never quite drains does not
      // keep growing.
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
    return p;
  }
  void release() {
    std::vector<Packet>().swap(items_);
    head_ = 0;
  }

 private:
  std::vector<Packet> items_;
  // Packets taken from the front (a queue holds at most limits.queue_max_messages, 10,000,000,
  // plus the session's own replies).
  std::uint32_t head_ = 0;
};

}  // namespace plugmq::net
