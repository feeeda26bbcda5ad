// The REST API's handlers and what they share; private to the http module.
//
// A handler is a plain coroutine: a Call (the request, its parsed target and path, who is
// calling) in, a Response out. Api::handle() routes to them (api.cpp).
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "plugmq/http/message.hpp"
#include "plugmq/http/parse.hpp"
#include "plugmq/platform/permissions.hpp"
#include "plugmq/service/context.hpp"
#include "plugmq/store/data.hpp"
#include "plugmq/store/errc.hpp"
#include "plugmq/store/identity.hpp"

namespace plugmq::http::detail {

// ordered_json keeps members in the order the client sent them (data reads back like it was
// published, as over MQTT).
using Json = nlohmann::ordered_json;

// Who is calling (SPEC 10, "Authentication").
struct Caller {
  enum class Kind {
    kNone,     // no credentials: only the enrollment calls
    kDevice,   // X-Plug-Id + X-Plug-Auth
    kAccount,  // X-Plug-Email + X-Plug-Master, or Basic
    kHybrid,   // X-Plug-Id + X-Plug-Master: the device, vouched for by its account's password
  };
  Kind kind = Kind::kNone;
  platform::Principal who;  // account_id always; device_id for kDevice and kHybrid
  platform::DeviceKind device_kind = platform::DeviceKind::kPrototype;
  std::string auth;  // the X-Plug-Auth sent (kDevice), handed back to a controller adding a thing

