"""Stored data (SPEC sections 4, 7 and 8): every accepted data publish is stored as exactly the
record its subscribers receive, `plugmq data get` reads it back (newest first, masks, --of,
--before/--after with ms, ISO-8601 or an OID, --limit) while the server runs, a QoS 1 PUBACK
means the record is committed (and commits the QoS 0 records that wait for
storage.commit_interval_ms before it), SIGTERM flushes what is queued, kill -9 loses no PUBACKed
record, and records expire by ttl, expire_at and the account's retention.

Denied publishes, binary payloads and property requests are not stored. The data writer steps
aside (a higher nice value) while it keeps up."""

import datetime
import json
import os
import resource
import signal
import sqlite3
import threading
import time
import unittest

import paho.mqtt.client as mqtt

from harness import (DEFAULT_TIMEOUT, HOST, OID_RE, PUBACK, FreshServerTestCase,
                     ServerTestCase, check_record, mosquitto_pub, mosquitto_pub_lines, now_ms,
                     prop_topic, stored_form, unique)

DAY_MS = 86_400_000
SWEEP_SLACK = 6.0  # SPEC 7 / brief: the sweeper runs about every second; allow ~5 s after expiry


def iso(ms: int) -> str:
    """ISO-8601 UTC with milliseconds: 2023-11-14T22:13:20.000Z."""
    dt = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def datas(records):
    return [r["data"] for r in records]


def by_id(records):
    return {r["id"]: r for r in records}


