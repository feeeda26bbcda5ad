// What only an account may ask (the console's lists, and scripts'): its devices, its production
// templates and their serials (one, or a CSV import), its persistent sessions. The JSON forms
// are the command line's (service/json_views.hpp), and a CSV import follows `plugmq serial add
// --csv`'s rules (service/serials_csv.hpp).
#include <spdlog/spdlog.h>

#include <sstream>

#include "handlers.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/json.hpp"
#include "plugmq/service/json_views.hpp"
#include "plugmq/service/serials_csv.hpp"
#include "plugmq/store/fleet.hpp"
#include "plugmq/store/session_store.hpp"

namespace plugmq::http::detail {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// What a CSV import calls its body in messages: "CSV line 3: …".
constexpr std::string_view kCsvSource = "CSV";

// The 403 for a caller that does not hold the account's password.
std::optional<Response> account_only(const Call& call, std::string_view what) {
  if (call.caller.master()) return std::nullopt;
  return error_response(403, std::string(what) +
                                 " needs the account's credentials (X-Plug-Email and "
                                 "X-Plug-Master, or Basic)");
}

// A JSON array of `items` as text.
template <class Items, class F>
std::string json_array(const Items& items, F to_json) {
  json out = json::array();
  for (const auto& item : items) out.push_back(to_json(item));
  return platform::dump_json(out);
}

// The template `model` of `account` (another account's counts as unknown: accounts never see
// each other's). Runs on a store or reader thread.
store::Result<store::Template> own_template(store::Fleet& fleet, const std::string& account,
                                            const std::string& model) {
  auto t = fleet.template_by_id(model);
  if (!t || t->account_id != account) {
    return store::Failure{store::Errc::kNotFound, "no template " + model};
  }
  return std::move(*t);
}

// GET of one of the account's lists: the account's password only, `read` (ReadRepos&, account
// id -> JSON text) on a reader thread, 200 with its text. `what` names the list in messages.
template <class Read>
asio::awaitable<Response> account_list(Call& call, std::string_view what, Read read) {
  if (auto refused = account_only(call, "listing " + std::string(what))) co_return *refused;
  try {
    auto op =
        call.ctx.store.read([account = call.caller.who.account_id, read](
                                service::StoreExecutor::ReadRepos& r) { return read(r, account); });
    std::string text = co_await std::move(op);
    co_return json_response(200, std::move(text));
  } catch (const std::exception& e) {
    co_return store_failure(e, "listing " + std::string(what));
  }
}

bool is_csv(const Request& req) {
  const std::string* type = req.header("Content-Type");
  if (!type) return false;
  std::string lower = platform::lower_ascii(*type);
  return lower.starts_with("text/csv");
}

// POST /iot/template/MODEL/serial with a JSON body: one serial.
asio::awaitable<Response> post_serial(Call& call, const std::string& model) {
  Response error;
  auto body = object_body(call, error);
  if (!body) co_return error;
  if (auto bad = unknown_member(*body, {"hwid", "enroll_pass", "control_pass"}, "a serial")) {
    co_return *bad;
  }
  bool bad = false;
  auto hwid = string_member(*body, "hwid", bad);
  auto enroll = string_member(*body, "enroll_pass", bad);
  auto control = string_member(*body, "control_pass", bad);
  if (bad || !hwid || !enroll) {
    co_return error_response(400,
                             "a serial needs \"hwid\" and \"enroll_pass\" strings; "
                             "\"control_pass\" is a string when given (none: control disabled)");
  }
  store::SerialSpec spec{*hwid, *enroll, control};
  store::Result<store::Serial> added;
  try {
    // One PBKDF2 hash or two: short enough for the store thread, as `serial add` does it.
    auto op =
        call.ctx.store.run([account = call.caller.who.account_id, model, spec = std::move(spec)](
                               service::StoreExecutor::Repos& r) -> store::Result<store::Serial> {
          auto t = own_template(r.fleet, account, model);
          if (!t) return t.error();
          return r.fleet.add_serial(t->id, spec);
        });
    added = co_await std::move(op);
  } catch (const std::exception& e) {
    co_return store_failure(e, "registering a serial");
  }
  if (!added) co_return failure_response(added.error(), "registering a serial");
  spdlog::info("http {}: serial {} registered in {}", call.req.peer_address, added->hwid,
               added->model);
  co_return json_response(201, platform::dump_json(json{{"model", added->model},
                                                        {"hwid", added->hwid},
                                                        {"control", added->control_enabled}}));
}

// POST /iot/template/MODEL/serial with Content-Type text/csv: every line, or none.
asio::awaitable<Response> import_serials(Call& call, const std::string& model) {
  std::string error;
  std::istringstream in(call.req.body);
  auto specs = service::parse_serials_csv(in, kCsvSource, error);
  if (!specs) co_return error_response(400, error);
  struct Checked {
    store::Result<store::Template> tmpl = store::Failure{store::Errc::kNotFound, ""};
    store::Result<std::vector<store::HashedSerial>> hashed = std::vector<store::HashedSerial>{};
  };
  Checked checked;
  try {
    // The checks, then the hashing (tens of ms a password, on every core), on a reader thread:
    // the store thread, which MQTT logins and enrollments wait for, only inserts.
    auto op = call.ctx.store.read([account = call.caller.who.account_id, model,
                                   specs = &*specs](service::StoreExecutor::ReadRepos& r) {
      Checked out;
      out.tmpl = own_template(r.fleet, account, model);
      if (!out.tmpl) return out;
      if (auto taken = service::already_registered(r.fleet.serials(out.tmpl->id), *specs,
                                                   kCsvSource, out.tmpl->id)) {
        out.hashed = store::Failure{store::Errc::kExists, *taken};
        return out;
      }
      std::vector<store::SerialSpec> plain;
      plain.reserve(specs->size());
      for (const auto& s : *specs) plain.push_back(s.spec);
      out.hashed = store::Fleet::hash_serials(plain);
      return out;
    });
    checked = co_await std::move(op);
  } catch (const std::exception& e) {
    co_return store_failure(e, "importing serials");
  }
  if (!checked.tmpl) co_return failure_response(checked.tmpl.error(), "importing serials");
  if (!checked.hashed) co_return failure_response(checked.hashed.error(), "importing serials");
  store::Result<std::size_t> added;
  try {
    auto op = call.ctx.store.run(
        [id = checked.tmpl->id, hashed = std::move(*checked.hashed)](
            service::StoreExecutor::Repos& r) { return r.fleet.add_hashed_serials(id, hashed); });
    added = co_await std::move(op);
  } catch (const std::exception& e) {
    co_return store_failure(e, "importing serials");
  }
  if (!added) co_return failure_response(added.error(), "importing serials");
  spdlog::info("http {}: {} serial(s) imported into {}", call.req.peer_address, *added,
               checked.tmpl->id);
  co_return json_response(
      201, platform::dump_json(json{{"model", checked.tmpl->id}, {"added", *added}}));
}

}  // namespace

