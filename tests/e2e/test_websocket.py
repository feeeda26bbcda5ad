"""MQTT over WebSocket (SPEC 12, MQTT 3.1.1 section 6): `/mqtt` on the http (ws://) and https
(wss://) listeners is the same MQTT session as over TCP. Real clients (paho-mqtt with
transport="websockets", MQTT.js in Node.js) log in, enroll, publish and subscribe at QoS 1 with
TCP clients both ways, leave wills, take over client ids across transports and resume persistent
sessions; a raw WebSocket client shows the frames: packets split across frames and messages,
several packets in one frame, ping, a text message refused with a close frame, the handshakes
that are refused; the connection counts once against max_connections and outlives the HTTP
timeouts."""

import json
import re
import shutil
import ssl
import tempfile
import unittest

from harness import (CONNACK, PINGREQ_BYTES, PINGRESP, PUBACK, PUBLISH, SUBACK, ConnectionClosed,
                     PahoClient, RawClient, ServerTestCase, UnstartedServerTestCase,
                     assert_refused_without_connack, check_record, encode_connect,
                     encode_publish, encode_subscribe, http_request, make_tls_certs,
                     parse_publish, thing_topic, unique, wait_for)
from session_helpers import ack, raw_connect
from ws_helpers import (BINARY, CONTINUATION, TEXT, MqttJs, WsClient, WsRefused, mqttjs_missing,
                        ws_handshake)

MAX_PACKET = 4096  # limits.max_packet_size of the test servers


class CertsMixin:
    """A server with TLS (so that the https listener runs), its CA in cls.certs["ca"]."""

    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="plugmq-ws-")
        cls.certs = make_tls_certs(cls.certdir, "ws")
        cls.server_args = [*cls.server_args, "--mqtts", "127.0.0.1:0",
                           "--tls-cert", cls.certs["cert"], "--tls-key", cls.certs["key"]]
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.certdir, ignore_errors=True)

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.certs["ca"])


