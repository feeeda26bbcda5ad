// `/iot/data…` and `/iot/channel…`: publishing, history reads, deleting records, channel
// names (SPEC 10). Publishing goes through service/publish.hpp, the path MQTT publishes take.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <map>
#include <set>

#include "handlers.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/payload.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/service/publish.hpp"
#include "plugmq/service/record_update.hpp"

namespace plugmq::http::detail {

namespace asio = boost::asio;

namespace {

constexpr std::int64_t kDefaultLimit = 100;
constexpr std::int64_t kMaxLimit = 10000;
// Records deleted per writer task by DELETE /iot/data: short transactions between ingest
// batches.
constexpr std::size_t kDeleteBatch = 2000;

// The filters of a history read or a channel listing.
struct History {
  store::DataQuery q;
  std::vector<std::int64_t> ats;  // `at` values; several mean one query each, merged
  std::vector<std::string> of;    // as requested; narrowed to what the caller may read
};

std::optional<Response> bad_mask(const std::string& mask) {
  if (platform::valid_channel_mask(mask)) return std::nullopt;
  return error_response(400, "invalid channel mask \"" + mask +
                                 "\": levels separated by '/', '+' for one level, a last '#' "
                                 "for any number");
}

// The 400 for a list filter that names nothing (split_list).
Response empty_list(std::string_view name) {
  const std::string n(name);
  return error_response(400, n + ": an empty list or an empty item (a stray ','); leave \"" + n +
                                 "\" out for no filter");
}

// A Plug-ID list given as query values or as a JSON member (a CSV string or an array).
std::optional<Response> parse_of(const std::vector<std::string>& items,
                                 std::vector<std::string>& out) {
  for (const auto& item : items) {
    auto id = platform::normalize_plug_id(item, platform::IdKind::kDevice);
    if (!id) return error_response(400, "of: \"" + item + "\" is not a device Plug-ID");
    if (std::find(out.begin(), out.end(), *id) == out.end()) out.push_back(*id);
  }
  return std::nullopt;
}

std::optional<Response> set_bound(store::DataQuery& q, const std::string& text, bool before) {
  auto b = parse_bound(text);
  if (!b) {
    return error_response(400, std::string(before ? "before" : "after") + ": \"" + text +
                                   "\" is neither a time (ms, ISO-8601) nor a record id");
  }
  if (auto* ms = std::get_if<std::int64_t>(&*b)) {
    (before ? q.before : q.after) = *ms;
  } else {
    (before ? q.before_id : q.after_id) = std::get<std::string>(*b);
  }
  return std::nullopt;
}

std::optional<Response> add_ats(const std::vector<std::string>& items,
                                std::vector<std::int64_t>& out) {
  for (const auto& item : items) {
    auto ms = platform::parse_time_ms(item);
    if (!ms) return error_response(400, "at: \"" + item + "\" is not a time (ms, ISO-8601)");
    if (std::find(out.begin(), out.end(), *ms) == out.end()) out.push_back(*ms);
  }
  return std::nullopt;
}

// The filters of a GET into `t`: its query string, and the members of a JSON object body, which
// a client library sends instead (the query string wins). No body, or null, adds none; the 400
// for any other body that is not a JSON object.
std::optional<Response> filters_of(const Call& call, Target& t) {
  t = call.target;
  if (call.req.body.find_first_not_of(" \t\r\n") == std::string::npos) return std::nullopt;
  std::string why;
  auto body = parse_json(call.req.body, &why);
  if (!body) return error_response(400, why);
  if (body->is_null()) return std::nullopt;
  if (!body->is_object()) {
    return error_response(400, "body must be a JSON object of filters (before, after, at, of, "
                               "offset, limit)");
  }
  auto text = [](const Json& v) { return v.is_string() ? v.get<std::string>() : dump(v); };
  for (const char* name : {"before", "after", "at", "of", "offset", "limit"}) {
    auto it = body->find(name);
    if (it == body->end() || it->is_null() || query_value(t, name)) continue;
    std::string value;
    if (it->is_array()) {
      for (const auto& item : *it) {
        if (!value.empty()) value += ',';
        value += text(item);
      }
    } else {
      value = text(*it);
    }
    t.query.emplace_back(name, std::move(value));
  }
  return std::nullopt;
}

// The filters of GET /iot/data and GET /iot/channel.
std::optional<Response> parse_history(const Call& call, const std::string& mask, History& h) {
  if (auto bad = bad_mask(mask)) return bad;
  h.q.mask = mask;
  Target t;
  if (auto bad = filters_of(call, t)) return bad;
  const auto of = query_list(t, "of");
  if (!of) return empty_list("of");
  if (auto bad = parse_of(*of, h.of)) return bad;
  if (auto v = query_value(t, "before")) {
    if (auto bad = set_bound(h.q, *v, true)) return bad;
  }
  if (auto v = query_value(t, "after")) {
    if (auto bad = set_bound(h.q, *v, false)) return bad;
  }
  const auto ats = query_list(t, "at");
  if (!ats) return empty_list("at");
  if (auto bad = add_ats(*ats, h.ats)) return bad;
  h.q.offset = 0;
  if (auto v = query_value(t, "offset")) {
    auto n = parse_count(*v);
    if (!n) return error_response(400, "offset must be a whole number >= 0");
    h.q.offset = *n;
  }
  h.q.limit = kDefaultLimit;
  if (auto v = query_value(t, "limit")) {
    auto n = parse_count(*v);
    if (!n || *n > kMaxLimit) {
      return error_response(400, "limit must be 0..10000 (0: as many as allowed, 10000)");
    }
    h.q.limit = *n == 0 ? kMaxLimit : *n;  // the libraries' "as many as possible"
  }
  return std::nullopt;
}

bool newer(const platform::Record& a, const platform::Record& b) {
  return a.at != b.at ? a.at > b.at : a.id > b.id;
}

// The records of `h` (one query, or one per `at` merged), newest first. Reader thread.
std::vector<platform::Record> read_history(store::DataStore& data, const History& h) {
  if (h.ats.size() <= 1) {
    store::DataQuery q = h.q;
    if (!h.ats.empty()) q.at = h.ats[0];
    return data.query(q);
  }
  std::vector<platform::Record> all;
  for (auto at : h.ats) {
    store::DataQuery q = h.q;
    q.at = at;
    q.offset = 0;
    q.limit = h.q.offset + h.q.limit;
    auto part = data.query(q);
    all.insert(all.end(), std::make_move_iterator(part.begin()),
               std::make_move_iterator(part.end()));
  }
  std::sort(all.begin(), all.end(), newer);
  const auto skip = std::min<std::size_t>(all.size(), static_cast<std::size_t>(h.q.offset));
  all.erase(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(skip));
  if (all.size() > static_cast<std::size_t>(h.q.limit)) all.resize(h.q.limit);
  return all;
}

std::vector<std::string> read_channels(store::DataStore& data, const History& h) {
  if (h.ats.size() <= 1) {
    store::DataQuery q = h.q;
    if (!h.ats.empty()) q.at = h.ats[0];
    return data.channels(q);
  }
  std::set<std::string> all;
  for (auto at : h.ats) {
    store::DataQuery q = h.q;
    q.at = at;
    q.offset = 0;
    q.limit = h.q.offset + h.q.limit;
    for (auto& c : data.channels(q)) all.insert(std::move(c));
  }
  std::vector<std::string> out;
  std::int64_t i = 0;
  for (const auto& c : all) {
    if (i++ < h.q.offset) continue;
    if (static_cast<std::int64_t>(out.size()) >= h.q.limit) break;
    out.push_back(c);
  }
  return out;
}

// [{"id","channel","of","data","at"}]: the stored data text goes out as it is, unparsed.
std::string records_json(const std::vector<platform::Record>& records) {
  std::string out = "[";
  for (const auto& r : records) {
    if (out.size() > 1) out += ',';
    out += R"({"id":")";
    out += r.id;
    out += R"(","channel":)";
    out += dump(Json(r.channel));
    out += R"(,"of":")";
    out += r.of;
    out += R"(","data":)";
    out += r.data_json;
    out += R"(,"at":)";
    out += std::to_string(r.at);
    out += '}';
  }
  out += ']';
  return out;
}

