// The configuration file (SPEC 9) and how it merges with the command line.
//
// The file is JSON with comments (// and /* */). Every key is optional; an absent key keeps its
// built-in default. Unknown keys (at any level), wrong types and out-of-range values are errors
// that name the file and the full key path, e.g.
//   plugmq.json: "limits.max_connections" must be an integer 1..10000000, got 0
// Precedence: command-line flags over the file, the file over the built-in defaults.
// config/plugmq.json documents every key with its default.
#pragma once

#include <spdlog/common.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "plugmq/app/args.hpp"
#include "plugmq/service/options.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::app {

// A configuration that cannot be used: a usage error (exit status 2) whose message names the
// file and the key.
class ConfigError : public UsageError {
 public:
  using UsageError::UsageError;
};

struct Config {
  // Listeners, threads, limits, timeouts. Its data_dir is left empty: see data_dir below and
  // serve_config().
  service::ServerOptions server;
  std::optional<std::filesystem::path> data_dir;      // "data_dir"; unset: the SPEC 8 default
  std::string log_level = "info";                     // one of kLogLevels
  int retention_days = store::kDefaultRetentionDays;  // for accounts created without one
  std::string source;  // the file it was read from; empty for the built-in defaults
};

// The log level names, as listed in messages.
inline constexpr std::string_view kLogLevels = "trace, debug, info, warn, error, critical or off";
// The spdlog level for a name of kLogLevels; nothing for anything else.
std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name);

// ADDR:PORT with ADDR an IP address (IPv6 in brackets: [::]:1883) and PORT 0..65535 (0: any free
// port). Throws std::invalid_argument with a short reason ("the port must be 0..65535") that
// callers put after the option or key they were reading.
service::Endpoint parse_endpoint(std::string_view text);
std::string to_string(const service::Endpoint& ep);

// Parses configuration text; `source` names it in messages (the file's path). Relative paths in
// it (data_dir, mqtts.cert, mqtts.key) are relative to `base`. Throws ConfigError. Does not
// check that a TLS certificate comes with its key: check_tls_pair() does, once flags are merged.
Config parse_config(std::string_view text, const std::string& source,
                    const std::filesystem::path& base = {});
// Reads and parses a file (relative paths in it are relative to its directory). Throws
// ConfigError, also when the file cannot be read.
Config load_config(const std::filesystem::path& file);

// The file of --config, or the built-in defaults without it.
Config config_from(const Args& args);
// --data-dir, else the configuration's data_dir, else /var/lib/plugmq for root and
// ./plugmq-data for anyone else (SPEC 8).
std::filesystem::path data_dir_from(const Args& args, const Config& config);

// Everything `plugmq serve` runs with: the --config file (if any), then the flags (--mqtt,
// --mqtts, --http, --https (ADDR:PORT or off), --tls-cert, --tls-key, --log-level, --io-threads,
// --max-connections, --max-packet-size, --max-subscriptions, --max-inflight, --enroll-timeout,
// --enroll-attempts, --login-failures, --login-failures-per-identity) over it; server.data_dir is
// set from data_dir_from(). Throws UsageError (ConfigError for the file), also for a certificate
// without a key or a key without a certificate.
Config serve_config(const Args& args);

// The configuration in the file's layout (without data_dir when unset): what --check-config
// --json prints, and what parse_config() reads back to the same configuration.
nlohmann::ordered_json to_json(const Config& config);

}  // namespace plugmq::app
