// http_bench: the REST API of a running `plugmq serve` (SPEC 10): history reads among many
// records, and HTTP publishes per second.
//
// Build (Release) and run:
//   cmake --preset release && cmake --build --preset release --target http_bench plugmq
//   build/release/bench/http_bench --plugmq build/release/plugmq [--records N] [--dir DIR]
//       [--queries Q] [--connections C] [--seconds S] [--batch B]
//
// Defaults: N = 10,000,000, Q = 1000, C = 8, S = 10, B = 100. The database is prepared once:
// an account (retention 0, so the sweeper leaves the records alone), 1,000 prototypes, and N
// records, 1,000 devices x 10 channels round-robin, 64-byte JSON payloads, `at` 1 ms apart (as
// store_bench). Without --dir it is made in a new temporary directory, removed at the end; a
// --dir DIR is kept, and a later run with the same DIR and N reuses it (the publishes of each
// run add to it).
//
// Then it starts the server on that directory (port 0, ready file), and measures, over
// keep-alive connections with the Boost.Beast synchronous client:
//   1. GET /iot/data/sensor/temp?of=DEVICE&limit=100 as that device: the newest 100 records of
//      one channel of one device, among N; median and p99 latency of Q requests.
//   2. GET /iot/data/sensor/temp?limit=100 with the account's Basic credentials: the same
//      channel of any of the account's 1,000 devices (no `of`: every device it may read).
//   3. PUT /iot/data/bench {"data":...} from C connections (a device each) for S seconds:
//      publishes/s; each is answered once its record is committed.
//   4. the same with arrays of B records per PUT: records/s.
// Prints a table, then one JSON line with every figure.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "plugmq/http/parse.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/payload.hpp"
#include "plugmq/store/data.hpp"
#include "plugmq/store/db.hpp"
#include "plugmq/store/identity.hpp"

namespace {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr int kDevices = 1000;
constexpr int kBatch = 8192;
const char* const kChannels[] = {"sensor/temp", "sensor/hum", "sensor/press", "sensor/light",
                                 "sensor/co2",  "power/volt", "power/amp",    "power/watt",
                                 "state/door",  "state/alarm"};
constexpr int kChannelCount = sizeof kChannels / sizeof kChannels[0];
constexpr const char* kEmail = "bench@example.com";
constexpr const char* kPassword = "bench-password";

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Options {
  std::string plugmq;
  std::int64_t records = 10'000'000;
  std::string dir;
  int queries = 1000;
  int connections = 8;
  double seconds = 10;
  int batch = 100;
};

struct Device {
  std::string id, auth;
};

// The account, its devices (id and auth code) and the records, created once per directory.
std::vector<Device> prepare(const fs::path& dir, std::int64_t records) {
  const fs::path db_file = dir / "plugmq.db";
  const fs::path creds = dir / "bench-devices.json";
  if (fs::exists(creds)) {
    std::ifstream in(creds);
    const json j = json::parse(in);
    std::vector<Device> out;
    for (const auto& d : j["devices"]) out.push_back({d["id"], d["auth"]});
    if (j["records"] == records) {
      std::printf("reusing the prepared database in %s\n", dir.c_str());
      return out;
    }
    throw std::runtime_error("the database in " + dir.string() + " holds " +
                             j["records"].dump() + " records, not " + std::to_string(records));
  }
  auto db = plugmq::store::Db::open(db_file);
  plugmq::store::Identity ids(db);
  const auto account = ids.add_account(kEmail, kPassword, 0).value();
  std::vector<Device> devices;
  db.transaction([&] {
    for (int i = 0; i < kDevices; ++i) {
      auto nd = ids.add_prototype(account.id, "bench-" + std::to_string(i)).value();
      devices.push_back({nd.device.id, nd.auth});
    }
  });
  plugmq::store::DataStore data(db);
  std::mt19937_64 rng{7};
  const std::int64_t base = plugmq::platform::now_ms() - records;  // the newest is now
  std::vector<plugmq::platform::Record> batch;
  const auto t0 = Clock::now();
  for (std::int64_t k = 0; k < records;) {
    batch.clear();
    for (; k < records && std::ssize(batch) < kBatch; ++k) {
      plugmq::platform::Record r;
      r.of = devices[k % kDevices].id;
      r.channel = kChannels[(k / kDevices) % kChannelCount];
      r.at = base + k;
      r.id = plugmq::platform::new_oid(r.at / 1000);  // as the server makes it
      char buf[80];
      const int n = std::snprintf(buf, sizeof buf, R"({"v":%.3f,"unit":"C","seq":%lld,"pad":")",
                                  static_cast<double>(rng() % 100000) / 1000.0,
                                  static_cast<long long>(k % 1000000));
      std::string d(buf, static_cast<std::size_t>(n));
      d.append(62 - d.size(), 'x');
      d += "\"}";
      r.data_json = std::move(d);
      batch.push_back(std::move(r));
    }
    db.transaction([&] {
      for (const auto& r : batch) data.insert(r);
    });
    if ((k / kBatch) % 128 == 0 || k == records) {
      db.exec("PRAGMA wal_checkpoint(PASSIVE)");
      std::printf("\rloading: %lld of %lld records (%.0f/s)   ", static_cast<long long>(k),
                  static_cast<long long>(records), k / seconds_since(t0));
      std::fflush(stdout);
    }
  }
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  std::printf("\n");
  json j;
  j["records"] = records;
  for (const auto& d : devices) j["devices"].push_back({{"id", d.id}, {"auth", d.auth}});
  std::ofstream(creds) << j.dump();
  return devices;
}

