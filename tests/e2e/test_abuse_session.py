"""One MQTT session cannot hold up the others (SPEC 9): a device flooding SUBSCRIBEs gets its
SUBACKs (0x80 past limits.max_subscriptions) while a bystander on the same network thread keeps
its round trips short, and the server goes back to idle once it leaves; a subscriber that stays
over its queue limit is disconnected after slow_subscriber_timeout_s even when nothing more is
published; a connection that trickles its CONNECT is closed at connect_timeout_s from accept; and
before its CONNECT a connection cannot make the server buffer more than a CONNECT can need."""

import json
import os
import select
import socket
import struct
import threading
import time
import unittest

from harness import (CONNACK, PUBLISH, SUBACK, UNSUBACK, ConnectionClosed, RawClient,
                     ServerTestCase, enc_varint, encode_connect, encode_subscribe,
                     encode_unsubscribe, unique, wait_for)
from test_limits import ConfiguredTestCase, rss_bytes

MAX_SUBSCRIPTIONS = 1000  # the default of limits.max_subscriptions
# The largest CONNECT remaining length MQTT 3.1.1 allows: protocol name "MQTT" (6 bytes), level,
# flags, keep alive (4), and five length-prefixed fields of at most 65,535 bytes each.
MAX_CONNECT_REMAINING = 10 + 5 * (2 + 65535)


def cpu_ticks(pid: int) -> int:
    """The process's user + system time, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)


class CpuIdle:
    """A wait_for predicate: true once the process used under `share` of one core since the
    previous call at least `window` seconds earlier."""

    def __init__(self, pid: int, share: float = 0.05, window: float = 0.5):
        self.pid, self.share, self.window = pid, share, window
        self.hz = os.sysconf("SC_CLK_TCK")
        self.last = (time.monotonic(), cpu_ticks(pid))
        self.rate = None

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self.last[0] < self.window:
            return False
        ticks = cpu_ticks(self.pid)
        self.rate = (ticks - self.last[1]) / self.hz / (now - self.last[0])
        self.last = (now, ticks)
        return self.rate < self.share


def under_asan(pid: int) -> bool:
    """Whether the process runs with AddressSanitizer, whose allocator keeps what is freed."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def percentile(values, p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


class Bystander(threading.Thread):
    """A logged-in session that does PINGREQ/PINGRESP round trips until stopped, timing each."""

    def __init__(self, client: RawClient):
        super().__init__(daemon=True)
        self.client = client
        self.rtts = []
        self.error = None
        self.waiting_since = None  # the PINGREQ in flight, if any
        self.stopping = threading.Event()

    def run(self):
        try:
            while not self.stopping.is_set():
                self.waiting_since = start = time.monotonic()
                self.client.ping(timeout=60)
                self.rtts.append(time.monotonic() - start)
                self.waiting_since = None
        except BaseException as e:  # reported by the test
            self.error = e

    def worst(self) -> float:
        """The longest round trip so far, counting one still waiting for its PINGRESP."""
        since = self.waiting_since
        pending = time.monotonic() - since if since is not None else 0.0
        return max(max(self.rtts, default=0.0), pending)

    def stop(self):
        self.stopping.set()
        self.join(70)


