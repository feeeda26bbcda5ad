// Services shared by every session of a server. Thread-safe as a whole.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_set>

#include "plugmq/broker/registry.hpp"
#include "plugmq/broker/router.hpp"
#include "plugmq/net/directory.hpp"
#include "plugmq/net/options.hpp"
#include "plugmq/net/store_worker.hpp"

namespace plugmq::net {

struct Counters {
  std::atomic<std::uint64_t> connections{0};   // open now
  std::atomic<std::uint64_t> accepted{0};      // since start
  std::atomic<std::uint64_t> refused{0};       // over max_connections
  std::atomic<std::uint64_t> published{0};     // accepted data publishes
  std::atomic<std::uint64_t> denied{0};        // publishes dropped for lack of permission
  std::atomic<std::uint64_t> invalid{0};       // publishes to topics that are not ours
  std::atomic<std::uint64_t> binary{0};        // publishes dropped for non-UTF-8 payloads
  std::atomic<std::uint64_t> queue_drops{0};   // deliveries lost to full outgoing queues
};

// Every live session, so that shutdown can reach them all.
class SessionSet {
 public:
  void add(broker::Sink* s) {
    std::lock_guard lock(mu_);
    all_.insert(s);
  }
  void remove(broker::Sink* s) {
    std::lock_guard lock(mu_);
    all_.erase(s);
  }
  void close_all(broker::EndReason why) {
    std::lock_guard lock(mu_);
    for (auto* s : all_) s->close(why);
  }

 private:
  std::mutex mu_;
  std::unordered_set<broker::Sink*> all_;
};

struct Context {
  Context(ServerOptions o)
      : options(std::move(o)),
        store(options.data_dir / "plugmq.db", directory, options.directory_refresh) {}

  const ServerOptions options;
  DirectoryHolder directory;
  StoreWorker store;
  broker::Router router;
  broker::Registry registry;
  SessionSet sessions;
  Counters counters;
  std::atomic<bool> stopping{false};
};

}  // namespace plugmq::net
