#include "plugmq/service/store_worker.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/os/thread_name.hpp"
#include "plugmq/os/paced_vfs.hpp"

namespace plugmq::service {

namespace asio = boost::asio;

StoreWorker::StoreWorker(const std::filesystem::path& db_file, DirectoryHolder& directory,
                         std::chrono::milliseconds refresh_every)
    : db_(store::Db::open(db_file)),
      repos_(db_),
      directory_(directory),
      refresh_every_(refresh_every) {
  reload_directory();
}

StoreWorker::~StoreWorker() { stop(); }

void StoreWorker::start() {
  asio::co_spawn(ioc_, refresh_loop(), asio::detached);
  thread_ = std::thread([this] {
    os::name_this_thread("pq-store");
    ioc_.run();
  });
}

void StoreWorker::stop() {
  if (!thread_.joinable()) return;
  asio::post(ioc_, [this] { refresh_timer_.cancel(); });
  thread_.join();
}

void StoreWorker::log_failure(const std::exception& e) {
  if (auto t = platform::throttle_log("store: task failed")) {
    spdlog::error("store: {}{}", e.what(), t->suffix());
  }
}

std::int64_t StoreWorker::admin_version() {
  // Bumped by triggers on accounts, devices and controls (schema migration 4), whoever
  // commits: admin commands in other processes, enrollments here. Data records leave it alone.
  auto stmt = db_.prepare("SELECT n FROM admin_version");
  if (!stmt.step()) throw store::Error(store::Error::Code::kDb, "admin_version row missing");
  return stmt.int64(0);
}

void StoreWorker::reload_directory() {
  seen_admin_version_ = admin_version();
  auto dir = std::make_shared<Directory>();
  dir->version = ++generation_;
  for (const auto& a : repos_.identity.accounts()) {
    dir->account_disabled[a.id] = a.disabled;
    dir->account_retention[a.id] = a.retention_days;
  }
  for (auto& d : repos_.identity.devices()) {
    DeviceInfo info;
    info.account_id = d.account_id;
    info.device_id = d.id;
    info.perm = std::move(d.perm);
    info.disabled = d.status == "disabled" || dir->account_disabled[d.account_id];
    dir->devices.emplace(std::move(d.id), std::move(info));
  }
  for (auto& [controller, thing] : repos_.fleet.all_controls()) {
    auto it = dir->devices.find(controller);
    if (it != dir->devices.end()) it->second.controls.push_back(std::move(thing));
  }
  spdlog::debug("device directory v{}: {} devices", dir->version, dir->devices.size());
  directory_.set(std::move(dir));
  if (on_reload_) on_reload_();
}

void StoreWorker::refresh_if_changed() {
  try {
    if (admin_version() != seen_admin_version_) reload_directory();
  } catch (const std::exception& e) {
    if (auto t = platform::throttle_log("store: directory refresh failed")) {
      spdlog::error("device directory refresh failed: {}{}", e.what(), t->suffix());
    }
  }
}

void StoreWorker::checkpoint() {
  // The data writer's connection does not checkpoint (it would stall ingest); copying the WAL
  // back into the database happens here, once a refresh period, without blocking anyone.
  // Copying a second of commits at 20,000 msgs/s takes about 2 ms of CPU; like the data
  // writer's work, it offers the core between the pages it writes (os/paced_vfs.hpp).
  os::Pacer pacer;
  os::ScopedWritePacer paced(&os::Pacer::pace_writes, &pacer);
  try {
    db_.exec("PRAGMA wal_checkpoint(PASSIVE)");
  } catch (const std::exception& e) {
    if (auto t = platform::throttle_log("store: checkpoint failed")) {
      spdlog::warn("WAL checkpoint failed: {}{}", e.what(), t->suffix());
    }
  }
}

asio::awaitable<void> StoreWorker::refresh_loop() {
  for (;;) {
    refresh_timer_.expires_after(refresh_every_);
    auto [ec] = co_await refresh_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;  // stopping
    refresh_if_changed();
    checkpoint();
  }
}

}  // namespace plugmq::service
