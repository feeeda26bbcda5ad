// SIGHUP (app-private): the configuration file is read again, with the command line's flags on
// top as at start. What can change without dropping a session takes effect at once (the log
// level, the limits, the session, enrollment and login settings); for the rest the log says
// that a restart is needed. A file that does not parse changes nothing. The TLS certificate and
// key are loaded again either way.
#pragma once

#include "plugmq/app/args.hpp"
#include "plugmq/app/config.hpp"
#include "plugmq/net/server.hpp"

namespace plugmq::app {

class Reloader {
 public:
  // `running`: the configuration the server started with; `status`: what the service manager
  // shows once a reload is done (the listeners).
  Reloader(const Args& args, Config running, net::Server& server, std::string status)
      : args_(args), running_(std::move(running)), server_(server), status_(std::move(status)) {}

  // On SIGHUP, on the signal thread: the configuration, then the TLS certificate, between the
  // service manager's RELOADING and READY.
  void reload();

 private:
  void reload_config();
  void reload_tls();

  const Args& args_;
  Config running_;  // as started, with what reloads changed since
  net::Server& server_;
  const std::string status_;
};

// The open-files limit raised as far as max_connections needs; where the hard limit stops it,
// max_connections comes down to what fits, said once (serve.cpp).
void fit_connections_to_fd_limit(service::ServerOptions& options);

}  // namespace plugmq::app
