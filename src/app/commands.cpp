#include "plugmq/app/commands.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

#include "data_dir.hpp"
#include "output.hpp"
#include "plugmq/app/config.hpp"
#include "plugmq/platform/crypto.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/payload.hpp"
#include "plugmq/platform/permissions.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/store/data.hpp"
#include "plugmq/store/db.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/identity.hpp"
#include "plugmq/store/session_store.hpp"
#include "serials_csv.hpp"

namespace plugmq::app {

using nlohmann::json;

namespace {

std::string source_name(const std::string& file) { return file == "-" ? "stdin" : file; }

void expect_positional(const Args& a, std::size_t n, const char* what) {
  if (a.positional.size() < n) throw UsageError(std::string("missing ") + what);
  if (a.positional.size() > n) {
    throw UsageError("unexpected argument '" + a.positional[n] + "'");
  }
}

// The data directory's database, which must exist (data_dir.hpp: only `serve` and `account
// add` create one).
store::Db open_db(const Args& args, const Config& config) {
  auto file = existing_database(data_dir_from(args, config));
  set_database_in_use(file);
  return store::Db::open(file);
}

store::Db open_db(const Args& args) { return open_db(args, config_from(args)); }

store::Account account_or_fail(store::Identity& id, const std::string& email) {
  auto a = id.account_by_email(email);
  if (!a) throw store::Error(store::Error::Code::kNotFound, "no account with email " + email);
  return *a;
}

store::Template template_or_fail(store::Fleet& fleet, const std::string& model) {
  auto t = fleet.template_by_id(model);
  if (!t) throw store::Error(store::Error::Code::kNotFound, "no template " + model);
  return *t;
}

// `account add` is the one admin command that creates a database, and says so.
store::Db open_or_create_db(const Args& args, const Config& config) {
  const auto dir = data_dir_from(args, config);
  if (prepare_database(dir)) {
    std::cerr << "plugmq: created database " << std::filesystem::absolute(database_file(dir)).string()
              << "\n";
  }
  set_database_in_use(database_file(dir));
  return store::Db::open(database_file(dir));
}

}  // namespace

int cmd_account(const std::string& verb, const Args& args) {
  const Config config = config_from(args);
  auto db = verb == "add" ? open_or_create_db(args, config) : open_db(args, config);
  store::Identity id(db);
  store::Account account;
  if (verb == "add") {
    expect_positional(args, 1, "EMAIL");
    auto retention = args.get_int("retention-days", 0, 36500);
    account = id.add_account(args.positional[0], args.require("password"),
                             static_cast<int>(retention.value_or(config.retention_days)))
                  .value();
  } else {
    expect_positional(args, 1, "EMAIL");
    auto retention = args.get_int("retention-days", 0, 36500);
    std::optional<int> r;
    if (retention) r = static_cast<int>(*retention);
    account = id.set_account(args.positional[0], args.get("password"), r, args.get_bool("disabled"))
                  .value();
  }
  if (wants_json(args)) {
    std::cout << account_json(account).dump() << "\n";
  } else {
    std::cout << (verb == "add" ? "created" : "updated") << " account " << account.id << " ("
              << account.email << ", retention " << account.retention_days << " days"
              << (account.disabled ? ", disabled" : "") << ")\n";
  }
  return 0;
}

int cmd_prototype(const std::string&, const Args& args) {
  expect_positional(args, 0, "");
  auto db = open_db(args);
  store::Identity id(db);
  auto account = account_or_fail(id, args.require("account"));
  auto created =
      id.add_prototype(account.id, args.require("name"), args.get("hwid").value_or("")).value();
  if (wants_json(args)) {
    std::cout << json{{"id", created.device.id}, {"auth", created.auth}}.dump() << "\n";
  } else {
    std::cout << "created prototype " << created.device.id << "\nauth code: " << created.auth
              << "\n(the auth code is shown only now)\n";
  }
  return 0;
}

int cmd_template(const std::string& verb, const Args& args) {
  expect_positional(args, 0, "");
  // Flags first, so a usage error does not wait for (or create) the database.
  platform::PermFilter perm = platform::default_perm(platform::DeviceKind::kThing);
  if (verb == "add") {
    (void)args.require("account");
    if (auto p = args.get("perm")) {
      std::string error;
      auto parsed = platform::perm_from_json(*p, perm, &error);
      if (!parsed) throw UsageError("--perm: " + error);
      perm = *parsed;
    }
    if (auto c = args.get("ctrl")) {
      if (*c != "rw" && *c != "r" && !c->empty()) {
        throw UsageError("--ctrl takes rw, r or \"\" (empty: no controllers), got '" + *c + "'");
      }
      perm.ctrl = *c;
    }
  } else if (args.has("name") || args.has("ctrl") || args.has("perm")) {
    throw UsageError("template list takes only --account");
  }
  auto db = open_db(args);
  store::Identity id(db);
  store::Fleet fleet(db);
  if (verb == "add") {
    auto account = account_or_fail(id, args.require("account"));
    auto t = fleet.add_template(account.id, args.get("name").value_or(""), perm).value();
    if (wants_json(args)) {
      std::cout << template_json(t).dump() << "\n";
    } else {
      std::cout << "created template " << t.id << " (account " << account.email << ", thing perm "
                << platform::to_json(t.thing_perm) << ")\n";
    }
    return 0;
  }
  std::optional<std::string> account_id;
  if (auto email = args.get("account")) account_id = account_or_fail(id, *email).id;
  auto all = fleet.templates(account_id);
  if (wants_json(args)) {
    json out = json::array();
    for (const auto& t : all) out.push_back(template_json(t));
    std::cout << out.dump() << "\n";
  } else {
    for (const auto& t : all) print_template_text(t);
  }
  return 0;
}

namespace {

// serial list MODEL
int list_serials(const std::string& model, const Args& args) {
  for (const char* flag : {"hwid", "enroll-pass", "control-pass", "csv"}) {
    if (args.has(flag)) throw UsageError(std::string("serial list takes no --") + flag);
  }
  auto db = open_db(args);
  store::Fleet fleet(db);
  const auto t = template_or_fail(fleet, model);
  const auto serials = fleet.serials(t.id);
  if (wants_json(args)) {
    json out = json::array();
    for (const auto& s : serials) out.push_back(serial_json(s));
    std::cout << out.dump() << "\n";
  } else {
    for (const auto& s : serials) {
      std::cout << s.hwid << "  control=" << (s.control_enabled ? "yes" : "no")
                << "  thing=" << (s.thing_id.empty() ? "-" : s.thing_id) << "\n";
    }
  }
  return 0;
}

// The serials of a CSV file, or of stdin for "-".
std::vector<CsvSerial> read_serials_csv(const std::string& csv) {
  if (csv == "-") return parse_serials_csv(std::cin, source_name(csv));
  std::ifstream in(csv, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + csv);
  return parse_serials_csv(in, source_name(csv));
}

// Serials already registered in template `t`, named by line (add_serials would only know the
// position).
void refuse_registered(store::Fleet& fleet, const store::Template& t,
                       const std::vector<CsvSerial>& specs, const std::string& csv) {
  std::set<std::string> registered;
  for (const auto& s : fleet.serials(t.id)) registered.insert(s.hwid);
  for (const auto& s : specs) {
    if (registered.count(s.spec.hwid)) {
      throw store::Error(store::Error::Code::kExists,
                         source_name(csv) + " line " + std::to_string(s.line) + ": hwid " +
                             json(s.spec.hwid).dump() + " is already registered in " + t.id);
    }
  }
}

// serial add MODEL --csv FILE
int add_serials_csv(const std::string& model, const std::string& csv, const Args& args) {
  for (const char* flag : {"hwid", "enroll-pass", "control-pass"}) {
    if (args.has(flag))
      throw UsageError(std::string("--csv and --") + flag + " exclude each other");
  }
  std::vector<CsvSerial> specs = read_serials_csv(csv);
  auto db = open_db(args);
  store::Fleet fleet(db);
  const auto t = template_or_fail(fleet, model);
  refuse_registered(fleet, t, specs, csv);
  std::vector<store::SerialSpec> plain;
  for (auto& s : specs) plain.push_back(std::move(s.spec));
  const auto added = fleet.add_serials(t.id, plain).value();
  if (wants_json(args)) {
    std::cout << json{{"model", t.id}, {"added", added}}.dump() << "\n";
  } else {
    std::cout << "registered " << added << " serial(s) in " << t.id << "\n";
  }
  return 0;
}

// serial add MODEL --hwid H --enroll-pass P [--control-pass C]
int add_serial(const std::string& model, const Args& args) {
  store::SerialSpec spec{args.require("hwid"), args.require("enroll-pass"),
                         args.get("control-pass")};
  auto db = open_db(args);
  store::Fleet fleet(db);
  const auto s = fleet.add_serial(model, spec).value();
  if (wants_json(args)) {
    std::cout << json{{"model", s.model}, {"hwid", s.hwid}, {"control", s.control_enabled}}.dump()
              << "\n";
  } else {
    std::cout << "registered serial " << s.hwid << " in " << s.model << " (control "
              << (s.control_enabled ? "enabled" : "disabled") << ")\n";
  }
  return 0;
}

}  // namespace

int cmd_serial(const std::string& verb, const Args& args) {
  expect_positional(args, 1, "MODEL");
  const std::string& model = args.positional[0];
  if (verb == "list") return list_serials(model, args);
  if (auto csv = args.get("csv")) return add_serials_csv(model, *csv, args);
  return add_serial(model, args);
}

int cmd_device(const std::string& verb, const Args& args) {
  auto db = open_db(args);
  store::Identity id(db);
  if (verb == "list") {
    expect_positional(args, 0, "");
    std::optional<std::string> account_id;
    if (auto email = args.get("account")) account_id = account_or_fail(id, *email).id;
    auto devices = id.devices(account_id);
    store::DataStore data(db);
    // One small query per device: a primary-key range each.
    if (wants_json(args)) {
      json out = json::array();
      for (const auto& d : devices) out.push_back(device_json(d, data.properties().raw(d.id)));
      std::cout << out.dump() << "\n";
    } else {
      for (const auto& d : devices) print_device_text(d, data.properties().raw(d.id));
    }
    return 0;
  }
  expect_positional(args, 1, "device ID");
  const auto& plug_id = args.positional[0];
  store::Device device;
  if (verb == "show") {
    auto d = id.device(plug_id);
    if (!d) throw store::Error(store::Error::Code::kNotFound, "no device " + plug_id);
    device = *d;
  } else {
    std::optional<platform::PermFilter> perm;
    if (auto p = args.get("perm")) {
      auto current = id.device(plug_id);
      if (!current) throw store::Error(store::Error::Code::kNotFound, "no device " + plug_id);
      std::string error;
      perm = platform::perm_from_json(*p, current->perm, &error);
      if (!perm) throw UsageError("--perm: " + error);
    }
    if (auto s = args.get("status"); s && *s != "ok" && *s != "disabled" && *s != "reactivate") {
      throw UsageError("--status takes ok, disabled or reactivate, got '" + *s + "'");
    }
    device = id.set_device(plug_id, perm, args.get("status"), args.get("name")).value();
  }
  const std::string props = store::DataStore(db).properties().raw(device.id);
  if (wants_json(args)) {
    std::cout << device_json(device, props).dump() << "\n";
  } else {
    print_device_text(device, props);
  }
  return 0;
}

namespace {

// --of ID[,ID...]: device Plug-IDs, normalized.
std::vector<std::string> parse_of(std::string_view list) {
  std::vector<std::string> of;
  for (;;) {
    const auto comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    auto id = platform::normalize_plug_id(item, platform::IdKind::kDevice);
    if (!id) throw UsageError("--of: '" + std::string(item) + "' is not a device Plug-ID");
    of.push_back(*id);
    if (comma == std::string_view::npos) return of;
    list.remove_prefix(comma + 1);
  }
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

// The query of data get, every flag checked.
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
  q.limit = args.get_int("limit", 1, 10000).value_or(100);
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

}  // namespace

int cmd_data(const std::string&, const Args& args) {
  // Everything is checked before the database is opened (or created).
  const store::DataQuery q = data_query(args);
  auto db = open_db(args);
  store::DataStore data(db);
  print_records(args, data.query(q));
  return 0;
}

// Waiting messages are counted up to this many per session (a count reads no record data).
constexpr std::int64_t kWaitingCap = 1'000'000;

int cmd_session(const std::string& verb, const Args& args) {
  auto db = open_db(args);
  store::SessionStore sessions(db);
  if (verb == "delete") {
    expect_positional(args, 2, "ID and CLIENT_ID");
    sessions.remove(args.positional[0], args.positional[1]).value();
    if (wants_json(args)) {
      std::cout << json{{"deleted", true}}.dump() << "\n";
    } else {
      std::cout << "deleted session " << args.positional[0] << " " << args.positional[1] << "\n";
    }
    return 0;
  }
  expect_positional(args, 0, "");
  std::optional<std::string> account_id;
  if (auto email = args.get("account")) {
    store::Identity id(db);
    account_id = account_or_fail(id, *email).id;
  }
  store::DataStore data(db);
  json out = json::array();
  for (const auto& s : sessions.list(account_id)) {
    const std::int64_t waiting = store::SessionStore::waiting(data, s, kWaitingCap);
    if (wants_json(args)) {
      out.push_back(session_json(s, waiting));
    } else {
      print_session_text(s, waiting);
    }
  }
  if (wants_json(args)) std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace plugmq::app