  // Knows the account's password: may change permissions and status, delete any device of
  // the account.
  bool master() const { return kind == Kind::kAccount || kind == Kind::kHybrid; }
  bool is_device() const { return kind == Kind::kDevice || kind == Kind::kHybrid; }
};

struct Call {
  service::Context& ctx;
  const Request& req;
  const Target& target;
  std::string method;  // after X-HTTP-Method-Override
  Caller caller;
  bool authenticated = false;  // authenticate() ran and succeeded
};

// Runs the authentication of the request's headers (once) into call.caller. Nothing on
// success, including a request without credentials (caller kind kNone); else the 401 or 403.
using Authenticate = std::function<boost::asio::awaitable<std::optional<Response>>(Call&)>;

// ---- responses -----------------------------------------------------------------------------

// 401 asking for credentials (with WWW-Authenticate, so browsers and curl know to send Basic).
Response need_auth(std::string_view msg = "authentication required");
// An expected failure (a store::Result's error, or a check of the handler's own in a store
// task): its status by client_status_of (kInvalid 400, kNotFound 404, kExists 409) and its
// message. A Failure of kBusy or kDb is answered as store_failure answers an exception.
Response failure_response(const store::Failure& f, std::string_view what);
// What the store threw (the database failing, or a bug): 500, logged (throttled) without
// telling the client the cause. Expected failures are values: failure_response.
Response store_failure(const std::exception& e, std::string_view what);
std::string dump(const Json& j);

// ---- bodies --------------------------------------------------------------------------------
// (parse_json, in parse.hpp, reads a body as JSON.)

// The request's body as a JSON object; else nothing, with `error` the 400 (the JSON's fault, or
// "body must be a JSON object").
std::optional<Json> object_body(const Call& call, Response& error);

// A member that must be a string when present: nothing when absent; `bad` set when the wrong
// type.
std::optional<std::string> string_member(const Json& obj, const char* name, bool& bad);

// The 400 naming the first member of `obj` not among `known` (SPEC 10: a member a resource does
// not know is refused, not silently ignored), listing what `what` takes; nothing when all are.
std::optional<Response> unknown_member(const Json& obj, std::initializer_list<std::string_view> known,
                                       std::string_view what);

// ---- who may do what -----------------------------------------------------------------------

// The device `id` names (service::find_target) when the caller may read it (write = false) or
// write it; else nothing, with `error` the 404 "unknown device" or the 403 `refusal`.
boost::asio::awaitable<std::optional<platform::Target>> permitted_target(
    Call& call, const std::string& id, bool write, std::string_view refusal, Response& error);

// The devices whose data the caller may read (write = false) or write: the ones listed in `of`
// (404 for an unknown one, 403 for one it may not), or, when `of` is empty, every device of
// its account it may. Sets `error` and returns nothing on a refusal.
boost::asio::awaitable<std::optional<std::vector<std::string>>> allowed_devices(
    Call& call, const std::vector<std::string>& of, bool write, Response& error);

// ---- the data writer -----------------------------------------------------------------------

// Runs f(DataStore&) on the data writer thread, after everything queued before it, and resumes
// the caller with its result (or exception). R must be default-constructible.
template <class F>
boost::asio::awaitable<std::invoke_result_t<F, store::DataStore&>> on_writer(
    store::DataWriter& writer, F f) {
  using R = std::invoke_result_t<F, store::DataStore&>;
  auto initiate = [&writer](auto handler, F fn) {
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    writer.push_task([h, fn = std::move(fn)](store::DataStore& data) mutable {
      std::exception_ptr error;
      R result{};
      try {
        result = fn(data);
      } catch (...) {
        error = std::current_exception();
      }
      auto ex = boost::asio::get_associated_executor(*h);
      boost::asio::post(ex, [h, error, result = std::move(result)]() mutable {
        (*h)(error, std::move(result));
      });
    });
  };
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                     void(std::exception_ptr, R)>(
      initiate, boost::asio::use_awaitable, std::move(f));
}

// Waits while the data writer is over its high-water mark (SPEC 7: publishers are slowed,
// records are never dropped): until the writer says it has room, or the server stops.
boost::asio::awaitable<void> writer_room(service::Context& ctx);

// Sets properties (a JSON object's text that PropertyStore::check accepted) of device `id` on
// the data writer, where every property write happens, in order with the data (props.cpp).
boost::asio::awaitable<store::PropReply> set_props(Call& call, const std::string& id,
                                                   const std::string& payload);

// Deletes every record of `device` in batches on the writer, between ingest batches; returns at
// once (the batches follow each other on the writer thread).
void purge_records(service::Context& ctx, const std::string& device);

// ---- handlers ------------------------------------------------------------------------------

boost::asio::awaitable<Response> post_device(Call& call, const Authenticate& auth);
boost::asio::awaitable<Response> put_device(Call& call, const Authenticate& auth);
boost::asio::awaitable<Response> delete_devices(Call& call);
boost::asio::awaitable<Response> get_device(Call& call, const std::string& id);
boost::asio::awaitable<Response> patch_device(Call& call, const std::string& id);
boost::asio::awaitable<Response> release_things(Call& call, const std::string& id);
// DELETE /iot/auth/ID (http/auth_codes.cpp): the account ends every auth code of its device.
boost::asio::awaitable<Response> delete_auth(Call& call, const std::string& id);
// `name` nothing: every property.
boost::asio::awaitable<Response> get_props(Call& call, const std::string& id,
                                           const std::optional<std::string>& name);
boost::asio::awaitable<Response> patch_props(Call& call, const std::string& id,
                                             const std::optional<std::string>& name);
boost::asio::awaitable<Response> delete_prop(Call& call, const std::string& id,
                                             const std::string& name);

// `channel` nothing: each entry names its own (PUT /iot/data).
boost::asio::awaitable<Response> put_data(Call& call, const std::optional<std::string>& channel);
boost::asio::awaitable<Response> get_data(Call& call, const std::string& mask);
boost::asio::awaitable<Response> delete_data(Call& call, const std::string& mask);
boost::asio::awaitable<Response> get_channels(Call& call, const std::string& mask);
boost::asio::awaitable<Response> get_health(Call& call);   // health.cpp
boost::asio::awaitable<Response> get_metrics(Call& call);  // metrics.cpp

// What only the account may ask (account.cpp): 403 for a device's credentials.
boost::asio::awaitable<Response> list_devices(Call& call);
boost::asio::awaitable<Response> list_templates(Call& call);
boost::asio::awaitable<Response> post_template(Call& call);
boost::asio::awaitable<Response> list_serials(Call& call, const std::string& model);
// A JSON body registers one serial; a text/csv body imports many, all or none.
boost::asio::awaitable<Response> post_serials(Call& call, const std::string& model);
boost::asio::awaitable<Response> list_sessions(Call& call);
boost::asio::awaitable<Response> delete_session(Call& call, const std::string& id,
                                                const std::string& client_id);

// The web console's files (console.cpp): `file` is the path after "/console/" ("" for the
// page itself). No credentials: the page asks for them and sends them with each API call.
Response get_console(const Call& call, std::string_view file);

}  // namespace plugmq::http::detail
