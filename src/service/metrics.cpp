#include "plugmq/service/metrics.hpp"

#include <algorithm>

namespace plugmq::service {

const char* listener_name(Listener l) {
  switch (l) {
    case Listener::kMqtt: return "mqtt";
    case Listener::kMqtts: return "mqtts";
    case Listener::kHttp: return "http";
    case Listener::kHttps: return "https";
    case Listener::kWs: return "ws";
    case Listener::kWss: return "wss";
  }
  return "?";
}

void Metrics::http_response(int status) noexcept {
  const auto it = std::find(kHttpCodes.begin(), kHttpCodes.end(), status);
  http_.add(static_cast<std::size_t>(it - kHttpCodes.begin()));  // end: the "other" slot
}

}  // namespace plugmq::service
