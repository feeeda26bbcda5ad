"""Last Will and Testament and keep alive (SPEC section 3, [MQTT-3.1.2-24])."""

import time
import unittest

from harness import (NEGATIVE_WINDOW, ServerTestCase, check_record, encode_publish, unique)


class WillTest(ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.watcher = cls.server.make_prototype(cls.acct["email"], "watcher")
        cls.w = cls.server.make_prototype(cls.acct["email"], "will-dev")

    def setUp(self):
        super().setUp()
        self.sub = self.subscriber(self.watcher["id"], self.watcher["auth"], "+/data/#")

    def will_client(self, channel, keepalive=60, client_id=None, payload=b'"offline"'):
        w = self.w
        topic = f"{w['id']}/data/{channel}"
        c = self.raw_connected(w["id"], w["auth"], client_id,
                               will_topic=topic, will_payload=payload, keepalive=keepalive)
        return c, topic

    def test_will_on_abrupt_close(self):
        c, topic = self.will_client("status")
        c.close()  # FIN without DISCONNECT
        check_record(self, self.sub.messages.wait_topic(topic), data="offline")

    def test_will_on_reset(self):
        c, topic = self.will_client("status-rst")
        c.close(abort=True)  # TCP RST
        check_record(self, self.sub.messages.wait_topic(topic), data="offline")

    def test_will_from_paho_with_killed_socket(self):
        w = self.w
        topic = f"{w['id']}/data/status-paho"
        p = self.paho(w["id"], w["auth"], connect=False, will=(topic, '"offline"'))
        p.client.reconnect_delay_set(30, 60)
        self.assertEqual(p.connect(), 0)
        # Kill it abruptly: stop paho's network thread, then close the socket (no DISCONNECT).
        p.client.loop_stop()
        p._loop_running = False
        p.client.socket().close()
        check_record(self, self.sub.messages.wait_topic(topic), data="offline")

    def test_will_short_form_topic(self):
        w = self.w
        c = self.raw_connected(w["id"], w["auth"], will_topic="/data/status-short",
                               will_payload=b'{"data":"gone"}')
        c.close()
        check_record(self, self.sub.messages.wait_topic(f"{w['id']}/data/status-short"),
                     data="gone")

    def test_no_will_after_disconnect(self):
        c, topic = self.will_client("status-clean")
        c.disconnect()
        c.wait_closed(5)
        # A will would be published right at the close; watch a bounded window for none.
        self.sub.messages.assert_nothing(lambda m: m.topic == topic, NEGATIVE_WINDOW,
                                         "will after DISCONNECT")

    def test_will_on_keepalive_expiry(self):
        c, topic = self.will_client("status-ka", keepalive=1)
        msg = self.sub.messages.wait_topic(topic, timeout=8)
        check_record(self, msg, data="offline")
        c.wait_closed(5)

    def test_will_on_protocol_violation(self):
        c, topic = self.will_client("status-violation")
        c.send(encode_publish("a/+/b", b"1"))
        c.wait_closed(5)
        check_record(self, self.sub.messages.wait_topic(topic), data="offline")

    def test_will_on_takeover(self):
        cid = unique("will-take")
        first, topic = self.will_client("status-takeover", client_id=cid)
        w = self.w
        self.raw_connected(w["id"], w["auth"], cid)
        first.wait_closed(5)
        check_record(self, self.sub.messages.wait_topic(topic), data="offline")


class KeepAliveTest(ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.dev = cls.server.make_prototype(cls.acct["email"], "ka-dev")

    def test_idle_client_closed_after_1_5_keepalive(self):
        c = self.raw()
        self.assertEqual(c.connect(username=self.dev["id"], password=self.dev["auth"],
                                   keepalive=2), 0)
        elapsed = c.wait_closed(10)  # seconds from the CONNACK to EOF
        self.assertGreaterEqual(elapsed, 2.5, "closed too early for keep alive 2 (spec: 3 s)")
        self.assertLessEqual(elapsed, 6.0, "closed too late for keep alive 2 (spec: 3 s)")

    def test_pings_keep_connection_alive(self):
        c = self.raw()
        self.assertEqual(c.connect(username=self.dev["id"], password=self.dev["auth"],
                                   keepalive=2), 0)
        start = time.monotonic()
        n = 0
        # The client's keep-alive schedule: one PINGREQ a second for 5.5 s (past 1.5 x 2 s).
        while time.monotonic() - start < 5.5:
            c.ping(timeout=2)  # asserts PINGRESP is exactly d0 00
            n += 1
            next_at = start + n * 1.0
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing of the client's own schedule, not synchronisation
        self.assertGreaterEqual(n, 5)
        c.ping()

    def test_publishes_count_as_activity(self):
        c = self.raw()
        dev = self.dev
        self.assertEqual(c.connect(username=dev["id"], password=dev["auth"], keepalive=1), 0)
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < 3.5:  # past 1.5 x 1 s twice over
            c.publish(f"{dev['id']}/data/ka-pub", str(n))
            n += 1
            delay = start + n * 0.5 - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing of the client's own schedule
        c.ping()

    def test_keepalive_zero_disables_check(self):
        zero = self.raw()
        self.assertEqual(zero.connect(username=self.dev["id"], password=self.dev["auth"],
                                      keepalive=0), 0)
        one = self.raw()
        self.assertEqual(one.connect(username=self.dev["id"], password=self.dev["auth"],
                                     keepalive=1), 0)
        one.wait_closed(6)  # the reference connection with keep alive 1 expired ...
        zero.assert_open_for(1.0)  # ... and the keep alive 0 one, idle as long, did not.
        zero.ping()

    def test_pre_connect_deadline_10s(self):
        c = self.raw()
        c.send(b"\x10")  # the start of a CONNECT that never completes
        elapsed = c.wait_closed(20)
        self.assertGreaterEqual(elapsed, 9.0)
        self.assertLessEqual(elapsed, 15.0)

    def test_pre_connect_non_connect_packet_closes(self):
        c = self.raw()
        c.send(b"\xc0\x00")  # PINGREQ as first packet
        c.wait_closed(5)


if __name__ == "__main__":
    unittest.main()
