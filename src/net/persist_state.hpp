// What a session with a persistent session (clean session 0, SPEC 11) keeps besides a clean
// one's: made when it resumes, so that a clean session holds only a null pointer for it
// (net-private; session_persist.cpp is the code, docs/decisions/017 the why).
//
// Its QoS 1/2 messages come from service::Dispatcher after commit, each with its position. While
// it catches up (the replay of what it missed, or after it fell behind the queue limits) they are
// held here, not handed to the connection; past a cap they are dropped and read again from the
// store in another round. Its position, saved with its subscriptions and in-flight messages,
// is where the next replay begins.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "plugmq/broker/qos.hpp"
#include "plugmq/net/save_gate.hpp"
#include "plugmq/store/data.hpp"
#include "transport.hpp"

namespace plugmq::net {

// A record read for a replay, encoded on the reader thread as the QoS 0 PUBLISH it is
// delivered as (its topic read back from it): its publisher, the QoS it was stored with and its
// position.
struct Replayed {
  std::string of;
  std::shared_ptr<const std::string> packet;
  std::int64_t seq = 0;
  std::uint8_t qos = 1;
};

// The QoS granted to a topic's messages during one round (the highest among the session's
// filters that match it), looked up by the topic in a packet.
struct TopicHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using GrantedByTopic = std::unordered_map<std::string, std::uint8_t, TopicHash, std::equal_to<>>;

struct PersistState {
  using Clock = std::chrono::steady_clock;
  // Records read from the store at a time while catching up; the next chunk is read once fewer
  // than kLowWater wait for the in-flight window.
  static constexpr std::int64_t kChunk = 256;
  static constexpr std::size_t kLowWater = 128;
  // Changes are saved at most this long after they happened while online (what a SIGKILL
  // repeats: QoS 1 messages at least once).
  static constexpr std::chrono::milliseconds kSaveEvery{1000};

  // ---- The session thread's ----
  std::string account_id;           // of the login: its router partition and its records
  std::int64_t created_at = 0;      // ms
  std::int64_t last_delivered = 0;  // the highest position handed to the connection
  bool key_held = false;            // its key in the SessionTable, from the resume to the last save
  bool resumed = false;             // restored and attached: saved from then on
  bool attached = false;            // its filters are in the router through the dispatcher
  bool replaying = false;           // catch_up() runs
  bool dirty = false;               // changed since the last save
  bool waiting_window = false;      // catch_up() waits for the window to drain (wake)
  Clock::time_point save_due = Clock::time_point::max();
  std::unique_ptr<Timer> wake;                // catch_up()'s wait for the window
  std::optional<store::ReplayCursor> cursor;  // while catching up
  std::vector<std::int64_t> restored;         // positions restored in flight, sorted
  // Inbound QoS 2 ids that a save (pushed, perhaps not yet committed) holds as awaiting their
  // PUBREL, sorted: their PUBCOMP waits for a save without them (Session::send_pubcomp).
  std::vector<std::uint16_t> saved_awaiting;
  // The id of the QoS 2 PUBLISH whose record is being handed to the writer (0: none): left out
  // of saves until it is queued, so that a save never holds an id whose record it precedes.
  std::uint16_t storing_qos2 = 0;
  // The PUBRELs, PUBRECs and PUBCOMPs waiting for a save to commit (Session::flush_gate).
  SaveGate gate;

  // ---- Under the session's mu_ ----
  bool catching_up = true;  // live deliveries wait in `held`
  bool overflow = false;    // `held` overflowed: emptied, and further ones are left to the store
  // Catching up: every matching record up to here was handed to the connection (or is not to
  // be: unreadable, skipped).
  std::int64_t replay_from = 0;
  std::int64_t round_to = 0;  // the first round's end: the watermark at attach (D)
  std::vector<broker::Outgoing> held;
  std::size_t held_bytes = 0;
};

}  // namespace plugmq::net