class WebSocketTests(CertsMixin):
    """The tests, run over ws:// (WebSocketTest) and wss:// (SecureWebSocketTest)."""

    tls = False
    server_args = ()
    server_config = {"limits": {"max_packet_size": MAX_PACKET}}

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.dev = cls.server.make_prototype(cls.acct["email"], "ws-dev")
        cls.other = cls.server.make_prototype(cls.acct["email"], "ws-other")
        cls.model = cls.server.make_template(cls.acct["email"], "ws-model")["id"]

    # -- clients ----------------------------------------------------------------------------------
    @property
    def ws_port(self) -> int:
        return self.server.https_port if self.tls else self.server.http_port

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.ws_port}/mqtt"

    def ws_paho(self, username=None, password=None, connect=True, **kw) -> PahoClient:
        c = PahoClient(self.ws_port, username, password, websocket=True,
                       tls_ca=self.certs["ca"] if self.tls else None, **kw)
        self.addCleanup(c.close)
        if connect:
            self.assertEqual(c.connect(), 0, f"paho over {self.url}: CONNACK for {username!r}")
        return c

    def ws_raw(self, protocols=("mqtt",)) -> WsClient:
        c = WsClient(self.ws_port, protocols, tls=self.tls_context() if self.tls else None)
        self.addCleanup(c.close)
        return c

    def ws_connected(self, dev=None, client_id=None, **kw) -> WsClient:
        dev = dev or self.dev
        c = self.ws_raw()
        self.assertEqual(c.connect(client_id, username=dev["id"], password=dev["auth"], **kw), 0)
        return c

    def tcp_connected(self, dev=None, client_id=None, **kw) -> RawClient:
        dev = dev or self.dev
        return self.raw_connected(dev["id"], dev["auth"], client_id, **kw)

    def mqttjs(self) -> MqttJs:
        why = mqttjs_missing()
        if why:
            self.skipTest(f"MQTT.js not run: {why}")
        js = MqttJs()
        self.addCleanup(js.close)
        return js

    def js_connect(self, js: MqttJs, dev=None, **kw) -> dict:
        dev = dev or self.dev
        if self.tls:
            kw["ca"] = self.certs["ca"]
        return js.connect(self.url, username=dev["id"], password=dev["auth"], **kw)

    def channel(self, dev=None) -> str:
        return f"{(dev or self.dev)['id']}/data/{unique('ws')}"

    # -- logins -----------------------------------------------------------------------------------
    def test_paho_device_login_and_wrong_auth_code(self):
        c = self.ws_paho(self.dev["id"], self.dev["auth"])
        self.assertTrue(c.is_connected())
        bad = self.ws_paho(self.dev["id"], "0" * 32, connect=False)
        self.assertEqual(bad.connect(), 4, "wrong credentials: CONNACK 4")

    def test_account_login_and_wrong_password_raw(self):
        c = self.ws_raw()
        self.assertEqual(c.protocol, "mqtt", "[MQTT-6.0.0-4] the subprotocol answered")
        self.assertEqual(c.connect(username=self.acct["email"], password=self.acct["password"]), 0)
        c.ping()
        bad = self.ws_raw()
        self.assertEqual(bad.connect(username=self.acct["email"], password="wrong-password"), 4)
        bad.wait_closed(5)

    # -- enrollment -------------------------------------------------------------------------------
    def test_enrollment_of_a_thing(self):
        serial = self.new_serial(self.model)
        topic = thing_topic(self.model, serial["pass"])
        # A thing's first connection: no username, no password, its HWID as client id (SPEC 5).
        thing = self.ws_paho(client_id=serial["hwid"] + "/ws-thing")
        self.assertEqual(thing.subscribe(topic), (0,))
        reply = thing.messages.wait_topic(topic).json()
        self.assertEqual(set(reply), {"id", "auth"}, reply)
        thing.close()
        # It logs in with what it got, over WebSocket again, and publishes.
        me = {"id": reply["id"], "auth": reply["auth"]}
        sub = self.subscriber(self.dev["id"], self.dev["auth"], f"{me['id']}/data/#")
        logged_in = self.ws_paho(me["id"], me["auth"])
        logged_in.publish(f"{me['id']}/data/hello", "1", qos=1)
        check_record(self, sub.messages.wait_topic(f"{me['id']}/data/hello"), data=1)

    # -- QoS 1 between WebSocket and TCP ----------------------------------------------------------
    def test_qos1_from_tcp_to_websocket_and_back(self):
        ws = self.ws_paho(self.dev["id"], self.dev["auth"])
        tcp = self.paho(self.other["id"], self.other["auth"])
        self.assertEqual(ws.subscribe(f"{self.other['id']}/data/#", 1), (1,))
        self.assertEqual(tcp.subscribe(f"{self.dev['id']}/data/#", 1), (1,))
        to_ws, to_tcp = self.channel(self.other), self.channel(self.dev)
        tcp.publish(to_ws, '{"data":"over tcp"}', qos=1)  # waits for the PUBACK
        got = ws.messages.wait_topic(to_ws)
        check_record(self, got, data="over tcp")
        self.assertEqual(got.qos, 1)
        ws.publish(to_tcp, '{"data":"over websocket"}', qos=1)
        got = tcp.messages.wait_topic(to_tcp)
        check_record(self, got, data="over websocket")
        self.assertEqual(got.qos, 1)

    def test_qos2_both_ways(self):
        ws = self.ws_paho(self.dev["id"], self.dev["auth"])
        tcp = self.paho(self.other["id"], self.other["auth"])
        self.assertEqual(ws.subscribe(f"{self.other['id']}/data/#", 2), (2,))
        self.assertEqual(tcp.subscribe(f"{self.dev['id']}/data/#", 2), (2,))
        to_ws, to_tcp = self.channel(self.other), self.channel(self.dev)
        tcp.publish(to_ws, '{"data":"exactly once"}', qos=2)  # waits for the PUBCOMP
        ws.publish(to_tcp, '{"data":"and back"}', qos=2)
        for client, topic, data in ((ws, to_ws, "exactly once"), (tcp, to_tcp, "and back")):
            got = client.messages.wait_topic(topic)
            check_record(self, got, data=data)
            self.assertEqual(got.qos, 2)
            client.messages.assert_nothing(lambda m: m.topic == topic and m is not got, 0.5,
                                           "a second delivery")

    # -- will ---------------------------------------------------------------------------------------
    def assert_will(self, end, **connect_kw):
        """A WebSocket client with a will ends by `end(client)`: the will reaches a TCP
        subscriber."""
        sub = self.subscriber(self.other["id"], self.other["auth"], f"{self.dev['id']}/data/#")
        topic = self.channel()
        c = self.ws_connected(will_topic=topic, will_payload=b'"gone"', **connect_kw)
        end(c)
        check_record(self, sub.messages.wait_topic(topic), data="gone")

    def test_will_when_the_tcp_connection_drops(self):
        self.assert_will(lambda c: c.close(abort=True))

    def test_will_when_the_websocket_closes_without_disconnect(self):
        def close_frame(c):
            c.send_close(1000)
            with self.assertRaises(ConnectionClosed):
                c.read_packet(5)
            self.assertEqual(c.close_frame[0], 1000, "the server answers the close frame")
        self.assert_will(close_frame)

    def test_will_on_keep_alive_expiry(self):
        # Silent for 1.5 x keep alive 1 [MQTT-3.1.2-24]: closed, and its will published.
        self.assert_will(lambda c: c.wait_closed(6), keepalive=1)

    def test_will_from_paho_with_killed_socket(self):
        sub = self.subscriber(self.other["id"], self.other["auth"], f"{self.dev['id']}/data/#")
        topic = self.channel()
        p = self.ws_paho(self.dev["id"], self.dev["auth"], connect=False, will=(topic, '"lost"'))
        p.client.reconnect_delay_set(30, 60)
        self.assertEqual(p.connect(), 0)
        p.client.loop_stop()
        p._loop_running = False
        p.client.socket().close()  # no DISCONNECT, no close frame
        check_record(self, sub.messages.wait_topic(topic), data="lost")

    def test_no_will_after_disconnect(self):
        sub = self.subscriber(self.other["id"], self.other["auth"], f"{self.dev['id']}/data/#")
        topic = self.channel()
        c = self.ws_connected(will_topic=topic, will_payload=b'"gone"')
        c.disconnect()
        c.wait_closed(5)
        sub.messages.assert_nothing(lambda m: m.topic == topic, 1.0, "will after DISCONNECT")

    # -- takeover -----------------------------------------------------------------------------------
    def test_takeover_from_tcp_by_websocket_and_back(self):
        cid = unique("take")
        tcp = self.tcp_connected(client_id=cid)
        ws = self.ws_connected(client_id=cid)  # [MQTT-3.1.4-2] the same login and client id
        tcp.wait_closed(5)
        ws.ping()
        tcp2 = self.tcp_connected(client_id=cid)
        ws.wait_closed(5)
        tcp2.ping()

    def test_takeover_publishes_the_will_of_the_one_taken_over(self):
        sub = self.subscriber(self.other["id"], self.other["auth"], f"{self.dev['id']}/data/#")
        cid, topic = unique("take-will"), self.channel()
        self.ws_connected(client_id=cid, will_topic=topic, will_payload=b'"replaced"')
        self.tcp_connected(client_id=cid)
        check_record(self, sub.messages.wait_topic(topic), data="replaced")

    # -- persistent sessions ------------------------------------------------------------------------
    def test_persistent_session_resumed_over_websocket(self):
        cid, t = unique("persist"), self.channel(self.other)
        first = self.ws_raw()
        self.assertFalse(raw_connect(first, self.dev, cid, clean=False), "a new session")
        self.assertEqual(first.subscribe([(t, 1)]), [1])
        first.disconnect()
        first.wait_closed(5)
        publisher = self.paho(self.other["id"], self.other["auth"])
        for i in range(3):
            publisher.publish(t, json.dumps({"data": f"missed {i}"}), qos=1)
        # Over WebSocket again: session present, the missed messages in order at QoS 1.
        again = self.ws_raw()
        self.assertTrue(raw_connect(again, self.dev, cid, clean=False), "[MQTT-3.2.2-2]")
        for i in range(3):
            d = parse_publish(again.expect(PUBLISH))
            self.assertEqual((d.topic, d.data(), d.qos), (t, f"missed {i}", 1))
            again.send(ack(PUBACK, d.packet_id))
        again.disconnect()
        again.wait_closed(5)
        # The same session over TCP: one session per login and client id, whatever the transport.
        publisher.publish(t, '{"data":"missed over tcp"}', qos=1)
        tcp = self.raw()
        self.assertTrue(raw_connect(tcp, self.dev, cid, clean=False))
        d = parse_publish(tcp.expect(PUBLISH))
        self.assertEqual((d.data(), d.qos), ("missed over tcp", 1))
        tcp.send(ack(PUBACK, d.packet_id))

    def test_paho_persistent_session_over_websocket(self):
        cid, t = unique("paho-persist"), self.channel(self.other)
        c = self.ws_paho(self.dev["id"], self.dev["auth"], client_id=cid, clean_session=False)
        self.assertEqual(c.subscribe(t, 1), (1,))
        c.close()  # DISCONNECT
        self.paho(self.other["id"], self.other["auth"]).publish(t, '{"data":"while away"}', qos=1)
        back = self.ws_paho(self.dev["id"], self.dev["auth"], client_id=cid, clean_session=False)
        got = back.messages.wait_topic(t)
        check_record(self, got, data="while away")
        self.assertEqual(got.qos, 1)

    # -- frames -------------------------------------------------------------------------------------
    def test_MQTT_6_0_0_2_packets_across_frames_and_several_in_one(self):
        c = self.ws_raw()
        connect = encode_connect(unique("frames"), username=self.dev["id"],
                                 password=self.dev["auth"])
        # One packet in two frames of one message (a fragment and its continuation).
        c.send_frame(BINARY, connect[:7], fin=False)
        c.send_frame(CONTINUATION, connect[7:])
        p = c.expect(CONNACK)
        self.assertEqual(p.body, b"\x00\x00")
        # One packet across two messages, split inside its remaining length's bytes.
        t = self.channel()
        subscribe = encode_subscribe(1, [(t, 1)])
        c.send_frame(BINARY, subscribe[:1])
        c.send_frame(BINARY, subscribe[1:])
        self.assertEqual(c.expect(SUBACK).body, b"\x00\x01\x01")
        # Three packets in one frame: a QoS 1 PUBLISH, a PINGREQ and the half of a PUBLISH...
        second = encode_publish(t, b'"second"', qos=1, mid=8)
        c.send(encode_publish(t, b'"first"', qos=1, mid=7) + PINGREQ_BYTES + second[:5])
        # ...whose other half comes in the next frame.
        c.send(second[5:])
        # Each is answered, in order; both are delivered to the subscription (QoS 1).
        answers, delivered = [], []
        while len(answers) < 3 or len(delivered) < 2:
            p = c.read_packet()
            if p.type == PUBLISH:
                d = parse_publish(p)
                delivered.append(d.data())
                c.send(ack(PUBACK, d.packet_id))
            else:
                answers.append((p.type, p.body))
        # (A PUBACK waits for its record's commit, a PINGRESP for nothing.)
        self.assertEqual(sorted(answers), [(PUBACK, b"\x00\x07"), (PUBACK, b"\x00\x08"),
                                           (PINGRESP, b"")])
        self.assertLess(answers.index((PUBACK, b"\x00\x07")),
                        answers.index((PUBACK, b"\x00\x08")), "acknowledged in order")
        self.assertEqual(delivered, ["first", "second"])
        # The server's frames are binary [MQTT-6.0.0-1].
        self.assertEqual(set(c.opcodes), {BINARY})

    def test_websocket_ping_is_answered(self):
        c = self.ws_connected()
        self.assertEqual(c.ws_ping(b"are you there"), b"are you there")
        c.ping()  # and MQTT goes on

    def test_MQTT_6_0_0_1_text_message_closes_with_a_reason(self):
        sub = self.subscriber(self.other["id"], self.other["auth"], f"{self.dev['id']}/data/#")
        topic = self.channel()
        c = self.ws_connected(will_topic=topic, will_payload=b'"violated"')
        c.send_frame(TEXT, b"PINGREQ")
        with self.assertRaises(ConnectionClosed):
            c.read_packet(5)
        self.assertIsNotNone(c.close_frame, "refused with a close frame")
        code, reason = c.close_frame
        self.assertEqual(code, 1003, "unsupported data (RFC 6455 section 7.4.1)")
        self.assertIn("binary", reason)
        c.wait_closed(5)
        # A protocol violation: the will goes.
        check_record(self, sub.messages.wait_topic(topic), data="violated")

    def test_max_packet_size_holds(self):
        c = self.ws_connected()
        big = encode_publish(self.channel(), b'"' + b"x" * MAX_PACKET + b'"', qos=1, mid=1)
        # In frames of 1 KiB: the limit is the packet's, whatever the frames.
        for at in range(0, len(big), 1024):
            try:
                c.send(big[at:at + 1024])
            except ConnectionClosed:
                break
        with self.assertRaises(ConnectionClosed):
            while True:
                p = c.read_packet(5)
                self.assertNotEqual(p.type, PUBACK, "a packet over the limit was accepted")

    # -- the handshake ------------------------------------------------------------------------------
    def test_subprotocols(self):
        tls = self.tls_context() if self.tls else None
        for offered, answered in ((("mqtt",), "mqtt"), (("wamp", "mqtt"), "mqtt"),
                                  (("mqttv3.1",), "mqttv3.1"), (("mqttv3.1", "mqtt"), "mqtt")):
            h = ws_handshake(self.ws_port, offered, tls)
            self.assertEqual(h.status, 101, offered)
            self.assertEqual(h.headers.get("sec-websocket-protocol"), answered, offered)

    def test_no_subprotocol_is_refused_clearly(self):
        tls = self.tls_context() if self.tls else None
        for offered in ((), ("wamp",), ("MQTT",)):
            with self.assertRaises(WsRefused) as refused:
                WsClient(self.ws_port, offered, tls=tls)
            h = refused.exception.handshake
            self.assertEqual(h.status, 400, offered)
            self.assertEqual(h.headers.get("content-type"), "application/json")
            self.assertEqual(h.json()["err"], 400)
            self.assertIn("Sec-WebSocket-Protocol: mqtt", h.json()["msg"])

    def test_plain_get_of_mqtt_is_426(self):
        r = http_request(self.ws_port, "GET", "/mqtt",
                         tls_ca=self.certs["ca"] if self.tls else None)
        self.assertEqual(r.status, 426)
        self.assertEqual(r.headers.get("upgrade"), "websocket")
        self.assertEqual(r.json()["err"], 426)
        self.assertIn("WebSocket", r.json()["msg"])
        # Other paths are not upgraded: the REST API answers as before.
        h = ws_handshake(self.ws_port, ("mqtt",), self.tls_context() if self.tls else None,
                         path="/iot/mqtt")
        self.assertNotEqual(h.status, 101)

    # -- metrics ------------------------------------------------------------------------------------
    def metric(self, name: str, **labels) -> float:
        """One sample of GET /metrics (from loopback: no token needed); 0 when absent."""
        text = http_request(self.server.http_port, "GET", "/metrics").text
        want = ",".join(f'{k}="{v}"' for k, v in labels.items())
        m = re.search(rf"^{name}{{{re.escape(want)}}} (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0.0

    def test_counted_under_listener_ws_once_upgraded(self):
        ws, http = ("wss", "https") if self.tls else ("ws", "http")
        upgrades = self.metric("plugmq_http_requests_total", code="101")
        c = self.ws_connected()
        # The scrape's own connection is the only http one; the MQTT session is ws's (wss's).
        wait_for(lambda: self.metric("plugmq_connections", listener=ws) == 1 and
                 self.metric("plugmq_connections", listener=http) == (0 if self.tls else 1),
                 what=f"plugmq_connections{{listener={ws}}} 1")
        self.assertGreater(self.metric("plugmq_http_requests_total", code="101"), upgrades)
        c.disconnect()
        c.wait_closed(5)
        wait_for(lambda: self.metric("plugmq_connections", listener=ws) == 0,
                 what=f"plugmq_connections{{listener={ws}}} 0")

    # -- MQTT.js ------------------------------------------------------------------------------------
    def test_mqttjs_login_subscribe_publish_qos1(self):
        js = self.mqttjs()
        self.assertEqual(self.js_connect(js, keepalive=30)["ev"], "connect")
        self.assertEqual(js.subscribe(f"{self.dev['id']}/data/#", 1), [1])
        own = self.channel()
        js.publish(own, '{"data":"from mqtt.js"}', 1)  # acknowledged: stored
        got = js.message(lambda e: e["topic"] == own, f"its own message on {own}")
        self.assertEqual((json.loads(got["payload"])["data"], got["qos"]), ("from mqtt.js", 1))
        # From a TCP client to MQTT.js, and from MQTT.js to a TCP client.
        tcp = self.paho(self.other["id"], self.other["auth"])
        self.assertEqual(tcp.subscribe(f"{self.dev['id']}/data/#", 1), (1,))
        from_tcp = self.channel()
        tcp.publish(from_tcp, '{"data":"from tcp"}', qos=1)
        got = js.message(lambda e: e["topic"] == from_tcp, "the TCP client's message")
        self.assertEqual((json.loads(got["payload"])["data"], got["qos"]), ("from tcp", 1))
        to_tcp = self.channel()
        js.publish(to_tcp, '{"data":"to tcp"}', 1)
        got = tcp.messages.wait_topic(to_tcp)
        check_record(self, got, data="to tcp")
        self.assertEqual(got.qos, 1)

    def test_mqttjs_wrong_auth_code_and_enrollment(self):
        js = self.mqttjs()
        refused = js.connect(self.url, username=self.dev["id"], password="0" * 32,
                             **({"ca": self.certs["ca"]} if self.tls else {}))
        self.assertEqual((refused["ev"], refused["code"]), ("error", 4), refused)
        serial = self.new_serial(self.model)
        topic = thing_topic(self.model, serial["pass"])
        thing = self.mqttjs()
        kw = {"ca": self.certs["ca"]} if self.tls else {}
        self.assertEqual(thing.connect(self.url, clientId=serial["hwid"], **kw)["ev"], "connect")
        self.assertEqual(thing.subscribe(topic, 0), [0])
        reply = json.loads(thing.message(lambda e: e["topic"] == topic, "the enrollment reply")
                           ["payload"])
        self.assertEqual(set(reply), {"id", "auth"}, reply)

    def test_mqttjs_will_when_dropped(self):
        sub = self.subscriber(self.other["id"], self.other["auth"], f"{self.dev['id']}/data/#")
        topic = self.channel()
        js = self.mqttjs()
        self.assertEqual(self.js_connect(js, will={"topic": topic, "payload": '"js gone"',
                                                  "qos": 1})["ev"], "connect")
        js.cmd("drop")
        check_record(self, sub.messages.wait_topic(topic), data="js gone")

    def test_mqttjs_takeover_both_ways(self):
        cid = unique("js-take")
        js = self.mqttjs()
        self.assertEqual(self.js_connect(js, clientId=cid)["ev"], "connect")
        start = len(js.events)
        tcp = self.tcp_connected(client_id=cid)  # takes over MQTT.js's connection
        js.wait(lambda e: e["ev"] == "close", what="MQTT.js's close after the takeover",
                start=start)
        tcp.ping()
        self.assertEqual(self.js_connect(js, clientId=cid)["ev"], "connect")
        tcp.wait_closed(5)  # MQTT.js took it back


class WebSocketTest(WebSocketTests, ServerTestCase):
    tls = False


class SecureWebSocketTest(WebSocketTests, ServerTestCase):
    tls = True


class WebSocketLimitsTest(ServerTestCase):
    """One connection for max_connections, from the HTTP request on; the HTTP timeouts end
    with the upgrade."""

    server_args = ["--max-connections", "3"]
    server_config = {"http": {"request_timeout_s": 1, "idle_timeout_s": 1}}

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.dev = cls.server.make_prototype(cls.acct["email"], "ws-limits")

    def ws(self) -> WsClient:
        c = WsClient(self.server.http_port)
        self.addCleanup(c.close)
        self.assertEqual(c.connect(username=self.dev["id"], password=self.dev["auth"]), 0)
        return c

    def test_counts_once_and_outlives_the_http_timeouts(self):
        ws = self.ws()
        # Idle past http.idle_timeout_s and http.request_timeout_s (1 s each) twice over: those
        # were the HTTP connection's; the MQTT session's keep alive (60 s) is what holds now.
        ws.assert_open_for(2.5)
        self.assertEqual(ws.ws_ping(), b"plugmq")
        ws.ping()
        # With the WebSocket one, two TCP connections reach max_connections (3): it counts once.
        held = [self.raw_connected(self.dev["id"], self.dev["auth"]) for _ in range(2)]
        assert_refused_without_connack(self, self.raw(), encode_connect(unique("over")), 5)
        # So does a fourth over WebSocket: closed at accept, before its handshake is answered.
        with self.assertRaises((ConnectionClosed, OSError)):
            WsClient(self.server.http_port, timeout=5)
        ws.disconnect()
        ws.wait_closed(5)

        def third_gets_in():
            try:
                c = RawClient(self.port)
            except OSError:
                return None
            self.addCleanup(c.close)
            try:
                return c.connect(username=self.dev["id"], password=self.dev["auth"]) == 0
            except AssertionError:
                return None
        wait_for(third_gets_in, what="a connection once the WebSocket one ended")
        for c in held:
            c.ping()


class WebSocketShutdownTest(UnstartedServerTestCase):
    def test_server_stops_with_websocket_sessions(self):
        self.server.start()
        acct = self.server.make_account()
        dev = self.server.make_prototype(acct["email"], "ws-stop")
        sub = WsClient(self.server.http_port)
        self.addCleanup(sub.close)
        self.assertEqual(sub.connect(username=dev["id"], password=dev["auth"],
                                     will_topic=f"{dev['id']}/data/w", will_payload=b"1"), 0)
        self.assertEqual(self.server.stop(), 0, "SIGTERM with a WebSocket session: exit 0")
        sub.wait_closed(5)
        # No will on shutdown (SPEC 7): nothing was stored for it.
        self.assertEqual(self.server.data_get(f"{dev['id']}/data/w"), [])


if __name__ == "__main__":
    unittest.main()
