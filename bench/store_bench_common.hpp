// What store_bench and replay_bench share: their command-line reading, the clock, and the
// fleet they store records for (1,000 devices' Plug-IDs, ten named channels).
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace plugmq::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The value after --NAME, else `fallback`.
inline long long arg(int argc, char** argv, const std::string& name, long long fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return std::atoll(argv[i + 1]);
  }
  return fallback;
}

inline std::string arg_text(int argc, char** argv, const std::string& name,
                            std::string fallback = {}) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

inline bool flag(int argc, char** argv, const std::string& name) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i] == "--" + name) return true;
  }
  return false;
}

constexpr int kDevices = 1000;
inline const char* const kChannels[] = {"sensor/temp", "sensor/hum",  "sensor/press",
                                        "sensor/light", "sensor/co2", "power/volt",
                                        "power/amp",   "power/watt", "state/door",
                                        "state/alarm"};
constexpr int kNamedChannels = sizeof kChannels / sizeof kChannels[0];

// Device i's Plug-ID.
inline std::string device_id(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "dev-%024x", 0x65000000 + i);
  return buf;
}

}  // namespace plugmq::bench
