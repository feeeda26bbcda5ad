#include "plugmq/app/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "plugmq/http/cors.hpp"
#include "plugmq/net/server.hpp"

namespace plugmq::app {

namespace {

using ojson = nlohmann::ordered_json;

// Limits of the numeric keys; the flags of the same settings share them.
constexpr long long kMaxIoThreads = 256;
constexpr long long kMaxConnections = 10'000'000;
constexpr long long kMinPacketSize = 64;
constexpr long long kMaxPacketSize = 268'435'455;  // the largest MQTT remaining length
constexpr long long kMaxQueueMessages = 10'000'000;
constexpr long long kMaxSubscriptions = 1'000'000;
constexpr long long kMaxInflight = 65535;  // the packet ids
constexpr long long kMaxExpiryDays = 36500;
constexpr long long kMaxReplay = 1'000'000'000;
constexpr long long kMinQueueBytes = 1024;
constexpr long long kMaxQueueBytes = 4LL * 1024 * 1024 * 1024;
constexpr long long kMaxTimeoutS = 3600;
constexpr long long kMaxEnrollAttempts = 1'000'000;
constexpr long long kMaxLoginFailures = 1'000'000;
constexpr long long kMaxQueuedHashes = 1'000'000;
constexpr long long kMaxRetentionDays = 36500;
constexpr long long kMinBodyBytes = 1024;
constexpr long long kMaxBodyBytes = 256LL * 1024 * 1024;
constexpr long long kMaxRecordsPerPublish = 100000;
constexpr long long kMaxIdleTimeoutS = 86400;
constexpr long long kMaxCommitIntervalMs = 10'000;
// The value of http.listen / https.listen (and --http / --https) that turns a listener off.
constexpr std::string_view kOff = "off";

std::string join(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

std::string quoted(const std::string& path) { return "\"" + path + "\""; }

// A value as it appears in messages: its JSON text, cut short when long.
std::string shown(const ojson& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// What a configuration text is read with: its name for messages and the directory relative
// paths start from.
struct Source {
  std::string name;
  std::filesystem::path base;

  [[noreturn]] void fail(const std::string& what) const { throw ConfigError(name + ": " + what); }

  std::filesystem::path resolve(const std::string& path) const {
    std::filesystem::path p(path);
    if (p.empty() || p.is_absolute() || base.empty()) return p;
    return base / p;
  }
};

// One JSON object of the configuration, at key path `prefix` ("" for the top level). Its keys
// must be among `known`; the first one that is not is an error, with a suggestion when a known
// key is close.
class Section {
 public:
  Section(const Source& src, const ojson& obj, std::string prefix,
          std::initializer_list<std::string_view> known)
      : src_(src), obj_(obj), prefix_(std::move(prefix)) {
    for (const auto& [key, value] : obj_.items()) {
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::string message = "unknown key " + quoted(join(prefix_, key));
      std::string_view best;
      std::size_t best_distance = 3;  // suggest only close matches
      for (std::string_view k : known) {
        if (auto d = edit_distance(key, k); d < best_distance) {
          best = k;
          best_distance = d;
        }
      }
      if (!best.empty()) message += " (did you mean " + quoted(join(prefix_, best)) + "?)";
      src_.fail(message);
    }
  }

  const Source& source() const { return src_; }

  std::optional<long long> integer(std::string_view key, long long lo, long long hi) const {
    const ojson* v = find(key);
    if (!v) return std::nullopt;
    const std::string expect = "an integer " + std::to_string(lo) + ".." + std::to_string(hi);
    if (!v->is_number_integer()) bad(key, expect, *v);
    if (v->is_number_unsigned()) {
      const auto u = v->get<std::uint64_t>();
      // Non-negative numbers parse as unsigned, maybe beyond any long long: hi is checked first.
      if (u > static_cast<std::uint64_t>(hi) || static_cast<long long>(u) < lo) {
        bad(key, expect, *v);
      }
      return static_cast<long long>(u);
    }
    const auto n = v->get<std::int64_t>();
    if (n < lo || n > hi) bad(key, expect, *v);
    return n;
  }

  std::optional<std::string> string(std::string_view key, bool allow_empty) const {
    const ojson* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_string() || (!allow_empty && v->get_ref<const std::string&>().empty())) {
      bad(key, allow_empty ? "a string" : "a non-empty string", *v);
    }
    return v->get<std::string>();
  }

  // An array of strings; nothing when the key is absent.
  std::optional<std::vector<std::string>> strings(std::string_view key) const {
    const ojson* v = find(key);
    if (!v) return std::nullopt;
    std::vector<std::string> out;
    if (!v->is_array()) bad(key, "an array of strings", *v);
    for (const auto& item : *v) {
      if (!item.is_string()) bad(key, "an array of strings", *v);
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  // ADDR:PORT, or "off": the listener is off (an empty optional inside).
  std::optional<std::optional<service::Endpoint>> endpoint_or_off(std::string_view key) const {
    const ojson* v = find(key);
    if (!v) return std::nullopt;
    if (v->is_string() && v->get_ref<const std::string&>() == kOff) {
      return std::optional<service::Endpoint>();
    }
    if (!v->is_string()) bad(key, "a string \"ADDR:PORT\" or \"off\"", *v);
    try {
      return std::optional<service::Endpoint>(parse_endpoint(v->get_ref<const std::string&>()));
    } catch (const std::invalid_argument& e) {
      bad(key, std::string("ADDR:PORT or \"off\" (") + e.what() + ")", *v);
    }
  }

  std::optional<service::Endpoint> endpoint(std::string_view key) const {
    const ojson* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) bad(key, "a string \"ADDR:PORT\"", *v);
    try {
      return parse_endpoint(v->get_ref<const std::string&>());
    } catch (const std::invalid_argument& e) {
      bad(key, std::string("ADDR:PORT (") + e.what() + ")", *v);
    }
  }

  // A nested object; nothing when the key is absent.
  std::optional<Section> section(std::string_view key,
                                 std::initializer_list<std::string_view> known) const {
    const ojson* v = find(key);
    if (!v) return std::nullopt;
    if (!v->is_object()) bad(key, "an object", *v);
    return Section(src_, *v, join(prefix_, key), known);
  }

  [[noreturn]] void bad(std::string_view key, const std::string& expect, const ojson& got) const {
    src_.fail(quoted(join(prefix_, key)) + " must be " + expect + ", got " + shown(got));
  }

 private:
  const ojson* find(std::string_view key) const {
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }

  const Source& src_;
  const ojson& obj_;
  std::string prefix_;
};

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

// The top level's own keys: data_dir, log_level, io_threads.
void parse_top(const Section& top, Config& cfg) {
  const Source& src = top.source();
  if (auto d = top.string("data_dir", false)) cfg.data_dir = src.resolve(*d);
  if (auto l = top.string("log_level", true)) {
    if (!parse_log_level(*l)) {
      top.bad("log_level", "one of " + std::string(kLogLevels), ojson(*l));
    }
    cfg.log_level = *l;
  }
  if (auto n = top.integer("io_threads", 0, kMaxIoThreads)) {
    cfg.server.io_threads = static_cast<unsigned>(*n);
  }
}

// "mqtt" and "mqtts".
void parse_mqtt(const Section& top, service::ServerOptions& o) {
  const Source& src = top.source();
  if (auto mqtt = top.section("mqtt", {"listen"})) {
    if (auto ep = mqtt->endpoint("listen")) o.mqtt = *ep;
  }
  if (auto mqtts = top.section("mqtts", {"listen", "cert", "key"})) {
    if (auto ep = mqtts->endpoint("listen")) o.mqtts.listen = *ep;
    if (auto c = mqtts->string("cert", true)) o.mqtts.cert = src.resolve(*c);
    if (auto k = mqtts->string("key", true)) o.mqtts.key = src.resolve(*k);
  }
}

// "http" and "https".
void parse_http(const Section& top, service::HttpOptions& o) {
  if (auto http = top.section("http", {"listen", "max_body_bytes", "max_records_per_publish",
                                       "request_timeout_s", "idle_timeout_s",
                                       "cors_origins"})) {
    if (auto ep = http->endpoint_or_off("listen")) o.listen = *ep;
    if (auto n = http->integer("max_body_bytes", kMinBodyBytes, kMaxBodyBytes)) {
      o.max_body_bytes = *n;
    }
    if (auto n = http->integer("max_records_per_publish", 1, kMaxRecordsPerPublish)) {
      o.max_records_per_publish = *n;
    }
    if (auto n = http->integer("request_timeout_s", 1, kMaxTimeoutS)) {
      o.request_timeout = std::chrono::seconds(*n);
    }
    if (auto n = http->integer("idle_timeout_s", 1, kMaxIdleTimeoutS)) {
      o.idle_timeout = std::chrono::seconds(*n);
    }
    if (auto origins = http->strings("cors_origins")) {
      for (const auto& origin : *origins) {
        if (auto why = http::check_cors_origin(origin); !why.empty()) {
          http->source().fail("\"http.cors_origins\": " + why);
        }
      }
      o.cors_origins = std::move(*origins);
    }
  }
  if (auto metrics = top.section("metrics", {"token"})) {
    if (auto t = metrics->string("token", true)) o.metrics_token = *t;
  }
  if (auto https = top.section("https", {"listen"})) {
    if (auto ep = https->endpoint_or_off("listen")) o.tls_listen = *ep;
  }
}

// "limits": connections, packets, subscriptions and outgoing queues.
void parse_limits(const Section& top, service::ServerOptions& o) {
  auto limits = top.section(
      "limits", {"max_connections", "max_packet_size", "max_subscriptions", "queue_max_messages",
                 "queue_max_bytes", "slow_subscriber_timeout_s", "connect_timeout_s"});
  if (!limits) return;
  if (auto n = limits->integer("max_connections", 1, kMaxConnections)) o.max_connections = *n;
  if (auto n = limits->integer("max_packet_size", kMinPacketSize, kMaxPacketSize)) {
    o.max_packet_size = *n;
  }
  if (auto n = limits->integer("max_subscriptions", 1, kMaxSubscriptions)) {
    o.max_subscriptions = *n;
  }
  if (auto n = limits->integer("queue_max_messages", 1, kMaxQueueMessages)) {
    o.queue_max_messages = *n;
  }
  if (auto n = limits->integer("queue_max_bytes", kMinQueueBytes, kMaxQueueBytes)) {
    o.queue_max_bytes = *n;
  }
  if (auto n = limits->integer("slow_subscriber_timeout_s", 1, kMaxTimeoutS)) {
    o.slow_subscriber_timeout = std::chrono::seconds(*n);
  }
  if (auto n = limits->integer("connect_timeout_s", 1, kMaxTimeoutS)) {
    o.connect_timeout = std::chrono::seconds(*n);
  }
}

// "sessions": MQTT sessions' QoS 1/2 delivery.
void parse_sessions(const Section& top, service::ServerOptions& o) {
  auto sessions = top.section("sessions", {"max_inflight", "expiry_days", "max_replay"});
  if (!sessions) return;
  if (auto n = sessions->integer("max_inflight", 1, kMaxInflight)) o.max_inflight = *n;
  if (auto n = sessions->integer("expiry_days", 0, kMaxExpiryDays)) {
    o.session_expiry_days = static_cast<int>(*n);
  }
  if (auto n = sessions->integer("max_replay", 0, kMaxReplay)) o.max_replay = *n;
}

// "enrollment" and "logins".
void parse_attempts(const Section& top, service::ServerOptions& o) {
  if (auto enroll = top.section("enrollment", {"session_timeout_s", "attempts_per_minute"})) {
    if (auto n = enroll->integer("session_timeout_s", 1, kMaxTimeoutS)) {
      o.enroll_timeout = std::chrono::seconds(*n);
    }
    if (auto n = enroll->integer("attempts_per_minute", 1, kMaxEnrollAttempts)) {
      o.enroll_attempts_per_minute = static_cast<unsigned>(*n);
    }
  }
  if (auto logins = top.section("logins", {"failures_per_address", "failures_per_identity",
                                           "hash_threads", "max_queued_hashes"})) {
    if (auto n = logins->integer("failures_per_address", 1, kMaxLoginFailures)) {
      o.login_failures_per_address = static_cast<unsigned>(*n);
    }
    if (auto n = logins->integer("failures_per_identity", 1, kMaxLoginFailures)) {
      o.login_failures_per_identity = static_cast<unsigned>(*n);
    }
    if (auto n = logins->integer("hash_threads", 0, kMaxIoThreads)) {
      o.hash_threads = static_cast<unsigned>(*n);
    }
    if (auto n = logins->integer("max_queued_hashes", 1, kMaxQueuedHashes)) {
      o.max_queued_hashes = *n;
    }
  }
}

// "storage" and "retention".
void parse_storage(const Section& top, Config& cfg) {
  if (auto storage = top.section("storage", {"commit_interval_ms"})) {
    if (auto n = storage->integer("commit_interval_ms", 0, kMaxCommitIntervalMs)) {
      cfg.server.commit_interval = std::chrono::milliseconds(*n);
    }
  }
  if (auto retention = top.section("retention", {"default_days"})) {
    if (auto n = retention->integer("default_days", 0, kMaxRetentionDays)) {
      cfg.retention_days = static_cast<int>(*n);
    }
  }
}

// The sections are read in this order, so that of two errors the same one is always named.
Config parse(std::string_view text, const Source& src) {
  const ojson root = parse_json(text, src);
  if (!root.is_object()) src.fail("the configuration must be a JSON object, got " + shown(root));

  Config cfg;
  cfg.source = src.name;
  const Section top(src, root, "",
                    {"data_dir", "log_level", "io_threads", "mqtt", "mqtts", "http", "https",
                     "limits", "sessions", "enrollment", "logins", "retention", "storage",
                     "metrics"});
  parse_top(top, cfg);
  parse_mqtt(top, cfg.server);
  parse_http(top, cfg.server.http);
  parse_limits(top, cfg.server);
  parse_sessions(top, cfg.server);
  parse_attempts(top, cfg.server);
  parse_storage(top, cfg);
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
