#include "plugmq/net/accept_error.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <chrono>
#include <string>

#include "plugmq/platform/log_throttle.hpp"

namespace plugmq::net {

namespace asio = boost::asio;

namespace {

// Waiting connections closed in one go at most; the rest wait for the next accept.
constexpr std::size_t kMaxShed = 1024;
constexpr auto kPause = std::chrono::milliseconds(100);

bool out_of_descriptors(const boost::system::error_code& ec) {
  return ec == asio::error::no_descriptors ||
         ec == boost::system::errc::too_many_files_open_in_system;
}

// What the log says about an accept that failed with `ec`.
std::string why(const boost::system::error_code& ec, const Shed& shed) {
  if (!out_of_descriptors(ec)) return "";
  const char* limit = ec == asio::error::no_descriptors
                          ? "the process's open-files limit (RLIMIT_NOFILE) is reached"
                          : "the system's open-files table is full";
  return fmt::format(" ({}; {} waiting connections closed at once)", limit, shed.closed);
}

// One waiting connection taken with the spare's descriptor and closed. Returns the errno of a
// failed accept, 0 on success.
int close_one(int listen_fd, os::SpareFd& spare) {
  spare.release();
  const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  const int err = fd < 0 ? errno : 0;
  if (fd >= 0) ::close(fd);
  spare.restore();
  return err;
}

}  // namespace

Shed shed_waiting(asio::ip::tcp::acceptor& acceptor, os::SpareFd& spare) {
  Shed shed;
  boost::system::error_code ec;
  acceptor.native_non_blocking(true, ec);  // an empty queue must not block the thread
  if (ec || !spare.held()) {
    shed.stuck = true;
    return shed;
  }
  while (shed.closed < kMaxShed) {
    const int err = close_one(acceptor.native_handle(), spare);
    if (err == 0) {
      ++shed.closed;
    } else if (err == EAGAIN || err == EWOULDBLOCK) {
      break;  // none left waiting
    } else if (err != EINTR && err != ECONNABORTED) {
      shed.stuck = true;  // still out of descriptors: someone else took the spare's
      break;
    }
    if (!spare.held()) {
      shed.stuck = true;
      break;
    }
  }
  return shed;
}

asio::awaitable<void> recover_from_accept_error(asio::ip::tcp::acceptor& acceptor,
                                                const boost::system::error_code& ec,
                                                os::SpareFd& spare,
                                                service::Counters& counters, const char* listener) {
  Shed shed;
  if (out_of_descriptors(ec)) {
    shed = shed_waiting(acceptor, spare);
    counters.accepted += shed.closed;
    counters.refused += shed.closed;
  } else {
    shed.stuck = true;
  }
  if (auto t = platform::throttle_log("accept failed", listener)) {
    spdlog::warn("{} accept failed: {}{}{}", listener, ec.message(), why(ec, shed), t->suffix());
  }
  if (!shed.stuck) co_return;
  asio::steady_timer pause(acceptor.get_executor(), kPause);
  co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace plugmq::net
