#include "plugmq/os/process_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace plugmq::os {

namespace {

// The boot time, from /proc/stat's btime line.
std::optional<double> boot_time() {
  std::ifstream in("/proc/stat");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return std::nullopt;
}

std::uint64_t count_fds() {
  std::error_code ec;
  std::uint64_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return n > 0 ? n - 1 : 0;  // the directory's own descriptor, open while it is listed
}

}  // namespace

std::optional<ProcessStats> parse_proc_stat(std::string_view line, long ticks_per_second,
                                            long page_size, double boot) {
  // "PID (COMM) STATE ...": COMM may hold spaces and parentheses, so fields count from the last
  // ')'. After it, field 3 (state) is index 0: utime is field 14, stime 15, starttime 22,
  // vsize 23, rss 24.
  const auto close = line.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::vector<std::string_view> fields;
  std::string_view rest = line.substr(close + 1);
  while (!rest.empty()) {
    const auto start = rest.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const auto end = std::min(rest.find(' '), rest.size());
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  auto field = [&](int n) -> std::optional<std::uint64_t> {
    const std::size_t i = static_cast<std::size_t>(n - 3);
    if (i >= fields.size()) return std::nullopt;
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(fields[i].data(), fields[i].data() + fields[i].size(), v);
    if (ec != std::errc{} || p != fields[i].data() + fields[i].size()) return std::nullopt;
    return v;
  };
  const auto utime = field(14), stime = field(15), start = field(22), vsize = field(23),
             rss = field(24);
  if (!utime || !stime || !start || !vsize || !rss) return std::nullopt;
  ProcessStats s;
  const auto ticks = static_cast<double>(ticks_per_second);
  s.cpu_seconds = static_cast<double>(*utime + *stime) / ticks;
  s.start_time_seconds = boot + static_cast<double>(*start) / ticks;
  s.virtual_bytes = *vsize;
  s.resident_bytes = *rss * static_cast<std::uint64_t>(page_size);
  return s;
}

std::optional<ProcessStats> process_stats() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  const auto boot = boot_time();
  if (!std::getline(in, line) || !boot) return std::nullopt;
  auto s = parse_proc_stat(line, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), *boot);
  if (!s) return std::nullopt;
  s->open_fds = count_fds();
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) s->max_fds = limit.rlim_cur;
  return s;
}

}  // namespace plugmq::os
