#include "plugmq/app/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>

namespace plugmq::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The message of the ConfigError `fn` throws; a test failure when it throws something else or
// nothing.
template <class F>
std::string config_error(F&& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a ConfigError: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError thrown";
  return "";
}

// The message of the UsageError `fn` throws (ConfigError included).
template <class F>
std::string usage_error(F&& fn) {
  try {
    fn();
  } catch (const UsageError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a UsageError: " << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no UsageError thrown";
  return "";
}

std::string parse_error(const std::string& text) {
  return config_error([&] { parse_config(text, "test.json"); });
}

// Every setting of two configurations, compared one by one so a failure names it.
void expect_same(const Config& a, const Config& b) {
  const service::ServerOptions& x = a.server;
  const service::ServerOptions& y = b.server;
  EXPECT_EQ(a.data_dir, b.data_dir);
  EXPECT_EQ(a.log_level, b.log_level);
  EXPECT_EQ(a.retention_days, b.retention_days);
  EXPECT_EQ(x.commit_interval, y.commit_interval);
  EXPECT_EQ(x.mqtt.address, y.mqtt.address);
  EXPECT_EQ(x.mqtt.port, y.mqtt.port);
  EXPECT_EQ(x.mqtts.listen.address, y.mqtts.listen.address);
  EXPECT_EQ(x.mqtts.listen.port, y.mqtts.listen.port);
  EXPECT_EQ(x.mqtts.cert, y.mqtts.cert);
  EXPECT_EQ(x.mqtts.key, y.mqtts.key);
  EXPECT_EQ(x.data_dir, y.data_dir);
  EXPECT_EQ(x.io_threads, y.io_threads);
  EXPECT_EQ(x.max_connections, y.max_connections);
  EXPECT_EQ(x.max_packet_size, y.max_packet_size);
  EXPECT_EQ(x.max_subscriptions, y.max_subscriptions);
  EXPECT_EQ(x.max_inflight, y.max_inflight);
  EXPECT_EQ(x.session_expiry_days, y.session_expiry_days);
  EXPECT_EQ(x.max_replay, y.max_replay);
  EXPECT_EQ(x.queue_max_messages, y.queue_max_messages);
  EXPECT_EQ(x.queue_max_bytes, y.queue_max_bytes);
  EXPECT_EQ(x.slow_subscriber_timeout, y.slow_subscriber_timeout);
  EXPECT_EQ(x.connect_timeout, y.connect_timeout);
  EXPECT_EQ(x.directory_refresh, y.directory_refresh);
  EXPECT_EQ(x.enroll_timeout, y.enroll_timeout);
  EXPECT_EQ(x.enroll_attempts_per_minute, y.enroll_attempts_per_minute);
  EXPECT_EQ(x.login_failures_per_address, y.login_failures_per_address);
  EXPECT_EQ(x.login_failures_per_identity, y.login_failures_per_identity);
  EXPECT_EQ(x.hash_threads, y.hash_threads);
  EXPECT_EQ(x.max_queued_hashes, y.max_queued_hashes);
  auto same_listen = [](const std::optional<service::Endpoint>& p,
                        const std::optional<service::Endpoint>& q) {
    if (p.has_value() != q.has_value()) return false;
    return !p || (p->address == q->address && p->port == q->port);
  };
  EXPECT_TRUE(same_listen(x.http.listen, y.http.listen));
  EXPECT_TRUE(same_listen(x.http.tls_listen, y.http.tls_listen));
  EXPECT_EQ(x.http.max_body_bytes, y.http.max_body_bytes);
  EXPECT_EQ(x.http.max_records_per_publish, y.http.max_records_per_publish);
  EXPECT_EQ(x.http.request_timeout, y.http.request_timeout);
  EXPECT_EQ(x.http.idle_timeout, y.http.idle_timeout);
}

// A directory of its own for each test that writes files, removed at the end.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> n{0};
    path_ = fs::temp_directory_path() /
            ("plugmq-config-test-" + std::to_string(getpid()) + "-" + std::to_string(n++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  fs::path path_;
};

// What `plugmq serve ...` would parse into.
Args serve_args(std::map<std::string, std::string> values) {
  Args a;
  a.values = std::move(values);
  return a;
}

TEST(ConfigDefaults, BuiltInDefaultsAreTheServerDefaults) {
  const Config c;
  const service::ServerOptions o;
  EXPECT_FALSE(c.data_dir);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.retention_days, 30);
  EXPECT_TRUE(c.source.empty());
  EXPECT_EQ(c.server.mqtt.address, "0.0.0.0");
  EXPECT_EQ(c.server.mqtt.port, 1883);
  EXPECT_EQ(c.server.mqtts.listen.port, 8883);
  EXPECT_FALSE(c.server.mqtts.enabled());
  EXPECT_EQ(c.server.max_connections, 100000u);
  EXPECT_EQ(c.server.max_packet_size, 1048576u);
  EXPECT_EQ(c.server.max_subscriptions, 1000u);
  EXPECT_EQ(c.server.max_inflight, 32u);
  EXPECT_EQ(c.server.session_expiry_days, 30);
  EXPECT_EQ(c.server.max_replay, 1'000'000);
  EXPECT_EQ(c.server.queue_max_messages, 10000u);
  EXPECT_EQ(c.server.queue_max_bytes, 8388608u);
  EXPECT_EQ(c.server.slow_subscriber_timeout, 10s);
  EXPECT_EQ(c.server.connect_timeout, 10s);
  EXPECT_EQ(c.server.enroll_timeout, 30s);
  EXPECT_EQ(c.server.enroll_attempts_per_minute, 10u);
  EXPECT_EQ(c.server.login_failures_per_address, 30u);
  EXPECT_EQ(c.server.login_failures_per_identity, 10u);
  EXPECT_EQ(c.server.hash_threads, 0u);
  EXPECT_EQ(c.server.max_queued_hashes, 256u);
  EXPECT_EQ(c.server.io_threads, o.io_threads);
}

TEST(ConfigDefaults, EmptyObjectIsTheDefaults) {
  const Config c = parse_config("{}", "test.json");
  expect_same(c, Config{});
  EXPECT_EQ(c.source, "test.json");
}

TEST(ConfigDefaults, ShippedFileIsTheDefaultsWithTheServiceDataDir) {
  const fs::path shipped = fs::path(PLUGMQ_SOURCE_DIR) / "config" / "plugmq.json";
  const Config c = load_config(shipped);
  EXPECT_EQ(c.source, shipped.string());
  ASSERT_TRUE(c.data_dir);
  EXPECT_EQ(*c.data_dir, fs::path("/var/lib/plugmq"));
  Config expected;
  expected.data_dir = "/var/lib/plugmq";
  expect_same(c, expected);
}

TEST(ConfigDefaults, ShippedFileNamesEveryKey) {
  // Every key the loader knows appears in the reference file: to_json lists them all.
  const fs::path shipped = fs::path(PLUGMQ_SOURCE_DIR) / "config" / "plugmq.json";
  std::ifstream in(shipped);
  const auto file = nlohmann::ordered_json::parse(in, nullptr, true, true);
  Config all;
  all.data_dir = "/x";
  const auto keys = to_json(all);
  for (const auto& [key, value] : keys.items()) {
    ASSERT_TRUE(file.contains(key)) << key;
    if (value.is_object()) {
      for (const auto& [sub, v] : value.items()) {
        EXPECT_TRUE(file[key].contains(sub)) << key << "." << sub;
      }
      EXPECT_EQ(file[key].size(), value.size()) << key;
    }
  }
  EXPECT_EQ(file.size(), keys.size());
}

TEST(ConfigParse, CommentsAreAccepted) {
  const Config c = parse_config(R"(// a line comment
{
  /* a block
     comment */
  "limits": { "max_connections": 5 },  // after a value
  "log_level": "debug"
})",
                                "test.json");
  EXPECT_EQ(c.server.max_connections, 5u);
  EXPECT_EQ(c.log_level, "debug");
}