class SubscribeFloodTest(ServerTestCase):
    """One network thread, so that the flooding device and the bystander share it."""

    server_args = ["--io-threads", "1"]
    FILTERS = 20000  # per SUBSCRIBE
    PACKETS = 8
    RTT_BOUND = 5.0  # a sanity bound: a round trip stuck behind a whole flood takes longer

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.flooder = cls.server.make_prototype(cls.acct["email"], "flooder")
        cls.quiet = cls.server.make_prototype(cls.acct["email"], "bystander")

    def subscribes(self, tag: str):
        return [encode_subscribe(n + 1, [(f"+/data/{tag}{n}/{i:05d}", 0)
                                         for i in range(self.FILTERS)])
                for n in range(self.PACKETS)]

    def send_in_background(self, client: RawClient, packets) -> threading.Thread:
        def send():
            try:
                for p in packets:
                    client.send(p)
            except ConnectionClosed:
                pass  # the test reports what it reads
        t = threading.Thread(target=send, daemon=True)
        t.start()
        self.addCleanup(t.join, 30)
        return t

    def test_subscribe_flood_is_answered_and_does_not_hold_up_others(self):
        bystander = Bystander(self.raw_connected(self.quiet["id"], self.quiet["auth"]))
        bystander.start()
        self.addCleanup(bystander.stop)
        wait_for(lambda: bystander.rtts, what="a first bystander round trip")
        flooder = self.raw_connected(self.flooder["id"], self.flooder["auth"])
        started = time.monotonic()
        self.send_in_background(flooder, self.subscribes("a"))
        subacks = [flooder.expect(SUBACK, timeout=60) for _ in range(self.PACKETS)]
        took = time.monotonic() - started
        bystander.stop()
        print(f"\n{self.PACKETS} SUBSCRIBEs of {self.FILTERS} filters answered in {took:.2f} s; "
              f"bystander: {len(bystander.rtts)} round trips, "
              f"max {bystander.worst() * 1000:.1f} ms, "
              f"p99 {percentile(bystander.rtts, 0.99) * 1000:.1f} ms, "
              f"median {percentile(bystander.rtts, 0.5) * 1000:.2f} ms")
        self.assertIsNone(bystander.error)
        self.assertLess(bystander.worst(), self.RTT_BOUND, "a bystander round trip")

        granted = 0
        for n, p in enumerate(subacks):
            self.assertEqual(struct.unpack("!H", p.body[:2])[0], n + 1)
            codes = list(p.body[2:])
            self.assertEqual(len(codes), self.FILTERS)
            ok = codes.count(0)
            self.assertEqual(codes, [0] * ok + [0x80] * (self.FILTERS - ok),
                             "granted filters first, then 0x80 for each past the limit")
            granted += ok
        self.assertEqual(granted, MAX_SUBSCRIPTIONS)
        # The session still works: its own round trip.
        flooder.ping()

    def test_the_server_goes_idle_once_a_flooding_client_leaves(self):
        flooder = self.raw_connected(self.flooder["id"], self.flooder["auth"])
        # One SUBSCRIBE as large as max_packet_size allows: 100,000 filters of 7 bytes.
        big = encode_subscribe(1, [(f"c/{i:05d}", 0) for i in range(100000)])
        self.assertLessEqual(len(big), 1024 * 1024 + 4)
        flooder.send(big)
        # Leaves at once, without reading its SUBACK: what the server had received before the
        # FIN is still its to read.
        flooder.close()
        left = time.monotonic()
        idle = CpuIdle(self.server.proc.pid)
        wait_for(idle, timeout=5, what="the server's CPU use to drop below 5% of a core",
                 interval=0.1)
        print(f"\nidle (under {idle.share:.0%} of a core) {time.monotonic() - left:.1f} s after "
              f"a client left 100,000 filters in one SUBSCRIBE")
        # And it answers at once.
        self.raw_connected(self.quiet["id"], self.quiet["auth"]).ping(timeout=2)


class SubscriptionLimitTest(ServerTestCase):
    """limits.max_subscriptions counts the filters a session holds (--max-subscriptions 3)."""

    server_args = ["--max-subscriptions", "3"]

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.pub = cls.server.make_prototype(cls.acct["email"], "pub")
        cls.sub = cls.server.make_prototype(cls.acct["email"], "sub")

    def test_filters_past_the_limit_get_0x80_and_a_freed_place_is_taken_again(self):
        c = self.raw_connected(self.sub["id"], self.sub["auth"])
        f = [f"+/data/f{k}" for k in range(7)]
        # An invalid filter takes no place.
        self.assertEqual(c.subscribe([(f[1], 0), (f[2], 0), ("a/#/b", 0), (f[3], 0), (f[4], 0)]),
                         [0, 0, 0x80, 0, 0x80])
        # One held already is granted again past the limit; a new one is not.
        self.assertEqual(c.subscribe([(f[2], 0), (f[5], 0)], mid=2), [0, 0x80])
        # UNSUBSCRIBE frees a place (a filter not held frees none).
        c.send(encode_unsubscribe(3, [f[1], f[6]]))
        c.expect(UNSUBACK)
        self.assertEqual(c.subscribe([(f[5], 0), (f[6], 0)], mid=4), [0, 0x80])
        self.assertEqual(self.server.log_text(self._log_offset).count("(max_subscriptions)"), 1)

        # Messages follow what is held: f1 and f6 get nothing, f5 does.
        pub = self.paho_dev(self.pub)
        for k in (1, 6, 5):
            pub.publish(f"{self.pub['id']}/data/f{k}", json.dumps(k), qos=1)
        p = c.expect(PUBLISH)
        self.assertEqual(p.publish_topic_payload()[0], f"{self.pub['id']}/data/f5",
                         "the first message delivered is the one on a held filter")


