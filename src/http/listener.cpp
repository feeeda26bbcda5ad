#include "plugmq/http/listener.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <mutex>

#include "plugmq/http/api.hpp"
#include "plugmq/http/websocket_upgrade.hpp"
#include "plugmq/platform/log_throttle.hpp"
#include "plugmq/service/admission.hpp"

namespace plugmq::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t kHeaderLimit = 16 * 1024;  // request line and headers, bytes
// After an error answer that leaves a request body unread, the connection reads (and drops) up
// to this much, for at most kDrainTime, before closing: closing with unread data would reset
// the connection, and the client could lose the answer.
constexpr std::size_t kMaxDrain = 64 * 1024 * 1024;
constexpr std::chrono::seconds kDrainTime{2};

using PlainStream = TcpStream;  // host.hpp: on the io thread's executor, as MQTT sessions are

template <class Stream>
constexpr bool kIsTls = std::is_same_v<Stream, TlsStream>;

bool iequals(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

// One HTTP connection: a coroutine on one io thread, requests answered in order. A request to
// /mqtt upgrades it to MQTT over WebSocket: the MQTT server takes it over (Host::start_mqtt).
template <class Stream>
class Connection final : public service::LiveSession,
                         public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(Stream stream, Host& host, std::shared_ptr<Api> api, service::Context& ctx,
             std::string peer, std::string address, std::shared_ptr<const void> keep)
      : keep_(std::move(keep)),
        stream_(std::move(stream)),
        host_(host),
        api_(std::move(api)),
        ctx_(ctx),
        peer_(std::move(peer)),
        address_(std::move(address)),
        ex_(stream_.get_executor()) {}

  asio::awaitable<void> run() {
    auto self = this->shared_from_this();
    ctx_.sessions.add(this);
    if (ctx_.stopping) closing_ = true;
    try {
      if (!closing_) {
        auto op = serve();
        co_await std::move(op);
      }
    } catch (const std::exception& e) {
      if (auto t = platform::throttle_log("http connection error", address_)) {
        spdlog::warn("http {}: connection error: {}{}", peer_, e.what(), t->suffix());
      }
    }
    if (handed_over_) co_return;  // an MQTT session now: it is counted, and ends, as one
    ctx_.sessions.remove(this);
    boost::system::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
    ctx_.connection_ended(kIsTls<Stream> ? service::Listener::kHttps : service::Listener::kHttp);
  }

  // Never subscribes: nothing is ever delivered.
  void deliver(const service::Message&) override {}
  void directory_changed() override {}

  void close(broker::EndReason) override {
    auto self = this->weak_from_this().lock();
    if (!self) return;
    asio::post(ex_, [self] {
      if (self->handed_over_) return;  // the MQTT session's now, closed as one
      self->closing_ = true;
      self->lowest().cancel();
      boost::system::error_code ignored;
      self->lowest().socket().close(ignored);
    });
  }

 private:
  using WebSocket = websocket::stream<Stream, false>;  // host.hpp's WsStream or WssStream

  const service::HttpOptions& options() const { return ctx_.options.http; }
  // The TCP stream: under the WebSocket stream once the request to /mqtt moved it there.
  TcpStream& lowest() {
    return ws_ ? beast::get_lowest_layer(*ws_) : beast::get_lowest_layer(stream_);
  }

  asio::awaitable<void> serve() {
    auto& tcp_layer = beast::get_lowest_layer(stream_);
    if constexpr (kIsTls<Stream>) {
      tcp_layer.expires_after(options().request_timeout);
      auto [ec] = co_await stream_.async_handshake(asio::ssl::stream_base::server, kUseTuple);
      if (ec) {
        if (auto t = platform::throttle_log("http TLS handshake failed",
                                            address_ + " " + ec.message())) {
          spdlog::info("http {}: TLS handshake failed: {}{}", peer_, ec.message(), t->suffix());
        }
        co_return;
      }
    }
    beast::flat_buffer buffer;
    for (;;) {
      if (closing_) co_return;
      if (buffer.size() == 0) {
        // Between requests: an idle keep-alive connection ends after idle_timeout.
        tcp_layer.expires_after(options().idle_timeout);
        auto [ec, n] = co_await stream_.async_read_some(buffer.prepare(4096), kUseTuple);
        if (ec) co_return;  // closed by the client, idle timeout, or shutdown
        buffer.commit(n);
      }
      // A request that started must arrive whole within request_timeout.
      tcp_layer.expires_after(options().request_timeout);
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(options().max_body_bytes);
      {
        auto [ec, n] = co_await bhttp::async_read_header(stream_, buffer, parser, kUseTuple);
        if (ec) {
          auto op = refuse(ec, 11);
          co_await std::move(op);
          co_return;
        }
      }
      const auto& head = parser.get();
      const unsigned version = head.version();
      if (iequals(head[bhttp::field::expect], "100-continue") && !parser.is_done()) {
        // The body fits (a larger Content-Length failed above): ask for it.
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(kContinue), kUseTuple);
        if (ec) co_return;
      }
      if (!parser.is_done()) {
        auto [ec, n] = co_await bhttp::async_read(stream_, buffer, parser, kUseTuple);
        if (ec) {
          auto op = refuse(ec, version);
          co_await std::move(op);
          co_return;
        }
      }
      tcp_layer.expires_never();  // the handler's own time is not the client's

      auto msg = parser.release();
      Request req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      for (const auto& field : msg) {
        req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      req.peer_address = address_;
      if (is_mqtt_target(req.target)) {
        // The connection is MQTT's from now on, or ends with the refusal.
        auto op = upgrade(msg, req, buffer);
        co_await std::move(op);
        co_return;
      }
      req.body = std::move(msg.body());
      const bool keep_alive = msg.keep_alive();
      auto handled = api_->handle(req);
      Response res = co_await std::move(handled);
      spdlog::debug("http {}: {} {} -> {}", peer_, req.method, req.target, res.status);
      const bool again = keep_alive && !closing_ && !ctx_.stopping;
      auto write = send(res, version, again);
      if (!co_await std::move(write) || !again) co_return;
    }
  }

  // A request to /mqtt (SPEC 12): the WebSocket handshake is answered with the subprotocol the
  // client offered, and the MQTT server takes the connection over; or the refusal is sent
  // (check_mqtt_upgrade) and the connection ends. `buffer` holds what was read after the request.
  asio::awaitable<void> upgrade(const bhttp::request<bhttp::string_body>& msg, const Request& req,
                                const beast::flat_buffer& buffer) {
    auto check = check_mqtt_upgrade(req, msg.version());
    if (!check.refusal && buffer.size() != 0) {
      // RFC 6455 section 4.1: a client sends nothing more before the handshake's answer.
      check.refusal = error_response(400, "data sent before the WebSocket handshake was answered");
    }
    if (check.refusal) {
      spdlog::debug("http {}: {} {} -> {}", peer_, req.method, req.target, check.refusal->status);
      auto write = send(*check.refusal, msg.version(), false);
      co_await std::move(write);
      co_return;
    }
    // The WebSocket stream's own timer covers its handshake (Beast: the TCP stream's must be
    // off under it), and the MQTT session's keep alive everything after.
    lowest().expires_never();
    ws_.emplace(std::move(stream_));
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = options().request_timeout;
    timeout.idle_timeout = websocket::stream_base::none();
    timeout.keep_alive_pings = false;
    ws_->set_option(timeout);
    ws_->set_option(websocket::stream_base::decorator(
        [protocol = check.subprotocol](websocket::response_type& res) {
          res.set(bhttp::field::server, "plugmq/" PLUGMQ_VERSION);
          res.set(bhttp::field::sec_websocket_protocol, protocol);
        }));
    auto accept = ws_->async_accept(msg, kUseTuple);
    auto [ec] = co_await std::move(accept);
    if (ec || closing_ || ctx_.stopping) {
      spdlog::debug("http {}: WebSocket handshake failed: {}", peer_,
                    ec ? ec.message() : "server stopping");
      co_return;
    }
    spdlog::debug("http {}: {} {} -> 101 MQTT over WebSocket ({})", peer_, req.method, req.target,
                  check.subprotocol);
    ctx_.metrics.http_response(101);
    // One connection still (limits.max_connections): the session counts it from here on, as
    // one of the ws or wss listener's (plugmq_connections{listener}), and ends that count.
    ctx_.metrics.closed(kIsTls<Stream> ? service::Listener::kHttps : service::Listener::kHttp);
    ctx_.metrics.opened(kIsTls<Stream> ? service::Listener::kWss : service::Listener::kWs);
    ctx_.sessions.remove(this);
    handed_over_ = true;
    if constexpr (kIsTls<Stream>) {
      host_.start_mqtt(std::move(*ws_), peer_, keep_);
    } else {
      host_.start_mqtt(std::move(*ws_), peer_);
    }
  }

  // Writes `res`; false when the connection failed.
  asio::awaitable<bool> send(Response& res, unsigned version, bool keep_alive) {
    ctx_.metrics.http_response(res.status);
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), version};
    out.set(bhttp::field::server, "plugmq/" PLUGMQ_VERSION);
    if (!res.body.empty()) out.set(bhttp::field::content_type, "application/json");
    for (const auto& [name, value] : res.headers) out.set(name, value);
    out.keep_alive(keep_alive);
    out.body() = std::move(res.body);
    out.prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(options().request_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream_, out, kUseTuple);
    co_return !ec;
  }

  // A request that could not be read: answer what can be answered (413, 431, 400), then close.
  // `version` is the request's HTTP version when its header was read (11 otherwise).
  asio::awaitable<void> refuse(const boost::system::error_code& ec, unsigned version) {
    int status = 0;
    std::string msg;
    if (ec == bhttp::error::body_limit) {
      status = 413;
      msg = "request body larger than " + std::to_string(options().max_body_bytes) +
            " bytes (http.max_body_bytes)";
    } else if (ec == bhttp::error::header_limit) {
      status = 431;
      msg = "request header larger than " + std::to_string(kHeaderLimit) + " bytes";
    } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
               ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
      status = 400;
      msg = "malformed HTTP request: " + ec.message();
    }
    if (status == 0) {
      // Closed, reset, timed out: nobody to answer.
      spdlog::debug("http {}: connection ends: {}", peer_, ec.message());
      co_return;
    }
    if (auto t = platform::throttle_log("http unreadable request", address_)) {
      spdlog::info("http {}: {} {}{}", peer_, status, msg, t->suffix());
    }
    Response res = error_response(status, msg);
    auto write = send(res, version, false);
    if (!co_await std::move(write)) co_return;
    // Lingering close: the unread body would otherwise make our close a reset.
    auto& tcp_layer = beast::get_lowest_layer(stream_);
    boost::system::error_code ignored;
    tcp_layer.socket().shutdown(tcp::socket::shutdown_send, ignored);
    tcp_layer.expires_after(kDrainTime);
    std::vector<char> sink(64 * 1024);
    for (std::size_t drained = 0; drained < kMaxDrain;) {
      auto [rec, n] = co_await tcp_layer.async_read_some(asio::buffer(sink), kUseTuple);
      if (rec) break;
      drained += n;
    }
  }

  std::shared_ptr<const void> keep_;  // a TLS connection's context
  Stream stream_;
  // After a request to /mqtt: stream_ moved under it for the WebSocket handshake.
  std::optional<WebSocket> ws_;
  Host& host_;
  std::shared_ptr<Api> api_;
  service::Context& ctx_;
  const std::string peer_;
  const std::string address_;
  asio::any_io_executor ex_;
  bool closing_ = false;      // connection thread only
  bool handed_over_ = false;  // an MQTT session took the connection over; connection thread only
};

}  // namespace

