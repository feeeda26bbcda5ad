// plugmq session list | delete
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli_common.hpp"
#include "output.hpp"
#include "plugmq/app/commands.hpp"
#include "plugmq/store/session_store.hpp"

namespace plugmq::app {

using nlohmann::json;

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
    const std::int64_t waiting = store::SessionStore::waiting(data, s, service::kSessionWaitingCap);
    if (wants_json(args)) {
      out.push_back(service::session_json(s, waiting));
    } else {
      print_session_text(s, waiting);
    }
  }
  if (wants_json(args)) std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace plugmq::app
