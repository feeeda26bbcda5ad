#include "tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdexcept>
#include <string>

namespace plugmq::net::detail {

namespace ssl = boost::asio::ssl;

namespace {

std::string fail(const char* what, const std::filesystem::path& file,
                 const boost::system::error_code& ec) {
  return std::string("TLS ") + what + " " + file.string() + ": " + ec.message();
}

}  // namespace

std::shared_ptr<ssl::context> make_tls_context(const service::TlsOptions& tls) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  // Devices reconnect often; resumption saves them a full handshake.
  SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_SERVER);

  boost::system::error_code ec;
  ctx->use_certificate_chain_file(tls.cert.string(), ec);
  if (ec) throw std::runtime_error(fail("certificate", tls.cert, ec));
  ctx->use_private_key_file(tls.key.string(), ssl::context::pem, ec);
  if (ec) throw std::runtime_error(fail("key", tls.key, ec));
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("TLS key " + tls.key.string() + " does not match certificate " +
                             tls.cert.string());
  }
  return ctx;
}

}  // namespace plugmq::net::detail
