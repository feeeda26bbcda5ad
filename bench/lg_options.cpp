// The load generator's command line and credentials file (lg_options.hpp).
#include "lg_options.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace lg {

namespace {

const char* kHelp = R"(loadgen: MQTT 3.1.1 load generator (throughput, loss, latency, idle connections,
persistent sessions)

  --host H                 broker address (127.0.0.1)
  --port P                 broker port (1883)
  --creds FILE             credentials: JSON array of {"id","auth"}, or one object per line
  --scenario S             fan-in | fan-out | pairs | publish | idle | persist-setup | catch-up
                           (pairs); publish: N publishers and no subscriber
  --clients N              publishers (fan-in, publish), subscribers (fan-out), pairs, idle
                           connections, or persistent sessions (10)
  --mode M                 closed | rate (closed)
  --inflight K             closed loop: messages per publisher not yet received, nor (QoS 1)
                           acknowledged (100)
  --rate R                 rate mode: messages/s published in total (10000)
  --messages N             publishers stop after N messages in total (0: at the end of the
                           window); --duration is then an upper bound
  --duration S             measured window, seconds (10); idle: how long to hold; catch-up:
                           give up after S seconds
  --warmup S               seconds before the window (2)
  --drain S                at most this long to wait for deliveries after the window (3)
  --payload B              payload bytes, timestamp included (64; at least 48)
  --qos Q                  publish QoS 0 or 1 (0)
  --sub-qos Q              QoS the subscriptions ask for: 0, 1 or 2 (0); QoS 1 deliveries are
                           answered with PUBACK, QoS 2 with PUBREC (and PUBREL with PUBCOMP)
  --channel C              publishers publish to ID/data/C; fan-in, fan-out and the persistent
                           sessions subscribe to +/data/C (t)
  --clean-session 0|1      subscribers' clean session flag (1; 0 for persist-setup, catch-up)
  --client-id PREFIX       subscribers' client ids are PREFIX-N, N from 0 (lg<pid>-sN;
                           lg-session-N for persist-setup and catch-up)
  --expect N               catch-up: wait for N deliveries in total (required)
  --threads T              io threads (one per core)
  --keep-alive S           CONNECT keep alive; idle connections ping at half of it (60)
  --no-login               CONNECT without username and password
  --connect-timeout S      give up connecting after S seconds (120)
  --connect-concurrency C  CONNECTs in progress at once (256)
  --max-connect-failures F exit 3 when more connections fail than this (0)
  --ready-file F           write F once every connection is logged in (idle: before holding)
  --timeline MS            also report deliveries and the worst latency of every MS interval
                           from the start (warmup included): finds periodic stalls
  --json                   one JSON object on stdout (the text report goes to stderr)

Persistent sessions: `persist-setup` connects N sessions (clean session 0, client ids
PREFIX-N, session N logging in with credential N), subscribes each to +/data/C at --sub-qos and
disconnects; `catch-up` resumes them (subscribing again only where the broker kept no session)
and receives until --expect messages arrived: time to the first, time to the last, messages/s.
)";

double parse_double(const std::string& flag, const std::string& v) {
  try {
    std::size_t end = 0;
    double d = std::stod(v, &end);
    if (end != v.size() || d < 0) throw std::invalid_argument(v);
    return d;
  } catch (const std::exception&) {
    usage_error(flag + " takes a non-negative number, got '" + v + "'");
  }
}

long long parse_int(const std::string& flag, const std::string& v, long long lo, long long hi) {
  long long n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < lo || n > hi) {
    usage_error(flag + " takes an integer " + std::to_string(lo) + ".." + std::to_string(hi) +
                ", got '" + v + "'");
  }
  return n;
}

bool persistent(Scenario s) { return s == Scenario::kPersistSetup || s == Scenario::kCatchUp; }

}  // namespace