// One record of a PUT /iot/data, checked.
struct Entry {
  std::string of;
  std::string channel;
  platform::Envelope envelope;
};

// Waits for a set of records to be committed; the Done of each is made by done().
template <class Handler>
struct Commits {
  Commits(std::size_t n, Handler h) : remaining(n), handler(std::move(h)) {}
  std::atomic<std::size_t> remaining;
  std::atomic<bool> ok{true};
  Handler handler;
};

}  // namespace

namespace {

// One record of a PUT /iot/data body: into `out`, or the 400 that refuses it. `where` names the
// record in an array ("record 3: "), `channel` is the URL's.
std::optional<Response> read_entry(const Json& e, const std::string& where,
                                   const std::optional<std::string>& channel,
                                   const platform::Principal& who, std::int64_t now, Entry& out) {
  if (!e.is_object() || !e.contains("data")) {
    return error_response(400, where + "a record is an object with a \"data\" member");
  }
  if (auto unknown = unknown_member(
          e, {"data", "channel", "at", "ttl", "expire_at", "of", "id", "retain"}, where + "a record")) {
    return unknown;
  }
  bool bad = false;
  auto own_channel = string_member(e, "channel", bad);
  if (bad || (own_channel && !platform::valid_channel(*own_channel))) {
    return error_response(400, where + "\"channel\" must be a channel (no wildcard)");
  }
  if (own_channel) {
    out.channel = std::move(*own_channel);
  } else if (channel) {
    out.channel = *channel;
  } else {
    return error_response(400, where + "no channel: PUT /iot/data/CHANNEL, or \"channel\" "
                                       "in each record");
  }
  auto decoded = platform::decode_envelope(e, now);
  if (decoded.error != platform::PayloadError::kNone) {
    return error_response(400, where + "\"at\", \"ttl\" or \"expire_at\" is malformed");
  }
  out.envelope = std::move(decoded.envelope);
  // "of" as an MQTT envelope reads it (platform::decode_envelope), checked here by form.
  if (const auto& of = out.envelope.of) {
    auto id = platform::normalize_plug_id(*of, platform::IdKind::kDevice);
    if (!id) return error_response(400, where + "\"of\" must be a device Plug-ID");
    out.of = std::move(*id);
  } else if (!who.device_id.empty()) {
    out.of = who.device_id;
  } else {
    return error_response(400, where + "an account publishes as one of its devices: give "
                                       "\"of\"");
  }
  // "retain": true makes the record its topic's retained message, as an MQTT PUBLISH with
  // RETAIN 1 does (SPEC 11); with data "" it removes that one.
  if (auto it = e.find("retain"); it != e.end()) {
    if (!it->is_boolean()) return error_response(400, where + "\"retain\" must be true or false");
    out.envelope.retain = it->get<bool>();
  }
  return std::nullopt;
}

// The records of a PUT /iot/data body (one object or an array of them): into `out`, or the
// response that refuses the whole call.
std::optional<Response> read_entries(const Call& call, const std::optional<std::string>& channel,
                                     std::vector<Entry>& out, bool& single) {
  std::string why;
  auto body = parse_json(call.req.body, &why);
  if (!body) return error_response(400, why);
  single = body->is_object();
  if (!single && !body->is_array()) {
    return error_response(400, "body must be a record {\"data\":...} or an array of them");
  }
  const std::size_t count = single ? 1 : body->size();
  if (count == 0) return error_response(400, "no records to publish");
  const std::size_t max = call.ctx.options.http.max_records_per_publish;
  if (count > max) {
    return error_response(413, std::to_string(count) + " records in one call; at most " +
                                   std::to_string(max) + " (http.max_records_per_publish)");
  }
  out.reserve(count);
  const auto now = platform::now_ms();
  for (std::size_t i = 0; i < count; ++i) {
    const Json& e = single ? *body : (*body)[i];
    const std::string where = single ? std::string() : "record " + std::to_string(i + 1) + ": ";
    Entry entry;
    if (auto refused = read_entry(e, where, channel, call.caller.who, now, entry)) return refused;
    out.push_back(std::move(entry));
  }
  return std::nullopt;
}

// The same permission check as an MQTT publish, once per publishing device: the targets by
// Plug-ID into `targets`, or the 404 or 403 that refuses the call.
asio::awaitable<std::optional<Response>> check_targets(
    Call& call, const service::Directory& dir, const std::vector<Entry>& entries,
    std::map<std::string, platform::Target>& targets) {
  for (const auto& entry : entries) {
    if (targets.count(entry.of)) continue;
    auto lookup = service::find_target(call.ctx, dir, entry.of, call.caller.who);
    auto target = co_await std::move(lookup);
    if (!target) co_return error_response(404, "unknown device " + entry.of);
    if (!platform::may_write(call.caller.who, *target)) {
      call.ctx.metrics.add(service::Metrics::kDroppedDenied);
      co_return error_response(403, "no permission to publish as " + entry.of);
    }
    targets.emplace(entry.of, *target);
  }
  co_return std::nullopt;
}

// The records that entries with "id" update (SPEC 4), each a record of its device and channel
// (service::record_to_update): their ids into the entries, or the 404 that refuses the call.
asio::awaitable<std::optional<Response>> check_updates(Call& call, std::vector<Entry>& entries) {
  for (auto& entry : entries) {
    if (!entry.envelope.id) continue;
    auto lookup = service::record_to_update(call.ctx, entry.of, entry.channel, *entry.envelope.id);
    auto found = co_await std::move(lookup);
    if (!found) {
      co_return error_response(404, "no record \"" + *entry.envelope.id + "\" of " + entry.of +
                                        " on channel \"" + entry.channel + "\" to update");
    }
    entry.envelope.id = std::move(*found);
  }
  co_return std::nullopt;
}

// Publishes every entry: routed to MQTT subscribers at once, done once every record is
// committed (as a QoS 1 PUBACK is), so the ids in `ids` are records that survive a crash.
// Whether all were stored.
asio::awaitable<bool> publish_entries(Call& call, const service::Directory& dir,
                                      std::vector<Entry>& entries,
                                      const std::map<std::string, platform::Target>& targets,
                                      std::vector<std::string>& ids) {
  ids.reserve(entries.size());
  auto committed = asio::async_initiate<const asio::use_awaitable_t<>&, void(bool)>(
      [&](auto handler) {
        using H = decltype(handler);
        auto state = std::make_shared<Commits<H>>(entries.size(), std::move(handler));
        for (auto& entry : entries) {
          store::DataWriter::Done done = [state](bool ok) {
            if (!ok) state->ok = false;
            if (--state->remaining == 0) {
              auto ex = asio::get_associated_executor(state->handler);
              asio::post(ex, [state] { std::move(state->handler)(state->ok.load()); });
            }
          };
          ids.push_back(service::publish_record(call.ctx, dir, targets.at(entry.of),
                                                std::move(entry.channel), std::move(entry.envelope),
                                                service::kHttpQos, done));
        }
      },
      asio::use_awaitable);
  co_return co_await std::move(committed);
}

// The values of a DELETE /iot/data member into `out`: a string (one value or comma-separated),
// a whole number, or an array of those; none when absent or null. The 400 naming the member for
// any other type, and for an empty list or item (split_list).
std::optional<Response> list_member(const Json& body, const char* name,
                                    std::vector<std::string>& out) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  std::vector<const Json*> values;
  if (it->is_array()) {
    for (const auto& v : *it) values.push_back(&v);
  } else {
    values.push_back(&*it);
  }
  if (values.empty()) return empty_list(name);
  for (const Json* v : values) {
    if (v->is_number_integer() || v->is_number_unsigned()) {
      out.push_back(std::to_string(v->get<std::int64_t>()));
      continue;
    }
    if (!v->is_string()) {
      return error_response(400, std::string(name) + ": a string, a comma-separated string, a "
                                                     "whole number or an array of those");
    }
    auto items = split_list(v->get_ref<const std::string&>());
    if (!items) return empty_list(name);
    out.insert(out.end(), std::make_move_iterator(items->begin()),
               std::make_move_iterator(items->end()));
  }
  return std::nullopt;
}