class StuckSubscriberTimerTest(ConfiguredTestCase):
    """Subscribers that never read, each put over its queue limit by one short flood of its own
    messages, after which nothing is published: they are disconnected by
    slow_subscriber_timeout_s all the same, and the memory their queues held is given back."""

    TIMEOUT_S = 2
    STUCK = 4
    QUEUE_BYTES = 8 * 1024 * 1024
    PAYLOAD = 64 * 1024
    MESSAGES = 250  # 16 MiB per subscriber: more than its queue and the socket buffers take
    limits = {"queue_max_messages": 100000, "queue_max_bytes": QUEUE_BYTES,
              "slow_subscriber_timeout_s": TIMEOUT_S}

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.pub_dev = cls.server.make_prototype(cls.acct["email"], "pub")
        cls.stuck_dev = cls.server.make_prototype(cls.acct["email"], "stuck")

    def stuck_subscriber(self, topic: str) -> RawClient:
        """Subscribes to `topic` and then never reads its socket."""
        c = self.raw_connected(self.stuck_dev["id"], self.stuck_dev["auth"],
                               client_id=unique("stuck"))
        # A fixed receive buffer: the kernel does not grow it for a reader that does not read.
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        self.assertEqual(c.subscribe([(topic, 0)]), [0])
        return c

    def flood(self, pub, topic: str):
        body = "s" * (self.PAYLOAD - 64)
        for i in range(self.MESSAGES):
            # The last one at QoS 1: its PUBACK means every message before it was routed.
            pub.publish(topic, json.dumps(f"{i}-{body}"), qos=1 if i == self.MESSAGES - 1 else 0)

    def test_stuck_subscribers_are_cut_off_with_no_further_traffic(self):
        pub = self.paho_dev(self.pub_dev)
        topics = [f"{self.pub_dev['id']}/data/s{k}" for k in range(self.STUCK)]
        self.flood(pub, topics[0])  # warm-up: the store and the allocator reach their working size
        base = rss_bytes(self.server.proc.pid)
        offset = self.server.log_size()
        stuck = [self.stuck_subscriber(t) for t in topics]
        for t in topics:
            self.flood(pub, t)
        flooded = time.monotonic()
        peak = rss_bytes(self.server.proc.pid)
        self.assertEqual(self.server.log_text(offset).count("outgoing queue full"), self.STUCK)

        # Nothing more is published.
        wait_for(lambda: self.server.log_text(offset).count(
            "disconnecting (slow_subscriber_timeout)") == self.STUCK,
                 timeout=self.TIMEOUT_S + 3, what="the stuck subscribers' disconnection")
        cut = time.monotonic() - flooded
        for c in stuck:
            c.wait_closed(10)
        held = self.STUCK * self.QUEUE_BYTES
        self.assertGreater(peak - base, held / 2, "the queues held what they were given")
        if under_asan(self.server.proc.pid):
            return  # its allocator quarantines freed memory: the RSS says nothing here
        after = wait_for(lambda: (lambda r: r if r < peak - held / 2 else None)(
            rss_bytes(self.server.proc.pid)), timeout=10,
            what="the server's RSS to give back at least half of what the queues held")
        print(f"\n{self.STUCK} stuck subscribers cut {cut:.1f} s after the flood "
              f"(timeout {self.TIMEOUT_S} s); RSS {base / 2**20:.1f} MiB before, "
              f"{peak / 2**20:.1f} MiB after the flood, {after / 2**20:.1f} MiB after the cut")