// `plugmq serve` on `dir`, every listener on a free port.
struct ServerProcess {
  pid_t pid = -1;
  int http_port = 0;

  ServerProcess(const std::string& bin, const fs::path& dir) {
    const fs::path ready = dir / "bench-ready.json";
    fs::remove(ready);
    const std::string data_dir = dir.string(), ready_file = ready.string();
    pid = fork();
    if (pid == 0) {
      execl(bin.c_str(), bin.c_str(), "serve", "--data-dir", data_dir.c_str(), "--mqtt",
            "127.0.0.1:0", "--http", "127.0.0.1:0", "--https", "off", "--ready-file",
            ready_file.c_str(), "--log-level", "warn", static_cast<char*>(nullptr));
      std::perror("exec plugmq");
      _exit(127);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (!fs::exists(ready)) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) throw std::runtime_error("plugmq serve exited");
      if (Clock::now() > deadline) throw std::runtime_error("no ready file after 120 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::ifstream in(ready);
    http_port = json::parse(in)["http"].get<int>();
  }
  ~ServerProcess() {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
  }
};

// One keep-alive connection.
class Client {
 public:
  explicit Client(int port) : stream_(ioc_) {
    stream_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                            static_cast<unsigned short>(port)));
    stream_.socket().set_option(asio::ip::tcp::no_delay(true));
  }
  // The response status; its body in `out` when given.
  int request(bhttp::verb verb, const std::string& target,
              const std::vector<std::pair<std::string, std::string>>& headers,
              const std::string& body = {}, std::string* out = nullptr) {
    bhttp::request<bhttp::string_body> req{verb, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty()) {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    bhttp::write(stream_, req);
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream_, buffer_, res);
    if (out) *out = std::move(res.body());
    return res.result_int();
  }

 private:
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
};

struct Latency {
  double median_us = 0, p99_us = 0;
};

