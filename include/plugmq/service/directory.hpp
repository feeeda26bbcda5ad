// An immutable in-memory snapshot of the devices, for decisions on network threads.
//
// Network threads never call SQLite (SPEC 7). The store thread rebuilds the snapshot when the
// database changed (admin commands run in other processes) and publishes it; readers take a
// shared_ptr copy. Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "plugmq/platform/permissions.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::service {

// A device as a principal (its id, account, permissions, and the things a controller controls),
// so that a session of it can share the snapshot's copy rather than hold its own.
struct DeviceInfo : platform::Principal {
  bool disabled = false;  // the device or its account is disabled

  platform::Target target(const std::string& id) const { return {account_id, id, perm.ctrl}; }
};

struct Directory {
  std::uint64_t version = 0;
  std::unordered_map<std::string, DeviceInfo> devices;
  std::unordered_map<std::string, bool> account_disabled;  // by account id
  std::unordered_map<std::string, int> account_retention;  // days, by account id (0: forever)

  int retention_days(const std::string& account_id) const {
    auto it = account_retention.find(account_id);
    return it == account_retention.end() ? store::kDefaultRetentionDays : it->second;
  }

  const DeviceInfo* find(const std::string& id) const {
    auto it = devices.find(id);
    return it == devices.end() ? nullptr : &it->second;
  }
};

class DirectoryHolder {
 public:
  DirectoryHolder() : current_(std::make_shared<const Directory>()) {}
  std::shared_ptr<const Directory> get() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  void set(std::shared_ptr<const Directory> d) {
    std::lock_guard lock(mu_);
    current_ = std::move(d);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Directory> current_;
};

}  // namespace plugmq::service