TEST(ConfigParse, EveryKeyIsApplied) {
  const Config c = parse_config(R"({
    "data_dir": "/srv/plugmq",
    "log_level": "warn",
    "io_threads": 3,
    "mqtt": { "listen": "127.0.0.1:1884" },
    "mqtts": { "listen": "[::1]:8884", "cert": "/etc/c.pem", "key": "/etc/k.pem" },
    "limits": { "max_connections": 7, "max_packet_size": 64, "max_subscriptions": 3,
                "queue_max_messages": 1,
                "queue_max_bytes": 1024, "slow_subscriber_timeout_s": 3600,
                "connect_timeout_s": 2 },
    "sessions": { "max_inflight": 1, "expiry_days": 0, "max_replay": 5 },
    "enrollment": { "session_timeout_s": 5, "attempts_per_minute": 1000000 },
    "logins": { "failures_per_address": 1, "failures_per_identity": 1000000, "hash_threads": 4,
                "max_queued_hashes": 1 },
    "retention": { "default_days": 0 },
    "storage": { "commit_interval_ms": 0 }
  })",
                                "test.json");
  const service::ServerOptions& o = c.server;
  EXPECT_EQ(c.data_dir, fs::path("/srv/plugmq"));
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(o.io_threads, 3u);
  EXPECT_EQ(o.mqtt.address, "127.0.0.1");
  EXPECT_EQ(o.mqtt.port, 1884);
  EXPECT_EQ(o.mqtts.listen.address, "::1");
  EXPECT_EQ(o.mqtts.listen.port, 8884);
  EXPECT_EQ(o.mqtts.cert, fs::path("/etc/c.pem"));
  EXPECT_EQ(o.mqtts.key, fs::path("/etc/k.pem"));
  EXPECT_TRUE(o.mqtts.enabled());
  EXPECT_EQ(o.max_connections, 7u);
  EXPECT_EQ(o.max_packet_size, 64u);
  EXPECT_EQ(o.max_subscriptions, 3u);
  EXPECT_EQ(o.max_inflight, 1u);
  EXPECT_EQ(o.session_expiry_days, 0);
  EXPECT_EQ(o.max_replay, 5);
  EXPECT_EQ(o.queue_max_messages, 1u);
  EXPECT_EQ(o.queue_max_bytes, 1024u);
  EXPECT_EQ(o.slow_subscriber_timeout, 3600s);
  EXPECT_EQ(o.connect_timeout, 2s);
  EXPECT_EQ(o.enroll_timeout, 5s);
  EXPECT_EQ(o.enroll_attempts_per_minute, 1000000u);
  EXPECT_EQ(o.login_failures_per_address, 1u);
  EXPECT_EQ(o.login_failures_per_identity, 1000000u);
  EXPECT_EQ(o.hash_threads, 4u);
  EXPECT_EQ(o.max_queued_hashes, 1u);
  EXPECT_EQ(c.retention_days, 0);
  EXPECT_EQ(o.commit_interval, 0ms);

  // The file's layout printed by to_json reads back to the same configuration.
  expect_same(parse_config(to_json(c).dump(), "again.json"), c);
}

