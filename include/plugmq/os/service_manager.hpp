// Telling the service manager where the server stands (systemd's sd_notify protocol, for a unit
// with Type=notify): ready once every listener is bound (and again after a SIGHUP's reload),
// reloading while SIGHUP is applied, stopping once the shutdown begins. Outside systemd (no NOTIFY_SOCKET) each call does nothing.
#pragma once

#include <string>

namespace plugmq::os {

// READY=1 with `status`: at start, and at the end of a reload.
void notify_ready(const std::string& status);
void notify_reloading();
void notify_stopping();

}  // namespace plugmq::os