class StoreMixin:
    """Helpers shared by the test classes below (they need self.server and self.port)."""

    def assertStoredShape(self, rec: dict):
        self.assertIsInstance(rec, dict, rec)
        self.assertEqual(set(rec), {"id", "of", "channel", "data", "at"}, rec)
        self.assertRegex(rec["id"], OID_RE)
        self.assertIsInstance(rec["at"], int, rec)

    def assertNewestFirst(self, records):
        keys = [(r["at"], r["id"]) for r in records]
        self.assertEqual(keys, sorted(keys, reverse=True),
                         "data get must return records newest first")

    def collect_all(self, collector, expected: int, pred, timeout: float = 30.0):
        """Waits until `collector` holds `expected` messages matching `pred`; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            got = collector.matching(pred)
            if len(got) >= expected:
                return got
            if time.monotonic() >= deadline:
                raise AssertionError(f"only {len(got)} of {expected} messages arrived in "
                                     f"{timeout} s")
            time.sleep(0.05)


# ------------------------------------------------------------------------------------------------


class DataGetTest(StoreMixin, ServerTestCase):
    """`data get` on the data dir of a running server; one server for the class, every test on
    channels of its own."""

    server_args = ("--enroll-attempts", "1000")

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.a = cls.server.make_prototype(cls.acct["email"], "store-a")
        cls.b = cls.server.make_prototype(cls.acct["email"], "store-b")
        cls.other_acct = cls.server.make_account()
        cls.x = cls.server.make_prototype(cls.other_acct["email"], "store-x")

    def acct_sub(self, acct=None):
        acct = acct or self.acct
        return self.subscriber(acct["email"], acct["password"], "+/data/#")

    # -- the PUBACK contract ------------------------------------------------------------------
    def test_qos1_record_is_readable_right_after_the_puback(self):
        a = self.a
        ch = unique("q1")
        sub = self.acct_sub()
        pub = self.paho_dev(a)
        for i in range(5):
            pub.publish(f"{a['id']}/data/{ch}", json.dumps({"i": i}), qos=1)  # waits for PUBACK
            # No waiting: the PUBACK is sent only after the record committed.
            recs = self.server.data_get(ch)
            self.assertEqual(len(recs), i + 1, f"after the PUBACK of message {i}: {recs}")
            self.assertEqual(recs[0]["data"], {"i": i}, recs)
        msgs = self.collect_all(sub.messages, 5, lambda m: m.topic == f"{a['id']}/data/{ch}")
        expected = [stored_form(m) for m in reversed(msgs)]
        self.assertEqual(self.server.data_get(ch), expected,
                         "stored records = delivered records, newest first")

    def test_qos1_raw_puback_then_data_get(self):
        a = self.a
        ch = unique("q1raw")
        c = self.raw_connected(a["id"], a["auth"])
        for mid in (1, 2, 0x1234):
            c.publish(f"{a['id']}/data/{ch}", str(mid), qos=1, mid=mid)
            p = c.expect(PUBACK)
            self.assertEqual(p.body, mid.to_bytes(2, "big"))
            recs = self.server.data_get(ch, limit=1)
            self.assertEqual(len(recs), 1)
            self.assertEqual(recs[0]["data"], mid, "right after its PUBACK, the record is stored")

    # -- the stored record is the delivered record ---------------------------------------------
    def test_stored_record_equals_delivered_record(self):
        a, b = self.a, self.b
        base = unique("rec")
        sub = self.acct_sub()
        pa, pb = self.paho_dev(a), self.paho_dev(b)
        past = now_ms() - 3_600_000
        cases = [
            # (publisher, topic, payload, expected data)
            (pa, f"{a['id']}/data/{base}/num", "21.5", 21.5),
            (pa, f"{a['id']}/data/{base}/text", "hello world", "hello world"),
            (pa, f"{a['id']}/data/{base}/utf8", "h\u00e9llo \u2603", "h\u00e9llo \u2603"),
            (pa, f"{a['id']}/data/{base}/obj", '{"value":3,"nested":{"k":[1,2]}}',
             {"value": 3, "nested": {"k": [1, 2]}}),
            (pa, f"{a['id']}/data/{base}/arr", '[1,"x",null,true]', [1, "x", None, True]),
            (pa, f"{a['id']}/data/{base}/null", "null", None),
            (pa, f"{a['id']}/data/{base}/env",
             json.dumps({"data": {"a": 1}, "at": past, "other": "ignored"}, indent=2), {"a": 1}),
            (pa, f"{a['id']}/data/{base}/env-iso",
             json.dumps({"data": "iso", "at": iso(past + 1000)}), "iso"),
            (pa, f"/data/{base}/short", '"short form"', "short form"),
            # Another device of the account writes a's channel: the record is a's.
            (pb, f"{a['id']}/data/{base}/by-b", "7", 7),
            (pb, f"{b['id']}/data/{base}/deep/er/channel", "8", 8),
        ]
        for client, topic, payload, _ in cases:
            client.publish(topic, payload.encode())
        expected_topics = {}
        for client, topic, payload, data in cases:
            full = f"{a['id']}{topic}" if topic.startswith("/data/") else topic
            expected_topics[full] = data
        msgs = {}
        for topic, data in expected_topics.items():
            m = sub.messages.wait_topic(topic)
            check_record(self, m, data=data, near_now_ms=0)
            msgs[topic] = stored_form(m)
        self.assertEqual(msgs[f"{a['id']}/data/{base}/env"]["at"], past)
        self.assertEqual(msgs[f"{a['id']}/data/{base}/env-iso"]["at"], past + 1000)
        recs = self.server.wait_records(f"{base}/#", lambda r: len(r) >= len(cases),
                                        what=f"{len(cases)} records")
        for r in recs:
            self.assertStoredShape(r)
        self.assertEqual(len(recs), len(cases), recs)
        self.assertEqual(by_id(recs), {m["id"]: m for m in msgs.values()})
        self.assertNewestFirst(recs)
        self.assertEqual(msgs[f"{a['id']}/data/{base}/short"]["of"], a["id"])
        self.assertEqual(msgs[f"{a['id']}/data/{base}/by-b"]["of"], a["id"])

    def test_mosquitto_pub_qos_0_1_2_are_stored(self):
        a = self.a
        ch = unique("mq")
        sub = self.acct_sub()
        for q in (0, 1, 2):
            mosquitto_pub(self.port, a["id"], a["auth"], f"{a['id']}/data/{ch}/q{q}",
                          json.dumps({"qos": q}), extra=("-q", str(q)))
        delivered = {}
        for q in (0, 1, 2):
            m = sub.messages.wait_topic(f"{a['id']}/data/{ch}/q{q}")
            delivered[q] = stored_form(m)
        recs = self.server.wait_records(f"{ch}/#", lambda r: len(r) >= 3, what="3 records")
        self.assertEqual(by_id(recs), {d["id"]: d for d in delivered.values()})
        # mosquitto_pub -q 1 exited after its PUBACK: that record was committed then.
        self.assertEqual(self.server.data_get(f"{ch}/q1")[0]["data"], {"qos": 1})

    def test_account_login_publish_is_stored_as_the_device(self):
        a, acct = self.a, self.acct
        ch = unique("acct-pub")
        sub = self.acct_sub()
        login = self.paho(acct["email"], acct["password"])
        login.publish(f"{a['id']}/data/{ch}", '"from the account"', qos=1)
        recs = self.server.data_get(ch)
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["of"], a["id"])
        self.assertEqual(recs[0], stored_form(sub.messages.wait_topic(f"{a['id']}/data/{ch}")))

    # -- what is not stored --------------------------------------------------------------------
    def test_denied_binary_and_property_requests_are_not_stored(self):
        acct = self.acct
        f = self.server.make_prototype(acct["email"], unique("fresh"))
        x = self.x  # another account: never allowed to write f
        model = self.server.make_template(acct["email"])["id"]
        t1 = self.make_thing(model)
        t2 = self.make_thing(model)  # t1 may not write t2 (thing default perm [])
        ch = unique("deny")
        pf, px, pt1 = self.paho_dev(f), self.paho_dev(x), self.paho_dev(t1)
        # Denied: cross-account, and a thing writing another thing.
        px.publish(f"{f['id']}/data/{ch}/cross", '"cross-account"')
        pt1.publish(f"{t2['id']}/data/{ch}/thing", '"thing to thing"')
        # Binary.
        pf.publish(f"{f['id']}/data/{ch}/bin", b"\xff\xfe\x00\x81binary")
        # Property requests (their replies come back on the request topics).
        r = pf.request(prop_topic(f["id"], "set"), json.dumps({"p": 1}))
        self.assertEqual(r.payload, b"", "a successful property set replies with an empty payload")
        pf.request(prop_topic(f["id"], "get"), b"")
        pf.request(prop_topic(f["id"], "get"), '["p"]')
        # Sentinels, QoS 1 from the same connections: each publisher's earlier publishes have
        # been handled (and nothing of them queued) by the time of its PUBACK.
        px.publish(f"{x['id']}/data/{ch}/sentinel", "1", qos=1)
        pt1.publish(f"{t1['id']}/data/{ch}/sentinel", "2", qos=1)
        pf.publish(f"{f['id']}/data/{ch}/ok", "3", qos=1)
        self.assertEqual(datas(self.server.data_get("#", of=f["id"])), [3],
                         "f's only stored record is its own data publish")
        self.assertEqual(self.server.data_get("#", of=t2["id"]), [],
                         "a denied publish to t2 is not stored")
        got = self.server.data_get(f"{ch}/#")
        self.assertEqual(sorted((r["of"], r["channel"]) for r in got),
                         sorted([(x["id"], f"{ch}/sentinel"), (t1["id"], f"{ch}/sentinel"),
                                 (f["id"], f"{ch}/ok")]), got)
        self.assertEqual(self.server.data_get("ag/#", of=f["id"]), [])

    # -- queries -------------------------------------------------------------------------------
    def test_newest_first_by_at_not_by_arrival(self):
        a = self.a
        ch = unique("order")
        pub = self.paho_dev(a)
        base = now_ms() - 3_600_000
        order = [3, 7, 0, 9, 1, 5, 2, 8, 4, 6]
        for i in order:
            pub.publish(f"{a['id']}/data/{ch}", json.dumps({"data": i, "at": base + i * 1000}),
                        qos=1)
        recs = self.server.data_get(ch)
        self.assertEqual(datas(recs), list(range(9, -1, -1)))
        self.assertEqual([r["at"] for r in recs], [base + i * 1000 for i in range(9, -1, -1)])
        self.assertEqual(datas(self.server.data_get(ch, limit=3)), [9, 8, 7])
        self.assertEqual(datas(self.server.data_get(ch, limit=1)), [9])

    def test_before_and_after_in_ms_and_iso(self):
        a = self.a
        ch = unique("time")
        pub = self.paho_dev(a)
        base = now_ms() - 3_600_000
        for i in range(10):
            pub.publish(f"{a['id']}/data/{ch}", json.dumps({"data": i, "at": base + i * 1000}),
                        qos=1)
        # Bounds half-way between records: no question of < or <=.
        t = lambda i: base + i * 1000 + 500  # noqa: E731
        self.assertEqual(datas(self.server.data_get(ch, before=t(5))), [5, 4, 3, 2, 1, 0])
        self.assertEqual(datas(self.server.data_get(ch, after=t(2))), [9, 8, 7, 6, 5, 4, 3])
        self.assertEqual(datas(self.server.data_get(ch, after=t(2), before=t(6))),
                         [6, 5, 4, 3])
        self.assertEqual(datas(self.server.data_get(ch, after=t(2), before=t(6), limit=2)),
                         [6, 5])
        self.assertEqual(datas(self.server.data_get(ch, before=iso(t(5)))), [5, 4, 3, 2, 1, 0])
        self.assertEqual(datas(self.server.data_get(ch, after=iso(t(7)))), [9, 8])
        self.assertEqual(self.server.data_get(ch, before=base - 1), [])
        self.assertEqual(self.server.data_get(ch, after=t(9)), [])

    def test_before_and_after_an_oid_page_through(self):
        a = self.a
        ch = unique("page")
        pub = self.paho_dev(a)
        base = now_ms() - 3_600_000
        for i in range(10):  # in order of at: arrival order = at order = id order
            pub.publish(f"{a['id']}/data/{ch}", json.dumps({"data": i, "at": base + i * 1000}),
                        qos=1)
        recs = self.server.data_get(ch)
        self.assertEqual(datas(recs), list(range(9, -1, -1)))
        ids = {r["data"]: r["id"] for r in recs}
        self.assertEqual(datas(self.server.data_get(ch, before=ids[5])), [4, 3, 2, 1, 0])
        self.assertEqual(datas(self.server.data_get(ch, after=ids[5])), [9, 8, 7, 6])
        self.assertEqual(datas(self.server.data_get(ch, after=ids[2], before=ids[6])), [5, 4, 3])
        # Paging with --limit and --before LAST_ID returns every record once, in order.
        pages, cursor = [], None
        while True:
            page = self.server.data_get(ch, before=cursor, limit=3)
            if not page:
                break
            pages.append(datas(page))
            cursor = page[-1]["id"]
            self.assertLessEqual(len(pages), 5, "paging does not end")
        self.assertEqual(pages, [[9, 8, 7], [6, 5, 4], [3, 2, 1], [0]])

    def test_of_filter(self):
        a, b, x = self.a, self.b, self.x
        ch = unique("of")
        self.paho_dev(a).publish(f"{a['id']}/data/{ch}", '"a"', qos=1)
        self.paho_dev(b).publish(f"{b['id']}/data/{ch}", '"b"', qos=1)
        self.paho_dev(x).publish(f"{x['id']}/data/{ch}", '"x"', qos=1)
        self.assertEqual(sorted(datas(self.server.data_get(ch))), ["a", "b", "x"])
        self.assertEqual(datas(self.server.data_get(ch, of=a["id"])), ["a"])
        self.assertEqual(datas(self.server.data_get(ch, of=x["id"])), ["x"])
        self.assertEqual(sorted(datas(self.server.data_get(ch, of=[a["id"], b["id"]]))),
                         ["a", "b"])
        self.assertEqual(sorted(datas(self.server.data_get(ch, of=[a["id"].upper(), x["id"]]))),
                         ["a", "x"], "Plug-IDs are accepted case-insensitively")
        self.assertEqual(self.server.data_get(ch, of="dev-" + "0" * 24), [])
        for r in self.server.data_get(ch, of=b["id"]):
            self.assertEqual(r["of"], b["id"])

    def test_channel_masks(self):
        a = self.a
        root = unique("mask")
        pub = self.paho_dev(a)
        channels = ["room1/temp", "room2/temp", "room1/hum", "x/y/z", "room1/temp/raw", "x"]
        for ch in channels:
            pub.publish(f"{a['id']}/data/{root}/{ch}", json.dumps(ch), qos=1)

        def chans(mask):
            recs = self.server.data_get(f"{root}/{mask}")
            return sorted(r["channel"][len(root) + 1:] for r in recs)

        self.assertEqual(chans("#"), sorted(channels))
        self.assertEqual(chans("+/temp"), ["room1/temp", "room2/temp"])
        self.assertEqual(chans("room1/#"), ["room1/hum", "room1/temp", "room1/temp/raw"])
        # MQTT rules: "a/#" matches "a" too [MQTT-4.7.1-2].
        self.assertEqual(chans("x/#"), ["x", "x/y/z"])
        self.assertEqual(chans("x/+"), [])
        self.assertEqual(chans("room1/temp"), ["room1/temp"])
        self.assertEqual(chans("room1/+/raw"), ["room1/temp/raw"])
        self.assertEqual(chans("+/+/+"), ["room1/temp/raw", "x/y/z"])
        self.assertEqual(chans("+"), ["x"])
        self.assertEqual(chans("room"), [])
        # A mask is matched level by level, not as a prefix.
        self.assertEqual(self.server.data_get(root[:-2] + "/#"), [])

    def test_limit_default_100_and_max_10000(self):
        a = self.a
        ch = unique("lim")
        pub = self.paho_dev(a)
        for i in range(104):
            pub.publish(f"{a['id']}/data/{ch}", str(i))
        pub.publish(f"{a['id']}/data/{ch}", "104", qos=1)  # PUBACK: all 105 committed
        default = self.server.data_get(ch)
        self.assertEqual(len(default), 100, "--limit defaults to 100")
        self.assertEqual(datas(default), list(range(104, 4, -1)), "the 100 newest")
        full = self.server.data_get(ch, limit=10000)
        self.assertEqual(datas(full), list(range(104, -1, -1)))
        self.assertEqual(self.server.data_get(ch, limit=7), full[:7])

    def test_bad_limit_is_a_usage_error(self):
        # The command itself works (so exit 2 below is about the limit).
        self.assertIsInstance(self.server.data_get("#", limit=10000), list)
        self.assertIsInstance(self.server.data_get("#", limit=1), list)
        for limit in ("10001", "abc", "-1", "1.5"):
            with self.subTest(limit=limit):
                p = self.server.cli_run("data", "get", "#", "--limit", limit)
                self.assertEqual(p.returncode, 2, f"--limit {limit}: exit {p.returncode}, "
                                                  f"stdout {p.stdout!r} stderr {p.stderr!r}")
                self.assertTrue(p.stderr.strip(), "a usage error says why on stderr")

    def test_bad_mask_is_a_usage_error(self):
        for mask in ("#", "+", "a/+/b/#", "+/+"):
            self.assertIsInstance(self.server.data_get(mask, limit=1), list, mask)
        for mask in ("a/#/b", "a//b", "/a", "a/", "a+/b", "a/#x", ""):
            with self.subTest(mask=mask):
                p = self.server.cli_run("data", "get", mask)
                self.assertEqual(p.returncode, 2, f"mask {mask!r}: exit {p.returncode}, "
                                                  f"stdout {p.stdout!r} stderr {p.stderr!r}")
                self.assertTrue(p.stderr.strip(), "a usage error says why on stderr")
        p = self.server.cli_run("data", "get")
        self.assertEqual(p.returncode, 2, "data get without a mask")

    def test_human_output_without_json(self):
        a = self.a
        ch = unique("human")
        self.paho_dev(a).publish(f"{a['id']}/data/{ch}", '"readable-value"', qos=1)
        p = self.server.cli_run(*self.server.data_get_args(ch), json_flag=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(ch, p.stdout)
        self.assertIn("readable-value", p.stdout)


# ------------------------------------------------------------------------------------------------


class RestartTest(StoreMixin, FreshServerTestCase):
    """Volume, restarts and crashes: a server of its own per test."""

    def setUp(self):
        super().setUp()
        self.acct = self.server.make_account()
        self.a = self.server.make_prototype(self.acct["email"], "vol-a")
        self.b = self.server.make_prototype(self.acct["email"], "vol-b")

    def all_records(self):
        return self.server.data_get("#", of=[self.a["id"], self.b["id"]], limit=10000)

    def test_many_messages_are_all_stored_and_survive_a_restart(self):
        a, b, acct = self.a, self.b, self.acct
        sub = self.subscriber(acct["email"], acct["password"], "+/data/#")
        n = 200
        # 1. mosquitto_pub -l: 200 lines on one connection (text and JSON).
        lines = [f"line {i}" if i % 2 else json.dumps({"line": i}) for i in range(n)]
        mosquitto_pub_lines(self.port, a["id"], a["auth"], f"{a['id']}/data/mq/lines", lines,
                            qos=0)
        # 2. mosquitto_pub in a loop, QoS 0, 1 and 2, the /data/ form too.
        singles = 30
        for i in range(singles):
            topic = "/data/mq/single" if i % 3 == 0 else f"{a['id']}/data/mq/single"
            mosquitto_pub(self.port, a["id"], a["auth"], topic, json.dumps({"single": i}),
                          extra=("-q", str(i % 3)))
        # 3. paho QoS 0 and QoS 1 (not waiting for each PUBACK).
        pb = self.paho_dev(b)
        for i in range(n):
            pb.client.publish(f"{b['id']}/data/paho/q0", json.dumps({"q0": i}), qos=0)
        infos = [pb.client.publish(f"{b['id']}/data/paho/q1", json.dumps({"q1": i}), qos=1)
                 for i in range(n)]
        for info in infos:
            info.wait_for_publish(DEFAULT_TIMEOUT)
            self.assertTrue(info.is_published(), "every QoS 1 publish gets its PUBACK")
        total = 2 * n + singles + n
        msgs = self.collect_all(sub.messages, total, lambda m: "/data/" in m.topic)
        self.assertEqual(len(msgs), total, "each message delivered once")
        expected = {}
        for m in msgs:
            rec = stored_form(m)
            self.assertNotIn(rec["id"], expected, "record ids are unique")
            expected[rec["id"]] = rec
        self.assertEqual(sorted(r["data"]["line"] if isinstance(r["data"], dict) else
                                int(r["data"].split()[1])
                                for r in expected.values() if r["channel"] == "mq/lines"),
                         list(range(n)), "every line of mosquitto_pub -l")
        self.assertEqual(sorted(r["data"]["single"] for r in expected.values()
                                if r["channel"] == "mq/single"), list(range(singles)))

        recs = self.server.wait_records(
            "#", lambda r: len(r) >= total, timeout=DEFAULT_TIMEOUT, what=f"{total} records",
            of=[a["id"], b["id"]], limit=10000)
        self.assertEqual(len(recs), total)
        self.assertEqual(by_id(recs), expected, "stored = delivered (id, of, channel, data, at)")
        self.assertNewestFirst(recs)

        rc = self.server.restart()
        self.assertEqual(rc, 0, "exit status on SIGTERM")
        after = self.all_records()
        self.assertEqual(by_id(after), expected, "the same records after a restart")
        self.assertNewestFirst(after)
        # Storing goes on after the restart.
        sub2 = self.subscriber(acct["email"], acct["password"], "+/data/#")
        self.paho_dev(a).publish(f"{a['id']}/data/after-restart", "1", qos=1)
        new = self.server.data_get("after-restart")
        self.assertEqual(new, [stored_form(sub2.messages.wait_topic(
            f"{a['id']}/data/after-restart"))])
        self.assertNotIn(new[0]["id"], expected)
        self.assertEqual(len(self.all_records()), total + 1)

    def test_sigterm_flushes_every_queued_record(self):
        a, acct = self.a, self.acct
        sub = self.subscriber(acct["email"], acct["password"], f"{a['id']}/data/#")
        pub = self.paho_dev(a)
        n = 2000
        for i in range(n):
            pub.client.publish(f"{a['id']}/data/flush", json.dumps({"seq": i}), qos=0)
        msgs = self.collect_all(sub.messages, n, lambda m: m.topic == f"{a['id']}/data/flush")
        expected = by_id(stored_form(m) for m in msgs)
        # Everything was accepted and routed; SIGTERM at once, whatever the writer has left.
        self.assertEqual(self.server.stop(), 0, "exit status on SIGTERM")
        offline = self.server.data_get("flush", limit=10000)  # the CLI on the stopped server
        self.assertEqual(len(offline), n, "SIGTERM flushed every queued record")
        self.assertEqual(by_id(offline), expected)
        self.server.start()
        self.assertEqual(by_id(self.server.data_get("flush", limit=10000)), expected)

    def test_sigint_flushes_too(self):
        a, acct = self.a, self.acct
        sub = self.subscriber(acct["email"], acct["password"], f"{a['id']}/data/#")
        pub = self.paho_dev(a)
        n = 500
        for i in range(n):
            pub.client.publish(f"{a['id']}/data/int", json.dumps({"seq": i}), qos=0)
        msgs = self.collect_all(sub.messages, n, lambda m: m.topic == f"{a['id']}/data/int")
        expected = by_id(stored_form(m) for m in msgs)
        self.server.signal(signal.SIGINT)
        self.assertEqual(self.server.wait_exit(), 0, "exit status on SIGINT")
        self.server.stop()  # closes the log file
        self.assertEqual(by_id(self.server.data_get("int", limit=10000)), expected)
        self.server.start()

    def test_burst_from_many_publishers_is_never_dropped(self):
        # SPEC 7: when the writer falls behind, publishers are slowed; nothing is dropped.
        acct = self.acct
        devs = [self.server.make_prototype(acct["email"], f"burst-{i}") for i in range(4)]
        n = 5000
        clients = [self.paho_dev(d) for d in devs]
        for i in range(n):
            for d, c in zip(devs, clients):
                c.client.publish(f"{d['id']}/data/burst", str(i), qos=0)
        last = [c.client.publish(f"{d['id']}/data/burst", '"end"', qos=1)
                for d, c in zip(devs, clients)]
        for info in last:
            info.wait_for_publish(60)
            self.assertTrue(info.is_published(), "PUBACK of the last message")
        for d in devs:
            recs = self.server.wait_records(
                "burst", lambda r: len(r) >= n + 1, timeout=30, what=f"{n + 1} records of "
                f"{d['id']}", of=d["id"], limit=10000)
            self.assertEqual(len(recs), n + 1)
            self.assertEqual(datas(recs), ["end"] + list(range(n - 1, -1, -1)),
                             "every message, in the publisher's order")

    def test_kill9_loses_no_pubacked_record(self):
        a = self.a
        n = 500
        c = mqtt.Client(client_id=unique("dur"), clean_session=True, protocol=mqtt.MQTTv311)
        c.username_pw_set(a["id"], a["auth"])
        c.max_inflight_messages_set(100)
        c.reconnect_delay_set(30, 60)  # no reconnect (and no resend) before we close it
        acked = set()
        acked_lock = threading.Lock()
        connected = threading.Event()

        def on_publish(client, userdata, mid):
            with acked_lock:
                acked.add(mid)

        c.on_publish = on_publish
        c.on_connect = lambda client, userdata, flags, rc: rc == 0 and connected.set()
        c.connect(HOST, self.port, 60)
        c.loop_start()
        self.addCleanup(c.loop_stop)
        self.assertTrue(connected.wait(DEFAULT_TIMEOUT), "CONNACK")
        mids = {}
        first_kill_at = 50
        for seq in range(n):
            info = c.publish(f"{a['id']}/data/durable", json.dumps({"seq": seq}), qos=1)
            self.assertEqual(info.rc, mqtt.MQTT_ERR_SUCCESS)
            mids[seq] = info.mid
        # Kill as soon as some PUBACKs came back: the rest may be anywhere on the way.
        deadline = time.monotonic() + 30
        while True:
            with acked_lock:
                count = len(acked)
            if count >= first_kill_at:
                break
            self.assertLess(time.monotonic(), deadline, f"only {count} PUBACKs in 30 s")
            time.sleep(0.001)
        self.assertEqual(self.server.kill(), -9)
        c.disconnect()
        c.loop_stop()
        with acked_lock:
            acked_seqs = {seq for seq, mid in mids.items() if mid in acked}
        self.assertGreaterEqual(len(acked_seqs), first_kill_at)

        def check(records, when):
            for r in records:
                self.assertStoredShape(r)
                self.assertEqual((r["of"], r["channel"]), (a["id"], "durable"), r)
            seqs = [r["data"]["seq"] for r in records]
            self.assertEqual(len(seqs), len(set(seqs)), f"{when}: a record stored twice")
            self.assertEqual(len({r["id"] for r in records}), len(records))
            missing = sorted(acked_seqs - set(seqs))
            self.assertEqual(missing, [], f"{when}: PUBACKed records lost "
                                          f"({len(acked_seqs)} acked, {len(seqs)} stored)")
            return seqs

        # The CLI opens the crashed database as it is (SQLite recovers the WAL).
        stored = check(self.server.data_get("durable", limit=10000), "after kill -9")
        # The database is consistent.
        db = sqlite3.connect(os.path.join(self.server.data_dir, "plugmq.db"))
        try:
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        finally:
            db.close()
        # And the server starts on it; nothing acknowledged is lost, nothing doubles.
        self.server.start()
        again = check(self.server.data_get("durable", limit=10000), "after the restart")
        self.assertEqual(sorted(again), sorted(stored))
        note = f"{len(acked_seqs)} of {n} acked before the kill, {len(stored)} stored"
        # Storing goes on after the crash.
        pub = self.paho_dev(a)
        pub.publish(f"{a['id']}/data/durable", json.dumps({"seq": n}), qos=1)
        self.assertEqual(self.server.data_get("durable", limit=1)[0]["data"], {"seq": n},
                         note)


# ------------------------------------------------------------------------------------------------


class CommitIntervalTest(StoreMixin, FreshServerTestCase):
    """storage.commit_interval_ms: QoS 0 records wait for the interval, anything someone waits
    for (a QoS 1 PUBACK) commits at once with what is queued before it, SIGTERM writes what
    waits. The interval is long (10 s) so that "not yet committed" cannot be a slow machine."""

    server_config = {"storage": {"commit_interval_ms": 10000}}

    def setUp(self):
        super().setUp()
        self.acct = self.server.make_account()
        self.a = self.server.make_prototype(self.acct["email"], "interval-a")

    def test_qos0_waits_a_qos1_puback_commits_both_sigterm_writes_the_rest(self):
        a, acct = self.a, self.acct
        topic = f"{a['id']}/data/paced"
        sub = self.subscriber(acct["email"], acct["password"], f"{a['id']}/data/#")
        pub = self.paho_dev(a)
        # Nothing committed for a while: the first record goes at once.
        pub.client.publish(topic, '"first"', qos=0)
        self.server.wait_records("paced", lambda r: len(r) == 1, what="the first record")
        # The next QoS 0 one is routed at once but waits for the interval.
        pub.client.publish(topic, '"second"', qos=0)
        self.collect_all(sub.messages, 2, lambda m: m.topic == topic)
        self.assertEqual(datas(self.server.data_get("paced")), ["first"],
                         "a QoS 0 record waits for storage.commit_interval_ms")
        # A QoS 1 publish is acknowledged once committed, and commits what is queued before it.
        pub.publish(topic, '"third"', qos=1)  # waits for the PUBACK
        self.assertEqual(datas(self.server.data_get("paced")), ["third", "second", "first"])
        # A QoS 0 record still waiting when the server stops is written by SIGTERM.
        pub.client.publish(topic, '"fourth"', qos=0)
        self.collect_all(sub.messages, 4, lambda m: m.topic == topic)
        self.assertEqual(self.server.stop(), 0, "exit status on SIGTERM")
        self.assertEqual(datas(self.server.data_get("paced")),
                         ["fourth", "third", "second", "first"])
        self.server.start(self.server_args)


class RetentionTest(StoreMixin, ServerTestCase):
    """Expiry by ttl, expire_at and account retention (SPEC 7). The sweeper runs about every
    second: expired records are waited for up to SWEEP_SLACK s after their expiry."""

    @classmethod
    def setUpServer(cls):
        cls.acct30 = cls.server.make_account()  # default retention: 30 days
        cls.acct0 = cls.server.make_account(retention_days=0)  # forever
        cls.acct1 = cls.server.make_account(retention_days=1)
        cls.d30 = cls.server.make_prototype(cls.acct30["email"], "ret-30")
        cls.d0 = cls.server.make_prototype(cls.acct0["email"], "ret-0")
        cls.d1 = cls.server.make_prototype(cls.acct1["email"], "ret-1")

    def publish(self, dev, ch, payload):
        """QoS 1: returns once the record is committed."""
        self.paho_dev(dev).publish(f"{dev['id']}/data/{ch}", json.dumps(payload), qos=1)

    def wait_gone(self, ch, value, timeout, **query):
        return self.server.wait_records(ch, lambda r: value not in datas(r), timeout,
                                        f"record {value!r} to expire", limit=10000, **query)

    def test_ttl_expires_while_a_record_without_ttl_stays(self):
        d = self.d30
        ch = unique("ttl")
        sub = self.subscriber(self.acct30["email"], self.acct30["password"],
                              f"{d['id']}/data/{ch}")
        pub = self.paho_dev(d)
        pub.publish(f"{d['id']}/data/{ch}", '"keep"', qos=1)
        pub.publish(f"{d['id']}/data/{ch}", json.dumps({"data": "short", "ttl": 1}), qos=1)
        rec = check_record(self, sub.messages.wait(
            lambda m: m.json()["data"] == "short"), data="short")
        self.assertNotIn("ttl", rec, "the delivered record carries no ttl")
        expiry = rec["at"] + 1000
        first = self.server.data_get(ch)
        if now_ms() < expiry - 200:  # still well before its expiry: it must be there
            self.assertEqual(sorted(datas(first)), ["keep", "short"])
        self.wait_gone(ch, "short", 1 + SWEEP_SLACK)
        self.assertGreaterEqual(now_ms(), expiry - 100, "a ttl record expired early")
        self.assertEqual(datas(self.server.data_get(ch)), ["keep"])
        # A ttl applies in an account whose retention is forever, too.
        ch0 = unique("ttl0")
        self.publish(self.d0, ch0, {"data": "short0", "ttl": 1})
        self.publish(self.d0, ch0, "keep0")
        self.wait_gone(ch0, "short0", 1 + SWEEP_SLACK)
        self.assertEqual(datas(self.server.data_get(ch0)), ["keep0"])

    def test_expire_at_in_the_past_and_in_the_near_future(self):
        d = self.d30
        ch = unique("exp")
        start = now_ms()
        future = start + 3000
        self.publish(d, ch, {"data": "past", "expire_at": start - 1000})
        self.publish(d, ch, {"data": "future", "expire_at": future})
        self.publish(d, ch, "keep")
        first = self.server.data_get(ch)
        self.assertIn("keep", datas(first))
        if now_ms() < future - 200:
            self.assertIn("future", datas(first), "expire_at still ahead: the record is there")
        self.wait_gone(ch, "past", SWEEP_SLACK)
        recs = self.wait_gone(ch, "future", (future - now_ms()) / 1000 + SWEEP_SLACK)
        self.assertGreaterEqual(now_ms(), future - 100, "an expire_at record expired early")
        self.assertEqual(datas(recs), ["keep"])

    def test_expire_at_wins_over_ttl(self):
        d = self.d30
        ch = unique("exp-ttl")
        start = now_ms()
        self.publish(d, ch, {"data": "expire_at soon", "ttl": 3600, "expire_at": start + 2500})
        self.publish(d, ch, {"data": "expire_at late", "ttl": 1, "expire_at": start + 3_600_000})
        self.publish(d, ch, {"data": "ttl only", "ttl": 1})
        self.wait_gone(ch, "ttl only", 1 + SWEEP_SLACK)
        self.wait_gone(ch, "expire_at soon", 2.5 + SWEEP_SLACK)
        # By now the sweeper ran well past the ttl of 1 s: expire_at decided.
        self.assertEqual(datas(self.server.data_get(ch)), ["expire_at late"])

    def test_account_retention(self):
        now = now_ms()
        ch = unique("ret")
        # 30 days (default): a record of 40 days ago has expired; one of 20 days ago has not.
        self.publish(self.d30, ch, {"data": "30:40d", "at": now - 40 * DAY_MS})
        self.publish(self.d30, ch, {"data": "30:20d", "at": now - 20 * DAY_MS})
        self.publish(self.d30, ch, "30:now")
        # 1 day: 2 days ago expired, 12 hours ago not.
        self.publish(self.d1, ch, {"data": "1:2d", "at": now - 2 * DAY_MS})
        self.publish(self.d1, ch, {"data": "1:12h", "at": now - DAY_MS // 2})
        # 0 days: forever.
        self.publish(self.d0, ch, {"data": "0:40d", "at": now - 40 * DAY_MS})
        self.publish(self.d0, ch, {"data": "0:4000d", "at": now - 4000 * DAY_MS})
        self.wait_gone(ch, "30:40d", SWEEP_SLACK)
        self.wait_gone(ch, "1:2d", SWEEP_SLACK)
        keep = ["30:20d", "30:now", "1:12h", "0:40d", "0:4000d"]
        self.assertEqual(sorted(datas(self.server.data_get(ch))), sorted(keep))
        # The sweeper keeps running: the others stay (bounded window over one more sweep).
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            time.sleep(0.3)
            self.assertEqual(sorted(datas(self.server.data_get(ch))), sorted(keep))
        self.assertEqual(datas(self.server.data_get(ch, of=self.d0["id"])),
                         ["0:40d", "0:4000d"], "a 0-day account keeps records forever")


if __name__ == "__main__":
    unittest.main()


def thread_nice(pid: int, name: str) -> int:
    """The nice value of the thread of process `pid` named `name`."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            stat = f.read()
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        if comm == name:
            # After the command come the fields from the 3rd (state) on; nice is the 19th.
            return int(stat[stat.rindex(")") + 2:].split()[16])
    raise AssertionError(f"no thread {name!r} in process {pid}")


