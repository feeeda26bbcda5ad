// store_bench: how fast the data store ingests, reads history and sweeps (SPEC 7).
//
// Build (Release) and run:
//   cmake -S . -B build/rel -G Ninja -DCMAKE_BUILD_TYPE=Release -DPLUGMQ_TESTS=OFF
//   cmake --build build/rel --target store_bench
//   build/rel/bench/store_bench [--records N] [--history-records M] [--queries Q]
//                               [--sweep-records S] [--batch B] [--checkpoint thread|inline]
//                               [--pragmas SQL] [--epoch E] [--channels C] [--qos Q] [--dir DIR]
//                               [--keep]
//
// Defaults: N = 2,000,000, M = 10,000,000, Q = 1000, S = 1,000,000 (at most M). Use e.g.
// --records 200000 --history-records 500000 for a quick run. Databases are created in a fresh
// temporary directory (or DIR), with Db::open's settings (WAL, synchronous=NORMAL), and removed
// at the end unless --keep. --checkpoint inline leaves WAL checkpoints to SQLite in the
// committing thread (its default); the default "thread" checkpoints from another thread, as
// the server's writer should. --pragmas runs SQL on the bench connections (e.g. a cache_size).
// --epoch sets the records per epoch of the per-series index (DataStore::kEpochRecords).
// --channels C (at least 10) publishes on C channels instead of 10: the 10 named ones, then
// "extra/10" and on (1,000 x C series; the table has one insertion point per channel).
// --qos Q stores the records with publish QoS Q (default 0, as the seed's devices publish;
// records of QoS 1 and 2 also store their position for persistent sessions' replay).
//
// What it measures, with realistic data (1,000 devices x 10 channels, 64-byte JSON payloads,
// `at` increasing by 1 ms per record, expire_at = at + 30 days, OIDs made as the server makes
// them, in the second of `at`):
//   1. ingest: DataStore::insert in transactions of 8192 records (the writer's batch), N
//      records into an empty database; records/s counts only the inserts and commits.
//   2. history reads on a database of M records, warm cache: the newest 100 records of one
//      channel, exact mask, of one (random) device and of any device; median and p99 of Q.
//      And of all 1,000 devices listed (q.of), as an account reads over HTTP.
//   3. the same with a '+' mask ("sensor/+": 5 of the 10 channels).
//   4. delete_expired in batches of 2000 (the writer's sweep batch), S records; rows/s.
// Prints a table, then one JSON line with every figure.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/payload.hpp"
#include "plugmq/store/data.hpp"
#include "plugmq/store/db.hpp"
#include "store_bench_common.hpp"

namespace {

namespace fs = std::filesystem;
using plugmq::platform::Record;
using plugmq::store::DataQuery;
using plugmq::store::DataStore;
using plugmq::store::Db;
using namespace plugmq::bench;  // NOLINT(google-build-using-namespace): the benches' own

int kBatch = 8192;  // --batch
constexpr std::size_t kSweepBatch = 2000;
constexpr std::int64_t kThirtyDaysMs = 30LL * 86'400'000;
int kChannelCount = kNamedChannels;  // --channels: the named ones, then "extra/N"
int kQos = 0;                        // --qos

// Record k of a load: devices round-robin, then channels, so every (device, channel) pair
// grows at the same pace and is interleaved with all the others (the worst case for the
// per-channel index: 10,000 insertion points).
struct Generator {
  std::vector<std::string> devices;
  std::vector<std::string> channels;
  std::int64_t base_ms = plugmq::platform::now_ms();
  std::mt19937_64 rng{7};

  Generator() {
    for (int i = 0; i < kDevices; ++i) devices.push_back(device_id(i));
    for (int i = 0; i < kChannelCount; ++i) {
      channels.push_back(i < kNamedChannels ? kChannels[i] : "extra/" + std::to_string(i));
    }
  }

  Record make(std::int64_t k) {
    Record r;
    r.of = devices[k % kDevices];
    r.channel = channels[(k / kDevices) % kChannelCount];
    r.at = base_ms + k;
    // As the server stamps them: the OID in the second of `at` (service/publish.cpp).
    r.id = plugmq::platform::new_oid(r.at / 1000);
    r.expire_at = r.at + kThirtyDaysMs;
    r.qos = kQos;
    // 64 bytes of JSON.
    char buf[80];
    const int n = std::snprintf(buf, sizeof buf, R"({"v":%.3f,"unit":"C","seq":%lld,"pad":")",
                                static_cast<double>(rng() % 100000) / 1000.0,
                                static_cast<long long>(k % 1000000));
    std::string data(buf, static_cast<std::size_t>(n));
    data.append(62 - data.size(), 'x');
    data += "\"}";
    r.data_json = std::move(data);
    return r;
  }
};

