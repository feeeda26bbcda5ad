"""Persistent sessions (SPEC 11, MQTT 3.1.1 sections 3.1.2.4, 3.2.2.2 and 4.4): CONNECT with clean
session 0 resumes the session of (login, client id) with CONNACK session present, clean session 1
discards it, a subscriber that was away gets every QoS 1/2 message it missed in order (across a
restart and a SIGKILL of the server too), what it may no longer read is not replayed, in-flight
messages go again with DUP and their packet ids, a takeover keeps the session, QoS 2 is not
duplicated, and publishing that goes on during a resume leaves no gap and no duplicate.

Raw-socket clients show the wire (session present, DUP, packet ids); paho and mosquitto_sub are
the real clients."""

import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import unittest
from typing import List, NamedTuple, Optional

import paho.mqtt.client as mqtt

from harness import (CONNACK, DEFAULT_TIMEOUT, HOST, NEGATIVE_WINDOW, PUBACK, PUBCOMP, PUBLISH,
                     PUBREC, FreshServerTestCase, NoPacket, RawClient, ServerTestCase,
                     encode_connect, encode_subscribe, packet, unique, wait_for)

MANY = 1000  # messages a subscriber misses while away


class Delivery(NamedTuple):
    topic: str
    payload: bytes
    qos: int
    dup: bool
    packet_id: Optional[int]

    def data(self):
        return json.loads(self.payload)["data"]


def parse_publish(p) -> Delivery:
    assert p.type == PUBLISH, f"expected a PUBLISH, got {p.raw[:16]!r}"
    qos = (p.flags >> 1) & 3
    n = struct.unpack("!H", p.body[:2])[0]
    topic = p.body[2:2 + n].decode()
    rest = p.body[2 + n:]
    packet_id = None
    if qos > 0:
        packet_id = struct.unpack("!H", rest[:2])[0]
        rest = rest[2:]
    return Delivery(topic, rest, qos, bool(p.flags & 0x08), packet_id)


def ack(kind: int, packet_id: int) -> bytes:
    """PUBACK (4), PUBREC (5), PUBREL (6) or PUBCOMP (7) for `packet_id`."""
    return packet((kind << 4) | (0x02 if kind == 6 else 0), struct.pack("!H", packet_id))


def raw_connect(client: RawClient, dev: dict, client_id: str, clean: bool) -> bool:
    """CONNECT as `dev`; asserts CONNACK 0 and returns its session-present flag."""
    client.send(encode_connect(client_id, dev["id"], dev["auth"], clean=clean))
    p = client.expect(CONNACK)
    assert p.body[1] == 0, f"CONNACK {p.body[1]}"
    assert p.body[0] in (0, 1), f"CONNACK flags {p.body[0]}"
    return p.body[0] == 1


class Persistent:
    """A paho client with clean session 0: keeps what it receives (paho acknowledges each)."""

    def __init__(self, port: int, dev: dict, client_id: str):
        self.port, self.dev, self.client_id = port, dev, client_id
        self.got: List[Delivery] = []
        self.lock = threading.Lock()
        self.client: Optional[mqtt.Client] = None
        self.present: Optional[bool] = None

    def connect(self, port: Optional[int] = None) -> bool:
        """Connects (to `port` after a restart) and returns CONNACK's session present."""
        self.port = port or self.port
        c = mqtt.Client(client_id=self.client_id, clean_session=False, protocol=mqtt.MQTTv311)
        c.username_pw_set(self.dev["id"], self.dev["auth"])
        flags = {}
        c.on_connect = lambda cl, u, f, rc: flags.update(f, rc=rc)
        c.on_message = self._on_message
        c.connect(HOST, self.port, 60)
        c.loop_start()
        self.client = c
        wait_for(lambda: "rc" in flags, what="CONNACK (paho)")
        assert flags["rc"] == 0, flags
        self.present = bool(flags["session present"])
        return self.present

    def _on_message(self, client, userdata, m):
        with self.lock:
            self.got.append(Delivery(m.topic, m.payload, m.qos, bool(m.dup), m.mid))

    def subscribe(self, topic: str, qos: int = 1):
        granted = []
        self.client.on_subscribe = lambda c, u, mid, g: granted.append(g)
        rc, _ = self.client.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        wait_for(lambda: granted, what="SUBACK")
        assert list(granted[0]) == [qos], granted

    def disconnect(self):
        self.client.disconnect()
        self.client.loop_stop()
        self.client = None

    def data(self) -> list:
        with self.lock:
            return [d.data() for d in self.got]

    def close(self):
        if self.client is not None:
            try:
                self.disconnect()
            except Exception:
                pass


