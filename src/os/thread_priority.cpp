#include "plugmq/os/thread_priority.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <string>

namespace plugmq::os {

namespace {

constexpr int kBackgroundSteps = 10;
constexpr int kCapSysNice = 23;  // linux/capability.h

// Whether this process may set a thread's nice value to `nice` when it is higher now.
bool may_lower_nice_to(int nice) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NICE, &limit) == 0 &&
      (limit.rlim_cur == RLIM_INFINITY || nice_within_limit(nice, limit.rlim_cur))) {
    return true;
  }
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    try {
      const unsigned long long caps = std::stoull(line.substr(7), nullptr, 16);
      return (caps >> kCapSysNice) & 1;
    } catch (const std::exception&) {
      return false;
    }
  }
  return false;
}

}  // namespace

bool nice_within_limit(int nice, unsigned long long rlimit_nice) {
  // RLIMIT_NICE holds 20 minus the lowest nice value a thread may take without CAP_SYS_NICE.
  return nice >= -20 && nice <= 19 && static_cast<unsigned long long>(20 - nice) <= rlimit_nice;
}

ThreadPriority::ThreadPriority() : tid_(gettid()) {
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(tid_));
  if (errno != 0) return;
  base_ = nice;
  usable_ = base_ < 19 && may_lower_nice_to(base_);
}

bool ThreadPriority::set_background(bool background) {
  if (background == background_) return true;
  if (!usable_) return false;
  const int nice = background ? std::min(base_ + kBackgroundSteps, 19) : base_;
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(tid_), nice) != 0) {
    // A refused return leaves the thread lowered; it is not moved again (the caller reports
    // it: background() stays true).
    if (!background) usable_ = false;
    return false;
  }
  background_ = background;
  return true;
}

}  // namespace plugmq::os
