// The process's open-files limit (RLIMIT_NOFILE) against the connections it is asked to hold:
// every connection is a file descriptor, and a server that runs out of them can neither accept
// nor open its database files.
#pragma once

#include <cstdint>
#include <optional>

namespace plugmq::os {

// RLIMIT_NOFILE; "unlimited" reads as UINT64_MAX.
struct FdLimit {
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
};

// What to do about the limit for `wanted` connections when `reserve` descriptors go to other
// things than connections.
struct FdPlan {
  std::uint64_t soft = 0;             // the soft limit to have (never lower than the current one)
  std::uint64_t max_connections = 0;  // the connections that fit under it, 1..wanted
  bool lowered(std::uint64_t wanted) const { return max_connections < wanted; }
};

// Pure: the soft limit goes up (to the hard limit at most) as far as wanted + reserve needs;
// the connections are what then fits, at least 1.
FdPlan plan_fd_limit(FdLimit current, std::uint64_t wanted, std::uint64_t reserve);

// The process's limit; nothing when it cannot be read.
std::optional<FdLimit> read_fd_limit();

// Sets the soft limit (the hard one stays); false when the system refuses.
bool set_fd_soft_limit(std::uint64_t soft, std::uint64_t hard);

// What fit_fd_limit found and did.
struct FdFit {
  FdLimit before;                     // the limit as the process started
  std::uint64_t soft = 0;             // the soft limit now
  std::uint64_t max_connections = 0;  // the connections that fit under it
};

// plan_fd_limit applied to this process: raises the soft limit as planned (keeping the old one
// when that is refused) and returns what fits. Nothing when the limit cannot be read.
std::optional<FdFit> fit_fd_limit(std::uint64_t wanted, std::uint64_t reserve);

// One descriptor held in reserve (on /dev/null) so that, when the process has run out, it can
// be given up for a moment to accept a pending connection and close it rather than leave it
// waiting in the listen queue. Not thread-safe: one thread uses it.
class SpareFd {
 public:
  SpareFd();  // holds one, if one can be opened
  ~SpareFd();
  SpareFd(const SpareFd&) = delete;
  SpareFd& operator=(const SpareFd&) = delete;

  bool held() const { return fd_ >= 0; }
  // Gives it up (if held).
  void release();
  // Takes one again; false when none can be opened.
  bool restore();

 private:
  int fd_ = -1;
};

}  // namespace plugmq::os
