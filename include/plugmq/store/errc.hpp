// The store's error codes, as a boost::system error category ("plugmq.store"), and the result
// type of store functions whose failures are expected outcomes.
//
// Expected outcomes (a missing row, a duplicate, an invalid argument from a caller) are values:
// Result<T> holds either a T or the Failure (a code of this category and a message) of why
// not. What is not expected remains an exception (store::Error, which carries the same codes):
// the database busy past its timeout (kBusy) or failing (kDb), and a violated REQUIRES (a
// caller's bug, whatever its code). Each edge maps a Failure once: http/outcome_status for
// HTTP, app/run_main's exit status for admin commands. Thread-safe.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <string>
#include <type_traits>

namespace plugmq::store {

enum class Errc {
  kNotFound = 1,  // the row named does not exist
  kExists,        // a row with that key exists already
  kInvalid,       // an argument the store refuses (malformed id, mask, name, password...)
  kBusy,          // another connection held the lock past the busy timeout
  kDb,            // SQLite failed otherwise: an I/O error or a broken database
};

const boost::system::error_category& store_category() noexcept;

inline boost::system::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), store_category()};
}

// An expected failure: why, and a message naming what failed (safe to show to whoever asked:
// an operator's command, an HTTP client).
struct Failure {
  Errc code;
  std::string message;
  boost::system::error_code error_code() const { return make_error_code(code); }
};

// A value, or the Failure of why there is none. value() on a failure throws store::Error with
// its code and message, for callers to whom any failure is fatal (admin commands).
template <class T>
using Result = boost::system::result<T, Failure>;

// What Result::value() throws (found by argument-dependent lookup).
[[noreturn]] void throw_exception_from_error(const Failure& f, const boost::source_location& loc);

}  // namespace plugmq::store

template <>
struct boost::system::is_error_code_enum<plugmq::store::Errc> : std::true_type {};
