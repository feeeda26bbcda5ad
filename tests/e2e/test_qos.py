"""QoS 1 and 2 delivery (SPEC 11, MQTT 3.1.1 sections 3.3, 3.8, 4.3, 4.6): SUBACK grants the QoS
asked for, a message is delivered at min(publish QoS, granted QoS) and once per session at the
highest QoS of its overlapping filters, QoS 2 publishes are stored and routed exactly once, a
topic's messages arrive in order, at most sessions.max_inflight are unacknowledged, HTTP records
and wills keep their QoS, and a subscriber that never acknowledges is a slow subscriber.

Raw-socket subscribers show the wire (QoS bits, DUP, packet ids) and acknowledge only when a
test says so; paho and mosquitto_sub are the real clients."""

import json
import struct
import time
import unittest
from typing import List, Optional

import paho.mqtt.client as mqtt

from harness import (DEFAULT_TIMEOUT, HOST, NEGATIVE_WINDOW, PUBACK, PUBCOMP, PUBLISH, PUBREC,
                     ConnectionClosed, Delivery, NoPacket, RawClient, ServerTestCase, ack,
                     device_headers, encode_publish, http_request, mosquitto_pub_lines,
                     parse_publish, unique, wait_for)




class RawSub:
    """A raw-socket subscriber: reads PUBLISHes and acknowledges them only when told to."""

    def __init__(self, client: RawClient):
        self.c = client
        self.early: List[Delivery] = []  # PUBLISHes read while waiting for another packet

    def next(self, timeout: float = DEFAULT_TIMEOUT) -> Delivery:
        if self.early:
            return self.early.pop(0)
        try:
            p = self.c.read_packet(timeout)
        except NoPacket:
            raise AssertionError(f"no PUBLISH within {timeout} s")
        if p.type != PUBLISH:
            raise AssertionError(f"expected a PUBLISH, got {p.raw[:16]!r}")
        return parse_publish(p)

    def expect_packet(self, ptype: int, timeout: float = DEFAULT_TIMEOUT):
        """The next packet of type `ptype`; PUBLISHes before it are kept for next()."""
        while True:
            try:
                p = self.c.read_packet(timeout)
            except NoPacket:
                raise AssertionError(f"no packet of type {ptype} within {timeout} s")
            if p.type == ptype:
                return p
            if p.type != PUBLISH:
                raise AssertionError(f"expected packet type {ptype}, got {p.raw[:16]!r}")
            self.early.append(parse_publish(p))

    def assert_none(self, duration: float = NEGATIVE_WINDOW) -> None:
        """Negative check: no packet arrives within `duration` (a delivery on localhost takes
        milliseconds)."""
        assert not self.early, f"unexpected {self.early[:3]}"
        try:
            p = self.c.read_packet(duration)
        except NoPacket:
            return
        raise AssertionError(f"unexpected packet {p.raw[:40]!r}")

    def complete(self, d: Delivery) -> None:
        """Acknowledges `d` as a client does: PUBACK, or PUBREC, PUBREL from the server, PUBCOMP."""
        if d.qos == 1:
            self.c.send(ack(PUBACK, d.packet_id))
        elif d.qos == 2:
            self.c.send(ack(PUBREC, d.packet_id))
            rel = self.expect_packet(6)
            assert rel.flags == 0x02 and rel.body == struct.pack("!H", d.packet_id), rel.raw
            self.c.send(ack(PUBCOMP, d.packet_id))


class QosPaho:
    """A paho client that keeps the QoS and DUP of what it receives (paho acknowledges)."""

    def __init__(self, tc: unittest.TestCase, port: int, dev: dict, clean_session: bool = True):
        self.client = mqtt.Client(client_id=unique("qpaho"), clean_session=clean_session,
                                  protocol=mqtt.MQTTv311)
        self.client.username_pw_set(dev["id"], dev["auth"])
        self.got: List[Delivery] = []
        self.subacks = {}
        self.client.on_message = lambda c, u, m: self.got.append(
            Delivery(m.topic, m.payload, m.qos, bool(m.dup), m.mid))
        self.client.on_subscribe = lambda c, u, mid, granted: self.subacks.__setitem__(
            mid, tuple(granted))
        self.connected = []
        self.client.on_connect = lambda c, u, f, rc: self.connected.append(rc)
        self.client.connect(HOST, port, 60)
        self.client.loop_start()
        tc.addCleanup(self.close)
        wait_for(lambda: self.connected, what="paho CONNACK")
        tc.assertEqual(self.connected[0], 0)

    def subscribe(self, topic: str, qos: int):
        rc, mid = self.client.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        return wait_for(lambda: self.subacks.get(mid), what=f"SUBACK for {topic!r}")

    def publish(self, topic: str, payload, qos: int, wait: bool = True):
        info = self.client.publish(topic, payload, qos=qos)
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, mqtt.error_string(info.rc)
        if wait and qos > 0:
            info.wait_for_publish(DEFAULT_TIMEOUT)
            assert info.is_published(), f"no acknowledgement for {topic!r}"
        return info

    def on(self, topic: str) -> List[Delivery]:
        return [d for d in list(self.got) if d.topic == topic]

    def assert_count_stays(self, topic: str, n: int, duration: float = NEGATIVE_WINDOW) -> None:
        """Negative check: no more than `n` messages on `topic` arrive within `duration`."""
        deadline = time.monotonic() + duration
        while time.monotonic() < deadline:
            assert len(self.on(topic)) == n, f"{len(self.on(topic))} messages on {topic}, not {n}"
            time.sleep(0.05)

    def close(self):
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


