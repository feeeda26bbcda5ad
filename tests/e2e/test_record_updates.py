"""Updates by id (SPEC 4 and 10, docs/decisions/019): a published record with "id" names a record
of the same device and channel, which it replaces (data, at, expiry), keeping its id: over HTTP
the same id is answered, over MQTT the envelope does the same, and the update is delivered like
a new publish, to live subscribers, to persistent sessions that had the record already, and as
its topic's retained message when the record was. An id that names no such record is an HTTP
404, and over MQTT the publish is dropped (and logged), yet still acknowledged."""

import unittest

from harness import (OID_RE, ServerTestCase, check_record, curl, device_headers, http_request,
                     unique, wait_for)
from session_helpers import Persistent

SWEEP_SLACK = 6.0  # the sweeper runs about every second (SPEC 7); as test_retained.py


class RecordUpdateTest(ServerTestCase):
    server_args = ("--log-level", "info")

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account(retention_days=0)
        cls.dev = cls.server.make_prototype(cls.acct["email"], "meter")
        cls.other = cls.server.make_prototype(cls.acct["email"], "other")

    def put(self, channel: str, body, dev=None):
        return curl(self.server.http_port, "PUT", f"/iot/data/{channel}", body,
                    device_headers(dev or self.dev))

    def put_ok(self, channel: str, body, dev=None):
        r = self.put(channel, body, dev)
        self.assertEqual(r.status, 200, r.text)
        return r.json()

    def assert_404(self, reply):
        self.assertEqual(reply.status, 404, reply.text)
        body = reply.json()
        self.assertEqual(set(body), {"err", "msg"}, body)
        self.assertEqual(body["err"], 404)
        return body

    def history(self, channel: str):
        r = http_request(self.server.http_port, "GET", f"/iot/data/{channel}",
                         headers=device_headers(self.dev))
        self.assertEqual(r.status, 200, r.text)
        return r.json()

    def account_sub(self, channel: str):
        return self.subscriber(self.acct["email"], self.acct["password"], f"+/data/{channel}")

    # -- HTTP -------------------------------------------------------------------------------------
    def test_http_update_answers_the_same_id_and_replaces_the_record(self):
        ch = unique("http")
        sub = self.account_sub(ch)
        oid = self.put_ok(ch, {"data": 1, "at": 1000})
        self.assertRegex(oid, OID_RE)
        later = self.put_ok(ch, {"data": 9})
        # rest-python sends the id it was given; in capitals it is the same record.
        again = self.put_ok(ch, {"id": oid.upper(), "data": {"v": 2}, "at": 5000})
        self.assertEqual(again, oid)
        topic = f"{self.dev['id']}/data/{ch}"
        msg = sub.messages.wait(lambda m: m.topic == topic and m.json()["data"] == {"v": 2})
        check_record(self, msg, data={"v": 2}, at=5000)
        self.assertEqual(msg.json()["id"], oid, "delivered with the record's own id")
        stored = self.history(ch)
        self.assertEqual([(r["id"], r["data"], r["at"]) for r in stored],
                         [(later, 9, stored[0]["at"]), (oid, {"v": 2}, 5000)])
        # In an array too, beside a new record.
        ids = self.put_ok(ch, [{"id": oid, "data": 3}, {"data": 4}])
        self.assertEqual(ids[0], oid)
        self.assertNotIn(ids[1], (oid, later))
        self.assertEqual(sorted(r["data"] for r in self.history(ch)), [3, 4, 9])

    def test_http_id_that_names_no_such_record_is_404(self):
        ch = unique("miss")
        oid = self.put_ok(ch, {"data": 1})
        others = self.put_ok(ch, {"data": 1}, dev=self.other)
        on_other_channel = self.put_ok(ch + "x", {"data": 1})
        for bad in ("000000000000000000000000", "not-an-oid", 17, others, on_other_channel):
            with self.subTest(id=bad):
                body = self.assert_404(self.put(ch, {"id": bad, "data": 2}))
                self.assertIn("to update", body["msg"])
        # One unknown id refuses the whole call: nothing of it is stored.
        self.assert_404(self.put(ch, [{"data": 5}, {"id": "0" * 24, "data": 6}]))
        self.assertEqual([r["data"] for r in self.history(ch)], [1])
        self.assertEqual(self.history(ch)[0]["id"], oid)

    def test_http_update_needs_write_permission_on_the_device(self):
        model = self.server.make_template(self.acct["email"])["id"]
        thing = self.make_thing(model)
        ch = unique("perm")
        oid = self.put_ok(ch, {"data": 1})
        # A thing (of.w = []) may not write the prototype: the write check comes first.
        r = self.put(ch, {"id": oid, "of": self.dev["id"], "data": 2}, dev=thing)
        self.assertEqual(r.status, 403, r.text)
        # As itself, the id names no record of its own.
        self.assert_404(self.put(ch, {"id": oid, "data": 2}, dev=thing))
        self.assertEqual([r["data"] for r in self.history(ch)], [1])

    # -- MQTT -------------------------------------------------------------------------------------
    def test_mqtt_envelope_id_updates_the_record(self):
        ch = unique("mqtt")
        topic = f"{self.dev['id']}/data/{ch}"
        sub = self.account_sub(ch)
        pub = self.paho_dev(self.dev)
        pub.publish(topic, "20", qos=1)
        oid = sub.messages.wait_topic(topic).json()["id"]
        # Acknowledged once the update is stored: the history shows it at once.
        pub.publish(f"/data/{ch}", f'{{"id":"{oid}","data":21,"at":7000}}', qos=1)
        self.assertEqual([(r["id"], r["data"], r["at"]) for r in self.history(ch)],
                         [(oid, 21, 7000)])
        msg = sub.messages.wait(lambda m: m.topic == topic and m.json()["data"] == 21)
        self.assertEqual(msg.json(), {"id": oid, "data": 21, "at": 7000})
        # At once after the record, before it is committed (QoS 0 both).
        pub.publish(topic, "30")
        new = sub.messages.wait(lambda m: m.topic == topic and m.json()["data"] == 30).json()
        pub.publish(topic, f'{{"id":"{new["id"]}","data":31}}')
        sub.messages.wait(lambda m: m.topic == topic and m.json()["data"] == 31 and
                          m.json()["id"] == new["id"])
        self.server.wait_records(ch, lambda rs: sorted(r["data"] for r in rs) == [21, 31])

    def test_mqtt_id_that_names_no_such_record_is_dropped_and_logged(self):
        ch = unique("drop")
        topic = f"{self.dev['id']}/data/{ch}"
        others = self.put_ok(ch, {"data": 0}, dev=self.other)
        sub = self.account_sub(f"{ch}/#")
        sub2 = self.account_sub(ch)
        offset = self.server.log_size()
        pub = self.paho_dev(self.dev)
        unknown = "0" * 24
        for bad in (unknown, others, "xyz"):
            # Still acknowledged (MQTT cannot refuse a PUBLISH), in order with the others.
            pub.publish(topic, f'{{"id":"{bad}","data":1}}', qos=1)
        pub.publish(topic + "/marker", "2", qos=1)
        sub.messages.wait_topic(topic + "/marker")
        self.assertEqual(sub2.messages.matching(lambda m: m.topic == topic), [],
                         "a dropped update is delivered to nobody")
        self.assertEqual([r["id"] for r in self.history(ch)], [others], "nothing stored")
        log = wait_for(lambda: (lambda t: t if f'"id" "{unknown}" names no record' in t else None)(
            self.server.log_text(offset)), what="the drop in the log")
        self.assertIn(f"publish to '{topic}' dropped", log)

    def test_mqtt_update_reaches_a_persistent_session_that_had_the_record(self):
        ch = unique("keep")
        topic = f"{self.dev['id']}/data/{ch}"
        watcher = self.paho_dev(self.other)
        self.assertEqual(watcher.subscribe(topic, 1), (1,))
        keep = Persistent(self.port, self.other, unique("keep"))
        self.addCleanup(keep.close)
        keep.connect()
        keep.subscribe(topic, 1)
        pub = self.paho_dev(self.dev)
        pub.publish(topic, '"v1"', qos=1)
        wait_for(lambda: keep.data() == ["v1"], what="the record, live")
        oid = watcher.messages.wait_topic(topic).json()["id"]
        keep.disconnect()
        # While it is away, the record it had is updated: it gets the update on resume.
        pub.publish(topic, f'{{"id":"{oid}","data":"v2"}}', qos=1)
        self.assertTrue(keep.connect(), "session present")
        wait_for(lambda: keep.data() == ["v1", "v2"], what="the update, replayed")
        self.assertEqual(keep.got[1].qos, 1)
        self.assertEqual(keep.got[1].data(), "v2")

    def test_update_of_the_retained_record_is_the_retained_message(self):
        ch = unique("ret")
        topic = f"{self.dev['id']}/data/{ch}"
        pub = self.paho_dev(self.dev)
        info = pub.client.publish(topic, '"first"', qos=1, retain=True)
        info.wait_for_publish(10)
        self.assertTrue(info.is_published())
        oid = self.history(ch)[0]["id"]
        # Over HTTP, without "retain": the record stays its topic's retained message.
        self.assertEqual(self.put_ok(ch, {"id": oid, "data": "second"}), oid)
        c = self.paho(self.acct["email"], self.acct["password"])
        self.assertEqual(c.subscribe(topic, 1), (1,))
        m = c.messages.wait_topic(topic)
        self.assertTrue(m.retain)
        self.assertEqual(m.json()["id"], oid)
        self.assertEqual(m.json()["data"], "second")

    def test_update_takes_its_own_expiry(self):
        ch = unique("exp")
        oid = self.put_ok(ch, {"data": 1})
        keep = self.put_ok(ch, {"data": 2})
        # Expires in a second: the sweeper deletes the record, which lived forever before.
        self.assertEqual(self.put_ok(ch, {"id": oid, "data": 3, "ttl": 1}), oid)
        wait_for(lambda: [r["id"] for r in self.history(ch)] == [keep],
                 timeout=SWEEP_SLACK + 5, what="the updated record expired")
        # A record past its expiry is gone: an update of it is a 404 like any unknown id.
        self.assert_404(self.put(ch, {"id": oid, "data": 4}))


if __name__ == "__main__":
    unittest.main()
