"""Persistent sessions across a restart and a SIGKILL of the server, past the queue limits and
past sessions.max_replay (SPEC 11): each test has a server of its own.

A record whose publisher got its PUBACK reaches a persistent subscriber that was away whatever
happened to the server meanwhile; a QoS 2 PUBLISH sent again with DUP after a restart between
its PUBREC and its PUBREL is not stored again; a subscriber that does not acknowledge loses
nothing; the oldest past max_replay are skipped, counted and logged."""

import unittest

from harness import (NEGATIVE_WINDOW, PUBACK, FreshServerTestCase, NoPacket, RawClient, unique,
                     wait_for)
from session_helpers import MANY, SessionTestCase, ack, parse_publish, raw_connect


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


    def test_MQTT_4_3_3_2_qos2_publish_sent_again_after_a_restart_is_stored_once(self):
        # The server stops (SIGTERM) between the PUBREC and the PUBLISH sent again.
        self.qos2_publish_once_across_a_resume(restart=True)


class FallingBehindTest(FreshServerTestCase, SessionTestCase):
    """A persistent subscriber past its queue limit (20 here) loses nothing: what does not fit
    stays in the store until it catches up (SPEC 11), where a clean one's is dropped."""

    server_config = {"limits": {"queue_max_messages": 20}}

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
