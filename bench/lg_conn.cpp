// One load generator connection from TCP connect to its end: login (CONNECT, SUBSCRIBE),
// reading what the broker sends (deliveries, acknowledgements), answering QoS 1/2 deliveries,
// PINGREQ; then the publisher's part (lg_publish.cpp) for publishers.
#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>

#include "lg_mqtt.hpp"
#include "lg_run.hpp"

namespace lg {

namespace {

// Reads more bytes into c.rbuf (compacting or growing it as needed).
asio::awaitable<boost::system::error_code> fill(Conn& c) {
  if (c.rbegin == c.rend) {
    c.rbegin = c.rend = 0;
  } else if (c.rend == c.rbuf.size()) {
    if (c.rbegin > 0) {
      std::memmove(c.rbuf.data(), c.rbuf.data() + c.rbegin, c.rend - c.rbegin);
      c.rend -= c.rbegin;
      c.rbegin = 0;
    } else {
      c.rbuf.resize(c.rbuf.size() * 2);
    }
  }
  auto buf = asio::buffer(c.rbuf.data() + c.rend, c.rbuf.size() - c.rend);
  auto op = c.sock.async_read_some(buf, kTuple);
  auto [ec, n] = co_await std::move(op);
  c.rend += n;
  co_return ec;
}

// The next complete packet of c.rbuf, or nullopt when more bytes are needed. Throws on a
// malformed packet.
std::optional<Packet> next_packet(Conn& c) {
  Packet p;
  std::size_t used = 0;
  auto r = decode(c.rbuf.data() + c.rbegin, c.rend - c.rbegin, p, used);
  if (r == Decode::kNeedMore) return std::nullopt;
  if (r == Decode::kMalformed) throw std::runtime_error("malformed packet from the broker");
  c.rbegin += used;
  return p;
}

// Writes `bytes`, or, while another write of this connection is in progress (the reader's
// acknowledgements and the PINGREQ of a subscriber), queues them behind it.
asio::awaitable<boost::system::error_code> send(Conn& c, std::string_view bytes) {
  if (c.writing) {
    c.wqueue.append(bytes);
    co_return boost::system::error_code{};
  }
  c.writing = true;
  auto op = write_all(c, bytes);
  auto ec = co_await std::move(op);
  std::string more;
  while (!ec && !c.wqueue.empty()) {
    more.clear();
    more.swap(c.wqueue);
    auto next = write_all(c, more);
    ec = co_await std::move(next);
  }
  c.writing = false;
  co_return ec;
}

std::string connack_text(int code) {
  switch (code) {
    case 1: return "CONNACK 1 (unacceptable protocol version)";
    case 2: return "CONNACK 2 (identifier rejected)";
    case 3: return "CONNACK 3 (server unavailable)";
    case 4: return "CONNACK 4 (bad user name or password)";
    case 5: return "CONNACK 5 (not authorized)";
    default: return "CONNACK " + std::to_string(code);
  }
}

// A delivery: find the stamp in the raw payload or in plugmq's record around it.
void on_delivery(Run& run, Worker& w, std::string_view payload, std::int64_t recv_ns) {
  auto& st = w.stats;
  if (run.opt.scenario == Scenario::kCatchUp) {
    // Published by another run: every PUBLISH counts; the time of the first and of the last.
    st.delivered.fetch_add(1, std::memory_order_relaxed);
    auto k = run.caught.fetch_add(1) + 1;
    if (k == 1) run.first_ns.store(recv_ns);
    if (k == run.opt.expect) run.done_ns.store(recv_ns);
    return;
  }
  auto at = payload.find("\"@");
  std::int64_t sent_ns = 0;
  long pub = -1;
  if (at != std::string_view::npos) {
    const char* p = payload.data() + at + 2;
    const char* end = payload.data() + payload.size();
    auto r1 = std::from_chars(p, end, sent_ns);
    if (r1.ec == std::errc() && r1.ptr < end && *r1.ptr == ':') {
      auto r2 = std::from_chars(r1.ptr + 1, end, pub);
      if (r2.ec != std::errc()) pub = -1;
    }
  }
  if (pub < 0 || pub >= run.publishers) {
    ++st.bad_payloads;
    return;
  }
  st.delivered.fetch_add(1, std::memory_order_relaxed);
  auto latency = static_cast<std::uint64_t>(std::max<std::int64_t>(0, recv_ns - sent_ns));
  if (recv_ns >= run.window_ns && recv_ns < run.end_ns) {
    ++st.delivered_window;
    st.latency.record(latency);
  }
  if (run.timeline_ns > 0 && recv_ns >= run.start_ns) {
    auto i = static_cast<std::size_t>((recv_ns - run.start_ns) / run.timeline_ns);
    if (i < st.tl_count.size()) {
      ++st.tl_count[i];
      st.tl_max_ns[i] = std::max(st.tl_max_ns[i], latency);
    }
  }
  auto& ps = *run.pubs[static_cast<std::size_t>(pub)];
  ps.outstanding.fetch_sub(1);
  wake_publisher(ps);
}

// One packet from the broker: deliveries (answered in c.acks: PUBACK for QoS 1, PUBREC for
// QoS 2), PUBREL (PUBCOMP), a publisher's PUBACK. Others (PINGRESP) need nothing.
void handle_packet(Conn& c, const Packet& p, std::int64_t t) {
  Run& run = c.worker.run;
  switch (p.type) {
    case kPublish: {
      int qos = publish_qos(p);
      if (qos == 1) append_ack(c.acks, kPuback, packet_id(p));
      if (qos == 2) append_ack(c.acks, kPubrec, packet_id(p));
      if (p.flags & 0x08) ++c.worker.stats.dup_flags;
      on_delivery(run, c.worker, publish_payload(p), t);
      break;
    }
    case kPubrel:
      append_ack(c.acks, kPubcomp, packet_id(p));
      break;
    case kPuback:
      if (c.role == Role::kPub) {
        auto& ps = *run.pubs[static_cast<std::size_t>(c.index)];
        ps.pubacks.fetch_add(1, std::memory_order_relaxed);
        if (c.unacked > 0) --c.unacked;
        wake_publisher(ps);
      }
      break;
    default:
      break;
  }
}

// Reads packets until one of type `want` arrives; deliveries before it are handled (and
// answered later by the read loop), other packets ignored.
asio::awaitable<std::optional<Packet>> await_packet(Conn& c, std::uint8_t want,
                                                    std::string& error) {
  for (;;) {
    while (auto p = next_packet(c)) {
      if (p->type == want) co_return p;
      handle_packet(c, *p, now_ns());
    }
    auto ec = co_await fill(c);
    if (ec) {
      error = ec == asio::error::eof ? "connection closed by the broker" : ec.message();
      co_return std::nullopt;
    }
  }
}

void note_lost(Run& run, Conn& c, const std::string& why) {
  if (c.closed) return;
  c.closed = true;
  run.alive.fetch_sub(1);
  if (run.phase.load() != kClosing) {
    run.disconnects.fetch_add(1);
    run.note(run.first_disconnect_error, c.client_id + ": " + why);
  }
}

// Reads what the broker sends until the connection ends, answering deliveries of QoS 1/2 once
// per read (every packet of the read acknowledged in one write).
asio::awaitable<void> read_loop(Conn& c) {
  Run& run = c.worker.run;
  std::string why;
  std::string out;
  try {
    for (;;) {
      std::int64_t t = now_ns();
      while (auto p = next_packet(c)) handle_packet(c, *p, t);  // login left some, or a read
      if (!c.acks.empty()) {
        out.clear();
        out.swap(c.acks);
        auto op = send(c, out);
        auto wec = co_await std::move(op);
        if (wec) {
          why = wec.message();
          break;
        }
        c.worker.stats.acks_sent += out.size() / 4;  // each is 4 bytes
      }
      auto ec = co_await fill(c);
      if (ec) {
        why = ec == asio::error::eof ? "connection closed by the broker" : ec.message();
        break;
      }
    }
  } catch (const std::exception& e) {
    why = e.what();
  }
  note_lost(run, c, why);
  c.timer.cancel();
}

// Subscribers and idle connections: PINGREQ every keep alive / 2.
asio::awaitable<void> ping_loop(Conn& c) {
  auto period = std::chrono::milliseconds(c.worker.run.opt.keep_alive * 500);
  while (!c.closed) {
    c.timer.expires_after(period);
    auto op = c.timer.async_wait(kTuple);
    auto [ec] = co_await std::move(op);
    if (c.closed || c.worker.run.phase.load() == kClosing) break;
    if (ec) continue;
    auto ping = send(c, pingreq_packet());
    auto wec = co_await std::move(ping);
    if (wec) break;
  }
}

void login_done(Conn& c) {
  Worker& w = c.worker;
  --w.pending;
  w.launch_timer.cancel();
}

// CONNECT, CONNACK and, for subscribers, SUBSCRIBE and SUBACK (not for a resumed session of
// catch-up: its subscription is the session's). Returns what went wrong, or "".
asio::awaitable<std::string> login(Conn& c) {
  Run& run = c.worker.run;
  const Options& opt = run.opt;
  auto cop = c.sock.async_connect(run.endpoint, kTuple);
  auto [cec] = co_await std::move(cop);
  if (cec) co_return "connect: " + cec.message();
  c.sock.set_option(tcp::no_delay(true));
  bool clean = c.role == Role::kSub ? opt.clean_session : true;
  std::string connect = connect_packet(c.client_id, opt.login, c.cred->id, c.cred->auth,
                                       static_cast<std::uint16_t>(opt.keep_alive), clean);
  auto wop = write_all(c, connect);
  auto ec = co_await std::move(wop);
  if (ec) co_return "CONNECT: " + ec.message();
  std::string error;
  auto aop = await_packet(c, kConnack, error);
  auto ack = co_await std::move(aop);
  if (!ack) co_return error;
  if (ack->body_len < 2 || ack->body[1] != 0) co_return connack_text(ack->body_len < 2 ? -1 : ack->body[1]);
  if (ack->body[0] & 1) {
    run.sessions_present.fetch_add(1);
    if (opt.scenario == Scenario::kCatchUp) co_return "";
  }
  if (c.role != Role::kSub) co_return "";
  std::string sub = subscribe_packet(1, c.topic, static_cast<std::uint8_t>(opt.sub_qos));
  auto sop = write_all(c, sub);
  auto sec = co_await std::move(sop);
  if (sec) co_return "SUBSCRIBE: " + sec.message();
  auto bop = await_packet(c, kSuback, error);
  auto suback = co_await std::move(bop);
  if (!suback) co_return error;
  if (suback->body_len < 3 || suback->body[2] == 0x80) co_return "SUBACK refused " + c.topic;
  co_return "";
}

// One connection from TCP connect to its end.
asio::awaitable<void> run_conn(Conn& c) {
  Run& run = c.worker.run;
  std::string error;
  try {
    auto op = login(c);
    error = co_await std::move(op);
  } catch (const std::exception& e) {
    error = e.what();
  }
  login_done(c);
  if (!error.empty()) {
    run.connect_failures.fetch_add(1);
    run.note(run.first_connect_error, error);
    boost::system::error_code ignored;
    c.sock.close(ignored);
    co_return;
  }
  c.logged_in = true;
  run.alive.fetch_add(1);
  run.logged_in.fetch_add(1);

  asio::co_spawn(c.sock.get_executor(), read_loop(c), asio::detached);
  if (c.role != Role::kPub) {
    auto op = ping_loop(c);
    co_await std::move(op);
    co_return;
  }
  auto op = publish(c);
  co_await std::move(op);
}

}  // namespace

asio::awaitable<boost::system::error_code> write_all(Conn& c, std::string_view bytes) {
  auto op = asio::async_write(c.sock, asio::buffer(bytes.data(), bytes.size()), kTuple);
  auto [ec, n] = co_await std::move(op);
  co_return ec;
}

asio::awaitable<void> launch(Worker& w) {
  for (auto& c : w.conns) {
    while (w.pending >= w.max_pending) {
      w.launch_timer.expires_after(std::chrono::seconds(1));
      auto op = w.launch_timer.async_wait(kTuple);
      co_await std::move(op);
    }
    ++w.pending;
    asio::co_spawn(w.ctx, run_conn(c), asio::detached);
  }
}

void close_all(Worker& w) {
  for (auto& c : w.conns) {
    boost::system::error_code ec;
    if (c.logged_in && !c.closed) {
      auto d = disconnect_packet();
      asio::write(c.sock, asio::buffer(d.data(), d.size()), ec);
    }
    c.closed = true;
    c.timer.cancel();
    c.sock.shutdown(tcp::socket::shutdown_both, ec);
    c.sock.close(ec);
  }
  w.launch_timer.cancel();
}

}  // namespace lg