void usage_error(const std::string& msg) {
  std::fprintf(stderr, "loadgen: %s (see --help)\n", msg.c_str());
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options o;
  int clean = -1;  // not given
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    auto integer = [&](long long lo, long long hi) { return parse_int(a, value(), lo, hi); };
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      std::exit(0);
    } else if (a == "--host") {
      o.host = value();
    } else if (a == "--port") {
      o.port = std::to_string(integer(1, 65535));
    } else if (a == "--creds") {
      o.creds = value();
    } else if (a == "--scenario") {
      o.scenario_name = value();
      const std::string& s = o.scenario_name;
      if (s == "fan-in") o.scenario = Scenario::kFanIn;
      else if (s == "fan-out") o.scenario = Scenario::kFanOut;
      else if (s == "pairs") o.scenario = Scenario::kPairs;
      else if (s == "publish") o.scenario = Scenario::kPublish;
      else if (s == "idle") o.scenario = Scenario::kIdle;
      else if (s == "persist-setup") o.scenario = Scenario::kPersistSetup;
      else if (s == "catch-up") o.scenario = Scenario::kCatchUp;
      else usage_error("--scenario takes fan-in, fan-out, pairs, publish, idle, persist-setup or catch-up");
    } else if (a == "--clients") {
      o.clients = static_cast<int>(integer(1, 1'000'000));
    } else if (a == "--mode") {
      auto m = value();
      if (m == "closed") o.mode = Mode::kClosed;
      else if (m == "rate") o.mode = Mode::kRate;
      else usage_error("--mode takes closed or rate");
    } else if (a == "--inflight") {
      o.inflight = static_cast<int>(integer(1, 1'000'000));
    } else if (a == "--rate") {
      o.rate = parse_double(a, value());
      if (o.rate <= 0) usage_error("--rate must be positive");
    } else if (a == "--messages") {
      o.messages = static_cast<std::uint64_t>(integer(0, 1'000'000'000'000));
    } else if (a == "--expect") {
      o.expect = static_cast<std::uint64_t>(integer(1, 1'000'000'000'000));
    } else if (a == "--duration") {
      o.duration = parse_double(a, value());
    } else if (a == "--warmup") {
      o.warmup = parse_double(a, value());
    } else if (a == "--drain") {
      o.drain = parse_double(a, value());
    } else if (a == "--payload") {
      o.payload = static_cast<int>(integer(48, 1 << 20));
    } else if (a == "--qos") {
      o.qos = static_cast<int>(integer(0, 1));
    } else if (a == "--sub-qos") {
      o.sub_qos = static_cast<int>(integer(0, 2));
    } else if (a == "--channel") {
      o.channel = value();
      if (o.channel.empty() || o.channel.find_first_of("+#") != std::string::npos) {
        usage_error("--channel takes a topic level or levels without wildcards");
      }
    } else if (a == "--clean-session") {
      clean = static_cast<int>(integer(0, 1));
    } else if (a == "--client-id") {
      o.client_id_prefix = value();
      if (o.client_id_prefix.empty()) usage_error("--client-id takes a non-empty prefix");
    } else if (a == "--threads") {
      o.threads = static_cast<unsigned>(integer(1, 256));
    } else if (a == "--keep-alive") {
      o.keep_alive = static_cast<int>(integer(2, 65535));
    } else if (a == "--no-login") {
      o.login = false;
    } else if (a == "--connect-timeout") {
      o.connect_timeout = parse_double(a, value());
    } else if (a == "--connect-concurrency") {
      o.connect_concurrency = static_cast<int>(integer(1, 100'000));
    } else if (a == "--max-connect-failures") {
      o.max_connect_failures = static_cast<int>(integer(0, 1'000'000'000));
    } else if (a == "--ready-file") {
      o.ready_file = value();
    } else if (a == "--timeline") {
      o.timeline_ms = parse_double(a, value());
    } else if (a == "--json") {
      o.json = true;
    } else {
      usage_error("unknown argument '" + a + "'");
    }
  }
  if (o.creds.empty()) usage_error("--creds FILE is required");
  if (persistent(o.scenario)) {
    if (clean == 1) usage_error(o.scenario_name + " is about sessions of clean session 0");
    o.clean_session = false;
    if (o.client_id_prefix.empty()) o.client_id_prefix = "lg-session";
  } else if (clean != -1) {
    o.clean_session = clean == 1;
    if (!o.clean_session && o.client_id_prefix.empty()) {
      usage_error("--clean-session 0 needs --client-id (sessions are found by client id)");
    }
  }
  if (o.scenario == Scenario::kCatchUp && o.expect == 0) usage_error("catch-up needs --expect N");
  if (o.scenario == Scenario::kPublish && o.mode == Mode::kClosed && o.qos == 0) {
    usage_error("publish in closed mode needs --qos 1 (its window is the unacknowledged messages)");
  }
  if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
  return o;
}

std::vector<Cred> read_creds(const std::string& path) {
  std::ifstream in(path);
  if (!in) usage_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  std::vector<Cred> out;
  auto add = [&](const nlohmann::json& j) {
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) {
      usage_error(path + ": every entry needs a string \"id\"");
    }
    Cred c{j["id"].get<std::string>(), j.value("auth", std::string())};
    out.push_back(std::move(c));
  };
  try {
    auto first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && text[first] == '[') {
      for (const auto& j : nlohmann::json::parse(text)) add(j);
    } else {
      std::istringstream lines(text);
      std::string line;
      while (std::getline(lines, line)) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        add(nlohmann::json::parse(line));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    usage_error(path + ": " + e.what());
  }
  if (out.empty()) usage_error(path + ": no credentials");
  return out;
}

}  // namespace lg
