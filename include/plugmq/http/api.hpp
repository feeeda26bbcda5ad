// The CloudPlugs REST API (SPEC 10) as one function: a Request in, a Response out.
//
// Api::handle() authenticates the request (four header pairs, SPEC 10), applies
// X-HTTP-Method-Override, routes `/iot/device…`, `/iot/data…` and `/iot/channel…`, and answers
// every failure with its status and {"err":STATUS,"msg":"..."}. It works on the server's
// service::Context exactly as MQTT sessions do: permissions through platform::may_read/may_write
// and the directory, publishes through service/publish.hpp, identity changes on the
// StoreExecutor's store thread, data and property writes on the DataWriter, reads on the
// StoreExecutor's reader threads. SQLite never runs on the calling (io) thread.
//
// Thread-safe: one Api serves every connection of every io thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>

#include "plugmq/http/message.hpp"
#include "plugmq/service/context.hpp"

namespace plugmq::http {

class Api {
 public:
  explicit Api(service::Context& ctx);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // Never throws: an unexpected failure is logged and answered 500.
  boost::asio::awaitable<Response> handle(const Request& req);

  // How long a successful login is remembered (per credentials, hashed), so that a client
  // sending its account password with every request does not cost a PBKDF2 hash each time.
  // Permissions and disabled flags still come from the directory on every request.
  static constexpr std::chrono::milliseconds kLoginCacheTtl{2000};

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace plugmq::http