asio::awaitable<Response> list_devices(Call& call) {
  return account_list(call, "the devices",
                      [](service::StoreExecutor::ReadRepos& r, const std::string& account) {
                        auto& props = r.data.properties();
                        return json_array(r.identity.devices(account), [&](const store::Device& d) {
                          return service::device_json(d, props.raw(d.id));
                        });
                      });
}

asio::awaitable<Response> list_templates(Call& call) {
  return account_list(call, "the templates",
                      [](service::StoreExecutor::ReadRepos& r, const std::string& account) {
                        return json_array(r.fleet.templates(account), service::template_json);
                      });
}

asio::awaitable<Response> post_template(Call& call) {
  if (auto refused = account_only(call, "creating a template")) co_return *refused;
  // No body: a template with the defaults.
  Response error;
  auto body = call.req.body.find_first_not_of(" \t\r\n") == std::string::npos
                  ? std::optional<Json>(Json::object())
                  : object_body(call, error);
  if (!body) co_return error;
  if (auto bad = unknown_member(*body, {"name", "perm", "ctrl"}, "a template")) co_return *bad;
  bool bad = false;
  auto name = string_member(*body, "name", bad);
  auto ctrl = string_member(*body, "ctrl", bad);
  if (bad) co_return error_response(400, "\"name\" and \"ctrl\" are strings when given");
  platform::PermFilter perm = platform::default_perm(platform::DeviceKind::kThing);
  if (auto it = body->find("perm"); it != body->end() && !it->is_null()) {
    if (!it->is_object()) co_return error_response(400, "perm must be a JSON object");
    std::string why;
    auto parsed = platform::perm_from_json(dump(*it), perm, &why);
    if (!parsed) co_return error_response(400, "perm: " + why);
    perm = *parsed;
  }
  if (ctrl) {
    if (*ctrl != "rw" && *ctrl != "r" && !ctrl->empty()) {
      co_return error_response(400, "ctrl takes \"rw\", \"r\" or \"\" (no controllers)");
    }
    perm.ctrl = *ctrl;
  }
  store::Result<store::Template> made;
  try {
    auto op = call.ctx.store.run([account = call.caller.who.account_id, n = name.value_or(""),
                                  perm](service::StoreExecutor::Repos& r) {
      return r.fleet.add_template(account, n, perm);
    });
    made = co_await std::move(op);
  } catch (const std::exception& e) {
    co_return store_failure(e, "creating a template");
  }
  if (!made) co_return failure_response(made.error(), "creating a template");
  spdlog::info("http {}: template {} created in {}", call.req.peer_address, made->id,
               made->account_id);
  co_return json_response(201, platform::dump_json(service::template_json(*made)));
}

