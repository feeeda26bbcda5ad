// A persistent session's life at its ends (SPEC 11; docs/decisions/017): CONNECT with clean
// session 0 resumes or creates the session of (login identity, client id), clean session 1
// discards it, and every end saves it. What happens in between (the dispatcher's deliveries and
// the replay of what it missed) is in session_replay.cpp.
//
// Resume: wait for the key (an older connection of it saves first), load the stored state on a
// reader thread (with the records of its in-flight messages), CONNACK with session present,
// attach (subscriptions into the router between two dispatcher batches: D), send the in-flight
// messages again with DUP and their packet ids, then catch up: replay (P, D] and go live.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include "plugmq/platform/ids.hpp"
#include "plugmq/service/publish.hpp"
#include "session.hpp"
#include "session_io.hpp"
#include "session_util.hpp"

namespace plugmq::net {

namespace asio = boost::asio;
using std::chrono::steady_clock;
using Stage = broker::OutboundWindow::Stage;

namespace {

// What a resume reads from the store.
struct Stored {
  bool found = false;
  store::Session session;
  std::vector<platform::Record> inflight;  // the records of its in-flight messages, by seq
};

std::vector<std::string> granted_filters(const store::Session& s) {
  std::vector<std::string> out;
  for (const auto& sub : s.subscriptions) {
    if (sub.qos >= 1) out.push_back(sub.filter);
  }
  return out;
}

// The records of `s`'s in-flight messages that are still stored (read through its filters).
std::vector<platform::Record> inflight_records(store::DataStore& data, const store::Session& s) {
  std::vector<std::int64_t> seqs;
  for (const auto& m : s.inflight) {
    if (m.state != store::InflightState::kAwaitPubcomp) seqs.push_back(m.seq);
  }
  std::sort(seqs.begin(), seqs.end());
  store::ReplayQuery q;
  q.account_id = s.account_id;
  q.filters = granted_filters(s);
  if (seqs.empty() || q.filters.empty()) return {};
  q.after_seq = seqs.front() - 1;
  q.upto_seq = seqs.back();
  std::vector<platform::Record> out;
  while (q.after_seq < q.upto_seq) {
    auto chunk = data.replay(q);
    if (chunk.empty()) break;
    q.after_seq = chunk.back().seq;
    for (auto& r : chunk) {
      if (std::binary_search(seqs.begin(), seqs.end(), r.seq)) out.push_back(std::move(r));
    }
  }
  return out;
}

Stored load_stored(service::StoreExecutor::ReadRepos& r, const std::string& identity,
                   const std::string& client_id) {
  Stored out;
  auto loaded = r.sessions.load(identity, client_id);
  if (!loaded) return out;
  out.found = true;
  out.session = std::move(*loaded);
  out.inflight = inflight_records(r.data, out.session);
  return out;
}

Stage stage_of(store::InflightState s) {
  switch (s) {
    case store::InflightState::kAwaitPuback:
      return Stage::kPuback;
    case store::InflightState::kAwaitPubrec:
      return Stage::kPubrec;
    case store::InflightState::kAwaitPubcomp:
      break;
  }
  return Stage::kPubcomp;
}

store::InflightState state_of(Stage s) {
  switch (s) {
    case Stage::kPuback:
      return store::InflightState::kAwaitPuback;
    case Stage::kPubrec:
      return store::InflightState::kAwaitPubrec;
    case Stage::kPubcomp:
      break;
  }
  return store::InflightState::kAwaitPubcomp;
}

}  // namespace

template <class Stream>
asio::awaitable<bool> Session<Stream>::acquire_key() {
  // The grant may come from another thread (the older connection's save): it is posted here,
  // where this coroutine waits on a timer it cancels.
  struct Grant {
    explicit Grant(IoExecutor ex) : timer(ex) {}
    Timer timer;
    bool granted = false;
  };
  auto grant = std::make_shared<Grant>(executor());
  grant->timer.expires_at(steady_clock::time_point::max());
  ctx_.session_table.acquire(conn_.key(), [grant] {
    asio::post(grant->timer.get_executor(), [grant] {
      grant->granted = true;
      grant->timer.cancel();
    });
  });
  while (!grant->granted) {
    auto wait = grant->timer.async_wait(kUseTuple);
    co_await std::move(wait);
  }
  co_return !conn_.closing() && !ctx_.stopping;
}

template <class Stream>
asio::awaitable<void> Session<Stream>::run_session() {
  if (gated_) {
    // Logged in: its place among the thread's logins goes to the next, while this one waits
    // for an older connection's save and its load.
    gated_ = false;
    login_gate().leave();
  }
  auto wait = acquire_key();
  const bool go_on = co_await std::move(wait);
  {
    auto p = std::make_unique<PersistState>();
    p->account_id = principal_->account_id;
    p->key_held = true;  // end_persistent() releases it
    std::lock_guard lock(mu_);
    persist_ = std::move(p);
  }
  if (!go_on) {
    Io io(*this);
    conn_.on_login_refused(broker::LoginResult::kError, io);  // the server stops: CONNACK 3
    co_return;
  }
  const std::string identity(this->identity());
  const std::string cid(client_id());
  std::optional<Stored> stored;
  try {
    auto load = ctx_.store.read([identity, cid](service::StoreExecutor::ReadRepos& r) {
      return load_stored(r, identity, cid);
    });
    stored = co_await std::move(load);
  } catch (const std::exception& e) {
    spdlog::error("{} {}: persistent session not loaded: {}", peer_, cid, e.what());
  }
  Io io(*this);
  if (!stored) {
    conn_.on_login_refused(broker::LoginResult::kError, io);  // CONNACK 3
    co_return;
  }
  if (conn_.closing()) co_return;
  conn_.on_session(stored->found, steady_clock::now(), io);  // [MQTT-3.2.2-2]
  settle(io);
  if (!stored->found) {
    stored->session.identity = identity;
    stored->session.client_id = cid;
    stored->session.account_id = persist_->account_id;
  }
  const std::int64_t d = restore_session(stored->session, stored->inflight, stored->found);
  log(broker::LogLevel::kInfo, nullptr,
      std::string(stored->found ? "session resumed" : "session created") + " (" +
          std::to_string(stored->session.subscriptions.size()) + " subscriptions, " +
          std::to_string(stored->session.inflight.size()) + " in flight, position " +
          std::to_string(stored->found ? stored->session.position : d) + ", now " +
          std::to_string(d) + ")");
  save(snapshot(d, true), false);  // online, and listed as a session from now on
  start_catch_up();
}

template <class Stream>
std::int64_t Session<Stream>::restore_session(const store::Session& stored,
                                              std::vector<platform::Record>& inflight, bool found) {
  PersistState& p = *persist_;
  p.created_at = found ? stored.created_at : platform::now_ms();
  {
    std::lock_guard lock(mu_);
    persistent_ = true;  // QoS 1/2 messages come from the dispatcher only
    p.catching_up = true;
  }
  const std::int64_t d = ctx_.dispatcher.attach([&] {
    Io io(*this);
    for (const auto& sub : stored.subscriptions) {
      conn_.restore_subscription(sub.filter, static_cast<std::uint8_t>(sub.qos), io);
    }
  });
  p.attached = true;
  p.resumed = true;
  restore_inflight(stored, inflight);
  // The inbound QoS 2 ids still awaiting their PUBREL [MQTT-4.3.3-2], as the row holds them.
  for (const int id : stored.awaiting_pubrel) {
    if (id < 1 || id > 65535) continue;
    conn_.restore_awaiting_pubrel(static_cast<std::uint16_t>(id));
    p.saved_awaiting.push_back(static_cast<std::uint16_t>(id));
  }
  std::sort(p.saved_awaiting.begin(), p.saved_awaiting.end());
  std::lock_guard lock(mu_);
  // A new session starts now; one resumed at its position (never past what is committed).
  p.replay_from = found ? std::min(stored.position, d) : d;
  p.round_to = d;
  return d;
}

template <class Stream>
void Session<Stream>::restore_inflight(const store::Session& stored,
                                       std::vector<platform::Record>& records) {
  PersistState& p = *persist_;
  const auto dir = ctx_.directory.get();
  Io io(*this);
  for (const auto& m : stored.inflight) {
    broker::OutboundWindow::InFlight f;
    f.seq = m.seq;
    f.id = static_cast<std::uint16_t>(m.packet_id);
    f.stage = stage_of(m.state);
    f.qos = f.stage == Stage::kPuback ? 1 : 2;
    if (f.stage != Stage::kPubcomp) {
      auto r =
          std::lower_bound(records.begin(), records.end(), m.seq,
                           [](const platform::Record& a, std::int64_t s) { return a.seq < s; });
      const service::DeviceInfo* device =
          r != records.end() && r->seq == m.seq ? dir->find(r->of) : nullptr;
      if (device == nullptr || !platform::may_read(*principal_, device->target(r->of))) {
        // Expired, deleted, or no longer readable: not sent again.
        log(broker::LogLevel::kDebug, nullptr,
            "in-flight message at position " + std::to_string(m.seq) + " not sent again");
        continue;
      }
      f.packet = service::encode_delivery(*r);
      std::lock_guard lock(mu_);
      if (!handoff_) handoff_ = std::make_unique<Handoff>();
      ++handoff_->pending_messages;
      handoff_->pending_bytes += f.packet->size();
    }
    p.restored.push_back(m.seq);
    conn_.restore_inflight(std::move(f), io);  // with DUP and its packet id [MQTT-4.4.0-1]
  }
  std::sort(p.restored.begin(), p.restored.end());
}

template <class Stream>
void Session<Stream>::discard_stored_session() {
  // After an older connection of the key saved (it is being taken over, or just was): the
  // delete must not be overtaken by that save. CONNACK does not wait: it says 0 anyway.
  service::Context* ctx = &ctx_;
  const std::string key = conn_.key();
  ctx_.session_table.acquire(
      key, [ctx, key, identity = std::string(identity()), cid = std::string(client_id())] {
        auto release = ctx->session_table.release_later(key);
        ctx->writer.push_session_task([ctx, key, identity, cid, release](store::SessionStore& s) {
          if (s.remove(identity, cid))
            spdlog::info("session {} {} discarded (clean session)", identity, cid);
          ctx->session_table.forget(key);
        });
      });
}

template <class Stream>
std::int64_t Session<Stream>::position(std::int64_t w) {
  const PersistState& p = *persist_;
  std::lock_guard lock(mu_);
  // Sent in order of position: the first message not yet sent bounds what was handled.
  if (const auto* window = conn_.outbound()) {
    if (auto first = window->first_waiting_seq(); first && *first > 0) return *first - 1;
  }
  if (handoff_) {
    for (const auto& m : handoff_->inbox) {
      if (m.seq > 0) return m.seq - 1;
    }
  }
  if (p.catching_up) return p.replay_from;
  return std::max(p.last_delivered, w);
}

template <class Stream>
store::Session Session<Stream>::snapshot(std::int64_t w, bool online) {
  store::Session s;
  s.identity = identity();
  s.client_id = client_id();
  s.account_id = persist_->account_id;
  if (const auto* filters = conn_.filters()) {
    filters->for_each([&](std::string_view filter, std::uint8_t qos) {
      s.subscriptions.push_back({std::string(filter), qos});
    });
  }
  s.position = position(w);
  if (const auto* window = conn_.outbound()) {
    for (std::size_t i = 0; i < window->in_flight(); ++i) {
      const auto& f = window->in_flight_at(i);
      s.inflight.push_back({f.seq, f.id, state_of(f.stage)});
    }
  }
  if (const auto* awaiting = conn_.awaiting_pubrel_ids()) {
    for (const std::uint16_t id : awaiting->ids()) {
      if (id != persist_->storing_qos2) s.awaiting_pubrel.push_back(id);
    }
  }
  s.created_at = persist_->created_at;
  s.last_seen = platform::now_ms();
  s.online = online;
  return s;
}

template <class Stream>
void Session<Stream>::save(store::Session s, bool release) {
  auto& saved = persist_->saved_awaiting;
  for (const int id : s.awaiting_pubrel) {
    const auto at = std::lower_bound(saved.begin(), saved.end(), id);
    if (at == saved.end() || *at != id) saved.insert(at, static_cast<std::uint16_t>(id));
  }
  ctx_.session_table.note_stored(conn_.key());
  std::shared_ptr<void> releaser;
  if (release) releaser = ctx_.session_table.release_later(conn_.key());
  // Periodic saves ride with the next commit; the last one (a takeover may wait for it) commits
  // at once.
  ctx_.writer.push_session_task(
      [s = std::move(s), releaser](store::SessionStore& sessions) {
        if (auto saved = sessions.save(s); !saved) {
          // kNotFound: the device or the account went meanwhile.
          spdlog::info("session {} {} not saved: {}", s.identity, s.client_id,
                       saved.error().message);
        }
      },
      release);
}

template <class Stream>
void Session<Stream>::send_pubcomp(std::uint16_t id) {
  const codec::Packet pubcomp = codec::Pubcomp{id};
  PersistState* p = persist_.get();
  if (p == nullptr) return send(pubcomp);
  auto& saved = p->saved_awaiting;
  const auto at = std::lower_bound(saved.begin(), saved.end(), id);
  if (at == saved.end() || *at != id) return send(pubcomp);  // no save holds it: at once
  saved.erase(at);
  // A save holds the id as awaiting its PUBREL: after a restart (a SIGKILL included) the id's
  // next PUBLISH would be taken for this one sent again, and dropped. So a save without it
  // first, and the PUBCOMP once that is committed.
  if (!p->resumed) return ctx_.writer.push_done(ack_when_stored(pubcomp));
  hold_ack(pubcomp, false);
}

template <class Stream>
void Session<Stream>::send_pubrel(std::uint16_t id) {
  PersistState* p = persist_.get();
  if (p == nullptr || !p->resumed) return send(codec::Pubrel{id});
  // The window holds the message at its PUBCOMP stage: once a save says so, a restart sends
  // this PUBREL again rather than the PUBLISH, which the client may have released by then.
  hold_ack(codec::Pubrel{id}, false);
}

template <class Stream>
void Session<Stream>::hold_ack(codec::Packet ack, bool of_publish) {
  persist_->gate.hold(std::move(ack), of_publish);
  flush_gate_soon();
}

template <class Stream>
void Session<Stream>::flush_gate_soon() {
  // Posted: the packets already read are handled first, and their acknowledgements share the
  // save.
  if (!persist_->gate.want_flush()) return;
  asio::post(executor(), [self = this->shared_from_this()] { self->flush_gate(); });
}

template <class Stream>
void Session<Stream>::flush_gate() {
  PersistState& p = *persist_;
  auto held = p.gate.take();
  if (!held) return;  // nothing yet: a save uncommitted, or a record being handed over
  if (!p.resumed || conn_.closing()) {
    // Ending: nothing more is sent, and the last save holds the state.
    if (p.gate.committed()) flush_gate_soon();
    return;
  }
  // The save holds every change so far: the periodic one has nothing left to do.
  p.dirty = false;
  save(snapshot(ctx_.dispatcher.watermark(), true), false);
  ctx_.writer.push_done([self = this->shared_from_this(), held = std::move(held)](bool ok) {
    // The data writer's thread, after the save's commit: the acknowledgements in order, or
    // none when the save or a record acknowledged here failed (the client sends again).
    if (ok && !held->failed) {
      for (const auto& ack : held->acks) self->send(ack);
    } else {
      self->close(broker::EndReason::kStoreFailed);
    }
    asio::post(self->executor(), [self] {
      if (self->persist_->gate.committed()) self->flush_gate();
    });
  });
}

template <class Stream>
void Session<Stream>::mark_dirty() {
  PersistState& p = *persist_;
  if (!p.resumed || conn_.closing()) return;
  p.dirty = true;
  if (p.save_due != PersistState::Clock::time_point::max()) return;
  p.save_due = steady_clock::now() + PersistState::kSaveEvery;
  asio::post(executor(), [self = this->shared_from_this()] { self->check_watchdog(); });
}

template <class Stream>
void Session<Stream>::save_if_due(steady_clock::time_point now) {
  PersistState& p = *persist_;
  if (now < p.save_due) return;
  p.save_due = PersistState::Clock::time_point::max();
  if (!p.resumed || !p.dirty) return;
  p.dirty = false;
  const std::int64_t w = ctx_.dispatcher.watermark();  // read before what was handed is looked at
  save(snapshot(w, true), false);
}

template <class Stream>
void Session<Stream>::end_persistent() {
  PersistState& p = *persist_;
  if (!std::exchange(p.key_held, false)) return;
  if (!p.resumed) {
    ctx_.session_table.release(conn_.key());  // never resumed: nothing to save
    return;
  }
  p.resumed = false;
  store::Session s = snapshot(0, false);  // subscriptions and in flight, before they go
  if (p.attached) {
    // No delivery comes after this: the position counts everything up to the watermark.
    const std::int64_t w = ctx_.dispatcher.detach([&] {
      Io io(*this);
      while (!conn_.leave_some(io)) {
      }
    });
    p.attached = false;
    s.position = position(w);
  }
  save(std::move(s), true);
}

#define PLUGMQ_SESSION_RESUME(S)                                                           \
  template asio::awaitable<bool> Session<S>::acquire_key();                                \
  template asio::awaitable<void> Session<S>::run_session();                                \
  template std::int64_t Session<S>::restore_session(const store::Session&,                 \
                                                    std::vector<platform::Record>&, bool); \
  template void Session<S>::restore_inflight(const store::Session&,                        \
                                             std::vector<platform::Record>&);              \
  template void Session<S>::discard_stored_session();                                      \
  template std::int64_t Session<S>::position(std::int64_t);                                \
  template store::Session Session<S>::snapshot(std::int64_t, bool);                        \
  template void Session<S>::save(store::Session, bool);                                    \
  template void Session<S>::send_pubcomp(std::uint16_t);                                   \
  template void Session<S>::send_pubrel(std::uint16_t);                                    \
  template void Session<S>::hold_ack(codec::Packet, bool);                                 \
  template void Session<S>::flush_gate_soon();                                             \
  template void Session<S>::flush_gate();                                                  \
  template void Session<S>::mark_dirty();                                                  \
  template void Session<S>::save_if_due(steady_clock::time_point);                         \
  template void Session<S>::end_persistent();
PLUGMQ_SESSION_RESUME(Socket)
PLUGMQ_SESSION_RESUME(TlsStream)
PLUGMQ_SESSION_RESUME(WsStream)
PLUGMQ_SESSION_RESUME(WssStream)
#undef PLUGMQ_SESSION_RESUME

}  // namespace plugmq::net
