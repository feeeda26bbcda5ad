// The load generator's figures: one `name: value` line each, or one JSON object (--json).
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "lg_run.hpp"

namespace lg {

namespace {

double round2(double v) { return static_cast<double>(static_cast<std::int64_t>(v * 100 + 0.5)) / 100; }

void traffic(nlohmann::ordered_json& j, Run& run, const std::vector<std::unique_ptr<Worker>>& workers,
             const Outcome& o) {
  const Options& opt = run.opt;
  std::uint64_t sent = 0, pubacks = 0;
  for (auto& p : run.pubs) {
    sent += p->sent.load();
    pubacks += p->pubacks.load();
  }
  std::uint64_t expected = sent * static_cast<std::uint64_t>(run.deliveries_per_message);
  std::uint64_t delivered = 0, window = 0, bad = 0, dups = 0, acks = 0;
  Histogram hist;
  for (auto& w : workers) {
    delivered += w->stats.delivered.load();
    window += w->stats.delivered_window;
    bad += w->stats.bad_payloads;
    dups += w->stats.dup_flags;
    acks += w->stats.acks_sent;
    hist.merge(w->stats.latency);
  }
  std::int64_t loss = static_cast<std::int64_t>(expected) - static_cast<std::int64_t>(delivered);

  j["mode"] = opt.mode == Mode::kClosed ? "closed" : "rate";
  j["publishers"] = run.publishers;
  j["subscribers"] = run.subscribers;
  j["payload"] = opt.payload;
  j["qos"] = opt.qos;
  if (run.subscribers > 0) j["sub_qos"] = opt.sub_qos;
  if (opt.mode == Mode::kClosed) j["inflight"] = opt.inflight;
  else j["rate"] = opt.rate;
  j["warmup_s"] = opt.warmup;
  j["duration_s"] = opt.duration;
  if (opt.messages > 0) {
    j["messages"] = opt.messages;
    j["publish_s"] = round2(o.publish_s);
    j["published_per_s"] = o.publish_s > 0 ? std::llround(static_cast<double>(sent) / o.publish_s) : 0;
  }
  j["sent"] = sent;
  j["expected"] = expected;
  j["delivered"] = delivered;
  j["loss"] = loss;
  j["loss_pct"] = expected ? round2(100.0 * static_cast<double>(loss) / static_cast<double>(expected)) : 0.0;
  if (run.subscribers > 0) {
    j["delivered_per_s"] = o.window_s > 0 ? std::llround(static_cast<double>(window) / o.window_s) : 0;
    j["latency_p50_us"] = round2(hist.quantile(0.50) / 1000);
    j["latency_p99_us"] = round2(hist.quantile(0.99) / 1000);
    j["latency_p999_us"] = round2(hist.quantile(0.999) / 1000);
    j["latency_max_us"] = round2(static_cast<double>(hist.max()) / 1000);
    j["latency_mean_us"] = round2(hist.mean() / 1000);
  }
  j["drain_s"] = round2(o.drain_s);
  if (opt.qos > 0) j["pubacks"] = pubacks;
  if (opt.sub_qos > 0 && run.subscribers > 0) j["acks_sent"] = acks;
  if (dups > 0) j["dup_flags"] = dups;
  j["stalls"] = run.stalls.load();
  j["bad_payloads"] = bad;
}

void catch_up(nlohmann::ordered_json& j, Run& run, const std::vector<std::unique_ptr<Worker>>& workers,
              const Outcome& o) {
  std::uint64_t dups = 0;
  for (auto& w : workers) dups += w->stats.dup_flags;
  std::uint64_t caught = run.caught.load();
  std::int64_t first = run.first_ns.load(), done = run.done_ns.load();
  auto since = [&](std::int64_t t) { return static_cast<double>(t - o.connect_start_ns) / 1e9; };
  j["expect"] = run.opt.expect;
  j["delivered"] = caught;
  j["complete"] = done != 0;
  if (first != 0) j["first_s"] = std::round(since(first) * 1e4) / 1e4;
  if (done != 0) {
    double total = since(done);
    j["catch_up_s"] = std::round(total * 1000) / 1000;
    j["messages_per_s"] = std::llround(static_cast<double>(run.opt.expect) / total);
    if (done > first && run.opt.expect > 1) {
      j["after_first_per_s"] = std::llround(static_cast<double>(run.opt.expect - 1) * 1e9 /
                                            static_cast<double>(done - first));
    }
  }
  j["dup_flags"] = dups;
}

}  // namespace

void report(Run& run, const std::vector<std::unique_ptr<Worker>>& workers, const Outcome& o) {
  const Options& opt = run.opt;
  nlohmann::ordered_json j;
  j["scenario"] = opt.scenario_name;
  j["connections"] = o.total;
  j["connected"] = o.connected;
  j["connect_failures"] = o.failures;
  j["connect_s"] = round2(o.connect_s);
  switch (opt.scenario) {
    case Scenario::kIdle:
      j["held_s"] = opt.duration;
      j["connected_at_end"] = o.alive_at_end;
      break;
    case Scenario::kPersistSetup:
    case Scenario::kCatchUp:
      if (opt.scenario == Scenario::kPersistSetup) j["sub_qos"] = opt.sub_qos;
      j["client_id_prefix"] = opt.client_id_prefix;
      j["sessions_present"] = run.sessions_present.load();
      if (opt.scenario == Scenario::kCatchUp) catch_up(j, run, workers, o);
      break;
    default:
      traffic(j, run, workers, o);
      break;
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
}

}  // namespace lg
