"""The HTTP REST API (SPEC 10) over real HTTP, with curl and Python's http.client, against MQTT
clients on the same server: one publish path (an HTTP publish reaches MQTT subscribers as the
SPEC record, an MQTT publish reads back over HTTP), enrollment and prototypes, controllers,
properties both ways, the method override, percent-encoded masks, the error statuses and their
bodies, keep-alive, timeouts, HTTPS on the MQTT certificate, and shutdown."""

import http.client
import json
import shutil
import signal
import socket
import ssl
import tempfile
import unittest

from harness import (DEV_ID_RE, HOST, OID_RE, FreshServerTestCase, ServerTestCase,
                     account_headers, basic_headers, check_record, curl, device_headers,
                     http_request, make_tls_certs, now_ms, prop_topic, unique, wait_for)

MAX_BODY = 65536  # http.max_body_bytes of the test server
MAX_RECORDS = 20  # http.max_records_per_publish of the test server


class HttpTestCase(ServerTestCase):
    """A server with small HTTP limits; each test makes its own account, so that reads without
    "of" see that test's records only."""

    server_config = {"http": {"max_body_bytes": MAX_BODY, "max_records_per_publish": MAX_RECORDS}}

    def setUp(self):
        super().setUp()
        # Retention 0 (forever): records dated in the past stay until a test deletes them.
        self.acct = self.server.make_account(retention_days=0)
        self.proto = self.server.make_prototype(self.acct["email"], "proto")

    @property
    def http(self) -> int:
        return self.server.http_port

    def req(self, method, path, body=None, headers=None, **kw):
        return http_request(self.http, method, path, body, headers, **kw)

    def assertOk(self, reply, status=200):
        self.assertEqual(reply.status, status, reply.text)
        return reply.json() if reply.body else None

    def assertError(self, reply, status):
        """The SPEC 10 error form: that status and {"err":STATUS,"msg":"..."}."""
        self.assertEqual(reply.status, status, reply.text)
        self.assertEqual(reply.headers.get("content-type"), "application/json")
        body = reply.json()
        self.assertEqual(set(body), {"err", "msg"}, body)
        self.assertEqual(body["err"], status)
        self.assertIsInstance(body["msg"], str)
        self.assertTrue(body["msg"])
        return body

    def http_thing(self, model: str) -> dict:
        """Registers a serial (CLI) and enrolls it over HTTP with curl, no credentials."""
        s = self.new_serial(model)
        r = curl(self.http, "POST", "/iot/device",
                 {"model": model, "hwid": s["hwid"], "pass": s["pass"]})
        out = self.assertOk(r)
        self.assertEqual(set(out), {"id", "auth"})
        self.assertRegex(out["id"], DEV_ID_RE)
        s.update(out)
        return s


