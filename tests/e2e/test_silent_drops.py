"""What goes nowhere is said (at info level, once per client and topic per 10 s): a publish to a
topic plugmq does not store, without permission, or with a binary payload, and a subscription
that can never match a topic plugmq delivers. MQTT cannot tell the client; the log tells the
operator."""

import unittest

from harness import ServerTestCase, mosquitto_pub, wait_for


class SilentDropsTest(ServerTestCase):
    server_args = ("--log-level", "info")

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.dev = cls.server.make_prototype(cls.acct["email"], "sensor")
        other = cls.server.make_account()
        cls.stranger = cls.server.make_prototype(other["email"], "stranger")

    def wait_log(self, offset: int, text: str) -> str:
        return wait_for(lambda: text in self.server.log_text(offset) and
                        self.server.log_text(offset), what=f"'{text}' in the log")

    def test_publish_to_a_topic_plugmq_does_not_store(self):
        offset = self.server.log_size()
        mosquitto_pub(self.port, self.dev["id"], self.dev["auth"], "foo/bar", "1")
        self.wait_log(offset, "publish to 'foo/bar' dropped: not a topic plugmq stores "
                              "(PLUG_ID/data/CHANNEL or /data/CHANNEL)")

    def test_once_per_client_and_topic(self):
        offset = self.server.log_size()
        c = self.paho_dev(self.dev)
        for _ in range(5):
            c.publish("sensors/once", "1", qos=1)
        c.publish("sensors/marker", "1", qos=1)
        log = self.wait_log(offset, "publish to 'sensors/marker' dropped")
        self.assertEqual(log.count("publish to 'sensors/once' dropped"), 1, log)

    def test_publish_without_permission(self):
        offset = self.server.log_size()
        topic = f"{self.stranger['id']}/data/t"
        mosquitto_pub(self.port, self.dev["id"], self.dev["auth"], topic, "1")
        self.wait_log(offset, f"publish to '{topic}' dropped: no write permission on "
                              f"{self.stranger['id']}")
        nobody = "dev-000000000000000000000000"
        mosquitto_pub(self.port, self.dev["id"], self.dev["auth"], f"{nobody}/data/t", "1")
        self.wait_log(offset, f"publish to '{nobody}/data/t' dropped: no device {nobody}")

    def test_binary_payload(self):
        offset = self.server.log_size()
        topic = f"{self.dev['id']}/data/bin"
        self.paho_dev(self.dev).publish(topic, b"\xff\xfe\x00", qos=1)
        self.wait_log(offset, f"publish to '{topic}' dropped: the payload is not UTF-8 text")

    def test_subscription_that_can_never_match(self):
        offset = self.server.log_size()
        c = self.paho_dev(self.dev)
        c.subscribe("sensors/#")
        c.subscribe("+/data/#")  # matches: not logged
        self.wait_log(offset, "subscription to 'sensors/#' can never match a topic plugmq "
                              "delivers")
        self.assertNotIn("subscription to '+/data/#'", self.server.log_text(offset))


if __name__ == "__main__":
    unittest.main()
