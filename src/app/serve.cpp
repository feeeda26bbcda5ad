#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "plugmq/app/commands.hpp"
#include "plugmq/app/config.hpp"
#include "plugmq/http/listener.hpp"
#include "plugmq/net/server.hpp"

namespace plugmq::app {

namespace {

// Every connection is a file descriptor: use all the process may have.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
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

// SIGHUP: the TLS certificate and key are loaded again; a failure keeps the old ones and the
// server keeps serving.
void reload_tls(net::Server& server, const net::TlsOptions& tls) {
  if (!tls.enabled()) {
    spdlog::info("SIGHUP received: no TLS certificate configured, nothing to reload");
    return;
  }
  try {
    server.reload_tls();
    spdlog::info("TLS certificate reloaded ({}, {})", tls.cert.string(), tls.key.string());
  } catch (const std::exception& e) {
    spdlog::error("TLS certificate not reloaded, keeping the previous one: {}", e.what());
  }
}

}  // namespace

int cmd_serve(const Args& args) {
  if (!args.positional.empty()) {
    throw UsageError("unexpected argument '" + args.positional[0] + "'");
  }
  Config config = serve_config(args);
  const net::ServerOptions& options = config.server;
  if (options.mqtts.enabled()) {
    try {
      net::Server::check_tls(options.mqtts);
    } catch (const std::exception& e) {
      throw ConfigError(e.what());
    }
  }
  if (args.flags.count("check-config")) {
    if (args.flags.count("json")) {
      config.data_dir = options.data_dir;
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

  auto logger = spdlog::stderr_color_mt("plugmq");
  spdlog::set_default_logger(logger);
  spdlog::set_level(*parse_log_level(config.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  // From here on these signals are queued for the loop below, SIGHUP included: its default
  // action would end the process.
  boost::asio::io_context signals_ctx(1);
  boost::asio::signal_set signals(signals_ctx, SIGINT, SIGTERM, SIGHUP);
  signal(SIGPIPE, SIG_IGN);

  ensure_dir(options.data_dir);
  raise_fd_limit();
  spdlog::info("plugmq {} starting; data directory {}{}", PLUGMQ_VERSION,
               std::filesystem::absolute(options.data_dir).string(),
               config.source.empty() ? "" : "; configuration " + config.source);

  net::Server server(options);
  // The REST API runs on the server's io threads, context and TLS context (SPEC 10).
  http::Listener api(server);
  try {
    server.start();
    api.start();
  } catch (const std::system_error& e) {
    spdlog::critical("{}", e.what());
    api.stop();
    server.stop();
    return 1;
  }
  if (auto rf = args.get("ready-file")) write_ready_file(*rf, server, api);

  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          reload_tls(server, options.mqtts);
          signals.async_wait(on_signal);
          return;
        }
        spdlog::info("signal {} received", sig);
      };
  signals.async_wait(on_signal);
  signals_ctx.run();
  api.stop();
  server.stop();
  return 0;
}

}  // namespace plugmq::app
