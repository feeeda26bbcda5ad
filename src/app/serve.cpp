#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "data_dir.hpp"
#include "reload.hpp"
#include "plugmq/app/commands.hpp"
#include "plugmq/app/config.hpp"
#include "plugmq/http/listener.hpp"
#include "plugmq/net/server.hpp"
#include "plugmq/os/fd_limit.hpp"
#include "plugmq/os/service_manager.hpp"

namespace plugmq::app {

namespace {

// A connection the HTTP listener upgraded to MQTT over WebSocket goes to the MQTT server as it
// is: both modules name the same stream types.
static_assert(std::is_same_v<http::WsStream, net::WsStream>);
static_assert(std::is_same_v<http::WssStream, net::WssStream>);

// The HTTP listeners run on the MQTT server's io threads, context and TLS context (SPEC 10), and
// hand the connections upgraded to MQTT over WebSocket to its sessions (SPEC 12).
class ServerHost final : public http::Host {
 public:
  explicit ServerHost(net::Server& server) : server_(server) {}

  service::Context& context() override { return server_.context(); }
  boost::asio::io_context& acceptor_context() override { return server_.acceptor_context(); }
  boost::asio::io_context& next_context() override { return server_.next_context(); }
  std::shared_ptr<boost::asio::ssl::context> tls_context() override {
    return server_.tls_context();
  }
  std::uint16_t listen(boost::asio::ip::tcp::acceptor& acceptor, const char* name,
                       const service::Endpoint& ep) override {
    return net::Server::listen(acceptor, name, ep);
  }
  boost::asio::awaitable<void> accept_failed(boost::asio::ip::tcp::acceptor& acceptor,
                                             const boost::system::error_code& ec,
                                             const char* listener) override {
    return server_.accept_failed(acceptor, ec, listener);
  }
  void start_mqtt(http::WsStream stream, std::string peer) override {
    server_.start_websocket(std::move(stream), std::move(peer));
  }
  void start_mqtt(http::WssStream stream, std::string peer,
                  std::shared_ptr<const void> keep) override {
    server_.start_websocket(std::move(stream), std::move(peer), std::move(keep));
  }