struct Listener::Impl {
  explicit Impl(Host& s) : server(s), api(std::make_shared<Api>(s.context())) {}

  Host& server;
  std::shared_ptr<Api> api;
  std::optional<tcp::acceptor> http_acceptor, https_acceptor;
  std::mutex mu;
  std::condition_variable cv;
  int loops = 0;  // accept loops running
  bool stopped = false;

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, bool tls);
  void spawn(tcp::acceptor& acceptor, bool tls) {
    {
      std::lock_guard lock(mu);
      ++loops;
    }
    asio::co_spawn(server.acceptor_context(), accept_loop(acceptor, tls),
                   [this](std::exception_ptr) {
                     std::lock_guard lock(mu);
                     --loops;
                     cv.notify_all();
                   });
  }
};

asio::awaitable<void> Listener::Impl::accept_loop(tcp::acceptor& acceptor, bool tls) {
  service::Context& ctx = server.context();
  for (;;) {
    auto& ioc = server.next_context();
    auto [ec, socket] = co_await acceptor.async_accept(ioc, kUseTuple);
    if (ctx.stopping || !acceptor.is_open()) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      auto recover = server.accept_failed(acceptor, ec, tls ? "https" : "http");
      co_await std::move(recover);
      continue;
    }
    auto admitted =
        service::admit(ctx, socket, tls ? service::Listener::kHttps : service::Listener::kHttp);
    if (!admitted) continue;
    std::string peer = std::move(admitted->peer);
    std::string address = std::move(admitted->address);
    if (tls) {
      auto tls_ctx = server.tls_context();
      TlsStream stream(PlainStream(std::move(socket)), *tls_ctx);
      auto c = std::make_shared<Connection<TlsStream>>(std::move(stream), server, api, ctx,
                                                       std::move(peer), std::move(address),
                                                       std::move(tls_ctx));
      asio::co_spawn(
          ioc, [c]() -> asio::awaitable<void> { co_await c->run(); }, asio::detached);
    } else {
      auto c = std::make_shared<Connection<PlainStream>>(PlainStream(std::move(socket)), server,
                                                         api, ctx, std::move(peer),
                                                         std::move(address), nullptr);
      asio::co_spawn(
          ioc, [c]() -> asio::awaitable<void> { co_await c->run(); }, asio::detached);
    }
  }
}

