#include "plugmq/store/property_store.hpp"

#include <spdlog/spdlog.h>

#include <exception>
#include <utility>

#include "plugmq/platform/json.hpp"
#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/platform/props.hpp"
#include "plugmq/store/data.hpp"

namespace plugmq::store {
namespace {

using platform::PropOutcome;

PropReply prop_error(PropOutcome outcome, std::string msg) {
  return PropReply{outcome, std::move(msg), {}};
}

void log_failure(std::string_view what, std::string_view device_id, const std::exception& e) {
  const std::string key = "properties: " + std::string(what) + " failed";
  if (auto t = platform::throttle_log(key)) {
    spdlog::error("properties of {}: {} failed: {}{}", device_id, what, e.what(), t->suffix());
  }
}

}  // namespace

struct PropertyStore::Statements {
  explicit Statements(sqlite3* db)
      : exists(db, "SELECT 1 FROM devices WHERE id = ?1", kPersistent),
        put(db,
            "INSERT INTO props (device_id, name, value) VALUES (?1, ?2, ?3) "
            "ON CONFLICT (device_id, name) DO UPDATE SET value = excluded.value",
            kPersistent),
        remove(db, "DELETE FROM props WHERE device_id = ?1 AND name = ?2", kPersistent),
        one(db, "SELECT value FROM props WHERE device_id = ?1 AND name = ?2", kPersistent),
        all(db, "SELECT name, value FROM props WHERE device_id = ?1 ORDER BY name", kPersistent) {}
  static constexpr auto kPersistent = Stmt::Lifetime::kPersistent;
  Stmt exists, put, remove, one, all;
};

PropertyStore::PropertyStore(Db& db, DataStore& records)
    : db_(db), records_(records), st_(std::make_unique<Statements>(db.handle())) {}

PropertyStore::~PropertyStore() = default;

PropReply PropertyStore::check(std::string_view payload) {
  auto request = platform::parse_prop_set(payload);
  if (!request.ok()) return prop_error(PropOutcome::kBadPayload, std::move(request.error));
  return {};
}

bool PropertyStore::device_exists(std::string_view device_id) {
  auto use = st_->exists.use();
  st_->exists.bind_static(1, device_id);
  return st_->exists.step();
}

PropReply PropertyStore::set(std::string_view device_id, std::string_view payload) {
  // Check every member before writing any: all or nothing.
  const auto request = platform::parse_prop_set(payload);
  if (!request.ok()) return prop_error(PropOutcome::kBadPayload, request.error);
  try {
    if (!device_exists(device_id)) return prop_error(PropOutcome::kUnknownDevice, "unknown device");
    db_.savepoint([&] {
      for (const auto& c : request.changes) {
        Stmt& s = c.value ? st_->put : st_->remove;
        auto use = s.use();
        s.bind_static(1, device_id);
        s.bind_static(2, c.name);
        if (c.value) s.bind_static(3, *c.value);
        s.step();
      }
    });
  } catch (const std::exception& e) {
    log_failure("set", device_id, e);
    return prop_error(PropOutcome::kFailed, "internal error");
  }
  return {};
}

PropReply PropertyStore::get(std::string_view device_id, std::string_view payload) {
  auto request = platform::parse_prop_get(payload);
  if (!request.ok()) return prop_error(PropOutcome::kBadPayload, std::move(request.error));
  try {
    auto txn = db_.read_transaction();
    if (!device_exists(device_id)) return prop_error(PropOutcome::kUnknownDevice, "unknown device");
    return PropReply{PropOutcome::kOk, {}, read(device_id, request.names)};
  } catch (const std::exception& e) {
    log_failure("get", device_id, e);
    return prop_error(PropOutcome::kFailed, "internal error");
  }
}

std::string PropertyStore::read(std::string_view device_id,
                                const std::optional<std::vector<std::string>>& names) {
  std::vector<std::pair<std::string, std::string>> found;  // name, stored value
  if (names) {
    for (const auto& name : *names) {
      auto use = st_->one.use();
      st_->one.bind_static(1, device_id);
      st_->one.bind_static(2, name);
      if (st_->one.step()) found.emplace_back(name, st_->one.text(0));
    }
  } else {
    auto use = st_->all.use();
    st_->all.bind_static(1, device_id);
    while (st_->all.step()) found.emplace_back(st_->all.text(0), st_->all.text(1));
  }
  std::string json = "{";
  for (const auto& [name, value] : found) {
    if (json.size() > 1) json += ',';
    json += platform::quote_json(name);
    json += ':';
    if (auto channel = platform::prop_link_channel(value)) {
      json += records_.last_value(device_id, *channel).value_or("null");
    } else {
      json += value;
    }
  }
  json += '}';
  return json;
}

std::string PropertyStore::raw(std::string_view device_id) {
  auto use = st_->all.use();
  st_->all.bind_static(1, device_id);
  std::string json = "{";
  while (st_->all.step()) {
    if (json.size() > 1) json += ',';
    json += platform::quote_json(st_->all.text_view(0));
    json += ':';
    json += st_->all.text_view(1);
  }
  json += '}';
  return json;
}

}  // namespace plugmq::store
