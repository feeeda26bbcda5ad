"""Garbage and protocol violations close the offending connection and nothing else
([MQTT-4.8.0-1]); the server keeps serving the other clients."""

import random
import unittest

from harness import ServerTestCase, check_record, encode_connect, encode_publish, enc_str, \
    packet, unique


class GarbageTest(ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.dev = cls.server.make_prototype(cls.acct["email"], "robust")
        cls.watcher = cls.server.make_prototype(cls.acct["email"], "robust-watcher")

    def setUp(self):
        super().setUp()
        self.sub = self.subscriber(self.watcher["id"], self.watcher["auth"], "+/data/#")

    def assert_still_serving(self):
        """A publish made after the garbage still reaches the subscriber that was connected
        throughout."""
        dev = self.dev
        token = unique("alive")
        pub = self.paho_dev(dev)
        pub.publish(f"{dev['id']}/data/alive", f'"{token}"')
        msg = self.sub.messages.wait(lambda m: token.encode() in m.payload,
                                     what="a publish after the garbage")
        check_record(self, msg, data=token)
        self.assertTrue(self.sub.is_connected())

    def connected(self, keepalive=60):
        return self.raw_connected(self.dev["id"], self.dev["auth"], keepalive=keepalive)

    def test_http_request_on_mqtt_port(self):
        c = self.raw()
        # 'G' reads as packet type 4 and 'E' as a remaining length of 69: send enough bytes
        # that a parser reading whole packets gets a complete first packet that is not CONNECT.
        c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: e2e-test/1.0\r\n"
               b"Accept: */*\r\nConnection: close\r\n\r\n")
        c.wait_closed(5)
        self.assert_still_serving()

    def test_random_bytes_before_connect(self):
        c = self.raw()
        c.send(b"\x00" + random.Random(1).randbytes(512))  # type 0 is reserved
        c.wait_closed(5)
        self.assert_still_serving()

    def test_random_bytes_after_connect(self):
        # keep alive 1: even if the random bytes parse as the start of a long packet, the
        # connection ends within 1.5 s; either way it must close.
        for seed in range(3):
            with self.subTest(seed=seed):
                c = self.connected(keepalive=1)
                junk = random.Random(seed).randbytes(1024)
                c.send(b"\xf0" + junk if seed == 0 else junk)
                c.wait_closed(6)
        self.assert_still_serving()

    def test_packet_type_0(self):
        c = self.connected()
        c.send(b"\x00\x00")
        c.wait_closed(5)
        self.assert_still_serving()

    def test_packet_type_15(self):
        c = self.connected()
        c.send(b"\xf0\x00")
        c.wait_closed(5)
        self.assert_still_serving()

    def test_bad_remaining_length(self):
        c = self.connected()
        c.send(b"\x30\xff\xff\xff\xff\x7f")  # five-byte remaining length
        c.wait_closed(5)
        self.assert_still_serving()

    def test_bad_remaining_length_before_connect(self):
        c = self.raw()
        c.send(b"\x10\xff\xff\xff\xff\x01")
        c.wait_closed(5)
        self.assert_still_serving()

    def test_second_connect(self):
        c = self.connected()
        c.send(encode_connect(unique("again"), username=self.dev["id"],
                              password=self.dev["auth"]))
        c.wait_closed(5)
        self.assert_still_serving()

    def test_publish_with_plus_in_topic(self):  # [MQTT-3.3.2-2]
        c = self.connected()
        c.send(encode_publish(f"{self.dev['id']}/data/+", b"1"))
        c.wait_closed(5)
        self.sub.messages.assert_nothing(lambda m: m.topic.endswith("/data/+"), 0.2,
                                         "a publish with a wildcard topic")
        self.assert_still_serving()

    def test_publish_with_hash_in_topic(self):  # [MQTT-3.3.2-2]
        c = self.connected()
        c.send(encode_publish(f"{self.dev['id']}/data/#", b"1"))
        c.wait_closed(5)
        self.assert_still_serving()

    def test_publish_qos_3(self):  # [MQTT-3.3.1-4]
        c = self.connected()
        body = enc_str(f"{self.dev['id']}/data/q3") + b"\x00\x01" + b"1"
        c.send(packet(0x36, body))
        c.wait_closed(5)
        self.assert_still_serving()

    def test_publish_topic_invalid_utf8(self):  # [MQTT-1.5.3-1]
        c = self.connected()
        c.send(packet(0x30, enc_str(b"\xff\xfe/data/x") + b"1"))
        c.wait_closed(5)
        self.assert_still_serving()

    def test_subscribe_with_bad_flags(self):  # [MQTT-3.8.1-1]
        c = self.connected()
        c.send(packet(0x80, b"\x00\x01" + enc_str("+/data/#") + b"\x00"))
        c.wait_closed(5)
        self.assert_still_serving()

    def test_subscribe_without_filters(self):  # [MQTT-3.8.3-3]
        c = self.connected()
        c.send(packet(0x82, b"\x00\x01"))
        c.wait_closed(5)
        self.assert_still_serving()

    def test_truncated_connect_then_close(self):
        c = self.raw()
        full = encode_connect("half", username=self.dev["id"], password=self.dev["auth"])
        c.send(full[:len(full) // 2])
        c.close()
        self.assert_still_serving()

    def test_many_garbage_connections(self):
        clients = []
        for i in range(50):
            c = self.raw()
            c.send(bytes([i % 256]) + random.Random(100 + i).randbytes(64))
            clients.append(c)
        for c in clients:
            c.close(abort=True)
        self.assert_still_serving()


if __name__ == "__main__":
    unittest.main()