 private:
  net::Server& server_;
};

std::string fd_count(std::uint64_t n) {
  return n == std::numeric_limits<std::uint64_t>::max() ? "unlimited" : std::to_string(n);
}

// Written atomically (temp file + rename) so a reader never sees half of it.
void write_ready_file(const std::string& path, const net::Server& server,
                      const http::Listener& api) {
  auto port = [](std::optional<std::uint16_t> p) {
    return p ? nlohmann::json(*p) : nlohmann::json(nullptr);
  };
  nlohmann::json j = {{"mqtt", server.mqtt_port()},
                      {"mqtts", port(server.mqtts_port())},
                      {"http", port(api.http_port())},
                      {"https", port(api.https_port())},
                      {"pid", getpid()}};
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump() << "\n";
    if (!out) throw std::runtime_error("--ready-file: cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("--ready-file: cannot rename " + tmp + " to " + path);
  }
}

// The certificate and key load and match, checked before anything starts (a configuration
// error).
void check_tls_files(const service::ServerOptions& options) {
  if (!options.mqtts.enabled()) return;
  try {
    net::Server::check_tls(options.mqtts);
  } catch (const std::exception& e) {
    throw ConfigError(e.what());
  }
}

// serve --check-config: the configuration was read and checked; with --json, the settings it
// gives.
int print_config_check(const Args& args, Config& config) {
  if (args.flags.count("json")) {
    config.data_dir = config.server.data_dir;
    nlohmann::ordered_json out;
    out["ok"] = true;
    out["source"] = config.source.empty() ? nlohmann::ordered_json(nullptr)
                                          : nlohmann::ordered_json(config.source);
    out["config"] = to_json(config);
    std::cout << out.dump() << "\n";
  } else {
    std::cout << "configuration OK\n";
  }
  return 0;
}

void start_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("plugmq");
  spdlog::set_default_logger(logger);
  spdlog::set_level(*parse_log_level(level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
}

// Starts the MQTT server and the HTTP API; false (said, and both stopped) when a listener
// cannot start.
bool start_listeners(net::Server& server, http::Listener& api) {
  try {
    server.start();
    api.start();
    return true;
  } catch (const std::system_error& e) {
    spdlog::critical("{}", e.what());
    api.stop();
    server.stop();
    return false;
  }
}

// What systemd shows in `systemctl status plugmq` once the server listens.
std::string listening_status(const net::Server& server, const http::Listener& api) {
  std::string s = "listening: mqtt " + std::to_string(server.mqtt_port());
  auto add = [&s](const char* name, std::optional<std::uint16_t> p) {
    if (p) s += std::string(", ") + name + " " + std::to_string(*p);
  };
  add("mqtts", server.mqtts_port());
  add("http", api.http_port());
  add("https", api.https_port());
  return s;
}

// SIGINT, SIGTERM and SIGHUP, queued from construction on for wait(), SIGHUP included: its
// default action would end the process.
class Signals {
 public:
  Signals() : set_(ctx_, SIGINT, SIGTERM, SIGHUP) {}

  // Returns at SIGINT or SIGTERM; a SIGHUP meanwhile is the reloader's (reload.hpp).
  void wait(Reloader& reloader) {
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int sig) {
          if (ec) return;
          if (sig == SIGHUP) {
            reloader.reload();
            set_.async_wait(on_signal);
            return;
          }
          spdlog::info("signal {} received", sig);
        };
    set_.async_wait(on_signal);
    ctx_.run();
  }

 private:
  boost::asio::io_context ctx_{1};
  boost::asio::signal_set set_;
};

}  // namespace

// Every connection is a file descriptor: the open-files limit goes up as far as max_connections
// needs, and where the hard limit stops it, max_connections comes down to what fits, said once.
// Past max_connections a connection is closed at once; past the limit it would hang.
void fit_connections_to_fd_limit(service::ServerOptions& options) {
  const std::uint64_t wanted = options.max_connections;
  const std::uint64_t reserve = net::Server::reserved_fds(options);
  const auto fit = os::fit_fd_limit(wanted, reserve);
  if (!fit) {
    spdlog::warn("cannot read the open-files limit (RLIMIT_NOFILE): {}", std::strerror(errno));
    return;
  }
  if (fit->soft != fit->before.soft) {
    spdlog::info("open-files limit (RLIMIT_NOFILE) raised from {} to {}",
                 fd_count(fit->before.soft), fd_count(fit->soft));
  }
  if (fit->max_connections >= wanted) return;
  options.max_connections = static_cast<std::size_t>(fit->max_connections);
  spdlog::warn(
      "the open-files limit (RLIMIT_NOFILE) is {} (hard limit {}), too low for "
      "limits.max_connections = {} (--max-connections) plus {} descriptors for the database, "
      "listeners and threads: using max_connections = {}. To allow {} connections, raise the "
      "limit to {}: LimitNOFILE= in the systemd unit, docker run --ulimit nofile=N:N, or "
      "ulimit -n N before plugmq serve",
      fd_count(fit->soft), fd_count(fit->before.hard), wanted, reserve, fit->max_connections,
      wanted, wanted + reserve);
}

int cmd_serve(const Args& args) {
  if (!args.positional.empty()) {
    throw UsageError("unexpected argument '" + args.positional[0] + "'");
  }
  Config config = serve_config(args);
  const service::ServerOptions& options = config.server;
  check_tls_files(options);
  if (args.flags.count("check-config")) return print_config_check(args, config);

  start_logging(config.log_level);
  Signals signals;
  signal(SIGPIPE, SIG_IGN);

  prepare_database(options.data_dir);
  DataDirLock lock(options.data_dir);
  spdlog::info("plugmq {} starting; data directory {}{}", PLUGMQ_VERSION,
               std::filesystem::absolute(options.data_dir).string(),
               config.source.empty() ? "" : "; configuration " + config.source);
  fit_connections_to_fd_limit(config.server);

  net::Server server(options);
  ServerHost host(server);
  http::Listener api(host);
  if (!start_listeners(server, api)) return 1;
  if (auto rf = args.get("ready-file")) write_ready_file(*rf, server, api);
  const std::string status = listening_status(server, api);
  os::notify_ready(status);

  Reloader reloader(args, config, server, status);
  signals.wait(reloader);
  os::notify_stopping();
  api.stop();
  server.stop();
  return 0;
}

}  // namespace plugmq::app
