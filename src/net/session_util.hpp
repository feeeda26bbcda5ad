// Helpers shared by the files of Session (net-private).
#pragma once

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <exception>
#include <string>
#include <string_view>

#include "transport.hpp"

namespace plugmq::net {

inline constexpr auto kUseTuple = boost::asio::as_tuple(boost::asio::use_awaitable);

// Logs what ended one of a session's coroutines with an exception; false when none did.
inline bool log_failure(std::exception_ptr e, const std::string& peer, std::string_view client_id,
                        const char* what) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::warn("{} {}: {}: {}", peer, client_id, what, x.what());
  } catch (...) {
    spdlog::warn("{} {}: {}: unknown exception", peer, client_id, what);
  }
  return true;
}

// glibc keeps freed memory for reuse, so a server that has freed a big queue (a slow subscriber
// disconnected) would go on showing it in its RSS. A session that ends with at least
// kTrimAfterBytes queued has the free pages given back (malloc_trim) a moment later, once for
// every session that ends meanwhile (session_write.cpp).
inline constexpr std::size_t kTrimAfterBytes = 1024 * 1024;
void trim_heap_soon(const IoExecutor& ex);

}  // namespace plugmq::net