// What a DELETE /iot/data selects: the records with these ids (when any: the bounds are then
// ignored), or those the query selects (one query per `at`).
struct Deletion {
  History h;                     // the mask, the publishers asked for, the bounds
  std::vector<std::string> ids;  // record ids, normalized
};

// The body of a DELETE /iot/data into `d`, or the 400 that refuses it.
std::optional<Response> parse_deletion(const Call& call, const std::string& mask, Deletion& d) {
  if (auto bad = bad_mask(mask)) return bad;
  Response error;
  auto body = object_body(call, error);
  if (!body) return error;
  std::vector<std::string> id_items, of_items, at_items, before_items, after_items;
  const std::pair<const char*, std::vector<std::string>*> members[] = {
      {"id", &id_items}, {"of", &of_items}, {"at", &at_items},
      {"before", &before_items}, {"after", &after_items}};
  for (const auto& [name, items] : members) {
    if (auto bad = list_member(*body, name, *items)) return bad;
  }
  if (before_items.size() > 1 || after_items.size() > 1) {
    return error_response(400, "before and after are one time or record id each");
  }
  if (id_items.empty() && at_items.empty() && before_items.empty() && after_items.empty()) {
    return error_response(400, "say which records: one of \"id\", \"before\", \"after\" or "
                               "\"at\" is required");
  }
  History& h = d.h;
  h.q.mask = mask;
  if (auto bad = parse_of(of_items, h.of)) return bad;
  if (!before_items.empty()) {
    if (auto bad = set_bound(h.q, before_items[0], true)) return bad;
  }
  if (!after_items.empty()) {
    if (auto bad = set_bound(h.q, after_items[0], false)) return bad;
  }
  if (auto bad = add_ats(at_items, h.ats)) return bad;
  for (const auto& item : id_items) {
    auto oid = platform::normalize_oid(item);
    if (!oid) return error_response(400, "id: \"" + item + "\" is not a record id");
    d.ids.push_back(*oid);
  }
  return std::nullopt;
}

