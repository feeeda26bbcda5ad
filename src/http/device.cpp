// `/iot/device…`: enrollment, prototypes, device information and changes, unenrollment,
// controllers' things (SPEC 10; SPEC 5 for enrollment). Additional properties: props.cpp.
#include <spdlog/spdlog.h>

#include "handlers.hpp"
#include "outcome_status.hpp"
#include "plugmq/platform/crypto.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/platform/props.hpp"
#include "plugmq/service/enrollment.hpp"
#include "plugmq/service/publish.hpp"
#include "plugmq/store/fleet.hpp"

namespace plugmq::http::detail {

namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

// kReloadNow: a request that changes identities rebuilds the device directory on the store
// thread before it answers, so that the client's next request (a publish right after an
// enrollment, a read right after taking control of a thing) is decided on the change.

Json device_info(const store::Device& d, const std::string& props_raw) {
  Json out;
  out["id"] = d.id;
  out["name"] = d.name;
  out["kind"] = std::string(platform::to_string(d.kind));
  out["hwid"] = d.hwid;
  out["model"] = d.model;
  out["perm"] = Json::parse(platform::to_json(d.perm));
  out["status"] = d.status;
  if (d.kind == platform::DeviceKind::kController) out["controls"] = d.controls;
  out["props"] = Json::parse(props_raw);
  return out;
}

store::EnrollResult unknown_thing() {
  store::EnrollResult r;
  r.outcome = platform::EnrollOutcome::kUnknown;
  r.msg = "unknown thing";
  return r;
}

Response enroll_reply(const store::EnrollResult& r, int status) {
  return json_response(status, dump(Json{{"id", r.id}, {"auth", r.auth}}));
}

void enroll_outcome(Call& call, const store::EnrollResult& r, const char* what) {
  service::record_enrollment(call.ctx, r, "http " + call.req.peer_address, what, "",
                             "http enrollment refused", call.req.peer_address);
}

// The optional "props" member: its JSON text once PropertyStore::check accepted it. A
// "location" member (PATCH /iot/device/ID) is the property of that name (platform::
// check_location), set with the others.
std::optional<std::string> props_member(const Json& body, Response& error, bool& bad) {
  auto it = body.find("props");
  auto loc = body.find(platform::kLocationProp);
  const bool has_props = it != body.end() && !it->is_null();
  if (loc == body.end() && !has_props) return std::nullopt;
  if (loc != body.end() && !loc->is_null()) {
    if (auto why = platform::check_location(dump(*loc)); !why.empty()) {
      error = error_response(400, why);
      bad = true;
      return std::nullopt;
    }
  }
  Json props = has_props ? *it : Json::object();
  if (loc != body.end() && props.is_object()) props[platform::kLocationProp] = *loc;
  std::string text = dump(props);
  auto check = store::PropertyStore::check(text);
  if (!check.ok()) {
    error = error_response(status_of(check.outcome), "props: " + check.msg);
    bad = true;
    return std::nullopt;
  }
  return text;
}

asio::awaitable<Response> enroll_thing(Call& call, const Json& body) {
  bool bad = false;
  auto model = string_member(body, "model", bad);
  auto hwid = string_member(body, "hwid", bad);
  auto pass = string_member(body, "pass", bad);
  auto name = string_member(body, "name", bad);
  if (bad || !model || !hwid || !pass) {
    co_return error_response(400,
                             "enrolling a thing needs \"model\", \"hwid\" and \"pass\" strings");
  }
  Response error;
  auto props = props_member(body, error, bad);
  if (bad) co_return error;
  // Coroutine arguments are lvalues: GCC 12 destroys the temporaries of a co_await
  // full-expression twice.
  const service::EnrollAttempt attempt{call.req.peer_address,
                                       "thing:" + platform::lower_ascii(*model) + '/' + *hwid,
                                       *pass, "wrong enroll password"};
  const service::EnrollStep step = [&store = call.ctx.store, m = *model, h = *hwid,
                                    n = name.value_or("")](service::StoreExecutor::Repos& repos,
                                                           const store::Secret& p) {
    auto r = repos.fleet.enroll_thing(m, h, p, n);
    if (r.ok()) store.reload_directory();  // see kReloadNow
    return r;
  };
  auto op = service::run_enrollment(call.ctx, attempt, step);
  store::EnrollResult r = co_await std::move(op);
  enroll_outcome(call, r, "thing");
  if (!r.ok()) co_return error_response(status_of(r.outcome), r.msg);
  if (props) {
    auto op = set_props(call, r.id, *props);
    auto set = co_await std::move(op);
    if (!set.ok()) co_return error_response(status_of(set.outcome), "props: " + set.msg);
  }
  co_return enroll_reply(r, 200);
}

asio::awaitable<Response> create_prototype(Call& call, const Json& body) {
  bool bad = false;
  auto name = string_member(body, "name", bad);
  auto hwid = string_member(body, "hwid", bad);
  auto pass = string_member(body, "pass", bad);
  if (bad || !name) {
    co_return error_response(400,
                             "a prototype needs a \"name\" string; \"hwid\" and \"pass\" "
                             "are strings when given");
  }
  std::optional<platform::PermFilter> perm;
  if (auto it = body.find("perm"); it != body.end() && !it->is_null()) {
    std::string why;
    perm = platform::perm_from_json(dump(*it),
                                    platform::default_perm(platform::DeviceKind::kPrototype), &why);
    if (!perm) co_return error_response(400, why);
  }
  Response error;
  auto props = props_member(body, error, bad);
  if (bad) co_return error;
  store::Result<store::NewDevice> made;
  try {
    auto op = call.ctx.store.run(
        [&store = call.ctx.store, account = call.caller.who.account_id, n = *name,
         h = hwid.value_or(""), pass,
         perm](service::StoreExecutor::Repos& r) -> store::Result<store::NewDevice> {
          std::optional<std::string_view> p;
          if (pass) p = *pass;
          auto nd = r.identity.add_prototype(account, n, h, p);
          if (!nd) return nd;
          if (perm) {
            auto d = r.identity.set_device(nd->device.id, perm, std::nullopt, std::nullopt);
            if (!d) return d.error();
            nd->device = std::move(*d);
          }
          store.reload_directory();  // see kReloadNow
          return nd;
        });
    made = co_await std::move(op);
  } catch (const std::exception& e) {
    co_return store_failure(e, "creating a prototype");
  }
  if (!made) co_return failure_response(made.error(), "creating a prototype");
  const store::NewDevice& created = *made;
  spdlog::info("http {}: prototype {} created in {}", call.req.peer_address, created.device.id,
               call.caller.who.account_id);
  if (props) {
    auto op = set_props(call, created.device.id, *props);
    auto set = co_await std::move(op);
    if (!set.ok()) co_return error_response(status_of(set.outcome), "props: " + set.msg);
  }
  co_return json_response(201, dump(Json{{"id", created.device.id}, {"auth", created.auth}}));
}

// A thing of MODEL named by its HWID or its Plug-ID: its HWID. Runs on the store thread.
std::optional<std::string> thing_hwid(store::Identity& ids, const std::string& model,
                                      const std::string& ctrl) {
  if (!platform::normalize_plug_id(ctrl, platform::IdKind::kDevice)) return ctrl;
  auto thing = ids.device(ctrl);
  auto model_id = platform::normalize_plug_id(model, platform::IdKind::kModel);
  if (!thing || thing->kind != platform::DeviceKind::kThing || !model_id ||
      thing->model != *model_id) {
    return std::nullopt;
  }
  return thing->hwid;
}

// What a device deletion (ours or the caller's) leaves to do off the store: its live MQTT
// sessions end, its records go in batches.
void after_delete(Call& call, const std::string& id) {
  call.ctx.registry.close_identity(id, broker::EndReason::kRevoked);
  purge_records(call.ctx, id);
}

}  // namespace

