"""What CloudPlugs' official REST clients send, over real HTTP (http.client and curl): list
filters that name nothing are refused rather than read as "no filter", limit=0 is the maximum,
PATCH /iot/device/ID refuses members it does not know and takes a location, a mask ending in '/'
is read as ending in "/#", and CORS for browser pages on other origins (http.cors_origins)."""

import json
import signal
import unittest

from harness import (ServerTestCase, account_headers, curl, device_headers, http_request,
                     now_ms, wait_for)


class CompatTestCase(ServerTestCase):
    """Each test makes its own account and device, so that reads see that test's records only."""

    def setUp(self):
        super().setUp()
        self.acct = self.server.make_account(retention_days=0)
        # Made over HTTP, which puts it in the server's directory before it answers, so that the
        # account's reads without "of" include it at once.
        r = self.req("POST", "/iot/device", {"name": "dev"})
        self.assertEqual(r.status, 201, r.text)
        self.dev = r.json()

    def req(self, method, path, body=None, headers=None):
        return http_request(self.server.http_port, method, path, body,
                            account_headers(self.acct) if headers is None else headers)

    def assertError(self, reply, status, *needles):
        self.assertEqual(reply.status, status, reply.text)
        body = reply.json()
        self.assertEqual(set(body), {"err", "msg"}, body)
        self.assertEqual(body["err"], status)
        for n in needles:
            self.assertIn(n, body["msg"])
        return body

    def publish(self, records):
        """Publishes `records` ([{"channel","data","at"?}]) as the test's device in one PUT."""
        r = self.req("PUT", "/iot/data", records, device_headers(self.dev))
        self.assertEqual(r.status, 200, r.text)
        return r.json()

    def ok_json(self, reply):
        self.assertEqual(reply.status, 200, reply.text)
        return reply.json()


class ListFilterTest(CompatTestCase):
    def test_an_empty_list_or_item_is_a_400_naming_the_parameter(self):
        t = now_ms() - 60_000
        self.publish([{"channel": "a", "data": 1, "at": t}, {"channel": "a", "data": 2}])
        self.assertEqual(len(self.ok_json(self.req("GET", "/iot/data/a"))), 2)
        # What rest-js sends for an unset list ("at=%2C"), and other stray commas: never "all".
        for query, name in [("at=", "at"), ("at=,", "at"), ("at=%2C", "at"), ("at", "at"),
                            (f"at={t},", "at"), (f"at={t},,{t}", "at"), ("of=", "of"),
                            ("of=,", "of"), (f"of={self.dev['id']},", "of"),
                            (f"at={t}&at=", "at")]:
            with self.subTest(query=query):
                for path in (f"/iot/data/a?{query}", f"/iot/channel/a?{query}"):
                    self.assertError(self.req("GET", path), 400, f"{name}:", "empty")
        # The same lists as a JSON body (what rest-python's *_ex calls send).
        for body, name in [({"of": []}, "of"), ({"at": ""}, "at"), ({"at": [t, ""]}, "at"),
                           ({"of": ","}, "of")]:
            with self.subTest(body=body):
                self.assertError(self.req("GET", "/iot/data/a", body), 400, f"{name}:")
        # DELETE /iot/data: the same rule, and nothing is deleted.
        for body, name in [({"at": ""}, "at"), ({"id": []}, "id"), ({"of": [], "before": t},
                                                                    "of")]:
            with self.subTest(delete=body):
                self.assertError(self.req("DELETE", "/iot/data/a", body), 400, f"{name}:")
        self.assertEqual(len(self.ok_json(self.req("GET", "/iot/data/a"))), 2, "nothing deleted")
        # A real list still selects what it names.
        only = self.ok_json(self.req("GET", f"/iot/data/a?at={t}"))
        self.assertEqual([r["data"] for r in only], [1])
        only = self.ok_json(self.req("GET", f"/iot/data/a?of={self.dev['id']}&at={t}"))
        self.assertEqual([r["data"] for r in only], [1])


class LimitZeroTest(CompatTestCase):
    def test_limit_0_is_the_maximum(self):
        n = 150  # over the default limit of 100
        base = now_ms() - 10 * 60_000
        for start in range(0, n, 50):
            self.publish([{"channel": "many", "data": i, "at": base + i}
                          for i in range(start, start + 50)])
        self.assertEqual(len(self.ok_json(self.req("GET", "/iot/data/many"))), 100, "default")
        every = self.ok_json(self.req("GET", "/iot/data/many?limit=0"))
        self.assertEqual([r["data"] for r in every], list(range(n - 1, -1, -1)))
        body = self.ok_json(self.req("GET", "/iot/data/many", {"limit": 0}))
        self.assertEqual(len(body), n, "limit 0 in a JSON body")
        self.assertEqual(len(self.ok_json(self.req("GET", "/iot/data/many?limit=0&offset=140"))),
                         10)
        self.assertError(self.req("GET", "/iot/data/many?limit=10001"), 400, "limit", "0..10000")
        self.assertError(self.req("GET", "/iot/data/many?limit=-1"), 400, "limit")


