"""Persistent sessions (SPEC 11, MQTT 3.1.1 sections 3.1.2.4, 3.2.2.2 and 4.4): CONNECT with clean
session 0 resumes the session of (login, client id) with CONNACK session present, clean session 1
discards it, a subscriber that was away gets every QoS 1/2 message it missed in order, what it
may no longer read is not replayed, in-flight messages go again with DUP and their packet ids, a
keep-alive end and a takeover keep the session, QoS 2 is not duplicated (a QoS 2 PUBLISH sent
again with DUP after its publisher resumed is not stored again), publishing that goes on
during a resume leaves no gap and no duplicate, and `plugmq session list` / `delete` show and
remove sessions. Across a restart and a SIGKILL: test_sessions_restart.py.

Raw-socket clients show the wire (session present, DUP, packet ids); paho and mosquitto_sub are
the real clients."""

import json
import struct
import threading
import time
import unittest

from harness import (CONNACK, NEGATIVE_WINDOW, PUBACK, PUBCOMP, PUBREC, RawClient,
                     ServerTestCase, encode_connect, unique, wait_for)
from session_helpers import MANY, MosquittoSubQos1, SessionTestCase, ack, raw_connect


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

    def test_records_with_past_times_are_replayed_once_in_store_order(self):
        # Records stored later with times between those of records stored earlier (a device
        # sending "at" in the past): each is replayed once, in the order it was stored.
        t = self.topic()
        sub = self.persistent()
        sub.connect()
        sub.subscribe(t, 1)
        sub.disconnect()
        base = int(time.time() * 1000) - 3_600_000
        first = [{"data": f"a{i}", "at": base + 10 * i} for i in range(100)]
        later = [{"data": f"b{i}", "at": base + 10 * i + 5} for i in range(100)]
        self.publish_many(t, first)
        self.publish_many(t, later)
        self.assertTrue(sub.connect())
        expected = [v["data"] for v in first + later]
        wait_for(lambda: len(sub.got) >= len(expected), 30, "the missed messages")
        time.sleep(NEGATIVE_WINDOW)  # negative check: no record comes a second time
        self.assertEqual(sub.data(), expected)

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

    def test_MQTT_4_3_3_2_qos2_publish_sent_again_after_resume_is_stored_once(self):
        self.qos2_publish_once_across_a_resume(restart=False)

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


if __name__ == "__main__":
    unittest.main()
