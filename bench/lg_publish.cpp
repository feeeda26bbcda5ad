// Publishers: the stamped payload, the closed loop (a window of messages not yet received by
// their subscribers and, at QoS 1, not yet acknowledged) and the fixed rate.
#include <algorithm>
#include <charconv>
#include <string>

#include "lg_mqtt.hpp"
#include "lg_run.hpp"

namespace lg {

namespace {

// Writes the payload of one message: `"@<ns>:<pub>:<seq>:xxx…"`, exactly opt.payload bytes.
void append_message(Run& run, Conn& c, std::string& buf, std::int64_t sent_ns, std::uint64_t seq,
                    std::uint16_t packet_id) {
  char payload[128];
  char* const end = payload + sizeof payload - 1;  // room for each ':' is kept
  char* p = payload;
  *p++ = '"';
  *p++ = '@';
  p = std::to_chars(p, end, sent_ns).ptr;
  if (p < end) *p++ = ':';
  p = std::to_chars(p, end, c.index).ptr;
  if (p < end) *p++ = ':';
  p = std::to_chars(p, end, seq).ptr;
  if (p < end) *p++ = ':';
  std::size_t head = static_cast<std::size_t>(p - payload);
  std::size_t total = static_cast<std::size_t>(run.opt.payload);
  // total >= 48 and head <= 2 + 19 + 1 + 7 + 1 + 20 + 1: at least the closing quote fits.
  std::size_t remaining = 2 + c.topic.size() + total + (run.opt.qos > 0 ? 2 : 0);
  buf.push_back(static_cast<char>((kPublish << 4) | (run.opt.qos > 0 ? 0x02 : 0)));
  put_varint(buf, remaining);
  put_str(buf, c.topic);
  if (run.opt.qos > 0) put_u16(buf, packet_id);
  if (head + 1 > total) head = total - 1;  // cannot happen with total >= 48 and sane values
  buf.append(payload, head);
  buf.append(run.payload_pad.data(), total - head - 1);
  buf.push_back('"');
}

asio::awaitable<void> wait_until_running(Conn& c) {
  while (c.worker.run.phase.load() == kConnecting) {
    c.timer.expires_after(std::chrono::milliseconds(2));
    auto op = c.timer.async_wait(kTuple);
    co_await std::move(op);
  }
}

// Closed loop: keep `inflight` messages (x subscribers) outstanding; at QoS 1, also at most
// `inflight` without their PUBACK (the publish scenario, without subscribers, has only that).
asio::awaitable<void> publish_closed(Conn& c) {
  Run& run = c.worker.run;
  auto& ps = *run.pubs[static_cast<std::size_t>(c.index)];
  const std::int64_t per = run.deliveries_per_message;
  const std::int64_t inflight = run.opt.inflight;
  const std::int64_t limit = inflight * per;
  const bool acked = run.opt.qos > 0;
  const std::int64_t stall_ns = 5'000'000'000;
  auto room_now = [&] {
    std::int64_t room = per > 0 ? (limit - ps.outstanding.load()) / per : inflight;
    return acked ? std::min(room, inflight - c.unacked) : room;
  };
  std::string buf;
  std::uint64_t seq = 0;
  std::uint16_t packet_id = 0;
  while (!c.closed && run.phase.load() == kRunning) {
    std::int64_t now = now_ns();
    if (now >= run.end_ns) break;
    if (ps.quota != 0 && seq >= ps.quota) break;
    std::int64_t room = room_now();
    if (room <= 0) {
      ps.waiting.store(true);
      std::int64_t before = ps.outstanding.load();
      std::int64_t before_unacked = c.unacked;
      room = room_now();
      if (room <= 0) {
        c.timer.expires_at(at_ns(std::min(now + stall_ns, run.end_ns)));
        auto op = c.timer.async_wait(kTuple);
        auto [ec] = co_await std::move(op);
        ps.waiting.store(false);
        if (!ec && now_ns() < run.end_ns && ps.outstanding.load() == before &&
            c.unacked == before_unacked) {
          // Nothing arrived for 5 s: the broker lost these; start over rather than hang.
          run.stalls.fetch_add(1);
          ps.outstanding.store(0);
          c.unacked = 0;
        }
        continue;
      }
      ps.waiting.store(false);
    }
    room = std::min<std::int64_t>(room, 256);
    if (ps.quota != 0) room = std::min<std::int64_t>(room, static_cast<std::int64_t>(ps.quota - seq));
    buf.clear();
    for (std::int64_t i = 0; i < room; ++i) {
      if (++packet_id == 0) packet_id = 1;
      append_message(run, c, buf, now_ns(), seq++, packet_id);
    }
    ps.outstanding.fetch_add(room * per);
    if (acked) c.unacked += room;
    ps.sent.fetch_add(static_cast<std::uint64_t>(room), std::memory_order_relaxed);
    auto wop = write_all(c, buf);
    auto ec = co_await std::move(wop);
    if (ec) break;
  }
}

// Fixed rate: this publisher's share of --rate, each message stamped with its due time.
asio::awaitable<void> publish_rate(Conn& c) {
  Run& run = c.worker.run;
  auto& ps = *run.pubs[static_cast<std::size_t>(c.index)];
  const double interval = 1e9 * run.publishers / run.opt.rate;
  double next = static_cast<double>(run.start_ns) + c.index * (1e9 / run.opt.rate);
  std::string buf;
  std::uint64_t seq = 0;
  std::uint16_t packet_id = 0;
  while (!c.closed && run.phase.load() == kRunning) {
    std::int64_t now = now_ns();
    if (next >= static_cast<double>(run.end_ns)) break;
    if (ps.quota != 0 && seq >= ps.quota) break;
    if (next > static_cast<double>(now)) {
      c.timer.expires_at(at_ns(static_cast<std::int64_t>(next)));
      auto op = c.timer.async_wait(kTuple);
      co_await std::move(op);
      continue;
    }
    buf.clear();
    std::int64_t n = 0;
    while (next <= static_cast<double>(now) && next < static_cast<double>(run.end_ns) && n < 1000 &&
           (ps.quota == 0 || seq < ps.quota)) {
      if (++packet_id == 0) packet_id = 1;
      append_message(run, c, buf, static_cast<std::int64_t>(next), seq++, packet_id);
      next += interval;
      ++n;
    }
    ps.outstanding.fetch_add(n * run.deliveries_per_message);
    if (run.opt.qos > 0) c.unacked += n;
    ps.sent.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    auto wop = write_all(c, buf);
    auto ec = co_await std::move(wop);
    if (ec) break;
  }
}

}  // namespace

void wake_publisher(PubState& ps) {
  if (ps.waiting.load() && ps.waiting.exchange(false)) {
    Conn* pc = ps.conn;
    asio::post(pc->sock.get_executor(), [pc] { pc->timer.cancel(); });
  }
}

asio::awaitable<void> publish(Conn& c) {
  auto wait = wait_until_running(c);
  co_await std::move(wait);
  if (c.worker.run.opt.mode == Mode::kClosed) {
    auto op = publish_closed(c);
    co_await std::move(op);
  } else {
    auto op = publish_rate(c);
    co_await std::move(op);
  }
}

}  // namespace lg