class MosquittoSubQos1:
    """`mosquitto_sub -q 1 -c -i ID`: a persistent QoS 1 subscriber; .lines are the payloads'
    data values."""

    def __init__(self, tc: unittest.TestCase, port: int, dev: dict, client_id: str, topic: str):
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", HOST, "-p", str(port), "-u", dev["id"], "-P", dev["auth"],
             "-q", "1", "-c", "-i", client_id, "-t", topic],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        tc.addCleanup(self.stop)

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(json.loads(line)["data"])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # it disconnects
            self.proc.wait(10)
        self.reader.join(5)
        self.proc.stdout.close()


class SessionTestCase(unittest.TestCase):
    """Helpers shared by the shared-server and the fresh-server tests; subclasses set up
    self.pub_dev and self.sub_dev."""

    def topic(self, name: Optional[str] = None) -> str:
        return f"{self.pub_dev['id']}/data/{name or unique('s')}"

    def persistent(self, dev: Optional[dict] = None, client_id: Optional[str] = None) -> Persistent:
        p = Persistent(self.port, dev or self.sub_dev, client_id or unique("keep"))
        self.addCleanup(p.close)
        return p

    def publish_many(self, topic: str, values, qos: int = 1, port: Optional[int] = None):
        """Publishes each value as a record at `qos` from one paho client, many in flight, and
        waits for every acknowledgement."""
        c = mqtt.Client(client_id=unique("pub"), protocol=mqtt.MQTTv311)
        c.username_pw_set(self.pub_dev["id"], self.pub_dev["auth"])
        c.max_inflight_messages_set(100)
        c.max_queued_messages_set(0)
        c.connect(HOST, port or self.port, 60)
        c.loop_start()
        try:
            infos = [c.publish(topic, json.dumps(v), qos=qos) for v in values]
            for info in infos:
                info.wait_for_publish(30)
                assert info.is_published(), "a publish was not acknowledged"
        finally:
            c.disconnect()
            c.loop_stop()

    def raw_sub(self, client_id: str, clean: bool = False):
        c = RawClient(self.port)
        self.addCleanup(c.close)
        present = raw_connect(c, self.sub_dev, client_id, clean)
        return c, present

    def next_publish(self, c: RawClient, timeout: float = DEFAULT_TIMEOUT) -> Delivery:
        try:
            p = c.read_packet(timeout)
        except NoPacket:
            raise AssertionError(f"no PUBLISH within {timeout} s")
        return parse_publish(p)

    def assert_quiet(self, c: RawClient, duration: float = NEGATIVE_WINDOW):
        """Negative check: no packet within `duration` (a delivery on localhost takes ms)."""
        try:
            p = c.read_packet(duration)
        except NoPacket:
            return
        self.fail(f"unexpected packet {p.raw[:40]!r}")