class QosTestCase(ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.pub_dev = cls.server.make_prototype(cls.acct["email"], "qos-pub")
        cls.sub_dev = cls.server.make_prototype(cls.acct["email"], "qos-sub")

    def topic(self, name: Optional[str] = None) -> str:
        return f"{self.pub_dev['id']}/data/{name or unique('q')}"

    def raw_sub(self, filters) -> RawSub:
        c = self.raw_connected(self.sub_dev["id"], self.sub_dev["auth"])
        self.assertEqual(c.subscribe(filters), [q for _, q in filters])
        return RawSub(c)

    def raw_pub(self) -> RawClient:
        return self.raw_connected(self.pub_dev["id"], self.pub_dev["auth"])

    def paho(self, dev: Optional[dict] = None, **kw) -> QosPaho:
        return QosPaho(self, self.port, dev or self.sub_dev, **kw)

    def history(self, channel: str) -> list:
        r = http_request(self.server.http_port, "GET", f"/iot/data/{channel}?limit=100",
                         headers=device_headers(self.pub_dev))
        self.assertEqual(r.status, 200, r.text)
        return r.json()


class GrantedQosTest(QosTestCase):
    def test_MQTT_3_9_3_suback_grants_the_qos_asked_for(self):
        c = self.raw_connected(self.sub_dev["id"], self.sub_dev["auth"])
        t = self.topic()
        self.assertEqual(c.subscribe([(t + "/0", 0), (t + "/1", 1), (t + "/2", 2), ("a/#/b", 2)]),
                         [0, 1, 2, 0x80])

    def test_MQTT_3_8_4_3_subscribing_again_replaces_the_qos(self):
        t = self.topic()
        sub = self.raw_sub([(t, 2)])
        self.assertEqual(sub.c.subscribe([(t, 0)], mid=2), [0])
        pub = self.paho(self.pub_dev)
        pub.publish(t, '"again"', qos=2)
        d = sub.next()
        self.assertEqual((d.topic, d.qos), (t, 0))
        sub.assert_none()

    def test_MQTT_3_8_4_6_delivery_at_min_qos(self):
        t = self.topic()
        subs = {g: self.raw_sub([(t, g)]) for g in (0, 1, 2)}
        pub = self.paho(self.pub_dev)
        for q in (0, 1, 2):
            pub.publish(t, json.dumps(q), qos=q)
            for g, sub in subs.items():
                d = sub.next()
                self.assertEqual(d.json()["data"], q)
                self.assertEqual(d.qos, min(q, g), f"published at {q}, granted {g}")
                self.assertFalse(d.dup)
                self.assertEqual(d.packet_id is None, d.qos == 0)
                sub.complete(d)
        for sub in subs.values():
            sub.assert_none()

    def test_MQTT_3_3_5_1_overlapping_filters_once_at_max_qos(self):
        base = unique("ov")
        t = self.topic(f"{base}/t")
        sub = self.raw_sub([(f"{self.pub_dev['id']}/data/{base}/#", 0), (f"+/data/{base}/t", 2),
                            (t, 1)])
        pub = self.paho(self.pub_dev)
        pub.publish(t, '"all three match"', qos=2)
        d = sub.next()
        self.assertEqual((d.topic, d.qos), (t, 2))
        sub.complete(d)
        # Only the QoS 0 filter matches this one.
        other = self.topic(f"{base}/u")
        pub.publish(other, '"one matches"', qos=2)
        d = sub.next()
        self.assertEqual((d.topic, d.qos), (other, 0))
        sub.assert_none()


class DeliveryTest(QosTestCase):
    def test_MQTT_4_3_3_2_qos2_inbound_exactly_once(self):
        channel = unique("once")
        t = self.topic(channel)
        sub = self.raw_sub([(t, 2)])
        pub = self.raw_pub()
        # The PUBLISH, then the same one again with DUP before its PUBREL (a client that lost
        # the PUBREC): one record, one delivery, a PUBREC for each.
        pub.send(encode_publish(t, '"exactly once"', qos=2, mid=77))
        pub.send(encode_publish(t, '"exactly once"', qos=2, mid=77, dup=True))
        for _ in range(2):
            self.assertEqual(pub.expect(PUBREC).body, struct.pack("!H", 77))
        pub.send(encode_publish(t, '"exactly once"', qos=2, mid=77, dup=True))
        self.assertEqual(pub.expect(PUBREC).body, struct.pack("!H", 77))
        pub.send(ack(6, 77))  # PUBREL
        self.assertEqual(pub.expect(PUBCOMP).body, struct.pack("!H", 77))
        # After PUBREL the id is free: the same id is a new message.
        pub.send(encode_publish(t, '"next"', qos=2, mid=77))
        self.assertEqual(pub.expect(PUBREC).body, struct.pack("!H", 77))
        pub.send(ack(6, 77))
        pub.expect(PUBCOMP)

        first = sub.next()
        self.assertEqual(first.json()["data"], "exactly once")
        sub.complete(first)
        second = sub.next()
        self.assertEqual(second.json()["data"], "next", "the first message was delivered twice")
        sub.complete(second)
        sub.assert_none()
        stored = self.history(channel)
        self.assertEqual(sorted(r["data"] for r in stored), ["exactly once", "next"])

    def test_MQTT_4_6_0_order_per_topic(self):
        t = self.topic()
        sub = self.paho()
        self.assertEqual(sub.subscribe(t, 1), (1,))
        n = 1000
        mosquitto_pub_lines(self.port, self.pub_dev["id"], self.pub_dev["auth"], t,
                            [json.dumps(i) for i in range(n)], qos=1)
        wait_for(lambda: len(sub.on(t)) >= n, timeout=60, what=f"{n} QoS 1 messages")
        got = sub.on(t)
        self.assertEqual([d.json()["data"] for d in got], list(range(n)))
        self.assertEqual({d.qos for d in got}, {1})

    def test_qos2_end_to_end_without_duplicates(self):
        channel = unique("q2")
        t = self.topic(channel)
        sub = self.paho()
        self.assertEqual(sub.subscribe(t, 2), (2,))
        pub = self.paho(self.pub_dev)
        n = 50
        infos = [pub.publish(t, json.dumps(i), qos=2, wait=False) for i in range(n)]
        for info in infos:
            info.wait_for_publish(DEFAULT_TIMEOUT)
            self.assertTrue(info.is_published())
        wait_for(lambda: len(sub.on(t)) >= n, what=f"{n} QoS 2 messages")
        got = sub.on(t)
        self.assertEqual([d.json()["data"] for d in got], list(range(n)))
        self.assertEqual({d.qos for d in got}, {2})
        self.assertEqual(len(self.history(channel)), n)
        sub.assert_count_stays(t, n)  # every message was completed once

    def test_http_publish_is_delivered_at_qos1(self):
        channel = unique("http")
        t = self.topic(channel)
        sub = self.raw_sub([(t, 2)])
        r = http_request(self.server.http_port, "PUT", f"/iot/data/{channel}", {"data": 42},
                         device_headers(self.pub_dev))
        self.assertEqual(r.status, 200, r.text)
        d = sub.next()
        self.assertEqual((d.topic, d.qos), (t, 1))
        self.assertEqual(d.json()["data"], 42)
        sub.complete(d)
        sub.assert_none()

    def test_will_is_delivered_with_its_qos(self):
        base = unique("will")
        sub = self.raw_sub([(f"+/data/{base}/#", 2)])
        for will_qos in (0, 1, 2):
            t = self.topic(f"{base}/{will_qos}")
            dev = self.raw()
            rc = dev.connect(unique("willer"), username=self.pub_dev["id"],
                             password=self.pub_dev["auth"], will_topic=t,
                             will_payload=json.dumps(will_qos), will_qos=will_qos)
            self.assertEqual(rc, 0)
            dev.close(abort=True)  # no DISCONNECT: the will is published
            d = sub.next()
            self.assertEqual((d.topic, d.qos), (t, will_qos))
            self.assertEqual(d.json()["data"], will_qos)
            sub.complete(d)

    def test_mosquitto_sub_receives_at_qos1(self):
        t = self.topic()
        ms = self.mosquitto_sub(self.sub_dev["id"], self.sub_dev["auth"], topics=(t,),
                                extra=("-q", "1", "-F", "%t %q %p"))
        pub = self.paho(self.pub_dev)

        def arrived():
            pub.publish(t, '"probe"', qos=1)
            return ms.messages.matching(lambda m: m.topic == t)
        # mosquitto_sub does not say when it has subscribed: probe until one arrives.
        wait_for(arrived, what="a message through mosquitto_sub", interval=0.2)
        for i in range(3):
            pub.publish(t, json.dumps(i), qos=2)
        for i in range(3):
            m = ms.messages.wait(lambda m, i=i: m.topic == t and f'"data":{i},'.encode() in
                                 m.payload, what=f"message {i}")
            qos, _, _ = m.payload.partition(b" ")  # "%t %q %p": the QoS, then the payload
            self.assertEqual(qos, b"1", f"QoS 2 publish, QoS 1 subscription: {m.payload!r}")

    def test_unknown_acks_are_tolerated(self):
        c = self.raw_connected(self.sub_dev["id"], self.sub_dev["auth"])
        c.send(ack(PUBACK, 4711) + ack(PUBREC, 4712) + ack(PUBCOMP, 4713))
        c.ping()  # still connected


class InflightWindowTest(QosTestCase):
    MAX_INFLIGHT = 4
    server_args = ["--max-inflight", str(MAX_INFLIGHT)]

    def test_inflight_window(self):
        t = self.topic()
        sub = self.raw_sub([(t, 1)])
        pub = self.paho(self.pub_dev)
        n = 10
        for i in range(n):
            pub.publish(t, json.dumps(i), qos=1)  # PUBACK: routed
        # Exactly max_inflight arrive; the rest wait for acknowledgements.
        got = [sub.next() for _ in range(self.MAX_INFLIGHT)]
        sub.assert_none()
        self.assertEqual([d.json()["data"] for d in got], list(range(self.MAX_INFLIGHT)))
        self.assertEqual(len({d.packet_id for d in got}), self.MAX_INFLIGHT, "distinct ids")
        self.assertTrue(all(d.qos == 1 for d in got))
        # One more per PUBACK, in order, whichever message is acknowledged.
        for d in (got[2], got[0]):
            sub.c.send(ack(PUBACK, d.packet_id))
            nxt = sub.next()
            got.append(nxt)
            self.assertEqual(nxt.json()["data"], len(got) - 1)
            sub.assert_none(0.3)
        # An acknowledgement of nothing frees nothing.
        sub.c.send(ack(PUBACK, got[0].packet_id))
        sub.assert_none(0.3)
        # The rest, acknowledging as they come.
        for d in (got[1], got[3], got[4], got[5]):
            sub.c.send(ack(PUBACK, d.packet_id))
        while len(got) < n:
            d = sub.next()
            got.append(d)
            sub.c.send(ack(PUBACK, d.packet_id))
        self.assertEqual([d.json()["data"] for d in got], list(range(n)))
        sub.assert_none()


class SlowQosSubscriberTest(QosTestCase):
    """A subscriber that reads but never acknowledges: its unacknowledged QoS 1 messages count
    against its queue, new ones are dropped past it, and it is disconnected once it has stayed
    over the limit for slow_subscriber_timeout (SPEC 9, 11)."""

    server_config = {"limits": {"queue_max_messages": 20, "slow_subscriber_timeout_s": 1},
                     "sessions": {"max_inflight": 5}}

    def test_unacknowledging_subscriber_is_cut_off(self):
        t = self.topic()
        stuck = self.raw_sub([(t, 1)])
        reader = self.paho()
        self.assertEqual(reader.subscribe(t, 1), (1,))
        pub = self.paho(self.pub_dev)
        offset = self.server.log_size()
        sent = 0

        def cut_off():
            nonlocal sent
            for _ in range(10):
                pub.publish(t, json.dumps(sent), qos=1)
                sent += 1
            return "disconnecting (slow_subscriber_timeout)" in self.server.log_text(offset)

        wait_for(cut_off, timeout=30, what="the unacknowledging subscriber's disconnection")
        self.assertIn("outgoing queue full", self.server.log_text(offset))
        # It got its window's worth, and then the connection closed.
        got = []
        try:
            while True:
                got.append(stuck.next(timeout=5))
        except (ConnectionClosed, AssertionError):
            pass
        self.assertEqual([d.json()["data"] for d in got], list(range(5)))
        self.assertTrue(stuck.c.eof, "the connection was closed")
        # The acknowledging subscriber lost nothing.
        wait_for(lambda: len(reader.on(t)) >= sent, what="every message at the reader")
        self.assertEqual([d.json()["data"] for d in reader.on(t)], list(range(sent)))


if __name__ == "__main__":
    unittest.main()
