#include "plugmq/app/commands.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

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

namespace plugmq::app {

using nlohmann::json;

namespace {

constexpr const char* kMainHelp =
    R"(plugmq - a self-hosted CloudPlugs device platform: an MQTT 3.1.1 broker that
knows accounts and devices, applies their permissions and routes their data channels.

Usage: plugmq COMMAND [options]

Commands:
  serve [--config FILE] [--check-config]    run the broker in the foreground
  account add EMAIL --password P [--retention-days N]
  account set EMAIL [--password P] [--retention-days N] [--disabled true|false]
  template add --account EMAIL [--name N] [--ctrl rw|r|""] [--perm JSON]
  template list [--account EMAIL]
  serial add MODEL --hwid H --enroll-pass P [--control-pass C]
  serial add MODEL --csv FILE
  serial list MODEL
  prototype add --account EMAIL --name N [--hwid H]
  device list [--account EMAIL]
  device show ID
  device set ID [--perm JSON] [--status ok|disabled|reactivate] [--name N]
  data get CHANNEL_MASK [--of ID,...] [--before T] [--after T] [--limit N]

Options for every command:
  --config FILE    configuration file (JSON with comments; reference: config/plugmq.json).
                   Every command takes its data_dir; account add its retention.default_days
  --data-dir DIR   where plugmq.db lives (default: the configuration's data_dir, else
                   /var/lib/plugmq as root, ./plugmq-data otherwise)
  --json           machine-readable output: one JSON value on stdout
  --help           help for that command

  plugmq --version prints the version. Admin commands work while the server runs.
)";

constexpr const char* kServeHelp = R"(Usage: plugmq serve [options]

Runs the broker in the foreground until SIGTERM or SIGINT. SIGHUP loads the TLS certificate
and key again (new connections use them; on failure the old ones stay).

Settings come from the flags, then the --config file, then the built-in defaults (the reference
with every key and its default: config/plugmq.json).

  --config FILE           configuration file (JSON with comments)
  --check-config          validate the configuration (file and flags, TLS certificate and key
                          included), print "configuration OK" (with --json: the effective
                          configuration) and exit: 0 when valid, 2 with the error otherwise
  --data-dir DIR          database directory (created when missing)
  --mqtt ADDR:PORT        plain MQTT listener (default 0.0.0.0:1883; port 0 picks a free port)
  --mqtts ADDR:PORT       MQTT over TLS listener (default 0.0.0.0:8883), on when a certificate
                          and a key are configured
  --http ADDR:PORT        HTTP REST API listener (default 0.0.0.0:8080), or off
  --https ADDR:PORT       HTTPS REST API listener (default 0.0.0.0:8443), or off; on when a
                          certificate and a key are configured (the MQTT ones)
  --tls-cert FILE         PEM certificate chain for the TLS listeners (the server's first)
  --tls-key FILE          PEM private key of that certificate (unencrypted)
  --ready-file FILE       once listening, write {"mqtt":PORT,"mqtts":PORT|null,
                          "http":PORT|null,"https":PORT|null,"pid":PID}
  --log-level LEVEL       trace, debug, info (default), warn, error, critical, off
  --io-threads N          network threads (default: one per core)
  --max-connections N     connections beyond this are refused (default 100000)
  --max-packet-size BYTES largest accepted packet (default 1048576)
  --max-subscriptions N   topic filters one session may hold; a SUBSCRIBE past it gets
                          0x80 for each further filter (default 1000)
  --enroll-timeout S      an enrollment session is closed after S seconds (default 30)
  --enroll-attempts N     failed enrollments allowed per client address and per serial per
                          minute; past that, attempts get error 429 (default 10)
  --login-failures N      failed logins allowed per client address per minute; past that,
                          logins are refused unchecked: CONNACK 5, HTTP 429 (default 30)
  --login-failures-per-identity N
                          the same per account (and prototype with a password) (default 10)

A configuration that is not valid makes serve exit with status 2 before it listens.
)";

constexpr const char* kAccountHelp = R"(Usage:
  plugmq account add EMAIL --password P [--retention-days N]
  plugmq account set EMAIL [--password P] [--retention-days N] [--disabled true|false]

Passwords are 4..128 bytes and stored only as a salted PBKDF2 hash. Retention is in days
(default: retention.default_days of the --config file, else 30; 0 keeps data forever). A disabled account refuses its logins and its devices'.
)";

constexpr const char* kPrototypeHelp = R"(Usage:
  plugmq prototype add --account EMAIL --name N [--hwid H]

