"""Retained messages (SPEC 11, MQTT 3.1.1 section 3.3.1.3): a data PUBLISH with RETAIN 1 makes its
record the retained message of its topic, replacing the last one; a new subscription receives,
after its SUBACK, every retained message matching its filter that the session may read, with
RETAIN 1, at min(record QoS, granted QoS); live deliveries carry RETAIN 0; an empty retained
payload clears the topic's retained message and is otherwise a normal publish. Retained messages
survive a restart, expire with their record and go with their device. Over HTTP a record with
"retain": true does the same, and so does a will with its retain flag.

Retained messages of one SUBSCRIBE arrive oldest first (by the order their records were
stored), so a test shows that a message did NOT come by publishing a later retained "marker" on
a topic the same filter matches: once the marker is in, anything older would have come before
it."""

import json
import unittest

from harness import (DEFAULT_TIMEOUT, PUBACK, PUBLISH, SUBACK, FreshServerTestCase,
                     ServerTestCase, account_headers, device_headers, encode_subscribe, http_request,
                     mosquitto_pub, packet, unique)

SWEEP_SLACK = 6.0  # the sweeper runs about every second (SPEC 7); as test_persistence.py


def datas(records):
    return [r["data"] for r in records]


class RetainedTest(ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account(retention_days=0)
        cls.pub = cls.server.make_prototype(cls.acct["email"])
        cls.other = cls.server.make_prototype(cls.acct["email"])

    # -- helpers ----------------------------------------------------------------------------------
    def topic(self, channel: str, dev=None) -> str:
        return f"{(dev or self.pub)['id']}/data/{channel}"

    def retain(self, channel: str, payload, qos: int = 1, dev=None) -> None:
        """A retained publish with paho; QoS 1 returns once it is stored."""
        c = self.paho_dev(dev or self.pub)
        info = c.client.publish(self.topic(channel, dev), payload, qos=qos, retain=True)
        if qos:
            info.wait_for_publish(DEFAULT_TIMEOUT)
            self.assertTrue(info.is_published(), "PUBACK of a retained publish")
        c.close()

    def acct_paho(self):
        return self.paho(self.acct["email"], self.acct["password"])

    def subscribe(self, filt: str, qos: int = 0, client=None):
        c = client or self.acct_paho()
        self.assertEqual(c.subscribe(filt, qos), (qos,), f"SUBACK for {filt!r}")
        return c

    def wait_data(self, c, topic: str, data, timeout: float = DEFAULT_TIMEOUT):
        return c.messages.wait(lambda m: m.topic == topic and m.json()["data"] == data, timeout,
                               f"{data!r} on {topic!r}")

    # -- tests ------------------------------------------------------------------------------------
    def test_MQTT_3_3_1_5_retained_replaces(self):
        ch = unique("replace")
        self.retain(ch, "1")
        self.retain(ch, "2")
        c = self.subscribe(self.topic(ch), 1)
        m = self.wait_data(c, self.topic(ch), 2)
        self.assertTrue(m.retain)
        # The marker comes after anything older that would still be retained.
        marker = ch + "/marker"
        self.retain(marker, '"m"')
        c2 = self.subscribe(self.topic(ch) + "/#")
        self.wait_data(c2, self.topic(marker), "m")
        self.assertEqual(datas(m.json() for m in c2.messages.matching(
            lambda m: m.topic == self.topic(ch))), [2], "only the last retained message")

    def test_MQTT_3_3_1_6_new_subscription_gets_retained(self):
        base = unique("new")
        self.retain(f"{base}/a", '"a"')
        self.retain(f"{base}/b/c", '"bc"', qos=0)
        self.server.wait_records(f"{base}/b/c", lambda r: datas(r) == ["bc"])  # QoS 0: stored
        self.paho_dev(self.pub).publish(self.topic(f"{base}/x"), '"not retained"', qos=1)
        self.retain(f"{base}/z", '"z"')  # the marker: the newest
        # '+': one level.
        c = self.subscribe(f"+/data/{base}/+")
        self.wait_data(c, self.topic(f"{base}/z"), "z")
        self.assertEqual(sorted(m.json()["data"] for m in c.messages.items), ["a", "z"])
        self.assertTrue(all(m.retain for m in c.messages.items))
        # '#': every level below, in the order stored, at min(record QoS, granted QoS).
        c = self.subscribe(f"{self.pub['id']}/data/{base}/#", qos=1)
        self.wait_data(c, self.topic(f"{base}/z"), "z")
        got = [(m.json()["data"], m.qos, m.retain) for m in c.messages.items]
        self.assertEqual(got, [("a", 1, True), ("bc", 0, True), ("z", 1, True)])
        # A real client: mosquitto_sub prints the retain flag with -F %r.
        s = self.mosquitto_sub(self.acct["email"], self.acct["password"],
                               (f"+/data/{base}/#",), extra=("-F", "%t %r %p"))
        s.messages.wait(lambda m: m.topic == self.topic(f"{base}/z") and m.payload[:2] == b"1 ")
        self.assertEqual(sorted(m.payload[:2] for m in s.messages.items), [b"1 "] * 3)

    def test_MQTT_3_3_1_8_retain_flag_set_on_retained_delivery(self):
        ch = unique("flag")
        self.retain(ch, '"r"', qos=1)
        c = self.raw_connected(self.acct["email"], self.acct["password"])
        c.send(encode_subscribe(7, [(self.topic(ch), 2)]))
        # The SUBACK first, then the retained message [MQTT-3.3.1-6].
        p = c.read_packet()
        self.assertEqual((p.type, p.body), (SUBACK, b"\x00\x07\x02"))
        p = c.read_packet()
        self.assertEqual(p.type, PUBLISH)
        self.assertEqual(p.flags & 0x01, 1, "RETAIN 1")
        self.assertEqual((p.flags >> 1) & 3, 1, "min(record QoS 1, granted 2)")
        topic, payload = p.publish_topic_payload()
        self.assertEqual((topic, json.loads(payload)["data"]), (self.topic(ch), "r"))
        c.send(packet(PUBACK << 4, p.body[2 + len(topic):4 + len(topic)]))
        c.ping()

    def test_MQTT_3_3_1_9_live_delivery_retain_0(self):
        ch = unique("live")
        c = self.subscribe(self.topic(ch), 1)
        self.retain(ch, '"live"')
        m = self.wait_data(c, self.topic(ch), "live")
        self.assertFalse(m.retain, "a live delivery of a retained publish has RETAIN 0")
        # mosquitto_pub -r as the publisher: the same.
        mosquitto_pub(self.port, self.pub["id"], self.pub["auth"], self.topic(ch), '"m"',
                      extra=("-r", "-q", "1"))
        self.assertFalse(self.wait_data(c, self.topic(ch), "m").retain)

    def test_MQTT_3_3_1_10_empty_payload_clears(self):
        ch = unique("clear")
        self.retain(ch, '"before"')
        live = self.subscribe(self.topic(ch), 1)
        self.wait_data(live, self.topic(ch), "before")
        # mosquitto_pub -r -m '': a retained PUBLISH with an empty payload [MQTT-3.3.1-10].
        mosquitto_pub(self.port, self.pub["id"], self.pub["auth"], self.topic(ch), "",
                      extra=("-r", "-q", "1"))
        # Processed as a normal publish: delivered with RETAIN 0 and stored, with data "".
        m = self.wait_data(live, self.topic(ch), "")
        self.assertFalse(m.retain)
        self.assertEqual(datas(self.server.data_get(ch)), ["", "before"])
        # Cleared [MQTT-3.3.1-11]: a new subscription gets only the later marker.
        self.retain(ch + "/marker", '"m"')
        c = self.subscribe(self.topic(ch) + "/#")
        self.wait_data(c, self.topic(ch + "/marker"), "m")
        self.assertEqual([m.topic for m in c.messages.items], [self.topic(ch + "/marker")])

    def test_retained_expires_with_its_record(self):
        ch = unique("ttl")
        self.retain(ch, json.dumps({"data": "short", "ttl": 1}))
        self.server.wait_records(ch, lambda r: "short" not in datas(r), 1 + SWEEP_SLACK,
                                 "the ttl record to expire")
        self.retain(ch + "/marker", '"m"')
        c = self.subscribe(self.topic(ch) + "/#")
        self.wait_data(c, self.topic(ch + "/marker"), "m")
        self.assertEqual([m.topic for m in c.messages.items], [self.topic(ch + "/marker")])

    def test_retained_deleted_with_its_device(self):
        ch = unique("gone")
        dev = self.server.make_prototype(self.acct["email"])
        self.retain(ch, '"doomed"', dev=dev)
        c = self.subscribe(f"+/data/{ch}")
        self.wait_data(c, self.topic(ch, dev), "doomed")
        r = http_request(self.server.http_port, "DELETE", "/iot/device", [dev["id"]],
                         account_headers(self.acct))  # unenroll: the device and its data
        self.assertEqual((r.status, r.json()), (200, 1), r.body)
        self.retain(ch, '"m"')  # the marker, of another device
        c = self.subscribe(f"+/data/{ch}")
        self.wait_data(c, self.topic(ch), "m")
        self.assertEqual([m.topic for m in c.messages.items], [self.topic(ch)])

    def test_retained_not_sent_without_read_permission(self):
        ch = unique("perm")
        reader = self.server.make_prototype(self.acct["email"])
        self.server.cli("device", "set", reader["id"], "--perm",
                        json.dumps({"of": {"r": [], "w": []}}))
        self.retain(ch, '"secret"')  # of self.pub, which the reader may not read
        self.retain(ch, '"own"', dev=reader)  # the marker: its own
        c = self.subscribe(f"+/data/{ch}", client=self.paho_dev(reader))
        self.wait_data(c, self.topic(ch, reader), "own")
        self.assertEqual([m.topic for m in c.messages.items], [self.topic(ch, reader)])
        # Another account's session: none of them.
        stranger = self.server.make_account()
        mine = self.server.make_prototype(stranger["email"])
        self.retain(ch, '"theirs"', dev=mine)
        c2 = self.subscribe("#", client=self.paho(stranger["email"], stranger["password"]))
        self.wait_data(c2, self.topic(ch, mine), "theirs")
        self.assertEqual([m.topic for m in c2.messages.items], [self.topic(ch, mine)])

    def test_http_retain_true(self):
        ch = unique("http")
        hdrs = device_headers(self.pub)
        r = http_request(self.server.http_port, "PUT", f"/iot/data/{ch}",
                         {"data": 5, "retain": True}, hdrs)
        self.assertEqual(r.status, 200, r.body)
        c = self.subscribe(self.topic(ch), 2)
        m = self.wait_data(c, self.topic(ch), 5)
        self.assertEqual((m.retain, m.qos), (True, 1), "an HTTP record counts as QoS 1")
        bad = http_request(self.server.http_port, "PUT", f"/iot/data/{ch}",
                           {"data": 6, "retain": "yes"}, hdrs)
        self.assertEqual(bad.status, 400)
        self.assertIn("retain", bad.json()["msg"])
        # "data": "" with "retain": true clears it.
        r = http_request(self.server.http_port, "PUT", f"/iot/data/{ch}",
                         [{"data": "", "retain": True}, {"channel": ch + "/m", "data": "m",
                                                        "retain": True}], hdrs)
        self.assertEqual(r.status, 200, r.body)
        c = self.subscribe(self.topic(ch) + "/#")
        self.wait_data(c, self.topic(ch + "/m"), "m")
        self.assertEqual([m.topic for m in c.messages.items], [self.topic(ch + "/m")])

    def test_will_retain(self):
        ch = unique("will")
        dev = self.raw()
        rc = dev.connect(unique("willer"), username=self.pub["id"], password=self.pub["auth"],
                         will_topic=self.topic(ch), will_payload='"gone"', will_qos=1,
                         will_retain=True)
        self.assertEqual(rc, 0)
        dev.close(abort=True)  # no DISCONNECT: the will is published, retained
        self.server.wait_records(ch, lambda r: datas(r) == ["gone"], what="the will's record")
        c = self.subscribe(self.topic(ch), 2)
        m = self.wait_data(c, self.topic(ch), "gone", timeout=DEFAULT_TIMEOUT)
        self.assertEqual((m.retain, m.qos), (True, 1), "the will's QoS")


class RetainedRestartTest(FreshServerTestCase):
    def test_retained_survives_restart(self):
        acct = self.server.make_account()
        pub = self.server.make_prototype(acct["email"])
        ch = unique("restart")
        topic = f"{pub['id']}/data/{ch}"
        c = self.paho_dev(pub)
        for i, value in enumerate(('"sigterm"', '"kill9"')):
            info = c.client.publish(topic, value, qos=1, retain=True)
            info.wait_for_publish(DEFAULT_TIMEOUT)
            self.assertTrue(info.is_published())
            c.close()
            self.server.restart(crash=i == 1)  # a PUBACKed retained message survives both
            sub = self.paho(acct["email"], acct["password"])
            self.assertEqual(sub.subscribe(topic, 1), (1,))
            m = sub.messages.wait(lambda m: m.topic == topic, what="the retained message")
            self.assertEqual((m.json()["data"], m.retain), (json.loads(value), True))
            sub.close()
            c = self.paho_dev(pub)
        c.close()


if __name__ == "__main__":
    unittest.main()