asio::awaitable<Response> list_serials(Call& call, const std::string& model) {
  if (auto refused = account_only(call, "listing serials")) co_return *refused;
  store::Result<std::string> listed;
  try {
    auto op = call.ctx.store.read(
        [account = call.caller.who.account_id,
         model](service::StoreExecutor::ReadRepos& r) -> store::Result<std::string> {
          auto t = own_template(r.fleet, account, model);
          if (!t) return t.error();
          return json_array(r.fleet.serials(t->id), service::serial_json);
        });
    listed = co_await std::move(op);
  } catch (const std::exception& e) {
    co_return store_failure(e, "listing serials");
  }
  if (!listed) co_return failure_response(listed.error(), "listing serials");
  co_return json_response(200, std::move(*listed));
}

asio::awaitable<Response> post_serials(Call& call, const std::string& model) {
  if (auto refused = account_only(call, "registering serials")) co_return *refused;
  if (is_csv(call.req)) {
    auto op = import_serials(call, model);
    co_return co_await std::move(op);
  }
  auto op = post_serial(call, model);
  co_return co_await std::move(op);
}

asio::awaitable<Response> list_sessions(Call& call) {
  return account_list(
      call, "the sessions", [](service::StoreExecutor::ReadRepos& r, const std::string& account) {
        return json_array(r.sessions.list(account), [&](const store::Session& s) {
          return service::session_json(
              s, store::SessionStore::waiting(r.data, s, service::kSessionWaitingCap));
        });
      });
}

asio::awaitable<Response> delete_session(Call& call, const std::string& id,
                                         const std::string& client_id) {
  if (auto refused = account_only(call, "deleting a session")) co_return *refused;
  // Sessions are keyed by the identity as printed: lowercase.
  const std::string identity = platform::lower_ascii(id);
  store::Result<void> removed;
  try {
    auto op = call.ctx.store.run([account = call.caller.who.account_id, identity, client_id](
                                     service::StoreExecutor::Repos& r) -> store::Result<void> {
      auto s = r.sessions.load(identity, client_id);
      // Another account's session counts as none.
      if (!s || s->account_id != account) {
        return store::Failure{store::Errc::kNotFound,
                              "no session " + identity + " " + platform::quote_json(client_id)};
      }
      if (s->online) {
        // Its connection saves it again when it ends: deleting it now would not last.
        return store::Failure{store::Errc::kExists,
                              "the session's client is connected; it can be deleted once it "
                              "has disconnected"};
      }
      return r.sessions.remove(identity, client_id);
    });
    removed = co_await std::move(op);
  } catch (const std::exception& e) {
    co_return store_failure(e, "deleting a session");
  }
  if (!removed) co_return failure_response(removed.error(), "deleting a session");
  spdlog::info("http {}: session {} {} deleted", call.req.peer_address, identity, client_id);
  co_return json_response(200, platform::dump_json(json{{"deleted", true}}));
}

}  // namespace plugmq::http::detail