Creates a prototype device (permissions: read and write every device of its account) and
prints its Plug-ID and auth code. The auth code is shown once: it is stored only as a hash.
)";

constexpr const char* kTemplateHelp = R"(Usage:
  plugmq template add --account EMAIL [--name N] [--ctrl rw|r|""] [--perm JSON]
  plugmq template list [--account EMAIL]

A production template ("mod-...") groups the serial numbers of one product. Things that enroll
with it get its permission filter: by default {"of":{"r":[],"w":[]},"ctrl":"rw"}.
  --perm JSON   the things' filter {"of":{"r":LIST|null,"w":LIST|null},"ctrl":...}; members left
                out keep the default
  --ctrl C      what the things' controllers may do: rw (read and write), r (read), or "" (no
                controllers: --ctrl "" or --ctrl=); wins over ctrl in --perm
)";

constexpr const char* kSerialHelp = R"(Usage:
  plugmq serial add MODEL --hwid H --enroll-pass P [--control-pass C]
  plugmq serial add MODEL --csv FILE
  plugmq serial list MODEL

Registers serial numbers (HWIDs) in production template MODEL. A thing enrolls over MQTT with
client id HWID[/NAME] by subscribing to MODEL/thing/P; a controller with its own HWID, to
MODEL/ctrl/HWID/C. Without a control password, control of that thing is disabled. Passwords
are 4..128 bytes and stored only as salted hashes.

--csv FILE (- for stdin) registers many at once, all or none: one serial a line,
  hwid,enroll_pass[,control_pass]
Blank lines and lines starting with # are skipped, as is a first line starting with "hwid,"
(a header). An empty control_pass means none. A field may be double-quoted ("a,b", "say ""hi""")
to hold commas or quotes.
)";

constexpr const char* kDeviceHelp = R"(Usage:
  plugmq device list [--account EMAIL]
  plugmq device show ID
  plugmq device set ID [--perm JSON] [--status ok|disabled|reactivate] [--name N]

--perm takes the permission filter {"of":{"r":LIST|null,"w":LIST|null},"ctrl":"rw"|"r"|""}
(members left out keep their value). Changes apply to new logins at once.
)";

constexpr const char* kDataHelp = R"(Usage:
  plugmq data get CHANNEL_MASK [--of ID,...] [--before T] [--after T] [--limit N]

Prints stored data records matching the channel mask, newest first (by time, then by record
id): one line per record "TIME  PUBLISHER  CHANNEL  DATA", or with --json the array
[{"id","of","channel","data","at"}]. Operator command: no permissions apply.
  CHANNEL_MASK  a channel, or a mask with MQTT wildcards: '+' one level, a last '#' any
                number of levels ("a/#" also matches "a"; "#" matches every channel)
  --of ID,...   only records published by these devices
  --before T    only records older than T; --after T: newer than T. T is a time in ms since
                the epoch or ISO-8601 ("2024-05-01T12:00:00Z"), or a record id (24 hex digits:
                older/newer than that record)
  --limit N     at most N records, 1..10000 (default 100)
)";

bool wants_json(const Args& a) { return a.flags.count("json") > 0; }

// "2024-01-02T03:04:05.678Z" for ms since the epoch (UTC, proleptic Gregorian).
std::string iso_time(std::int64_t ms) {
  std::int64_t days = ms / 86'400'000;
  std::int64_t rem = ms % 86'400'000;
  if (rem < 0) {
    rem += 86'400'000;
    --days;
  }
  // Howard Hinnant's civil_from_days.
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = yoe + era * 400 + (m <= 2);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(rem / 3'600'000), static_cast<long long>(rem / 60'000 % 60),
                static_cast<long long>(rem / 1000 % 60), static_cast<long long>(rem % 1000));
  return buf;
}

json account_json(const store::Account& a) {
  return {{"id", a.id},
          {"email", a.email},
          {"retention_days", a.retention_days},
          {"disabled", a.disabled},
          {"created_at", a.created_at}};
}

// `props` is DataStore::props_raw text.
json device_json(const store::Device& d, const std::string& props) {
  json out = {{"id", d.id},
              {"kind", std::string(platform::to_string(d.kind))},
              {"name", d.name},
              {"hwid", d.hwid},
              {"model", d.model},
              {"account", d.account_id},
              {"perm", json::parse(platform::to_json(d.perm))},
              {"status", d.status},
              {"last_client_id", d.last_client_id},
              {"created_at", d.created_at}};
  if (d.kind == platform::DeviceKind::kController) out["controls"] = d.controls;
  out["props"] = json::parse(props);
  return out;
}