asio::awaitable<Response> post_device(Call& call, const Authenticate& auth) {
  Response error;
  auto body = object_body(call, error);
  if (!body) co_return error;
  // A thing enrolling needs no credentials; any it sends (a client library sends what it
  // holds, maybe those of a device since deleted) are ignored.
  if (body->contains("model")) {
    auto op = enroll_thing(call, *body);
    co_return co_await std::move(op);
  }
  auto check = auth(call);
  if (auto refused = co_await std::move(check)) co_return *refused;
  if (call.caller.kind == Caller::Kind::kNone) {
    co_return need_auth(
        "creating a prototype needs the account's credentials "
        "(enrolling a thing needs \"model\", \"hwid\" and \"pass\")");
  }
  if (!call.caller.master()) {
    co_return error_response(403,
                             "creating a prototype needs the account's password "
                             "(X-Plug-Master or Basic)");
  }
  auto op = create_prototype(call, *body);
  co_return co_await std::move(op);
}

asio::awaitable<Response> put_device(Call& call, const Authenticate& auth) {
  Response error;
  auto body = object_body(call, error);
  if (!body) co_return error;
  if (auto bad = unknown_member(*body, {"model", "ctrl", "pass", "hwid", "name"},
                                "a controller's enrollment")) {
    co_return *bad;
  }
  bool bad = false;
  auto model = string_member(*body, "model", bad);
  auto ctrl = string_member(*body, "ctrl", bad);
  auto pass = string_member(*body, "pass", bad);
  auto hwid = string_member(*body, "hwid", bad);
  auto name = string_member(*body, "name", bad);
  if (bad || !model || !ctrl || !pass) {
    co_return error_response(400,
                             "controlling a thing needs \"model\", \"ctrl\" and \"pass\" "
                             "strings; \"hwid\" and \"name\" are strings when given");
  }
  auto check = auth(call);
  if (auto refused = co_await std::move(check)) co_return *refused;

  const bool adding = call.caller.is_device();
  service::EnrollStep step;
  if (adding) {
    // An enrolled controller takes control of one more thing; its credentials stay.
    step = [&store = call.ctx.store, id = call.caller.who.device_id, m = *model, c = *ctrl](
               service::StoreExecutor::Repos& repos, const store::Secret& p) {
      auto thing = thing_hwid(repos.identity, m, c);
      if (!thing) return unknown_thing();
      auto r = repos.fleet.control_thing(id, m, *thing, p);
      if (r.ok()) store.reload_directory();  // see kReloadNow
      return r;
    };
  } else {
    // Without a HWID of its own, the controller gets a new one (and so is a new controller).
    step = [&store = call.ctx.store, m = *model, c = *ctrl,
            own_hwid = hwid.value_or("ctrl-" + platform::new_oid()),
            n = name.value_or("")](service::StoreExecutor::Repos& repos, const store::Secret& p) {
      auto thing = thing_hwid(repos.identity, m, c);
      if (!thing) return unknown_thing();
      auto r = repos.fleet.enroll_controller(m, *thing, p, own_hwid, n);
      if (r.ok()) store.reload_directory();  // see kReloadNow
      return r;
    };
  }
  const service::EnrollAttempt attempt{call.req.peer_address,
                                       "ctrl:" + platform::lower_ascii(*model) + '/' + *ctrl, *pass,
                                       "wrong control password"};
  auto op = service::run_enrollment(call.ctx, attempt, step);
  store::EnrollResult r = co_await std::move(op);
  enroll_outcome(call, r, adding ? "thing for controller" : "controller");
  if (!r.ok()) co_return error_response(status_of(r.outcome), r.msg);
  if (!adding) co_return enroll_reply(r, r.created ? 201 : 200);
  // The controller keeps its credentials: a device login gets them back (client libraries
  // store what this call returns), a login with the account's password gets nothing to store.
  if (call.caller.kind == Caller::Kind::kDevice) {
    co_return json_response(200, dump(Json{{"id", r.id}, {"auth", call.caller.auth}}));
  }
  co_return json_response(200, "{}");
}

