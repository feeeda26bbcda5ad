// Additional properties of devices in SQLite (SPEC 4): static JSON values and links to a data
// channel, whose value is the newest record the device published there.
//
// Not thread-safe: one PropertyStore per Db, per thread (DataStore owns one).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugmq/platform/outcome.hpp"
#include "plugmq/store/db.hpp"

namespace plugmq::store {

class DataStore;

// Result of a property request (SPEC 4). The edges turn an outcome into a reply:
// service/reply.hpp's table for MQTT, http/outcome_status's for HTTP. The store never answers
// kNotAllowed: the caller checked permissions.
struct PropReply {
  platform::PropOutcome outcome = platform::PropOutcome::kOk;
  std::string msg;   // why, when not kOk; safe to send to the device
  std::string json;  // on success: "{...}" for get; empty for set
  bool ok() const { return outcome == platform::PropOutcome::kOk; }
};

class PropertyStore {
 public:
  // `records` resolves links. Prepares the statements. Throws Error.
  PropertyStore(Db& db, DataStore& records);
  ~PropertyStore();
  PropertyStore(const PropertyStore&) = delete;
  PropertyStore& operator=(const PropertyStore&) = delete;

  // PUBLISH to P/ag/prop/set: `payload` must be a JSON object; each member sets a property to
  // a static JSON value or to a link {"channel":"CH"}; a null member deletes the property.
  // All members apply, or none (kBadPayload naming the bad member). The caller checked permissions.
  PropReply set(std::string_view device_id, std::string_view payload);

  // The checks of set() without the write: kBadPayload for a payload it would refuse, else kOk.
  static PropReply check(std::string_view payload);

  // PUBLISH to P/ag/prop/get: an empty payload returns every property; a JSON array of names
  // returns those that exist. Links are resolved to the last value on their channel (null when
  // nothing was published there yet). kBadPayload for any other payload; kUnknownDevice; kFailed
  // when the database fails (logged).
  PropReply get(std::string_view device_id, std::string_view payload);

  // Every property of a device as stored (links as {"channel":"CH"}), as a JSON object text,
  // for `plugmq device show`. Throws Error.
  std::string raw(std::string_view device_id);

 private:
  bool device_exists(std::string_view device_id);
  // The reply to a get of `names` (nothing: all) of an existing device. Throws Error.
  std::string read(std::string_view device_id,
                   const std::optional<std::vector<std::string>>& names);

  struct Statements;
  Db& db_;
  DataStore& records_;
  std::unique_ptr<Statements> st_;
};

}  // namespace plugmq::store
