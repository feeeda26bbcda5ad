"""Limits (SPEC 9): connections past the maximum are refused, an oversized packet closes its
connection, and a subscriber that does not read loses QoS 0 messages past its queue limit, is
disconnected if it stays over it, and costs the server bounded memory, while publishers and the
other subscribers go on unaffected."""

import json
import socket
import unittest

from harness import (CONNACK, PUBLISH, ConnectionClosed, NoPacket, PahoClient, RawClient,
                     ServerTestCase, check_record, encode_connect, unique, wait_for)

MAX_CONNECTIONS = 5


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc status")


class ConfiguredTestCase(ServerTestCase):
    """A server started with --config: a file holding `limits` (the keys under "limits")."""

    limits: dict = {}

    @classmethod
    def setUpClass(cls):
        cls.server_config = {"limits": cls.limits}
        super().setUpClass()


class MaxConnectionsTest(ServerTestCase):
    server_args = ["--max-connections", str(MAX_CONNECTIONS)]

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.dev = cls.server.make_prototype(cls.acct["email"], "limits")

    def login(self) -> RawClient:
        return self.raw_connected(self.dev["id"], self.dev["auth"], client_id=unique("c"))

    def test_connections_past_the_maximum_are_refused(self):
        held = [self.login() for _ in range(MAX_CONNECTIONS)]
        offset = self.server.log_size()
        extra = self.raw()
        # Refused at accept: closed without a CONNACK, whatever the client sends.
        try:
            extra.send(encode_connect(unique("extra"), username=self.dev["id"],
                                      password=self.dev["auth"]))
        except ConnectionClosed:
            pass
        with self.assertRaises(ConnectionClosed):
            extra.read_packet(5)
        self.assertIn("limit of 5 connections reached (max_connections)",
                      self.server.log_text(offset))
        # Those already in are unaffected.
        for c in held:
            c.ping()
        # A slot that frees up can be used again.
        held.pop().disconnect()

        def login_again():
            c = RawClient(self.port)
            try:
                if c.connect(unique("again"), username=self.dev["id"],
                             password=self.dev["auth"]) == 0:
                    return c
            except AssertionError:
                pass
            c.close()
            return None

        again = wait_for(login_again, what="a login once a connection has closed")
        self.addCleanup(again.close)
        again.ping()


class OversizedPacketTest(ServerTestCase):
    server_args = ["--max-packet-size", "1024"]

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.dev = cls.server.make_prototype(cls.acct["email"], "big")
        cls.watcher = cls.server.make_prototype(cls.acct["email"], "big-watcher")

    def test_an_oversized_publish_closes_that_connection_only(self):
        sub = self.subscriber(self.watcher["id"], self.watcher["auth"], "+/data/#")
        c = self.raw_connected(self.dev["id"], self.dev["auth"])
        offset = self.server.log_size()
        c.publish(f"{self.dev['id']}/data/big", json.dumps("x" * 2000).encode())
        c.wait_closed(5)
        self.assertIn("packet larger than max_packet_size (1024 bytes)",
                      self.server.log_text(offset))
        # A packet within the limit from a new connection is stored and delivered.
        ok = self.raw_connected(self.dev["id"], self.dev["auth"])
        value = "y" * 500
        ok.publish(f"{self.dev['id']}/data/big", json.dumps(value).encode(), qos=1, mid=7)
        ok.expect(4)  # PUBACK
        msg = sub.messages.wait(lambda m: value in m.text, what="the packet within the limit")
        check_record(self, msg, data=value)
        self.assertTrue(sub.is_connected())


class StuckSubscriber:
    """Subscribes to every data channel and then never reads its socket."""

    def __init__(self, port, dev):
        self.client = RawClient(port)
        rc = self.client.connect(unique("stuck"), username=dev["id"], password=dev["auth"])
        assert rc == 0, f"CONNACK {rc}"
        assert self.client.subscribe([("+/data/#", 0)]) == [0]

    def drained_to_eof(self, timeout) -> bool:
        """Reads everything the server had sent; True if the connection then ends."""
        try:
            while True:
                self.client.read_packet(timeout)
        except ConnectionClosed:
            return True
        except NoPacket:
            return False

    def close(self):
        self.client.close()


