#include "plugmq/app/config.hpp"

#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "config_sections.hpp"
#include "plugmq/net/server.hpp"

namespace plugmq::app {

using ojson = nlohmann::ordered_json;

std::string join(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

std::string quoted(const std::string& path) { return "\"" + path + "\""; }

std::string shown(const ojson& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

namespace {

// Parses JSON with comments; a repeated key in an object is an error (the later one would
// silently win otherwise).
ojson parse_json(std::string_view text, const Source& src) {
  struct Frame {
    std::string path;
    bool array = false;
    std::set<std::string> keys;
    std::string last_key;
  };
  std::vector<Frame> stack;
  auto child_path = [&]() -> std::string {
    if (stack.empty()) return "";
    const Frame& parent = stack.back();
    return parent.array ? parent.path + "[]" : join(parent.path, parent.last_key);
  };
  ojson::parser_callback_t check = [&](int, ojson::parse_event_t event, ojson& parsed) {
    switch (event) {
      case ojson::parse_event_t::object_start:
      case ojson::parse_event_t::array_start: {
        Frame f;
        f.path = child_path();
        f.array = event == ojson::parse_event_t::array_start;
        stack.push_back(std::move(f));
        break;
      }
      case ojson::parse_event_t::object_end:
      case ojson::parse_event_t::array_end:
        if (!stack.empty()) stack.pop_back();
        break;
      case ojson::parse_event_t::key: {
        Frame& f = stack.back();
        const std::string key = parsed.get<std::string>();
        if (!f.keys.insert(key).second) src.fail("duplicate key " + quoted(join(f.path, key)));
        f.last_key = key;
        break;
      }
      case ojson::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return ojson::parse(text.begin(), text.end(), check, /*allow_exceptions=*/true,
                        /*ignore_comments=*/true);
  } catch (const ojson::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..."
    std::string what = e.what();
    if (auto close = what.find("] ");
        what.rfind("[json.exception.", 0) == 0 && close != std::string::npos) {
      what = what.substr(close + 2);
    }
    src.fail("invalid JSON: " + what);
  }
}

// The file's text, then its sections (config_sections.cpp).
Config parse(std::string_view text, const Source& src) {
  const ojson root = parse_json(text, src);
  if (!root.is_object()) src.fail("the configuration must be a JSON object, got " + shown(root));

  Config cfg;
  cfg.source = src.name;
  parse_sections(root, src, cfg);
  return cfg;
}

std::optional<service::Endpoint> endpoint_or_off_flag(const std::string& flag,
                                                      const std::string& text) {
  if (text == kOff) return std::nullopt;
  try {
    return parse_endpoint(text);
  } catch (const std::invalid_argument& e) {
    throw UsageError("--" + flag + " takes ADDR:PORT or off (" + e.what() + "), got '" + text +
                     "'");
  }
}

service::Endpoint endpoint_flag(const std::string& flag, const std::string& text) {
  try {
    return parse_endpoint(text);
  } catch (const std::invalid_argument& e) {
    throw UsageError("--" + flag + " takes ADDR:PORT (" + e.what() + "), got '" + text + "'");
  }
}

// Exactly one of the certificate and the key is an error naming both, as flags and (with a
// configuration file) as keys.
void check_tls_pair(const Config& cfg, bool cert_from_flag, bool key_from_flag) {
  const auto& tls = cfg.server.mqtts;
  if (tls.cert.empty() == tls.key.empty()) return;
  const bool has_cert = !tls.cert.empty();
  const bool from_flag = has_cert ? cert_from_flag : key_from_flag;
  const std::string set_flag = has_cert ? "--tls-cert" : "--tls-key";
  const std::string unset_flag = has_cert ? "--tls-key" : "--tls-cert";
  const std::string set_key = has_cert ? "\"mqtts.cert\"" : "\"mqtts.key\"";
  const std::string unset_key = has_cert ? "\"mqtts.key\"" : "\"mqtts.cert\"";
  const std::string why = ": TLS needs both a certificate and its key";
  if (cfg.source.empty()) {
    throw UsageError(set_flag + " is set but " + unset_flag + " is not" + why);
  }
  if (from_flag) {
    throw ConfigError(set_flag + " is set but neither " + unset_flag + " nor " + unset_key +
                      " in " + cfg.source + " is" + why);
  }
  throw ConfigError(cfg.source + ": " + set_key + " is set but neither " + unset_key + " nor " +
                    unset_flag + " is" + why);
}

}  // namespace

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
      {"off", spdlog::level::off}};
  for (const auto& [n, level] : kLevels) {
    if (n == name) return level;
  }
  return std::nullopt;
}

service::Endpoint parse_endpoint(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    throw std::invalid_argument("an address, a colon and a port");
  }
  service::Endpoint ep;
  ep.address = std::string(text.substr(0, colon));
  if (ep.address.size() >= 2 && ep.address.front() == '[' && ep.address.back() == ']') {
    ep.address = ep.address.substr(1, ep.address.size() - 2);
  }
  boost::system::error_code ec;
  net::Server::listen_address(ep.address, ec);
  if (ec) {
    throw std::invalid_argument("the address must be an IPv4 or IPv6 address, or a host name that "
                                "resolves ('" + ep.address + "': " + ec.message() + ")");
  }
  unsigned port = 0;
  const auto ptext = text.substr(colon + 1);
  auto [end, perr] = std::from_chars(ptext.data(), ptext.data() + ptext.size(), port);
  if (perr != std::errc() || end != ptext.data() + ptext.size() || port > 65535) {
    throw std::invalid_argument("the port must be 0..65535");
  }
  ep.port = static_cast<std::uint16_t>(port);
  return ep;
}

std::string to_string(const service::Endpoint& ep) {
  const bool v6 = ep.address.find(':') != std::string::npos;
  return (v6 ? "[" + ep.address + "]" : ep.address) + ":" + std::to_string(ep.port);
}

Config parse_config(std::string_view text, const std::string& source,
                    const std::filesystem::path& base) {
  return parse(text, Source{source, base});
}

Config load_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int err = errno;
    throw ConfigError("cannot read configuration file " + file.string() + ": " +
                      std::strerror(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ConfigError("cannot read configuration file " + file.string());
  return parse(text.str(), Source{file.string(), file.parent_path()});
}

namespace {

// An environment variable that is set and not empty.
std::optional<std::string> from_env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

}  // namespace

Config config_from(const Args& args) {
  auto file = args.get("config");
  if (!file) {
    auto env = from_env("PLUGMQ_CONFIG");
    return env ? load_config(*env) : Config{};
  }
  if (file->empty()) throw UsageError("--config must not be empty");
  return load_config(*file);
}

std::filesystem::path data_dir_from(const Args& args, const Config& config) {
  if (auto d = args.get("data-dir")) {
    if (d->empty()) throw UsageError("--data-dir must not be empty");
    return *d;
  }
  if (auto env = from_env("PLUGMQ_DATA_DIR")) return *env;
  if (config.data_dir) return *config.data_dir;
  return geteuid() == 0 ? std::filesystem::path("/var/lib/plugmq")
                        : std::filesystem::path("plugmq-data");
}

Config serve_config(const Args& args) {
  Config cfg = config_from(args);
  service::ServerOptions& o = cfg.server;
  if (auto m = args.get("mqtt")) o.mqtt = endpoint_flag("mqtt", *m);
  if (auto m = args.get("mqtts")) o.mqtts.listen = endpoint_flag("mqtts", *m);
  if (auto h = args.get("http")) o.http.listen = endpoint_or_off_flag("http", *h);
  if (auto h = args.get("https")) o.http.tls_listen = endpoint_or_off_flag("https", *h);
  if (auto c = args.get("tls-cert")) o.mqtts.cert = *c;
  if (auto k = args.get("tls-key")) o.mqtts.key = *k;
  if (auto l = args.get("log-level")) {
    if (!parse_log_level(*l)) {
      throw UsageError("--log-level takes " + std::string(kLogLevels) + ", got '" + *l + "'");
    }
    cfg.log_level = *l;
  }
  if (auto n = args.get_int("io-threads", 0, kMaxIoThreads)) {
    o.io_threads = static_cast<unsigned>(*n);
  }
  if (auto n = args.get_int("max-connections", 1, kMaxConnections)) o.max_connections = *n;
  if (auto n = args.get_int("max-packet-size", kMinPacketSize, kMaxPacketSize)) {
    o.max_packet_size = *n;
  }
  if (auto n = args.get_int("max-subscriptions", 1, kMaxSubscriptions)) {
    o.max_subscriptions = *n;
  }
  if (auto n = args.get_int("max-inflight", 1, kMaxInflight)) o.max_inflight = *n;
  if (auto n = args.get_int("session-expiry-days", 0, kMaxExpiryDays)) {
    o.session_expiry_days = static_cast<int>(*n);
  }
  if (auto n = args.get_int("max-replay", 0, kMaxReplay)) o.max_replay = *n;
  if (auto n = args.get_int("enroll-timeout", 1, kMaxTimeoutS)) {
    o.enroll_timeout = std::chrono::seconds(*n);
  }
  if (auto n = args.get_int("enroll-attempts", 1, kMaxEnrollAttempts)) {
    o.enroll_attempts_per_minute = static_cast<unsigned>(*n);
  }
  if (auto n = args.get_int("login-failures", 1, kMaxLoginFailures)) {
    o.login_failures_per_address = static_cast<unsigned>(*n);
  }
  if (auto n = args.get_int("login-failures-per-identity", 1, kMaxLoginFailures)) {
    o.login_failures_per_identity = static_cast<unsigned>(*n);
  }
  check_tls_pair(cfg, args.has("tls-cert"), args.has("tls-key"));
  o.data_dir = data_dir_from(args, cfg);
  return cfg;
}

}  // namespace plugmq::app
