"""Publishing on behalf of a device over MQTT (SPEC 4): the official iOS client's controller
publishes {"of":THING,"data":...} on its own CTRL/data/CH (or /data/CH); plugmq stores the record
as THING's and delivers it on THING/data/CH, after the write check a publish to THING/data/CH
gets (the one HTTP's "of" gets). Without write permission, or for a device that does not exist,
the publish is dropped and logged like the other silent drops."""

import json
import unittest

from harness import ServerTestCase, mosquitto_pub, unique, wait_for


class PublishOnBehalfTest(ServerTestCase):
    server_args = ("--log-level", "info")

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account(retention_days=0)

    def setUp(self):
        super().setUp()
        self.model = self.server.make_template(self.acct["email"])["id"]
        self.thing = self.make_thing(self.model)
        self.ctl = self.make_controller(self.thing)
        self.watch = self.subscriber(self.acct["email"], self.acct["password"], "+/data/#")

    def wait_log(self, offset: int, text: str) -> str:
        return wait_for(lambda: text in self.server.log_text(offset) and
                        self.server.log_text(offset), what=f"'{text}' in the log")

    def test_controller_publishes_as_its_thing(self):
        ch = unique("light")
        c = self.paho_dev(self.ctl)
        c.publish(f"{self.ctl['id']}/data/{ch}", json.dumps({"of": self.thing["id"], "data": 1}),
                  qos=1)
        msg = self.watch.messages.wait(lambda m: m.topic.endswith(f"/data/{ch}"))
        self.assertEqual(msg.topic, f"{self.thing['id']}/data/{ch}")
        self.assertEqual(msg.json()["data"], 1)
        # The short form, and mosquitto_pub as a second real client.
        c.publish(f"/data/{ch}", json.dumps({"of": self.thing["id"].upper(), "data": 2}), qos=1)
        mosquitto_pub(self.port, self.ctl["id"], self.ctl["auth"], f"/data/{ch}",
                      json.dumps({"of": self.thing["id"], "data": 3}), extra=("-q", "1"))
        stored = self.server.wait_records(ch, lambda rs: len(rs) == 3)
        self.assertEqual({r["of"] for r in stored}, {self.thing["id"]})
        self.assertEqual(sorted(r["data"] for r in stored), [1, 2, 3])
        self.assertEqual(self.watch.messages.matching(
            lambda m: m.topic == f"{self.ctl['id']}/data/{ch}"), [], "nothing as the controller")

    def test_without_write_permission_it_is_dropped_and_logged(self):
        # A thing whose "ctrl" is "r": its controllers read it, and may not write it.
        model = self.server.make_template(self.acct["email"], ctrl="r")["id"]
        self.thing = self.make_thing(model)
        self.ctl = self.make_controller(self.thing)
        ch = unique("ro")
        offset = self.server.log_size()
        c = self.paho_dev(self.ctl)
        c.publish(f"/data/{ch}", json.dumps({"of": self.thing["id"], "data": 1}), qos=1)
        nobody = "dev-000000000000000000000000"
        c.publish(f"/data/{ch}/2", json.dumps({"of": nobody, "data": 2}), qos=1)
        c.publish(f"/data/{ch}/3", json.dumps({"of": 5, "data": 3}), qos=1)
        c.publish(f"/data/{ch}/marker", "4", qos=1)
        self.watch.messages.wait_topic(f"{self.ctl['id']}/data/{ch}/marker")
        self.assertEqual(self.watch.messages.matching(lambda m: f"/data/{ch}/" in m.topic and
                                                      not m.topic.endswith("/marker")), [])
        self.assertEqual(self.watch.messages.matching(lambda m: m.topic.endswith(f"/data/{ch}")),
                         [])
        self.assertEqual([r["data"] for r in self.server.data_get(f"{ch}/#")], [4])
        self.wait_log(offset, f"publish to '/data/{ch}' dropped: no write permission on "
                              f"{self.thing['id']}")
        self.wait_log(offset, f"publish to '/data/{ch}/2' dropped: no device {nobody}")
        self.wait_log(offset, f"publish to '/data/{ch}/3' dropped: no device ")

    def test_of_with_id_updates_the_things_record(self):
        ch = unique("set")
        thing_pub = self.paho_dev(self.thing)
        thing_pub.publish(f"/data/{ch}", '"off"', qos=1)
        oid = self.watch.messages.wait_topic(f"{self.thing['id']}/data/{ch}").json()["id"]
        c = self.paho_dev(self.ctl)
        c.publish(f"/data/{ch}", json.dumps({"of": self.thing["id"], "id": oid, "data": "on"}),
                  qos=1)
        msg = self.watch.messages.wait(
            lambda m: m.topic == f"{self.thing['id']}/data/{ch}" and m.json()["data"] == "on")
        self.assertEqual(msg.json()["id"], oid)
        stored = self.server.data_get(ch)
        self.assertEqual([(r["id"], r["of"], r["data"]) for r in stored],
                         [(oid, self.thing["id"], "on")])


if __name__ == "__main__":
    unittest.main()
