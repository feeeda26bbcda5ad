// replay_bench: how fast the store replays what a persistent session missed (SPEC 11).
//
// Build (Release) and run:
//   cmake --preset release && cmake --build --preset release --target replay_bench
//   build/release/bench/replay_bench [--records N] [--limits L1,L2,...] [--epoch E] [--dir DIR]
//                                    [--keep]
//
// Defaults: N = 1,000,000, limits 1000,10000. It stores N records of QoS 1 (1,000 devices of
// one account x 10 channels, 64-byte JSON payloads, `at` 1 ms apart, devices round-robin: the
// store_bench load, in which every series has a run of one record per transaction, the most run
// rows a replay can read), in transactions of 8192, then replays them:
//   1. a "#" session from position 0 to the last, in chunks of each limit L
//      (DataStore::replay with after_seq = the last seq of the previous chunk and a
//      ReplayCursor), and in chunks of the last limit without a cursor; records/s;
//   2. sessions with narrower filters, "+/data/sensor/temp" (one channel of every device,
//      N/10 records) and "DEV/data/#" (one device, N/1000 records), chunks of the first limit,
//      with a cursor;
//   3. replay_count of the "#" session capped at N (what `plugmq session list` shows).
// It checks that every replay returns each record once, in seq order. Prints a table, then one
// JSON line with every figure.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/payload.hpp"
#include "plugmq/store/data.hpp"
#include "plugmq/store/db.hpp"
#include "store_bench_common.hpp"

namespace {

namespace fs = std::filesystem;
using plugmq::platform::Record;
using plugmq::store::DataStore;
using plugmq::store::Db;
using plugmq::store::ReplayQuery;
using namespace plugmq::bench;  // NOLINT(google-build-using-namespace): the benches' own

constexpr int kBatch = 8192;
constexpr const char* kAccount = "com-000000000000000000000001";
constexpr int kChannelCount = kNamedChannels;

// The account and its devices, straight into their tables (a bench does not need their secrets).
void add_devices(Db& db) {
  db.transaction([&] {
    db.exec(std::string("INSERT INTO accounts (id, email, password_hash, created_at) VALUES ('") +
            kAccount + "', 'bench@example.com', 'x', 0)");
    auto add = db.prepare(
        "INSERT INTO devices (id, account_id, kind, perm, auth_hash, created_at) "
        "VALUES (?1, ?2, 'prototype', '{}', 'x', 0)");
    for (int i = 0; i < kDevices; ++i) {
      auto use = add.use();
      add.bind(1, device_id(i));
      add.bind(2, kAccount);
      add.step();
    }
  });
}

Record make(std::int64_t k, std::int64_t base_ms) {
  Record r;
  r.of = device_id(static_cast<int>(k % kDevices));
  r.channel = kChannels[(k / kDevices) % kChannelCount];
  r.at = base_ms + k;
  r.id = plugmq::platform::new_oid(r.at / 1000);
  r.qos = 1;
  char buf[80];
  const int n = std::snprintf(buf, sizeof buf, R"({"v":%lld,"unit":"C","pad":")",
                              static_cast<long long>(k % 100000));
  std::string data(buf, static_cast<std::size_t>(n));
  data.append(62 - data.size(), 'x');
  data += "\"}";
  r.data_json = std::move(data);
  return r;
}

void load(Db& db, DataStore& data, std::int64_t n) {
  const std::int64_t base = plugmq::platform::now_ms();
  std::vector<Record> batch;
  for (std::int64_t k = 0; k < n;) {
    batch.clear();
    for (; k < n && static_cast<int>(batch.size()) < kBatch; ++k) batch.push_back(make(k, base));
    db.transaction([&] {
      for (const auto& r : batch) data.insert(r);
    });
  }
}

struct Replayed {
  std::int64_t records = 0;
  std::int64_t chunks = 0;
  double seconds = 0;
  bool ordered = true;
  double per_s() const { return seconds > 0 ? static_cast<double>(records) / seconds : 0; }
};

// Replays `filters` from position 0 to `upto` in chunks of `limit`, with a ReplayCursor (as a
// session replaying chunk by chunk should) or without.
Replayed replay_all(DataStore& data, std::vector<std::string> filters, std::int64_t upto,
                    std::int64_t limit, bool with_cursor = true) {
  ReplayQuery q;
  q.account_id = kAccount;
  q.filters = std::move(filters);
  q.upto_seq = upto;
  q.limit = limit;
  Replayed out;
  plugmq::store::ReplayCursor cursor;
  const auto t = Clock::now();
  for (;;) {
    const auto chunk = with_cursor ? data.replay(q, cursor) : data.replay(q);
    if (chunk.empty()) break;
    ++out.chunks;
    for (const auto& r : chunk) {
      if (r.seq <= q.after_seq) out.ordered = false;
      q.after_seq = r.seq;
    }
    out.records += static_cast<std::int64_t>(chunk.size());
  }
  out.seconds = seconds_since(t);
  return out;
}