class PublishPathTest(HttpTestCase):
    def test_http_publish_reaches_an_mqtt_subscriber_as_the_spec_record(self):
        model = self.server.make_template(self.acct["email"])["id"]
        thing = self.http_thing(model)
        sub = self.subscriber(self.acct["email"], self.acct["password"], "+/data/temp")
        r = curl(self.http, "PUT", "/iot/data/temp", {"data": 21.5}, device_headers(thing))
        oid = self.assertOk(r)
        self.assertRegex(oid, OID_RE)
        msg = sub.messages.wait_topic(f"{thing['id']}/data/temp")
        rec = check_record(self, msg, data=21.5)
        self.assertEqual(rec["id"], oid, "the delivered record is the stored one")
        # Stored as an MQTT publish is: `plugmq data get` has the same record.
        stored = self.server.wait_records("temp", lambda rs: any(x["id"] == oid for x in rs),
                                          of=thing["id"])
        self.assertEqual(stored[0], {"id": oid, "of": thing["id"], "channel": "temp",
                                     "data": 21.5, "at": rec["at"]})

    def test_an_array_publish_with_times_and_of(self):
        other = self.server.make_prototype(self.acct["email"], "other")
        sub = self.subscriber(self.acct["email"], self.acct["password"], "+/data/#")
        records = [{"data": {"v": 1}, "at": "2024-01-02T03:04:05Z"},
                   {"data": "two", "at": 1704164645001, "of": other["id"]},
                   {"data": 3, "channel": "elsewhere/x", "ttl": 60}]
        ids = self.assertOk(self.req("PUT", "/iot/data/series", records,
                                     device_headers(self.proto)))
        self.assertEqual(len(ids), 3)
        got = [sub.messages.wait(lambda m, i=i: i in m.text, what=f"record {i}") for i in ids]
        self.assertEqual(got[0].topic, f"{self.proto['id']}/data/series")
        check_record(self, got[0], data={"v": 1}, at=1704164645000)
        self.assertEqual(got[1].topic, f"{other['id']}/data/series")
        self.assertEqual(got[2].topic, f"{self.proto['id']}/data/elsewhere/x")

    def test_an_mqtt_publish_reads_back_over_http(self):
        pub = self.paho_dev(self.proto)
        pub.publish(f"{self.proto['id']}/data/temp", "42.5", qos=1)  # PUBACK: it is stored
        r = self.req("GET", "/iot/data/temp?limit=1", headers=device_headers(self.proto))
        records = self.assertOk(r)
        self.assertEqual(len(records), 1)
        rec = records[0]
        self.assertEqual(set(rec), {"id", "channel", "of", "data", "at"})
        self.assertRegex(rec["id"], OID_RE)
        self.assertEqual((rec["channel"], rec["of"], rec["data"]),
                         ("temp", self.proto["id"], 42.5))
        self.assertLess(abs(rec["at"] - now_ms()), 30_000)
        # Newest first, paged.
        pub.publish(f"{self.proto['id']}/data/temp", "43", qos=1)
        both = self.assertOk(self.req("GET", "/iot/data/temp", headers=device_headers(self.proto)))
        self.assertEqual([x["data"] for x in both], [43, 42.5])
        older = self.assertOk(self.req("GET", f"/iot/data/temp?before={both[0]['id']}",
                                       headers=device_headers(self.proto)))
        self.assertEqual([x["data"] for x in older], [42.5])
        self.assertEqual(self.assertOk(self.req("GET", "/iot/data/temp?offset=1&limit=5",
                                                headers=basic_headers(self.acct))), older)

    def test_percent_encoded_masks(self):
        h = device_headers(self.proto)
        self.assertOk(curl(self.http, "PUT", "/iot/data/room%2Ftemp", {"data": 20}, h))
        self.assertOk(curl(self.http, "PUT", "/iot/data/room/hum", {"data": 50}, h))
        stored = self.server.wait_records("room/#", lambda rs: len(rs) == 2, of=self.proto["id"])
        self.assertEqual(sorted(x["channel"] for x in stored), ["room/hum", "room/temp"])
        for mask in ("room%2F%2B", "room/%2B", "room%2f%2b", "%23"):
            with self.subTest(mask=mask):
                got = self.assertOk(self.req("GET", f"/iot/data/{mask}", headers=h))
                self.assertEqual(sorted(x["data"] for x in got), [20, 50])
        self.assertEqual(self.assertOk(self.req("GET", "/iot/data/room%2Ftemp", headers=h))[0]["data"],
                         20)
        self.assertEqual(self.assertOk(self.req("GET", "/iot/channel/room%2F%23", headers=h)),
                         ["room/hum", "room/temp"])
        self.assertError(self.req("GET", "/iot/data/room%2F%23%2Fx", headers=h), 400)

    def test_delete_records(self):
        h = device_headers(self.proto)
        ids = self.assertOk(self.req("PUT", "/iot/data/gone",
                                     [{"data": i, "at": 1000 + i} for i in range(5)], h))
        self.assertEqual(self.assertOk(self.req("DELETE", "/iot/data/gone", {"id": ids[0]}, h),
                                       202), 1)
        self.assertEqual(self.assertOk(self.req("DELETE", "/iot/data/gone", {"before": 1003}, h),
                                       202), 2)
        left = self.assertOk(self.req("GET", "/iot/data/gone", headers=h))
        self.assertEqual([x["data"] for x in left], [4, 3])
        self.assertError(self.req("DELETE", "/iot/data/gone", {}, h), 400)


