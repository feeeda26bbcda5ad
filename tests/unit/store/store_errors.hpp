// Helpers for store tests: what a call that must fail threw.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "plugmq/store/db.hpp"

namespace plugmq::store::testing {

// The code of the store::Error `fn` throws; a test failure when it throws none.
template <class F>
Error::Code error_of(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no Error thrown";
  return Error::Code::kDb;
}

// The message of the store::Error `fn` throws; a test failure when it throws none.
template <class F>
std::string message_of(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no Error thrown";
  return {};
}

}  // namespace plugmq::store::testing
