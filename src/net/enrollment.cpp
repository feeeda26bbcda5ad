#include "plugmq/net/enrollment.hpp"

namespace plugmq::net {

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
    auto op = ctx.store.run([&step, pass = a.pass, hash](StoreWorker::Repos& r) {
      return step(r, store::Secret::offered(pass, hash));
    });
    result = co_await std::move(op);
    co_return Verdict{result.check_hash, counts_as_failure(result)};
  };
  const AttemptRun run{
      ctx.enroll_limits(), ctx.hashes, a.address, a.serial, a.pass, {},
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
                        "too many failed enrollment attempts from this address or for this "
                        "serial; try again later");
    case Admission::kBusy:
      co_return refusal(EnrollOutcome::kBusy,
                        "the server is busy checking passwords; try again later");
    case Admission::kAbandoned:
      co_return refusal(EnrollOutcome::kBusy,
                        "the enrollment session ended or the server is stopping");
  }
  co_return result;
}

}  // namespace plugmq::net