class DevicesTest(HttpTestCase):
    def test_prototype_creation_with_account_auth_and_with_basic(self):
        for how, headers in (("account", account_headers(self.acct)),
                             ("basic", basic_headers(self.acct))):
            with self.subTest(auth=how):
                r = curl(self.http, "POST", "/iot/device", {"name": f"p-{how}"}, headers)
                out = self.assertOk(r, 201)
                self.assertRegex(out["id"], DEV_ID_RE)
                # The new device logs in over MQTT with what came back.
                self.paho_dev(out)
                info = self.assertOk(self.req("GET", f"/iot/device/{out['id']}",
                                              headers=device_headers(out)))
                self.assertEqual((info["id"], info["name"], info["kind"]),
                                 (out["id"], f"p-{how}", "prototype"))
                self.assertEqual(set(info), {"id", "name", "kind", "hwid", "model", "perm",
                                             "status", "props"})

    def test_controller_enrollment_and_its_200_on_a_second_thing(self):
        model = self.server.make_template(self.acct["email"])["id"]
        a, b = self.http_thing(model), self.http_thing(model)
        ctrl_hwid = unique("phone")
        r = curl(self.http, "PUT", "/iot/device",
                 {"model": model, "ctrl": a["hwid"], "pass": a["cpass"], "hwid": ctrl_hwid,
                  "name": "phone"})
        ctrl = self.assertOk(r, 201)
        self.assertRegex(ctrl["id"], DEV_ID_RE)
        # The controller, with its own credentials, takes a second thing (by Plug-ID): 200.
        r = curl(self.http, "PUT", "/iot/device",
                 {"model": model, "ctrl": b["id"], "pass": b["cpass"]}, device_headers(ctrl))
        again = self.assertOk(r, 200)
        self.assertEqual(again, {"id": ctrl["id"], "auth": ctrl["auth"]}, "credentials unchanged")
        info = self.assertOk(self.req("GET", f"/iot/device/{ctrl['id']}",
                                      headers=device_headers(ctrl)))
        self.assertEqual(info["controls"], [a["id"], b["id"]])
        # Over MQTT it now receives the second thing's data.
        sub = self.subscriber(ctrl["id"], ctrl["auth"], "+/data/#")
        self.assertOk(self.req("PUT", "/iot/data/t", {"data": "from b"}, device_headers(b)))
        check_record(self, sub.messages.wait_topic(f"{b['id']}/data/t"), data="from b")
        # Enrolling the same controller HWID again without credentials is no new device: 200.
        r = self.req("PUT", "/iot/device", {"model": model, "ctrl": a["hwid"], "pass": a["cpass"],
                                            "hwid": ctrl_hwid})
        renewed = self.assertOk(r, 200)
        self.assertEqual(renewed["id"], ctrl["id"])
        # Releasing a thing: a bare, unquoted Plug-ID as the body.
        r = self.req("DELETE", f"/iot/device/{ctrl['id']}", b["id"].encode(),
                     device_headers(renewed))
        self.assertEqual(self.assertOk(r), 1)

    def test_properties_over_http_are_visible_over_mqtt_and_the_reverse(self):
        dev = self.proto
        base = f"/iot/device/{dev['id']}/"
        self.assertOk(curl(self.http, "PATCH", base + "room", '"kitchen"', device_headers(dev)))
        self.assertOk(self.req("PATCH", base, {"floor": 2, "last": {"channel": "temp"}},
                               device_headers(dev)))
        mqtt = self.paho_dev(dev)
        got = mqtt.request(prop_topic(dev["id"], "get"), "")
        self.assertEqual(got.json(), {"floor": 2, "last": None, "room": "kitchen"})
        # The reverse: set over MQTT, read over HTTP (one property and all of them).
        self.assertEqual(mqtt.request(prop_topic(dev["id"], "set"), '{"floor":3,"room":null}')
                         .payload, b"")
        mqtt.publish(f"{dev['id']}/data/temp", "19", qos=1)
        self.assertEqual(self.assertOk(self.req("GET", base + "floor",
                                                headers=device_headers(dev))), 3)
        self.assertEqual(self.assertOk(self.req("GET", base, headers=device_headers(dev))),
                         {"floor": 3, "last": 19})
        self.assertIsNone(self.assertOk(self.req("GET", base + "room",
                                                 headers=device_headers(dev))))
        self.assertOk(self.req("DELETE", base + "floor", headers=device_headers(dev)))
        self.assertEqual(mqtt.request(prop_topic(dev["id"], "get"), "").json(), {"last": 19})

    def test_patch_sent_as_post_with_the_override_header(self):
        headers = {**device_headers(self.proto), "X-HTTP-Method-Override": "PATCH"}
        r = curl(self.http, "POST", f"/iot/device/{self.proto['id']}", {"name": "renamed"},
                 headers)
        self.assertEqual(self.assertOk(r)["name"], "renamed")
        self.assertEqual(self.server.cli("device", "show", self.proto["id"])["name"], "renamed")
        # DELETE the same way (python's http.client this time).
        headers = {**basic_headers(self.acct), "X-HTTP-Method-Override": "DELETE"}
        victim = self.server.make_prototype(self.acct["email"], "victim")
        r = self.req("POST", "/iot/device", json.dumps([victim["id"]]), headers)
        self.assertEqual(self.assertOk(r), 1)

    def test_unenroll_deletes_the_device_and_its_data(self):
        model = self.server.make_template(self.acct["email"])["id"]
        thing = self.http_thing(model)
        self.assertOk(self.req("PUT", "/iot/data/t", [{"data": i} for i in range(5)],
                               device_headers(thing)))
        live = self.paho_dev(thing)
        r = curl(self.http, "DELETE", "/iot/device", thing["id"], device_headers(thing))
        self.assertEqual(self.assertOk(r), 1)
        self.server.wait_records("t", lambda rs: rs == [], of=thing["id"])
        wait_for(lambda: not live.is_connected(), what="its MQTT session closed")
        self.assertError(self.req("GET", f"/iot/device/{thing['id']}",
                                  headers=basic_headers(self.acct)), 404)
        self.assertError(self.req("GET", "/iot/data/t", headers=device_headers(thing)), 401)

    def test_each_error_status_with_its_body(self):
        model = self.server.make_template(self.acct["email"])["id"]
        thing = self.http_thing(model)
        path = f"/iot/device/{self.proto['id']}"
        # 401: no credentials, wrong ones.
        r = curl(self.http, "GET", path)
        self.assertError(r, 401)
        self.assertIn("basic", r.headers.get("www-authenticate", "").lower())
        self.assertError(self.req("GET", path, headers={"X-Plug-Id": self.proto["id"],
                                                        "X-Plug-Auth": "0" * 32}), 401)
        self.assertError(self.req("GET", path, headers=basic_headers(
            {"email": self.acct["email"], "password": "wrong-password"})), 401)
        # 403: a thing reads and writes only itself.
        self.assertError(self.req("GET", path, headers=device_headers(thing)), 403)
        self.assertError(curl(self.http, "PUT", "/iot/data/x",
                              {"data": 1, "of": self.proto["id"]}, device_headers(thing)), 403)
        # 404: an unknown device.
        self.assertError(self.req("GET", "/iot/device/dev-" + "0" * 24,
                                  headers=device_headers(self.proto)), 404)
        self.assertError(self.req("PUT", "/iot/data/x", {"data": 1, "of": "dev-" + "0" * 24},
                                  basic_headers(self.acct)), 404)
        # 400: bad JSON.
        self.assertError(curl(self.http, "PUT", "/iot/data/x", '{"data": 1',
                              device_headers(self.proto)), 400)
        self.assertError(self.req("POST", "/iot/device", "not json"), 400)
        # 413: a body over http.max_body_bytes, with curl asking first ("Expect: 100-continue":
        # refused unread) and not, and with http.client (which sends it all): all get the answer.
        big = {"data": "x" * (MAX_BODY + 1)}
        for expect in ("100-continue", ""):
            with self.subTest(expect=expect):
                self.assertError(curl(self.http, "PUT", "/iot/data/x", big,
                                      device_headers(self.proto),
                                      extra=["-H", f"Expect: {expect}"]), 413)
        self.assertError(self.req("PUT", "/iot/data/x", big, device_headers(self.proto)), 413)
        # 413 too: more records than http.max_records_per_publish.
        self.assertError(self.req("PUT", "/iot/data/x", [{"data": i} for i in range(MAX_RECORDS + 1)],
                                  device_headers(self.proto)), 413)
        # Others: no such resource, a method it does not take.
        self.assertError(self.req("GET", "/iot/nothing", headers=device_headers(self.proto)), 404)
        r = self.req("PATCH", "/iot/data/x", {}, device_headers(self.proto))
        self.assertError(r, 405)
        self.assertIn("GET", r.headers.get("allow", ""))
        # Nothing of this was stored.
        self.assertEqual(self.server.data_get("x", of=[self.proto["id"], thing["id"]]), [])

    def test_what_the_store_refuses_is_a_400_with_its_message(self):
        """An argument the store refuses (a store::Failure of kInvalid) and a property request it
        refuses (kBadPayload): 400 in the error form, saying why, and nothing changed."""
        path = f"/iot/device/{self.proto['id']}"
        body = self.assertError(self.req("POST", "/iot/device", {"name": "p", "hwid": "a/b"},
                                         account_headers(self.acct)), 400)
        self.assertIn("hwid", body["msg"])
        body = self.assertError(self.req("PATCH", path, {"status": "sleeping"},
                                         basic_headers(self.acct)), 400)
        self.assertIn("status", body["msg"])
        body = self.assertError(self.req("DELETE", path, "null", basic_headers(self.acct)), 400)
        self.assertIn("not a controller", body["msg"])
        body = self.assertError(self.req("PATCH", path + "/", {"l": {"channel": "a/#"}},
                                         device_headers(self.proto)), 400)
        self.assertIn("link channel", body["msg"])
        self.assertEqual(self.server.cli("device", "show", self.proto["id"])["status"], "ok")
        self.assertEqual(self.assertOk(self.req("GET", path + "/",
                                                headers=device_headers(self.proto))), {})

    def test_thing_enrollment_errors_are_the_spec_5_codes(self):
        model = self.server.make_template(self.acct["email"])["id"]
        s = self.new_serial(model)
        body = {"model": model, "hwid": s["hwid"], "pass": s["pass"]}
        self.assertOk(self.req("POST", "/iot/device", body))
        self.assertError(self.req("POST", "/iot/device", body), 403)  # already enrolled
        self.assertError(self.req("POST", "/iot/device", {**body, "pass": "wrong!"}), 401)
        self.assertError(self.req("POST", "/iot/device", {**body, "model": "mod-" + "0" * 24}),
                         404)
        self.assertError(self.req("POST", "/iot/device", {**body, "hwid": "a/b"}), 400)


