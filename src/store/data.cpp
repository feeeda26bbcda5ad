#include "plugmq/store/data.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>

#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/platform/topic.hpp"

namespace plugmq::store {
namespace {

// ordered_json keeps object members in the order they were sent (as payload.cpp does), so a
// property reads back like it was set.
using Json = nlohmann::ordered_json;

constexpr std::int64_t kMinMs = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMaxMs = std::numeric_limits<std::int64_t>::max();
constexpr std::size_t kOidBytes = 12;
// From this many publishers' series on one channel, a history read first scans the channel's
// range of the table newest first (DataStore::query) before probing the series one by one.
constexpr std::size_t kScanFromSeries = 4;
// About how many rows a channel scan reads in the time of one probe of the per-series index
// (bench/store_bench, 1,000 series on one channel: about 0.17 us per row scanned, 2.5 us per
// probe); the scan's budget is this many rows per series.
constexpr std::int64_t kRowsPerProbe = 16;
// From this many publishers on, a read finds their series among each channel's (one range of
// an index) rather than one lookup per publisher, as long as the channels under the mask hold
// at most this many series per publisher.
constexpr std::size_t kManyPublishers = 64;
constexpr std::size_t kSeriesPerPublisher = 4;
constexpr std::size_t kMaxPropName = 256;
// A run (migration 9) holds one series' records of one transaction whose times lie within this
// span; a record further out starts another run. A series read scans each run's range of the
// channel, other series' rows included, so a run spread over a long time (a publisher sending
// old records, a writer catching up on a backlog) would cost a long scan.
constexpr std::int64_t kRunSpanMs = 1000;
// Runs the sweeper and delete_of() read at once, before deleting through them.
constexpr std::int64_t kRunsPerPass = 256;
// Same bound as payload.cpp: nlohmann dumps recursively, so deeper values would overflow the
// stack when dumped.
constexpr int kMaxJsonDepth = 128;

[[noreturn]] void fail(sqlite3* db, int rc, std::string_view context) {
  std::string msg = "sqlite: ";
  msg += context;
  msg += ": ";
  msg += sqlite3_errmsg(db);
  Error::Code code = Error::Code::kDb;
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    code = Error::Code::kExists;
  } else if ((rc & 0xFF) == SQLITE_BUSY || (rc & 0xFF) == SQLITE_LOCKED) {
    code = Error::Code::kBusy;
  }
  throw Error(code, msg);
}

// A prepared statement on the raw API. Stmt has no BLOB binding, and the insert path is hot
// enough that binding without copies (SQLITE_STATIC) and reading columns in place matter.
class Raw {
 public:
  Raw(sqlite3* db, std::string_view sql) : db_(db) {
    const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &st_, nullptr);
    if (rc != SQLITE_OK) fail(db, rc, "prepare");
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  ~Raw() { sqlite3_finalize(st_); }

  // The bound memory must outlive the step (SQLITE_STATIC): callers bind locals.
  void text(int i, std::string_view v) {
    check(sqlite3_bind_text64(st_, i, v.data() ? v.data() : "", v.size(), SQLITE_STATIC,
                              SQLITE_UTF8));
  }
  void blob(int i, const void* p, std::size_t n) {
    check(sqlite3_bind_blob64(st_, i, n ? p : "", n, SQLITE_STATIC));
  }
  void int64(int i, std::int64_t v) { check(sqlite3_bind_int64(st_, i, v)); }
  void null(int i) { check(sqlite3_bind_null(st_, i)); }
  void pointer(int i, void* p, const char* type) {
    check(sqlite3_bind_pointer(st_, i, p, type, nullptr));
  }

  bool step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    const std::string msg = sqlite3_errmsg(db_);
    sqlite3_reset(st_);
    fail(db_, rc, "step: " + msg);
  }
  // Done with this execution: releases its read snapshot; bindings are kept (all rebound).
  void reset() { sqlite3_reset(st_); }

  std::string_view col_text(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, c));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, c)))
             : std::string_view();
  }
  std::string_view col_blob(int c) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(st_, c));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, c)))
             : std::string_view();
  }
  std::int64_t col_int64(int c) const { return sqlite3_column_int64(st_, c); }
  bool col_null(int c) const { return sqlite3_column_type(st_, c) == SQLITE_NULL; }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail(db_, rc, "bind");
  }
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

// Resets a statement when leaving scope, so no read transaction outlives the call (a pending
// SELECT would pin the WAL snapshot and block checkpoints).
class Use {
 public:
  explicit Use(Raw& s) : s_(s) {}
  ~Use() { s_.reset(); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;

 private:
  Raw& s_;
};

// Reads the statements of one call in a single read transaction: one consistent snapshot,
// and one WAL read lock instead of one per statement (per-statement locking cost more than the
// b-tree work for a 100-record read). Inside the caller's transaction it does nothing.
class ReadTxn {
 public:
  explicit ReadTxn(sqlite3* db) : db_(sqlite3_get_autocommit(db) ? db : nullptr) {
    if (db_ && sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) db_ = nullptr;
  }
  ~ReadTxn() {
    // Read only: COMMIT just ends it (and, unlike ROLLBACK, leaves the rollback hook alone).
    if (db_) sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  }
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;

