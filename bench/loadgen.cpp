// loadgen: an MQTT 3.1.1 load generator for plugmq and any other broker (mosquitto), with its
// own minimal client (lg_mqtt.hpp) on Boost.Asio, one io_context per thread.
//
//   loadgen --port P --creds FILE --scenario fan-in|fan-out|pairs|publish|idle|persist-setup|
//           catch-up [--clients N] [--mode closed|rate] [--inflight K] [--rate R]
//           [--duration S] [--warmup S] [--payload BYTES] [--qos 0|1] [--sub-qos 0|1|2]
//           [--threads T] [--json]                                   (--help lists them all)
//
// Scenarios (publisher P publishes to `P/data/C`; P is the Plug-ID of its credentials, C the
// --channel, `t`):
//   fan-in   N publishers, one subscriber to `+/data/C`
//   fan-out  one publisher, N subscribers to `+/data/C`
//   pairs    N publishers, subscriber i subscribes to `P_i/data/C` exactly
//   publish  N publishers and no subscriber (storing records: QoS 1, or a fixed rate)
//   idle     N logged-in connections that only send PINGREQ; holds them for --duration
//   persist-setup  N persistent sessions (clean session 0, client ids PREFIX-i) subscribe to
//            `+/data/C` at --sub-qos and disconnect
//   catch-up the same N sessions resume and receive until --expect messages arrived in total
//
// Modes: closed keeps at most K messages of each publisher not yet received by all of their
// subscribers (fan-out: K x N deliveries) and, at QoS 1, at most K without their PUBACK; rate
// publishes R messages/s in total, spread evenly over the publishers, each message stamped
// with the time it was due (so a stalled publisher shows as latency, not as missing samples).
// --messages M ends the publishing after M messages in total.
//
// Payload: a JSON string of exactly --payload bytes, `"@<send ns>:<publisher>:<seq>:xxx…"`.
// plugmq delivers it inside its record `{"id":…,"data":"@…","at":…}`, mosquitto as is: the
// receiver finds `"@` in either. Latency = receive time - send time on the steady clock of
// this one process, recorded only for deliveries received in the measured window (after the
// warmup). After the window, publishers stop and deliveries are drained for up to --drain
// seconds; loss = sent x subscribers per message - delivered. Subscribers answer QoS 1
// deliveries with PUBACK and QoS 2 with PUBREC/PUBCOMP, once per read.
//
// Credentials (--creds): a JSON array of {"id","auth"} objects, or one such object per line
// (what `plugmq prototype add --json` prints). Connections log in with username = id and
// password = auth; --no-login sends neither (anonymous brokers also accept them). Publishers
// need distinct ids (the topic is the id); other connections reuse ids round-robin, with
// distinct client ids.
//
// The parts: lg_options (command line), lg_conn (a connection), lg_publish (publishers),
// lg_report (figures), lg_mqtt.hpp (packets), lg_histogram.hpp; lg_run.hpp is what they share.
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lg_run.hpp"