// Inserts `n` records in transactions of kBatch; returns the seconds spent in inserts and
// commits (generating the records is not counted).
double load(Db& db, DataStore& data, Generator& gen, std::int64_t n) {
  double spent = 0;
  std::vector<Record> batch;
  batch.reserve(kBatch);
  for (std::int64_t k = 0; k < n;) {
    batch.clear();
    for (; k < n && std::ssize(batch) < kBatch; ++k) batch.push_back(gen.make(k));
    const auto t = Clock::now();
    db.transaction([&] {
      for (const auto& r : batch) data.insert(r);
    });
    spent += seconds_since(t);
  }
  return spent;
}

// Passive checkpoints from a connection and thread of their own, every 500 ms, while alive.
class Checkpointer {
 public:
  Checkpointer(const fs::path& file, bool on) {
    if (!on) return;
    thread_ = std::thread([this, file] {
      Db db = Db::open(file);
      std::unique_lock lock(mu_);
      while (!cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stop_; })) {
        lock.unlock();
        db.exec("PRAGMA wal_checkpoint(PASSIVE)");
        lock.lock();
      }
    });
  }
  ~Checkpointer() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

struct Latency {
  double median_us = 0;
  double p99_us = 0;
  std::size_t rows = 0;  // rows returned by the last query (sanity)
};