TEST(ConfigParse, DefaultsRoundTrip) {
  const auto j = to_json(Config{});
  EXPECT_FALSE(j.contains("data_dir"));
  EXPECT_EQ(j["mqtt"]["listen"], "0.0.0.0:1883");
  EXPECT_EQ(j["limits"]["slow_subscriber_timeout_s"], 10);
  EXPECT_EQ(j["storage"]["commit_interval_ms"], 100);
  EXPECT_EQ(j["sessions"]["max_inflight"], 32);
  expect_same(parse_config(j.dump(), "x.json"), Config{});
}

TEST(ConfigParse, LargestValuesFit) {
  const Config c = parse_config(
      R"({"limits": {"queue_max_bytes": 4294967296, "max_packet_size": 268435455,
                     "max_connections": 10000000, "queue_max_messages": 10000000,
                     "max_subscriptions": 1000000},
          "sessions": {"max_inflight": 65535},
          "io_threads": 256, "retention": {"default_days": 36500},
          "storage": {"commit_interval_ms": 10000}})",
      "test.json");
  EXPECT_EQ(c.server.queue_max_bytes, 4294967296u);
  EXPECT_EQ(c.server.max_packet_size, 268435455u);
  EXPECT_EQ(c.server.max_connections, 10000000u);
  EXPECT_EQ(c.server.max_subscriptions, 1000000u);
  EXPECT_EQ(c.server.max_inflight, 65535u);
  EXPECT_EQ(c.server.io_threads, 256u);
  EXPECT_EQ(c.retention_days, 36500);
  EXPECT_EQ(c.server.commit_interval, 10000ms);
}

TEST(ConfigErrors, UnknownTopLevelKey) {
  EXPECT_EQ(parse_error(R"({"max_connections": 5})"),
            R"(test.json: unknown key "max_connections")");
  EXPECT_EQ(parse_error(R"({"log_levl": "info"})"),
            R"(test.json: unknown key "log_levl" (did you mean "log_level"?))");
}

