"""Helpers of the persistent-session tests (test_sessions.py, test_sessions_restart.py): raw
PUBLISH parsing and acknowledgements, a paho client with clean session 0, mosquitto_sub -q 1 -c,
and a mixin that publishes many records, reads a raw subscriber and runs an inbound QoS 2
exchange across a resume."""

import json
import struct
import subprocess
import threading
import unittest
from typing import List, NamedTuple, Optional

import paho.mqtt.client as mqtt

from harness import (Delivery, ack, parse_publish, CONNACK, DEFAULT_TIMEOUT, HOST, NEGATIVE_WINDOW, PUBCOMP,
                     PUBLISH, PUBREC, PUBREL, NoPacket, RawClient, encode_connect, encode_publish,
                     packet, unique, wait_for)

MANY = 1000  # messages a subscriber misses while away




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


class SessionTestCase:
    """Helpers for the tests of a unittest.TestCase with a server (self.port); it sets up
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

    def qos2_publish_once_across_a_resume(self, restart: bool, crash: bool = False):
        """[MQTT-4.3.3-2] across a resume: a raw publisher with clean session 0 sends a QoS 2
        PUBLISH, gets its PUBREC and goes away without PUBREL (the server restarted meanwhile
        when `restart`, killed with SIGKILL right after the PUBREC when `crash`); back with
        clean session 0 it sends the PUBLISH again with DUP (MQTT 3.1.1 4.3.3), gets PUBREC,
        sends PUBREL and gets PUBCOMP. The record is stored and delivered once; the released id
        then carries a new message."""
        channel = unique("q2in")
        t = self.topic(channel)
        sub = self.persistent()
        sub.connect()
        sub.subscribe(t, 2)
        if crash:
            # Its subscription saved before the kill: its end saves it.
            sub.disconnect()
            self.assertTrue(sub.connect())
        cid = unique("q2pub")
        mid = struct.pack("!H", 41)
        pub = RawClient(self.port)
        self.addCleanup(pub.close)
        self.assertFalse(raw_connect(pub, self.pub_dev, cid, clean=False))
        pub.send(encode_publish(t, '"once"', qos=2, mid=41))
        self.assertEqual(pub.expect(PUBREC).body, mid)
        # paho hands a QoS 2 message over at its PUBREL.
        wait_for(lambda: sub.data() == ["once"], what="the first delivery")
        if crash:
            # Killed with the publisher connected: nothing saved its session since the PUBREC.
            self.server.restart(crash=True)
            pub.close()
            sub.disconnect()
            self.assertTrue(sub.connect(self.server.port))
        else:
            pub.close()  # away, no PUBREL
        if restart and not crash:
            sub.disconnect()
            self.server.restart()
            self.assertTrue(sub.connect(self.server.port))
        again = RawClient(self.server.port)
        self.addCleanup(again.close)
        self.assertTrue(raw_connect(again, self.pub_dev, cid, clean=False))
        again.send(encode_publish(t, '"once"', qos=2, mid=41, dup=True))
        self.assertEqual(again.expect(PUBREC).body, mid)
        again.send(ack(PUBREL, 41))
        self.assertEqual(again.expect(PUBCOMP).body, mid)
        # Released: the same id is a new message, delivered behind anything sent before it.
        again.send(encode_publish(t, '"after"', qos=2, mid=41))
        self.assertEqual(again.expect(PUBREC).body, mid)
        again.send(ack(PUBREL, 41))
        self.assertEqual(again.expect(PUBCOMP).body, mid)
        stored = self.server.data_get(channel, of=self.pub_dev["id"])
        self.assertEqual(sorted(r["data"] for r in stored), ["after", "once"],
                         "the PUBLISH sent again was stored again")
        wait_for(lambda: "after" in sub.data(), what="the message after the release")
        self.assertEqual(sub.data(), ["once", "after"], "the PUBLISH sent again was routed again")

    def assert_quiet(self, c: RawClient, duration: float = NEGATIVE_WINDOW):
        """Negative check: no packet within `duration` (a delivery on localhost takes ms)."""
        try:
            p = c.read_packet(duration)
        except NoPacket:
            return
        self.fail(f"unexpected packet {p.raw[:40]!r}")
