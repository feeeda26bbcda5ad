// The `http` and `https` listeners of the REST API (SPEC 10): Boost.Beast on the MQTT server's
// io threads, with its TLS context (a SIGHUP reload applies to both protocols).
//
// One coroutine per connection: keep-alive, a request read within http.request_timeout once it
// started, an idle keep-alive connection closed after http.idle_timeout, bodies over
// http.max_body_bytes answered 413 (without reading them when the client asked
// "Expect: 100-continue"). Connections count against limits.max_connections with the MQTT
// ones, and end with the server (service::SessionSet). A request to /mqtt is MQTT over
// WebSocket (SPEC 12): the handshake is answered (websocket_upgrade.hpp) and the connection
// handed to the MQTT server (Host::start_mqtt), without the HTTP timeouts, as the same one
// connection; or the refusal is sent and the connection ends.
//
// start() binds; stop() closes the listeners (the server's stop() then ends the connections).
// Both from the thread that owns the Listener.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "plugmq/http/host.hpp"

namespace plugmq::http {

class Listener {
 public:
  // REQUIRES: the host outlives this listener.
  explicit Listener(Host& host);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds `http` (unless http.listen is off) and `https` (when TLS is configured and
  // https.listen is not off) and starts accepting. Throws std::system_error naming the
  // listener. REQUIRES: server.start() ran.
  void start();
  // Stops accepting; waits until the accept loops have ended. Idempotent.
  void stop();

  std::optional<std::uint16_t> http_port() const { return http_port_; }
  std::optional<std::uint16_t> https_port() const { return https_port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::optional<std::uint16_t> http_port_, https_port_;
};

}  // namespace plugmq::http