class TrickledConnectTest(ConfiguredTestCase):
    """Connections that send their CONNECT one byte every half second, all at once (so that many
    wait for the network threads' login places together): each is closed at connect_timeout_s
    from its accept."""

    TIMEOUT_S = 2
    CONNECTIONS = 200
    MARGIN_S = 1.5
    limits = {"connect_timeout_s": TIMEOUT_S}

    def test_trickled_connects_are_closed_at_the_deadline(self):
        connect = encode_connect(unique("trickle") + "x" * 64, username="nobody",
                                 password="nothing")
        socks, opened, closed_after, sent = [], [], {}, {}
        for _ in range(self.CONNECTIONS):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            self.addCleanup(s.close)
            s.setblocking(False)
            socks.append(s)
            opened.append(time.monotonic())
            sent[s] = 0
        give_up = time.monotonic() + self.TIMEOUT_S + 3 * self.MARGIN_S
        next_byte = time.monotonic()
        while len(closed_after) < len(socks) and time.monotonic() < give_up:
            now = time.monotonic()
            if now >= next_byte:
                for s in socks:
                    if s in closed_after or sent[s] >= len(connect):
                        continue
                    try:
                        sent[s] += s.send(connect[sent[s]:sent[s] + 1])
                    except OSError:
                        pass  # closed: seen by recv below
                next_byte = now + 0.5
            ready, _, _ = select.select([s for s in socks if s not in closed_after], [], [],
                                        max(0.0, min(next_byte, give_up) - time.monotonic()))
            for s in ready:
                try:
                    data = s.recv(64)
                except (ConnectionResetError, BrokenPipeError):
                    data = b""
                except BlockingIOError:
                    continue
                if not data:
                    closed_after[s] = time.monotonic() - opened[socks.index(s)]
        still_open = len(socks) - len(closed_after)
        times = sorted(closed_after.values())
        if times:
            print(f"\n{len(times)} of {len(socks)} trickling connections closed, "
                  f"{times[0]:.2f} to {times[-1]:.2f} s after accept (deadline {self.TIMEOUT_S} s)")
        self.assertEqual(still_open, 0, f"{still_open} connections still open "
                         f"{self.TIMEOUT_S + 3 * self.MARGIN_S:.1f} s after the last accept")
        self.assertLess(times[-1], self.TIMEOUT_S + self.MARGIN_S)
        self.assertGreaterEqual(times[0], self.TIMEOUT_S - 0.2)
        self.assertTrue(all(n < len(connect) for n in sent.values()),
                        "the premise: no CONNECT is whole by the deadline")


class PreConnectBufferTest(ConfiguredTestCase):
    """Before its CONNECT, a connection may send at most what the largest CONNECT needs."""

    limits = {"connect_timeout_s": 60}

    def test_a_first_packet_larger_than_any_connect_closes_the_connection(self):
        c = self.raw()
        # A CONNECT header claiming 1 MiB (within max_packet_size), then its bytes.
        c.send(bytes([0x10]) + enc_varint(1024 * 1024 - 1))
        sent = 0
        chunk = b"\0" * 4096
        try:
            while sent < MAX_CONNECT_REMAINING + 64 * 1024:
                c.send(chunk)
                sent += len(chunk)
        except ConnectionClosed:
            pass
        c.wait_closed(5)

    def test_an_enrollment_session_may_send_no_more_than_one_filter_needs(self):
        c = self.raw()
        self.assertEqual(c.connect("enroller"), 0)  # no credentials: an enrollment session
        # A SUBSCRIBE header claiming 1 MiB: no enrollment SUBSCRIBE is larger than 65,540.
        c.send(bytes([0x82]) + enc_varint(1024 * 1024 - 1))
        try:
            for _ in range(32):
                c.send(b"\0" * 4096)
        except ConnectionClosed:
            pass
        c.wait_closed(5)

    def test_the_largest_connect_is_still_answered(self):
        c = self.raw()
        big = "u" * 65535
        c.send(encode_connect(big, username=big, password=big.encode(), will_topic=big,
                              will_payload=big.encode()))
        p = c.read_packet(10)
        self.assertEqual(p.type, CONNACK)
        self.assertEqual(p.body[1], 4, "bad credentials")


if __name__ == "__main__":
    unittest.main()
