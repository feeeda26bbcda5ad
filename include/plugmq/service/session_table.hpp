// The persistent sessions' keys (broker::Registry::key: login identity and client id), as the
// server knows them: which are held by a connection, and which may have a stored session.
//
// Held: a connection that resumed a persistent session holds its key from before it loads the
// stored state until its last save committed; one that discards a stored session (clean
// session 1), until the delete did. A connection that takes over waits for the key
// [MQTT-3.1.4-2 closes the old one first]: so it loads what the old one saved, and a
// discard is never overtaken by an older save.
//
// Maybe stored: a superset of the keys with a stored session (hashes, read when the server
// starts, added as sessions are saved), so that a clean-session login of a key that never had a
// persistent session costs nothing. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace plugmq::service {

class SessionTable {
 public:
  using Granted = std::function<void()>;

  // Calls `granted` once the key is this caller's: at once, on this thread, when nobody holds
  // it; else on the thread of the release() that hands it over. The caller then holds the key
  // until it calls release().
  void acquire(const std::string& key, Granted granted);
  // Hands the key to the next waiter, or frees it. REQUIRES: held by the caller.
  void release(std::string_view key);
  // A handle that releases `key` once its last copy goes: a save task holds it, and releases
  // the key after it ran, or when it is dropped unrun (the writer stopped).
  std::shared_ptr<void> release_later(std::string key) {
    return std::shared_ptr<void>(nullptr, [this, key = std::move(key)](void*) { release(key); });
  }
  std::size_t held() const;

  // A session of `key` may be stored (it was saved, or found as the server started).
  void note_stored(std::string_view key);
  // Whether one may be; false only when none is.
  bool maybe_stored(std::string_view key) const;
  // It was deleted.
  void forget(std::string_view key);

 private:
  static std::uint64_t hash(std::string_view key) { return std::hash<std::string_view>{}(key); }

  mutable std::mutex mu_;
  // The keys held, each with the connections waiting for it in the order they asked.
  std::unordered_map<std::string, std::deque<Granted>> held_;
  std::unordered_set<std::uint64_t> stored_;
};

}  // namespace plugmq::service
