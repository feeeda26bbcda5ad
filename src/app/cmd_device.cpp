// plugmq prototype add; plugmq device list | show | set | delete
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "output.hpp"
#include "plugmq/app/commands.hpp"
#include "plugmq/platform/permissions.hpp"

namespace plugmq::app {

using nlohmann::json;

namespace {

void print_new_auth(const std::string& auth) {
  std::cout << "auth code: " << auth << "\n(the auth code is shown only now)\n";
}

// device list [--account EMAIL]
int list_devices(const Args& args) {
  expect_positional(args, 0, "");
  refuse_flags(args, {"perm", "status", "name", "new-auth", "revoke-auth"}, "device list");
  auto db = open_db(args);
  store::Identity id(db);
  std::optional<std::string> account_id;
  if (auto email = args.get("account")) account_id = account_or_fail(id, *email).id;
  const auto devices = id.devices(account_id);
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

void print_device(const Args& args, store::Db& db, const store::Device& device,
                  const std::optional<std::string>& auth) {
  const std::string props = store::DataStore(db).properties().raw(device.id);
  if (wants_json(args)) {
    json out = device_json(device, props);
    if (auth) out["auth"] = *auth;
    std::cout << out.dump() << "\n";
  } else {
    print_device_text(device, props);
    if (auth) print_new_auth(*auth);
  }
}

// device set ID [--perm JSON] [--status S] [--name N] [--new-auth] [--revoke-auth]
int set_device(const std::string& plug_id, const Args& args) {
  if (auto s = args.get("status"); s && *s != "ok" && *s != "disabled" && *s != "reactivate") {
    throw UsageError("--status takes ok, disabled or reactivate, got '" + *s + "'");
  }
  auto db = open_db(args);
  store::Identity id(db);
  std::optional<platform::PermFilter> perm;
  if (auto p = args.get("perm")) {
    const auto current = device_or_fail(id, plug_id);
    std::string error;
    perm = platform::perm_from_json(*p, current.perm, &error);
    if (!perm) throw UsageError("--perm: " + error);
  }
  auto device = id.set_device(plug_id, perm, args.get("status"), args.get("name")).value();
  std::optional<std::string> auth;
  // Revoked first: with --new-auth too, the new code is the one that works.
  if (args.has("revoke-auth")) {
    device = id.revoke_auth(device.id).value();
    if (!wants_json(args)) {
      std::cout << "every auth code of " << device.id
                << " is revoked; a running server closes its connections within a second\n";
    }
  }
  if (args.has("new-auth")) {
    auto renewed = id.new_auth(device.id).value();
    device = std::move(renewed.device);
    auth = std::move(renewed.auth);
  }
  print_device(args, db, device, auth);
  return 0;
}

// device delete ID
int delete_device(const std::string& plug_id, const Args& args) {
  auto db = open_db(args);
  store::Identity id(db);
  const auto device = device_or_fail(id, plug_id);
  // With it go its properties, controls, retained messages and sessions (the schema); a
  // thing's serial can enroll again. A server on this database closes its connections at its
  // next directory refresh (within a second).
  if (!id.delete_device(device.id)) {
    throw store::Error(store::Error::Code::kNotFound, "no device " + plug_id);
  }
  store::DataStore data(db);
  const std::size_t records = purge_records(data, device.id);
  if (wants_json(args)) {
    std::cout << json{{"deleted", device.id}, {"records", records}}.dump() << "\n";
  } else {
    std::cout << "deleted " << platform::to_string(device.kind) << " " << device.id << " and its "
              << records << " record(s)";
    if (device.kind == platform::DeviceKind::kThing) {
      std::cout << "; its serial " << device.hwid << " in " << device.model << " can enroll again";
    }
    std::cout << "\n";
  }
  return 0;
}

}  // namespace

int cmd_prototype(const std::string&, const Args& args) {
  expect_positional(args, 0, "");
  // Flags first, so a usage error does not wait for the database.
  const std::string email = args.require("account");
  const std::string name = args.require("name");
  auto db = open_db(args);
  store::Identity id(db);
  const auto account = account_or_fail(id, email);
  auto created = id.add_prototype(account.id, name, args.get("hwid").value_or("")).value();
  if (wants_json(args)) {
    std::cout << json{{"id", created.device.id}, {"auth", created.auth}}.dump() << "\n";
  } else {
    std::cout << "created prototype " << created.device.id << "\n";
    print_new_auth(created.auth);
  }
  return 0;
}

int cmd_device(const std::string& verb, const Args& args) {
  if (verb == "list") return list_devices(args);
  expect_positional(args, 1, "device ID");
  if (args.has("account")) throw UsageError("device " + verb + " takes no --account");
  const std::string& plug_id = args.positional[0];
  if (verb == "set") return set_device(plug_id, args);
  refuse_flags(args, {"perm", "status", "name", "new-auth", "revoke-auth"},
               ("device " + verb).c_str());
  if (verb == "delete") return delete_device(plug_id, args);
  auto db = open_db(args);
  store::Identity id(db);
  print_device(args, db, device_or_fail(id, plug_id), std::nullopt);
  return 0;
}

}  // namespace plugmq::app
