// plugmq template add | list | delete; plugmq serial add | list | delete
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli_common.hpp"
#include "output.hpp"
#include "plugmq/app/commands.hpp"
#include "plugmq/platform/permissions.hpp"
#include "plugmq/service/serials_csv.hpp"
#include "secrets.hpp"

namespace plugmq::app {

using nlohmann::json;

namespace {

std::string source_name(const std::string& file) { return file == "-" ? "stdin" : file; }

// The things' permission filter of template add, from --perm and --ctrl.
platform::PermFilter thing_perm(const Args& args) {
  platform::PermFilter perm = platform::default_perm(platform::DeviceKind::kThing);
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
  return perm;
}

// template add --account EMAIL [--name N] [--ctrl C] [--perm JSON]
int add_template(const Args& args) {
  expect_positional(args, 0, "");
  // Flags first, so a usage error does not wait for the database.
  const std::string email = args.require("account");
  const platform::PermFilter perm = thing_perm(args);
  auto db = open_db(args);
  store::Identity id(db);
  store::Fleet fleet(db);
  const auto account = account_or_fail(id, email);
  const auto t = fleet.add_template(account.id, args.get("name").value_or(""), perm).value();
  if (wants_json(args)) {
    std::cout << service::template_json(t).dump() << "\n";
  } else {
    std::cout << "created template " << t.id << " (account " << account.email << ", thing perm "
              << platform::to_json(t.thing_perm) << ")\n";
  }
  return 0;
}

// template list [--account EMAIL]
int list_templates(const Args& args) {
  expect_positional(args, 0, "");
  refuse_flags(args, {"name", "ctrl", "perm"}, "template list");
  auto db = open_db(args);
  store::Identity id(db);
  store::Fleet fleet(db);
  std::optional<std::string> account_id;
  if (auto email = args.get("account")) account_id = account_or_fail(id, *email).id;
  const auto all = fleet.templates(account_id);
  if (wants_json(args)) {
    json out = json::array();
    for (const auto& t : all) out.push_back(service::template_json(t));
    std::cout << out.dump() << "\n";
  } else {
    for (const auto& t : all) print_template_text(t);
  }
  return 0;
}

// template delete MODEL
int delete_template(const Args& args) {
  expect_positional(args, 1, "MODEL");
  refuse_flags(args, {"account", "name", "ctrl", "perm"}, "template delete");
  auto db = open_db(args);
  store::Fleet fleet(db);
  const auto gone = fleet.delete_template(args.positional[0]).value();
  if (wants_json(args)) {
    std::cout << json{{"deleted", gone.tmpl.id}, {"serials", gone.serials}, {"things", gone.things}}
                     .dump()
              << "\n";
  } else {
    std::cout << "deleted template " << gone.tmpl.id << " and its " << gone.serials << " serial(s)";
    if (gone.things > 0) {
      std::cout << "; the " << gone.things
                << " thing(s) enrolled from it stay and keep working, but cannot enroll again";
    }
    std::cout << "\n";
  }
  return 0;
}

// serial list MODEL
int list_serials(const std::string& model, const Args& args) {
  refuse_flags(args, {"hwid", "enroll-pass", "control-pass", "csv"}, "serial list");
  auto db = open_db(args);
  store::Fleet fleet(db);
  const auto t = template_or_fail(fleet, model);
  const auto serials = fleet.serials(t.id);
  if (wants_json(args)) {
    json out = json::array();
    for (const auto& s : serials) out.push_back(service::serial_json(s));
    std::cout << out.dump() << "\n";
  } else {
    for (const auto& s : serials) {
      std::cout << s.hwid << "  control=" << (s.control_enabled ? "yes" : "no")
                << "  thing=" << (s.thing_id.empty() ? "-" : s.thing_id) << "\n";
    }
  }
  return 0;
}

using service::CsvSerial;

// The serials of a CSV file, or of stdin for "-"; a bad line is a usage error naming it.
std::vector<CsvSerial> read_serials_csv(const std::string& csv) {
  std::string error;
  std::optional<std::vector<CsvSerial>> specs;
  if (csv == "-") {
    specs = service::parse_serials_csv(std::cin, source_name(csv), error);
  } else {
    std::ifstream in(csv, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + csv);
    specs = service::parse_serials_csv(in, source_name(csv), error);
  }
  if (!specs) throw UsageError(error);
  return std::move(*specs);
}

// Serials already registered in template `t`, named by line (add_serials would only know the
// position).
void refuse_registered(store::Fleet& fleet, const store::Template& t,
                       const std::vector<CsvSerial>& specs, const std::string& csv) {
  if (auto taken = service::already_registered(fleet.serials(t.id), specs, source_name(csv), t.id)) {
    throw store::Error(store::Error::Code::kExists, *taken);
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

// serial add MODEL --hwid H [--enroll-pass P|-] [--control-pass C|-]: two '-' read the enroll
// password's line first.
int add_serial(const std::string& model, const Args& args) {
  const std::string hwid = args.require("hwid");
  store::SerialSpec spec{hwid,
                         *secret_option(args, "enroll-pass", true, "enroll password of " + hwid),
                         secret_option(args, "control-pass", false, "control password of " + hwid)};
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

// serial delete MODEL HWID (or MODEL --hwid H)
int delete_serial(const Args& args) {
  refuse_flags(args, {"enroll-pass", "control-pass", "csv"}, "serial delete");
  std::string hwid;
  if (auto flag = args.get("hwid")) {
    expect_positional(args, 1, "MODEL");
    hwid = *flag;
  } else {
    expect_positional(args, 2, "MODEL and HWID");
    hwid = args.positional[1];
  }
  auto db = open_db(args);
  store::Fleet fleet(db);
  const auto s = fleet.delete_serial(args.positional[0], hwid).value();
  if (wants_json(args)) {
    std::cout << json{{"deleted", true},
                      {"model", s.model},
                      {"hwid", s.hwid},
                      {"thing", s.thing_id.empty() ? json(nullptr) : json(s.thing_id)}}
                     .dump()
              << "\n";
  } else {
    std::cout << "deleted serial " << s.hwid << " of " << s.model;
    if (!s.thing_id.empty()) {
      std::cout << "; thing " << s.thing_id << " stays, but cannot enroll again";
    }
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

int cmd_template(const std::string& verb, const Args& args) {
  if (verb == "add") return add_template(args);
  if (verb == "list") return list_templates(args);
  return delete_template(args);
}

int cmd_serial(const std::string& verb, const Args& args) {
  if (verb == "delete") return delete_serial(args);
  expect_positional(args, 1, "MODEL");
  const std::string& model = args.positional[0];
  if (verb == "list") return list_serials(model, args);
  if (auto csv = args.get("csv")) return add_serials_csv(model, *csv, args);
  return add_serial(model, args);
}

}  // namespace plugmq::app