class BoundedQueueTest(ConfiguredTestCase):
    """A subscriber stuck for longer than a big publish: its queue stays at its limit, the
    server's memory does not follow what is published, nobody else is slowed."""

    QUEUE_BYTES = 8 * 1024 * 1024  # the default
    PAYLOAD = 64 * 1024
    MESSAGES = 1000  # 64 MiB per phase
    RSS_GROWTH_BOUND = 32 * 1024 * 1024  # the queue (8 MiB) plus allocator slack

    limits = {"queue_max_messages": 100000, "queue_max_bytes": QUEUE_BYTES,
              "slow_subscriber_timeout_s": 3600}

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.pub_dev = cls.server.make_prototype(cls.acct["email"], "fast-pub")
        cls.reader_dev = cls.server.make_prototype(cls.acct["email"], "reader")
        cls.stuck_dev = cls.server.make_prototype(cls.acct["email"], "stuck")

    def publish_phase(self, pub, reader, tag):
        topic = f"{self.pub_dev['id']}/data/bulk"
        start = reader.messages.count()
        body = "z" * (self.PAYLOAD - 64)
        peak = 0
        for i in range(self.MESSAGES):
            pub.publish(topic, json.dumps(f"{tag}-{i}-{body}"), qos=1 if i % 50 == 49 else 0)
            if i % 50 == 49:
                # Closed loop on the reading subscriber: it is never more than 50 messages
                # (3.2 MiB) behind, so its own queue never fills, however slow this client is.
                reader.messages.wait(lambda m: f'"{tag}-{i}-'.encode() in m.payload,
                                     timeout=30, what=f"message {i} of phase {tag}",
                                     start=start)
                peak = max(peak, rss_bytes(self.server.proc.pid))
        reader.messages.wait(lambda m: f"{tag}-{self.MESSAGES - 1}-".encode() in m.payload,
                             timeout=60, what=f"the last message of phase {tag}", start=start)
        got = len(reader.messages.matching(lambda m: m.payload.startswith(
            b'{"id"') and f'"{tag}-'.encode() in m.payload))
        self.assertEqual(got, self.MESSAGES, f"the reading subscriber lost messages in {tag}")
        return max(peak, rss_bytes(self.server.proc.pid))

    def test_non_reading_subscriber_costs_bounded_memory(self):
        pub = self.paho_dev(self.pub_dev)
        reader = PahoClient(self.port, self.reader_dev["id"], self.reader_dev["auth"])
        self.addCleanup(reader.close)
        self.assertEqual(reader.connect(), 0)
        reader.subscribe("+/data/#")

        # Warm up: the store's page cache and the allocator reach their working size.
        warm_peak = self.publish_phase(pub, reader, "warm")
        offset = self.server.log_size()
        stuck = StuckSubscriber(self.port, self.stuck_dev)
        self.addCleanup(stuck.close)
        stuck_peak = self.publish_phase(pub, reader, "stuck")

        log = self.server.log_text(offset)
        self.assertIn("outgoing queue full", log)
        growth = stuck_peak - warm_peak
        self.assertLess(growth, self.RSS_GROWTH_BOUND,
                        f"RSS grew by {growth / 2**20:.1f} MiB while {self.MESSAGES} messages of "
                        f"{self.PAYLOAD} bytes were published to a subscriber that never reads "
                        f"(warm peak {warm_peak / 2**20:.1f} MiB)")
        # Not yet over its time limit: still connected, with messages waiting.
        self.assertNotIn("slow_subscriber_timeout", log)
        self.assertTrue(self.server.alive())