asio::awaitable<Response> delete_devices(Call& call) {
  auto ids = plug_id_list(call.req.body);
  if (!ids) {
    co_return error_response(400,
                             "body must be a Plug-ID, a comma-separated list of them or a "
                             "JSON array of them");
  }
  if (!call.caller.master()) {
    // A device may unenroll itself, nothing else.
    for (const auto& id : *ids) {
      if (id != call.caller.who.device_id) {
        co_return error_response(403, "a device may only unenroll itself; deleting " + id +
                                          " needs the account's password");
      }
    }
  }
  std::vector<std::string> deleted;
  try {
    auto op = call.ctx.store.run([&store = call.ctx.store, account = call.caller.who.account_id,
                                  ids = *ids](service::StoreExecutor::Repos& r) {
      std::vector<std::string> gone;
      for (const auto& id : ids) {
        auto d = r.identity.device(id);
        // Devices never reach across accounts: another account's device counts as unknown.
        if (!d || d->account_id != account) continue;
        if (r.identity.delete_device(d->id)) gone.push_back(d->id);
      }
      if (!gone.empty()) store.reload_directory();  // see kReloadNow
      return gone;
    });
    deleted = co_await std::move(op);
  } catch (const std::exception& e) {
    co_return store_failure(e, "deleting devices");
  }
  for (const auto& id : deleted) {
    spdlog::info("http {}: device {} deleted", call.req.peer_address, id);
    after_delete(call, id);
  }
  co_return json_response(200, std::to_string(deleted.size()));
}

