// `DELETE /iot/auth/ID`: the account ends every auth code of one of its devices (SPEC 5), as
// `plugmq device set ID --revoke-auth` does. A controller that several phones enrolled as keeps
// their codes valid; this is how its account logs them all out. Its MQTT connections end as the
// directory is rebuilt (before the answer), its HTTP logins at their next request.
#include "handlers.hpp"
#include "plugmq/service/publish.hpp"

namespace plugmq::http::detail {

namespace asio = boost::asio;

asio::awaitable<Response> delete_auth(Call& call, const std::string& id) {
  if (!call.caller.master()) {
    co_return error_response(403,
                             "revoking a device's auth codes needs the account's password "
                             "(X-Plug-Master or Basic)");
  }
  const auto dir = call.ctx.directory.get();
  auto lookup = service::find_target(call.ctx, *dir, id, call.caller.who);
  auto target = co_await std::move(lookup);
  if (!target || target->account_id != call.caller.who.account_id) {
    co_return error_response(404, "unknown device");
  }
  store::Result<store::Device> revoked;
  try {
    auto op = call.ctx.store.run(
        [&store = call.ctx.store, plug = target->device_id](service::StoreExecutor::Repos& r) {
          auto d = r.identity.revoke_auth(plug);
          if (d) store.reload_directory();  // see kReloadNow (device.cpp): its sessions end now
          return d;
        });
    revoked = co_await std::move(op);
  } catch (const std::exception& e) {
    co_return store_failure(e, "revoking auth codes");
  }
  if (!revoked) co_return failure_response(revoked.error(), "revoking auth codes");
  co_return json_response(200, dump(Json{{"id", revoked->id}, {"revoked", true}}));
}

}  // namespace plugmq::http::detail
