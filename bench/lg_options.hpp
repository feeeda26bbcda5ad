// The load generator's command line (--help text, parsing) and its credentials file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lg {

enum class Scenario { kFanIn, kFanOut, kPairs, kPublish, kIdle, kPersistSetup, kCatchUp };
enum class Mode { kClosed, kRate };

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "1883";
  std::string creds;
  Scenario scenario = Scenario::kPairs;
  std::string scenario_name = "pairs";
  int clients = 10;
  double duration = 10;
  double warmup = 2;
  double drain = 3;
  int payload = 64;
  Mode mode = Mode::kClosed;
  int inflight = 100;
  double rate = 10000;
  int qos = 0;      // publishers
  int sub_qos = 0;  // what subscriptions ask for
  bool clean_session = true;      // subscribers' CONNECT
  std::string client_id_prefix;   // subscribers' client ids PREFIX-N; empty: lg<pid>-sN
  std::string channel = "t";      // topics ID/data/CHANNEL, filters +/data/CHANNEL
  std::uint64_t messages = 0;     // > 0: publishers stop after this many in total
  std::uint64_t expect = 0;       // catch-up: deliveries to wait for
  unsigned threads = 0;
  bool json = false;
  bool login = true;
  int keep_alive = 60;
  double connect_timeout = 120;
  int max_connect_failures = 0;
  int connect_concurrency = 256;
  std::string ready_file;
  double timeline_ms = 0;  // > 0: deliveries and worst latency per interval, in the report
};

[[noreturn]] void usage_error(const std::string& msg);
Options parse_options(int argc, char** argv);

struct Cred {
  std::string id, auth;
};

// A JSON array of {"id","auth"} objects, or one such object per line.
std::vector<Cred> read_creds(const std::string& path);

}  // namespace lg