class PatchDeviceTest(CompatTestCase):
    def device(self):
        return self.ok_json(self.req("GET", f"/iot/device/{self.dev['id']}"))

    def test_an_unknown_member_is_a_400_naming_it_and_changes_nothing(self):
        before = self.device()
        # What rest-arduino sends to set a property.
        for body in ({"color": "blue"}, {"name": "renamed", "color": "blue"},
                     {"props": {"a": 1}, "Name": "x"}):
            with self.subTest(body=body):
                member = [k for k in body if k not in ("name", "props")][0]
                msg = self.assertError(
                    self.req("PATCH", f"/iot/device/{self.dev['id']}", body,
                             device_headers(self.dev)), 400, f'"{member}"')["msg"]
                self.assertIn("props", msg, "says where other properties go")
        self.assertEqual(self.device(), before, "nothing changed")
        # The known members still work, as the device itself.
        r = self.req("PATCH", f"/iot/device/{self.dev['id']}",
                     {"name": "renamed", "props": {"color": "blue"}}, device_headers(self.dev))
        out = self.ok_json(r)
        self.assertEqual(out["name"], "renamed")
        self.assertEqual(out["props"], {"color": "blue"})

    def test_a_controller_enrollment_with_an_unknown_member_is_a_400(self):
        r = self.req("PUT", "/iot/device", {"model": "m", "ctrl": "c", "pass": "p",
                                            "serial": "x"}, {})
        self.assertError(r, 400, '"serial"', "model, ctrl, pass, hwid, name")

    def test_a_published_record_with_an_unknown_member_is_a_400(self):
        h = device_headers(self.dev)
        self.assertError(self.req("PUT", "/iot/data/t", {"data": 1, "value": 2}, h), 400,
                         '"value"')
        self.assertError(self.req("PUT", "/iot/data", [{"channel": "t", "data": 1},
                                                      {"channel": "t", "data": 2, "tll": 5}],
                                  h), 400, "record 2", '"tll"')
        self.assertEqual(self.ok_json(self.req("GET", "/iot/data/t")), [], "nothing stored")
        r = self.req("PUT", "/iot/data/t", {"data": 1, "at": now_ms(), "ttl": 60, "of":
                                            self.dev["id"], "retain": False}, h)
        self.assertEqual(r.status, 200, r.text)

    def test_location_is_the_property_of_that_name(self):
        path = f"/iot/device/{self.dev['id']}"
        loc = {"x": 12.5, "y": 41.9, "z": 20, "r": 5, "t": 1700000000000}
        out = self.ok_json(self.req("PATCH", path, {"location": loc}, device_headers(self.dev)))
        self.assertEqual(out["props"]["location"], loc)
        # rest-python's get_device_location reads it as a property.
        self.assertEqual(self.ok_json(self.req("GET", f"{path}/location")), loc)
        for bad, needle in [({"x": 200, "y": 0}, '"x"'), ({"x": 1}, '"y"'),
                            ({"x": 1, "y": 2, "w": 3}, '"w"'), ("here", "object"),
                            ({"x": "1", "y": 2}, '"x"')]:
            with self.subTest(location=bad):
                self.assertError(self.req("PATCH", path, {"location": bad}), 400, "location",
                                 needle)
        self.assertEqual(self.ok_json(self.req("GET", f"{path}/location")), loc, "unchanged")
        out = self.ok_json(self.req("PATCH", path, {"location": None}))
        self.assertNotIn("location", out["props"], "null deletes it, like any property")


class MaskTest(CompatTestCase):
    def test_a_mask_ending_in_slash_reads_as_ending_in_hash(self):
        self.publish([{"channel": c, "data": c} for c in
                      ("home/a", "home/b/c", "home", "homes/x", "other")])
        # rest-python sends "home/#" unescaped: the '#' starts a fragment and never arrives.
        for path in ("/iot/data/home/", "/iot/data/home/#", "/iot/data/home%2F"):
            with self.subTest(path=path):
                got = sorted(r["channel"] for r in self.ok_json(self.req("GET", path)))
                self.assertEqual(got, sorted(r["channel"] for r in self.ok_json(
                    self.req("GET", "/iot/data/home/%23"))))
                self.assertEqual(got, ["home", "home/a", "home/b/c"])
        self.assertEqual(sorted(self.ok_json(self.req("GET", "/iot/channel/home/"))),
                         ["home", "home/a", "home/b/c"])
        r = self.req("DELETE", "/iot/data/home/", {"before": now_ms() + 60_000})
        self.assertEqual((r.status, r.json()), (202, 3), r.text)
        left = sorted(r["channel"] for r in self.ok_json(self.req("GET", "/iot/data")))
        self.assertEqual(left, ["homes/x", "other"])
        # A channel to publish to is not a mask: a trailing '/' is still refused there.
        r = self.req("PUT", "/iot/data/home/", {"data": 1}, device_headers(self.dev))
        self.assertError(r, 400)