 private:
  sqlite3* db_;
};

// Runs `fn` all-or-nothing. Inside the caller's transaction a savepoint does it; otherwise a
// transaction of our own, IMMEDIATE (Db::transaction) so that it waits for another writer
// rather than failing when a read transaction upgrades.
template <class F>
void atomically(Db& db, F&& fn) {
  if (sqlite3_get_autocommit(db.handle())) {
    db.transaction(std::forward<F>(fn));
    return;
  }
  db.exec("SAVEPOINT atomically");
  try {
    fn();
  } catch (...) {
    db.exec("ROLLBACK TO atomically");
    db.exec("RELEASE atomically");
    throw;
  }
  db.exec("RELEASE atomically");
}

// ---- record ids ----

using OidBytes = std::array<unsigned char, kOidBytes>;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<OidBytes> oid_bytes(std::string_view hex) {
  if (hex.size() != 2 * kOidBytes) return std::nullopt;
  OidBytes out;
  for (std::size_t i = 0; i < kOidBytes; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return out;
}

std::string oid_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

OidBytes oid_or_throw(std::string_view hex) {
  auto b = oid_bytes(hex);
  if (!b)
    throw Error(Error::Code::kInvalid, "record id must be 24 hex digits: " + std::string(hex));
  return *b;
}

// ---- (at, id) positions: the newest-first order ----

// A point in the (at, id) order. Ids are compared as blobs (memcmp, then length), so the empty
// blob sorts before every id and 13 bytes of 0xFF after every id: with them a bound on `at`
// alone is also an (at, id) bound.
struct Pos {
  std::int64_t at = 0;
  std::string id;        // blob bytes
  std::int64_t cid = 0;  // the record's channel, when a record's; not part of the order
  friend bool operator<(const Pos& a, const Pos& b) {
    return a.at != b.at ? a.at < b.at : a.id < b.id;  // std::string compares bytes unsigned
  }
};

const std::string kIdBelowAll;
const std::string kIdAboveAll(kOidBytes + 1, '\xFF');

// The positions just outside a record's: nothing lies strictly between before(p) and p, or
// between p and after(p) (ids are 12-byte blobs). They turn a run's inclusive range into the
// exclusive bounds the scans take.
Pos before(Pos p) {
  for (std::size_t i = p.id.size(); i-- > 0;) {
    if (p.id[i] != '\0') {
      p.id[i] = static_cast<char>(static_cast<unsigned char>(p.id[i]) - 1);
      return p;
    }
    p.id[i] = '\xFF';
  }
  return Pos{p.at, kIdBelowAll, p.cid};  // the id was all zeros
}

Pos after(Pos p) {
  for (std::size_t i = p.id.size(); i-- > 0;) {
    if (p.id[i] != '\xFF') {
      p.id[i] = static_cast<char>(static_cast<unsigned char>(p.id[i]) + 1);
      return p;
    }
    p.id[i] = '\0';
  }
  return Pos{p.at, kIdAboveAll, p.cid};  // the id was all 0xFF
}

// ---- channel masks ----

// MQTT filter matching on channel levels: '+' is one level, a last '#' is every remaining
// level, including none ("a/#" matches "a").
bool mask_matches(std::string_view mask, std::string_view channel) {
  std::size_t m = 0, c = 0;
  for (;;) {
    const std::size_t m_end = std::min(mask.find('/', m), mask.size());
    const std::string_view level = mask.substr(m, m_end - m);
    if (level == "#") return true;
    if (c > channel.size()) return false;  // the channel has no level left
    const std::size_t c_end = std::min(channel.find('/', c), channel.size());
    const std::string_view got = channel.substr(c, c_end - c);
    if (got.empty() || (level != "+" && level != got)) return false;
    if (m_end == mask.size()) return c_end == channel.size();
    m = m_end + 1;
    c = c_end + 1;
  }
}

// Channels that can match a mask lie in [lo, hi): the literal levels before the first
// wildcard. "a/b/+/c" -> ["a/b/", "a/b0"); "a/b/#" -> ["a/b", "a/b0"), which holds "a/b" itself
// ('#' matches the parent level). Other channels in the range are filtered by mask_matches.
struct ChannelRange {
  std::string lo;
  std::string hi;
};

// Above every valid channel: UTF-8 never has the byte 0xFF, and text compares as bytes.
const std::string kChannelAboveAll = "\xFF";

// A mask without wildcards is its own range.
ChannelRange range_of(std::string_view mask) {
  std::size_t literal = 0;  // bytes of the literal levels, with their trailing '/'
  for (std::size_t pos = 0;;) {
    const std::size_t end = std::min(mask.find('/', pos), mask.size());
    const std::string_view level = mask.substr(pos, end - pos);
    if (level == "+" || level == "#") {
      if (literal == 0) return {"", kChannelAboveAll};
      std::string hi(mask.substr(0, literal));
      hi.back() = '/' + 1;  // the first string after every "prefix/..."
      std::string lo(mask.substr(0, level == "#" ? literal - 1 : literal));
      return {std::move(lo), std::move(hi)};
    }
    if (end == mask.size()) return {std::string(mask), std::string(mask) + '\0'};  // itself
    literal = end + 1;
    pos = end + 1;
  }
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// ---- JSON ----

struct TooDeep {};

// Parses JSON with a depth bound; nothing when malformed or too deep.
std::optional<Json> parse_json(std::string_view text) {
  try {
    return Json::parse(text, [](int depth, Json::parse_event_t, Json&) {
      if (depth > kMaxJsonDepth) throw TooDeep{};
      return true;
    });
  } catch (const TooDeep&) {
    return std::nullopt;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// A JSON string literal for `s` (valid UTF-8).
std::string quote(std::string_view s) { return dump(Json(std::string(s))); }

// The channel of a link value {"channel":"CH"}; nothing for any other value.
std::optional<std::string> link_channel(const Json& v) {
  if (!v.is_object() || v.size() != 1) return std::nullopt;
  auto it = v.find("channel");
  if (it == v.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kMaxMs : kMinMs;
  return r;
}

std::int64_t saturating_mul(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return (a < 0) != (b < 0) ? kMinMs : kMaxMs;
  return r;
}

// A record with its series' publisher and channel, by its key (cid, at, id).
constexpr std::string_view kRecordByKey =
    "SELECT d.id, s.of, s.channel, d.data, d.at, d.expire_at FROM data d "
    "JOIN series s ON s.sid = d.sid WHERE d.cid = ?3 AND d.at = ?1 AND d.id = ?2";

// floor(a / b) for b > 0.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if (a % b < 0) --q;
  return q;
}

// The Unix seconds in an OID (its first 4 bytes, big-endian).
std::int64_t oid_seconds(const unsigned char* id) {
  return std::int64_t{id[0]} << 24 | std::int64_t{id[1]} << 16 | std::int64_t{id[2]} << 8 |
         std::int64_t{id[3]};
}

// The channel scan's filter, plugmq_pick(sid, state): true for the series the read wants, and
// true once more for the row that exhausts the budget, which ends the scan there.
struct Pick {
  static constexpr const char* kType = "plugmq_pick";
  const std::unordered_set<std::int64_t>* sids = nullptr;
  std::int64_t budget = 0;  // rows left to examine
  bool over = false;        // the row returned last exhausted the budget
  bool matched = false;     // ... and is one of `sids`
};

void pick_function(sqlite3_context* c, int, sqlite3_value** v) {
  auto* pick = static_cast<Pick*>(sqlite3_value_pointer(v[1], Pick::kType));
  if (pick == nullptr) {
    sqlite3_result_error(c, "plugmq_pick: no scan state", -1);
    return;
  }
  const bool match = pick->sids->count(sqlite3_value_int64(v[0])) > 0;
  if (--pick->budget < 0) {
    pick->over = true;
    pick->matched = match;
    sqlite3_result_int(c, 1);
    return;
  }
  sqlite3_result_int(c, match ? 1 : 0);
}

platform::Record record_from(const Raw& s) {
  platform::Record r;
  r.id = oid_hex(s.col_blob(0));
  r.of = s.col_text(1);
  r.channel = s.col_text(2);
  r.data_json = s.col_text(3);
  r.at = s.col_int64(4);
  if (!s.col_null(5)) r.expire_at = s.col_int64(5);
  return r;
}

// Where the record with this id is stored, if it is: data_at places records whose `at` is not
// in their OID's second; the others are among the records of that second, in one of the
// channels `cids`, or with `anywhere`, in any channel.
struct Located {
  std::int64_t cid;
  std::int64_t at;
};

struct Locate {
  Raw& at_moved;    // (id) -> cid, at
  Raw& in_channel;  // (second's first ms, last ms, id, cid) -> at
  Raw& in_any;      // (second's first ms, last ms, id) -> cid, at
};

std::optional<Located> locate(const Locate& l, const OidBytes& id,
                              const std::vector<std::int64_t>& cids, bool anywhere) {
  {
    Use use(l.at_moved);
    l.at_moved.blob(1, id.data(), id.size());
    if (l.at_moved.step()) return Located{l.at_moved.col_int64(0), l.at_moved.col_int64(1)};
  }
  const std::int64_t second = oid_seconds(id.data());
  for (std::int64_t cid : cids) {
    Use use(l.in_channel);
    l.in_channel.int64(1, second * 1000);
    l.in_channel.int64(2, second * 1000 + 999);
    l.in_channel.blob(3, id.data(), id.size());
    l.in_channel.int64(4, cid);
    if (l.in_channel.step()) return Located{cid, l.in_channel.col_int64(0)};
  }
  if (!anywhere) return std::nullopt;
  Use use(l.in_any);
  l.in_any.int64(1, second * 1000);
  l.in_any.int64(2, second * 1000 + 999);
  l.in_any.blob(3, id.data(), id.size());
  if (l.in_any.step()) return Located{l.in_any.col_int64(0), l.in_any.col_int64(1)};
  return std::nullopt;
}

// The (at, id) window of a query: lower < (at, id) < upper. False when it is empty. An id
// bound is looked for in the channels `cids` first (a page's last record usually is in them).
bool window_of(const Locate& l, const DataQuery& q, const std::vector<std::int64_t>& cids,
               Pos& lower, Pos& upper) {
  lower = Pos{kMinMs, kIdBelowAll};  // at >= INT64_MIN: everything
  upper = Pos{kMaxMs, kIdAboveAll};  // at <= INT64_MAX: everything
  auto raise_lower = [&](Pos p) { lower = std::max(lower, std::move(p)); };
  auto cut_upper = [&](Pos p) { upper = std::min(upper, std::move(p)); };
  if (q.before) cut_upper({*q.before, kIdBelowAll});  // at < before
  if (q.after) raise_lower({*q.after, kIdAboveAll});  // at > after
  if (q.at) {
    raise_lower({*q.at, kIdBelowAll});  // at >= q.at
    cut_upper({*q.at, kIdAboveAll});    // at <= q.at
  }
  // An id bound is the referenced record's place in the order. A record that is gone
  // (expired, deleted) is placed by the creation second in its OID: before_id then means
  // "at earlier than that second", after_id "at later than that second".
  auto position_of = [&](const std::string& hex, bool for_upper) -> Pos {
    const OidBytes id = oid_or_throw(hex);
    const std::string bytes(reinterpret_cast<const char*>(id.data()), id.size());
    if (auto found = locate(l, id, cids, true)) return {found->at, bytes};
    const std::int64_t second = oid_seconds(id.data());
    return for_upper ? Pos{second * 1000, kIdBelowAll} : Pos{second * 1000 + 999, kIdAboveAll};
  };
  if (q.before_id) cut_upper(position_of(*q.before_id, true));
  if (q.after_id) raise_lower(position_of(*q.after_id, false));
  return lower < upper;
}

// An epoch that may hold records of a window: each of its records has at <= max_at.
struct EpochBound {
  std::int64_t ep;
  std::int64_t max_at;
};

// The epochs that may hold records with lower.at <= at <= upper.at, the newest bound first.
std::vector<EpochBound> epochs_between(Raw& epochs_in, const Pos& lower, const Pos& upper) {
  std::vector<EpochBound> out;
  Use use(epochs_in);
  epochs_in.int64(1, lower.at);
  epochs_in.int64(2, upper.at);
  while (epochs_in.step()) out.push_back({epochs_in.col_int64(0), epochs_in.col_int64(1)});
  return out;
}

// A publisher's series under a mask, and the epochs it may have records in.
struct SeriesKey {
  std::int64_t sid;
  std::int64_t cid;
  std::string channel;
  std::int64_t first_ep;
  std::int64_t last_ep;
  bool in(std::int64_t ep) const { return first_ep <= ep && ep <= last_ep; }
};

// The series of `ofs` whose channel matches `mask` (within `range`).
// One statement for all of them (a JSON array of the publishers): an account's read lists
// every device it has, and a statement execution per publisher cost more than the read.
template <class Ofs>
std::vector<SeriesKey> series_under(Raw& series_of, const Ofs& ofs, std::string_view mask,
                                    const ChannelRange& range) {
  std::vector<SeriesKey> out;
  Json list = Json::array();
  for (const auto& o : ofs) list.push_back(o);
  const std::string json = dump(list);
  Use use(series_of);
  series_of.text(1, json);
  series_of.text(2, range.lo);
  series_of.text(3, range.hi);
  while (series_of.step()) {
    if (!mask_matches(mask, series_of.col_text(1))) continue;
    out.push_back({series_of.col_int64(0), series_of.col_int64(4),
                   std::string(series_of.col_text(1)), series_of.col_int64(2),
                   series_of.col_int64(3)});
  }
  return out;
}

// Binds Statements::runs_of: the runs of series `sid` in epoch `ep` that reach into
// lower < (at, id) < upper, newest last record first.
void bind_runs_of(Raw& runs, std::int64_t sid, std::int64_t ep, const Pos& lower,
                  const Pos& upper) {
  runs.int64(1, ep);
  runs.int64(2, sid);
  runs.int64(3, lower.at);
  runs.blob(4, lower.id.data(), lower.id.size());
  runs.int64(5, upper.at);
  runs.blob(6, upper.id.data(), upper.id.size());
}

// A run as stored: its first and last positions (both records of it), inclusive. A run of one
// record (lo == hi) always has that record: deleting it deletes the run (migration 9).
struct RunRange {
  Pos lo;
  Pos hi;
  bool single() const { return lo.at == hi.at && lo.id == hi.id; }
};

// The run in the current row of a statement whose columns `c`.. are hi_at, hi_id, lo_at, lo_id.
RunRange run_at(const Raw& s, int c) {
  return {Pos{s.col_int64(c + 2), std::string(s.col_blob(c + 3))},
          Pos{s.col_int64(c), std::string(s.col_blob(c + 1))}};
}

// The part of a run's range within lower < (at, id) < upper, as exclusive bounds (lo, hi):
// false when it is empty.
bool run_within(const RunRange& run, const Pos& lower, const Pos& upper, Pos& lo, Pos& hi) {
  lo = std::max(lower, before(run.lo));
  hi = std::min(upper, after(run.hi));
  return lo < hi;
}

// Binds Statements::scan_run (or a statement with the same first six parameters): series
// `sid`'s rows of channel `cid` with lo < (at, id) < hi, newest first. `lo` and `hi` must
// outlive the statement's steps.
void bind_run_scan(Raw& scan, std::int64_t cid, std::int64_t sid, const Pos& lo, const Pos& hi) {
  scan.int64(1, cid);
  scan.int64(2, lo.at);
  scan.blob(3, lo.id.data(), lo.id.size());
  scan.int64(4, hi.at);
  scan.blob(5, hi.id.data(), hi.id.size());
  scan.int64(6, sid);
}

// Binds Statements::scan_channel or scan_channel_picked: channel `cid` newest first with
// lower < (at, id) < upper.
void bind_channel_scan(Raw& scan, std::int64_t cid, const Pos& lower, const Pos& upper) {
  scan.int64(1, lower.at);
  scan.blob(2, lower.id.data(), lower.id.size());
  scan.int64(3, upper.at);
  scan.blob(4, upper.id.data(), upper.id.size());
  scan.int64(5, cid);
}

// A channel under a mask.
struct ChannelKey {
  std::int64_t cid;
  std::string channel;
};

// The channels that match `mask` (within `range`), whoever published them, sorted by name.
std::vector<ChannelKey> channels_matching(Raw& channels_in, std::string_view mask,
                                          const ChannelRange& range) {
  std::vector<ChannelKey> out;
  Use use(channels_in);
  channels_in.text(1, range.lo);
  channels_in.text(2, range.hi);
  while (channels_in.step()) {
    if (mask_matches(mask, channels_in.col_text(1))) {
      out.push_back({channels_in.col_int64(0), std::string(channels_in.col_text(1))});
    }
  }
  return out;
}

// What a read covers on one channel: every publisher's records (`series` empty), or those of
// the publishers' series on it.
struct ChannelPart {
  std::int64_t cid;
  std::string channel;
  std::vector<SeriesKey> series;
};

// The channels under q.mask with the publishers' series on them (q.of), or every channel under
// the mask with no series listed (any publisher), sorted by channel.
std::vector<ChannelPart> parts_of(Raw& series_of, Raw& series_on, Raw& channels_in,
                                  const DataQuery& q) {
  const ChannelRange range = range_of(q.mask);
  std::vector<ChannelPart> parts;
  if (q.of.empty()) {
    for (auto& c : channels_matching(channels_in, q.mask, range)) {
      parts.push_back({c.cid, std::move(c.channel), {}});
    }
    return parts;
  }
  std::set<std::string, std::less<>> ofs;  // without repeats, which would repeat records
  for (const auto& o : q.of) ofs.insert(lower_ascii(o));
  if (ofs.size() >= kManyPublishers) {
    // Each channel's series, while they are not many more than the publishers.
    const auto channels = channels_matching(channels_in, q.mask, range);
    const auto budget = static_cast<std::int64_t>(kSeriesPerPublisher * ofs.size());
    std::int64_t seen = 0;
    for (const auto& c : channels) {
      ChannelPart part{c.cid, c.channel, {}};
      Use use(series_on);
      series_on.int64(1, c.cid);
      series_on.int64(2, budget - seen + 1);
      while (series_on.step()) {
        ++seen;
        if (ofs.count(series_on.col_text(1)) == 0) continue;
        part.series.push_back({series_on.col_int64(0), c.cid, c.channel, series_on.col_int64(2),
                               series_on.col_int64(3)});
      }
      if (seen > budget) break;
      if (!part.series.empty()) parts.push_back(std::move(part));
    }
    if (seen <= budget) return parts;
    parts.clear();  // too many other publishers' series: a lookup per publisher
  }
  std::map<std::string, ChannelPart> by_channel;
  for (auto& key : series_under(series_of, ofs, q.mask, range)) {
    auto [it, added] = by_channel.try_emplace(key.channel);
    if (added) {
      it->second.cid = key.cid;
      it->second.channel = key.channel;
    }
    it->second.series.push_back(std::move(key));
  }
  for (auto& [channel, part] : by_channel) parts.push_back(std::move(part));
  return parts;
}

std::vector<std::int64_t> cids_of(const std::vector<ChannelPart>& parts) {
  std::vector<std::int64_t> out;
  out.reserve(parts.size());
  for (const auto& p : parts) out.push_back(p.cid);
  return out;
}

}  // namespace

// A series as the writer knows it: its id, its channel's, the last epoch in which this
// connection raised its series.last_ep, and the run it is inserting (written by flush()).
struct DataStore::Series {
  std::int64_t sid;
  std::int64_t cid;
  std::int64_t marked_ep = -1;
  bool queued = false;  // in Statements::pending
  bool in_run = false;  // the run below holds records not written to `runs` yet
  std::int64_t run_ep = 0;
  std::int64_t lo_at = 0, hi_at = 0;
  OidBytes lo_id{}, hi_id{};
  std::optional<std::int64_t> min_exp;
};

struct DataStore::Statements {
  explicit Statements(sqlite3* db)
      : insert(db,
               "INSERT INTO data (at, id, sid, ep, expire_at, data, cid) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        at_add(db, "INSERT INTO data_at (id, at, cid) VALUES (?1, ?2, ?3)"),
        channel_add(db, "INSERT INTO channels (channel) VALUES (?1) ON CONFLICT DO NOTHING"),
        channel_get(db, "SELECT cid FROM channels WHERE channel = ?1"),
        series_add(db,
                   "INSERT INTO series (of, channel, cid, first_ep, last_ep) "
                   "VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT DO NOTHING"),
        series_get(db, "SELECT sid, cid FROM series WHERE of = ?1 AND channel = ?2"),
        series_in_epoch(db, "UPDATE series SET last_ep = ?2 WHERE sid = ?1 AND last_ep < ?2"),
        epoch_last(db, "SELECT coalesce(max(ep), -1) FROM epochs"),
        epoch_widen(db,
                    "INSERT INTO epochs (ep, min_at, max_at) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT (ep) DO UPDATE SET min_at = min(min_at, excluded.min_at), "
                    "max_at = max(max_at, excluded.max_at)"),
        epoch_lower_exp(db,
                        "UPDATE epochs SET min_exp = ?2 "
                        "WHERE ep = ?1 AND (min_exp IS NULL OR min_exp > ?2)"),
        // The epochs that may hold records in [?1, ?2] (at), newest bound first.
        epochs_in(db,
                  "SELECT ep, max_at FROM epochs WHERE max_at >= ?1 AND min_at <= ?2 "
                  "ORDER BY max_at DESC, ep DESC"),
        at_moved(db, "SELECT cid, at FROM data_at WHERE id = ?1"),
        at_in_channel(db,
                      "SELECT at FROM data WHERE cid = ?4 AND at >= ?1 AND at <= ?2 AND id = ?3"),
        // One seek per channel.
        at_in_any(db,
                  "SELECT d.cid, d.at FROM channels c CROSS JOIN data d ON d.cid = c.cid "
                  "WHERE d.at >= ?1 AND d.at <= ?2 AND d.id = ?3 LIMIT 1"),
        by_key(db, kRecordByKey),
        run_add(db,
                "INSERT INTO runs (ep, sid, hi_at, hi_id, lo_at, lo_id, min_exp) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        // The runs of one series in one epoch that reach into (?3, ?4) < (at, id) < (?5, ?6),
        // newest last record first.
        runs_of(db,
                "SELECT hi_at, hi_id, lo_at, lo_id FROM runs WHERE ep = ?1 AND sid = ?2 "
                "AND (hi_at, hi_id) > (?3, ?4) AND (lo_at, lo_id) < (?5, ?6) "
                "ORDER BY hi_at DESC, hi_id DESC"),
        // One series' rows in a range of its channel, newest first. Records are read by key at
        // the end.
        scan_run(db,
                 "SELECT at, id FROM data WHERE cid = ?1 AND (at, id) > (?2, ?3) "
                 "AND (at, id) < (?4, ?5) AND sid = ?6 ORDER BY at DESC, id DESC"),
        // One channel newest first between two (at, id) bounds: every publisher's records,
        // or with the series filtered in SQL.
        scan_channel(db,
                     "SELECT at, id FROM data WHERE cid = ?5 AND (at, id) > (?1, ?2) "
                     "AND (at, id) < (?3, ?4) ORDER BY at DESC, id DESC"),
        scan_channel_picked(db,
                            "SELECT at, id FROM data WHERE cid = ?5 AND (at, id) > (?1, ?2) "
                            "AND (at, id) < (?3, ?4) AND plugmq_pick(sid, ?6) "
                            "ORDER BY at DESC, id DESC"),
        // The series of the publishers in ?1 (a JSON array) whose channel is in [lo, hi).
        series_of(db,
                  "SELECT s.sid, s.channel, s.first_ep, s.last_ep, s.cid FROM json_each(?1) j "
                  "CROSS JOIN series s ON s.of = j.value "
                  "WHERE s.channel >= ?2 AND s.channel < ?3"),
        // Up to ?2 series of one channel.
        series_on(db, "SELECT sid, of, first_ep, last_ep FROM series WHERE cid = ?1 LIMIT ?2"),
        // The channels in [lo, hi).
        channels_in(db,
                    "SELECT cid, channel FROM channels WHERE channel >= ?1 AND channel < ?2 "
                    "ORDER BY channel"),
        // The epoch whose expiry bound is the earliest passed.
        epoch_due(db, "SELECT ep FROM epochs WHERE min_exp <= ?1 ORDER BY min_exp, ep LIMIT 1"),
        // The records of one epoch's runs of one record expired at ?2, at most ?3 (their runs
        // go with them).
        delete_single_due(db,
                          "DELETE FROM data WHERE (cid, at, id) IN (SELECT s.cid, r.hi_at, "
                          "r.hi_id FROM runs r JOIN series s ON s.sid = r.sid WHERE r.ep = ?1 "
                          "AND r.min_exp <= ?2 AND r.lo_at = r.hi_at AND r.lo_id = r.hi_id "
                          "LIMIT ?3)"),
        // Runs of several records of one epoch with a record expired at ?2.
        runs_due(db,
                 "SELECT r.sid, s.cid, r.hi_at, r.hi_id, r.lo_at, r.lo_id FROM runs r "
                 "JOIN series s ON s.sid = r.sid WHERE r.ep = ?1 AND r.min_exp <= ?2 "
                 "AND NOT (r.lo_at = r.hi_at AND r.lo_id = r.hi_id) LIMIT ?3"),
        // The records of a publisher's runs of one record, at most ?2.
        delete_single_of(db,
                         "DELETE FROM data WHERE (cid, at, id) IN (SELECT s.cid, r.hi_at, r.hi_id "
                         "FROM series s CROSS JOIN epochs e "
                         "ON e.ep BETWEEN s.first_ep AND s.last_ep "
                         "CROSS JOIN runs r ON r.ep = e.ep AND r.sid = s.sid "
                         "WHERE s.of = ?1 AND r.lo_at = r.hi_at AND r.lo_id = r.hi_id LIMIT ?2)"),
        // A publisher's runs of several records, epoch by epoch.
        runs_of_publisher(db,
                          "SELECT r.ep, r.sid, s.cid, r.hi_at, r.hi_id, r.lo_at, r.lo_id "
                          "FROM series s CROSS JOIN epochs e "
                          "ON e.ep BETWEEN s.first_ep AND s.last_ep "
                          "CROSS JOIN runs r ON r.ep = e.ep AND r.sid = s.sid "
                          "WHERE s.of = ?1 AND NOT (r.lo_at = r.hi_at AND r.lo_id = r.hi_id) "
                          "LIMIT ?2"),
        // A series' rows in a range of its channel (scan_run's parameters), at most ?8; with
        // ?7, only those expired then.
        delete_in_run(db,
                      "DELETE FROM data WHERE (cid, at, id) IN (SELECT cid, at, id FROM data "
                      "WHERE cid = ?1 AND (at, id) > (?2, ?3) AND (at, id) < (?4, ?5) "
                      "AND sid = ?6 AND (?7 IS NULL OR expire_at <= ?7) LIMIT ?8)"),
        // What is left of a series in a range of its channel: the earliest expiry, and whether
        // any row is.
        left_in_run(db,
                    "SELECT min(expire_at), count(*) > 0 FROM data WHERE cid = ?1 "
                    "AND (at, id) > (?2, ?3) AND (at, id) < (?4, ?5) AND sid = ?6"),
        run_set_exp(db,
                    "UPDATE runs SET min_exp = ?5 "
                    "WHERE ep = ?1 AND sid = ?2 AND hi_at = ?3 AND hi_id = ?4"),
        run_delete(db, "DELETE FROM runs WHERE ep = ?1 AND sid = ?2 AND hi_at = ?3 AND hi_id = ?4"),
        epoch_exact_exp(db,
                        "UPDATE epochs SET min_exp = (SELECT min(min_exp) FROM runs "
                        "WHERE ep = ?1) WHERE ep = ?1 RETURNING min_exp"),
        count(db, "SELECT count(*) FROM data"),
        delete_key(db, "DELETE FROM data WHERE cid = ?3 AND at = ?1 AND id = ?2"),
        device_exists(db, "SELECT 1 FROM devices WHERE id = ?1"),
        prop_put(db,
                 "INSERT INTO props (device_id, name, value) VALUES (?1, ?2, ?3) "
                 "ON CONFLICT (device_id, name) DO UPDATE SET value = excluded.value"),
        prop_delete(db, "DELETE FROM props WHERE device_id = ?1 AND name = ?2"),
        prop_one(db, "SELECT value FROM props WHERE device_id = ?1 AND name = ?2"),
        prop_all(db, "SELECT name, value FROM props WHERE device_id = ?1 ORDER BY name") {}

  Raw insert, at_add, channel_add, channel_get, series_add, series_get, series_in_epoch, epoch_last,
      epoch_widen, epoch_lower_exp, epochs_in, at_moved, at_in_channel, at_in_any, by_key, run_add,
      runs_of, scan_run, scan_channel, scan_channel_picked, series_of, series_on, channels_in,
      epoch_due, delete_single_due, runs_due, delete_single_of, runs_of_publisher, delete_in_run,
      left_in_run, run_set_exp, run_delete, epoch_exact_exp, count, delete_key, device_exists,
      prop_put, prop_delete, prop_one, prop_all;

  Locate locate() { return Locate{at_moved, at_in_channel, at_in_any}; }

  // (of '\0' channel) -> series, for the series this connection has seen. Cleared when a
  // transaction rolls back: series it added may be gone.
  std::unordered_map<std::string, Series> sids;
  std::string key;  // reused lookup buffer
  // The series with a run to write at the end of the transaction (DataStore::flush).
  std::vector<Series*> pending;

  // The epoch this connection inserts into (-1: none open), what it inserted there, the bounds
  // it knows are stored for it, and the series whose last_ep it has raised to it. Reset when a
  // transaction rolls back; the next insert then opens a new epoch.
  std::int64_t ep = -1;
  std::int64_t ep_records = 0;
  std::int64_t ep_min = 0, ep_max = -1;    // empty
  std::optional<std::int64_t> ep_min_exp;  // epochs.min_exp as stored for `ep`
  void forget() {
    pending.clear();
    sids.clear();
    ep = -1;
  }
};

DataStore::DataStore(Db& db, std::int64_t epoch_records)
    : db_(db), st_(nullptr), epoch_records_(std::max<std::int64_t>(epoch_records, 1)) {
  // Before the statements that call it are prepared.
  const int rc =
      sqlite3_create_function_v2(db.handle(), "plugmq_pick", 2, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                 nullptr, pick_function, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(db.handle(), rc, "create function plugmq_pick");
  st_ = new Statements(db.handle());
  // Ingest keeps the current epoch's part of `runs` and the right edges of the other
  // indexes hot; SQLite's default 2 MB cache would re-read them for every batch. Allocated as
  // used.
  db.exec("PRAGMA cache_size = -65536");
  sqlite3_rollback_hook(
      db.handle(), [](void* st) { static_cast<Statements*>(st)->forget(); }, st_);
  // Runs are written at the end of each transaction: Db::transaction() does it, and a COMMIT
  // that would leave one unwritten (a transaction begun and committed some other way) fails and
  // rolls back rather than store records that series reads cannot find.
  db.set_before_commit([](void* self) { static_cast<DataStore*>(self)->flush(); }, this);
  sqlite3_commit_hook(
      db.handle(), [](void* st) { return static_cast<Statements*>(st)->pending.empty() ? 0 : 1; },
      st_);
}

DataStore::~DataStore() {
  sqlite3_commit_hook(db_.handle(), nullptr, nullptr);
  db_.set_before_commit(nullptr, nullptr);
  sqlite3_rollback_hook(db_.handle(), nullptr, nullptr);
  delete st_;
}

void DataStore::write_run(Series& series) {
  Raw& add = st_->run_add;
  Use use(add);
  add.int64(1, series.run_ep);
  add.int64(2, series.sid);
  add.int64(3, series.hi_at);
  add.blob(4, series.hi_id.data(), series.hi_id.size());
  add.int64(5, series.lo_at);
  add.blob(6, series.lo_id.data(), series.lo_id.size());
  if (series.min_exp) {
    add.int64(7, *series.min_exp);
  } else {
    add.null(7);
  }
  add.step();
  series.in_run = false;
}

void DataStore::flush() {
  Statements& st = *st_;
  if (st.pending.empty()) return;
  // Taken first: outside a transaction each run commits as it is written, and the commit hook
  // refuses a COMMIT while runs are pending. Inside one, a failure rolls back, which forgets
  // every series (and so what was taken here).
  std::vector<Series*> pending;
  pending.swap(st.pending);
  for (Series* series : pending) series->queued = false;
  for (Series* series : pending) {
    if (series->in_run) write_run(*series);
  }
  pending.clear();
  if (st.pending.empty()) st.pending.swap(pending);  // keeps the capacity
}

DataStore::Series& DataStore::series(std::string_view of, std::string_view channel) {
  Statements& st = *st_;
  std::string& key = st.key;
  key.assign(of);
  key += '\0';
  key += channel;
  if (auto it = st.sids.find(key); it != st.sids.end()) return it->second;
  std::int64_t cid;
  {
    Raw& add = st.channel_add;
    Use use(add);
    add.text(1, channel);
    add.step();
  }
  {
    Raw& get = st.channel_get;
    Use use(get);
    get.text(1, channel);
    if (!get.step()) throw Error(Error::Code::kDb, "channel row missing after insert");
    cid = get.col_int64(0);
  }
  {
    Raw& add = st.series_add;
    Use use(add);
    add.text(1, of);
    add.text(2, channel);
    add.int64(3, cid);
    add.int64(4, st.ep);
    add.step();
  }
  Raw& get = st.series_get;
  Use use(get);
  get.text(1, of);
  get.text(2, channel);
  if (!get.step()) throw Error(Error::Code::kDb, "series row missing after insert");
  return st.sids.emplace(key, Series{get.col_int64(0), get.col_int64(1)}).first->second;
}

void DataStore::insert(const platform::Record& r) {
  const OidBytes id = oid_or_throw(r.id);
  Statements& st = *st_;
  if (st.ep < 0 || st.ep_records >= epoch_records_) {
    // A new epoch: after every other one, including those of other connections.
    Raw& last = st.epoch_last;
    Use use(last);
    last.step();
    st.ep = last.col_int64(0) + 1;
    st.ep_records = 0;
    st.ep_min = 0;
    st.ep_max = -1;
    st.ep_min_exp.reset();
  }
  if (r.at < st.ep_min || r.at > st.ep_max) {
    // Stored before the record, so that reads never prune an epoch holding it; with slack, so
    // that records stamped with the current time widen it about once a minute.
    constexpr std::int64_t kSlackMs = 60'000;
    const bool empty = st.ep_max < st.ep_min;
    const std::int64_t lo = empty ? saturating_add(r.at, -kSlackMs)
                                  : std::min(st.ep_min, saturating_add(r.at, -kSlackMs));
    const std::int64_t hi = empty ? saturating_add(r.at, kSlackMs)
                                  : std::max(st.ep_max, saturating_add(r.at, kSlackMs));
    Raw& widen = st.epoch_widen;
    Use use(widen);
    widen.int64(1, st.ep);
    widen.int64(2, lo);
    widen.int64(3, hi);
    widen.step();
    st.ep_min = lo;
    st.ep_max = hi;
  }
  if (r.expire_at && (!st.ep_min_exp || *r.expire_at < *st.ep_min_exp)) {
    // Stored before the record, so that the sweeper never passes over it.
    Raw& lower = st.epoch_lower_exp;
    Use use(lower);
    lower.int64(1, st.ep);
    lower.int64(2, *r.expire_at);
    lower.step();
    st.ep_min_exp = r.expire_at;
  }
  Series& series = this->series(r.of, r.channel);
  if (series.marked_ep != st.ep) {
    Raw& mark = st.series_in_epoch;
    Use use(mark);
    mark.int64(1, series.sid);
    mark.int64(2, st.ep);
    mark.step();
    series.marked_ep = st.ep;
  }
  if (floor_div(r.at, 1000) != oid_seconds(id.data())) {
    Raw& moved = st.at_add;
    Use use(moved);
    moved.blob(1, id.data(), id.size());
    moved.int64(2, r.at);
    moved.int64(3, series.cid);
    moved.step();
  }
  {
    Raw& s = st.insert;
    Use use(s);
    s.int64(1, r.at);
    s.blob(2, id.data(), id.size());
    s.int64(3, series.sid);
    s.int64(4, st.ep);
    if (r.expire_at) {
      s.int64(5, *r.expire_at);
    } else {
      s.null(5);
    }
    s.text(6, r.data_json);
    s.int64(7, series.cid);
    s.step();
  }
  ++st.ep_records;

  // The record joins its series' run, unless the run belongs to an earlier epoch or would
  // spread over more than kRunSpanMs: then that run is written and a new one begins.
  auto too_wide = [&] {
    std::int64_t span;  // `at` is any 64-bit value a publisher sent
    return __builtin_sub_overflow(std::max(series.hi_at, r.at), std::min(series.lo_at, r.at),
                                  &span) ||
           span > kRunSpanMs;
  };
  if (series.in_run && (series.run_ep != st.ep || too_wide())) write_run(series);
  auto position_below = [&](std::int64_t at_a, const OidBytes& id_a, std::int64_t at_b,
                            const OidBytes& id_b) {
    return at_a != at_b ? at_a < at_b : id_a < id_b;  // std::array compares bytes unsigned
  };
  if (!series.in_run) {
    series.in_run = true;
    series.run_ep = st.ep;
    series.lo_at = series.hi_at = r.at;
    series.lo_id = series.hi_id = id;
    series.min_exp = r.expire_at;
  } else {
    if (position_below(r.at, id, series.lo_at, series.lo_id)) {
      series.lo_at = r.at;
      series.lo_id = id;
    }
    if (position_below(series.hi_at, series.hi_id, r.at, id)) {
      series.hi_at = r.at;
      series.hi_id = id;
    }
    if (r.expire_at && (!series.min_exp || *r.expire_at < *series.min_exp)) {
      series.min_exp = r.expire_at;
    }
  }
  if (!series.queued) {
    series.queued = true;
    st.pending.push_back(&series);
  }
  // Outside a transaction the record has committed by now, alone: so does its run.
  if (sqlite3_get_autocommit(db_.handle())) flush();
}

std::vector<platform::Record> DataStore::query(const DataQuery& q) {
  if (!platform::valid_channel_mask(q.mask)) {
    throw Error(Error::Code::kInvalid, "invalid channel mask: " + q.mask);
  }
  std::vector<platform::Record> out;
  if (q.limit <= 0) return out;
  const std::int64_t offset = std::max<std::int64_t>(q.offset, 0);
  flush();  // this transaction's own records
  ReadTxn txn(db_.handle());

  const std::vector<ChannelPart> parts =
      parts_of(st_->series_of, st_->series_on, st_->channels_in, q);
  if (parts.empty()) return out;
  // The window: lower < (at, id) < upper.
  Pos lower, upper;
  if (!window_of(st_->locate(), q, cids_of(parts), lower, upper)) return out;

  // Top-N over the channels and series, N = offset + limit: the best positions so far, in
  // order. Once it is full, its worst entry raises the lower bound of the next scan, so most
  // return nothing or a few rows. A set: a record can be reached through two runs of its series
  // when their ranges overlap (records sent with times out of order), and counts once.
  const std::int64_t n = saturating_add(offset, q.limit);
  std::set<Pos> best;
  auto full = [&] { return static_cast<std::int64_t>(best.size()) >= n; };
  // Keeps `p` when it is among the newest N so far; false when it is older than all N kept
  // (rows come newest first: the rest of that scan are older still).
  auto offer = [&](Pos&& p) {
    if (!full()) {
      best.insert(std::move(p));
    } else if (*best.begin() < p) {
      if (best.insert(std::move(p)).second) best.erase(best.begin());
    } else {
      return false;
    }
    return true;
  };
  auto next_lower = [&] {
    return full() ? std::max(lower, *best.begin()) : lower;  // a copy: the set changes
  };
  std::optional<std::vector<EpochBound>> epochs;  // read when a series is first probed

  for (const ChannelPart& part : parts) {
    const Pos lo = next_lower();
    if (!(lo < upper)) break;
    // 1. Any publisher: the channel's range of the table, newest first.
    if (part.series.empty()) {
      Raw& scan = st_->scan_channel;
      Use use(scan);
      bind_channel_scan(scan, part.cid, lo, upper);
      while (scan.step()) {
        if (!offer(Pos{scan.col_int64(0), std::string(scan.col_blob(1)), part.cid})) break;
      }
      continue;
    }
    // 2. Many publishers: the channel newest first, their series filtered in SQL. About one
    // row per record kept when they wrote most of the channel's recent records, where probing
    // would cost a seek per series and epoch. When other publishers' rows dominate, the scan
    // stops after about as many rows as the probes cost, and the probes read the rest.
    Pos probe_upper = upper;  // the probes read lower < (at, id) < probe_upper
    if (part.series.size() >= kScanFromSeries) {
      std::unordered_set<std::int64_t> sids;
      for (const SeriesKey& key : part.series) sids.insert(key.sid);
      Pick pick;
      pick.sids = &sids;
      pick.budget = saturating_add(
          n, saturating_mul(kRowsPerProbe, static_cast<std::int64_t>(part.series.size())));
      Raw& scan = st_->scan_channel_picked;
      Use use(scan);
      bind_channel_scan(scan, part.cid, lo, upper);
      scan.pointer(6, &pick, Pick::kType);
      bool done = true;
      while (scan.step()) {
        Pos p{scan.col_int64(0), std::string(scan.col_blob(1)), part.cid};
        if (pick.over) {
          probe_upper = p;
          if (pick.matched) offer(std::move(p));
          done = false;
          break;
        }
        if (!offer(std::move(p))) break;  // older than the N kept: so is the rest
      }
      if (done) continue;
    }
    // 3. Each series epoch by epoch, the newest bound first: once the records kept are newer
    // than an epoch's bound, that epoch and every one after it have nothing to add. In an
    // epoch, the series' runs newest first, each run's rows newest first.
    if (!(next_lower() < probe_upper)) continue;
    if (!epochs) epochs = epochs_between(st_->epochs_in, lower, upper);
    Raw& runs = st_->runs_of;
    Raw& scan = st_->scan_run;
    for (const EpochBound& e : *epochs) {
      if (e.max_at < next_lower().at) break;
      for (const SeriesKey& key : part.series) {
        if (!key.in(e.ep)) continue;
        const Pos plo = next_lower();
        if (e.max_at < plo.at) break;
        Use use_runs(runs);
        bind_runs_of(runs, key.sid, e.ep, plo, probe_upper);
        while (runs.step()) {
          RunRange run = run_at(runs, 0);
          // Later runs end at or before this one: once it ends below what is kept, so do they.
          const Pos rlo = next_lower();
          if (!(rlo < run.hi)) break;
          if (run.single()) {
            if (run.hi < probe_upper) {
              run.hi.cid = part.cid;
              offer(std::move(run.hi));
            }
            continue;
          }
          Pos lo, hi;
          if (!run_within(run, rlo, probe_upper, lo, hi)) continue;
          Use use_scan(scan);
          bind_run_scan(scan, part.cid, key.sid, lo, hi);
          while (scan.step()) {
            if (!offer(Pos{scan.col_int64(0), std::string(scan.col_blob(1)), part.cid})) break;
          }
        }
      }
    }
  }

  std::vector<Pos> order(best.rbegin(), best.rend());  // newest first
  if (offset >= static_cast<std::int64_t>(order.size())) return out;
  out.reserve(order.size() - static_cast<std::size_t>(offset));
  Raw& get = st_->by_key;
  for (std::size_t i = static_cast<std::size_t>(offset); i < order.size(); ++i) {
    Use use(get);
    get.int64(1, order[i].at);
    get.blob(2, order[i].id.data(), order[i].id.size());
    get.int64(3, order[i].cid);
    if (get.step()) out.push_back(record_from(get));
  }
  return out;
}

// A run as the sweeper and delete_of() find it.
struct DataStore::RunKey {
  std::int64_t ep;
  std::int64_t sid;
  std::int64_t cid;
  RunRange range;
};

namespace {

std::int64_t as_limit(std::size_t n) {
  return static_cast<std::int64_t>(
      std::min<std::size_t>(n, std::numeric_limits<std::int64_t>::max()));
}

}  // namespace

std::size_t DataStore::delete_in_run(const RunKey& run, std::optional<std::int64_t> expired_at,
                                     std::size_t max_rows) {
  Statements& st = *st_;
  const Pos all_lo{kMinMs, kIdBelowAll}, all_hi{kMaxMs, kIdAboveAll};
  Pos lo, hi;
  if (!run_within(run.range, all_lo, all_hi, lo, hi)) return 0;
  std::size_t n;
  {
    Raw& del = st.delete_in_run;
    Use use(del);
    bind_run_scan(del, run.cid, run.sid, lo, hi);
    if (expired_at) {
      del.int64(7, *expired_at);
    } else {
      del.null(7);
    }
    del.int64(8, as_limit(max_rows));
    del.step();
    n = static_cast<std::size_t>(sqlite3_changes64(db_.handle()));
  }
  if (n == max_rows) return n;  // maybe more: the next call goes on
  // Done with this run: it goes once none of its series' rows is left in its range, or it
  // keeps the earliest expiry left there.
  std::optional<std::int64_t> min_exp;
  bool any = false;
  {
    Raw& left = st.left_in_run;
    Use use(left);
    bind_run_scan(left, run.cid, run.sid, lo, hi);
    if (left.step()) {
      if (!left.col_null(0)) min_exp = left.col_int64(0);
      any = left.col_int64(1) != 0;
    }
  }
  Raw& change = any ? st.run_set_exp : st.run_delete;
  Use use(change);
  change.int64(1, run.ep);
  change.int64(2, run.sid);
  change.int64(3, run.range.hi.at);
  change.blob(4, run.range.hi.id.data(), run.range.hi.id.size());
  if (any) {
    if (min_exp) {
      change.int64(5, *min_exp);
    } else {
      change.null(5);
    }
  }
  change.step();
  return n;
}

std::size_t DataStore::delete_expired(std::int64_t now_ms, std::size_t max_rows) {
  Statements& st = *st_;
  std::size_t deleted = 0;
  // One transaction for the statements of a batch (runs' rows, their new bounds).
  atomically(db_, [&] {
    flush();
    // Epoch by epoch, the earliest expiry bound first; in an epoch, run by run. An epoch with
    // nothing more to delete gets its exact bound again (the earliest expiry left), which a later
    // sweep waits for.
    while (deleted < max_rows) {
      std::int64_t ep;
      {
        Raw& due = st.epoch_due;
        Use use(due);
        due.int64(1, now_ms);
        if (!due.step()) break;
        ep = due.col_int64(0);
      }
      {
        // Runs of one record: one statement for many.
        const std::size_t asked = max_rows - deleted;
        Raw& del = st.delete_single_due;
        Use use(del);
        del.int64(1, ep);
        del.int64(2, now_ms);
        del.int64(3, as_limit(asked));
        del.step();
        const auto n = static_cast<std::size_t>(sqlite3_changes64(db_.handle()));
        deleted += n;
        if (n == asked) break;  // maybe more in this epoch: the next call goes on
      }
      std::vector<RunKey> runs;
      {
        Raw& find = st.runs_due;
        Use use(find);
        find.int64(1, ep);
        find.int64(2, now_ms);
        find.int64(3, kRunsPerPass);
        while (find.step()) {
          runs.push_back({ep, find.col_int64(0), find.col_int64(1), run_at(find, 2)});
        }
      }
      for (const RunKey& run : runs) {
        deleted += delete_in_run(run, now_ms, max_rows - deleted);
        if (deleted == max_rows) return;  // maybe more in this epoch: the next call
      }
      if (static_cast<std::int64_t>(runs.size()) == kRunsPerPass) continue;  // more runs due
      Raw& exact = st.epoch_exact_exp;
      Use use(exact);
      exact.int64(1, ep);
      std::optional<std::int64_t> left;
      if (exact.step() && !exact.col_null(0)) left = exact.col_int64(0);
      if (ep == st.ep) st.ep_min_exp = left;  // what the writer knows is stored
    }
  });
  return deleted;
}

std::size_t DataStore::delete_of(std::string_view of, std::size_t max_rows) {
  if (max_rows == 0) return 0;
  Statements& st = *st_;
  const std::string id = lower_ascii(of);
  std::size_t deleted = 0;
  atomically(db_, [&] {
    flush();
    {
      // Runs of one record: one statement for many.
      Raw& del = st.delete_single_of;
      Use use(del);
      del.text(1, id);
      del.int64(2, as_limit(max_rows));
      del.step();
      deleted = static_cast<std::size_t>(sqlite3_changes64(db_.handle()));
      if (deleted == max_rows) return;
    }
    // Then run by run; each run emptied of its series' rows goes, so the next pass starts with
    // the runs left.
    for (;;) {
      std::vector<RunKey> runs;
      {
        Raw& find = st.runs_of_publisher;
        Use use(find);
        find.text(1, id);
        find.int64(2, kRunsPerPass);
        while (find.step()) {
          runs.push_back(
              {find.col_int64(0), find.col_int64(1), find.col_int64(2), run_at(find, 3)});
        }
      }
      for (const RunKey& run : runs) {
        deleted += delete_in_run(run, std::nullopt, max_rows - deleted);
        if (deleted == max_rows) return;
      }
      if (static_cast<std::int64_t>(runs.size()) < kRunsPerPass) return;
    }
  });
  return deleted;
}

std::optional<std::string> DataStore::last_value(std::string_view of, std::string_view channel) {
  if (!platform::valid_channel(channel)) return std::nullopt;
  DataQuery q;
  q.mask = channel;
  q.of = {std::string(of)};
  q.limit = 1;
  auto newest = query(q);
  if (newest.empty()) return std::nullopt;
  return std::move(newest.front().data_json);
}

std::int64_t DataStore::count() {
  Raw& s = st_->count;
  Use use(s);
  s.step();
  return s.col_int64(0);
}

namespace {

PropReply prop_error(int err, std::string msg) { return PropReply{err, std::move(msg), {}}; }

bool exists(Raw& device_exists, std::string_view device_id) {
  Use use(device_exists);
  device_exists.text(1, device_id);
  return device_exists.step();
}

}  // namespace

namespace {

struct PropChange {
  std::string name;
  std::optional<std::string> value;  // nothing: delete
};

// The changes a ag/prop/set payload asks for, every member checked; an error reply when the
// payload is not acceptable.
std::variant<std::vector<PropChange>, PropReply> prop_changes(std::string_view payload) {
  auto parsed = parse_json(payload);
  if (!parsed || !parsed->is_object()) return prop_error(400, "payload must be a JSON object");
  std::vector<PropChange> changes;
  changes.reserve(parsed->size());
  for (const auto& [name, value] : parsed->items()) {
    if (name.empty() || name.size() > kMaxPropName) {
      return prop_error(400, "property " + quote(name) + ": name must be 1..256 bytes");
    }
    if (value.is_null()) {
      changes.push_back({name, std::nullopt});
    } else if (auto channel = link_channel(value)) {
      if (!platform::valid_channel(*channel)) {
        return prop_error(400, "property " + quote(name) + ": link channel " + quote(*channel) +
                                   " is not a valid channel");
      }
      changes.push_back({name, dump(Json{{"channel", *channel}})});
    } else {
      changes.push_back({name, dump(value)});
    }
  }
  return changes;
}

}  // namespace

PropReply DataStore::check_props(std::string_view payload) {
  auto changes = prop_changes(payload);
  if (auto* err = std::get_if<PropReply>(&changes)) return *err;
  return {};
}

PropReply DataStore::props_set(std::string_view device_id, std::string_view payload) {
  // Check every member before writing any: all or nothing.
  auto checked = prop_changes(payload);
  if (auto* err = std::get_if<PropReply>(&checked)) return *err;
  const auto& changes = std::get<std::vector<PropChange>>(checked);

  try {
    if (!exists(st_->device_exists, device_id)) return prop_error(404, "unknown device");
    atomically(db_, [&] {
      for (const auto& c : changes) {
        Raw& s = c.value ? st_->prop_put : st_->prop_delete;
        Use use(s);
        s.text(1, device_id);
        s.text(2, c.name);
        if (c.value) s.text(3, *c.value);
        s.step();
      }
    });
  } catch (const std::exception& e) {
    if (auto t = platform::throttle_log("properties: set failed")) {
      spdlog::error("properties of {}: set failed: {}{}", device_id, e.what(), t->suffix());
    }
    return prop_error(500, "internal error");
  }
  return {};
}

PropReply DataStore::props_get(std::string_view device_id, std::string_view payload) {
  // Names requested, in request order without repeats; nothing: all of them.
  std::optional<std::vector<std::string>> names;
  if (!blank(payload)) {
    auto parsed = parse_json(payload);
    if (!parsed || !parsed->is_array()) {
      return prop_error(400, "payload must be empty or a JSON array of property names");
    }
    names.emplace();
    std::set<std::string> seen;
    for (const auto& v : *parsed) {
      if (!v.is_string()) {
        return prop_error(400, "payload must be empty or a JSON array of property names");
      }
      if (seen.insert(v.get<std::string>()).second) names->push_back(v.get<std::string>());
    }
  }

  try {
    ReadTxn txn(db_.handle());
    if (!exists(st_->device_exists, device_id)) return prop_error(404, "unknown device");
    std::vector<std::pair<std::string, std::string>> found;  // name, stored value
    if (names) {
      for (const auto& name : *names) {
        Raw& s = st_->prop_one;
        Use use(s);
        s.text(1, device_id);
        s.text(2, name);
        if (s.step()) found.emplace_back(name, s.col_text(0));
      }
    } else {
      Raw& s = st_->prop_all;
      Use use(s);
      s.text(1, device_id);
      while (s.step()) found.emplace_back(s.col_text(0), s.col_text(1));
    }
    std::string json = "{";
    for (const auto& [name, value] : found) {
      if (json.size() > 1) json += ',';
      json += quote(name);
      json += ':';
      // Only link values start with {"channel": and parse back to a link; other values are
      // used as stored, without parsing.
      std::optional<std::string> channel;
      if (value.starts_with("{\"channel\":")) {
        if (auto v = parse_json(value)) channel = link_channel(*v);
      }
      if (channel) {
        json += last_value(device_id, *channel).value_or("null");
      } else {
        json += value;
      }
    }
    json += '}';
    return PropReply{0, {}, std::move(json)};
  } catch (const std::exception& e) {
    if (auto t = platform::throttle_log("properties: get failed")) {
      spdlog::error("properties of {}: get failed: {}{}", device_id, e.what(), t->suffix());
    }
    return prop_error(500, "internal error");
  }
}

std::string DataStore::props_raw(std::string_view device_id) {
  Raw& s = st_->prop_all;
  Use use(s);
  s.text(1, device_id);
  std::string json = "{";
  while (s.step()) {
    if (json.size() > 1) json += ',';
    json += quote(s.col_text(0));
    json += ':';
    json += s.col_text(1);
  }
  json += '}';
  return json;
}

std::vector<std::string> DataStore::channels(const DataQuery& q) {
  if (!platform::valid_channel_mask(q.mask)) {
    throw Error(Error::Code::kInvalid, "invalid channel mask: " + q.mask);
  }
  std::vector<std::string> out;
  if (q.limit <= 0) return out;
  flush();  // this transaction's own records
  ReadTxn txn(db_.handle());
  const std::vector<ChannelPart> parts =
      parts_of(st_->series_of, st_->series_on, st_->channels_in, q);
  if (parts.empty()) return out;
  Pos lower, upper;
  if (!window_of(st_->locate(), q, cids_of(parts), lower, upper)) return out;

  // Per channel, one probe of its range of the table (any publisher), or one probe per run of
  // each series until one has a record in the window: series and channels outlive their
  // records (expired, deleted), and so may runs.
  std::vector<std::string> found;  // sorted: parts are
  std::optional<std::vector<EpochBound>> epochs;
  auto any_in_window = [&](const SeriesKey& key) {
    if (!epochs) epochs = epochs_between(st_->epochs_in, lower, upper);
    for (const EpochBound& e : *epochs) {
      if (!key.in(e.ep)) continue;
      Raw& runs = st_->runs_of;
      Use use_runs(runs);
      bind_runs_of(runs, key.sid, e.ep, lower, upper);
      while (runs.step()) {
        const RunRange run = run_at(runs, 0);
        if (run.single() && lower < run.hi && run.hi < upper) return true;
        Pos lo, hi;
        if (!run_within(run, lower, upper, lo, hi)) continue;
        Raw& scan = st_->scan_run;
        Use use_scan(scan);
        bind_run_scan(scan, key.cid, key.sid, lo, hi);
        if (scan.step()) return true;
      }
    }
    return false;
  };
  for (const ChannelPart& part : parts) {
    bool any;
    if (part.series.empty()) {
      Raw& scan = st_->scan_channel;
      Use use(scan);
      bind_channel_scan(scan, part.cid, lower, upper);
      any = scan.step();
    } else {
      any = std::any_of(part.series.begin(), part.series.end(), any_in_window);
    }
    if (any) found.push_back(part.channel);
  }
  const std::int64_t offset = std::max<std::int64_t>(q.offset, 0);
  std::int64_t i = 0;
  for (const auto& c : found) {
    if (i++ < offset) continue;
    if (static_cast<std::int64_t>(out.size()) >= q.limit) break;
    out.push_back(c);
  }
  return out;
}

std::size_t DataStore::delete_matching(const DataQuery& q, std::size_t max_rows) {
  if (max_rows == 0) return 0;
  DataQuery page = q;
  page.offset = 0;
  page.limit = static_cast<std::int64_t>(
      std::min<std::size_t>(max_rows, std::numeric_limits<std::int64_t>::max()));
  const auto records = query(page);
  std::size_t n = 0;
  std::map<std::string, std::int64_t, std::less<>> cids;
  if (!records.empty()) {
    for (auto& c : channels_matching(st_->channels_in, q.mask, range_of(q.mask))) {
      cids.emplace(std::move(c.channel), c.cid);
    }
  }
  atomically(db_, [&] {
    Raw& d = st_->delete_key;
    for (const auto& r : records) {
      const OidBytes id = oid_or_throw(r.id);
      Use use(d);
      d.int64(1, r.at);
      d.blob(2, id.data(), id.size());
      d.int64(3, cids.at(r.channel));
      d.step();
      n += static_cast<std::size_t>(sqlite3_changes64(db_.handle()));
    }
  });
  return n;
}

std::size_t DataStore::delete_ids(const std::vector<std::string>& ids,
                                  const std::vector<std::string>& of, std::string_view mask) {
  if (!platform::valid_channel_mask(mask)) {
    throw Error(Error::Code::kInvalid, "invalid channel mask: " + std::string(mask));
  }
  std::set<std::string> allowed;
  for (const auto& o : of) allowed.insert(lower_ascii(o));
  std::size_t n = 0;
  atomically(db_, [&] {
    // Only records on the channels under the mask may go.
    DataQuery under;
    under.mask = mask;
    const std::vector<std::int64_t> cids =
        cids_of(parts_of(st_->series_of, st_->series_on, st_->channels_in, under));
    for (const auto& hex : ids) {
      const OidBytes id = oid_or_throw(hex);
      const auto found = locate(st_->locate(), id, cids, false);
      if (!found) continue;
      {
        Raw& get = st_->by_key;
        Use use(get);
        get.int64(1, found->at);
        get.blob(2, id.data(), id.size());
        get.int64(3, found->cid);
        if (!get.step()) continue;
        const platform::Record r = record_from(get);
        if (!allowed.empty() && !allowed.count(r.of)) continue;
        if (!mask_matches(mask, r.channel)) continue;
      }
      Raw& d = st_->delete_key;
      Use use(d);
      d.int64(1, found->at);
      d.blob(2, id.data(), id.size());
      d.int64(3, found->cid);
      d.step();
      n += static_cast<std::size_t>(sqlite3_changes64(db_.handle()));
    }
  });
  return n;
}

std::optional<std::int64_t> expiry_of(const platform::Envelope& e, int retention_days) {
  if (e.expire_at) return e.expire_at;
  if (e.ttl_s) return saturating_add(e.at, saturating_mul(*e.ttl_s, 1000));
  if (retention_days > 0) return saturating_add(e.at, saturating_mul(retention_days, 86'400'000));
  return std::nullopt;
}

}  // namespace plugmq::store
