#include "plugmq/app/commands.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "plugmq/platform/permissions.hpp"
#include "plugmq/store/db.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::app {

using nlohmann::json;

namespace {

constexpr const char* kMainHelp = R"(plugmq - a self-hosted CloudPlugs device platform: an MQTT 3.1.1 broker that
knows accounts and devices, applies their permissions and routes their data channels.

Usage: plugmq COMMAND [options]

Commands:
  serve                          run the broker in the foreground
  account add EMAIL --password P [--retention-days N]
  account set EMAIL [--password P] [--retention-days N] [--disabled true|false]
  prototype add --account EMAIL --name N [--hwid H]
  device list [--account EMAIL]
  device show ID
  device set ID [--perm JSON] [--status ok|disabled|reactivate] [--name N]

Options for every command:
  --data-dir DIR   where plugmq.db lives (default /var/lib/plugmq as root, ./plugmq-data otherwise)
  --json           machine-readable output: one JSON value on stdout
  --help           help for that command

  plugmq --version prints the version. Admin commands work while the server runs.
)";

constexpr const char* kServeHelp = R"(Usage: plugmq serve [options]

Runs the broker in the foreground until SIGTERM or SIGINT.

  --data-dir DIR          database directory (created when missing)
  --mqtt ADDR:PORT        plain MQTT listener (default 0.0.0.0:1883; port 0 picks a free port)
  --ready-file FILE       once listening, write {"mqtt":PORT,"mqtts":null,"http":null,"pid":PID}
  --log-level LEVEL       trace, debug, info (default), warn, error, critical, off
  --io-threads N          network threads (default: one per core)
  --max-connections N     connections beyond this are refused (default 100000)
  --max-packet-size BYTES largest accepted packet (default 1048576)
  --enroll-timeout S      an enrollment session is closed after S seconds (default 30)
  --enroll-attempts N     failed enrollments allowed per client address per minute; past
                          that, attempts get error 429 (default 10)
)";

constexpr const char* kAccountHelp = R"(Usage:
  plugmq account add EMAIL --password P [--retention-days N]
  plugmq account set EMAIL [--password P] [--retention-days N] [--disabled true|false]

Passwords are 4..128 bytes and stored only as a salted PBKDF2 hash. Retention is in days
(default 30, 0 keeps data forever). A disabled account refuses its logins and its devices'.
)";

constexpr const char* kPrototypeHelp = R"(Usage:
  plugmq prototype add --account EMAIL --name N [--hwid H]

Creates a prototype device (permissions: read and write every device of its account) and
prints its Plug-ID and auth code. The auth code is shown once: it is stored only as a hash.
)";

constexpr const char* kDeviceHelp = R"(Usage:
  plugmq device list [--account EMAIL]
  plugmq device show ID
  plugmq device set ID [--perm JSON] [--status ok|disabled|reactivate] [--name N]

--perm takes the permission filter {"of":{"r":LIST|null,"w":LIST|null},"ctrl":"rw"|"r"|""}
(members left out keep their value). Changes apply to new logins at once.
)";

bool wants_json(const Args& a) { return a.flags.count("json") > 0; }

json account_json(const store::Account& a) {
  return {{"id", a.id},
          {"email", a.email},
          {"retention_days", a.retention_days},
          {"disabled", a.disabled},
          {"created_at", a.created_at}};
}

json device_json(const store::Device& d) {
  return {{"id", d.id},
          {"kind", std::string(platform::to_string(d.kind))},
          {"name", d.name},
          {"hwid", d.hwid},
          {"model", d.model},
          {"account", d.account_id},
          {"perm", json::parse(platform::to_json(d.perm))},
          {"status", d.status},
          {"last_client_id", d.last_client_id},
          {"created_at", d.created_at}};
}

void print_device_text(const store::Device& d) {
  std::cout << d.id << "  " << platform::to_string(d.kind) << "  name=" << d.name
            << "  hwid=" << d.hwid << "  status=" << d.status
            << "  perm=" << platform::to_json(d.perm) << "\n";
}

void expect_positional(const Args& a, std::size_t n, const char* what) {
  if (a.positional.size() < n) throw UsageError(std::string("missing ") + what);
  if (a.positional.size() > n) {
    throw UsageError("unexpected argument '" + a.positional[n] + "'");
  }
}

store::Db open_db(const Args& args) {
  auto dir = data_dir_from(args);
  ensure_dir(dir);
  return store::Db::open(dir / "plugmq.db");
}

store::Account account_or_fail(store::Identity& id, const std::string& email) {
  auto a = id.account_by_email(email);
  if (!a) throw store::Error(store::Error::Code::kNotFound, "no account with email " + email);
  return *a;
}

}  // namespace

std::filesystem::path data_dir_from(const Args& args) {
  if (auto d = args.get("data-dir")) {
    if (d->empty()) throw UsageError("--data-dir must not be empty");
    return *d;
  }
  return geteuid() == 0 ? std::filesystem::path("/var/lib/plugmq")
                        : std::filesystem::path("plugmq-data");
}

void ensure_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw std::runtime_error("cannot create data directory " + dir.string() + ": " +
                             ec.message());
  }
}

int cmd_account(const std::string& verb, const Args& args) {
  auto db = open_db(args);
  store::Identity id(db);
  store::Account account;
  if (verb == "add") {
    expect_positional(args, 1, "EMAIL");
    auto retention = args.get_int("retention-days", 0, 36500);
    account = id.add_account(args.positional[0], args.require("password"),
                             static_cast<int>(retention.value_or(store::kDefaultRetentionDays)));
  } else {
    expect_positional(args, 1, "EMAIL");
    auto retention = args.get_int("retention-days", 0, 36500);
    std::optional<int> r;
    if (retention) r = static_cast<int>(*retention);
    account = id.set_account(args.positional[0], args.get("password"), r, args.get_bool("disabled"));
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

int cmd_device(const std::string& verb, const Args& args) {
  auto db = open_db(args);
  store::Identity id(db);
  if (verb == "list") {
    expect_positional(args, 0, "");
    std::optional<std::string> account_id;
    if (auto email = args.get("account")) account_id = account_or_fail(id, *email).id;
    auto devices = id.devices(account_id);
    if (wants_json(args)) {
      json out = json::array();
      for (const auto& d : devices) out.push_back(device_json(d));
      std::cout << out.dump() << "\n";
    } else {
      for (const auto& d : devices) print_device_text(d);
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
  if (wants_json(args)) {
    std::cout << device_json(device).dump() << "\n";
  } else {
    print_device_text(device);
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
          {{"mqtt", true},
           {"ready-file", true},
           {"log-level", true},
           {"io-threads", true},
           {"max-connections", true},
           {"max-packet-size", true},
           {"enroll-timeout", true},
           {"enroll-attempts", true}}}},
        {"account",
         {kAccountHelp,
          {"add", "set"},
          {{"password", true}, {"retention-days", true}, {"disabled", true}}}},
        {"prototype", {kPrototypeHelp, {"add"}, {{"account", true}, {"name", true}, {"hwid", true}}}},
        {"device",
         {kDeviceHelp,
          {"list", "show", "set"},
          {{"account", true}, {"perm", true}, {"status", true}, {"name", true}}}},
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
