// What reading the configuration file shares (app-private): the bounds of the numeric keys
// (the flags of the same settings share them), how a text is named in messages, and the
// sections of a parsed file read into a Config (config_sections.cpp).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "plugmq/app/config.hpp"

namespace plugmq::app {

// Limits of the numeric keys; the flags of the same settings share them.
inline constexpr long long kMaxIoThreads = 256;
inline constexpr long long kMaxConnections = 10'000'000;
inline constexpr long long kMinPacketSize = 64;
inline constexpr long long kMaxPacketSize = 268'435'455;  // the largest MQTT remaining length
inline constexpr long long kMaxQueueMessages = 10'000'000;
inline constexpr long long kMaxSubscriptions = 1'000'000;
inline constexpr long long kMaxInflight = 65535;  // the packet ids
inline constexpr long long kMaxExpiryDays = 36500;
inline constexpr long long kMaxReplay = 1'000'000'000;
inline constexpr long long kMinQueueBytes = 1024;
inline constexpr long long kMaxQueueBytes = 4LL * 1024 * 1024 * 1024;
inline constexpr long long kMaxTimeoutS = 3600;
inline constexpr long long kMaxEnrollAttempts = 1'000'000;
inline constexpr long long kMaxLoginFailures = 1'000'000;
inline constexpr long long kMaxQueuedHashes = 1'000'000;
inline constexpr long long kMaxRetentionDays = 36500;
inline constexpr long long kMinBodyBytes = 1024;
inline constexpr long long kMaxBodyBytes = 256LL * 1024 * 1024;
inline constexpr long long kMaxRecordsPerPublish = 100000;
inline constexpr long long kMaxIdleTimeoutS = 86400;
inline constexpr long long kMaxCommitIntervalMs = 10'000;
// The value of http.listen / https.listen (and --http / --https) that turns a listener off.
inline constexpr std::string_view kOff = "off";

// A key path: `key` under `prefix` ("" for the top level).
std::string join(const std::string& prefix, std::string_view key);
// A key path as messages name it: in double quotes.
std::string quoted(const std::string& path);
// A value as it appears in messages: its JSON text, cut short when long.
std::string shown(const nlohmann::ordered_json& v);

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

// Reads the sections of `root` (a JSON object) into `cfg`, in a fixed order, so that of two
// errors the same one is always named. Throws ConfigError naming the key.
void parse_sections(const nlohmann::ordered_json& root, const Source& src, Config& cfg);

}  // namespace plugmq::app
