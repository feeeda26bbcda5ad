// loadgen: an MQTT 3.1.1 load generator for plugmq and any other broker (mosquitto), with its
// own minimal client (lg_mqtt.hpp) on Boost.Asio, one io_context per thread.
//
//   loadgen --port P --creds FILE --scenario fan-in|fan-out|pairs|idle [--clients N]
//           [--mode closed|rate] [--inflight K] [--rate R] [--duration S] [--warmup S]
//           [--payload BYTES] [--qos 0|1] [--threads T] [--json]      (--help lists them all)
//
// Scenarios (publisher P publishes to `P/data/t`; P is the Plug-ID of its credentials):
//   fan-in   N publishers, one subscriber to `+/data/t`
//   fan-out  one publisher, N subscribers to `+/data/t`
//   pairs    N publishers, subscriber i subscribes to `P_i/data/t` exactly
//   idle     N logged-in connections that only send PINGREQ; holds them for --duration
//
// Modes: closed keeps at most K messages of each publisher not yet received by all of their
// subscribers (fan-out: K x N deliveries); rate publishes R messages/s in total, spread evenly
// over the publishers, each message stamped with the time it was due (so a stalled publisher
// shows as latency, not as missing samples).
//
// Payload: a JSON string of exactly --payload bytes, `"@<send ns>:<publisher>:<seq>:xxx…"`.
// plugmq delivers it inside its record `{"id":…,"data":"@…","at":…}`, mosquitto as is: the
// receiver finds `"@` in either. Latency = receive time - send time on the steady clock of
// this one process, recorded only for deliveries received in the measured window (after the
// warmup). After the window, publishers stop and deliveries are drained for up to --drain
// seconds; loss = sent x subscribers per message - delivered.
//
// Credentials (--creds): a JSON array of {"id","auth"} objects, or one such object per line
// (what `plugmq prototype add --json` prints). Connections log in with username = id and
// password = auth; --no-login sends neither (anonymous brokers also accept them). Publishers
// need distinct ids (the topic is the id); other connections reuse ids round-robin, with
// distinct client ids.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <charconv>
#include <cmath>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "lg_histogram.hpp"
#include "lg_mqtt.hpp"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}
Clock::time_point at_ns(std::int64_t ns) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

// ---------------------------------------------------------------------------------------------
// Options

enum class Scenario { kFanIn, kFanOut, kPairs, kIdle };
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
  int qos = 0;
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

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "loadgen: %s (see --help)\n", msg.c_str());
  std::exit(2);
}

const char* kHelp = R"(loadgen: MQTT 3.1.1 load generator (throughput, loss, latency, idle connections)

  --host H                 broker address (127.0.0.1)
  --port P                 broker port (1883)
  --creds FILE             credentials: JSON array of {"id","auth"}, or one object per line
  --scenario S             fan-in | fan-out | pairs | idle (pairs)
  --clients N              publishers (fan-in), subscribers (fan-out), pairs, or idle
                           connections (10)
  --mode M                 closed | rate (closed)
  --inflight K             closed loop: messages per publisher not yet received (100)
  --rate R                 rate mode: messages/s published in total (10000)
  --duration S             measured window, seconds (10); idle: how long to hold
  --warmup S               seconds before the window (2)
  --drain S                at most this long to wait for deliveries after the window (3)
  --payload B              payload bytes, timestamp included (64; at least 48)
  --qos Q                  publish QoS 0 or 1 (0); subscriptions ask for QoS 0
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

