// The TLS listener's server context (SPEC 2): TLS 1.2 minimum, certificate chain and key from
// PEM files.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "plugmq/service/options.hpp"

namespace plugmq::net::detail {

// Throws std::runtime_error naming the file and OpenSSL's reason when the certificate or key
// cannot be read, or the key does not belong to the certificate.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const service::TlsOptions& tls);

}  // namespace plugmq::net::detail