Listener::Listener(Host& host) : impl_(std::make_unique<Impl>(host)) {}

Listener::~Listener() { stop(); }

void Listener::start() {
  const auto& opts = impl_->server.context().options;
  if (opts.http.listen) {
    auto& a = impl_->http_acceptor.emplace(impl_->server.acceptor_context());
    http_port_ = impl_->server.listen(a, "http", *opts.http.listen);
  }
  if (opts.mqtts.enabled() && opts.http.tls_listen) {
    auto& a = impl_->https_acceptor.emplace(impl_->server.acceptor_context());
    https_port_ = impl_->server.listen(a, "https", *opts.http.tls_listen);
  }
  if (impl_->http_acceptor) impl_->spawn(*impl_->http_acceptor, false);
  if (impl_->https_acceptor) impl_->spawn(*impl_->https_acceptor, true);
}

void Listener::stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    if (impl_->loops == 0) return;
  }
  asio::post(impl_->server.acceptor_context(), [impl = impl_.get()] {
    boost::system::error_code ignored;
    if (impl->http_acceptor) impl->http_acceptor->close(ignored);
    if (impl->https_acceptor) impl->https_acceptor->close(ignored);
  });
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait_for(lock, std::chrono::seconds(5), [this] { return impl_->loops == 0; });
}

}  // namespace plugmq::http
