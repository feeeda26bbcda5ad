#include "plugmq/service/store_executor.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <cassert>

#include "plugmq/os/paced_vfs.hpp"
#include "plugmq/platform/log_throttle.hpp"

namespace plugmq::service {

namespace asio = boost::asio;

namespace {
// The reader thread's connection, set when the thread starts.
thread_local StoreExecutor::ReadRepos* tls_reader = nullptr;
}  // namespace

StoreExecutor::StoreExecutor(const std::filesystem::path& db_file, DirectoryHolder& directory,
                             std::chrono::milliseconds refresh_every, unsigned read_threads)
    : store_(std::make_unique<Connection<Repos>>(db_file)),
      directory_(directory),
      refresh_every_(refresh_every),
      readers_(read_threads) {
  for (unsigned i = 0; i < readers_.size(); ++i) {
    reader_connections_.push_back(std::make_unique<Connection<ReadRepos>>(db_file));
  }
  reload_directory();
}

StoreExecutor::~StoreExecutor() { stop(); }

void StoreExecutor::start() {
  if (started_) return;
  started_ = true;
  asio::co_spawn(serial_.context(), refresh_loop(), asio::detached);
  serial_.start("pq-store");
  readers_.start("pq-read", [this](unsigned i) { tls_reader = &reader_connections_[i]->repos; });
}

void StoreExecutor::stop() {
  // The refresh loop waits on its timer for as long as it runs: cancelled, it ends, and the
  // store thread then stops after the work queued before. A timer that has just expired has
  // its completion queued already, which cancel() does not reach: the loop also looks at
  // `stopping_` (set on the same thread) before it waits again.
  asio::post(serial_.context(), [this] {
    stopping_ = true;
    refresh_timer_.cancel();
  });
  readers_.stop();
  serial_.stop();
}

StoreExecutor::ReadRepos& StoreExecutor::current_reader() {
  assert(tls_reader != nullptr && "StoreExecutor::read() work runs on reader threads only");
  return *tls_reader;
}

void StoreExecutor::log_failure(const std::exception& e) {
  if (auto t = platform::throttle_log("store: task failed")) {
    spdlog::error("store: {}{}", e.what(), t->suffix());
  }
}

std::int64_t StoreExecutor::admin_version() {
  // Bumped by triggers on accounts, devices and controls (schema migration 4), whoever
  // commits: admin commands in other processes, enrollments here. Data records leave it alone.
  auto stmt = store_->db.prepare("SELECT n FROM admin_version");
  if (!stmt.step()) throw store::Error(store::Error::Code::kDb, "admin_version row missing");
  return stmt.int64(0);
}

void StoreExecutor::reload_directory() {
  seen_admin_version_ = admin_version();
  auto dir = std::make_shared<Directory>();
  dir->version = ++generation_;
  for (const auto& a : store_->repos.identity.accounts()) {
    dir->account_disabled[a.id] = a.disabled;
    dir->account_retention[a.id] = a.retention_days;
  }
  for (auto& d : store_->repos.identity.devices()) {
    DeviceInfo info;
    info.account_id = d.account_id;
    info.device_id = d.id;
    info.perm = std::move(d.perm);
    info.auth_revoked = d.auth_revoked;
    info.disabled = d.status == "disabled" || dir->account_disabled[d.account_id];
    dir->devices.emplace(std::move(d.id), std::move(info));
  }
  for (auto& [controller, thing] : store_->repos.fleet.all_controls()) {
    auto it = dir->devices.find(controller);
    if (it != dir->devices.end()) it->second.controls.push_back(std::move(thing));
  }
  spdlog::debug("device directory v{}: {} devices", dir->version, dir->devices.size());
  directory_.set(std::move(dir));
  if (on_reload_) on_reload_();
}

void StoreExecutor::refresh_if_changed() {
  try {
    if (admin_version() != seen_admin_version_) reload_directory();
  } catch (const std::exception& e) {
    if (auto t = platform::throttle_log("store: directory refresh failed")) {
      spdlog::error("device directory refresh failed: {}{}", e.what(), t->suffix());
    }
  }
}

void StoreExecutor::checkpoint() {
  // The data writer's connection does not checkpoint (it would stall ingest); copying the WAL
  // back into the database happens here, once a refresh period, without blocking anyone.
  // Copying a second of commits at 20,000 msgs/s takes about 2 ms of CPU; like the data
  // writer's work, it offers the core between the pages it writes (os/paced_vfs.hpp).
  os::Pacer pacer;
  os::ScopedWritePacer paced(&os::Pacer::pace_writes, &pacer);
  try {
    store_->db.exec("PRAGMA wal_checkpoint(PASSIVE)");
  } catch (const std::exception& e) {
    if (auto t = platform::throttle_log("store: checkpoint failed")) {
      spdlog::warn("WAL checkpoint failed: {}{}", e.what(), t->suffix());
    }
  }
}

asio::awaitable<void> StoreExecutor::refresh_loop() {
  for (;;) {
    refresh_timer_.expires_after(refresh_every_);
    auto [ec] = co_await refresh_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || stopping_) co_return;
    refresh_if_changed();
    checkpoint();
  }
}

}  // namespace plugmq::service
