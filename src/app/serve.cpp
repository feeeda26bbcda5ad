#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "plugmq/app/commands.hpp"
#include "plugmq/net/server.hpp"

namespace plugmq::app {

namespace {

net::Endpoint parse_endpoint(const std::string& flag, const std::string& text) {
  // ADDR:PORT, with IPv6 addresses in brackets: [::]:1883.
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw UsageError("--" + flag + " takes ADDR:PORT, got '" + text + "'");
  }
  net::Endpoint ep;
  ep.address = text.substr(0, colon);
  if (ep.address.size() >= 2 && ep.address.front() == '[' && ep.address.back() == ']') {
    ep.address = ep.address.substr(1, ep.address.size() - 2);
  }
  unsigned port = 0;
  auto ptext = std::string_view(text).substr(colon + 1);
  auto [end, ec] = std::from_chars(ptext.data(), ptext.data() + ptext.size(), port);
  if (ec != std::errc() || end != ptext.data() + ptext.size() || port > 65535) {
    throw UsageError("--" + flag + ": port must be 0..65535, got '" + std::string(ptext) + "'");
  }
  ep.port = static_cast<std::uint16_t>(port);
  return ep;
}

spdlog::level::level_enum parse_level(const std::string& text) {
  static const std::map<std::string, spdlog::level::level_enum> levels = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
      {"off", spdlog::level::off}};
  auto it = levels.find(text);
  if (it == levels.end()) {
    throw UsageError("--log-level takes trace, debug, info, warn, error, critical or off, got '" +
                     text + "'");
  }
  return it->second;
}

// Every connection is a file descriptor: use all the process may have.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

// Written atomically (temp file + rename) so a reader never sees half of it.
void write_ready_file(const std::string& path, std::uint16_t mqtt_port) {
  nlohmann::json j = {
      {"mqtt", mqtt_port}, {"mqtts", nullptr}, {"http", nullptr}, {"pid", getpid()}};
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

}  // namespace

int cmd_serve(const Args& args) {
  if (!args.positional.empty()) {
    throw UsageError("unexpected argument '" + args.positional[0] + "'");
  }
  net::ServerOptions options;
  options.data_dir = data_dir_from(args);
  if (auto m = args.get("mqtt")) options.mqtt = parse_endpoint("mqtt", *m);
  if (auto n = args.get_int("io-threads", 0, 256)) options.io_threads = static_cast<unsigned>(*n);
  if (auto n = args.get_int("max-connections", 1, 10'000'000)) options.max_connections = *n;
  if (auto n = args.get_int("max-packet-size", 64, 268'435'455)) options.max_packet_size = *n;
  if (auto n = args.get_int("enroll-timeout", 1, 3600)) {
    options.enroll_timeout = std::chrono::seconds(*n);
  }
  if (auto n = args.get_int("enroll-attempts", 1, 1'000'000)) {
    options.enroll_attempts_per_minute = static_cast<unsigned>(*n);
  }
  auto level = parse_level(args.get("log-level").value_or("info"));

  auto logger = spdlog::stderr_color_mt("plugmq");
  spdlog::set_default_logger(logger);
  spdlog::set_level(level);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  ensure_dir(options.data_dir);
  raise_fd_limit();
  spdlog::info("plugmq {} starting; data directory {}", PLUGMQ_VERSION,
               std::filesystem::absolute(options.data_dir).string());

  net::Server server(options);
  try {
    server.start();
  } catch (const std::system_error& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  if (auto rf = args.get("ready-file")) write_ready_file(*rf, server.mqtt_port());

  boost::asio::io_context signals_ctx(1);
  boost::asio::signal_set signals(signals_ctx, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec) spdlog::info("signal {} received", sig);
  });
  signal(SIGPIPE, SIG_IGN);
  signals_ctx.run();
  server.stop();
  return 0;
}

}  // namespace plugmq::app