template <class MakeQuery>
Latency measure(DataStore& data, int queries, MakeQuery make) {
  std::mt19937 rng(11);
  // Warm up: the same kind of queries, not timed.
  for (int i = 0; i < std::min(queries, 200); ++i) data.query(make(rng));
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(queries));
  Latency out;
  for (int i = 0; i < queries; ++i) {
    const DataQuery q = make(rng);
    const auto t = Clock::now();
    const auto rows = data.query(q);
    us.push_back(seconds_since(t) * 1e6);
    out.rows = rows.size();
  }
  std::sort(us.begin(), us.end());
  out.median_us = us[us.size() / 2];
  out.p99_us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (flag(argc, argv, "help")) {
    std::printf(
        "usage: store_bench [--records N] [--history-records M] [--queries Q] "
        "[--sweep-records S] [--batch B] [--checkpoint thread|inline] [--pragmas SQL] "
        "[--epoch E] [--channels C] [--qos Q] [--dir DIR] [--keep]\n");
    return 0;
  }
  const long long records = arg(argc, argv, "records", 2'000'000);
  const long long history = arg(argc, argv, "history-records", 10'000'000);
  const int queries = static_cast<int>(arg(argc, argv, "queries", 1000));
  const long long sweep = std::min(arg(argc, argv, "sweep-records", 1'000'000), history);
  const bool keep = flag(argc, argv, "keep");
  kBatch = static_cast<int>(arg(argc, argv, "batch", kBatch));
  kChannelCount = static_cast<int>(arg(argc, argv, "channels", kNamedChannels));
  kQos = static_cast<int>(arg(argc, argv, "qos", 0));
  const std::string pragmas = arg_text(argc, argv, "pragmas");
  const long long epoch = arg(argc, argv, "epoch", DataStore::kEpochRecords);
  const bool inline_checkpoint = arg_text(argc, argv, "checkpoint") == "inline";
  auto tune = [&](Db& db) {
    // Checkpoints copy the WAL into the database and fsync it; done by the committing thread
    // (SQLite's default, every 1000 pages) they halve ingest on this disk. By default the
    // bench does what a writer should: no automatic checkpoints on the ingest connection, a
    // passive checkpoint every 500 ms from another connection and thread.
    if (!inline_checkpoint) db.exec("PRAGMA wal_autocheckpoint=0");
    if (!pragmas.empty()) db.exec(pragmas);
  };
  if (records <= 0 || history <= 0 || queries <= 0 || sweep < 0 || epoch <= 0 ||
      kChannelCount < kNamedChannels || kQos < 0 || kQos > 2) {
    std::fprintf(stderr,
                 "store_bench: counts must be positive, --channels at least 10, --qos 0 to 2\n");
    return 2;
  }

  fs::path dir = arg_text(argc, argv, "dir");
  if (dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "plugmq-store-bench-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = tmpl;
  } else {
    fs::create_directories(dir);
  }
  std::fprintf(stderr, "store_bench: databases in %s\n", dir.c_str());

  // 1. Ingest into an empty database.
  double insert_rate = 0;
  {
    fs::remove(dir / "ingest.db");
    Db db = Db::open(dir / "ingest.db");
    DataStore data(db, epoch);
    tune(db);
    Checkpointer ckpt(dir / "ingest.db", !inline_checkpoint);
    Generator gen;
    const double s = load(db, data, gen, records);
    insert_rate = static_cast<double>(records) / s;
    std::fprintf(stderr, "ingest: %lld records in %.2f s\n", records, s);
  }

  // 2-4. History of M records.
  fs::remove(dir / "history.db");
  Db db = Db::open(dir / "history.db");
  DataStore data(db, epoch);
  tune(db);
  Generator gen;
  const auto load_start = Clock::now();
  double load_insert_s = 0;
  {
    Checkpointer ckpt(dir / "history.db", !inline_checkpoint);
    load_insert_s = load(db, data, gen, history);
  }
  const double load_wall_s = seconds_since(load_start);
  std::fprintf(stderr, "history: %lld records loaded in %.1f s\n", history, load_wall_s);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const auto db_bytes = fs::file_size(dir / "history.db");

  auto random_device = [&](std::mt19937& rng) { return gen.devices[rng() % kDevices]; };
  const Latency exact_of = measure(data, queries, [&](std::mt19937& rng) {
    DataQuery q;
    q.mask = "sensor/temp";
    q.of = {random_device(rng)};
    return q;
  });
  const Latency exact_any = measure(data, queries, [&](std::mt19937&) {
    DataQuery q;
    q.mask = "sensor/temp";
    return q;
  });
  // As an account reads over HTTP: every one of its devices listed (q.of).
  const Latency exact_all = measure(data, queries, [&](std::mt19937&) {
    DataQuery q;
    q.mask = "sensor/temp";
    q.of = gen.devices;
    return q;
  });
  const Latency plus_of = measure(data, queries, [&](std::mt19937& rng) {
    DataQuery q;
    q.mask = "sensor/+";
    q.of = {random_device(rng)};
    return q;
  });
  const Latency plus_any = measure(data, queries, [&](std::mt19937&) {
    DataQuery q;
    q.mask = "sensor/+";
    return q;
  });

  // 4. Sweep the S oldest records: they expire first (expire_at grows with at).
  double sweep_rate = 0;
  if (sweep > 0) {
    const std::int64_t now = gen.base_ms + (sweep - 1) + kThirtyDaysMs;
    std::size_t deleted = 0;
    const auto t = Clock::now();
    for (;;) {
      const std::size_t n = data.delete_expired(now, kSweepBatch);
      deleted += n;
      if (n < kSweepBatch) break;
    }
    const double s = seconds_since(t);
    sweep_rate = static_cast<double>(deleted) / s;
    if (static_cast<long long>(deleted) != sweep) {
      std::fprintf(stderr, "store_bench: swept %zu records, expected %lld\n", deleted, sweep);
      return 1;
    }
  }

  std::printf("store_bench (SQLite %s)\n", sqlite3_libversion());
  std::printf("  ingest, %lld records, batches of %d        %12.0f records/s\n", records, kBatch,
              insert_rate);
  std::printf("  history load, %lld records                %12.0f records/s (%.1f bytes/record)\n",
              history, static_cast<double>(history) / load_insert_s,
              static_cast<double>(db_bytes) / static_cast<double>(history));
  std::printf("  last 100 of one channel, among %lld records  median      p99   (us)\n", history);
  auto row = [](const char* what, const Latency& l) {
    std::printf("    %-34s %9.1f %9.1f   (%zu rows)\n", what, l.median_us, l.p99_us, l.rows);
  };
  row("exact mask, of one device", exact_of);
  row("exact mask, any device", exact_any);
  row("exact mask, of all 1,000 devices", exact_all);
  row("'+' mask (5 channels), of one device", plus_of);
  row("'+' mask (5 channels), any device", plus_any);
  std::printf("  delete_expired, %lld records, batches of %zu %12.0f records/s\n", sweep,
              kSweepBatch, sweep_rate);
  std::printf(
      "{\"records\":%lld,\"insert_per_s\":%.0f,\"history_records\":%lld,"
      "\"history_load_per_s\":%.0f,\"bytes_per_record\":%.1f,"
      "\"exact_of_median_us\":%.1f,\"exact_of_p99_us\":%.1f,"
      "\"exact_any_median_us\":%.1f,\"exact_any_p99_us\":%.1f,"
      "\"exact_all_median_us\":%.1f,\"exact_all_p99_us\":%.1f,"
      "\"plus_of_median_us\":%.1f,\"plus_of_p99_us\":%.1f,"
      "\"plus_any_median_us\":%.1f,\"plus_any_p99_us\":%.1f,"
      "\"sweep_records\":%lld,\"sweep_per_s\":%.0f}\n",
      records, insert_rate, history, static_cast<double>(history) / load_insert_s,
      static_cast<double>(db_bytes) / static_cast<double>(history), exact_of.median_us,
      exact_of.p99_us, exact_any.median_us, exact_any.p99_us, exact_all.median_us, exact_all.p99_us,
      plus_of.median_us, plus_of.p99_us, plus_any.median_us, plus_any.p99_us, sweep, sweep_rate);

  if (!keep) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return 0;
}
