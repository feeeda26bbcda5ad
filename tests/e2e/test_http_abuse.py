"""Hostile JSON bodies on the HTTP REST API (SPEC 10), against the real binary: a number beyond a
double's range, anywhere in any body, is a 400 in the error form, with no error in the server log
and the server still serving; a GET whose JSON body of filters is malformed is a 400 naming the
body, not a read that ignores its filters."""

import re
import unittest

from harness import (ServerTestCase, account_headers, curl, device_headers, http_request,
                     wait_for)

# A log line at level error or critical ("2024-01-02T03:04:05.678 error ...").
ERROR_LINE = re.compile(r"^\S+ (error|critical) ", re.MULTILINE)


class HttpAbuseTestCase(ServerTestCase):
    @classmethod
    def setUpServer(cls):
        # Retention 0 (forever): nothing a test stores is swept away meanwhile.
        cls.acct = cls.server.make_account(retention_days=0)
        cls.proto = cls.server.make_prototype(cls.acct["email"], "proto")

    def req(self, method, path, body=None, headers=None):
        return http_request(self.server.http_port, method, path, body, headers)

    def assertError400(self, reply, what: str) -> str:
        """The SPEC 10 error form with status 400; returns its message."""
        self.assertEqual(reply.status, 400, f"{what}: {reply.text}")
        self.assertEqual(reply.headers.get("content-type"), "application/json", what)
        body = reply.json()
        self.assertIsInstance(body, dict, f"{what}: {reply.text}")
        self.assertEqual(set(body), {"err", "msg"}, f"{what}: {body}")
        self.assertEqual(body["err"], 400, what)
        self.assertIsInstance(body["msg"], str, what)
        self.assertTrue(body["msg"], what)
        return body["msg"]

    def wait_answered(self, method: str, path: str, status: int) -> None:
        """Waits for the server's debug line of an answered request: every line the request
        logged comes before it."""
        line = f"{method} {path} -> {status}"
        wait_for(lambda: line in self.server.log_text(self._log_offset),
                 what=f"the log line {line!r}")


class OutOfRangeNumberTest(HttpAbuseTestCase):
    def test_a_number_beyond_a_double_is_a_400_anywhere_in_any_body(self):
        dev = device_headers(self.proto)
        props = f"/iot/device/{self.proto['id']}/"
        cases = [
            ("POST", "/iot/device", '{"model":1e999}', {}),
            ("POST", "/iot/device", '{"name":"n","props":{"a":[1,{"b":-1e999}]}}',
             account_headers(self.acct)),
            ("PUT", "/iot/data/abuse", '[{"data":1},{"data":{"deep":[0,1E+400]}}]', dev),
            ("PATCH", props, '{"room":1e999}', dev),
            ("PATCH", props + "room", '{"v":-1e400}', dev),
            ("DELETE", "/iot/data/abuse", '{"before":1e999}', dev),
            ("GET", "/iot/data/abuse", '{"limit":1e999}', dev),
        ]
        for method, path, body, headers in cases:
            msg = self.assertError400(self.req(method, path, body, headers), f"{method} {body}")
            self.assertIn("number", msg, f"{method} {body}: the message names the problem")
            self.wait_answered(method, path, 400)
        self.assertIsNone(ERROR_LINE.search(self.server.log_text(self._log_offset)),
                          "a client's bad number is no server error")
        # Still serving, and nothing of the refused publish was stored. An integer too long
        # for 64 bits that fits a double is a number like any other.
        self.assertEqual(self.req("GET", "/iot/data/abuse", headers=dev).json(), [])
        r = self.req("PUT", "/iot/data/abuse", '{"data":123456789012345678901234567890}', dev)
        self.assertEqual(r.status, 200, r.text)
        got = self.req("GET", "/iot/data/abuse", headers=dev).json()
        self.assertEqual([x["data"] for x in got], [1.2345678901234568e+29])


class MalformedGetBodyTest(HttpAbuseTestCase):
    def test_a_get_with_a_malformed_body_is_a_400_not_every_record(self):
        dev = device_headers(self.proto)
        port = self.server.http_port
        stored = self.req("PUT", "/iot/data/filtered", [{"data": i} for i in range(3)], dev)
        self.assertEqual(stored.status, 200, stored.text)
        for path in ("/iot/data/filtered", "/iot/channel/%23"):
            for body in ('{"limit":1', '{"limit":1,}', "limit=1", '[{"limit":1}]', '"limit"'):
                reply = curl(port, "GET", path, body, dev)
                msg = self.assertError400(reply, f"GET {path} {body}")
                self.assertIn("body", msg, f"GET {path} {body}: the message names the body")
        # A well-formed body still filters, and no body is no filter.
        self.assertEqual(len(curl(port, "GET", "/iot/data/filtered", {"limit": 1}, dev).json()), 1)
        self.assertEqual(len(curl(port, "GET", "/iot/data/filtered", None, dev).json()), 3)


if __name__ == "__main__":
    unittest.main()