TEST(ConfigErrors, UnknownNestedKey) {
  EXPECT_EQ(
      parse_error(R"({"limits": {"max_conections": 5}})"),
      R"(test.json: unknown key "limits.max_conections" (did you mean "limits.max_connections"?))");
  EXPECT_EQ(parse_error(R"({"mqtts": {"listen": "0.0.0.0:8883", "certificate": "c.pem"}})"),
            R"(test.json: unknown key "mqtts.certificate")");
  EXPECT_EQ(parse_error(R"({"retention": {"default_days": 1, "x": {"y": 1}}})"),
            R"(test.json: unknown key "retention.x")");
}

TEST(ConfigErrors, WrongType) {
  EXPECT_EQ(parse_error(R"({"limits": {"max_connections": "100"}})"),
            R"(test.json: "limits.max_connections" must be an integer 1..10000000, got "100")");
  EXPECT_EQ(parse_error(R"({"limits": {"max_connections": 1.5}})"),
            R"(test.json: "limits.max_connections" must be an integer 1..10000000, got 1.5)");
  EXPECT_EQ(parse_error(R"({"io_threads": true})"),
            R"(test.json: "io_threads" must be an integer 0..256, got true)");
  EXPECT_EQ(parse_error(R"({"limits": 5})"), R"(test.json: "limits" must be an object, got 5)");
  EXPECT_EQ(parse_error(R"({"mqtt": {"listen": 1883}})"),
            R"(test.json: "mqtt.listen" must be a string "ADDR:PORT", got 1883)");
  EXPECT_EQ(parse_error(R"({"mqtts": {"cert": null}})"),
            R"(test.json: "mqtts.cert" must be a string, got null)");
  EXPECT_EQ(parse_error(R"({"data_dir": 3})"),
            R"(test.json: "data_dir" must be a non-empty string, got 3)");
  EXPECT_EQ(parse_error(R"({"data_dir": ""})"),
            R"(test.json: "data_dir" must be a non-empty string, got "")");
  EXPECT_EQ(parse_error(R"([1, 2])"),
            "test.json: the configuration must be a JSON object, got [1,2]");
}

TEST(ConfigErrors, OutOfRange) {
  EXPECT_EQ(parse_error(R"({"limits": {"max_connections": 0}})"),
            R"(test.json: "limits.max_connections" must be an integer 1..10000000, got 0)");
  EXPECT_EQ(parse_error(R"({"limits": {"max_packet_size": 63}})"),
            R"(test.json: "limits.max_packet_size" must be an integer 64..268435455, got 63)");
  EXPECT_EQ(parse_error(R"({"limits": {"max_subscriptions": 0}})"),
            R"(test.json: "limits.max_subscriptions" must be an integer 1..1000000, got 0)");
  EXPECT_EQ(parse_error(R"({"limits": {"max_subscriptions": 1000001}})"),
            R"(test.json: "limits.max_subscriptions" must be an integer 1..1000000, got 1000001)");
  EXPECT_EQ(parse_error(R"({"sessions": {"max_inflight": 0}})"),
            R"(test.json: "sessions.max_inflight" must be an integer 1..65535, got 0)");
  EXPECT_EQ(parse_error(R"({"sessions": {"max_inflight": 65536}})"),
            R"(test.json: "sessions.max_inflight" must be an integer 1..65535, got 65536)");
  EXPECT_EQ(parse_error(R"({"sessions": {"expiry_days": -1}})"),
            R"(test.json: "sessions.expiry_days" must be an integer 0..36500, got -1)");
  EXPECT_EQ(parse_error(R"({"sessions": {"max_replay": 1000000001}})"),
            R"(test.json: "sessions.max_replay" must be an integer 0..1000000000, got 1000000001)");
  EXPECT_EQ(parse_error(R"({"limits": {"queue_max_messages": 0}})"),
            R"(test.json: "limits.queue_max_messages" must be an integer 1..10000000, got 0)");
  EXPECT_EQ(parse_error(R"({"limits": {"queue_max_bytes": 1023}})"),
            R"(test.json: "limits.queue_max_bytes" must be an integer 1024..4294967296, got 1023)");
  EXPECT_EQ(parse_error(R"({"limits": {"connect_timeout_s": 3601}})"),
            R"(test.json: "limits.connect_timeout_s" must be an integer 1..3600, got 3601)");
  EXPECT_EQ(parse_error(R"({"limits": {"slow_subscriber_timeout_s": 0}})"),
            R"(test.json: "limits.slow_subscriber_timeout_s" must be an integer 1..3600, got 0)");
  EXPECT_EQ(parse_error(R"({"io_threads": 257})"),
            R"(test.json: "io_threads" must be an integer 0..256, got 257)");
  EXPECT_EQ(parse_error(R"({"io_threads": -1})"),
            R"(test.json: "io_threads" must be an integer 0..256, got -1)");
  EXPECT_EQ(parse_error(R"({"enrollment": {"session_timeout_s": 0}})"),
            R"(test.json: "enrollment.session_timeout_s" must be an integer 1..3600, got 0)");
  EXPECT_EQ(
      parse_error(R"({"enrollment": {"attempts_per_minute": 1000001}})"),
      R"(test.json: "enrollment.attempts_per_minute" must be an integer 1..1000000, got 1000001)");
  EXPECT_EQ(parse_error(R"({"logins": {"failures_per_address": 0}})"),
            R"(test.json: "logins.failures_per_address" must be an integer 1..1000000, got 0)");
  EXPECT_EQ(parse_error(R"({"logins": {"hash_threads": 257}})"),
            R"(test.json: "logins.hash_threads" must be an integer 0..256, got 257)");
  EXPECT_EQ(parse_error(R"({"logins": {"max_queued_hashes": 0}})"),
            R"(test.json: "logins.max_queued_hashes" must be an integer 1..1000000, got 0)");
  EXPECT_EQ(parse_error(R"({"retention": {"default_days": -1}})"),
            R"(test.json: "retention.default_days" must be an integer 0..36500, got -1)");
  EXPECT_EQ(parse_error(R"({"storage": {"commit_interval_ms": 10001}})"),
            R"(test.json: "storage.commit_interval_ms" must be an integer 0..10000, got 10001)");
  // Larger than any signed 64-bit integer.
  EXPECT_EQ(
      parse_error(R"({"limits": {"max_connections": 18446744073709551615}})"),
      R"(test.json: "limits.max_connections" must be an integer 1..10000000, got 18446744073709551615)");
}

