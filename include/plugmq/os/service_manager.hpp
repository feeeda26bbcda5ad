// Telling the service manager where the server stands (systemd's sd_notify protocol, for a unit
// with Type=notify): ready once every listener is bound, reloading while SIGHUP is applied,
// stopping once the shutdown begins. Outside systemd (no NOTIFY_SOCKET) each call does nothing.
#pragma once

#include <string>

namespace plugmq::os {

void notify_ready(const std::string& status);
void notify_reloading();
void notify_reloaded(const std::string& status);
void notify_stopping();

}  // namespace plugmq::os