class ClientLibraryFormsTest(HttpTestCase):
    """Requests as the CloudPlugs client libraries build them."""

    def test_unquoted_strings_get_bodies_and_empty_bodies(self):
        h = device_headers(self.proto)
        base = f"/iot/device/{self.proto['id']}/"
        # A property value sent as bare text, and no body to delete.
        self.assertOk(self.req("PATCH", base + "room", "kitchen", h))
        self.assertEqual(self.assertOk(self.req("GET", base + "room", headers=h)), "kitchen")
        self.assertOk(self.req("PATCH", base + "room", "", h))
        self.assertIsNone(self.assertOk(self.req("GET", base + "room", headers=h)))
        # Filters of a GET in a JSON body.
        self.assertOk(self.req("PUT", "/iot/data/lib", [{"data": i} for i in range(3)], h))
        got = self.assertOk(self.req("GET", "/iot/data/lib", {"limit": 2}, h))
        self.assertEqual(len(got), 2)
        self.assertEqual(self.assertOk(self.req("GET", "/iot/channel/%23", {"of": [self.proto["id"]]},
                                                h)), ["lib"])
        # Unenroll with the Plug-ID quoted, as a JSON string.
        victim = self.server.make_prototype(self.acct["email"], "victim")
        r = self.req("DELETE", "/iot/device", f'"{victim["id"]}"', account_headers(self.acct))
        self.assertEqual(self.assertOk(r), 1)