TEST(ConfigErrors, BadListenAddress) {
  EXPECT_EQ(
      parse_error(R"({"mqtt": {"listen": "0.0.0.0"}})"),
      R"(test.json: "mqtt.listen" must be ADDR:PORT (an address, a colon and a port), got "0.0.0.0")");
  EXPECT_EQ(
      parse_error(R"({"mqtt": {"listen": "0.0.0.0:65536"}})"),
      R"(test.json: "mqtt.listen" must be ADDR:PORT (the port must be 0..65535), got "0.0.0.0:65536")");
  // The resolver's own words follow the name.
  const std::string unresolved = parse_error(R"({"mqtts": {"listen": "no-such-host.invalid:8883"}})");
  EXPECT_THAT(unresolved,
              ::testing::StartsWith(
                  R"(test.json: "mqtts.listen" must be ADDR:PORT (the address must be an IPv4 or IPv6 address, or a host name that resolves ('no-such-host.invalid': )"));
  EXPECT_THAT(unresolved, ::testing::EndsWith(R"(), got "no-such-host.invalid:8883")"));
  EXPECT_NE(parse_error(R"({"mqtts": {"listen": "0.0.0.0:88x3"}})").find(R"("mqtts.listen")"),
            std::string::npos);
}

TEST(ConfigErrors, BadLogLevel) {
  EXPECT_EQ(
      parse_error(R"({"log_level": "verbose"})"),
      R"(test.json: "log_level" must be one of trace, debug, info, warn, error, critical or off, got "verbose")");
  EXPECT_EQ(parse_error(R"({"log_level": "INFO"})").find("test.json: \"log_level\""), 0u);
}

TEST(ConfigErrors, SyntaxErrorHasLineAndColumn) {
  const std::string m = parse_error("{\n  \"io_threads\": 1,\n}\n");
  EXPECT_EQ(m.rfind("test.json: invalid JSON: parse error at line 3, column 1", 0), 0u) << m;
  EXPECT_EQ(parse_error("").rfind("test.json: invalid JSON: parse error at line 1", 0), 0u);
}

TEST(ConfigErrors, DuplicateKey) {
  EXPECT_EQ(parse_error(R"({"limits": {"max_connections": 1, "max_connections": 2}})"),
            R"(test.json: duplicate key "limits.max_connections")");
  EXPECT_EQ(parse_error(R"({"limits": {}, "limits": {}})"), R"(test.json: duplicate key "limits")");
}

