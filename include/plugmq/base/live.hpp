// A setting the server may change while it runs (SIGHUP reloads some of the configuration):
// read and written with relaxed atomics, so a reader sees the new value from its next read on,
// at the cost of a plain load on the paths that read it.
#pragma once

#include <atomic>
#include <memory>
#include <utility>

namespace plugmq::base {

template <class T>
class Live {
 public:
  constexpr Live() = default;
  constexpr Live(T v) : v_(v) {}  // NOLINT(google-explicit-constructor): reads like a T
  Live(const Live& o) : v_(o.get()) {}
  Live& operator=(const Live& o) {
    set(o.get());
    return *this;
  }
  Live& operator=(T v) {
    set(v);
    return *this;
  }

  T get() const { return v_.load(std::memory_order_relaxed); }
  void set(T v) { v_.store(v, std::memory_order_relaxed); }
  operator T() const { return get(); }  // NOLINT(google-explicit-constructor)

 private:
  std::atomic<T> v_{};
};

// The same for a setting too large for a lock-free atomic (a list): a reader takes a snapshot,
// which stays valid while it holds it.
template <class T>
class LiveShared {
 public:
  explicit LiveShared(T v) : v_(std::make_shared<const T>(std::move(v))) {}

  std::shared_ptr<const T> get() const { return v_.load(std::memory_order_acquire); }
  void set(T v) { v_.store(std::make_shared<const T>(std::move(v)), std::memory_order_release); }

 private:
  std::atomic<std::shared_ptr<const T>> v_;
};

}  // namespace plugmq::base