namespace {

using namespace lg;

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

double seconds(std::int64_t ns) { return static_cast<double>(ns) / 1e9; }

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
  const int n = opt.clients;
  const bool sessions = opt.scenario == Scenario::kPersistSetup || opt.scenario == Scenario::kCatchUp;
  switch (opt.scenario) {
    case Scenario::kFanIn: run.publishers = n; run.subscribers = 1; break;
    case Scenario::kFanOut: run.publishers = 1; run.subscribers = n; break;
    case Scenario::kPairs: run.publishers = n; run.subscribers = n; break;
    case Scenario::kPublish: run.publishers = n; break;
    case Scenario::kPersistSetup:
    case Scenario::kCatchUp: run.subscribers = n; break;
    case Scenario::kIdle: break;
  }
  run.deliveries_per_message = opt.scenario == Scenario::kFanOut ? n
                               : opt.scenario == Scenario::kPublish ? 0
                                                                    : 1;
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
  for (int i = 0; i < run.publishers; ++i) {
    auto ps = std::make_unique<PubState>();
    if (opt.messages > 0) {
      auto pubs = static_cast<std::uint64_t>(run.publishers);
      ps->quota = opt.messages / pubs + (static_cast<std::uint64_t>(i) < opt.messages % pubs ? 1 : 0);
      if (ps->quota == 0) ps->quota = 1;  // fewer messages than publishers: one each
    }
    run.pubs.push_back(std::move(ps));
  }

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
    if (role == Role::kSub && !opt.client_id_prefix.empty()) {
      c.client_id = opt.client_id_prefix + "-" + std::to_string(index);
    } else {
      const char* r = role == Role::kPub ? "p" : role == Role::kSub ? "s" : "i";
      c.client_id = "lg" + tag + "-" + r + std::to_string(index);
    }
    c.topic = std::move(topic);
    c.rbuf.resize(role == Role::kSub ? 65536 : role == Role::kPub ? 4096 : 256);
    if (role == Role::kPub) run.pubs[static_cast<std::size_t>(index)]->conn = &c;
  };
  const std::string all_filter = "+/data/" + opt.channel;
  auto data_topic = [&](std::size_t cred_index) {
    return run.creds[cred_index].id + "/data/" + opt.channel;
  };
  auto add_pubs = [&] {
    for (int i = 0; i < run.publishers; ++i) {
      add_conn(Role::kPub, i, static_cast<std::size_t>(i), data_topic(static_cast<std::size_t>(i)));
    }
  };
  switch (opt.scenario) {
    case Scenario::kFanIn:
      add_conn(Role::kSub, 0, static_cast<std::size_t>(n), all_filter);
      add_pubs();
      break;
    case Scenario::kFanOut:
      for (int i = 0; i < n; ++i) add_conn(Role::kSub, i, static_cast<std::size_t>(1 + i), all_filter);
      add_pubs();
      break;
    case Scenario::kPairs:
      for (int i = 0; i < n; ++i) {
        add_conn(Role::kSub, i, static_cast<std::size_t>(n + i), data_topic(static_cast<std::size_t>(i)));
      }
      add_pubs();
      break;
    case Scenario::kPublish:
      add_pubs();
      break;
    case Scenario::kPersistSetup:
    case Scenario::kCatchUp:
      // Session i logs in with credential i (round-robin): the same identity every time.
      for (int i = 0; i < n; ++i) add_conn(Role::kSub, i, static_cast<std::size_t>(i), all_filter);
      break;
    case Scenario::kIdle:
      for (int i = 0; i < n; ++i) add_conn(Role::kIdle, i, static_cast<std::size_t>(i), "");
      break;
  }

  // Connect everything.
  Outcome out;
  out.total = total;
  out.connect_start_ns = now_ns();
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
  out.connect_s = std::chrono::duration<double>(Clock::now() - t_connect).count();
  out.connected = run.logged_in.load();
  out.failures = total - out.connected;
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

  if (out.failures > opt.max_connect_failures) {
    std::fprintf(stderr,
                 "loadgen: %d of %d connections to %s:%s failed to log in (more than %d allowed); "
                 "first error: %s\n",
                 out.failures, total, opt.host.c_str(), opt.port.c_str(), opt.max_connect_failures,
                 run.first_connect_error.c_str());
    shutdown();
    return 3;
  }
  if (!opt.ready_file.empty()) {
    std::ofstream(opt.ready_file) << "{\"connected\":" << out.connected << "}\n";
  }

  if (sessions) {
    // persist-setup: every session is subscribed; DISCONNECT them. catch-up: receive until the
    // --expect-th message, every connection lost, or --duration.
    run.phase.store(kRunning);
    if (opt.scenario == Scenario::kCatchUp) {
      auto deadline = out.connect_start_ns + static_cast<std::int64_t>(opt.duration * 1e9);
      while (run.done_ns.load() == 0 && now_ns() < deadline && run.alive.load() > 0) sleep_s(0.001);
    }
    out.alive_at_end = run.alive.load();
    shutdown();
    report(run, workers, out);
    return 0;
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
  run.phase.store(kRunning);
  if (opt.messages > 0) {
    std::uint64_t all = 0;
    for (auto& p : run.pubs) all += p->quota;
    while (now_ns() < run.end_ns && sent_total() < all && run.alive.load() > 0) sleep_s(0.005);
  } else {
    while (now_ns() < run.end_ns) sleep_s(0.05);
  }
  out.alive_at_end = run.alive.load();

  // Drain: wait for the deliveries still on their way.
  if (opt.scenario != Scenario::kIdle) {
    auto t_drain = Clock::now();
    if (opt.messages == 0) sleep_s(0.05);  // lets the publishers notice the end
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
    out.drain_s = std::chrono::duration<double>(Clock::now() - t_drain).count();
  }
  std::int64_t t_end = now_ns();
  out.window_s = opt.duration;
  if (opt.messages > 0) {
    // Ended by --messages: the window is what of it passed, the publishing all of it.
    out.window_s = std::max(0.0, seconds(std::min(t_end, run.end_ns) - run.window_ns));
    out.publish_s = seconds(t_end - start);
  }
  shutdown();
  report(run, workers, out);
  return 0;
}