class SharedServerSessions(ServerTestCase, SessionTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.pub_dev = cls.server.make_prototype(cls.acct["email"], "s-pub")
        cls.sub_dev = cls.server.make_prototype(cls.acct["email"], "s-sub")


class SessionPresentTest(SharedServerSessions):
    def test_MQTT_3_2_2_2_session_present(self):
        cid = unique("sp")
        c, present = self.raw_sub(cid)
        self.assertFalse(present, "a new session is not present")
        c.disconnect()
        c.wait_closed()
        c2, present = self.raw_sub(cid)
        self.assertTrue(present, "the stored session is resumed")
        c2.disconnect()
        c2.wait_closed()
        # Another client id of the same device is another session.
        c3, present = self.raw_sub(unique("sp"))
        self.assertFalse(present)

    def test_MQTT_3_1_2_6_clean_session_discards(self):
        cid = unique("cs")
        t = self.topic()
        c, _ = self.raw_sub(cid)
        self.assertEqual(c.subscribe([(t, 1)]), [1])
        c.disconnect()
        c.wait_closed()
        # Clean session 1: session present 0 [MQTT-3.2.2-1], and the stored session goes.
        c2, present = self.raw_sub(cid, clean=True)
        self.assertFalse(present)
        c2.disconnect()
        c2.wait_closed()
        c3, present = self.raw_sub(cid)
        self.assertFalse(present, "the session was discarded")
        self.publish_many(t, ["not subscribed"])
        self.assert_quiet(c3)

    def test_missed_qos1_messages_arrive_in_order_paho(self):
        t = self.topic()
        sub = self.persistent()
        self.assertFalse(sub.connect())
        sub.subscribe(t, 1)
        sub.disconnect()
        self.publish_many(t, range(MANY))
        self.assertTrue(sub.connect())
        wait_for(lambda: len(sub.got) >= MANY, 30, f"{MANY} missed messages")
        self.assertEqual(sub.data(), list(range(MANY)))
        self.assertTrue(all(d.qos == 1 for d in sub.got))
        # Then live ones, after them.
        self.publish_many(t, ["live"])
        wait_for(lambda: len(sub.got) == MANY + 1, what="the live message")
        self.assertEqual(sub.data()[-1], "live")

    def test_missed_qos1_messages_arrive_in_order_mosquitto_sub(self):
        t = self.topic()
        cid = unique("msub")
        first = MosquittoSubQos1(self, self.port, self.sub_dev, cid, t)
        # Subscribed once a probe sent now reaches it.
        for n in range(50):
            self.publish_many(t, [f"probe {n}"])
            try:
                wait_for(lambda: first.lines, 0.2, "a probe")
                break
            except AssertionError:
                continue
        else:
            self.fail("mosquitto_sub did not subscribe")
        first.stop()
        self.publish_many(t, range(MANY))
        second = MosquittoSubQos1(self, self.port, self.sub_dev, cid, t)
        numbers = lambda: [v for v in second.lines if isinstance(v, int)]
        wait_for(lambda: len(numbers()) >= MANY, 30, f"{MANY} missed messages")
        self.assertEqual(numbers(), list(range(MANY)))

    def test_no_records_it_may_no_longer_read(self):
        reader = self.server.make_prototype(self.acct["email"], unique("reader"))
        self.server.cli("device", "set", reader["id"], "--perm",
                        json.dumps({"of": {"r": [self.pub_dev["id"]]}}))
        t = self.topic()
        sub = self.persistent(reader)
        sub.connect()
        sub.subscribe(t, 1)
        self.publish_many(t, ["readable"])
        wait_for(lambda: sub.data() == ["readable"], what="the first message")
        sub.disconnect()
        self.server.cli("device", "set", reader["id"], "--perm", json.dumps({"of": {"r": []}}))
        self.publish_many(t, [f"hidden {i}" for i in range(20)])
        self.assertTrue(sub.connect())
        time.sleep(NEGATIVE_WINDOW)  # negative check: a replay on localhost takes ms
        self.assertEqual(sub.data(), ["readable"])

    def test_MQTT_4_4_0_1_resend_unacked_with_dup(self):
        cid = unique("dup")
        t = self.topic()
        c, _ = self.raw_sub(cid)
        self.assertEqual(c.subscribe([(t, 1)]), [1])
        self.publish_many(t, ["a", "b", "c"])
        first = [self.next_publish(c) for _ in range(3)]
        self.assertEqual([d.data() for d in first], ["a", "b", "c"])
        self.assertFalse(any(d.dup for d in first))
        c.close()  # no PUBACK, no DISCONNECT
        c2 = RawClient(self.port)
        self.addCleanup(c2.close)
        # The old connection may still be ending: its save comes first, then this CONNACK.
        self.assertTrue(raw_connect(c2, self.sub_dev, cid, clean=False))
        again = [self.next_publish(c2) for _ in range(3)]
        self.assertEqual([(d.data(), d.packet_id) for d in again],
                         [(d.data(), d.packet_id) for d in first])
        self.assertTrue(all(d.dup and d.qos == 1 for d in again))
        for d in again:
            c2.send(ack(PUBACK, d.packet_id))
        self.assert_quiet(c2)

    def test_saved_when_keep_alive_ends_it(self):
        cid = unique("ka")
        t = self.topic()
        c = RawClient(self.port)
        self.addCleanup(c.close)
        c.send(encode_connect(cid, self.sub_dev["id"], self.sub_dev["auth"], clean=False,
                              keepalive=1))
        c.expect(CONNACK)
        self.assertEqual(c.subscribe([(t, 1)]), [1])
        c.wait_closed(5)  # silent for 1.5 x its keep alive [MQTT-3.1.2-24]
        self.publish_many(t, ["while away"])
        c2, present = self.raw_sub(cid)
        self.assertTrue(present)
        d = self.next_publish(c2)
        self.assertEqual((d.data(), d.qos, d.dup), ("while away", 1, False))
        c2.send(ack(PUBACK, d.packet_id))

    def test_takeover_keeps_the_session(self):
        cid = unique("take")
        t = self.topic()
        c, _ = self.raw_sub(cid)
        self.assertEqual(c.subscribe([(t, 1)]), [1])
        # The same client id again, while the first is connected [MQTT-3.1.4-2].
        c2, present = self.raw_sub(cid)
        self.assertTrue(present)
        c.wait_closed()
        self.publish_many(t, ["after takeover"])
        d = self.next_publish(c2)
        self.assertEqual((d.data(), d.qos, d.dup), ("after takeover", 1, False))
        c2.send(ack(PUBACK, d.packet_id))

    def test_qos2_persistent_no_duplicate(self):
        cid = unique("q2")
        t = self.topic()
        c, _ = self.raw_sub(cid)
        self.assertEqual(c.subscribe([(t, 2)]), [2])
        self.publish_many(t, ["released", "received"], qos=2)
        released, received = self.next_publish(c), self.next_publish(c)
        # The first: PUBREC, and its PUBREL comes; the second: nothing yet. Then away.
        c.send(ack(PUBREC, released.packet_id))
        rel = c.expect(6)
        self.assertEqual(rel.body, struct.pack("!H", released.packet_id))
        c.close()
        c2 = RawClient(self.port)
        self.addCleanup(c2.close)
        self.assertTrue(raw_connect(c2, self.sub_dev, cid, clean=False))
        # The PUBREL again for the first (never its PUBLISH) [MQTT-4.3.3-1], the second's PUBLISH
        # again with DUP, in the order they were sent.
        p = c2.read_packet()
        self.assertEqual((p.type, p.body), (6, struct.pack("!H", released.packet_id)))
        c2.send(ack(PUBCOMP, released.packet_id))
        d = self.next_publish(c2)
        self.assertEqual((d.data(), d.packet_id, d.dup, d.qos),
                         ("received", received.packet_id, True, 2))
        c2.send(ack(PUBREC, d.packet_id))
        c2.expect(6)
        c2.send(ack(PUBCOMP, d.packet_id))
        self.assert_quiet(c2)
        c2.disconnect()
        c2.wait_closed()
        c3 = RawClient(self.port)
        self.addCleanup(c3.close)
        self.assertTrue(raw_connect(c3, self.sub_dev, cid, clean=False))
        self.assert_quiet(c3)

    def test_no_gap_no_duplicate_while_publishing_goes_on(self):
        t = self.topic()
        sub = self.persistent()
        sub.connect()
        sub.subscribe(t, 1)
        total = 3000
        done = threading.Event()

        def publisher():
            try:
                for start in range(0, total, 100):
                    self.publish_many(t, range(start, start + 100))
            finally:
                done.set()

        thread = threading.Thread(target=publisher, daemon=True)
        thread.start()
        # Away and back, again and again, while records keep coming.
        while not done.is_set():
            time.sleep(0.05)
            sub.disconnect()
            time.sleep(0.05)
            self.assertTrue(sub.connect())
        thread.join()

        def firsts():
            seen, out = set(), []
            with sub.lock:
                got = list(sub.got)
            for d in got:
                v = d.data()
                if v in seen:
                    # Only a message the client did not acknowledge before it left comes again,
                    # and then with DUP [MQTT-4.4.0-1].
                    self.assertTrue(d.dup, f"{v} delivered twice without DUP")
                    continue
                seen.add(v)
                out.append(v)
            return out

        wait_for(lambda: len(firsts()) >= total, 30, f"{total} messages")
        self.assertEqual(firsts(), list(range(total)))
        dups = sum(1 for d in sub.got if d.dup)
        self.assertLess(dups, total // 10, "resent only what was in flight at each reconnect")


class SessionCliTest(SharedServerSessions):
    """`plugmq session list` and `plugmq session delete` on the data dir of the running server."""

    def sessions(self, *extra):
        return {(s["id"], s["client_id"]): s for s in self.server.cli("session", "list", *extra)}

    def test_list_shows_subscriptions_online_and_waiting(self):
        cid = unique("cli")
        t = self.topic()
        c, _ = self.raw_sub(cid)
        self.assertEqual(c.subscribe([(t, 1), (self.topic(), 0)]), [1, 0])
        key = (self.sub_dev["id"], cid)
        online = wait_for(lambda: self.sessions().get(key, {}).get("online") and
                          len(self.sessions()[key]["subscriptions"]) == 2 and self.sessions()[key],
                          what="the session listed online with its subscriptions")
        self.assertEqual(online["account"], self.acct["id"])
        self.assertIn({"filter": t, "qos": 1}, online["subscriptions"])
        self.assertEqual(online["waiting"], 0)
        c.disconnect()
        c.wait_closed()
        self.publish_many(t, range(5))
        offline = wait_for(lambda: not self.sessions()[key]["online"] and self.sessions()[key],
                           what="the session listed offline")
        self.assertEqual(offline["waiting"], 5)
        # The text form: one line per session.
        p = self.server.cli_run("session", "list", json_flag=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        line = next(l for l in p.stdout.splitlines() if cid in l)
        self.assertIn("offline", line)
        self.assertIn("waiting=5", line)
        self.assertIn(f"{t}:1", line)

    def test_list_by_account(self):
        other = self.server.make_account()
        dash = unique("dash")
        c = RawClient(self.port)
        self.addCleanup(c.close)
        c.send(encode_connect(dash, other["email"], other["password"], clean=False))
        self.assertEqual(c.expect(CONNACK).body, b"\x00\x00")
        wait_for(lambda: self.sessions("--account", other["email"]), what="the account's session")
        mine = self.sessions("--account", other["email"])
        self.assertEqual(list(mine), [(other["id"], dash)])
        self.assertNotIn((other["id"], dash), self.sessions("--account", self.acct["email"]))
        p = self.server.cli_run("session", "list", "--account", "nobody@example.com")
        self.assertEqual(p.returncode, 1, p.stderr)

    def test_delete(self):
        cid = unique("del")
        c, _ = self.raw_sub(cid)
        c.disconnect()
        c.wait_closed()
        key = (self.sub_dev["id"], cid)
        wait_for(lambda: key in self.sessions() and not self.sessions()[key]["online"],
                 what="the session stored")
        self.assertEqual(self.server.cli("session", "delete", *key), {"deleted": True})
        self.assertNotIn(key, self.sessions())
        c2, present = self.raw_sub(cid)
        self.assertFalse(present, "deleted: a new session")
        p = self.server.cli_run("session", "delete", self.sub_dev["id"], unique("none"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("no session", p.stderr)
        p = self.server.cli_run("session", "delete", self.sub_dev["id"])
        self.assertEqual(p.returncode, 2, "a usage error")


class RestartSessions(FreshServerTestCase, SessionTestCase):
    server_args = ()

    def setUp(self):
        super().setUp()
        self.acct = self.server.make_account()
        self.pub_dev = self.server.make_prototype(self.acct["email"], "r-pub")
        self.sub_dev = self.server.make_prototype(self.acct["email"], "r-sub")

    def away_across(self, crash: bool):
        t = self.topic()
        sub = self.persistent()
        sub.connect()
        sub.subscribe(t, 1)
        sub.disconnect()
        self.publish_many(t, range(MANY))
        # Right after the last PUBACK.
        self.server.restart(crash=crash)
        self.assertTrue(sub.connect(self.server.port))
        wait_for(lambda: len(sub.got) >= MANY, 30, f"{MANY} missed messages")
        self.assertEqual(sub.data(), list(range(MANY)))

    def test_missed_messages_across_a_restart(self):
        self.away_across(crash=False)

    def test_missed_messages_across_a_sigkill(self):
        self.away_across(crash=True)

    def test_online_session_across_a_restart(self):
        # Connected while the server stops: its state is saved at the shutdown.
        t = self.topic()
        sub = self.persistent()
        sub.connect()
        sub.subscribe(t, 1)
        self.publish_many(t, ["before"])
        wait_for(lambda: sub.data() == ["before"], what="the first message")
        sub.client.reconnect_delay_set(60, 60)  # paho must not reconnect by itself
        self.server.restart()
        sub.disconnect()
        self.publish_many(t, ["after"], port=self.server.port)
        self.assertTrue(sub.connect(self.server.port))
        wait_for(lambda: len(sub.got) >= 2, what="the message published while away")
        self.assertEqual(sub.data(), ["before", "after"])


class FallingBehindTest(FreshServerTestCase, SessionTestCase):
    """A persistent subscriber past its queue limit (20 here) loses nothing: what does not fit
    stays in the store until it catches up (SPEC 11), where a clean one's is dropped."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.config_dir = tempfile.mkdtemp(prefix="plugmq-e2e-behind-")
        cls.config = os.path.join(cls.config_dir, "plugmq.json")
        with open(cls.config, "w") as f:
            f.write('{"limits": {"queue_max_messages": 20}}')
        cls.server_args = ("--config", cls.config)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.config_dir, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.acct = self.server.make_account()
        self.pub_dev = self.server.make_prototype(self.acct["email"], "b-pub")
        self.sub_dev = self.server.make_prototype(self.acct["email"], "b-sub")

    def test_a_subscriber_that_does_not_acknowledge_loses_nothing(self):
        t = self.topic()
        c, _ = self.raw_sub(unique("behind"))
        self.assertEqual(c.subscribe([(t, 1)]), [1])
        clean = RawClient(self.port)
        self.addCleanup(clean.close)
        raw_connect(clean, self.sub_dev, unique("clean"), clean=True)
        self.assertEqual(clean.subscribe([(t, 1)]), [1])
        n = 200
        self.publish_many(t, range(n))  # nobody acknowledges meanwhile
        got = []
        while len(got) < n:
            d = self.next_publish(c)
            self.assertFalse(d.dup)
            got.append(d.data())
            c.send(ack(PUBACK, d.packet_id))
        self.assertEqual(got, list(range(n)))
        self.assert_quiet(c)
        # The clean session got its queue's worth, and the rest was dropped.
        kept = []
        while True:
            try:
                d = parse_publish(clean.read_packet(NEGATIVE_WINDOW))
            except NoPacket:
                break
            kept.append(d.data())
            clean.send(ack(PUBACK, d.packet_id))
        self.assertLess(len(kept), n)


class MaxReplayTest(FreshServerTestCase, SessionTestCase):
    server_args = ("--max-replay", "10")

    def test_the_oldest_past_max_replay_are_skipped_and_counted(self):
        self.acct = self.server.make_account()
        self.pub_dev = self.server.make_prototype(self.acct["email"], "m-pub")
        self.sub_dev = self.server.make_prototype(self.acct["email"], "m-sub")
        t = self.topic()
        sub = self.persistent()
        sub.connect()
        sub.subscribe(t, 1)
        sub.disconnect()
        self.publish_many(t, range(30))
        offset = self.server.log_size()
        self.assertTrue(sub.connect())
        wait_for(lambda: len(sub.got) >= 10, what="the last 10")
        self.assertEqual(sub.data(), list(range(20, 30)))
        wait_for(lambda: "20 messages missed before position" in self.server.log_text(offset),
                 what="the skipped messages logged")
        self.assertIn("sessions.max_replay 10", self.server.log_text(offset))


if __name__ == "__main__":
    unittest.main()
