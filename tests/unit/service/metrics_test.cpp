#include "plugmq/service/metrics.hpp"

#include <gtest/gtest.h>

#include <string>

namespace plugmq::service {
namespace {

TEST(Metrics, HttpResponsesByCodeAndTheRest) {
  Metrics m;
  m.http_response(200);
  m.http_response(200);
  m.http_response(404);
  m.http_response(418);
  const auto at = [](int code) {
    for (std::size_t i = 0; i < Metrics::kHttpCodes.size(); ++i) {
      if (Metrics::kHttpCodes[i] == code) return i;
    }
    return Metrics::kHttpCodes.size();
  };
  EXPECT_EQ(m.http_responses(at(200)), 2u);
  EXPECT_EQ(m.http_responses(at(404)), 1u);
  EXPECT_EQ(m.http_responses(at(500)), 0u);
  EXPECT_EQ(m.http_other_responses(), 1u);
}

TEST(Metrics, OpenConnectionsPerListener) {
  Metrics m;
  m.opened(Listener::kMqtt);
  m.opened(Listener::kMqtt);
  m.opened(Listener::kHttps);
  m.closed(Listener::kMqtt);
  EXPECT_EQ(m.open(Listener::kMqtt), 1);
  EXPECT_EQ(m.open(Listener::kHttps), 1);
  EXPECT_EQ(m.open(Listener::kWs), 0);
  EXPECT_EQ(std::string(listener_name(Listener::kWss)), "wss");
}

}  // namespace
}  // namespace plugmq::service
