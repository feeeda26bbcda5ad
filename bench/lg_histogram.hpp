// A log-linear latency histogram (HDR-like): 64 linear sub-buckets per power of two, so any
// recorded value is known to within 1/64 (1.6 %); fixed size (about 30 KB) whatever the count.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace lg {

class Histogram {
 public:
  void record(std::uint64_t v) {
    ++counts_[index(v)];
    ++count_;
    sum_ += v;
    if (v > max_) max_ = v;
  }

  void merge(const Histogram& o) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    if (o.max_ > max_) max_ = o.max_;
  }

  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }

  // The value at quantile q (0..1]: the middle of the bucket holding that rank, never above
  // the exact maximum.
  double quantile(double q) const {
    if (count_ == 0) return 0.0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_) + 0.999999);
    if (rank < 1) rank = 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        double mid = (static_cast<double>(lower(i)) + static_cast<double>(lower(i + 1))) / 2;
        return mid > static_cast<double>(max_) ? static_cast<double>(max_) : mid;
      }
    }
    return static_cast<double>(max_);
  }

 private:
  static constexpr int kSubBits = 6;
  static constexpr std::uint64_t kSub = 1u << kSubBits;
  static constexpr std::size_t kBuckets = (64 - kSubBits + 1) * kSub;

  static std::size_t index(std::uint64_t v) {
    if (v < kSub) return static_cast<std::size_t>(v);
    int e = 63 - std::countl_zero(v);  // >= kSubBits
    std::uint64_t sub = (v >> (e - kSubBits)) & (kSub - 1);
    return static_cast<std::size_t>((e - kSubBits + 1) * kSub + sub);
  }
  // The smallest value of bucket i.
  static std::uint64_t lower(std::size_t i) {
    if (i < kSub) return i;
    std::size_t e = i / kSub + kSubBits - 1;
    std::uint64_t sub = i % kSub;
    if (e >= 64) return UINT64_MAX;
    return (kSub + sub) << (e - kSubBits);
  }

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace lg
