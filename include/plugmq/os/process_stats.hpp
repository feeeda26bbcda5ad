// What Prometheus clients report about their process (the process_* metrics): CPU time,
// memory, file descriptors, start time. Read from /proc on each call.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace plugmq::os {

struct ProcessStats {
  double cpu_seconds = 0;             // user + system
  std::uint64_t resident_bytes = 0;   // RSS
  std::uint64_t virtual_bytes = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t max_fds = 0;          // RLIMIT_NOFILE's soft limit
  double start_time_seconds = 0;      // since the Unix epoch
};

// This process's; nothing when /proc cannot be read.
std::optional<ProcessStats> process_stats();

// The fields of a /proc/PID/stat line, given the system's clock ticks per second, page size and
// boot time (seconds since the epoch); open_fds and max_fds are left 0. Nothing when malformed.
// (The parsing part of process_stats, for tests.)
std::optional<ProcessStats> parse_proc_stat(std::string_view line, long ticks_per_second,
                                            long page_size, double boot_time);

}  // namespace plugmq::os
