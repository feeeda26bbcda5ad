// plugmq account add | set | list | delete
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "data_dir.hpp"
#include "output.hpp"
#include "plugmq/app/commands.hpp"
#include "secrets.hpp"

namespace plugmq::app {

using nlohmann::json;

namespace {

std::string password_what(const std::string& email) { return "password for " + email; }

// account add EMAIL [--password P|-] [--retention-days N]
int add_account(const Args& args, const Config& config) {
  expect_positional(args, 1, "EMAIL");
  refuse_flags(args, {"disabled", "yes"}, "account add");
  const std::string& email = args.positional[0];
  const auto retention = args.get_int("retention-days", 0, 36500);
  // The password first: a usage error creates no database.
  const std::string password = *secret_option(args, "password", true, password_what(email));
  auto db = open_or_create_db(args, config);
  store::Identity id(db);
  const auto account =
      id.add_account(email, password, static_cast<int>(retention.value_or(config.retention_days)))
          .value();
  if (wants_json(args)) {
    std::cout << account_json(account).dump() << "\n";
  } else {
    std::cout << "created account " << account.id << " (" << account.email << ", retention "
              << account.retention_days << " days)\n";
  }
  return 0;
}

// account set EMAIL [--password P|-] [--retention-days N] [--disabled true|false]
int set_account(const Args& args, const Config& config) {
  expect_positional(args, 1, "EMAIL");
  refuse_flags(args, {"yes"}, "account set");
  const std::string& email = args.positional[0];
  const auto retention = args.get_int("retention-days", 0, 36500);
  const auto disabled = args.get_bool("disabled");
  const auto password = secret_option(args, "password", false, password_what(email));
  auto db = open_db(args, config);
  store::Identity id(db);
  std::optional<int> r;
  if (retention) r = static_cast<int>(*retention);
  const auto account = id.set_account(email, password, r, disabled).value();
  if (wants_json(args)) {
    std::cout << account_json(account).dump() << "\n";
  } else {
    std::cout << "updated account " << account.id << " (" << account.email << ", retention "
              << account.retention_days << " days" << (account.disabled ? ", disabled" : "")
              << ")\n";
  }
  return 0;
}

// account list
int list_accounts(const Args& args, const Config& config) {
  expect_positional(args, 0, "");
  refuse_flags(args, {"password", "retention-days", "disabled", "yes"}, "account list");
  auto db = open_db(args, config);
  store::Identity id(db);
  json out = json::array();
  for (const auto& a : id.accounts()) {
    const auto counts = id.account_counts(a.id);
    if (wants_json(args)) {
      out.push_back(account_json(a, counts));
    } else {
      print_account_text(a, counts);
    }
  }
  if (wants_json(args)) std::cout << out.dump() << "\n";
  return 0;
}

std::string plural(std::int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// What goes with the account, in words: "3 devices and their records, 1 template, ...".
std::string holdings(const store::AccountCounts& c) {
  return plural(c.devices, "device", "devices") + (c.devices == 1 ? " and its" : " and their") +
         " records, " +
         plural(c.templates, "template", "templates") + " with " +
         plural(c.serials, "serial", "serials") + ", " +
         plural(c.sessions, "persistent session", "persistent sessions");
}

// account delete EMAIL --yes
int delete_account(const Args& args, const Config& config) {
  expect_positional(args, 1, "EMAIL");
  refuse_flags(args, {"password", "retention-days", "disabled"}, "account delete");
  const std::string& email = args.positional[0];
  auto db = open_db(args, config);
  store::Identity id(db);
  if (!args.has("yes")) {
    const auto account = account_or_fail(id, email);
    throw UsageError("account delete would delete account " + account.id + " (" + account.email +
                     ") with " + holdings(id.account_counts(account.id)) + ", for good (database " +
                     database_in_use() + "); run it again with --yes to delete them");
  }
  const auto gone = id.delete_account(email).value();
  store::DataStore data(db);
  std::size_t records = 0;
  for (const auto& device : gone.devices) records += purge_records(data, device);
  const auto& c = gone.counts;
  if (wants_json(args)) {
    std::cout << json{{"deleted", gone.account.id}, {"email", gone.account.email},
                      {"devices", c.devices},       {"records", records},
                      {"templates", c.templates},   {"serials", c.serials},
                      {"sessions", c.sessions}}
                     .dump()
              << "\n";
  } else {
    std::cout << "deleted account " << gone.account.id << " (" << gone.account.email << ") with "
              << plural(c.devices, "device", "devices") << " and "
              << plural(static_cast<std::int64_t>(records), "record", "records") << ", "
              << plural(c.templates, "template", "templates") << " with "
              << plural(c.serials, "serial", "serials") << ", "
              << plural(c.sessions, "persistent session", "persistent sessions") << "\n";
  }
  return 0;
}

}  // namespace

int cmd_account(const std::string& verb, const Args& args) {
  const Config config = config_from(args);
  if (verb == "add") return add_account(args, config);
  if (verb == "set") return set_account(args, config);
  if (verb == "list") return list_accounts(args, config);
  return delete_account(args, config);
}

}  // namespace plugmq::app