void print_device_text(const store::Device& d, const std::string& props) {
  std::cout << d.id << "  " << platform::to_string(d.kind) << "  name=" << d.name
            << "  hwid=" << d.hwid << "  status=" << d.status
            << "  perm=" << platform::to_json(d.perm);
  if (d.kind == platform::DeviceKind::kController) {
    std::cout << "  controls=";
    for (std::size_t i = 0; i < d.controls.size(); ++i) {
      std::cout << (i ? "," : "") << d.controls[i];
    }
  }
  std::cout << "  props=" << props << "\n";
}

json template_json(const store::Template& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"account", t.account_id},
          {"thing_perm", json::parse(platform::to_json(t.thing_perm))},
          {"created_at", t.created_at}};
}

void print_template_text(const store::Template& t) {
  std::cout << t.id << "  name=" << t.name << "  account=" << t.account_id
            << "  thing_perm=" << platform::to_json(t.thing_perm) << "\n";
}

void expect_positional(const Args& a, std::size_t n, const char* what) {
  if (a.positional.size() < n) throw UsageError(std::string("missing ") + what);
  if (a.positional.size() > n) {
    throw UsageError("unexpected argument '" + a.positional[n] + "'");
  }
}

store::Db open_db(const Args& args, const Config& config) {
  auto dir = data_dir_from(args, config);
  ensure_dir(dir);
  return store::Db::open(dir / "plugmq.db");
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

// One CSV line split into fields; RFC 4180 quoting ("a,b", "say ""hi""") within the line.
// Nothing when a quote is unbalanced or stray.
std::optional<std::vector<std::string>> split_csv(std::string_view line) {
  std::vector<std::string> fields(1);
  std::size_t i = 0;
  bool field_start = true;
  while (i < line.size()) {
    const char c = line[i];
    if (c == ',') {
      fields.emplace_back();
      field_start = true;
      ++i;
    } else if (c == '"' && field_start) {
      ++i;
      for (;;) {
        if (i >= line.size()) return std::nullopt;  // unterminated
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            fields.back() += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        fields.back() += line[i++];
      }
      if (i < line.size() && line[i] != ',') return std::nullopt;  // text after the quote
      field_start = false;
    } else if (c == '"') {
      return std::nullopt;  // a quote inside an unquoted field
    } else {
      fields.back() += c;
      field_start = false;
      ++i;
    }
  }
  return fields;
}

struct CsvSerial {
  store::SerialSpec spec;
  std::size_t line = 0;
};

std::string source_name(const std::string& file) { return file == "-" ? "stdin" : file; }

// Reads serials from CSV text; a bad line is a UsageError naming `source` and its line number.
std::vector<CsvSerial> parse_serials_csv(std::istream& in, const std::string& source) {
  std::vector<CsvSerial> out;
  std::map<std::string, std::size_t> line_of;  // hwid -> line, for repeats
  std::string line;
  std::size_t number = 0;
  bool first = true;
  auto fail = [&](const std::string& what) -> UsageError {
    return UsageError(source + " line " + std::to_string(number) + ": " + what);
  };
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF files
    if (line.find_first_not_of(" \t") == std::string::npos || line[0] == '#') continue;
    if (first && line.rfind("hwid,", 0) == 0) {
      first = false;
      continue;  // a header
    }
    first = false;
    auto fields = split_csv(line);
    if (!fields) throw fail("unbalanced or misplaced double quote");
    if (fields->size() < 2 || fields->size() > 3) {
      throw fail("expected hwid,enroll_pass[,control_pass], got " + std::to_string(fields->size()) +
                 " field(s)");
    }
    store::SerialSpec spec;
    spec.hwid = (*fields)[0];
    spec.enroll_pass = (*fields)[1];
    if (fields->size() == 3 && !(*fields)[2].empty()) spec.control_pass = (*fields)[2];
    if (!platform::valid_hwid(spec.hwid)) {
      throw fail("hwid must be 1..128 bytes of UTF-8 without '/', '+', '#' or control characters");
    }
    if (!platform::valid_secret(spec.enroll_pass)) {
      throw fail("enroll password must be 4..128 bytes");
    }
    if (spec.control_pass && !platform::valid_secret(*spec.control_pass)) {
      throw fail("control password must be 4..128 bytes");
    }
    auto [it, fresh] = line_of.emplace(spec.hwid, number);
    if (!fresh) {
      throw fail("hwid " + json(spec.hwid).dump() + " repeats line " + std::to_string(it->second));
    }
    out.push_back({std::move(spec), number});
  }
  if (in.bad()) throw std::runtime_error("cannot read " + source);
  return out;
}