// Deletes the records of `d.ids` among those of d.h.q's publishers under its mask, on the
// writer; how many went.
asio::awaitable<store::Result<std::size_t>> delete_by_ids(Call& call, const Deletion& d) {
  auto op = on_writer(call.ctx.writer, [ids = d.ids, q = d.h.q](store::DataStore& data) {
    return data.delete_ids(ids, q.of, q.mask);
  });
  co_return co_await std::move(op);
}

// Deletes the records `h` selects (one query per `at`), in short batches on the writer so that
// a large deletion never stalls ingest; how many went.
asio::awaitable<std::size_t> delete_by_query(Call& call, const History& h) {
  std::vector<std::optional<std::int64_t>> ats;
  for (auto at : h.ats) ats.emplace_back(at);
  if (ats.empty()) ats.emplace_back(std::nullopt);
  std::size_t total = 0;
  for (const auto& at : ats) {
    store::DataQuery q = h.q;
    q.at = at;
    for (;;) {
      auto op = on_writer(call.ctx.writer, [q](store::DataStore& data) {
        return data.delete_matching(q, kDeleteBatch);
      });
      const std::size_t n = co_await std::move(op);
      total += n;
      if (n < kDeleteBatch) break;
    }
  }
  co_return total;
}

}  // namespace

asio::awaitable<Response> put_data(Call& call, const std::optional<std::string>& channel) {
  if (channel && !platform::valid_channel(*channel)) {
    co_return error_response(400, "invalid channel \"" + *channel +
                                      "\": 1..200 bytes, levels separated by '/', no wildcard");
  }
  std::vector<Entry> entries;
  bool single = false;
  if (auto refused = read_entries(call, channel, entries, single)) co_return *refused;

  const auto dir = call.ctx.directory.get();
  std::map<std::string, platform::Target> targets;
  auto check = check_targets(call, *dir, entries, targets);
  if (auto refused = co_await std::move(check)) co_return *refused;
  auto updates = check_updates(call, entries);
  if (auto refused = co_await std::move(updates)) co_return *refused;

  auto room = writer_room(call.ctx);
  co_await std::move(room);
  std::vector<std::string> ids;
  auto publish = publish_entries(call, *dir, entries, targets, ids);
  const bool stored = co_await std::move(publish);
  if (!stored) co_return error_response(500, "the records could not be stored");
  if (single) co_return json_response(200, dump(Json(ids[0])));
  co_return json_response(200, dump(Json(ids)));
}