TEST(ConfigErrors, UnreadableFile) {
  TempDir dir;
  const auto missing = dir.path() / "nope.json";
  const std::string m = config_error([&] { load_config(missing); });
  EXPECT_NE(m.find(missing.string()), std::string::npos) << m;
}

TEST(ConfigFile, ErrorsNameTheFile) {
  TempDir dir;
  const auto f = dir.write("bad.json", R"({"limits": {"max_connections": 0}})");
  EXPECT_EQ(config_error([&] { load_config(f); }),
            f.string() + R"(: "limits.max_connections" must be an integer 1..10000000, got 0)");
}

TEST(ConfigFile, RelativePathsStartAtTheFilesDirectory) {
  TempDir dir;
  const auto f = dir.write("p.json", R"({"data_dir": "data",
      "mqtts": {"cert": "tls/c.pem", "key": "/abs/k.pem"}})");
  const Config c = load_config(f);
  EXPECT_EQ(c.data_dir, dir.path() / "data");
  EXPECT_EQ(c.server.mqtts.cert, dir.path() / "tls/c.pem");
  EXPECT_EQ(c.server.mqtts.key, fs::path("/abs/k.pem"));
}

TEST(ServeConfig, NoFileNoFlagsIsTheDefaults) {
  const Config c = serve_config(serve_args({{"data-dir", "/tmp/d"}}));
  Config expected;
  expected.server.data_dir = "/tmp/d";
  expect_same(c, expected);
}

TEST(ServeConfig, FileOverridesDefaultsAndFlagsOverrideTheFile) {
  TempDir dir;
  const auto f = dir.write("p.json", R"({
    "data_dir": "/from/file", "log_level": "warn",
    "mqtt": {"listen": "127.0.0.1:0"},
    "limits": {"max_connections": 5, "max_packet_size": 1000},
    "enrollment": {"session_timeout_s": 7}})");
  // The file alone.
  Config c = serve_config(serve_args({{"config", f.string()}}));
  EXPECT_EQ(c.server.data_dir, fs::path("/from/file"));
  EXPECT_EQ(c.log_level, "warn");
  EXPECT_EQ(c.server.mqtt.address, "127.0.0.1");
  EXPECT_EQ(c.server.mqtt.port, 0);
  EXPECT_EQ(c.server.max_connections, 5u);
  EXPECT_EQ(c.server.max_packet_size, 1000u);
  EXPECT_EQ(c.server.enroll_timeout, 7s);
  EXPECT_EQ(c.server.enroll_attempts_per_minute, 10u);  // not in the file: the default

  // Flags win.
  c = serve_config(serve_args({{"config", f.string()},
                               {"data-dir", "/from/flag"},
                               {"log-level", "error"},
                               {"mqtt", "[::1]:1999"},
                               {"mqtts", "127.0.0.1:8999"},
                               {"max-connections", "9"},
                               {"max-subscriptions", "12"},
                               {"max-inflight", "5"},
                               {"session-expiry-days", "7"},
                               {"max-replay", "100"},
                               {"enroll-timeout", "8"},
                               {"enroll-attempts", "4"},
                               {"login-failures", "6"},
                               {"login-failures-per-identity", "3"},
                               {"io-threads", "2"}}));
  EXPECT_EQ(c.server.data_dir, fs::path("/from/flag"));
  EXPECT_EQ(c.log_level, "error");
  EXPECT_EQ(c.server.mqtt.address, "::1");
  EXPECT_EQ(c.server.mqtt.port, 1999);
  EXPECT_EQ(c.server.mqtts.listen.port, 8999);
  EXPECT_EQ(c.server.max_connections, 9u);
  EXPECT_EQ(c.server.max_subscriptions, 12u);
  EXPECT_EQ(c.server.max_inflight, 5u);
  EXPECT_EQ(c.server.session_expiry_days, 7);
  EXPECT_EQ(c.server.max_replay, 100);
  EXPECT_EQ(c.server.max_packet_size, 1000u);  // no flag: the file's
  EXPECT_EQ(c.server.enroll_timeout, 8s);
  EXPECT_EQ(c.server.enroll_attempts_per_minute, 4u);
  EXPECT_EQ(c.server.login_failures_per_address, 6u);
  EXPECT_EQ(c.server.login_failures_per_identity, 3u);
  EXPECT_EQ(c.server.io_threads, 2u);
}