json serial_json(const store::Serial& s) {
  return {{"hwid", s.hwid},
          {"control", s.control_enabled},
          {"thing", s.thing_id.empty() ? json(nullptr) : json(s.thing_id)}};
}

}  // namespace

void ensure_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw std::runtime_error("cannot create data directory " + dir.string() + ": " + ec.message());
  }
}

int cmd_account(const std::string& verb, const Args& args) {
  const Config config = config_from(args);
  auto db = open_db(args, config);
  store::Identity id(db);
  store::Account account;
  if (verb == "add") {
    expect_positional(args, 1, "EMAIL");
    auto retention = args.get_int("retention-days", 0, 36500);
    account = id.add_account(args.positional[0], args.require("password"),
                             static_cast<int>(retention.value_or(config.retention_days)));
  } else {
    expect_positional(args, 1, "EMAIL");
    auto retention = args.get_int("retention-days", 0, 36500);
    std::optional<int> r;
    if (retention) r = static_cast<int>(*retention);
    account =
        id.set_account(args.positional[0], args.get("password"), r, args.get_bool("disabled"));
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
  auto created = id.add_prototype(account.id, args.require("name"), args.get("hwid").value_or(""));
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
    auto t = fleet.add_template(account.id, args.get("name").value_or(""), perm);
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

int cmd_serial(const std::string& verb, const Args& args) {
  expect_positional(args, 1, "MODEL");
  const std::string& model = args.positional[0];
  if (verb == "list") {
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

  if (auto csv = args.get("csv")) {
    for (const char* flag : {"hwid", "enroll-pass", "control-pass"}) {
      if (args.has(flag))
        throw UsageError(std::string("--csv and --") + flag + " exclude each other");
    }
    std::vector<CsvSerial> specs;
    if (*csv == "-") {
      specs = parse_serials_csv(std::cin, source_name(*csv));
    } else {
      std::ifstream in(*csv, std::ios::binary);
      if (!in) throw std::runtime_error("cannot open " + *csv);
      specs = parse_serials_csv(in, source_name(*csv));
    }
    auto db = open_db(args);
    store::Fleet fleet(db);
    const auto t = template_or_fail(fleet, model);
    // Serials already registered, named by line (add_serials would only know the position).
    std::set<std::string> registered;
    for (const auto& s : fleet.serials(t.id)) registered.insert(s.hwid);
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (registered.count(specs[i].spec.hwid)) {
        throw store::Error(store::Error::Code::kExists,
                           source_name(*csv) + " line " + std::to_string(specs[i].line) +
                               ": hwid " + json(specs[i].spec.hwid).dump() +
                               " is already registered in " + t.id);
      }
    }
    std::vector<store::SerialSpec> plain;
    for (auto& s : specs) plain.push_back(std::move(s.spec));
    const auto added = fleet.add_serials(t.id, plain);
    if (wants_json(args)) {
      std::cout << json{{"model", t.id}, {"added", added}}.dump() << "\n";
    } else {
      std::cout << "registered " << added << " serial(s) in " << t.id << "\n";
    }
    return 0;
  }

  store::SerialSpec spec{args.require("hwid"), args.require("enroll-pass"),
                         args.get("control-pass")};
  auto db = open_db(args);
  store::Fleet fleet(db);
  const auto s = fleet.add_serial(model, spec);
  if (wants_json(args)) {
    std::cout << json{{"model", s.model}, {"hwid", s.hwid}, {"control", s.control_enabled}}.dump()
              << "\n";
  } else {
    std::cout << "registered serial " << s.hwid << " in " << s.model << " (control "
              << (s.control_enabled ? "enabled" : "disabled") << ")\n";
  }
  return 0;
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
      for (const auto& d : devices) out.push_back(device_json(d, data.props_raw(d.id)));
      std::cout << out.dump() << "\n";
    } else {
      for (const auto& d : devices) print_device_text(d, data.props_raw(d.id));
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
    device = id.set_device(plug_id, perm, args.get("status"), args.get("name"));
  }
  const std::string props = store::DataStore(db).props_raw(device.id);
  if (wants_json(args)) {
    std::cout << device_json(device, props).dump() << "\n";
  } else {
    print_device_text(device, props);
  }
  return 0;
}

int cmd_data(const std::string&, const Args& args) {
  // Everything is checked before the database is opened (or created).
  expect_positional(args, 1, "CHANNEL_MASK");
  store::DataQuery q;
  q.mask = args.positional[0];
  if (!platform::valid_channel_mask(q.mask)) {
    throw UsageError("invalid channel mask '" + q.mask +
                     "': 1..200 bytes of UTF-8, levels separated by '/', none empty; a level may "
                     "be '+', the last may be '#'");
  }
  if (auto of = args.get("of")) {
    std::string_view rest = *of;
    for (;;) {
      const auto comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      auto id = platform::normalize_plug_id(item, platform::IdKind::kDevice);
      if (!id) throw UsageError("--of: '" + std::string(item) + "' is not a device Plug-ID");
      q.of.push_back(*id);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  // A time (ms or ISO-8601) or a record id.
  auto bound = [&](const char* flag, std::optional<std::int64_t>& time,
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
  };
  bound("before", q.before, q.before_id);
  bound("after", q.after, q.after_id);
  q.limit = args.get_int("limit", 1, 10000).value_or(100);

  auto db = open_db(args);
  store::DataStore data(db);
  const auto records = data.query(q);
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
  return 0;
}

int run_main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kMainHelp;
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << kMainHelp;
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::cout << "plugmq " << PLUGMQ_VERSION << "\n";
    return 0;
  }
  try {
    struct Sub {
      const char* help;
      std::set<std::string> verbs;
      OptionSpec options;
    };
    static const std::map<std::string, Sub> subs = {
        {"serve",
         {kServeHelp,
          {},
          {{"check-config", false},
           {"mqtt", true},
           {"mqtts", true},
           {"http", true},
           {"https", true},
           {"tls-cert", true},
           {"tls-key", true},
           {"ready-file", true},
           {"log-level", true},
           {"io-threads", true},
           {"max-connections", true},
           {"max-packet-size", true},
           {"max-subscriptions", true},
           {"enroll-timeout", true},
           {"enroll-attempts", true},
           {"login-failures", true},
           {"login-failures-per-identity", true}}}},
        {"account",
         {kAccountHelp,
          {"add", "set"},
          {{"password", true}, {"retention-days", true}, {"disabled", true}}}},
        {"template",
         {kTemplateHelp,
          {"add", "list"},
          {{"account", true}, {"name", true}, {"ctrl", true}, {"perm", true}}}},
        {"serial",
         {kSerialHelp,
          {"add", "list"},
          {{"hwid", true}, {"enroll-pass", true}, {"control-pass", true}, {"csv", true}}}},
        {"prototype",
         {kPrototypeHelp, {"add"}, {{"account", true}, {"name", true}, {"hwid", true}}}},
        {"device",
         {kDeviceHelp,
          {"list", "show", "set"},
          {{"account", true}, {"perm", true}, {"status", true}, {"name", true}}}},
        {"data",
         {kDataHelp, {"get"}, {{"of", true}, {"before", true}, {"after", true}, {"limit", true}}}},
    };
    auto it = subs.find(cmd);
    if (it == subs.end()) throw UsageError("unknown command '" + cmd + "' (see plugmq --help)");
    const Sub& sub = it->second;
    std::string verb;
    int first = 2;
    if (!sub.verbs.empty()) {
      if (argc < 3 || std::string(argv[2]) == "--help") {
        std::cout << sub.help;
        return argc < 3 ? 2 : 0;
      }
      verb = argv[2];
      if (!sub.verbs.count(verb)) {
        throw UsageError("unknown command '" + cmd + " " + verb + "' (see plugmq " + cmd +
                         " --help)");
      }
      first = 3;
    }
    auto args = parse_args(argc, argv, first, sub.options, cmd + (verb.empty() ? "" : " " + verb));
    if (args.flags.count("help")) {
      std::cout << sub.help;
      return 0;
    }
    if (cmd == "serve") return cmd_serve(args);
    if (cmd == "account") return cmd_account(verb, args);
    if (cmd == "prototype") return cmd_prototype(verb, args);
    if (cmd == "template") return cmd_template(verb, args);
    if (cmd == "serial") return cmd_serial(verb, args);
    if (cmd == "data") return cmd_data(verb, args);
    return cmd_device(verb, args);
  } catch (const UsageError& e) {
    std::cerr << "plugmq: " << e.what() << "\n";
    return 2;
  } catch (const store::Error& e) {
    std::cerr << "plugmq: " << e.what() << "\n";
    return e.code() == store::Error::Code::kInvalid ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "plugmq: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace plugmq::app