class PausedSubscriberTest(ServerTestCase):
    """A subscriber that stops reading for a while and then reads on gets every message whole
    and in order: packets the socket took only in part are finished before the next one."""

    PAYLOAD = 20001  # odd-sized, so that a full socket cuts a packet rather than between two
    MESSAGES = 300   # 6 MB: more than the socket buffers take (4 MiB to send, 64 KiB to receive)

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.pub_dev = cls.server.make_prototype(cls.acct["email"], "pub")
        cls.sub_dev = cls.server.make_prototype(cls.acct["email"], "paused")

    def test_paused_subscriber_reads_every_message_whole_and_in_order(self):
        sub = self.raw_connected(self.sub_dev["id"], self.sub_dev["auth"])
        # A fixed receive buffer: the kernel does not grow it for a reader that does not read.
        sub.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        self.assertEqual(sub.subscribe([("+/data/seq", 0)]), [0])
        pub = self.paho_dev(self.pub_dev)
        topic = f"{self.pub_dev['id']}/data/seq"
        offset = self.server.log_size()
        values = [f"{i:05d}-" + "abcdefghij"[i % 10] * (self.PAYLOAD - 8) for i in range(
            self.MESSAGES)]
        for i, value in enumerate(values):
            # The last one at QoS 1: its PUBACK means every message before it was routed.
            pub.publish(topic, json.dumps(value), qos=1 if i == self.MESSAGES - 1 else 0)

        got = []
        while len(got) < self.MESSAGES:
            try:
                p = sub.read_packet(timeout=30)
            except (NoPacket, ConnectionClosed) as e:
                self.fail(f"after {len(got)} of {self.MESSAGES} messages: {e!r}")
            self.assertEqual(p.type, PUBLISH, f"after {len(got)} messages: {p.raw[:32]!r}")
            try:
                t, payload = p.publish_topic_payload()
                got.append(json.loads(payload)["data"])
            except (UnicodeDecodeError, ValueError, KeyError) as e:
                self.fail(f"message {len(got)} damaged: {e!r}: {p.raw[:64]!r}")
            self.assertEqual(t, topic)
        for i, (have, want) in enumerate(zip(got, values)):
            self.assertEqual(have[:6], want[:6], f"message {i} out of order")
            self.assertEqual(have, want, f"message {i} damaged")
        self.assertNotIn("outgoing queue full", self.server.log_text(offset))


class SlowSubscriberTest(ConfiguredTestCase):
    """A subscriber that stays over its queue limit is disconnected; the publisher goes on."""

    limits = {"queue_max_messages": 50, "queue_max_bytes": 1024 * 1024,
              "slow_subscriber_timeout_s": 1}

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.pub_dev = cls.server.make_prototype(cls.acct["email"], "pub")
        cls.reader_dev = cls.server.make_prototype(cls.acct["email"], "reader")
        cls.stuck_dev = cls.server.make_prototype(cls.acct["email"], "stuck")

    def test_stuck_subscriber_is_cut_off_and_the_publisher_goes_on(self):
        pub = self.paho_dev(self.pub_dev)
        reader = PahoClient(self.port, self.reader_dev["id"], self.reader_dev["auth"])
        self.addCleanup(reader.close)
        self.assertEqual(reader.connect(), 0)
        reader.subscribe("+/data/#")
        offset = self.server.log_size()
        stuck = StuckSubscriber(self.port, self.stuck_dev)
        self.addCleanup(stuck.close)

        topic = f"{self.pub_dev['id']}/data/steady"
        body = "w" * 2000
        sent = 0

        def cut_off():
            nonlocal sent
            for _ in range(20):
                pub.publish(topic, json.dumps(f"{sent}-{body}"), qos=1)
                sent += 1
            return "disconnecting (slow_subscriber_timeout)" in self.server.log_text(offset)

        wait_for(cut_off, timeout=30, what="the stuck subscriber's disconnection")
        log = self.server.log_text(offset)
        self.assertRegex(log, r"outgoing queue over its limit for 1000 ms, \d+ messages dropped")
        self.assertTrue(stuck.drained_to_eof(10), "the stuck subscriber's connection stayed open")

        # The publisher was never held back and the reading subscriber got every message.
        for _ in range(20):
            pub.publish(topic, json.dumps(f"{sent}-{body}"), qos=1)
            sent += 1
        reader.messages.wait(lambda m: f'"{sent - 1}-'.encode() in m.payload,
                             what="the last message")
        got = len(reader.messages.matching(lambda m: m.topic == topic))
        self.assertEqual(got, sent)
        self.assertTrue(pub.is_connected())


if __name__ == "__main__":
    unittest.main()


class LoginStormTest(ConfiguredTestCase):
    """The pre-CONNECT deadline is for the CONNECT packet, not for checking it: account
    passwords are a deliberately slow hash, and a burst of account logins queues behind each
    other for longer than the deadline."""

    LOGINS = 100  # about 30 ms of PBKDF2 each here: 3 s of checking against a 1 s deadline

    limits = {"connect_timeout_s": 1}

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()

    def test_queued_logins_are_not_cut_by_the_deadline(self):
        clients = [self.raw() for _ in range(self.LOGINS)]
        for c in clients:
            c.send(encode_connect(unique("storm"), username=self.acct["email"],
                                  password=self.acct["password"]))
        codes = []
        for c in clients:
            p = c.read_packet(60)
            self.assertEqual(p.type, CONNACK)
            codes.append(p.body[1])
        self.assertEqual(codes, [0] * self.LOGINS)
        self.assertNotIn("no CONNECT within", self.server.log_text(self._log_offset))