int parse_int(const std::string& flag, const std::string& v, int lo, int hi) {
  int n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < lo || n > hi) {
    usage_error(flag + " takes an integer " + std::to_string(lo) + ".." + std::to_string(hi) +
                ", got '" + v + "'");
  }
  return n;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      std::exit(0);
    } else if (a == "--host") {
      o.host = value();
    } else if (a == "--port") {
      o.port = std::to_string(parse_int(a, value(), 1, 65535));
    } else if (a == "--creds") {
      o.creds = value();
    } else if (a == "--scenario") {
      o.scenario_name = value();
      if (o.scenario_name == "fan-in") o.scenario = Scenario::kFanIn;
      else if (o.scenario_name == "fan-out") o.scenario = Scenario::kFanOut;
      else if (o.scenario_name == "pairs") o.scenario = Scenario::kPairs;
      else if (o.scenario_name == "idle") o.scenario = Scenario::kIdle;
      else usage_error("--scenario takes fan-in, fan-out, pairs or idle");
    } else if (a == "--clients") {
      o.clients = parse_int(a, value(), 1, 1'000'000);
    } else if (a == "--mode") {
      auto m = value();
      if (m == "closed") o.mode = Mode::kClosed;
      else if (m == "rate") o.mode = Mode::kRate;
      else usage_error("--mode takes closed or rate");
    } else if (a == "--inflight") {
      o.inflight = parse_int(a, value(), 1, 1'000'000);
    } else if (a == "--rate") {
      o.rate = parse_double(a, value());
      if (o.rate <= 0) usage_error("--rate must be positive");
    } else if (a == "--duration") {
      o.duration = parse_double(a, value());
    } else if (a == "--warmup") {
      o.warmup = parse_double(a, value());
    } else if (a == "--drain") {
      o.drain = parse_double(a, value());
    } else if (a == "--payload") {
      o.payload = parse_int(a, value(), 48, 1 << 20);
    } else if (a == "--qos") {
      o.qos = parse_int(a, value(), 0, 1);
    } else if (a == "--threads") {
      o.threads = static_cast<unsigned>(parse_int(a, value(), 1, 256));
    } else if (a == "--keep-alive") {
      o.keep_alive = parse_int(a, value(), 2, 65535);
    } else if (a == "--no-login") {
      o.login = false;
    } else if (a == "--connect-timeout") {
      o.connect_timeout = parse_double(a, value());
    } else if (a == "--connect-concurrency") {
      o.connect_concurrency = parse_int(a, value(), 1, 100'000);
    } else if (a == "--max-connect-failures") {
      o.max_connect_failures = parse_int(a, value(), 0, 1'000'000'000);
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
  if (o.threads == 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
  return o;
}

struct Cred {
  std::string id, auth;
};

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

// ---------------------------------------------------------------------------------------------
// Shared run state

enum class Role { kPub, kSub, kIdle };

enum Phase : int { kConnecting = 0, kRunning = 1, kClosing = 2 };

struct Conn;

// One publisher's closed-loop account: deliveries not yet received, and how to wake it.
struct alignas(64) PubState {
  std::atomic<std::int64_t> outstanding{0};
  std::atomic<bool> waiting{false};
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> pubacks{0};
  Conn* conn = nullptr;
};

// Counters of one io thread, touched only by that thread while it runs (delivered also read
// by the main thread to decide when the drain is over).
struct alignas(64) ThreadStats {
  std::atomic<std::uint64_t> delivered{0};
  std::uint64_t delivered_window = 0;
  std::uint64_t bad_payloads = 0;
  lg::Histogram latency;
  std::vector<std::uint64_t> tl_count, tl_max_ns;  // --timeline, per interval since the start
};

struct Run {
  Options opt;
  std::vector<Cred> creds;
  tcp::endpoint endpoint;
  int publishers = 0;
  int subscribers = 0;
  int deliveries_per_message = 1;  // subscribers that receive each message
  std::string payload_pad;

  std::atomic<int> phase{kConnecting};
  // Set by the main thread before phase becomes kRunning.
  std::int64_t start_ns = 0, window_ns = 0, end_ns = 0;
  std::int64_t timeline_ns = 0;  // interval of --timeline, 0 when off

  std::atomic<int> logged_in{0};
  std::atomic<int> connect_failures{0};
  std::atomic<int> alive{0};        // logged in and not closed yet
  std::atomic<int> disconnects{0};  // closed by the broker or an error while running
  std::atomic<std::uint64_t> stalls{0};
  std::vector<std::unique_ptr<PubState>> pubs;

  std::mutex err_mu;
  std::string first_connect_error, first_disconnect_error;
  void note(std::string& slot, const std::string& what) {
    std::lock_guard lock(err_mu);
    if (slot.empty()) slot = what;
  }
};

struct Worker;

struct Conn {
  Conn(Worker& w, asio::io_context& ctx) : worker(w), sock(ctx), timer(ctx) {}
  Worker& worker;
  Role role = Role::kIdle;
  int index = 0;  // publisher or subscriber number
  const Cred* cred = nullptr;
  std::string client_id;
  std::string topic;  // publishers: where they publish; subscribers: their filter
  tcp::socket sock;
  asio::steady_timer timer;  // publishers: wake-ups; others: PINGREQ
  std::vector<std::uint8_t> rbuf;
  std::size_t rbegin = 0, rend = 0;
  bool logged_in = false;
  bool closed = false;
};

struct Worker {
  explicit Worker(Run& r) : run(r), ctx(1), launch_timer(ctx), work(asio::make_work_guard(ctx)) {}
  Run& run;
  asio::io_context ctx;
  asio::steady_timer launch_timer;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  int pending = 0;  // connections between TCP connect and the end of their login
  int max_pending = 1;
  ThreadStats stats;
  std::deque<Conn> conns;
  std::thread thread;
};

// ---------------------------------------------------------------------------------------------
// Connections

// Reads more bytes into c.rbuf (compacting or growing it as needed).
asio::awaitable<boost::system::error_code> fill(Conn& c) {
  if (c.rbegin == c.rend) {
    c.rbegin = c.rend = 0;
  } else if (c.rend == c.rbuf.size()) {
    if (c.rbegin > 0) {
      std::memmove(c.rbuf.data(), c.rbuf.data() + c.rbegin, c.rend - c.rbegin);
      c.rend -= c.rbegin;
      c.rbegin = 0;
    } else {
      c.rbuf.resize(c.rbuf.size() * 2);
    }
  }
  auto buf = asio::buffer(c.rbuf.data() + c.rend, c.rbuf.size() - c.rend);
  auto op = c.sock.async_read_some(buf, kTuple);
  auto [ec, n] = co_await std::move(op);
  c.rend += n;
  co_return ec;
}

// The next complete packet of c.rbuf, or nullopt when more bytes are needed. Throws on a
// malformed packet.
std::optional<lg::Packet> next_packet(Conn& c) {
  lg::Packet p;
  std::size_t used = 0;
  auto r = lg::decode(c.rbuf.data() + c.rbegin, c.rend - c.rbegin, p, used);
  if (r == lg::Decode::kNeedMore) return std::nullopt;
  if (r == lg::Decode::kMalformed) throw std::runtime_error("malformed packet from the broker");
  c.rbegin += used;
  return p;
}

asio::awaitable<boost::system::error_code> write_all(Conn& c, std::string_view bytes) {
  auto op = asio::async_write(c.sock, asio::buffer(bytes.data(), bytes.size()), kTuple);
  auto [ec, n] = co_await std::move(op);
  co_return ec;
}

// Reads packets until one of type `want` arrives (others are ignored); its first body byte
// pair is returned as (b0, b1).
asio::awaitable<std::optional<lg::Packet>> await_packet(Conn& c, std::uint8_t want,
                                                        std::string& error) {
  for (;;) {
    while (auto p = next_packet(c)) {
      if (p->type == want) co_return p;
    }
    auto ec = co_await fill(c);
    if (ec) {
      error = ec == asio::error::eof ? "connection closed by the broker" : ec.message();
      co_return std::nullopt;
    }
  }
}

std::string connack_text(int code) {
  switch (code) {
    case 1: return "CONNACK 1 (unacceptable protocol version)";
    case 2: return "CONNACK 2 (identifier rejected)";
    case 3: return "CONNACK 3 (server unavailable)";
    case 4: return "CONNACK 4 (bad user name or password)";
    case 5: return "CONNACK 5 (not authorized)";
    default: return "CONNACK " + std::to_string(code);
  }
}

// Writes the payload of one message: `"@<ns>:<pub>:<seq>:xxx…"`, exactly opt.payload bytes.
void append_message(Run& run, Conn& c, std::string& buf, std::int64_t sent_ns, std::uint64_t seq,
                    std::uint16_t packet_id) {
  char payload[128];
  char* const end = payload + sizeof payload - 1;  // room for each ':' is kept
  char* p = payload;
  *p++ = '"';
  *p++ = '@';
  p = std::to_chars(p, end, sent_ns).ptr;
  if (p < end) *p++ = ':';
  p = std::to_chars(p, end, c.index).ptr;
  if (p < end) *p++ = ':';
  p = std::to_chars(p, end, seq).ptr;
  if (p < end) *p++ = ':';
  std::size_t head = static_cast<std::size_t>(p - payload);
  std::size_t total = static_cast<std::size_t>(run.opt.payload);
  // total >= 48 and head <= 2 + 19 + 1 + 7 + 1 + 20 + 1: at least the closing quote fits.
  std::size_t remaining = 2 + c.topic.size() + total + (run.opt.qos > 0 ? 2 : 0);
  buf.push_back(static_cast<char>((lg::kPublish << 4) | (run.opt.qos > 0 ? 0x02 : 0)));
  lg::put_varint(buf, remaining);
  lg::put_str(buf, c.topic);
  if (run.opt.qos > 0) lg::put_u16(buf, packet_id);
  if (head + 1 > total) head = total - 1;  // cannot happen with total >= 48 and sane values
  buf.append(payload, head);
  buf.append(run.payload_pad.data(), total - head - 1);
  buf.push_back('"');
}

// A delivery: find the stamp in the raw payload or in plugmq's record around it.
void on_delivery(Run& run, Worker& w, std::string_view payload, std::int64_t recv_ns) {
  auto& st = w.stats;
  auto at = payload.find("\"@");
  std::int64_t sent_ns = 0;
  long pub = -1;
  if (at != std::string_view::npos) {
    const char* p = payload.data() + at + 2;
    const char* end = payload.data() + payload.size();
    auto r1 = std::from_chars(p, end, sent_ns);
    if (r1.ec == std::errc() && r1.ptr < end && *r1.ptr == ':') {
      auto r2 = std::from_chars(r1.ptr + 1, end, pub);
      if (r2.ec != std::errc()) pub = -1;
    }
  }
  if (pub < 0 || pub >= run.publishers) {
    ++st.bad_payloads;
    return;
  }
  st.delivered.fetch_add(1, std::memory_order_relaxed);
  auto latency = static_cast<std::uint64_t>(std::max<std::int64_t>(0, recv_ns - sent_ns));
  if (recv_ns >= run.window_ns && recv_ns < run.end_ns) {
    ++st.delivered_window;
    st.latency.record(latency);
  }
  if (run.timeline_ns > 0 && recv_ns >= run.start_ns) {
    auto i = static_cast<std::size_t>((recv_ns - run.start_ns) / run.timeline_ns);
    if (i < st.tl_count.size()) {
      ++st.tl_count[i];
      st.tl_max_ns[i] = std::max(st.tl_max_ns[i], latency);
    }
  }
  auto& ps = *run.pubs[static_cast<std::size_t>(pub)];
  ps.outstanding.fetch_sub(1);
  if (ps.waiting.load() && ps.waiting.exchange(false)) {
    Conn* pc = ps.conn;
    asio::post(pc->sock.get_executor(), [pc] { pc->timer.cancel(); });
  }
}

void note_lost(Run& run, Conn& c, const std::string& why) {
  if (c.closed) return;
  c.closed = true;
  run.alive.fetch_sub(1);
  if (run.phase.load() != kClosing) {
    run.disconnects.fetch_add(1);
    run.note(run.first_disconnect_error, c.client_id + ": " + why);
  }
}

// Reads what the broker sends until the connection ends: deliveries for subscribers, PUBACK
// and PINGRESP for the others.
asio::awaitable<void> read_loop(Conn& c) {
  Run& run = c.worker.run;
  std::string why;
  try {
    for (;;) {
      auto ec = co_await fill(c);
      if (ec) {
        why = ec == asio::error::eof ? "connection closed by the broker" : ec.message();
        break;
      }
      std::int64_t t = now_ns();
      while (auto p = next_packet(c)) {
        if (p->type == lg::kPublish) {
          on_delivery(run, c.worker, lg::publish_payload(*p), t);
        } else if (p->type == lg::kPuback && c.role == Role::kPub) {
          run.pubs[static_cast<std::size_t>(c.index)]->pubacks.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  } catch (const std::exception& e) {
    why = e.what();
  }
  note_lost(run, c, why);
  c.timer.cancel();
}

// Subscribers and idle connections: PINGREQ every keep alive / 2.
asio::awaitable<void> ping_loop(Conn& c) {
  auto period = std::chrono::milliseconds(c.worker.run.opt.keep_alive * 500);
  while (!c.closed) {
    c.timer.expires_after(period);
    auto op = c.timer.async_wait(kTuple);
    auto [ec] = co_await std::move(op);
    if (c.closed || c.worker.run.phase.load() == kClosing) break;
    if (ec) continue;
    auto wec = co_await write_all(c, lg::pingreq_packet());
    if (wec) break;
  }
}

asio::awaitable<void> wait_until_running(Conn& c) {
  while (c.worker.run.phase.load() == kConnecting) {
    c.timer.expires_after(std::chrono::milliseconds(2));
    auto op = c.timer.async_wait(kTuple);
    co_await std::move(op);
  }
}

// Closed loop: keep `inflight` messages (x subscribers) outstanding.
asio::awaitable<void> publish_closed(Conn& c) {
  Run& run = c.worker.run;
  auto& ps = *run.pubs[static_cast<std::size_t>(c.index)];
  const std::int64_t per = run.deliveries_per_message;
  const std::int64_t limit = static_cast<std::int64_t>(run.opt.inflight) * per;
  const std::int64_t stall_ns = 5'000'000'000;
  std::string buf;
  std::uint64_t seq = 0;
  std::uint16_t packet_id = 0;
  while (!c.closed && run.phase.load() == kRunning) {
    std::int64_t now = now_ns();
    if (now >= run.end_ns) break;
    std::int64_t room = (limit - ps.outstanding.load()) / per;
    if (room <= 0) {
      ps.waiting.store(true);
      std::int64_t before = ps.outstanding.load();
      room = (limit - before) / per;
      if (room <= 0) {
        c.timer.expires_at(at_ns(std::min(now + stall_ns, run.end_ns)));
        auto op = c.timer.async_wait(kTuple);
        auto [ec] = co_await std::move(op);
        ps.waiting.store(false);
        if (!ec && now_ns() < run.end_ns && ps.outstanding.load() == before) {
          // Nothing arrived for 5 s: the broker lost these; start over rather than hang.
          run.stalls.fetch_add(1);
          ps.outstanding.store(0);
        }
        continue;
      }
      ps.waiting.store(false);
    }
    room = std::min<std::int64_t>(room, 256);
    buf.clear();
    for (std::int64_t i = 0; i < room; ++i) {
      if (++packet_id == 0) packet_id = 1;
      append_message(run, c, buf, now_ns(), seq++, packet_id);
    }
    ps.outstanding.fetch_add(room * per);
    ps.sent.fetch_add(static_cast<std::uint64_t>(room), std::memory_order_relaxed);
    auto ec = co_await write_all(c, buf);
    if (ec) break;
  }
}

// Fixed rate: this publisher's share of --rate, each message stamped with its due time.
asio::awaitable<void> publish_rate(Conn& c) {
  Run& run = c.worker.run;
  auto& ps = *run.pubs[static_cast<std::size_t>(c.index)];
  const double interval = 1e9 * run.publishers / run.opt.rate;
  double next = static_cast<double>(run.start_ns) + c.index * (1e9 / run.opt.rate);
  std::string buf;
  std::uint64_t seq = 0;
  std::uint16_t packet_id = 0;
  while (!c.closed && run.phase.load() == kRunning) {
    std::int64_t now = now_ns();
    if (next >= static_cast<double>(run.end_ns)) break;
    if (next > static_cast<double>(now)) {
      c.timer.expires_at(at_ns(static_cast<std::int64_t>(next)));
      auto op = c.timer.async_wait(kTuple);
      co_await std::move(op);
      continue;
    }
    buf.clear();
    std::int64_t n = 0;
    while (next <= static_cast<double>(now) && next < static_cast<double>(run.end_ns) && n < 1000) {
      if (++packet_id == 0) packet_id = 1;
      append_message(run, c, buf, static_cast<std::int64_t>(next), seq++, packet_id);
      next += interval;
      ++n;
    }
    ps.outstanding.fetch_add(n * run.deliveries_per_message);
    ps.sent.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    auto ec = co_await write_all(c, buf);
    if (ec) break;
  }
}

void login_done(Conn& c) {
  Worker& w = c.worker;
  --w.pending;
  w.launch_timer.cancel();
}

// One connection from TCP connect to its end.
asio::awaitable<void> run_conn(Conn& c) {
  Run& run = c.worker.run;
  std::string error;
  try {
    auto cop = c.sock.async_connect(run.endpoint, kTuple);
    auto [cec] = co_await std::move(cop);
    if (cec) {
      error = "connect: " + cec.message();
    } else {
      c.sock.set_option(tcp::no_delay(true));
      std::string connect = lg::connect_packet(c.client_id, run.opt.login, c.cred->id,
                                               c.cred->auth,
                                               static_cast<std::uint16_t>(run.opt.keep_alive));
      auto ec = co_await write_all(c, connect);
      if (ec) error = "CONNECT: " + ec.message();
      if (error.empty()) {
        auto ack = co_await await_packet(c, lg::kConnack, error);
        if (ack && (ack->body_len < 2 || ack->body[1] != 0)) {
          error = connack_text(ack->body_len < 2 ? -1 : ack->body[1]);
        } else if (ack && c.role == Role::kSub) {
          std::string sub = lg::subscribe_packet(1, c.topic, 0);
          auto sec = co_await write_all(c, sub);
          if (sec) error = "SUBSCRIBE: " + sec.message();
          if (error.empty()) {
            auto suback = co_await await_packet(c, lg::kSuback, error);
            if (suback && (suback->body_len < 3 || suback->body[2] == 0x80)) {
              error = "SUBACK refused " + c.topic;
            }
          }
        }
      }
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  login_done(c);
  if (!error.empty()) {
    run.connect_failures.fetch_add(1);
    run.note(run.first_connect_error, error);
    boost::system::error_code ignored;
    c.sock.close(ignored);
    co_return;
  }
  c.logged_in = true;
  run.alive.fetch_add(1);
  run.logged_in.fetch_add(1);

  asio::co_spawn(c.sock.get_executor(), read_loop(c), asio::detached);
  if (c.role != Role::kPub) {
    co_await ping_loop(c);
    co_return;
  }
  co_await wait_until_running(c);
  if (run.opt.mode == Mode::kClosed) {
    co_await publish_closed(c);
  } else {
    co_await publish_rate(c);
  }
}

// Starts this worker's connections, at most max_pending logging in at once.
asio::awaitable<void> launch(Worker& w) {
  for (auto& c : w.conns) {
    while (w.pending >= w.max_pending) {
      w.launch_timer.expires_after(std::chrono::seconds(1));
      auto op = w.launch_timer.async_wait(kTuple);
      co_await std::move(op);
    }
    ++w.pending;
    asio::co_spawn(w.ctx, run_conn(c), asio::detached);
  }
}

void close_all(Worker& w) {
  for (auto& c : w.conns) {
    boost::system::error_code ec;
    if (c.logged_in && !c.closed) {
      auto d = lg::disconnect_packet();
      asio::write(c.sock, asio::buffer(d.data(), d.size()), ec);
    }
    c.closed = true;
    c.timer.cancel();
    c.sock.shutdown(tcp::socket::shutdown_both, ec);
    c.sock.close(ec);
  }
  w.launch_timer.cancel();
}

void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

std::uint64_t fd_limit() {
  rlimit lim{};
  return getrlimit(RLIMIT_NOFILE, &lim) == 0 ? lim.rlim_cur : 0;
}

void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

double round2(double v) { return static_cast<double>(static_cast<std::int64_t>(v * 100 + 0.5)) / 100; }

}  // namespace

int main(int argc, char** argv) {
  Run run;
  run.opt = parse_options(argc, argv);
  const Options& opt = run.opt;
  run.creds = read_creds(opt.creds);
  run.payload_pad.assign(static_cast<std::size_t>(opt.payload), 'x');
  raise_fd_limit();
  std::signal(SIGPIPE, SIG_IGN);

  // Roles.
  int n = opt.clients;
  switch (opt.scenario) {
    case Scenario::kFanIn: run.publishers = n; run.subscribers = 1; break;
    case Scenario::kFanOut: run.publishers = 1; run.subscribers = n; break;
    case Scenario::kPairs: run.publishers = n; run.subscribers = n; break;
    case Scenario::kIdle: break;
  }
  run.deliveries_per_message = opt.scenario == Scenario::kFanOut ? n : 1;
  int total = opt.scenario == Scenario::kIdle ? n : run.publishers + run.subscribers;
  if (static_cast<std::size_t>(run.publishers) > run.creds.size()) {
    usage_error(std::to_string(run.publishers) + " publishers need as many credentials; " +
                opt.creds + " has " + std::to_string(run.creds.size()));
  }
  std::uint64_t need_fds = static_cast<std::uint64_t>(total) + 64;
  if (fd_limit() < need_fds) {
    std::fprintf(stderr, "loadgen: %d connections need %llu file descriptors; the limit is %llu\n",
                 total, static_cast<unsigned long long>(need_fds),
                 static_cast<unsigned long long>(fd_limit()));
    return 2;
  }

  try {
    asio::io_context resolve_ctx;
    tcp::resolver resolver(resolve_ctx);
    auto results = resolver.resolve(opt.host, opt.port);
    run.endpoint = results.begin()->endpoint();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loadgen: cannot resolve %s:%s: %s\n", opt.host.c_str(), opt.port.c_str(),
                 e.what());
    return 2;
  }

  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned t = 0; t < opt.threads; ++t) {
    workers.push_back(std::make_unique<Worker>(run));
    workers.back()->max_pending =
        std::max(1, opt.connect_concurrency / static_cast<int>(opt.threads));
  }
  for (int i = 0; i < run.publishers; ++i) run.pubs.push_back(std::make_unique<PubState>());

  // Connections, round-robin over the workers: subscribers first, so that they are likely
  // subscribed before the publishers log in (publishing waits for every login anyway).
  std::string tag = std::to_string(getpid());
  std::size_t next_worker = 0;
  auto add_conn = [&](Role role, int index, std::size_t cred_index, std::string topic) {
    Worker& w = *workers[next_worker++ % workers.size()];
    Conn& c = w.conns.emplace_back(w, w.ctx);
    c.role = role;
    c.index = index;
    c.cred = &run.creds[cred_index % run.creds.size()];
    const char* r = role == Role::kPub ? "p" : role == Role::kSub ? "s" : "i";
    c.client_id = "lg" + tag + "-" + r + std::to_string(index);
    c.topic = std::move(topic);
    c.rbuf.resize(role == Role::kSub ? 65536 : role == Role::kPub ? 4096 : 256);
    if (role == Role::kPub) run.pubs[static_cast<std::size_t>(index)]->conn = &c;
  };
  auto data_topic = [&](std::size_t cred_index) {
    return run.creds[cred_index].id + "/data/t";
  };
  switch (opt.scenario) {
    case Scenario::kFanIn:
      add_conn(Role::kSub, 0, static_cast<std::size_t>(n), "+/data/t");
      for (int i = 0; i < n; ++i) add_conn(Role::kPub, i, static_cast<std::size_t>(i), data_topic(i));
      break;
    case Scenario::kFanOut:
      for (int i = 0; i < n; ++i) add_conn(Role::kSub, i, static_cast<std::size_t>(1 + i), "+/data/t");
      add_conn(Role::kPub, 0, 0, data_topic(0));
      break;
    case Scenario::kPairs:
      for (int i = 0; i < n; ++i) {
        add_conn(Role::kSub, i, static_cast<std::size_t>(n + i), data_topic(static_cast<std::size_t>(i)));
      }
      for (int i = 0; i < n; ++i) add_conn(Role::kPub, i, static_cast<std::size_t>(i), data_topic(i));
      break;
    case Scenario::kIdle:
      for (int i = 0; i < n; ++i) add_conn(Role::kIdle, i, static_cast<std::size_t>(i), "");
      break;
  }

  // Connect everything.
  auto t_connect = Clock::now();
  for (auto& w : workers) {
    asio::co_spawn(w->ctx, launch(*w), asio::detached);
    Worker* wp = w.get();
    w->thread = std::thread([wp] { wp->ctx.run(); });
  }
  bool connect_timed_out = false;
  for (;;) {
    int done = run.logged_in.load() + run.connect_failures.load();
    if (done >= total) break;
    if (std::chrono::duration<double>(Clock::now() - t_connect).count() > opt.connect_timeout) {
      connect_timed_out = true;
      break;
    }
    sleep_s(0.02);
  }
  double connect_s = std::chrono::duration<double>(Clock::now() - t_connect).count();
  int connected = run.logged_in.load();
  int failures = total - connected;
  if (connect_timed_out) run.note(run.first_connect_error, "timed out connecting");

  auto shutdown = [&] {
    run.phase.store(kClosing);
    for (auto& w : workers) {
      Worker* wp = w.get();
      asio::post(wp->ctx, [wp] { close_all(*wp); });
      wp->work.reset();
    }
    auto deadline = Clock::now() + std::chrono::seconds(3);
    for (auto& w : workers) {
      while (!w->ctx.stopped() && Clock::now() < deadline) sleep_s(0.01);
      w->ctx.stop();
      w->thread.join();
    }
  };

  if (failures > opt.max_connect_failures) {
    std::fprintf(stderr,
                 "loadgen: %d of %d connections to %s:%s failed to log in (more than %d allowed); "
                 "first error: %s\n",
                 failures, total, opt.host.c_str(), opt.port.c_str(), opt.max_connect_failures,
                 run.first_connect_error.c_str());
    shutdown();
    return 3;
  }
  if (!opt.ready_file.empty()) {
    std::ofstream(opt.ready_file) << "{\"connected\":" << connected << "}\n";
  }

  // Run.
  std::int64_t start = now_ns() + 10'000'000;
  run.start_ns = start;
  if (opt.scenario == Scenario::kIdle) {
    run.window_ns = start;
    run.end_ns = start + static_cast<std::int64_t>(opt.duration * 1e9);
  } else {
    run.window_ns = start + static_cast<std::int64_t>(opt.warmup * 1e9);
    run.end_ns = run.window_ns + static_cast<std::int64_t>(opt.duration * 1e9);
  }
  if (opt.timeline_ms > 0) {
    run.timeline_ns = static_cast<std::int64_t>(opt.timeline_ms * 1e6);
    auto slots = static_cast<std::size_t>(
        (run.end_ns - start + static_cast<std::int64_t>(opt.drain * 1e9)) / run.timeline_ns + 2);
    for (auto& w : workers) {
      w->stats.tl_count.assign(slots, 0);
      w->stats.tl_max_ns.assign(slots, 0);
    }
  }
  run.phase.store(kRunning);
  while (now_ns() < run.end_ns) sleep_s(0.05);
  int alive_at_end = run.alive.load();

  // Drain: wait for the deliveries still on their way.
  auto sent_total = [&] {
    std::uint64_t s = 0;
    for (auto& p : run.pubs) s += p->sent.load();
    return s;
  };
  auto delivered_total = [&] {
    std::uint64_t d = 0;
    for (auto& w : workers) d += w->stats.delivered.load();
    return d;
  };
  double drain_s = 0;
  if (opt.scenario != Scenario::kIdle) {
    auto t_drain = Clock::now();
    sleep_s(0.05);  // lets the publishers notice the end
    for (;;) {
      std::uint64_t expected = sent_total() * static_cast<std::uint64_t>(run.deliveries_per_message);
      bool acked = opt.qos == 0;
      if (!acked) {
        std::uint64_t a = 0;
        for (auto& p : run.pubs) a += p->pubacks.load();
        acked = a >= sent_total();
      }
      if (delivered_total() >= expected && acked) break;
      if (std::chrono::duration<double>(Clock::now() - t_drain).count() > opt.drain) break;
      sleep_s(0.01);
    }
    drain_s = std::chrono::duration<double>(Clock::now() - t_drain).count();
  }
  shutdown();

  // Report.
  std::uint64_t sent = sent_total();
  std::uint64_t expected = sent * static_cast<std::uint64_t>(run.deliveries_per_message);
  std::uint64_t delivered = 0, window = 0, bad = 0, pubacks = 0;
  lg::Histogram hist;
  for (auto& w : workers) {
    delivered += w->stats.delivered.load();
    window += w->stats.delivered_window;
    bad += w->stats.bad_payloads;
    hist.merge(w->stats.latency);
  }
  for (auto& p : run.pubs) pubacks += p->pubacks.load();
  std::int64_t loss = static_cast<std::int64_t>(expected) - static_cast<std::int64_t>(delivered);

  nlohmann::ordered_json j;
  j["scenario"] = opt.scenario_name;
  j["connections"] = total;
  j["connected"] = connected;
  j["connect_failures"] = failures;
  j["connect_s"] = round2(connect_s);
  if (opt.scenario == Scenario::kIdle) {
    j["held_s"] = opt.duration;
    j["connected_at_end"] = alive_at_end;
  } else {
    j["mode"] = opt.mode == Mode::kClosed ? "closed" : "rate";
    j["publishers"] = run.publishers;
    j["subscribers"] = run.subscribers;
    j["payload"] = opt.payload;
    j["qos"] = opt.qos;
    if (opt.mode == Mode::kClosed) j["inflight"] = opt.inflight;
    else j["rate"] = opt.rate;
    j["warmup_s"] = opt.warmup;
    j["duration_s"] = opt.duration;
    j["sent"] = sent;
    j["expected"] = expected;
    j["delivered"] = delivered;
    j["loss"] = loss;
    j["loss_pct"] = expected ? round2(100.0 * static_cast<double>(loss) / static_cast<double>(expected)) : 0.0;
    j["delivered_per_s"] = std::llround(static_cast<double>(window) / opt.duration);
    j["latency_p50_us"] = round2(hist.quantile(0.50) / 1000);
    j["latency_p99_us"] = round2(hist.quantile(0.99) / 1000);
    j["latency_p999_us"] = round2(hist.quantile(0.999) / 1000);
    j["latency_max_us"] = round2(static_cast<double>(hist.max()) / 1000);
    j["latency_mean_us"] = round2(hist.mean() / 1000);
    j["drain_s"] = round2(drain_s);
    if (opt.qos > 0) j["pubacks"] = pubacks;
    j["stalls"] = run.stalls.load();
    j["bad_payloads"] = bad;
  }
  j["disconnects"] = run.disconnects.load();
  j["threads"] = opt.threads;
  if (!run.first_connect_error.empty()) j["first_connect_error"] = run.first_connect_error;
  if (!run.first_disconnect_error.empty()) j["first_disconnect_error"] = run.first_disconnect_error;

  if (run.timeline_ns > 0) {
    // [ms since the start, deliveries, worst latency us] per interval with any delivery.
    nlohmann::json tl = nlohmann::json::array();
    std::size_t slots = workers.front()->stats.tl_count.size();
    for (std::size_t i = 0; i < slots; ++i) {
      std::uint64_t cnt = 0, worst = 0;
      for (auto& w : workers) {
        cnt += w->stats.tl_count[i];
        worst = std::max(worst, w->stats.tl_max_ns[i]);
      }
      if (cnt == 0) continue;
      tl.push_back({round2(static_cast<double>(i) * opt.timeline_ms), cnt,
                    round2(static_cast<double>(worst) / 1000)});
    }
    j["timeline"] = std::move(tl);
  }

  FILE* text = opt.json ? stderr : stdout;
  for (auto& [k, v] : j.items()) {
    if (k == "timeline") {
      std::fprintf(text, "timeline:              ms since start, deliveries, worst latency us\n");
      for (const auto& row : v) {
        std::fprintf(text, "  %10.1f %10s %12.1f\n", row[0].get<double>(),
                     row[1].dump().c_str(), row[2].get<double>());
      }
      continue;
    }
    std::string s = v.is_string() ? v.get<std::string>() : v.dump();
    std::fprintf(text, "%-22s %s\n", (k + ":").c_str(), s.c_str());
  }
  if (opt.json) std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
  std::fflush(stderr);
  return 0;
}
