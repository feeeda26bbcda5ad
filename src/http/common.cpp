// What the REST handlers share (handlers.hpp).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "handlers.hpp"
#include "outcome_status.hpp"
#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/json.hpp"
#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/service/publish.hpp"
#include "plugmq/service/resume.hpp"

namespace plugmq::http::detail {

namespace asio = boost::asio;

namespace {
// Records deleted per writer task when a device's data goes.
constexpr std::size_t kPurgeBatch = 2000;
}  // namespace

Response need_auth(std::string_view msg) {
  Response r = error_response(401, msg);
  r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"plugmq\"");
  return r;
}

Response failure_response(const store::Failure& f, std::string_view what) {
  if (auto status = client_status_of(f.code)) return error_response(*status, f.message);
  if (auto t = platform::throttle_log("http store failure")) {
    spdlog::error("http: {} failed: {}{}", what, f.message, t->suffix());
  }
  return error_response(500, "internal error");
}

Response store_failure(const std::exception& e, std::string_view what) {
  if (auto t = platform::throttle_log("http store failure")) {
    spdlog::error("http: {} failed: {}{}", what, e.what(), t->suffix());
  }
  return error_response(500, "internal error");
}

std::string dump(const Json& j) { return platform::dump_json(j); }

std::optional<Json> object_body(const Call& call, Response& error) {
  std::string why;
  auto body = parse_json(call.req.body, &why);
  if (!body) {
    error = error_response(400, why);
    return std::nullopt;
  }
  if (!body->is_object()) {
    error = error_response(400, "body must be a JSON object");
    return std::nullopt;
  }
  return body;
}

std::optional<std::string> string_member(const Json& obj, const char* name, bool& bad) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    bad = true;
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::optional<Response> unknown_member(const Json& obj, std::initializer_list<std::string_view> known,
                                       std::string_view what) {
  for (const auto& [name, value] : obj.items()) {
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string list;
    for (std::string_view k : known) {
      list += list.empty() ? "" : ", ";
      list += k;
    }
    return error_response(400, "unknown member " + dump(Json(name)) + ": " + std::string(what) +
                                   " takes " + list);
  }
  return std::nullopt;
}

asio::awaitable<std::optional<platform::Target>> permitted_target(
    Call& call, const std::string& id, bool write, std::string_view refusal, Response& error) {
  const auto dir = call.ctx.directory.get();
  auto lookup = service::find_target(call.ctx, *dir, id, call.caller.who);
  auto target = co_await std::move(lookup);
  if (!target) {
    error = error_response(404, "unknown device");
    co_return std::nullopt;
  }
  const bool allowed = write ? platform::may_write(call.caller.who, *target)
                             : platform::may_read(call.caller.who, *target);
  if (!allowed) {
    error = error_response(403, refusal);
    co_return std::nullopt;
  }
  co_return target;
}

asio::awaitable<std::optional<std::vector<std::string>>> allowed_devices(
    Call& call, const std::vector<std::string>& of, bool write, Response& error) {
  const auto dir = call.ctx.directory.get();
  const platform::Principal& who = call.caller.who;
  auto allowed = [&](const platform::Target& t) {
    return write ? platform::may_write(who, t) : platform::may_read(who, t);
  };
  std::vector<std::string> out;
  if (!of.empty()) {
    for (const auto& id : of) {
      auto lookup = service::find_target(call.ctx, *dir, id, call.caller.who);
      auto t = co_await std::move(lookup);
      if (!t) {
        error = error_response(404, "unknown device " + id);
        co_return std::nullopt;
      }
      if (!allowed(*t)) {
        error = error_response(403, std::string("no permission to ") +
                                        (write ? "write" : "read") + " the data of " + id);
        co_return std::nullopt;
      }
      if (std::find(out.begin(), out.end(), t->device_id) == out.end()) {
        out.push_back(t->device_id);
      }
    }
    co_return out;
  }
  // Every device of the caller's account it may read (write): records of other accounts share
  // the store's indexes, so a read without `of` is always narrowed to these publishers.
  const auto& list = write ? who.perm.write : who.perm.read;
  std::vector<std::string> candidates;
  if (!who.device_id.empty() && list) {
    // A device with an explicit list: itself, the list, the things it controls.
    candidates.push_back(who.device_id);
    candidates.insert(candidates.end(), list->begin(), list->end());
    candidates.insert(candidates.end(), who.controls.begin(), who.controls.end());
  } else {
    for (const auto& [id, info] : dir->devices) {
      if (info.account_id == who.account_id) candidates.push_back(id);
    }
    if (!who.device_id.empty()) candidates.push_back(who.device_id);
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  for (const auto& id : candidates) {
    std::optional<platform::Target> t;
    if (const auto* info = dir->find(id)) {
      t = info->target(id);
    } else if (id == who.device_id) {
      t = platform::Target{who.account_id, id, who.perm.ctrl};
    }
    if (t && allowed(*t)) out.push_back(id);
  }
  co_return out;
}

asio::awaitable<void> writer_room(service::Context& ctx) {
  if (!ctx.writer.congested() || ctx.stopping) co_return;
  auto room = asio::async_initiate<const asio::use_awaitable_t<>&, void(bool)>(
      [&ctx](auto handler) {
        auto resume = service::resume_on_own_executor<bool>(std::move(handler));
        ctx.writer.when_room([resume = std::move(resume)] { resume(true); });
      },
      asio::use_awaitable);
  co_await std::move(room);
}

void purge_records(service::Context& ctx, const std::string& device) {
  // Each task deletes one short batch and queues the next, so records published meanwhile are
  // written between the batches: a long history never stalls ingest.
  struct Purge {
    store::DataWriter* writer;
    std::string device;
    std::size_t total = 0;
    void operator()(store::DataStore& data) {
      const std::size_t n = data.delete_of(device, kPurgeBatch);
      total += n;
      if (n == kPurgeBatch) {
        writer->push_task(*this);
      } else if (total > 0) {
        spdlog::info("http: deleted {} records of the deleted device {}", total, device);
      }
    }
  };
  ctx.writer.push_task(Purge{&ctx.writer, device});
}

}  // namespace plugmq::http::detail
