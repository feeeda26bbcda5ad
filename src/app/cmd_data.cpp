// plugmq data get | delete
#include <iostream>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "cli_common.hpp"
#include "output.hpp"
#include "plugmq/app/commands.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/payload.hpp"
#include "plugmq/platform/topic.hpp"

namespace plugmq::app {

using nlohmann::json;

namespace {

// Records deleted per transaction: as DELETE /iot/data (http/data.cpp).
constexpr std::size_t kDeleteBatch = 2000;

// A comma-separated list of `flag`: each item normalized by `normalize`, or UsageError saying
// it is not `what`.
template <class Normalize>
std::vector<std::string> parse_list(std::string_view list, const char* flag, const char* what,
                                    Normalize normalize) {
  std::vector<std::string> out;
  for (;;) {
    const auto comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    auto id = normalize(item);
    if (!id)
      throw UsageError(std::string("--") + flag + ": '" + std::string(item) + "' is not " + what);
    out.push_back(*id);
    if (comma == std::string_view::npos) return out;
    list.remove_prefix(comma + 1);
  }
}

// --of ID[,ID...]: device Plug-IDs, normalized.
std::vector<std::string> parse_of(std::string_view list) {
  return parse_list(list, "of", "a device Plug-ID", [](std::string_view item) {
    return platform::normalize_plug_id(item, platform::IdKind::kDevice);
  });
}

// --before / --after: a time (ms or ISO-8601) or a record id.
void parse_bound(const Args& args, const char* flag, std::optional<std::int64_t>& time,
                 std::optional<std::string>& id) {
  auto v = args.get(flag);
  if (!v) return;
  if (auto oid = platform::normalize_oid(*v)) {
    id = *oid;
  } else if (auto ms = platform::parse_time_ms(*v)) {
    time = *ms;
  } else {
    throw UsageError(std::string("--") + flag +
                     " takes a time (ms since the epoch or ISO-8601) or a record id (24 hex "
                     "digits), got '" +
                     *v + "'");
  }
}

// The records of data get and data delete, every flag checked.
store::DataQuery data_query(const Args& args) {
  expect_positional(args, 1, "CHANNEL_MASK");
  store::DataQuery q;
  q.mask = args.positional[0];
  if (!platform::valid_channel_mask(q.mask)) {
    throw UsageError("invalid channel mask '" + q.mask +
                     "': 1..200 bytes of UTF-8, levels separated by '/', none empty; a level may "
                     "be '+', the last may be '#'");
  }
  if (auto of = args.get("of")) q.of = parse_of(*of);
  parse_bound(args, "before", q.before, q.before_id);
  parse_bound(args, "after", q.after, q.after_id);
  return q;
}

void print_records(const Args& args, const std::vector<platform::Record>& records) {
  if (wants_json(args)) {
    // Built as text: the stored data is compact JSON already, and goes out exactly as stored.
    std::string out = "[";
    for (const auto& r : records) {
      if (out.size() > 1) out += ',';
      out += R"({"id":")" + r.id + R"(","of":")" + r.of + R"(","channel":)" +
             json(r.channel).dump() + R"(,"data":)" + r.data_json + R"(,"at":)" +
             std::to_string(r.at) + "}";
    }
    out += "]";
    std::cout << out << "\n";
  } else {
    for (const auto& r : records) {
      std::cout << iso_time(r.at) << "  " << r.of << "  " << r.channel << "  " << r.data_json
                << "\n";
    }
  }
}

// data get MASK [--of ID,...] [--before T] [--after T] [--limit N]
int get_data(const Args& args) {
  if (args.has("id")) throw UsageError("data get takes no --id");
  // Everything is checked before the database is opened.
  store::DataQuery q = data_query(args);
  q.limit = args.get_int("limit", 1, 10000).value_or(100);
  auto db = open_db(args);
  store::DataStore data(db);
  print_records(args, data.query(q));
  return 0;
}

// data delete MASK [--id ID,...] [--of ID,...] [--before T] [--after T], as DELETE /iot/data.
int delete_data(const Args& args) {
  if (args.has("limit")) throw UsageError("data delete takes no --limit: it deletes every match");
  const store::DataQuery q = data_query(args);
  std::vector<std::string> ids;
  if (auto list = args.get("id")) {
    if (args.has("before") || args.has("after")) {
      throw UsageError("--id names the records: it takes no --before or --after");
    }
    ids = parse_list(*list, "id", "a record id (24 hex digits)",
                     [](std::string_view item) { return platform::normalize_oid(item); });
  }
  if (ids.empty() && q.of.empty() && !args.has("before") && !args.has("after")) {
    throw UsageError("data delete: say which records under '" + q.mask +
                     "': --id, --of, --before or --after (every record: --before with a time to "
                     "come)");
  }
  auto db = open_db(args);
  store::DataStore data(db);
  std::size_t total = 0;
  if (!ids.empty()) {
    // Those of the ids that a publisher of --of (when given) stored under the mask.
    total = data.delete_ids(ids, q.of, q.mask).value();
  } else {
    for (;;) {
      const std::size_t n = data.delete_matching(q, kDeleteBatch);
      total += n;
      if (n < kDeleteBatch) break;
    }
  }
  if (wants_json(args)) {
    std::cout << json{{"deleted", total}}.dump() << "\n";
  } else {
    std::cout << "deleted " << total << " record(s)\n";
  }
  return 0;
}

}  // namespace

int cmd_data(const std::string& verb, const Args& args) {
  if (verb == "get") return get_data(args);
  return delete_data(args);
}

}  // namespace plugmq::app