fs::path make_dir(const std::string& given) {
  if (!given.empty()) {
    fs::create_directories(given);
    return given;
  }
  std::string tmpl = (fs::temp_directory_path() / "plugmq-replay-bench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return tmpl;
}

// Runs every replay of the bench over `records` records stored, up to position `upto`; prints
// a line per figure and appends them to `json`. False when a replay returned other records
// than those stored.
bool run_replays(DataStore& data, long long records, std::int64_t upto,
                 const std::vector<long long>& limits, std::string& json) {
  bool ok = true;
  auto report = [&](const std::string& what, const std::string& key, const Replayed& r,
                    long long expected) {
    std::printf("  %-44s %9lld records %6lld chunks %10.0f records/s\n", what.c_str(),
                static_cast<long long>(r.records), static_cast<long long>(r.chunks), r.per_s());
    json += ",\"" + key + "_per_s\":" + std::to_string(static_cast<long long>(r.per_s()));
    if (r.records != expected || !r.ordered) {
      std::fprintf(stderr, "replay_bench: %s returned %lld records (expected %lld)%s\n",
                   what.c_str(), static_cast<long long>(r.records), expected,
                   r.ordered ? "" : ", out of order");
      ok = false;
    }
  };
  for (long long limit : limits) {
    report("\"#\", chunks of " + std::to_string(limit), "all_limit_" + std::to_string(limit),
           replay_all(data, {"#"}, upto, limit), records);
  }
  const long long last = limits.back();
  report("\"#\", chunks of " + std::to_string(last) + ", no cursor",
         "all_no_cursor_limit_" + std::to_string(last), replay_all(data, {"#"}, upto, last, false),
         records);
  // How many of the records make() gives match.
  auto expected = [&](auto matches) {
    long long n = 0;
    for (long long k = 0; k < records; ++k) n += matches(k) ? 1 : 0;
    return n;
  };
  report("\"+/data/sensor/temp\", chunks of " + std::to_string(limits[0]), "one_channel",
         replay_all(data, {"+/data/sensor/temp"}, upto, limits[0]),
         expected([](long long k) { return (k / kDevices) % kChannelCount == 0; }));
  report("\"DEV/data/#\" (one device), chunks of " + std::to_string(limits[0]), "one_device",
         replay_all(data, {device_id(7) + "/data/#"}, upto, limits[0]),
         expected([](long long k) { return k % kDevices == 7; }));
  ReplayQuery q;
  q.account_id = kAccount;
  q.filters = {"#"};
  q.limit = records;
  const auto t = Clock::now();
  const std::int64_t n = data.replay_count(q);
  const double s = seconds_since(t);
  std::printf("  %-44s %9lld records %17.0f records/s\n", "replay_count \"#\"",
              static_cast<long long>(n), static_cast<double>(n) / s);
  json += ",\"count_all_per_s\":" + std::to_string(static_cast<long long>(n / s));
  return ok && n == records;
}

}  // namespace

int main(int argc, char** argv) {
  if (flag(argc, argv, "help")) {
    std::printf(
        "usage: replay_bench [--records N] [--limits L1,L2,...] [--epoch E] [--dir DIR] "
        "[--keep]\n");
    return 0;
  }
  const long long records = arg(argc, argv, "records", 1'000'000);
  const long long epoch = arg(argc, argv, "epoch", DataStore::kEpochRecords);
  std::vector<long long> limits;
  {
    std::stringstream list(arg_text(argc, argv, "limits", "1000,10000"));
    for (std::string item; std::getline(list, item, ',');)
      limits.push_back(std::atoll(item.c_str()));
  }
  if (records < kDevices * kChannelCount || epoch <= 0 || limits.empty() ||
      std::any_of(limits.begin(), limits.end(), [](long long l) { return l <= 0; })) {
    std::fprintf(stderr, "replay_bench: --records at least 10000, counts positive\n");
    return 2;
  }
  const fs::path dir = make_dir(arg_text(argc, argv, "dir"));
  std::fprintf(stderr, "replay_bench: database in %s\n", dir.c_str());
  fs::remove(dir / "replay.db");
  Db db = Db::open(dir / "replay.db");
  DataStore data(db, epoch);
  add_devices(db);
  const auto load_start = Clock::now();
  load(db, data, records);
  std::fprintf(stderr, "loaded %lld records in %.1f s\n", records, seconds_since(load_start));
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const std::int64_t upto = data.last_seq();

  std::printf("replay_bench (SQLite %s): %lld records of QoS 1, 1,000 devices x 10 channels\n",
              sqlite3_libversion(), records);
  std::string json = "{\"records\":" + std::to_string(records);
  const bool ok = run_replays(data, records, upto, limits, json);
  std::printf("%s}\n", json.c_str());
  if (!flag(argc, argv, "keep")) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  return ok ? 0 : 1;
}
