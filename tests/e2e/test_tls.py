"""The TLS listener (SPEC 2): the same sessions as plain MQTT behind a TLS 1.2+ handshake, a
certificate reloaded on SIGHUP without dropping anyone, and handshakes that fail (plain MQTT,
old protocol versions, silence) closing that connection only."""

import json
import os
import shutil
import signal
import ssl
import tempfile
import unittest
import warnings

from harness import (CONNACK, MosquittoSub, PahoClient, RawClient, ServerTestCase, check_record,
                     encode_connect, make_tls_certs, mosquitto_pub, sync_subscription, unique,
                     wait_for)

CONNECT_TIMEOUT_S = 2  # the pre-CONNECT deadline this server runs with (limits.connect_timeout_s)


class TlsTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="plugmq-tls-")
        cls.first = make_tls_certs(cls.certdir, "first")
        cls.second = make_tls_certs(cls.certdir, "second")
        # The server reads these two paths; reload tests replace their contents.
        cls.live_cert = os.path.join(cls.certdir, "live.crt")
        cls.live_key = os.path.join(cls.certdir, "live.key")
        cls.install(cls.first)
        config = os.path.join(cls.certdir, "plugmq.json")
        with open(config, "w") as f:
            json.dump({"limits": {"connect_timeout_s": CONNECT_TIMEOUT_S}}, f)
        cls.server_args = ["--config", config, "--mqtts", "127.0.0.1:0",
                           "--tls-cert", cls.live_cert, "--tls-key", cls.live_key]
        super().setUpClass()
        cls.tls_port = cls.server.ready["mqtts"]

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.certdir, ignore_errors=True)

    @classmethod
    def install(cls, certs):
        shutil.copyfile(certs["cert"], cls.live_cert)
        shutil.copyfile(certs["key"], cls.live_key)
        cls.current = certs

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.dev = cls.server.make_prototype(cls.acct["email"], "tls-dev")
        cls.other = cls.server.make_prototype(cls.acct["email"], "tls-other")

    # -- helpers ----------------------------------------------------------------------------------
    def tls_paho(self, dev, ca=None, **kw) -> PahoClient:
        c = PahoClient(self.tls_port, dev["id"], dev["auth"], tls_ca=ca or self.current["ca"],
                       **kw)
        self.addCleanup(c.close)
        self.assertEqual(c.connect(), 0)
        return c

    def plain_paho(self, dev) -> PahoClient:
        c = PahoClient(self.port, dev["id"], dev["auth"])
        self.addCleanup(c.close)
        self.assertEqual(c.connect(), 0)
        return c

    def tls_raw(self, context: ssl.SSLContext) -> RawClient:
        c = RawClient(self.tls_port, tls=context)
        self.addCleanup(c.close)
        return c

    def assert_tls_login_works(self, ca=None):
        c = self.tls_raw(ssl.create_default_context(cafile=ca or self.current["ca"]))
        self.assertEqual(c.connect(username=self.dev["id"], password=self.dev["auth"]), 0)
        c.disconnect()

    def assert_exchange(self, sub: PahoClient, pub: PahoClient, qos=1):
        """A record published by `pub` reaches `sub`, exactly as the platform formats it."""
        value = unique("v")
        topic = f"{self.dev['id']}/data/tls"
        start = sub.messages.count()
        pub.publish(topic, json.dumps(value), qos=qos)
        msg = sub.messages.wait(lambda m: m.topic == topic and value in m.text,
                                what="the record", start=start)
        check_record(self, msg, data=value)

    # -- tests ------------------------------------------------------------------------------------
    def test_ready_file_names_both_ports(self):
        self.assertIsInstance(self.tls_port, int)
        self.assertNotEqual(self.tls_port, self.port)

    def test_mosquitto_sub_with_cafile_gets_a_plain_publish(self):
        dev = self.dev
        # -h localhost: the certificate names localhost and 127.0.0.1.
        sub = MosquittoSub(self.tls_port, self.other["id"], self.other["auth"], ["+/data/#"],
                           extra=["--cafile", self.current["ca"], "-h", "localhost"])
        self.addCleanup(sub.close)
        topic = f"{dev['id']}/data/sync"
        sync_subscription(sub.messages, lambda t, m: mosquitto_pub(
            self.port, dev["id"], dev["auth"], t, m), topic)
        value = unique("plain")
        mosquitto_pub(self.port, dev["id"], dev["auth"], f"{dev['id']}/data/temp", json.dumps(value))
        msg = sub.messages.wait(lambda m: value in m.text, what="the plain publish over TLS")
        check_record(self, msg, data=value)
        self.assertEqual(msg.topic, f"{dev['id']}/data/temp")

    def test_paho_tls_and_plain_clients_exchange_both_ways(self):
        tls_client = self.tls_paho(self.other)
        plain = self.plain_paho(self.dev)
        tls_client.subscribe("+/data/#", qos=1)
        plain.subscribe("+/data/#", qos=1)
        # Plain -> TLS and TLS -> plain, QoS 0 and 1 (the PUBACK comes over TLS too).
        self.assertEqual(tls_client.connack_rc, 0)
        for qos in (0, 1):
            with self.subTest(direction="plain to tls", qos=qos):
                self.assert_exchange(tls_client, plain, qos)
        tls_pub = self.tls_paho(self.dev)
        for qos in (0, 1):
            with self.subTest(direction="tls to plain", qos=qos):
                self.assert_exchange(plain, tls_pub, qos)
        records = self.server.data_get("tls", of=[self.dev["id"]])
        self.assertEqual(len(records), 4)

    def test_large_publish_over_tls(self):
        # Larger than one TLS record (16 KiB): the stream must reassemble it.
        sub = self.tls_paho(self.other)
        sub.subscribe("+/data/#")
        pub = self.tls_paho(self.dev)
        value = "x" * 100_000
        topic = f"{self.dev['id']}/data/big"
        pub.publish(topic, json.dumps(value), qos=1)
        msg = sub.messages.wait(lambda m: m.topic == topic, what="the large record")
        self.assertEqual(msg.json()["data"], value)

    def test_plain_mqtt_on_tls_port_is_closed_and_others_go_on(self):
        watcher = self.tls_paho(self.other)
        watcher.subscribe("+/data/#")
        c = RawClient(self.tls_port)
        self.addCleanup(c.close)
        c.send(encode_connect(unique("plain"), username=self.dev["id"],
                              password=self.dev["auth"]))
        # Whatever comes back before the close (a TLS alert at most) is not a CONNACK.
        c.sock.settimeout(CONNECT_TIMEOUT_S + 3)
        received = b""
        while True:
            try:
                chunk = c.sock.recv(4096)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        self.assertFalse(received.startswith(bytes([CONNACK << 4])), received)
        self.assertIn("TLS handshake failed", self.server.log_text(self._log_offset))
        self.assertTrue(watcher.is_connected())
        self.assert_exchange(watcher, self.plain_paho(self.dev))

    def test_silent_client_is_closed_at_the_pre_connect_deadline(self):
        c = RawClient(self.tls_port)  # TCP only: no ClientHello, ever
        self.addCleanup(c.close)
        waited = c.wait_closed(CONNECT_TIMEOUT_S + 5)
        self.assertGreaterEqual(waited, CONNECT_TIMEOUT_S - 0.5)
        self.assert_tls_login_works()

    def test_stalled_handshake_is_closed_at_the_pre_connect_deadline(self):
        # Half a ClientHello: the TLS record header promises more than comes.
        c = RawClient(self.tls_port)
        self.addCleanup(c.close)
        c.send(bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]))
        waited = c.wait_closed(CONNECT_TIMEOUT_S + 5)
        self.assertGreaterEqual(waited, CONNECT_TIMEOUT_S - 0.5)
        self.assert_tls_login_works()

    def test_tls_1_1_is_refused_and_1_2_accepted(self):
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(self.current["ca"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # that is the point
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer TLS 1.1 at all
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            RawClient(self.tls_port, tls=old).close()
        # The server, not the client, refused it.
        wait_for(lambda: "unsupported protocol" in self.server.log_text(self._log_offset),
                 what="the server's log of the refused TLS 1.1 handshake")

        v12 = ssl.create_default_context(cafile=self.current["ca"])
        v12.maximum_version = ssl.TLSVersion.TLSv1_2
        c = self.tls_raw(v12)
        self.assertEqual(c.sock.version(), "TLSv1.2")
        self.assertEqual(c.connect(username=self.dev["id"], password=self.dev["auth"]), 0)

    def test_wrong_password_over_tls_gets_connack_4(self):
        c = self.tls_raw(ssl.create_default_context(cafile=self.current["ca"]))
        self.assertEqual(c.connect(username=self.dev["id"], password="not-the-auth"), 4)

    def test_sighup_reloads_the_certificate_without_dropping_connections(self):
        old_ca = self.current["ca"]
        before = self.tls_paho(self.other)  # established with the old certificate
        before.subscribe("+/data/#")
        new = self.second if self.current is self.first else self.first
        self.install(new)
        offset = self.server.log_size()
        self.server.signal(signal.SIGHUP)
        wait_for(lambda: "TLS certificate reloaded" in self.server.log_text(offset),
                 what="the reload log line")

        # New connections get the new certificate: the new CA verifies it, the old one not.
        self.assert_tls_login_works(ca=new["ca"])
        with self.assertRaises(ssl.SSLCertVerificationError):
            RawClient(self.tls_port, tls=ssl.create_default_context(cafile=old_ca)).close()
        # The connection made before the reload is still there and still gets data.
        self.assertTrue(before.is_connected())
        self.assert_exchange(before, self.plain_paho(self.dev))

    def test_sighup_with_a_broken_certificate_keeps_the_old_one(self):
        good = self.current
        with open(self.live_cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
        try:
            offset = self.server.log_size()
            self.server.signal(signal.SIGHUP)
            wait_for(lambda: "TLS certificate not reloaded" in self.server.log_text(offset),
                     what="the failed reload's log line")
            self.assertIn(self.live_cert, self.server.log_text(offset))
            self.assert_tls_login_works(ca=good["ca"])
        finally:
            self.install(good)


if __name__ == "__main__":
    unittest.main()
