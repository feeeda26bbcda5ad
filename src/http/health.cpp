// GET /health: whether this server can serve, for load balancers, Docker's HEALTHCHECK and
// monitoring. No credentials. 200 when the store thread and the data writer each answer a
// request (the store thread with a query on its database) and the server is not stopping; 503
// otherwise. The body says which part failed:
//   {"status":"ok"|"unavailable","store":"ok"|REASON,"writer":"ok"|REASON,"connections":N}
#include <exception>
#include <string>

#include "handlers.hpp"

namespace plugmq::http::detail {

namespace asio = boost::asio;

namespace {

std::string reason(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "failed";
  }
}

}  // namespace

asio::awaitable<Response> get_health(Call& call) {
  service::Context& ctx = call.ctx;
  std::string store = "ok";
  std::string writer = "ok";
  try {
    auto op = ctx.store.run([](service::StoreExecutor::Repos& r) {
      return r.identity.account_by_email("health@invalid").has_value();
    });
    co_await std::move(op);
  } catch (...) {
    store = reason(std::current_exception());
  }
  try {
    auto op = on_writer(ctx.writer, [](store::DataStore&) { return true; });
    co_await std::move(op);
  } catch (...) {
    writer = reason(std::current_exception());
  }
  const bool stopping = ctx.stopping.load();
  const bool ok = store == "ok" && writer == "ok" && !stopping;
  Json body{{"status", ok ? "ok" : stopping ? "stopping" : "unavailable"},
            {"store", store},
            {"writer", writer},
            {"connections", ctx.counters.connections.load()}};
  Response r = json_response(ok ? 200 : 503, body.dump());
  r.headers.emplace_back("Cache-Control", "no-store");
  co_return r;
}

}  // namespace plugmq::http::detail
