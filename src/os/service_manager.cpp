#include "plugmq/os/service_manager.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdint>

namespace plugmq::os {

namespace {

void notify(const std::string& state) {
  // A failure to reach the manager changes nothing for the server: systemd then times the
  // start out and says why in its journal.
  (void)sd_notify(0, state.c_str());
}

std::uint64_t monotonic_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

}  // namespace

void notify_ready(const std::string& status) { notify("READY=1\nSTATUS=" + status); }

// MONOTONIC_USEC is what systemd 253+ wants with RELOADING=1 (Type=notify-reload); older
// managers ignore it.
void notify_reloading() {
  notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_us()));
}

void notify_stopping() { notify("STOPPING=1\nSTATUS=stopping"); }

}  // namespace plugmq::os
