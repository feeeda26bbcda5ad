// `/iot/device/ID/…`: a device's additional properties, read, set and deleted (SPEC 10).
// Every write goes through the data writer (set_props), in order with the data.
#include "handlers.hpp"
#include "outcome_status.hpp"
#include "plugmq/platform/topic.hpp"

namespace plugmq::http::detail {

namespace asio = boost::asio;

namespace {
constexpr std::string_view kNoRead = "no permission to read this device's properties";
constexpr std::string_view kNoWrite = "no permission to write this device's properties";
}  // namespace

asio::awaitable<store::PropReply> set_props(Call& call, const std::string& id,
                                            const std::string& payload) {
  auto op = on_writer(call.ctx.writer, [id, payload](store::DataStore& data) {
    return data.properties().set(id, payload);
  });
  co_return co_await std::move(op);
}

asio::awaitable<Response> get_props(Call& call, const std::string& id,
                                    const std::optional<std::string>& name) {
  Response error;
  auto lookup = permitted_target(call, id, false, kNoRead, error);
  auto target = co_await std::move(lookup);
  if (!target) co_return error;
  const std::string request = name ? dump(Json::array({*name})) : std::string();
  store::PropReply r;
  try {
    auto op = call.ctx.store.read(
        [plug = target->device_id, request](service::StoreExecutor::ReadRepos& rp) {
          return rp.data.properties().get(plug, request);
        });
    r = co_await std::move(op);
  } catch (const std::exception& e) {
    co_return store_failure(e, "reading properties");
  }
  if (!r.ok()) co_return error_response(status_of(r.outcome), r.msg);
  if (!name) co_return json_response(200, std::move(r.json));
  // One property: its value; null when it is not set (as a link with no data yet).
  auto all = Json::parse(r.json);
  auto it = all.find(*name);
  co_return json_response(200, it == all.end() ? "null" : dump(*it));
}

asio::awaitable<Response> patch_props(Call& call, const std::string& id,
                                      const std::optional<std::string>& name) {
  // The body: a JSON value (an object of several for PATCH /iot/device/ID/). No body, or
  // null, deletes the property (every property for PATCH /iot/device/ID/), as client libraries
  // send it. A single property's value that is not JSON is taken as text, as an MQTT payload
  // is, since client libraries send strings unquoted; text that looks like a JSON object, array
  // or string but does not parse is an error.
  const std::string_view raw = call.req.body;
  const auto first = raw.find_first_not_of(" \t\r\n");
  std::optional<Json> body;
  if (first == std::string_view::npos) {
    body = Json(nullptr);
  } else {
    std::string why;
    body = parse_json(raw, &why);
    if (!body) {
      const char c = raw[first];
      if (!name || c == '{' || c == '[' || c == '"' || !platform::valid_utf8(raw)) {
        co_return error_response(400, why);
      }
      body = Json(std::string(raw));
    }
  }
  if (!name && !body->is_object() && !body->is_null()) {
    co_return error_response(400, "body must be a JSON object (or null: delete every property)");
  }
  Response error;
  auto lookup = permitted_target(call, id, true, kNoWrite, error);
  auto target = co_await std::move(lookup);
  if (!target) co_return error;
  store::PropReply r;
  if (!name && body->is_null()) {
    auto op = on_writer(call.ctx.writer, [plug = target->device_id](store::DataStore& data) {
      auto all = data.properties().get(plug, "");
      if (!all.ok()) return all;
      Json none = Json::object();
      const Json current = Json::parse(all.json);
      for (const auto& [n, v] : current.items()) none[n] = nullptr;
      return data.properties().set(plug, dump(none));
    });
    r = co_await std::move(op);
  } else {
    Json payload;
    if (name) {
      payload[*name] = std::move(*body);
    } else {
      payload = std::move(*body);
    }
    const std::string text = dump(payload);  // a coroutine's reference parameter: a named local
    auto op = set_props(call, target->device_id, text);
    r = co_await std::move(op);
  }
  if (!r.ok()) co_return error_response(status_of(r.outcome), r.msg);
  co_return json_response(200, "null");
}

asio::awaitable<Response> delete_prop(Call& call, const std::string& id, const std::string& name) {
  Response error;
  auto lookup = permitted_target(call, id, true, kNoWrite, error);
  auto target = co_await std::move(lookup);
  if (!target) co_return error;
  Json payload;
  payload[name] = nullptr;
  const std::string text = dump(payload);  // a coroutine's reference parameter: a named local
  auto op = set_props(call, target->device_id, text);
  auto r = co_await std::move(op);
  if (!r.ok()) co_return error_response(status_of(r.outcome), r.msg);
  co_return json_response(200, "null");
}

}  // namespace plugmq::http::detail