def may_take_nice_back(nice: int) -> bool:
    """Whether a thread of a process started from here may return to `nice` after going
    higher: CAP_SYS_NICE, or an RLIMIT_NICE that allows it."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NICE)
    if soft == resource.RLIM_INFINITY or 20 - nice <= soft:
        return True
    with open("/proc/self/status") as f:
        caps = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    return bool(caps >> 23 & 1)


class PlainSqliteTest(ServerTestCase):
    """The running server's database is a plain SQLite file: a connection through SQLite's
    default VFS (Python's sqlite3 here; the sqlite3 shell or a backup tool alike) sees its
    commits, and the server's writer, which writes through its paced VFS, waits for that
    connection's write lock (the same WAL, shared memory and file locks)."""

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.dev = cls.server.make_prototype(cls.acct["email"], "plain")

    def test_a_plain_connection_shares_the_running_database(self):
        pub = self.paho_dev(self.dev)
        topic = f"{self.dev['id']}/data/shared"
        pub.publish(topic, "1", qos=1)
        db = sqlite3.connect(os.path.join(self.server.data_dir, "plugmq.db"), timeout=10,
                             isolation_level=None)
        try:
            self.assertEqual(db.execute("PRAGMA journal_mode").fetchone(), ("wal",))
            self.assertEqual(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
            db.execute("BEGIN IMMEDIATE")
            info = pub.client.publish(topic, "2", qos=1)
            # Its commit, and so its PUBACK, waits for the write lock held here.
            info.wait_for_publish(1.0)
            self.assertFalse(info.is_published(), "PUBACK while another connection held "
                                                  "the write lock")
            db.execute("COMMIT")
            info.wait_for_publish(DEFAULT_TIMEOUT)
            self.assertTrue(info.is_published(), "no PUBACK after the lock was released")
        finally:
            db.close()
        records = self.server.data_get("shared", limit=10)
        self.assertEqual(sorted(r["data"] for r in records), [1, 2])


class WriterPriorityTest(ServerTestCase):
    """The data writer runs 10 steps nicer than the server while it keeps up, where the server
    may take its priority back; elsewhere it keeps the server's."""

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.dev = cls.server.make_prototype(cls.acct["email"], "prio")

    def test_writer_steps_aside_while_it_keeps_up(self):
        pid = self.server.proc.pid
        base = thread_nice(pid, "pq-io-0")
        pub = self.paho_dev(self.dev)
        # A committed record: the writer has written a batch, with a backlog of one.
        pub.publish(f"{self.dev['id']}/data/prio", "1", qos=1)
        expected = min(base + 10, 19) if base < 19 and may_take_nice_back(base) else base
        self.assertEqual(thread_nice(pid, "pq-writer"), expected,
                         f"the server's nice is {base}")
        self.assertEqual(thread_nice(pid, "pq-io-0"), base, "network threads keep the priority")
