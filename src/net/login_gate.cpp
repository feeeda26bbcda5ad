#include "plugmq/net/login_gate.hpp"

#include <boost/asio/post.hpp>
#include <utility>

namespace plugmq::net {

namespace asio = boost::asio;

asio::execution_context::id LoginGate::id;

LoginGate::LoginGate(asio::execution_context& ctx)
    : asio::execution_context::service(ctx), ioc_(static_cast<asio::io_context&>(ctx)) {}

void LoginGate::enter(Go go) {
  if (taken_ < kPlaces) {
    ++taken_;
    if (!go()) leave();
    return;
  }
  waiting_.push_back(std::move(go));
}

void LoginGate::leave() {
  if (taken_ > 0) --taken_;
  if (waiting_.empty() || taken_ >= kPlaces) return;
  ++taken_;
  // Posted: leave() runs inside the previous holder's handler.
  asio::post(ioc_, [this, go = std::move(waiting_.front())] {
    if (!go()) leave();
  });
  waiting_.pop_front();
}

void LoginGate::shutdown() {
  // The io_context is going away: the sessions only these hold are destroyed with them.
  std::deque<Go> waiting;
  waiting.swap(waiting_);
}

}  // namespace plugmq::net