asio::awaitable<Response> get_data(Call& call, const std::string& mask) {
  History h;
  if (auto bad = parse_history(call, mask, h)) co_return *bad;
  Response refused;
  auto allowed = allowed_devices(call, h.of, false, refused);
  auto of = co_await std::move(allowed);
  if (!of) co_return refused;
  if (of->empty()) co_return json_response(200, "[]");
  h.q.of = std::move(*of);
  try {
    auto op = call.ctx.store.read(
        [h](service::StoreExecutor::ReadRepos& r) { return records_json(read_history(r.data, h)); });
    auto json = co_await std::move(op);
    co_return json_response(200, std::move(json));
  } catch (const std::exception& e) {
    co_return store_failure(e, "reading data");
  }
}

asio::awaitable<Response> get_channels(Call& call, const std::string& mask) {
  History h;
  if (auto bad = parse_history(call, mask, h)) co_return *bad;
  Response refused;
  auto allowed = allowed_devices(call, h.of, false, refused);
  auto of = co_await std::move(allowed);
  if (!of) co_return refused;
  if (of->empty()) co_return json_response(200, "[]");
  h.q.of = std::move(*of);
  try {
    auto op = call.ctx.store.read(
        [h](service::StoreExecutor::ReadRepos& r) { return dump(Json(read_channels(r.data, h))); });
    auto json = co_await std::move(op);
    co_return json_response(200, std::move(json));
  } catch (const std::exception& e) {
    co_return store_failure(e, "listing channels");
  }
}

asio::awaitable<Response> delete_data(Call& call, const std::string& mask) {
  Deletion d;
  if (auto bad = parse_deletion(call, mask, d)) co_return *bad;
  Response refused;
  auto allowed = allowed_devices(call, d.h.of, true, refused);
  auto of = co_await std::move(allowed);
  if (!of) co_return refused;
  if (of->empty()) co_return json_response(202, "0");
  d.h.q.of = std::move(*of);
  store::Result<std::size_t> total;
  try {
    if (!d.ids.empty()) {
      auto op = delete_by_ids(call, d);
      total = co_await std::move(op);
    } else {
      auto op = delete_by_query(call, d.h);
      total = co_await std::move(op);
    }
  } catch (const std::exception& e) {
    co_return store_failure(e, "deleting data");
  }
  if (!total) co_return failure_response(total.error(), "deleting data");
  co_return json_response(202, std::to_string(*total));
}

}  // namespace plugmq::http::detail