asio::awaitable<Response> get_device(Call& call, const std::string& id) {
  Response error;
  auto lookup = permitted_target(call, id, false, "no permission to read this device", error);
  auto target = co_await std::move(lookup);
  if (!target) co_return error;
  try {
    auto op = call.ctx.store.read([plug = target->device_id](service::StoreExecutor::ReadRepos& r) {
      std::optional<std::pair<store::Device, std::string>> out;
      if (auto d = r.identity.device(plug))
        out.emplace(std::move(*d), r.data.properties().raw(plug));
      return out;
    });
    auto found = co_await std::move(op);
    if (!found) co_return error_response(404, "unknown device");
    co_return json_response(200, dump(device_info(found->first, found->second)));
  } catch (const std::exception& e) {
    co_return store_failure(e, "reading a device");
  }
}

asio::awaitable<Response> patch_device(Call& call, const std::string& id) {
  Response error;
  auto body = object_body(call, error);
  if (!body) co_return error;
  if (auto bad = unknown_member(*body, {"name", "perm", "status", "props", platform::kLocationProp},
                                "a device (other properties go in \"props\")")) {
    co_return *bad;
  }
  auto lookup = permitted_target(call, id, true, "no permission to modify this device", error);
  auto target = co_await std::move(lookup);
  if (!target) co_return error;
  bool bad = false;
  auto name = string_member(*body, "name", bad);
  auto status = string_member(*body, "status", bad);
  if (bad) co_return error_response(400, "\"name\" and \"status\" are strings when given");
  std::optional<std::string> perm_json;
  if (auto it = body->find("perm"); it != body->end() && !it->is_null()) {
    if (!it->is_object()) co_return error_response(400, "perm must be a JSON object");
    perm_json = dump(*it);
  }
  // What a device may read and write, and whether it may log in, are the account's decisions:
  // a device cannot widen its own permissions.
  if ((perm_json || status) && !call.caller.master()) {
    co_return error_response(403,
                             "changing perm or status needs the account's password "
                             "(X-Plug-Master or Basic)");
  }
  auto props = props_member(*body, error, bad);
  if (bad) co_return error;
  const std::string plug = target->device_id;
  if (name || status || perm_json) {
    store::Result<store::Device> updated;
    try {
      auto op =
          call.ctx.store.run([&store = call.ctx.store, plug, name, status, perm_json](
                                 service::StoreExecutor::Repos& r) -> store::Result<store::Device> {
            std::optional<platform::PermFilter> perm;
            if (perm_json) {
              auto current = r.identity.device(plug);
              if (!current) return store::Failure{store::Errc::kNotFound, "unknown device"};
              std::string why;
              perm = platform::perm_from_json(*perm_json, current->perm, &why);
              if (!perm) return store::Failure{store::Errc::kInvalid, why};
            }
            auto d = r.identity.set_device(plug, perm, status, name);
            if (d) store.reload_directory();  // see kReloadNow; live sessions follow (SPEC 6)
            return d;
          });
      updated = co_await std::move(op);
    } catch (const std::exception& e) {
      co_return store_failure(e, "modifying a device");
    }
    if (!updated) co_return failure_response(updated.error(), "modifying a device");
  }
  if (props) {
    auto op = set_props(call, plug, *props);
    auto set = co_await std::move(op);
    if (!set.ok()) co_return error_response(status_of(set.outcome), "props: " + set.msg);
  }
  auto info = get_device(call, plug);
  co_return co_await std::move(info);
}

