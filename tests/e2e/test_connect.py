"""CONNECT handling (SPEC section 3): login kinds, CONNACK return codes, protocol level, client
ids, session takeover scoped to the login identity."""

import subprocess
import unittest

from harness import (HOST, DEFAULT_TIMEOUT, ServerTestCase, encode_connect, paho_connect_rc,
                     unique)

CONNACK_UNACCEPTABLE_PROTOCOL = b"\x20\x02\x00\x01"


class ConnackCodesTest(ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.dev = cls.server.make_prototype(cls.acct["email"], "connect-dev")

    def test_device_login_ok(self):
        self.assertEqual(paho_connect_rc(self.port, self.dev["id"], self.dev["auth"]), 0)

    def test_plug_id_case_insensitive(self):
        self.assertEqual(paho_connect_rc(self.port, self.dev["id"].upper(), self.dev["auth"]), 0)

    def test_account_login_ok(self):
        self.assertEqual(paho_connect_rc(self.port, self.acct["email"], self.acct["password"]), 0)

    def test_wrong_device_password_is_4(self):
        self.assertEqual(paho_connect_rc(self.port, self.dev["id"], "0" * 32), 4)

    def test_wrong_password_raw_connack_then_close(self):
        c = self.raw()
        self.assertEqual(c.connect(username=self.dev["id"], password="wrong"), 4)
        c.wait_closed(5)

    def test_unknown_plug_id_is_4(self):
        self.assertEqual(paho_connect_rc(self.port, "dev-" + "0" * 24, self.dev["auth"]), 4)

    def test_malformed_username_is_4(self):
        self.assertEqual(paho_connect_rc(self.port, "not-a-plug-id", self.dev["auth"]), 4)

    def test_wrong_account_password_is_4(self):
        self.assertEqual(paho_connect_rc(self.port, self.acct["email"], "wrong-password"), 4)

    def test_unknown_account_is_4(self):
        self.assertEqual(paho_connect_rc(self.port, "nobody@example.com", "whatever"), 4)

    def test_mosquitto_sub_bad_password(self):
        p = subprocess.run(["mosquitto_sub", "-h", HOST, "-p", str(self.port), "-u",
                            self.dev["id"], "-P", "wrong", "-t", "+/data/#", "-C", "1", "-W", "10"],
                           capture_output=True, text=True, timeout=20)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        err = p.stderr.lower()
        self.assertTrue("bad user name or password" in err or "not authori" in err, p.stderr)

    def test_disabled_device_is_5_and_reenabled_is_0(self):
        dev = self.server.make_prototype(self.acct["email"], "to-disable")
        self.assertEqual(paho_connect_rc(self.port, dev["id"], dev["auth"]), 0)
        self.server.cli("device", "set", dev["id"], "--status", "disabled")
        self.assertEqual(paho_connect_rc(self.port, dev["id"], dev["auth"]), 5)
        c = self.raw()
        self.assertEqual(c.connect(username=dev["id"], password=dev["auth"]), 5)
        c.wait_closed(5)
        self.server.cli("device", "set", dev["id"], "--status", "ok")
        self.assertEqual(paho_connect_rc(self.port, dev["id"], dev["auth"]), 0)

    def test_disabled_device_wrong_password_is_not_accepted(self):
        dev = self.server.make_prototype(self.acct["email"], "disabled-wrong-pw")
        self.server.cli("device", "set", dev["id"], "--status", "disabled")
        self.assertIn(paho_connect_rc(self.port, dev["id"], "0" * 32), (4, 5))

    def test_disabled_account_is_5(self):
        acct = self.server.make_account()
        dev = self.server.make_prototype(acct["email"], "in-disabled-account")
        self.assertEqual(paho_connect_rc(self.port, dev["id"], dev["auth"]), 0)
        self.server.cli("account", "set", acct["email"], "--disabled", "true")
        self.assertEqual(paho_connect_rc(self.port, dev["id"], dev["auth"]), 5)
        self.assertEqual(paho_connect_rc(self.port, acct["email"], acct["password"]), 5)
        self.server.cli("account", "set", acct["email"], "--disabled", "false")
        self.assertEqual(paho_connect_rc(self.port, dev["id"], dev["auth"]), 0)
        self.assertEqual(paho_connect_rc(self.port, acct["email"], acct["password"]), 0)

    def test_password_change_applies_to_new_logins(self):
        acct = self.server.make_account()
        self.server.cli("account", "set", acct["email"], "--password", "new-password-1")
        self.assertEqual(paho_connect_rc(self.port, acct["email"], acct["password"]), 4)
        self.assertEqual(paho_connect_rc(self.port, acct["email"], "new-password-1"), 0)

    def test_protocol_level_3_mqisdp_is_1(self):
        c = self.raw()
        c.send(encode_connect("old-client", proto_name="MQIsdp", proto_level=3,
                              username=self.dev["id"], password=self.dev["auth"]))
        p = c.read_packet(DEFAULT_TIMEOUT)
        self.assertEqual(p.raw, CONNACK_UNACCEPTABLE_PROTOCOL)
        c.wait_closed(5)

    def test_protocol_level_5_is_1(self):
        c = self.raw()
        c.send(encode_connect("v5-client", proto_level=5, v5_properties=True,
                              username=self.dev["id"], password=self.dev["auth"]))
        p = c.read_packet(DEFAULT_TIMEOUT)
        self.assertEqual(p.raw, CONNACK_UNACCEPTABLE_PROTOCOL)
        c.wait_closed(5)

    def test_empty_client_id_clean_session_0_is_2(self):
        c = self.raw()
        self.assertEqual(c.connect("", clean=False, username=self.dev["id"],
                                   password=self.dev["auth"]), 2)
        c.wait_closed(5)

    def test_empty_client_id_clean_session_1_is_accepted(self):
        c = self.raw()
        self.assertEqual(c.connect("", clean=True, username=self.dev["id"],
                                   password=self.dev["auth"]), 0)
        c.ping()

    def test_client_id_forms_are_accepted(self):
        for cid in (self.dev["id"], "00:11:22:33:44:55", unique("rand"), "hw-1234/My Name"):
            with self.subTest(client_id=cid):
                self.assertEqual(paho_connect_rc(self.port, self.dev["id"], self.dev["auth"],
                                                 client_id=cid), 0)

    def test_persistent_session_login(self):
        # clean session 0 with a client id is a normal login.
        c = self.raw()
        self.assertEqual(c.connect(unique("persist"), clean=False, username=self.dev["id"],
                                   password=self.dev["auth"]), 0)
        c.ping()

    def test_first_packet_not_connect_closes(self):
        c = self.raw()
        c.send(b"\xc0\x00")  # PINGREQ before CONNECT
        c.wait_closed(5)

    def test_first_packet_subscribe_closes(self):
        c = self.raw()
        c.send(b"\x82\x08\x00\x01\x00\x03a/b\x00")
        c.wait_closed(5)


class TakeoverTest(ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.d1 = cls.server.make_prototype(cls.acct["email"], "take-1")
        cls.d2 = cls.server.make_prototype(cls.acct["email"], "take-2")

    def test_same_identity_same_client_id_closes_first(self):
        cid = unique("dup")
        first = self.raw_connected(self.d1["id"], self.d1["auth"], cid)
        second = self.raw_connected(self.d1["id"], self.d1["auth"], cid)
        first.wait_closed(5)
        second.ping()

    def test_same_identity_other_client_id_coexists(self):
        first = self.raw_connected(self.d1["id"], self.d1["auth"], unique("a"))
        second = self.raw_connected(self.d1["id"], self.d1["auth"], unique("b"))
        second.ping()
        first.ping()

    def test_other_device_same_client_id_does_not_kick(self):
        cid = unique("shared")
        first = self.raw_connected(self.d1["id"], self.d1["auth"], cid)
        second = self.raw_connected(self.d2["id"], self.d2["auth"], cid)
        # A takeover closes the old connection within milliseconds; watch 1 s to show it did not.
        first.assert_open_for(1.0)
        first.ping()
        second.ping()

    def test_account_login_does_not_kick_device_with_same_client_id(self):
        cid = unique("shared-acct")
        dev = self.raw_connected(self.d1["id"], self.d1["auth"], cid)
        acct = self.raw_connected(self.acct["email"], self.acct["password"], cid)
        dev.assert_open_for(1.0)
        dev.ping()
        acct.ping()

    def test_account_login_takeover(self):
        cid = unique("acct-dup")
        first = self.raw_connected(self.acct["email"], self.acct["password"], cid)
        second = self.raw_connected(self.acct["email"], self.acct["password"], cid)
        first.wait_closed(5)
        second.ping()

    def test_paho_takeover(self):
        cid = unique("paho-dup")
        first = self.paho(self.d1["id"], self.d1["auth"], client_id=cid, connect=False)
        # paho reconnects after being kicked (and would kick the second one back): delay it.
        first.client.reconnect_delay_set(30, 60)
        self.assertEqual(first.connect(), 0)
        second = self.raw_connected(self.d1["id"], self.d1["auth"], cid)
        first.disconnected.wait(5)
        self.assertTrue(first.disconnected.is_set(), "first paho client was not disconnected")
        second.ping()


if __name__ == "__main__":
    unittest.main()
