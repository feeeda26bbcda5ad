#include "plugmq/store/session_store.hpp"

#include <algorithm>
#include <utility>

#include "plugmq/platform/json.hpp"
#include "plugmq/store/data.hpp"
#include "record_keys.hpp"

namespace plugmq::store {
namespace {

using platform::OrderedJson;

constexpr auto kPersistent = Stmt::Lifetime::kPersistent;
constexpr std::int64_t kDayMs = 86'400'000;

// The columns every read of a session selects, in this order.
#define PLUGMQ_SESSION_COLUMNS                                                                  \
  "identity, client_id, account_id, position, subscriptions, inflight, created_at, last_seen, " \
  "online, awaiting_pubrel"

Failure invalid(std::string message) { return Failure{Errc::kInvalid, std::move(message)}; }

bool valid_packet_id(int id) { return id >= 1 && id <= 65535; }

// Why `s` cannot be stored, if it cannot.
std::optional<Failure> check(const Session& s) {
  if (s.identity.empty() || s.client_id.empty()) {
    return invalid("a session needs an identity and a client id");
  }
  for (const auto& sub : s.subscriptions) {
    if (!detail::valid_filter(sub.filter)) return invalid("invalid topic filter: " + sub.filter);
    if (sub.qos < 0 || sub.qos > 2) return invalid("invalid qos for " + sub.filter);
  }
  for (const auto& m : s.inflight) {
    if (!valid_packet_id(m.packet_id)) {
      return invalid("invalid packet id " + std::to_string(m.packet_id));
    }
    const int state = static_cast<int>(m.state);
    if (state < 1 || state > 3) return invalid("invalid in-flight state " + std::to_string(state));
  }
  for (const int id : s.awaiting_pubrel) {
    if (!valid_packet_id(id))
      return invalid("invalid packet id awaiting PUBREL " + std::to_string(id));
  }
  return std::nullopt;
}

// Stored as compact JSON arrays: [[filter, qos], ...], [[seq, packet id, state], ...] and
// [packet id, ...].
std::string subscriptions_json(const std::vector<Subscription>& subs) {
  OrderedJson out = OrderedJson::array();
  for (const auto& sub : subs) out.push_back(OrderedJson::array({sub.filter, sub.qos}));
  return platform::dump_json(out);
}

std::string inflight_json(const std::vector<Inflight>& inflight) {
  OrderedJson out = OrderedJson::array();
  for (const auto& m : inflight) {
    out.push_back(OrderedJson::array({m.seq, m.packet_id, static_cast<int>(m.state)}));
  }
  return platform::dump_json(out);
}

std::string packet_ids_json(const std::vector<int>& ids) {
  OrderedJson out = OrderedJson::array();
  for (const int id : ids) out.push_back(id);
  return platform::dump_json(out);
}

[[noreturn]] void malformed(const std::string& identity, const std::string& client_id) {
  throw Error(Errc::kDb, "malformed session row: " + identity + " " + client_id);
}

// The session in the current row of a statement selecting PLUGMQ_SESSION_COLUMNS.
Session session_from(const Stmt& row) {
  Session s;
  s.identity = row.text(0);
  s.client_id = row.text(1);
  s.account_id = row.text(2);
  s.position = row.int64(3);
  s.created_at = row.int64(6);
  s.last_seen = row.int64(7);
  s.online = row.int64(8) != 0;
  const auto subs = platform::parse_json(row.text_view(4));
  const auto inflight = platform::parse_json(row.text_view(5));
  const auto awaiting = platform::parse_json(row.text_view(9));
  if (!subs || !subs->is_array() || !inflight || !inflight->is_array() || !awaiting ||
      !awaiting->is_array()) {
    malformed(s.identity, s.client_id);
  }
  try {
    for (const auto& sub : *subs) {
      s.subscriptions.push_back({sub.at(0).get<std::string>(), sub.at(1).get<int>()});
    }
    for (const auto& m : *inflight) {
      s.inflight.push_back({m.at(0).get<std::int64_t>(), m.at(1).get<int>(),
                            static_cast<InflightState>(m.at(2).get<int>())});
    }
    for (const auto& id : *awaiting) s.awaiting_pubrel.push_back(id.get<int>());
  } catch (const nlohmann::json::exception&) {
    malformed(s.identity, s.client_id);
  }
  return s;
}

}  // namespace

struct SessionStore::Statements {
  explicit Statements(sqlite3* db)
      : account_exists(db, "SELECT 1 FROM accounts WHERE id = ?1", kPersistent),
        // A device's identity must still be a device of the account (one deleted while its
        // client was connected must not come back with that client's last save).
        device_exists(db, "SELECT 1 FROM devices WHERE id = ?1 AND account_id = ?2", kPersistent),
        load(db,
             "SELECT " PLUGMQ_SESSION_COLUMNS
             " FROM sessions WHERE identity = ?1 AND client_id = ?2",
             kPersistent),
        save(db,
             "INSERT INTO sessions (" PLUGMQ_SESSION_COLUMNS
             ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
             "ON CONFLICT (identity, client_id) DO UPDATE SET account_id = excluded.account_id, "
             "position = excluded.position, subscriptions = excluded.subscriptions, "
             "inflight = excluded.inflight, last_seen = excluded.last_seen, "
             "online = excluded.online, awaiting_pubrel = excluded.awaiting_pubrel",
             kPersistent),
        remove(db, "DELETE FROM sessions WHERE identity = ?1 AND client_id = ?2", kPersistent),
        list_all(db, "SELECT " PLUGMQ_SESSION_COLUMNS " FROM sessions ORDER BY identity, client_id",
                 kPersistent),
        list_account(db,
                     "SELECT " PLUGMQ_SESSION_COLUMNS
                     " FROM sessions WHERE account_id = ?1 ORDER BY identity, client_id",
                     kPersistent),
        expire(db, "DELETE FROM sessions WHERE last_seen < ?1 AND online = 0", kPersistent),
        all_offline(db, "UPDATE sessions SET online = 0, last_seen = ?1 WHERE online != 0",
                    kPersistent),
        keys(db, "SELECT identity, client_id FROM sessions", kPersistent),
        count(db, "SELECT count(*) FROM sessions", kPersistent) {}
  Stmt account_exists, device_exists, load, save, remove, list_all, list_account, expire,
      all_offline, keys, count;
};

SessionStore::SessionStore(Db& db) : db_(db), st_(std::make_unique<Statements>(db.handle())) {}

SessionStore::~SessionStore() = default;

Result<Session> SessionStore::load(std::string_view identity, std::string_view client_id) {
  Stmt& s = st_->load;
  auto use = s.use();
  s.bind_static(1, identity);
  s.bind_static(2, client_id);
  if (!s.step()) {
    return Failure{Errc::kNotFound,
                   "no session " + std::string(identity) + " " + std::string(client_id)};
  }
  return session_from(s);
}

Result<void> SessionStore::save(const Session& session) {
  if (auto why = check(session)) return std::move(*why);
  const std::string subs = subscriptions_json(session.subscriptions);
  const std::string inflight = inflight_json(session.inflight);
  const std::string awaiting = packet_ids_json(session.awaiting_pubrel);
  std::optional<Failure> failure;
  db_.savepoint([&] {
    {
      Stmt& exists = st_->account_exists;
      auto use = exists.use();
      exists.bind_static(1, session.account_id);
      if (!exists.step()) {
        failure = Failure{Errc::kNotFound, "no account " + session.account_id};
        return;
      }
    }
    if (session.identity != session.account_id) {
      Stmt& device = st_->device_exists;
      auto use = device.use();
      device.bind_static(1, session.identity);
      device.bind_static(2, session.account_id);
      if (!device.step()) {
        failure = Failure{Errc::kNotFound, "no device " + session.identity};
        return;
      }
    }
    Stmt& s = st_->save;
    auto use = s.use();
    s.bind_static(1, session.identity);
    s.bind_static(2, session.client_id);
    s.bind_static(3, session.account_id);
    s.bind(4, session.position);
    s.bind_static(5, subs);
    s.bind_static(6, inflight);
    s.bind(7, session.created_at);
    s.bind(8, session.last_seen);
    s.bind(9, std::int64_t{session.online ? 1 : 0});
    s.bind_static(10, awaiting);
    s.step();
  });
  if (failure) return std::move(*failure);
  return {};
}

Result<void> SessionStore::remove(std::string_view identity, std::string_view client_id) {
  Stmt& s = st_->remove;
  auto use = s.use();
  s.bind_static(1, identity);
  s.bind_static(2, client_id);
  s.step();
  if (db_.changes() == 0) {
    return Failure{Errc::kNotFound,
                   "no session " + std::string(identity) + " " + std::string(client_id)};
  }
  return {};
}

std::vector<Session> SessionStore::list(const std::optional<std::string>& account_id) {
  Stmt& s = account_id ? st_->list_account : st_->list_all;
  auto use = s.use();
  if (account_id) s.bind_static(1, *account_id);
  std::vector<Session> out;
  while (s.step()) out.push_back(session_from(s));
  return out;
}

std::int64_t SessionStore::count() {
  Stmt& s = st_->count;
  auto use = s.use();
  s.step();
  return s.int64(0);
}

std::int64_t SessionStore::expire(int days, std::int64_t now_ms) {
  if (days <= 0) return 0;
  Stmt& s = st_->expire;
  auto use = s.use();
  s.bind(1, now_ms - std::min<std::int64_t>(days, 1'000'000) * kDayMs);
  s.step();
  return db_.changes();
}

std::int64_t SessionStore::all_offline(std::int64_t now_ms) {
  Stmt& s = st_->all_offline;
  auto use = s.use();
  s.bind(1, now_ms);
  s.step();
  return db_.changes();
}

std::vector<std::pair<std::string, std::string>> SessionStore::keys() {
  Stmt& s = st_->keys;
  auto use = s.use();
  std::vector<std::pair<std::string, std::string>> out;
  while (s.step()) out.emplace_back(s.text(0), s.text(1));
  return out;
}

std::int64_t SessionStore::waiting(DataStore& records, const Session& s, std::int64_t cap) {
  const auto inflight = static_cast<std::int64_t>(s.inflight.size());
  if (cap <= inflight) return std::max<std::int64_t>(cap, 0);
  ReplayQuery q;
  q.account_id = s.account_id;
  // A subscription granted QoS 0 gets its messages at QoS 0, which an offline session does not
  // keep.
  for (const auto& sub : s.subscriptions) {
    if (sub.qos >= 1) q.filters.push_back(sub.filter);
  }
  q.after_seq = s.position;
  q.limit = cap - inflight;
  return inflight + records.replay_count(q);
}

}  // namespace plugmq::store
