// The load generator's run state, shared by its parts: the run (options, phase, counters), its
// io threads (Worker) and their connections (Conn), and what each part offers the others.
//
//   lg_conn.cpp     a connection: login, reading, acknowledgements, PINGREQ
//   lg_publish.cpp  publishers: the payload, closed loop and fixed rate
//   lg_report.cpp   the figures, as text or JSON
//   loadgen.cpp     roles, threads and phases of a run
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lg_histogram.hpp"
#include "lg_options.hpp"

namespace lg {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
inline constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}
inline Clock::time_point at_ns(std::int64_t ns) {
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

enum class Role { kPub, kSub, kIdle };

enum Phase : int { kConnecting = 0, kRunning = 1, kClosing = 2 };

struct Conn;

// One publisher's closed-loop account: deliveries not yet received, and how to wake it.
struct alignas(64) PubState {
  std::atomic<std::int64_t> outstanding{0};
  std::atomic<bool> waiting{false};
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> pubacks{0};
  std::uint64_t quota = 0;  // --messages: this publisher's share; 0 = no limit
  Conn* conn = nullptr;
};

// Counters of one io thread, touched only by that thread while it runs (delivered also read
// by the main thread to decide when the drain is over).
struct alignas(64) ThreadStats {
  std::atomic<std::uint64_t> delivered{0};
  std::uint64_t delivered_window = 0;
  std::uint64_t bad_payloads = 0;
  std::uint64_t dup_flags = 0;  // deliveries with DUP set (sent again)
  std::uint64_t acks_sent = 0;  // PUBACK, PUBREC, PUBCOMP written
  lg::Histogram latency;
  std::vector<std::uint64_t> tl_count, tl_max_ns;  // --timeline, per interval since the start
};

struct Run {
  Options opt;
  std::vector<Cred> creds;
  tcp::endpoint endpoint;
  int publishers = 0;
  int subscribers = 0;
  int deliveries_per_message = 1;  // subscribers that receive each message (publish: 0)
  std::string payload_pad;

  std::atomic<int> phase{kConnecting};
  // Set by the main thread before phase becomes kRunning.
  std::int64_t start_ns = 0, window_ns = 0, end_ns = 0;
  std::int64_t timeline_ns = 0;  // interval of --timeline, 0 when off

  std::atomic<int> logged_in{0};
  std::atomic<int> connect_failures{0};
  std::atomic<int> alive{0};        // logged in and not closed yet
  std::atomic<int> disconnects{0};  // closed by the broker or an error while running
  std::atomic<int> sessions_present{0};  // CONNACKs with session present set
  std::atomic<std::uint64_t> stalls{0};
  std::vector<std::unique_ptr<PubState>> pubs;

  // catch-up: every PUBLISH counts, whoever sent it; the first and the --expect-th.
  std::atomic<std::uint64_t> caught{0};
  std::atomic<std::int64_t> first_ns{0}, done_ns{0};

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
  std::string acks;         // PUBACK/PUBREC/PUBCOMP not sent yet
  std::string wqueue;       // bytes to write once the write in progress ends
  bool writing = false;
  std::int64_t unacked = 0;  // publishers at QoS 1: PUBLISHes without their PUBACK
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

// lg_conn.cpp
asio::awaitable<boost::system::error_code> write_all(Conn& c, std::string_view bytes);
asio::awaitable<void> launch(Worker& w);  // starts w's connections, a bounded number at once
void close_all(Worker& w);                // DISCONNECT and close, on w's thread

// lg_publish.cpp: a logged-in publisher, from the start of the run to its end.
asio::awaitable<void> publish(Conn& c);
// Wakes publisher `ps` if it waits for room in its window (from any thread).
void wake_publisher(PubState& ps);

// lg_report.cpp
struct Outcome {
  int total = 0, connected = 0, failures = 0, alive_at_end = 0;
  double connect_s = 0, drain_s = 0;
  double window_s = 0;   // the measured window: --duration, or shorter with --messages
  double publish_s = 0;  // --messages: start to the last message sent (and acknowledged)
  std::int64_t connect_start_ns = 0;  // catch-up: its times count from here
};
// Prints the figures (text, or JSON on stdout with --json).
void report(Run& run, const std::vector<std::unique_ptr<Worker>>& workers, const Outcome& o);

}  // namespace lg
