// The broker server: listeners, io threads, the store thread.
//
// start() binds every listener and starts the threads; stop() shuts down gracefully (stop
// accepting, end every session without publishing wills, finish store work) and may be called
// from any thread, once or more.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "plugmq/net/ws_stream.hpp"
#include "plugmq/os/fd_limit.hpp"
#include "plugmq/service/context.hpp"
#include "plugmq/service/options.hpp"

namespace plugmq::net {

class Server {
 public:
  // Opens the database in options.data_dir (throws store::Error).
  explicit Server(service::ServerOptions options);
  ~Server();

  // Binds the listeners (throws std::system_error naming the address) and starts the threads.
  void start();
  std::uint16_t mqtt_port() const { return mqtt_port_; }
  // The TLS listener's port, when one is configured.
  std::optional<std::uint16_t> mqtts_port() const { return mqtts_port_; }

  // Loads the certificate and key again (SIGHUP): new connections use them, established ones
  // keep theirs. Throws std::runtime_error naming the file on failure; the old ones stay.
  void reload_tls();
  // Throws std::runtime_error naming the file if the certificate or key cannot be loaded or do
  // not match (for --check-config; start() does the same).
  static void check_tls(const service::TlsOptions& tls);

  void stop();
  // Blocks until stop() has completed.
  void wait();

  const service::Counters& counters() const { return ctx_->counters; }

  // For listeners of other protocols that run on this server (the HTTP API): its context, its
  // io threads and its TLS context. Valid from start() until the server is destroyed.
  service::Context& context() { return *ctx_; }
  // The io context that runs accept loops.
  boost::asio::io_context& acceptor_context() { return *iocs_.at(0); }
  // The io context for a new connection: round robin over the io threads. Thread-safe.
  boost::asio::io_context& next_context();
  // The current TLS context (reload_tls() replaces it); nullptr without TLS. Thread-safe.
  std::shared_ptr<boost::asio::ssl::context> tls_context();

  // MQTT over WebSocket (SPEC 12): starts an MQTT session on a connection of the HTTP listener
  // whose WebSocket handshake was answered; from then on it is a connection like those of the
  // MQTT listeners. It is already counted as open (service::admit, then moved to listener ws
  // or wss): the session ends that count. `peer` is "address:port"; `keep` is held for the
  // session's life (the TLS context of a wss:// stream). REQUIRES: called on the stream's
  // executor, no operation pending on it.
  void start_websocket(WsStream stream, std::string peer);
  void start_websocket(WssStream stream, std::string peer, std::shared_ptr<const void> keep);

  // The address a listener binds for `host`: an IPv4 or IPv6 literal as written, or a host
  // name resolved (its first IPv4 address, else its first address). Sets `ec` when it cannot.
  static boost::asio::ip::address listen_address(const std::string& host,
                                                 boost::system::error_code& ec);

  // Binds and listens (throws std::system_error naming the listener); returns the port.
  static std::uint16_t listen(boost::asio::ip::tcp::acceptor& acceptor, const char* name,
                              const service::Endpoint& ep);

  // What an accept loop on acceptor_context() does when accepting fails (accept_error.hpp);
  // `listener` names it in the log.
  boost::asio::awaitable<void> accept_failed(boost::asio::ip::tcp::acceptor& acceptor,
                                             const boost::system::error_code& ec,
                                             const char* listener);

  // The io threads `options` asks for (io_threads, or one per core when 0).
  static unsigned io_thread_count(const service::ServerOptions& options);
  // File descriptors the server keeps open besides its connections, which the open-files
  // limit must leave room for: 40 (standard streams, listeners, the database's files, the
  // signal pipe, a spare for accept errors, files opened for a moment), 3 per io thread (its
  // event loop) and 2 per read thread (its database connection).
  static std::uint64_t reserved_fds(const service::ServerOptions& options);

 private:
  using Work = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor, bool tls);

  // Members are destroyed in reverse order: io contexts (and the sessions their handlers
  // hold) before the context those sessions refer to.
  std::unique_ptr<service::Context> ctx_;
  std::vector<std::unique_ptr<boost::asio::io_context>> iocs_;
  std::vector<Work> work_;
  std::vector<std::thread> threads_;
  std::optional<boost::asio::ip::tcp::acceptor> mqtt_acceptor_;
  std::uint16_t mqtt_port_ = 0;
  std::optional<std::uint16_t> mqtts_port_;
  std::optional<boost::asio::ip::tcp::acceptor> mqtts_acceptor_;
  std::mutex tls_mu_;
  std::shared_ptr<boost::asio::ssl::context> tls_ctx_;  // replaced by reload_tls()
  std::atomic<std::size_t> next_ioc_{0};
  std::mutex stop_mu_;
  bool stopped_ = false;
  std::condition_variable stopped_cv_;
  os::SpareFd spare_fd_;  // for accept errors; acceptor_context() only
};

}  // namespace plugmq::net
