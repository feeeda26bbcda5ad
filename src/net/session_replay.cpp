// A persistent session's QoS 1/2 messages between its resume and its end (SPEC 11;
// docs/decisions/017): the dispatcher's live deliveries after commit, and the catch-up that
// replays what it missed from the store, in rounds, before those go live.
//
// A round replays (from, to] oldest first, a chunk at a time, reading the next chunk only once
// few messages wait for the in-flight window (a client that acknowledges slowly is sent no
// faster than it acknowledges, and holds little memory). Live records meanwhile wait in
// PersistState::held; at the round's end those after `to` are handed over behind the replay,
// and the session is live. When `held` passes its cap it is dropped and the round is followed
// by another, from `to` to the watermark taken between two dispatcher batches. A live session
// that falls behind its queue limits catches up the same way: a persistent session's QoS 1/2
// messages are never dropped, only left in the store for a while.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <unordered_map>

#include "plugmq/base/topic_filter.hpp"
#include "plugmq/codec/codec.hpp"
#include "plugmq/service/publish.hpp"
#include "session.hpp"
#include "session_io.hpp"
#include "session_util.hpp"

namespace plugmq::net {

namespace asio = boost::asio;
using broker::EndReason;
using std::chrono::steady_clock;

template <class Stream>
void Session<Stream>::deliver_committed(const service::Message& msg, std::int64_t seq) {
  std::lock_guard lock(mu_);
  if (closed_ || !persist_ || !service::may_receive(*principal_, msg)) return;
  PersistState& p = *persist_;
  if (p.catching_up) return hold_locked(msg, seq);
  if (over_limit_locked(msg.packet->size())) {
    // Behind: from this record on, the store keeps what comes until the session catches up.
    p.catching_up = true;
    p.overflow = true;
    p.replay_from = seq - 1;
    asio::post(executor(), [self = this->shared_from_this()] { self->start_catch_up(); });
    return;
  }
  hand_off_locked(msg, seq);
}

template <class Stream>
void Session<Stream>::hold_locked(const service::Message& msg, std::int64_t seq) {
  PersistState& p = *persist_;
  if (p.overflow) return;  // the next round reads it from the store
  const std::size_t size = msg.packet->size();
  if (p.held.size() >= ctx_.live.queue_max_messages ||
      p.held_bytes + size > ctx_.live.queue_max_bytes) {
    p.overflow = true;
    std::vector<broker::Outgoing>().swap(p.held);
    p.held_bytes = 0;
    return;
  }
  p.held.push_back({msg.packet, msg.qos, seq});
  p.held_bytes += size;
}

template <class Stream>
void Session<Stream>::start_catch_up() {
  if (!persist_ || persist_->replaying || conn_.closing()) return;
  persist_->replaying = true;
  asio::co_spawn(executor(), catch_up(), [self = this->shared_from_this()](std::exception_ptr e) {
    PersistState& p = *self->persist_;
    p.replaying = false;
    p.cursor.reset();
    if (log_failure(e, self->peer_, self->client_id(), "session replay failed")) {
      self->conn_.end(EndReason::kStoreFailed);  // the client resumes it again
    }
    if (self->conn_.closing()) return self->maybe_finish();
    bool again;
    {
      std::lock_guard lock(self->mu_);
      again = p.catching_up;  // it fell behind again as this round ended
    }
    if (again) self->start_catch_up();
  });
}

template <class Stream>
asio::awaitable<void> Session<Stream>::catch_up() {
  PersistState& p = *persist_;
  for (;;) {
    bool overflowed;
    std::int64_t to;
    {
      std::lock_guard lock(mu_);
      overflowed = p.overflow;
      to = p.round_to;
    }
    if (overflowed) {
      // Live records are held again from exactly the watermark on.
      to = ctx_.dispatcher.between_batches([&] {
        std::lock_guard lock(mu_);
        std::vector<broker::Outgoing>().swap(p.held);
        p.held_bytes = 0;
        p.overflow = false;
      });
    }
    std::int64_t from;
    {
      std::lock_guard lock(mu_);
      from = p.replay_from;
    }
    const std::int64_t max_replay = ctx_.live.max_replay.get();
    if (max_replay > 0 && to - from > max_replay) {  // 0: no bound
      auto skip = skip_replay(from, to - max_replay);
      co_await std::move(skip);
      from = to - max_replay;
    }
    auto replay = replay_range(from, to);
    if (!co_await std::move(replay)) co_return;
    if (finish_round(to)) co_return;
  }
}

template <class Stream>
asio::awaitable<void> Session<Stream>::skip_replay(std::int64_t from, std::int64_t to) {
  // sessions.max_replay: the oldest are left out, counted (up to the gap) and said.
  store::ReplayQuery q;
  q.account_id = persist_->account_id;
  if (const auto* filters = conn_.filters()) {
    filters->for_each([&](std::string_view f, std::uint8_t qos) {
      if (qos >= 1) q.filters.emplace_back(f);
    });
  }
  q.after_seq = from;
  q.upto_seq = to;
  q.limit = to - from;
  std::int64_t skipped = 0;
  if (!q.filters.empty()) {
    auto count = ctx_.store.read(
        [q](service::StoreExecutor::ReadRepos& r) { return r.data.replay_count(q); });
    skipped = co_await std::move(count);
  }
  ctx_.counters.replay_skipped += static_cast<std::uint64_t>(skipped);
  spdlog::warn("{} {}: {} messages missed before position {} not replayed (sessions.max_replay {})",
               peer_, client_id(), skipped, to, ctx_.live.max_replay.get());
  std::lock_guard lock(mu_);
  persist_->replay_from = std::max(persist_->replay_from, to);
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::replay_range(std::int64_t from, std::int64_t to) {
  PersistState& p = *persist_;
  store::ReplayQuery q;
  q.account_id = p.account_id;
  if (const auto* filters = conn_.filters()) {
    filters->for_each([&](std::string_view f, std::uint8_t qos) {
      if (qos >= 1) q.filters.emplace_back(f);  // QoS 0 subscriptions keep nothing offline
    });
  }
  q.upto_seq = to;
  q.limit = PersistState::kChunk;
  if (!p.cursor) p.cursor.emplace();
  GrantedByTopic granted;
  while (from < to && !q.filters.empty()) {
    auto low = window_low();
    if (!co_await std::move(low)) co_return false;
    q.after_seq = from;
    store::ReplayCursor* cursor = &*p.cursor;  // one read at a time uses it
    // Encoded on the reader thread: the session thread only checks and sends.
    auto read = ctx_.store.read([q, cursor](service::StoreExecutor::ReadRepos& r) {
      std::vector<Replayed> out;
      for (auto& rec : r.data.replay(q, *cursor)) {
        auto packet = service::encode_delivery(rec);
        out.push_back({std::move(rec.of), std::move(packet), rec.seq,
                       static_cast<std::uint8_t>(rec.qos)});
      }
      return out;
    });
    std::vector<Replayed> chunk = co_await std::move(read);
    if (conn_.closing()) co_return false;
    if (chunk.empty()) break;  // nothing more up to `to`
    const auto dir = ctx_.directory.get();
    for (const auto& r : chunk) {
      replay_one(r, *dir, q.filters, granted);
      from = r.seq;
    }
    std::lock_guard lock(mu_);
    p.replay_from = from;
  }
  std::lock_guard lock(mu_);
  p.replay_from = std::max(p.replay_from, to);
  co_return true;
}

template <class Stream>
void Session<Stream>::replay_one(const Replayed& r, const service::Directory& dir,
                                 const std::vector<std::string>& filters,
                                 GrantedByTopic& granted) {
  PersistState& p = *persist_;
  if (std::binary_search(p.restored.begin(), p.restored.end(), r.seq)) return;  // sent again
  // The read permission as it is now (SPEC 11: checked at delivery).
  const service::DeviceInfo* device = dir.find(r.of);
  if (device == nullptr || !platform::may_read(*principal_, device->target(r.of))) return;
  const std::string_view topic = codec::publish_topic(*r.packet);
  auto it = granted.find(topic);
  if (it == granted.end()) {
    // The highest QoS granted among the filters that match [MQTT-3.3.5-1].
    std::uint8_t best = 0;
    for (const auto& f : filters) {
      if (base::filter_matches(f, topic)) best = std::max(best, conn_.granted_qos(f).value_or(0));
    }
    it = granted.emplace(std::string(topic), best).first;
  }
  const auto qos = std::min(r.qos, it->second);
  if (qos == 0) return;
  deliver_stored({r.packet, qos, r.seq});
  ctx_.counters.replayed++;
}

template <class Stream>
asio::awaitable<bool> Session<Stream>::window_low() {
  PersistState& p = *persist_;
  while (!conn_.closing() && conn_.waiting() >= PersistState::kLowWater) {
    if (!p.wake) p.wake = std::make_unique<Timer>(executor());
    p.wake->expires_at(steady_clock::time_point::max());
    p.waiting_window = true;  // Io::window_changed() cancels the wait
    auto wait = p.wake->async_wait(kUseTuple);
    co_await std::move(wait);
    p.waiting_window = false;
  }
  co_return !conn_.closing();
}

template <class Stream>
bool Session<Stream>::finish_round(std::int64_t to) {
  PersistState& p = *persist_;
  std::vector<broker::Outgoing> held;
  {
    std::lock_guard lock(mu_);
    if (p.overflow) return false;  // another round
    held.swap(p.held);
    p.held_bytes = 0;
    p.catching_up = false;  // from now on live records go through the inbox, behind these
  }
  for (auto& m : held) {
    if (m.seq > to) deliver_stored(std::move(m));
  }
  return true;
}

template <class Stream>
void Session<Stream>::deliver_stored(broker::Outgoing m) {
  {
    std::lock_guard lock(mu_);
    if (!handoff_) handoff_ = std::make_unique<Handoff>();
    ++handoff_->pending_messages;  // until acknowledged, like a handed-off one
    handoff_->pending_bytes += m.packet->size();
  }
  PersistState& p = *persist_;
  p.last_delivered = std::max(p.last_delivered, m.seq);
  Io io(*this);
  conn_.deliver(std::move(m), io);
}

#define PLUGMQ_SESSION_REPLAY(S)                                                           \
  template void Session<S>::deliver_committed(const service::Message&, std::int64_t);      \
  template void Session<S>::hold_locked(const service::Message&, std::int64_t);            \
  template void Session<S>::start_catch_up();                                              \
  template asio::awaitable<void> Session<S>::catch_up();                                   \
  template asio::awaitable<void> Session<S>::skip_replay(std::int64_t, std::int64_t);      \
  template asio::awaitable<bool> Session<S>::replay_range(std::int64_t, std::int64_t);     \
  template void Session<S>::replay_one(const Replayed&, const service::Directory&,          \
                                       const std::vector<std::string>&, GrantedByTopic&);  \
  template asio::awaitable<bool> Session<S>::window_low();                                 \
  template bool Session<S>::finish_round(std::int64_t);                                    \
  template void Session<S>::deliver_stored(broker::Outgoing);
PLUGMQ_SESSION_REPLAY(Socket)
PLUGMQ_SESSION_REPLAY(TlsStream)
PLUGMQ_SESSION_REPLAY(WsStream)
PLUGMQ_SESSION_REPLAY(WssStream)
#undef PLUGMQ_SESSION_REPLAY

}  // namespace plugmq::net