Latency latency(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

// Q reads of `target` (one warm-up pass first), checking each returns 100 records.
Latency reads(int port, const std::string& target,
              const std::vector<std::pair<std::string, std::string>>& headers, int queries) {
  Client c(port);
  std::vector<double> us;
  std::string body;
  for (int i = 0; i < queries + 10; ++i) {
    const auto t = Clock::now();
    const int status = c.request(bhttp::verb::get, target, headers, {}, &body);
    const double spent = seconds_since(t) * 1e6;
    if (status != 200) throw std::runtime_error(target + ": status " + std::to_string(status));
    if (i == 0 && json::parse(body).size() != 100) {
      throw std::runtime_error(target + ": expected 100 records, got " + body.substr(0, 200));
    }
    if (i >= 10) us.push_back(spent);
  }
  return latency(std::move(us));
}

// C connections publishing for S seconds; returns records per second.
double publishes(int port, const std::vector<Device>& devices, const Options& o, int per_call) {
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> records{0};
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  const auto t0 = Clock::now();
  for (int c = 0; c < o.connections; ++c) {
    threads.emplace_back([&, c] {
      try {
        Client client(port);
        const auto& d = devices[c % devices.size()];
        const std::vector<std::pair<std::string, std::string>> h = {{"X-Plug-Id", d.id},
                                                                     {"X-Plug-Auth", d.auth}};
        for (std::int64_t i = 0; !stop; ++i) {
          std::string body;
          if (per_call == 1) {
            body = R"({"data":{"v":)" + std::to_string(i) + R"(,"unit":"C"}})";
          } else {
            body = "[";
            for (int k = 0; k < per_call; ++k) {
              if (k) body += ',';
              body += R"({"data":{"v":)" + std::to_string(i * per_call + k) + R"(,"unit":"C"}})";
            }
            body += "]";
          }
          if (client.request(bhttp::verb::put, "/iot/data/bench", h, body) != 200) {
            failures++;
            return;
          }
          records += per_call;
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "publisher %d: %s\n", c, e.what());
        failures++;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  stop = true;
  for (auto& t : threads) t.join();
  if (failures) throw std::runtime_error("publishers failed");
  return records / seconds_since(t0);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--plugmq") o.plugmq = value();
    else if (a == "--records") o.records = std::stoll(value());
    else if (a == "--dir") o.dir = value();
    else if (a == "--queries") o.queries = std::stoi(value());
    else if (a == "--connections") o.connections = std::stoi(value());
    else if (a == "--seconds") o.seconds = std::stod(value());
    else if (a == "--batch") o.batch = std::stoi(value());
    else if (a == "--help") {
      std::printf("usage: http_bench --plugmq BIN [--records N] [--dir DIR] "
                  "[--queries Q] [--connections C] [--seconds S] [--batch B]\n");
      std::exit(0);
    } else {
      throw std::runtime_error("unknown option " + a);
    }
  }
  if (o.plugmq.empty()) throw std::runtime_error("--plugmq BIN is required");
  if (o.records < kDevices * kChannelCount * 100) {
    throw std::runtime_error("--records must be at least 1000000 (100 per series)");
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    fs::path dir = o.dir.empty() ? fs::temp_directory_path() /
                                       ("plugmq-http-bench-" + plugmq::platform::new_oid())
                                 : fs::path(o.dir);
    fs::create_directories(dir);
    const bool remove = o.dir.empty();
    auto devices = prepare(dir, o.records);

    json figures;
    {
      ServerProcess server(o.plugmq, dir);
      const int port = server.http_port;
      const auto& dev = devices[123];
      const auto of_one = reads(port, "/iot/data/sensor/temp?of=" + dev.id + "&limit=100",
                                {{"X-Plug-Id", dev.id}, {"X-Plug-Auth", dev.auth}}, o.queries);
      const auto any = reads(
          port, "/iot/data/sensor/temp?limit=100",
          {{"Authorization", plugmq::http::basic_authorization(kEmail, kPassword)}}, o.queries);
      const double single = publishes(port, devices, o, 1);
      const double batched = publishes(port, devices, o, o.batch);

      std::printf("\n%lld records, %d devices x %d channels\n", static_cast<long long>(o.records),
                  kDevices, kChannelCount);
      std::printf("GET last 100 of one channel, of one device:  median %.0f us, p99 %.0f us\n",
                  of_one.median_us, of_one.p99_us);
      std::printf("GET last 100 of one channel, any of 1000:    median %.0f us, p99 %.0f us\n",
                  any.median_us, any.p99_us);
      std::printf("PUT one record per request, %d connections:  %.0f publishes/s\n",
                  o.connections, single);
      std::printf("PUT %d records per request, %d connections: %.0f records/s\n", o.batch,
                  o.connections, batched);
      figures = {{"records", o.records},
                 {"get_of_one_median_us", of_one.median_us},
                 {"get_of_one_p99_us", of_one.p99_us},
                 {"get_any_median_us", any.median_us},
                 {"get_any_p99_us", any.p99_us},
                 {"connections", o.connections},
                 {"publishes_per_s", static_cast<std::int64_t>(single)},
                 {"batch", o.batch},
                 {"batched_records_per_s", static_cast<std::int64_t>(batched)}};
    }
    std::printf("%s\n", figures.dump().c_str());
    if (remove) fs::remove_all(dir);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "http_bench: %s\n", e.what());
    return 1;
  }
}
