"""Data exchange on PLUG_ID/data/CHANNEL (SPEC section 4): payload decoding, the delivered record,
the /data/CH short form, account logins, QoS 1 PUBACK, SUBACK codes, filters."""

import json
import re
import unittest

from harness import (NEGATIVE_WINDOW, ServerTestCase, check_record, mosquitto_pub, now_ms,
                     sync_subscription)


class DataExchangeTest(ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.a = cls.server.make_prototype(cls.acct["email"], "sensor-a")
        cls.b = cls.server.make_prototype(cls.acct["email"], "sensor-b")

    def synced_paho_sub(self, dev, topic="+/data/#"):
        """A paho subscriber logged in as `dev`, known to be receiving."""
        sub = self.subscriber(dev["id"], dev["auth"], topic)
        return sub

    def test_mosquitto_pub_to_mosquitto_sub_exact_record(self):
        a, b = self.a, self.b
        sub = self.mosquitto_sub(a["id"], a["auth"], ["+/data/#"])
        probe = self.paho_dev(a)
        sync_subscription(sub.messages, probe.publish, f"{a['id']}/data/sync")
        # Another device of the same account writes a's channel (prototype: of.w = null).
        before = now_ms()
        mosquitto_pub(self.port, b["id"], b["auth"], f"{a['id']}/data/temp", "21.5")
        msg = sub.messages.wait_topic(f"{a['id']}/data/temp")
        after = now_ms()
        m = re.fullmatch(rb'\{"id":"([0-9a-f]{24})","data":21\.5,"at":(\d+)\}', msg.payload)
        self.assertIsNotNone(m, f"payload must be exactly the compact record, got {msg.payload!r}")
        at = int(m.group(2))
        self.assertTrue(before - 2000 <= at <= after + 2000, f"at={at} not in [{before},{after}]")

    def test_same_device_publish_and_subscribe(self):
        a = self.a
        sub = self.mosquitto_sub(a["id"], a["auth"], [f"{a['id']}/data/#"])
        probe = self.paho_dev(a)
        sync_subscription(sub.messages, probe.publish, f"{a['id']}/data/sync")
        mosquitto_pub(self.port, a["id"], a["auth"], f"{a['id']}/data/self", "7")
        msg = sub.messages.wait_topic(f"{a['id']}/data/self")
        check_record(self, msg, data=7)

    def test_short_form_topic_is_expanded(self):
        a = self.a
        sub = self.synced_paho_sub(self.b)
        pub = self.paho_dev(a)
        pub.publish("/data/room/temp", "19")
        msg = sub.messages.wait_topic(f"{a['id']}/data/room/temp")
        check_record(self, msg, data=19)
        # And with mosquitto_pub.
        mosquitto_pub(self.port, a["id"], a["auth"], "/data/short2", '"x"')
        check_record(self, sub.messages.wait_topic(f"{a['id']}/data/short2"), data="x")
        self.assertEqual(sub.messages.matching(lambda m: m.topic.startswith("/")), [],
                         "nothing is delivered with the unexpanded /data/ topic")

    def test_envelope_with_at(self):
        a = self.a
        sub = self.synced_paho_sub(self.b)
        pub = self.paho_dev(a)
        pub.publish(f"{a['id']}/data/env", '{"data":{"a":1},"at":1700000000000}')
        rec = check_record(self, sub.messages.wait_topic(f"{a['id']}/data/env"),
                           data={"a": 1}, at=1700000000000)
        self.assertEqual(rec["data"], {"a": 1})

    def test_envelope_at_numeric_string_and_iso(self):
        a = self.a
        sub = self.synced_paho_sub(self.b)
        pub = self.paho_dev(a)
        pub.publish(f"{a['id']}/data/env-s", '{"data":1,"at":"1700000000000"}')
        pub.publish(f"{a['id']}/data/env-iso", '{"data":2,"at":"2023-11-14T22:13:20.000Z"}')
        check_record(self, sub.messages.wait_topic(f"{a['id']}/data/env-s"), data=1,
                     at=1700000000000)
        check_record(self, sub.messages.wait_topic(f"{a['id']}/data/env-iso"), data=2,
                     at=1700000000000)

    def test_envelope_pretty_printed_and_unknown_members(self):
        a = self.a
        sub = self.synced_paho_sub(self.b)
        pub = self.paho_dev(a)
        payload = json.dumps({"data": [1, 2, {"k": "v"}], "whatever": True, "ttl": 3600},
                             indent=2)
        pub.publish(f"{a['id']}/data/pretty", payload)
        check_record(self, sub.messages.wait_topic(f"{a['id']}/data/pretty"),
                     data=[1, 2, {"k": "v"}])

    def test_plain_values(self):
        a = self.a
        sub = self.synced_paho_sub(self.b)
        pub = self.paho_dev(a)
        cases = {
            "text": ("hello", "hello"),
            "text-spaces": ("hello world, 1 2 3", "hello world, 1 2 3"),
            "json-string": ('"quoted"', "quoted"),
            "obj-no-data": ('{"value":3}', {"value": 3}),
            "array": ("[1,2]", [1, 2]),
            "bool": ("true", True),
            "int": ("42", 42),
            "utf8": ("h\u00e9llo \u2603", "h\u00e9llo \u2603"),
        }
        for ch, (payload, _) in cases.items():
            pub.publish(f"{a['id']}/data/{ch}", payload.encode())
        for ch, (_, data) in cases.items():
            with self.subTest(channel=ch):
                check_record(self, sub.messages.wait_topic(f"{a['id']}/data/{ch}"), data=data)

    def test_record_ids_are_unique(self):
        a = self.a
        sub = self.synced_paho_sub(self.b)
        pub = self.paho_dev(a)
        for i in range(5):
            pub.publish(f"{a['id']}/data/uniq", str(i))
        sub.messages.wait(lambda m: m.topic == f"{a['id']}/data/uniq" and m.json()["data"] == 4)
        recs = [m.json() for m in sub.messages.matching(lambda m: m.topic.endswith("/data/uniq"))]
        self.assertEqual([r["data"] for r in recs], [0, 1, 2, 3, 4], "order of one publisher")
        self.assertEqual(len({r["id"] for r in recs}), 5, recs)

    def test_binary_payload_is_dropped(self):
        a = self.a
        sub = self.synced_paho_sub(self.b)
        pub = self.paho_dev(a)
        pub.publish(f"{a['id']}/data/bin", b"\xff\xfe\x00\x81binary")
        # Sentinel from the same connection: it is handled after the binary publish.
        pub.publish(f"{a['id']}/data/after-bin", "1")
        sub.messages.wait_topic(f"{a['id']}/data/after-bin")
        # Extra bounded window in case of reordering: a delivery would take milliseconds.
        sub.messages.assert_nothing(lambda m: m.topic == f"{a['id']}/data/bin",
                                    NEGATIVE_WINDOW, "delivery of a binary payload")
        self.assertTrue(pub.is_connected(), "a binary payload is dropped, not a violation")

    def test_account_login_reads_and_writes_its_devices(self):
        acct, a = self.acct, self.a
        acct_sub = self.subscriber(acct["email"], acct["password"], "+/data/#")
        mosquitto_pub(self.port, a["id"], a["auth"], f"{a['id']}/data/from-dev", "5")
        check_record(self, acct_sub.messages.wait_topic(f"{a['id']}/data/from-dev"), data=5)

        dev_sub = self.mosquitto_sub(a["id"], a["auth"], [f"{a['id']}/data/#"])
        sync_subscription(dev_sub.messages, acct_sub.publish, f"{a['id']}/data/sync")
        mosquitto_pub(self.port, acct["email"], acct["password"], f"{a['id']}/data/x", '"cmd"')
        check_record(self, dev_sub.messages.wait_topic(f"{a['id']}/data/x"), data="cmd")

    def test_subscription_filters(self):
        a = self.a
        sub = self.paho_dev(self.b)
        self.assertEqual(sub.subscribe(f"{a['id']}/data/room/+"), (0,))
        self.assertEqual(sub.subscribe("+/data/exact"), (0,))
        pub = self.paho_dev(a)
        pub.publish(f"{a['id']}/data/room/deep/no", "0")
        pub.publish(f"{a['id']}/data/other", "0")
        pub.publish(f"{a['id']}/data/room", "0")
        pub.publish(f"{a['id']}/data/exact", "1")
        pub.publish(f"{a['id']}/data/room/t1", "2")
        check_record(self, sub.messages.wait_topic(f"{a['id']}/data/room/t1"), data=2)
        check_record(self, sub.messages.wait_topic(f"{a['id']}/data/exact"), data=1)
        sub.messages.assert_nothing(
            lambda m: m.topic.split("/data/")[1] in ("room/deep/no", "other", "room"),
            NEGATIVE_WINDOW, "message outside the subscribed filters")

    def test_unsubscribe_stops_delivery(self):
        a = self.a
        sub = self.paho_dev(self.b)
        sub.subscribe(f"{a['id']}/data/unsub")
        sub.subscribe(f"{a['id']}/data/unsub-sentinel")
        pub = self.paho_dev(a)
        pub.publish(f"{a['id']}/data/unsub", "1")
        sub.messages.wait_topic(f"{a['id']}/data/unsub")
        sub.unsubscribe(f"{a['id']}/data/unsub")
        pub.publish(f"{a['id']}/data/unsub", "2")
        pub.publish(f"{a['id']}/data/unsub-sentinel", "3")
        sub.messages.wait_topic(f"{a['id']}/data/unsub-sentinel")
        sub.messages.assert_nothing(
            lambda m: m.topic == f"{a['id']}/data/unsub" and m.json()["data"] == 2,
            NEGATIVE_WINDOW, "delivery after UNSUBSCRIBE")


class QosTest(ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.a = cls.server.make_prototype(cls.acct["email"], "qos-a")

    def test_qos1_publish_gets_puback_and_is_delivered(self):
        a = self.a
        sub = self.subscriber(a["id"], a["auth"], f"{a['id']}/data/#")
        pub = self.paho_dev(a)
        info = pub.publish(f"{a['id']}/data/q1", "1.25", qos=1)
        self.assertTrue(info.is_published())
        check_record(self, sub.messages.wait_topic(f"{a['id']}/data/q1"), data=1.25)

    def test_qos1_puback_raw(self):
        a = self.a
        c = self.raw_connected(a["id"], a["auth"])
        c.publish(f"{a['id']}/data/q1raw", "3", qos=1, mid=0x1234)
        p = c.expect(4)  # PUBACK
        self.assertEqual(p.raw, b"\x40\x02\x12\x34")

    def test_suback_grants_the_qos_asked_for(self):
        a = self.a
        sub = self.paho_dev(a)
        self.assertEqual(sub.subscribe(f"{a['id']}/data/#", qos=1), (1,))
        self.assertEqual(sub.subscribe(f"{a['id']}/data/two", qos=2), (2,))
        # A QoS 1 publish to a QoS 0 subscription is delivered at QoS 0 (more in test_qos.py).
        c = self.raw_connected(a["id"], a["auth"])
        self.assertEqual(c.subscribe([(f"{a['id']}/data/rawq", 0)], mid=7), [0])
        sub.publish(f"{a['id']}/data/rawq", "1", qos=1)
        p = c.expect(3)
        self.assertEqual(p.flags & 0x06, 0, f"delivered with QoS 0: {p.raw!r}")
        topic, payload = p.publish_topic_payload()
        self.assertEqual(topic, f"{a['id']}/data/rawq")
        self.assertEqual(json.loads(payload)["data"], 1)

    def test_malformed_filters_get_0x80(self):
        a = self.a
        c = self.raw_connected(a["id"], a["auth"])
        codes = c.subscribe([(f"{a['id']}/data/#", 0), ("a/#/b", 0), (f"{a['id']}/data/x+", 0),
                             ("#", 1), ("+/data/#/x", 0)], mid=42)
        self.assertEqual(codes, [0, 0x80, 0x80, 1, 0x80])
        c.ping()  # a refused filter is not a protocol violation


if __name__ == "__main__":
    unittest.main()