class KeepAliveTest(HttpTestCase):
    def test_many_requests_on_one_connection(self):
        conn = http.client.HTTPConnection(HOST, self.http, timeout=10)
        self.addCleanup(conn.close)
        headers = device_headers(self.proto)
        sock = None
        for i in range(20):
            conn.request("PUT", "/iot/data/ka", json.dumps({"data": i}), headers)
            r = conn.getresponse()
            self.assertEqual(r.status, 200, r.read())
            r.read()
            self.assertNotEqual((r.getheader("Connection") or "").lower(), "close")
            if sock is None:
                sock = conn.sock
            self.assertIs(conn.sock, sock, "the same connection serves every request")
        conn.request("GET", "/iot/data/ka?limit=100", headers=headers)
        r = conn.getresponse()
        self.assertEqual(len(json.loads(r.read())), 20)
        self.assertIs(conn.sock, sock)


class TimeoutsTest(FreshServerTestCase):
    """http.idle_timeout_s and http.request_timeout_s of 1 s."""

    server_config = {"http": {"idle_timeout_s": 1, "request_timeout_s": 1}}

    def closed_within(self, sock: socket.socket, seconds: float) -> bool:
        """Reads until the server closes the connection; True if it did within `seconds`."""
        sock.settimeout(seconds)
        try:
            while sock.recv(4096):
                pass
            return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def test_idle_and_slow_connections_are_closed(self):
        acct = self.server.make_account()
        headers = basic_headers(acct)
        port = self.server.http_port
        # An idle keep-alive connection, after one request.
        idle = socket.create_connection((HOST, port))
        self.addCleanup(idle.close)
        auth = headers["Authorization"]
        idle.sendall(f"GET /iot/channel/%23 HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n"
                     .encode())
        # Ten times the timeout is a generous bound for a close that is due after one second.
        self.assertTrue(self.closed_within(idle, 10), "an idle keep-alive connection is closed")
        # A request whose headers never finish.
        slow = socket.create_connection((HOST, port))
        self.addCleanup(slow.close)
        slow.sendall(b"GET /iot/channel/%23 HTTP/1.1\r\nHost: x\r\n")
        self.assertTrue(self.closed_within(slow, 10), "an unfinished request is closed")
        # The server serves everyone else meanwhile.
        self.assertEqual(http_request(port, "GET", "/iot/channel/%23", headers=headers).status, 200)

    def test_sigterm_with_open_http_connections_exits_0(self):
        acct = self.server.make_account()
        conn = http.client.HTTPConnection(HOST, self.server.http_port, timeout=10)
        self.addCleanup(conn.close)
        conn.request("GET", "/iot/channel/%23", headers=basic_headers(acct))
        self.assertEqual(conn.getresponse().read(), b"[]")
        self.server.signal(signal.SIGTERM)
        self.assertEqual(self.server.wait_exit(), 0)
        self.server.stop()  # closes the log file
        self.server.start(self.server_args)  # the harness checks a running server at the end


class HttpsTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.certdir = tempfile.mkdtemp(prefix="plugmq-https-")
        cls.certs = make_tls_certs(cls.certdir, "https")
        cls.server_args = ["--mqtts", f"{HOST}:0", "--tls-cert", cls.certs["cert"],
                           "--tls-key", cls.certs["key"]]
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.certdir, ignore_errors=True)

    def test_https_on_the_mqtt_certificate(self):
        port = self.server.https_port
        self.assertIsInstance(port, int, self.server.ready)
        acct = self.server.make_account()
        dev = self.server.make_prototype(acct["email"])
        sub = self.subscriber(dev["id"], dev["auth"], "+/data/secure")
        r = http_request(port, "PUT", "/iot/data/secure", {"data": "tls"}, device_headers(dev),
                         tls_ca=self.certs["ca"])
        self.assertEqual(r.status, 200, r.text)
        check_record(self, sub.messages.wait_topic(f"{dev['id']}/data/secure"), data="tls")
        r = curl(port, "GET", "/iot/data/secure", headers=device_headers(dev), scheme="https",
                 extra=["--cacert", self.certs["ca"]])
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json()[0]["data"], "tls")
        # Plain HTTP on the TLS port gets no answer; the server goes on.
        with self.assertRaises((http.client.HTTPException, ConnectionError, socket.timeout,
                                ssl.SSLError, OSError)):
            http_request(port, "GET", "/iot/data/secure", headers=device_headers(dev), timeout=5)
        self.assertEqual(http_request(self.server.http_port, "GET", "/iot/data/secure",
                                      headers=device_headers(dev)).status, 200)


if __name__ == "__main__":
    unittest.main()
