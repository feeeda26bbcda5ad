// Turns an Asio completion handler into a plain callback that any thread may call once: the
// completion runs on the handler's own executor, which is kept from running out of work until
// then. For services whose waiting callers are resumed by other threads (RateLimiter, HashPool).
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace plugmq::service {

template <class Arg, class Handler>
std::function<void(Arg)> resume_on_own_executor(Handler handler) {
  auto home = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                  boost::asio::execution::outstanding_work.tracked);
  // std::function needs a copyable target; the handler is move-only.
  auto shared = std::make_shared<Handler>(std::move(handler));
  return [shared, home = std::move(home)](Arg arg) {
    boost::asio::post(
        home, [shared, arg = std::move(arg)]() mutable { std::move (*shared)(std::move(arg)); });
  };
}

}  // namespace plugmq::service
