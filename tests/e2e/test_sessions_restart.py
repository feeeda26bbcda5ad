"""Persistent sessions across a restart and a SIGKILL of the server, past the queue limits and
past sessions.max_replay (SPEC 11): each test has a server of its own.

A record whose publisher got its PUBACK reaches a persistent subscriber that was away whatever
happened to the server meanwhile; a QoS 2 PUBLISH sent again with DUP after a restart or a
SIGKILL between its PUBREC and its PUBREL is not stored again; an outbound QoS 2 message whose
PUBREL went out before a SIGKILL is not sent again as a PUBLISH (its PUBREL is); a subscriber
that does not acknowledge loses nothing; the oldest past max_replay are skipped, counted and
logged."""

import struct
import unittest

from harness import (NEGATIVE_WINDOW, PUBACK, PUBCOMP, PUBREC, PUBREL, FreshServerTestCase,
                     NoPacket, RawClient, unique, wait_for)
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
        wait_for(lambda: "after" in sub.data(), what="the message published while away")
        # "before" comes again, with DUP, when the stop overtook its PUBACK (QoS 1 is at least
        # once [MQTT-4.4.0-1]); nothing else may come twice, and nothing may be missing.
        first = [d for d in sub.got if not (d.dup and d.data() == "before")]
        self.assertEqual([d.data() for d in first], ["before", "after"])


    def test_MQTT_4_3_3_2_qos2_publish_sent_again_after_a_restart_is_stored_once(self):
        # The server stops (SIGTERM) between the PUBREC and the PUBLISH sent again.
        self.qos2_publish_once_across_a_resume(restart=True)

    def test_MQTT_4_3_3_2_qos2_publish_sent_again_after_a_sigkill_is_stored_once(self):
        # The server is killed right after the PUBREC, its publisher still connected: no save at
        # the end of its connection holds the id, only the one the PUBREC waited for.
        self.qos2_publish_once_across_a_resume(restart=True, crash=True)

    # ---- Outbound QoS 2 across a SIGKILL [MQTT-4.3.3-1, MQTT-4.4.0-1] ----

    def durable_qos2_subscriber(self, t: str):
        """A raw subscriber with clean session 0 whose QoS 2 subscription to `t` is saved: it
        subscribes, goes (its end saves the session) and comes back. Returns (client id, the
        connection)."""
        cid = unique("q2kill")
        c, present = self.raw_sub(cid)
        self.assertFalse(present)
        self.assertEqual(c.subscribe([(t, 2)]), [2])
        c.disconnect()
        c.wait_closed()
        c2, present = self.raw_sub(cid)
        self.assertTrue(present)
        return cid, c2

    def received_until(self, c: RawClient, value) -> list:
        """What `c` gets until the PUBLISH of `value`: ("PUBREL", id), answered with PUBCOMP,
        and ("PUBLISH", data, dup, id), acknowledged."""
        seen = []
        while True:
            try:
                p = c.read_packet()
            except NoPacket:
                self.fail(f"no PUBLISH of {value!r} after {seen}")
            if p.type == PUBREL:
                (pid,) = struct.unpack("!H", p.body)
                seen.append(("PUBREL", pid))
                c.send(ack(PUBCOMP, pid))
                continue
            d = parse_publish(p)
            seen.append(("PUBLISH", d.data(), d.dup, d.packet_id))
            c.send(ack(PUBACK if d.qos == 1 else PUBREC, d.packet_id))
            if d.data() == value:
                return seen

    def qos2_exchange_then_sigkill(self, pubcomp: bool):
        """A QoS 2 message to a persistent subscriber: PUBLISH, its PUBREC, the server's PUBREL
        (and its PUBCOMP when `pubcomp`); the server is killed right after, well within the
        second between two periodic saves. Back after the restart, the subscriber gets what
        comes before the next message ("next", published then): returned with the message's
        packet id."""
        t = self.topic()
        cid, c = self.durable_qos2_subscriber(t)
        self.publish_many(t, ["done"], qos=2)
        d = self.next_publish(c)
        self.assertEqual((d.data(), d.qos, d.dup), ("done", 2, False))
        c.send(ack(PUBREC, d.packet_id))
        rel = c.read_packet()
        self.assertEqual((rel.type, rel.body), (PUBREL, struct.pack("!H", d.packet_id)))
        if pubcomp:
            c.send(ack(PUBCOMP, d.packet_id))
        self.server.restart(crash=True)
        c2, present = self.raw_sub(cid)
        self.assertTrue(present)
        self.publish_many(t, ["next"])
        return self.received_until(c2, "next"), d.packet_id

    def test_MQTT_4_3_3_1_qos2_completed_before_a_sigkill_is_not_sent_again(self):
        # The client released the message (PUBCOMP): its PUBLISH again would be a duplicate. Its
        # PUBREL again is allowed (the client answers PUBCOMP for an id it does not hold).
        seen, pid = self.qos2_exchange_then_sigkill(pubcomp=True)
        self.assertEqual(seen[-1][:2], ("PUBLISH", "next"))
        self.assertIn(seen[:-1], ([], [("PUBREL", pid)]),
                      "a QoS 2 message completed before the SIGKILL was sent again")

    def test_MQTT_4_4_0_1_qos2_pubrel_not_the_publish_again_after_a_sigkill(self):
        # The PUBREL went out, the PUBCOMP did not come: after the restart its PUBREL again, with
        # its packet id, and never its PUBLISH.
        seen, pid = self.qos2_exchange_then_sigkill(pubcomp=False)
        self.assertEqual(seen[0], ("PUBREL", pid), f"after the restart: {seen}")
        self.assertEqual([s[:2] for s in seen[1:]], [("PUBLISH", "next")],
                         "a QoS 2 message whose PUBREL went out was sent again")


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