ORIGIN = "http://app.example.com"


def preflight(port, origin, method="GET", headers="x-plug-email,x-plug-master"):
    """What a browser sends before a cross-origin request with credential headers."""
    return curl(port, "OPTIONS", "/iot/data/temp",
                headers={"Origin": origin, "Access-Control-Request-Method": method,
                         "Access-Control-Request-Headers": headers})


class CorsTest(CompatTestCase):
    server_config = {"http": {"cors_origins": [ORIGIN, "http://localhost:3000"]}}

    def test_preflight_and_request_from_a_listed_origin(self):
        port = self.server.http_port
        r = preflight(port, ORIGIN, "PATCH")
        self.assertEqual(r.status, 204, r.text)
        self.assertEqual(r.headers["access-control-allow-origin"], ORIGIN)
        self.assertIn("Origin", r.headers.get("vary", ""))
        methods = [m.strip() for m in r.headers["access-control-allow-methods"].split(",")]
        for m in ("GET", "PUT", "PATCH", "DELETE", "POST"):
            self.assertIn(m, methods)
        allowed = [h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")]
        for h in ("x-plug-id", "x-plug-auth", "x-plug-email", "x-plug-master", "authorization",
                  "content-type"):
            self.assertIn(h, allowed)
        self.assertTrue(int(r.headers["access-control-max-age"]) > 0)
        # The request itself, as fetch() sends it: answered, with the origin allowed.
        self.publish([{"channel": "temp", "data": 20}])
        r = curl(port, "GET", "/iot/data/temp", headers={**account_headers(self.acct),
                                                        "Origin": ORIGIN})
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.headers["access-control-allow-origin"], ORIGIN)
        self.assertEqual([x["data"] for x in r.json()], [20])
        # Errors carry it too, so that the page can read {"err","msg"}.
        r = curl(port, "GET", "/iot/data/temp?limit=x", headers={**account_headers(self.acct),
                                                                "Origin": ORIGIN})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.headers["access-control-allow-origin"], ORIGIN)

    def test_other_origins_get_no_allowance(self):
        port = self.server.http_port
        r = preflight(port, "http://evil.example.com")
        self.assertEqual(r.status, 403, r.text)
        self.assertNotIn("access-control-allow-origin", r.headers)
        self.assertIn("http.cors_origins", r.json()["msg"])
        r = curl(port, "GET", "/iot/data/temp", headers={**account_headers(self.acct),
                                                        "Origin": "http://evil.example.com"})
        self.assertEqual(r.status, 200, "answered; the browser withholds it from the page")
        self.assertNotIn("access-control-allow-origin", r.headers)
        # Clients that are not browsers send no Origin and see no CORS headers.
        r = curl(port, "GET", "/iot/data/temp", headers=account_headers(self.acct))
        self.assertNotIn("access-control-allow-origin", r.headers)

    def test_sighup_changes_the_list(self):
        port = self.server.http_port
        self.assertEqual(preflight(port, "http://new.example.com").status, 403)
        self.server.write_file("plugmq.json", json.dumps({"http": {"cors_origins": ["*"]}}))
        offset = self.server.log_size()
        self.server.signal(signal.SIGHUP)
        log = wait_for(lambda: "SIGHUP: configuration reloaded" in self.server.log_text(offset)
                       and self.server.log_text(offset), what="the reload log line")
        self.assertIn("SIGHUP: http.cors_origins changed from", log)
        self.assertNotIn("cors_origins changed from " + json.dumps([ORIGIN]) + " to [\"*\"]: "
                         "takes effect after a restart", log)
        r = preflight(port, "http://new.example.com")
        self.assertEqual(r.status, 204, r.text)
        self.assertEqual(r.headers["access-control-allow-origin"], "*")


class CorsOffTest(CompatTestCase):
    def test_off_by_default(self):
        r = preflight(self.server.http_port, ORIGIN)
        self.assertEqual(r.status, 403, r.text)
        self.assertIn("cross-origin requests are off (http.cors_origins)", r.json()["msg"])
        r = curl(self.server.http_port, "GET", "/iot/data/temp",
                 headers={**account_headers(self.acct), "Origin": ORIGIN})
        self.assertEqual(r.status, 200)
        self.assertNotIn("access-control-allow-origin", r.headers)


if __name__ == "__main__":
    unittest.main()
