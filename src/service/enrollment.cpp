#include "plugmq/service/enrollment.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "plugmq/platform/ids.hpp"
#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/platform/outcome.hpp"
#include "plugmq/platform/topic.hpp"
#include "plugmq/service/reply.hpp"

namespace plugmq::service {

namespace asio = boost::asio;

namespace {

using platform::EnrollOutcome;

store::EnrollResult refusal(EnrollOutcome outcome, std::string msg) {
  store::EnrollResult r;
  r.outcome = outcome;
  r.msg = std::move(msg);
  return r;
}

}  // namespace

asio::awaitable<store::EnrollResult> run_enrollment(Context& ctx, const EnrollAttempt& a,
                                                    const EnrollStep& step) {
  store::EnrollResult result;
  const AttemptStep on_store = [&](std::string hash) -> asio::awaitable<Verdict> {
    auto op = ctx.store.run([&step, pass = a.pass, hash](StoreExecutor::Repos& r) {
      return step(r, store::Secret::offered(pass, hash));
    });
    result = co_await std::move(op);
    co_return Verdict{result.check_hash, counts_as_failure(result)};
  };
  const AttemptRun run{
      ctx.enroll_limits(),
      ctx.hashes,
      a.address,
      a.serial,
      a.pass,
      {},
      a.wanted ? a.wanted : std::function<bool()>([&ctx] { return !ctx.stopping; })};
  Admission admission;
  try {
    auto attempt = run_attempt(run, on_store);
    admission = co_await std::move(attempt);
  } catch (const std::exception& e) {
    result = refusal(EnrollOutcome::kFailed, "internal error");
    result.log_detail = e.what();
    co_return result;
  }
  switch (admission) {
    case Admission::kChecked:
      break;
    case Admission::kWrongSecret:
      co_return refusal(EnrollOutcome::kWrongPassword, a.wrong_pass);
    case Admission::kLimited:
      co_return refusal(EnrollOutcome::kTooManyAttempts,
                        "too many failed enrollment attempts from this address or for "
                        "this serial; try again later");
    case Admission::kBusy:
      co_return refusal(EnrollOutcome::kBusy,
                        "the server is busy checking passwords; try again later");
    case Admission::kAbandoned:
      co_return refusal(EnrollOutcome::kBusy,
                        "the enrollment session ended or the server is stopping");
  }
  co_return result;
}

void record_enrollment(Context& ctx, const store::EnrollResult& r, std::string_view who,
                       std::string_view what, std::string_view detail, std::string_view site,
                       const std::string& address) {
  if (r.ok()) {
    ctx.counters.enrolled++;
    spdlog::info("{}: enrolled {} {}{}", who, what, r.id, detail);
    return;
  }
  ctx.counters.enroll_failed++;
  if (r.outcome == EnrollOutcome::kFailed) {
    spdlog::error("{}: enrollment failed: {}", who, r.log_detail);
  } else if (auto t = platform::throttle_log(site, address)) {
    spdlog::info("{}: enrollment refused: {} {}{}", who, reply_code(r.outcome), r.msg, t->suffix());
  }
}

asio::awaitable<EnrollReply> enroll_by_topic(Context& ctx, const std::string& topic,
                                             const std::string& client_id,
                                             const std::string& address,
                                             const std::function<bool()>& wanted,
                                             const std::string& log_peer,
                                             std::string_view log_client) {
  const auto split = platform::split_client_id(client_id);
  auto parsed = platform::parse_enroll_topic(topic);
  store::EnrollResult result;
  if (!parsed) {
    result = refusal(
        EnrollOutcome::kMalformed,
        "malformed enrollment topic: expected MODEL/thing/PASS or MODEL/ctrl/THING_HWID/PASS");
  } else {
    const auto& t = *parsed;
    const EnrollAttempt attempt{
        address,
        (t.controller ? "ctrl:" : "thing:") + platform::lower_ascii(t.model) + '/' +
            (t.controller ? t.thing_hwid : split.hwid),
        t.pass, t.controller ? "wrong control password" : "wrong enroll password", wanted};
    const EnrollStep step = [&t, &split](StoreExecutor::Repos& r, const store::Secret& pass) {
      return t.controller
                 ? r.fleet.enroll_controller(t.model, t.thing_hwid, pass, split.hwid, split.name)
                 : r.fleet.enroll_thing(t.model, split.hwid, pass, split.name);
    };
    auto enroll = run_enrollment(ctx, attempt, step);
    result = co_await std::move(enroll);
  }
  // The new device joins the directory now, not in a second.
  if (result.ok()) ctx.store.request_reload();
  const std::string who = fmt::format("{} {}", log_peer, log_client);
  const bool controller = parsed && parsed->controller;
  record_enrollment(ctx, result, who, controller ? "controller" : "thing",
                    fmt::format(" (HWID {})", split.hwid), "mqtt enrollment refused", address);
  EnrollReply reply;
  reply.ok = result.ok();
  reply.json = result.ok() ? nlohmann::json{{"id", result.id}, {"auth", result.auth}}.dump()
                           : error_reply(result.outcome, result.msg);
  co_return reply;
}

}  // namespace plugmq::service
