#include "plugmq/net/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "plugmq/net/accept_error.hpp"
#include "plugmq/os/thread_name.hpp"
#include "plugmq/service/admission.hpp"
#include "session.hpp"
#include "tls.hpp"

namespace plugmq::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Server::Server(service::ServerOptions options)
    : ctx_(std::make_unique<service::Context>(std::move(options))) {}

Server::~Server() { stop(); }

unsigned Server::io_thread_count(const service::ServerOptions& options) {
  return options.io_threads != 0 ? options.io_threads
                                 : std::max(1u, std::thread::hardware_concurrency());
}

std::uint64_t Server::reserved_fds(const service::ServerOptions& options) {
  constexpr std::uint64_t kFixed = 40;       // streams, listeners, database files, spare, ...
  constexpr std::uint64_t kPerIoThread = 3;  // epoll, its wake-up eventfd, its timerfd
  constexpr std::uint64_t kPerReader = 2;    // a database connection: the file and its WAL
  return kFixed + kPerIoThread * io_thread_count(options) + kPerReader * options.read_threads;
}

void Server::start() {
  const unsigned n = io_thread_count(ctx_->options);
  // One io_context per thread: a session lives on one thread for its whole life, so its state
  // needs no strand and cross-thread deliveries only touch its locked queue.
  for (unsigned i = 0; i < n; ++i) {
    iocs_.push_back(std::make_unique<asio::io_context>(1));
    work_.emplace_back(iocs_.back()->get_executor());
  }

  mqtt_port_ = listen(mqtt_acceptor_.emplace(*iocs_[0]), "mqtt", ctx_->options.mqtt);
  if (ctx_->options.mqtts.enabled()) {
    tls_ctx_ = detail::make_tls_context(ctx_->options.mqtts);
    mqtts_port_ = listen(mqtts_acceptor_.emplace(*iocs_[0]), "mqtts", ctx_->options.mqtts.listen);
  }

  ctx_->store.start();
  ctx_->dispatcher.start();
  ctx_->writer.start();
  ctx_->hashes.start();
  asio::co_spawn(*iocs_[0], accept_loop(*mqtt_acceptor_, false), asio::detached);
  if (mqtts_acceptor_) {
    asio::co_spawn(*iocs_[0], accept_loop(*mqtts_acceptor_, true), asio::detached);
  }
  for (auto& ioc : iocs_) {
    threads_.emplace_back([&ioc, n = threads_.size()] {
      os::name_this_thread("pq-io-" + std::to_string(n));
      for (;;) {
        try {
          ioc->run();
          return;
        } catch (const std::exception& e) {
          // A handler must never take the whole server down.
          spdlog::error("io thread: unhandled exception: {}", e.what());
        }
      }
    });
  }
}

asio::ip::address Server::listen_address(const std::string& host, boost::system::error_code& ec) {
  auto literal = asio::ip::make_address(host, ec);
  if (!ec) return literal;
  asio::io_context io;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(host, "", tcp::resolver::passive, ec);
  if (ec) return {};
  if (results.empty()) {
    ec = asio::error::host_not_found;
    return {};
  }
  for (const auto& r : results) {
    if (r.endpoint().address().is_v4()) return r.endpoint().address();
  }
  return results.begin()->endpoint().address();
}

std::uint16_t Server::listen(tcp::acceptor& acceptor, const char* name,
                             const service::Endpoint& ep) {
  boost::system::error_code ec;
  auto address = listen_address(ep.address, ec);
  if (ec) {
    throw std::system_error(ec, std::string(name) + " listener: cannot resolve '" + ep.address +
                                    "'");
  }
  tcp::endpoint endpoint(address, ep.port);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint, ec);
  if (ec) {
    throw std::system_error(ec, std::string(name) + " listener: cannot bind " + ep.address + ":" +
                                    std::to_string(ep.port));
  }
  acceptor.listen(asio::socket_base::max_listen_connections);
  const auto port = acceptor.local_endpoint().port();
  if (address.to_string() == ep.address) {
    spdlog::info("{} listening on {}:{}", name, ep.address, port);
  } else {
    spdlog::info("{} listening on {}:{} ({})", name, address.to_string(), port, ep.address);
  }
  return port;
}

