// Store functions whose failures are expected outcomes return Result<T> (module-private).
#pragma once

#include <type_traits>
#include <utility>

#include "plugmq/store/db.hpp"
#include "plugmq/store/errc.hpp"

namespace plugmq::store::detail {

// Runs `fn`, whose checks throw store::Error, and returns its value, or the Failure for an
// expected outcome (kNotFound, kExists, kInvalid). kBusy and kDb (the database failing) stay
// exceptions.
template <class F>
auto as_result(F&& fn) -> Result<std::invoke_result_t<F&>> {
  using T = std::invoke_result_t<F&>;
  try {
    if constexpr (std::is_void_v<T>) {
      fn();
      return {};
    } else {
      return fn();
    }
  } catch (const Error& e) {
    if (e.code() == Errc::kBusy || e.code() == Errc::kDb) throw;
    return Result<T>(boost::system::in_place_error, Failure{e.code(), e.what()});
  }
}

}  // namespace plugmq::store::detail