asio::awaitable<Response> release_things(Call& call, const std::string& id) {
  const auto dir = call.ctx.directory.get();
  auto lookup = service::find_target(call.ctx, *dir, id, call.caller.who);
  auto target = co_await std::move(lookup);
  if (!target) co_return error_response(404, "unknown device");
  const bool itself = target->device_id == call.caller.who.device_id;
  if (!itself && !(call.caller.master() && target->account_id == call.caller.who.account_id)) {
    co_return error_response(403,
                             "only the controller itself, or its account, releases its "
                             "things");
  }
  // Which things: none given (or null) means all; a Plug-ID list in any of its forms, or an
  // object {"controlled": LIST} as client libraries send it.
  std::optional<std::vector<std::string>> things;
  std::string_view body = call.req.body;
  const auto first = body.find_first_not_of(" \t\r\n");
  std::string list_text;
  if (first != std::string_view::npos && body.substr(first) != "null") {
    if (body[first] == '{') {
      std::string why;
      auto j = parse_json(body, &why);
      if (!j) co_return error_response(400, why);
      auto it = j->find("controlled");
      if (it != j->end() && !it->is_null()) list_text = dump(*it);
    } else {
      list_text = std::string(body);
    }
  }
  if (!list_text.empty()) {
    things = plug_id_list(list_text);
    if (!things) {
      co_return error_response(400,
                               "body must be null, Plug-IDs (one, comma-separated or a "
                               "JSON array) or {\"controlled\": those}");
    }
  }
  store::Result<std::size_t> released;
  try {
    auto op =
        call.ctx.store.run([&store = call.ctx.store, plug = target->device_id, things](
                               service::StoreExecutor::Repos& r) -> store::Result<std::size_t> {
          auto d = r.identity.device(plug);
          if (!d) return store::Failure{store::Errc::kNotFound, "unknown device"};
          if (d->kind != platform::DeviceKind::kController) {
            return store::Failure{store::Errc::kInvalid, plug + " is not a controller"};
          }
          auto n = r.fleet.release_things(plug, things);
          if (n > 0) store.reload_directory();  // see kReloadNow
          return n;
        });
    released = co_await std::move(op);
  } catch (const std::exception& e) {
    co_return store_failure(e, "releasing things");
  }
  if (!released) co_return failure_response(released.error(), "releasing things");
  co_return json_response(200, std::to_string(*released));
}

}  // namespace plugmq::http::detail
