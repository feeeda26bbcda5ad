#include "plugmq/net/accept_error.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>

#include "no_free_fds.hpp"

namespace plugmq::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Listening {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};

  // A client whose connection the kernel has completed: it waits in the listen queue.
  tcp::socket connect() {
    tcp::socket s(ioc);
    s.connect(acceptor.local_endpoint());
    return s;
  }

  // Runs recover_from_accept_error to its end for `failure`, or, when none is given, for what
  // accepting the next connection fails with. Returns the error it recovered from.
  boost::system::error_code recover(std::optional<boost::system::error_code> failure,
                                    os::SpareFd& spare, service::Counters& counters) {
    bool done = false;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          if (!failure) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
            failure = ec;
          }
          auto recovery = recover_from_accept_error(acceptor, *failure, spare, counters, "test");
          co_await std::move(recovery);
          done = true;
        },
        asio::detached);
    ioc.run();
    EXPECT_TRUE(done);
    return failure.value_or(boost::system::error_code{});
  }
};

// The server's end of `client` was closed: a read sees the end of the stream (or a reset).
bool closed_by_server(tcp::socket& client) {
  char byte = 0;
  boost::system::error_code ec;
  client.read_some(asio::buffer(&byte, 1), ec);
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

TEST(AcceptError, NothingWaitingNothingClosed) {
  Listening l;
  os::SpareFd spare;
  const Shed shed = shed_waiting(l.acceptor, spare);
  EXPECT_EQ(shed.closed, 0u);
  EXPECT_FALSE(shed.stuck);
  EXPECT_TRUE(spare.held());
}

TEST(AcceptError, WithoutASpareTheLoopMustPause) {
  Listening l;
  auto client = l.connect();
  os::SpareFd spare;
  spare.release();
  EXPECT_TRUE(shed_waiting(l.acceptor, spare).stuck);
}

TEST(AcceptError, OutOfDescriptorsTheWaitingConnectionsAreClosedAtOnce) {
  Listening l;
  os::SpareFd spare;
  auto first = l.connect();
  auto second = l.connect();
  service::Counters counters;
  boost::system::error_code failure;
  {
    plugmq::testing::NoFreeFds none;
    ASSERT_TRUE(none.ok());
    failure = l.recover(std::nullopt, spare, counters);
  }
  EXPECT_EQ(failure, asio::error::no_descriptors);
  EXPECT_EQ(counters.refused.load(), 2u);
  EXPECT_EQ(counters.accepted.load(), 2u);
  EXPECT_TRUE(spare.held());
  EXPECT_TRUE(closed_by_server(first));
  EXPECT_TRUE(closed_by_server(second));
}

TEST(AcceptError, AnyOtherErrorPausesTheLoop) {
  Listening l;
  os::SpareFd spare;
  service::Counters counters;
  const auto started = std::chrono::steady_clock::now();
  l.recover(asio::error::no_buffer_space, spare, counters);
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(100));
  EXPECT_EQ(counters.refused.load(), 0u);
}

}  // namespace
}  // namespace plugmq::net
