"""Account isolation and permissions (SPEC sections 4 and 6): devices never reach across accounts;
an unauthorised publish is dropped silently (the connection stays up)."""

import json
import unittest

from harness import (NEGATIVE_WINDOW, ServerTestCase, check_record, mosquitto_pub,
                     sync_subscription)


class AccountIsolationTest(ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct1 = cls.server.make_account()
        cls.a1 = cls.server.make_prototype(cls.acct1["email"], "one-a")
        cls.b1 = cls.server.make_prototype(cls.acct1["email"], "one-b")
        cls.acct2 = cls.server.make_account()
        cls.a2 = cls.server.make_prototype(cls.acct2["email"], "two-a")

    def setUp(self):
        super().setUp()
        a1, b1, a2, acct1, acct2 = self.a1, self.b1, self.a2, self.acct1, self.acct2
        # Account 1: a device subscriber and an account-login subscriber.
        self.sub1 = self.subscriber(b1["id"], b1["auth"], "+/data/#")
        self.sub1_acct = self.subscriber(acct1["email"], acct1["password"], "#")
        # Account 2: device subscribers on +/data/# and #, and an account-login subscriber.
        self.sub2 = self.subscriber(a2["id"], a2["auth"], "+/data/#")
        self.sub2_all = self.subscriber(a2["id"], a2["auth"], "#")
        self.sub2_acct = self.subscriber(acct2["email"], acct2["password"], "#")
        self.pub1 = self.paho_dev(a1)
        self.pub2 = self.paho_dev(a2)
        # Each side sees its own traffic (proves the subscriptions work).
        for s in (self.sub2, self.sub2_all, self.sub2_acct):
            sync_subscription(s.messages, self.pub2.publish, f"{a2['id']}/data/sync")
        for s in (self.sub1, self.sub1_acct):
            sync_subscription(s.messages, self.pub1.publish, f"{a1['id']}/data/sync")
        self.acct2_subs = (self.sub2, self.sub2_all, self.sub2_acct)
        self.acct1_subs = (self.sub1, self.sub1_acct)

    def assert_none_in(self, subs, pred, what):
        # Deliveries take milliseconds; watch the first subscriber for the full window and the
        # others afterwards (their window overlaps the first one).
        for s in subs:
            s.messages.assert_nothing(pred, NEGATIVE_WINDOW if s is subs[0] else 0.05, what)

    def test_other_account_does_not_receive_my_data(self):
        a1 = self.a1
        self.pub1.publish(f"{a1['id']}/data/secret", '"s1"')
        mosquitto_pub(self.port, a1["id"], a1["auth"], f"{a1['id']}/data/secret2", '"s2"')
        check_record(self, self.sub1.messages.wait_topic(f"{a1['id']}/data/secret"), data="s1")
        check_record(self, self.sub1.messages.wait_topic(f"{a1['id']}/data/secret2"),
                     data="s2")
        self.assert_none_in(self.acct2_subs, lambda m: a1["id"] in m.topic,
                            "account-1 data delivered to account 2")

    def test_other_account_cannot_write_my_device(self):
        a1, a2 = self.a1, self.a2
        self.pub2.publish(f"{a1['id']}/data/x", '"intrusion"')
        mosquitto_pub(self.port, a2["id"], a2["auth"], f"{a1['id']}/data/y", '"intrusion"')
        mosquitto_pub(self.port, self.acct2["email"], self.acct2["password"],
                      f"{a1['id']}/data/z", '"intrusion"')
        self.assert_none_in(self.acct1_subs + self.acct2_subs,
                            lambda m: b"intrusion" in m.payload,
                            "cross-account write delivered")
        # Silently dropped: the connection is still up and works.
        self.pub2.publish(f"{a2['id']}/data/still-up", "1", qos=1)
        self.assertTrue(self.pub2.is_connected())
        self.sub2.messages.wait_topic(f"{a2['id']}/data/still-up")

    def test_my_device_cannot_write_other_account(self):
        a1, a2 = self.a1, self.a2
        self.pub1.publish(f"{a2['id']}/data/x", '"intrusion"')
        self.pub1.publish(f"{a2['id']}/data/y", '"intrusion"', qos=1)
        self.assert_none_in(self.acct2_subs + self.acct1_subs,
                            lambda m: b"intrusion" in m.payload,
                            "cross-account write delivered")
        self.pub1.publish(f"{a1['id']}/data/still-up", "1", qos=1)
        self.assertTrue(self.pub1.is_connected())
        self.sub1.messages.wait_topic(f"{a1['id']}/data/still-up")

    def test_account_login_cannot_write_other_account(self):
        a2 = self.a2
        mosquitto_pub(self.port, self.acct1["email"], self.acct1["password"],
                      f"{a2['id']}/data/x", '"intrusion"')
        self.assert_none_in(self.acct2_subs, lambda m: b"intrusion" in m.payload,
                            "cross-account write by an account login delivered")

    def test_unknown_device_topic_is_dropped(self):
        ghost = "dev-" + "0" * 24
        self.pub1.publish(f"{ghost}/data/x", '"ghost"', qos=1)
        self.assert_none_in(self.acct1_subs + self.acct2_subs, lambda m: b"ghost" in m.payload,
                            "publish to an unknown device delivered")
        self.assertTrue(self.pub1.is_connected())


class DevicePermissionTest(ServerTestCase):
    """Within an account: perm filters set with `device set --perm` apply to new logins."""

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.a = cls.server.make_prototype(cls.acct["email"], "perm-a")
        cls.b = cls.server.make_prototype(cls.acct["email"], "perm-b")
        cls.c = cls.server.make_prototype(cls.acct["email"], "perm-c")
        # c may read and write only a (not b).
        perm = {"of": {"r": [cls.a["id"]], "w": [cls.a["id"]]}, "ctrl": "rw"}
        cls.server.cli("device", "set", cls.c["id"], "--perm", json.dumps(perm))

    def test_restricted_device_reads_only_allowed(self):
        a, b, c = self.a, self.b, self.c
        sub_c = self.subscriber(c["id"], c["auth"], "+/data/#")
        sub_acct = self.subscriber(self.acct["email"], self.acct["password"], "+/data/#")
        pa = self.paho_dev(a)
        pb = self.paho_dev(b)
        pb.publish(f"{b['id']}/data/hidden", "1")
        pa.publish(f"{a['id']}/data/visible", "2")
        check_record(self, sub_c.messages.wait_topic(f"{a['id']}/data/visible"), data=2)
        sub_acct.messages.wait_topic(f"{b['id']}/data/hidden")
        sub_c.messages.assert_nothing(lambda m: m.topic == f"{b['id']}/data/hidden",
                                      NEGATIVE_WINDOW, "data of a device c may not read")

    def test_restricted_device_writes_only_allowed(self):
        a, b, c = self.a, self.b, self.c
        sub_acct = self.subscriber(self.acct["email"], self.acct["password"], "+/data/#")
        pc = self.paho_dev(c)
        pc.publish(f"{b['id']}/data/denied", "1")
        pc.publish(f"{a['id']}/data/allowed", "2")
        pc.publish(f"{c['id']}/data/own", "3")
        check_record(self, sub_acct.messages.wait_topic(f"{a['id']}/data/allowed"), data=2)
        check_record(self, sub_acct.messages.wait_topic(f"{c['id']}/data/own"), data=3)
        sub_acct.messages.assert_nothing(lambda m: m.topic == f"{b['id']}/data/denied",
                                         NEGATIVE_WINDOW, "write to a device c may not write")
        self.assertTrue(pc.is_connected())

    def test_empty_lists_isolate_device(self):
        d = self.server.make_prototype(self.acct["email"], "perm-none")
        self.server.cli("device", "set", d["id"], "--perm",
                        json.dumps({"of": {"r": [], "w": []}, "ctrl": ""}))
        sub_d = self.subscriber(d["id"], d["auth"], "+/data/#")
        pd = self.paho_dev(d)
        # Own data is always readable.
        sync_subscription(sub_d.messages, pd.publish, f"{d['id']}/data/own")
        pa = self.paho_dev(self.a)
        pa.publish(f"{self.a['id']}/data/not-for-d", "1")
        sub_d.messages.assert_nothing(lambda m: self.a["id"] in m.topic, NEGATIVE_WINDOW,
                                      "data of another device with of.r = []")


if __name__ == "__main__":
    unittest.main()