TEST(ServeConfig, BadFlagsAreUsageErrors) {
  EXPECT_EQ(usage_error([] {
              serve_config(serve_args({{"mqtt", "nope"}}));
            }),
            "--mqtt takes ADDR:PORT (an address, a colon and a port), got 'nope'");
  EXPECT_EQ(usage_error([] {
              serve_config(serve_args({{"mqtts", "1.2.3.4:99999"}}));
            }),
            "--mqtts takes ADDR:PORT (the port must be 0..65535), got '1.2.3.4:99999'");
  EXPECT_EQ(usage_error([] {
              serve_config(serve_args({{"log-level", "loud"}}));
            }),
            "--log-level takes trace, debug, info, warn, error, critical or off, got 'loud'");
  EXPECT_NE(usage_error([] {
              serve_config(serve_args({{"max-connections", "0"}}));
            }).find("--max-connections"),
            std::string::npos);
  EXPECT_NE(usage_error([] {
              serve_config(serve_args({{"max-subscriptions", "0"}}));
            }).find("--max-subscriptions"),
            std::string::npos);
  EXPECT_NE(usage_error([] {
              serve_config(serve_args({{"max-inflight", "65536"}}));
            }).find("--max-inflight"),
            std::string::npos);
  EXPECT_EQ(usage_error([] {
              serve_config(serve_args({{"config", ""}}));
            }),
            "--config must not be empty");
}

TEST(ServeConfig, CertificateWithoutKey) {
  // Flags only.
  EXPECT_EQ(usage_error([] {
              serve_config(serve_args({{"tls-cert", "c.pem"}}));
            }),
            "--tls-cert is set but --tls-key is not: TLS needs both a certificate and its key");
  EXPECT_EQ(usage_error([] {
              serve_config(serve_args({{"tls-key", "k.pem"}}));
            }),
            "--tls-key is set but --tls-cert is not: TLS needs both a certificate and its key");

  TempDir dir;
  // The file alone.
  const auto cert_only = dir.write("c.json", R"({"mqtts": {"cert": "/c.pem"}})");
  EXPECT_EQ(config_error([&] {
              serve_config(serve_args({{"config", cert_only.string()}}));
            }),
            cert_only.string() +
                R"(: "mqtts.cert" is set but neither "mqtts.key" nor --tls-key is: TLS needs )"
                "both a certificate and its key");
  // A flag with a file that lacks the other half.
  const auto empty = dir.write("e.json", "{}");
  EXPECT_EQ(config_error([&] {
              serve_config(serve_args({{"config", empty.string()}, {"tls-cert", "/c.pem"}}));
            }),
            R"(--tls-cert is set but neither --tls-key nor "mqtts.key" in )" + empty.string() +
                " is: TLS needs both a certificate and its key");
  // The other half from the flag completes the file, and the other way round.
  Config c = serve_config(serve_args({{"config", cert_only.string()}, {"tls-key", "/k.pem"}}));
  EXPECT_TRUE(c.server.mqtts.enabled());
  EXPECT_EQ(c.server.mqtts.cert, fs::path("/c.pem"));
  EXPECT_EQ(c.server.mqtts.key, fs::path("/k.pem"));
  // Empty flags switch TLS off whatever the file says.
  c = serve_config(serve_args({{"config", cert_only.string()}, {"tls-cert", ""}, {"tls-key", ""}}));
  EXPECT_FALSE(c.server.mqtts.enabled());
}

TEST(DataDir, FlagThenFileThenDefault) {
  Config c;
  Args none;
  const fs::path fallback = geteuid() == 0 ? "/var/lib/plugmq" : "plugmq-data";
  EXPECT_EQ(data_dir_from(none, c), fallback);
  c.data_dir = "/from/file";
  EXPECT_EQ(data_dir_from(none, c), fs::path("/from/file"));
  EXPECT_EQ(data_dir_from(serve_args({{"data-dir", "/flag"}}), c), fs::path("/flag"));
  EXPECT_THROW(data_dir_from(serve_args({{"data-dir", ""}}), c), UsageError);
}