asio::awaitable<void> Server::accept_loop(tcp::acceptor& acceptor, bool tls) {
  constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
  for (;;) {
    auto& ioc = next_context();
    auto [ec, socket] = co_await acceptor.async_accept(ioc, kUseTuple);
    if (ctx_->stopping) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      auto recover = accept_failed(acceptor, ec, tls ? "mqtts" : "mqtt");
      co_await std::move(recover);
      continue;
    }
    auto admitted =
        service::admit(*ctx_, socket, tls ? service::Listener::kMqtts : service::Listener::kMqtt);
    if (!admitted) continue;
    std::string peer = std::move(admitted->peer);
    if (tls) {
      std::shared_ptr<asio::ssl::context> tls_ctx;
      {
        std::lock_guard lock(tls_mu_);
        tls_ctx = tls_ctx_;
      }
      TlsStream stream(std::move(socket), *tls_ctx);
      auto session = std::make_shared<Session<TlsStream>>(std::move(stream), *ctx_, std::move(peer),
                                                          std::move(tls_ctx));
      session->start();
    } else {
      auto session = std::make_shared<Session<Socket>>(std::move(socket), *ctx_, std::move(peer));
      session->start();
    }
  }
}

void Server::start_websocket(WsStream stream, std::string peer) {
  Transport<WsStream>::open(stream);
  auto session = std::make_shared<Session<WsStream>>(std::move(stream), *ctx_, std::move(peer));
  session->start();
}

void Server::start_websocket(WssStream stream, std::string peer, std::shared_ptr<const void> keep) {
  Transport<WssStream>::open(stream);
  auto session = std::make_shared<Session<WssStream>>(std::move(stream), *ctx_, std::move(peer),
                                                      std::move(keep));
  session->start();
}

void Server::stop() {
  if (ctx_->stopping.exchange(true)) {
    wait();
    return;
  }
  if (!iocs_.empty()) {
    spdlog::info("stopping: closing listeners and {} connections",
                 ctx_->counters.connections.load());
    asio::post(*iocs_[0], [this] {
      boost::system::error_code ignored;
      if (mqtt_acceptor_) mqtt_acceptor_->close(ignored);
      if (mqtts_acceptor_) mqtts_acceptor_->close(ignored);
    });
    ctx_->sessions.close_all(broker::EndReason::kServerShutdown);
    ctx_->cancel_waiting_attempts();
    ctx_->writer.wake_room_waiters();  // requests waiting for room go on, as they end
    // Sessions end on their io threads; after 5 s the threads stop, whatever is left open.
    ctx_->wait_no_connections(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    work_.clear();
    for (auto& ioc : iocs_) ioc->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  ctx_->hashes.stop();
  // Every record queued before the sessions ended is written before exit (SPEC 7), and so is
  // every persistent session's state.
  ctx_->writer.stop();
  ctx_->dispatcher.stop();
  ctx_->mark_devices_offline("server stopping");  // those whose connections did not end
  ctx_->store.stop();
  spdlog::info("data: {} records written, {} expired records deleted{}", ctx_->writer.written(),
               ctx_->writer.swept(),
               ctx_->writer.failed() ? fmt::format(", {} FAILED", ctx_->writer.failed()) : "");
  {
    std::lock_guard lock(stop_mu_);
    stopped_ = true;
  }
  stopped_cv_.notify_all();
  spdlog::info("stopped");
}

asio::awaitable<void> Server::accept_failed(tcp::acceptor& acceptor,
                                            const boost::system::error_code& ec,
                                            const char* listener) {
  return recover_from_accept_error(acceptor, ec, spare_fd_, ctx_->counters, listener);
}

asio::io_context& Server::next_context() {
  return *iocs_[next_ioc_.fetch_add(1, std::memory_order_relaxed) % iocs_.size()];
}

std::shared_ptr<asio::ssl::context> Server::tls_context() {
  std::lock_guard lock(tls_mu_);
  return tls_ctx_;
}

void Server::check_tls(const service::TlsOptions& tls) { detail::make_tls_context(tls); }

void Server::reload_tls() {
  if (!ctx_->options.mqtts.enabled()) return;
  auto fresh = detail::make_tls_context(ctx_->options.mqtts);
  std::lock_guard lock(tls_mu_);
  tls_ctx_ = std::move(fresh);
}

void Server::wait() {
  std::unique_lock lock(stop_mu_);
  stopped_cv_.wait(lock, [this] { return stopped_; });
}

}  // namespace plugmq::net
