// Persistent MQTT sessions (SPEC 11): the repository of what a session with clean session 0
// keeps while its client is away.
//
// A session is keyed by (login identity, client id): a device's Plug-ID or an account's id, and
// the CONNECT client id. It keeps its subscriptions with their granted QoS, a position in the
// records (DataStore: every record matching its filters with seq <= position was handled) and
// the QoS 1/2 messages in flight (sent, not yet acknowledged), which are outside the position,
// and the packet ids of the QoS 2 messages it received whose PUBREL has not come.
// It keeps no copy of a message: what it missed is DataStore::replay() after its position.
// A session goes with its device, and with its account.
//
// Not thread-safe: one SessionStore per Db, per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugmq/store/db.hpp"
#include "plugmq/store/errc.hpp"

namespace plugmq::store {

class DataStore;

struct Subscription {
  std::string filter;  // an MQTT topic filter
  int qos = 0;         // granted: 0, 1 or 2
};

// Where an outbound QoS 1/2 message stands [MQTT-4.3].
enum class InflightState {
  kAwaitPuback = 1,   // QoS 1: PUBLISH sent
  kAwaitPubrec = 2,   // QoS 2: PUBLISH sent
  kAwaitPubcomp = 3,  // QoS 2: PUBREL sent
};

// A message sent and not acknowledged: the record (by position) and its packet id, sent again
// with DUP and the same packet id on resume [MQTT-4.4.0-1].
struct Inflight {
  std::int64_t seq = 0;
  int packet_id = 0;  // 1..65535
  InflightState state = InflightState::kAwaitPuback;
};

struct Session {
  std::string identity;    // "dev-…" (device login) or "com-…" (account login)
  std::string client_id;   // non-empty
  std::string account_id;  // "com-…": the identity's account
  std::vector<Subscription> subscriptions;
  std::int64_t position = 0;       // seq: every matching record at or before it was handled ...
  std::vector<Inflight> inflight;  // ... except these
  // Inbound QoS 2 (1..65535): a PUBLISH with one of these ids was stored and acknowledged with
  // PUBREC, and its PUBREL has not come; sent again, it is not stored again [MQTT-4.3.3-2].
  std::vector<int> awaiting_pubrel;
  std::int64_t created_at = 0;  // ms
  std::int64_t last_seen = 0;   // ms: when its client was last connected
  bool online = false;          // its client is connected (as the server last saved it)
};

class SessionStore {
 public:
  // Prepares the statements. Throws Error.
  explicit SessionStore(Db& db);
  ~SessionStore();
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // The session of (identity, client_id); kNotFound when there is none.
  Result<Session> load(std::string_view identity, std::string_view client_id);

  // Stores the whole state of `s`, replacing what was stored for its key (one row write). A
  // session stored before keeps its created_at. Fails with kInvalid for an empty identity or
  // client id, a qos outside 0..2, an invalid filter (wildcards as whole levels, '#' last), a
  // packet id (in flight or awaiting its PUBREL) outside 1..65535 or an unknown in-flight
  // state; kNotFound for an unknown account,
  // or an identity that is neither the account nor one of its devices.
  Result<void> save(const Session& s);

  // Deletes a session; kNotFound when there was none.
  Result<void> remove(std::string_view identity, std::string_view client_id);

  // Every session, or the account's, by identity then client id.
  std::vector<Session> list(const std::optional<std::string>& account_id = std::nullopt);
  // How many sessions are stored, every account.
  std::int64_t count();

  // Deletes the sessions not seen for `days` days at `now_ms` (last_seen older than now - days)
  // that are not online; returns how many. 0 days: never (deletes none).
  std::int64_t expire(int days, std::int64_t now_ms);

  // Marks every session offline, seen at `now_ms` if it was online: a server starting (the
  // one before it may have been killed with its clients connected). Returns how many changed.
  std::int64_t all_offline(std::int64_t now_ms);

  // The (identity, client id) of every session stored.
  std::vector<std::pair<std::string, std::string>> keys();

  // How many messages wait for `s`, counting up to `cap`: its in-flight ones, and the records
  // after its position that its subscriptions granted QoS 1 or 2 select (published with QoS 1
  // or 2, by its account's devices: DataStore::replay_count). For `plugmq session list`.
  // Throws Error.
  static std::int64_t waiting(DataStore& records, const Session& s, std::int64_t cap);

 private:
  struct Statements;
  Db& db_;
  std::unique_ptr<Statements> st_;
};

}  // namespace plugmq::store