TEST(Endpoint, ParseAndPrint) {
  auto ep = parse_endpoint("[::]:1883");
  EXPECT_EQ(ep.address, "::");
  EXPECT_EQ(ep.port, 1883);
  EXPECT_EQ(to_string(ep), "[::]:1883");
  ep = parse_endpoint("127.0.0.1:0");
  EXPECT_EQ(ep.address, "127.0.0.1");
  EXPECT_EQ(ep.port, 0);
  EXPECT_EQ(to_string(ep), "127.0.0.1:0");
  EXPECT_THROW(parse_endpoint(":1883"), std::invalid_argument);
  EXPECT_THROW(parse_endpoint("1.2.3.4:"), std::invalid_argument);
  EXPECT_THROW(parse_endpoint("1.2.3.4:-1"), std::invalid_argument);
  EXPECT_THROW(parse_endpoint("[::1]:1883x"), std::invalid_argument);
  // A host name that resolves is kept as written (the listener resolves it again at start).
  ep = parse_endpoint("localhost:1884");
  EXPECT_EQ(ep.address, "localhost");
  EXPECT_EQ(ep.port, 1884);
  try {
    parse_endpoint("no-such-host.invalid:1883");
    ADD_FAILURE() << "a host name that does not resolve is refused";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("'no-such-host.invalid'"));
  }
}

TEST(LogLevel, Names) {
  EXPECT_EQ(parse_log_level("trace"), spdlog::level::trace);
  EXPECT_EQ(parse_log_level("warn"), spdlog::level::warn);
  EXPECT_EQ(parse_log_level("error"), spdlog::level::err);
  EXPECT_EQ(parse_log_level("off"), spdlog::level::off);
  EXPECT_FALSE(parse_log_level("warning"));
  EXPECT_FALSE(parse_log_level(""));
}

}  // namespace
}  // namespace plugmq::app

namespace plugmq::app {
namespace {

TEST(ConfigHttp, DefaultsKeysOffAndRanges) {
  const Config d;
  ASSERT_TRUE(d.server.http.listen);
  EXPECT_EQ(to_string(*d.server.http.listen), "0.0.0.0:8080");
  ASSERT_TRUE(d.server.http.tls_listen);
  EXPECT_EQ(to_string(*d.server.http.tls_listen), "0.0.0.0:8443");
  EXPECT_EQ(d.server.http.max_body_bytes, 1048576u);
  EXPECT_EQ(d.server.http.max_records_per_publish, 1000u);

  const Config c = parse_config(R"({"http": {"listen": "127.0.0.1:9090", "max_body_bytes": 2048,
      "max_records_per_publish": 7, "request_timeout_s": 5, "idle_timeout_s": 86400},
      "https": {"listen": "off"}})",
                                "test.json");
  ASSERT_TRUE(c.server.http.listen);
  EXPECT_EQ(c.server.http.listen->port, 9090);
  EXPECT_FALSE(c.server.http.tls_listen);
  EXPECT_EQ(c.server.http.max_body_bytes, 2048u);
  EXPECT_EQ(c.server.http.max_records_per_publish, 7u);
  EXPECT_EQ(c.server.http.request_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c.server.http.idle_timeout, std::chrono::seconds(86400));
  expect_same(parse_config(to_json(c).dump(), "again.json"), c);  // "off" round-trips

  EXPECT_EQ(
      parse_error(R"({"http": {"listen": ""}})"),
      R"(test.json: "http.listen" must be ADDR:PORT or "off" (an address, a colon and a port), got "")");
  EXPECT_EQ(parse_error(R"({"http": {"max_body_bytes": 100}})"),
            R"(test.json: "http.max_body_bytes" must be an integer 1024..268435456, got 100)");
  EXPECT_EQ(parse_error(R"({"http": {"max_records_per_publish": 0}})"),
            R"(test.json: "http.max_records_per_publish" must be an integer 1..100000, got 0)");
  EXPECT_EQ(parse_error(R"({"https": {"cert": "x"}})"), R"(test.json: unknown key "https.cert")");
}

TEST(ConfigHttp, FlagsOverTheFile) {
  Config c = serve_config(serve_args({{"http", "127.0.0.1:0"}, {"https", "off"}}));
  ASSERT_TRUE(c.server.http.listen);
  EXPECT_EQ(c.server.http.listen->port, 0);
  EXPECT_FALSE(c.server.http.tls_listen);
  c = serve_config(serve_args({{"http", "off"}}));
  EXPECT_FALSE(c.server.http.listen);
  EXPECT_EQ(usage_error([] {
              serve_config(serve_args({{"http", "nope"}}));
            }),
            "--http takes ADDR:PORT or off (an address, a colon and a port), got 'nope'");
}

}  // namespace
}  // namespace plugmq::app
