"""The account's lists over HTTP, as the web console and scripts use them (README "HTTP API"):
GET /iot/device (online now and last seen as MQTT logins change them, the same JSON as
`plugmq device list --json`), /iot/template and /iot/template/MODEL/serial (one serial, or a CSV
file with curl, with the rules of `plugmq serial add --csv`; the things enroll with them), and
/iot/session (a persistent session listed, and deleted once its client has gone). Device
credentials get 403 on all of them."""

import json
import subprocess
import unittest

from harness import (HOST, ServerTestCase, account_headers, basic_headers, curl,
                     device_headers, http_request, thing_topic, unique, wait_for)


class AccountApiTest(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.acct = self.server.make_account()
        self.dev = self.server.make_prototype(self.acct["email"], "kitchen")

    def get(self, path, headers=None):
        r = http_request(self.server.http_port, "GET", path, headers=headers or basic_headers(self.acct))
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.headers.get("content-type"), "application/json")
        return r.json()

    def assertError(self, reply, status, msg_part=""):
        self.assertEqual(reply.status, status, reply.text)
        body = reply.json()
        self.assertEqual(set(body), {"err", "msg"}, body)
        self.assertEqual(body["err"], status)
        self.assertIn(msg_part, body["msg"])
        return body

    def test_devices_online_and_last_seen_follow_mqtt_logins(self):
        listed = self.get("/iot/device")
        self.assertEqual([d["id"] for d in listed], [self.dev["id"]])
        self.assertFalse(listed[0]["online"])
        self.assertIsNone(listed[0]["last_seen"])
        # The same JSON as the command line prints.
        self.assertEqual(listed, self.server.cli("device", "list", "--account", self.acct["email"]))

        c = self.paho_dev(self.dev, client_id="SN-77/kitchen")
        on = wait_for(lambda: self.get("/iot/device")[0]["online"] and self.get("/iot/device")[0],
                      what="the device listed online")
        self.assertEqual(on["last_client_id"], "SN-77/kitchen")
        self.assertIsInstance(on["last_seen"], int)
        c.close()
        off = wait_for(lambda: not self.get("/iot/device")[0]["online"] and self.get("/iot/device")[0],
                       what="the device listed offline")
        self.assertGreaterEqual(off["last_seen"], on["last_seen"])
        # X-Plug-Email + X-Plug-Master work as Basic does.
        self.assertEqual(len(self.get("/iot/device", account_headers(self.acct))), 1)

    def test_device_credentials_get_403(self):
        model = self.server.make_template(self.acct["email"])["id"]
        for method, path in (("GET", "/iot/device"), ("GET", "/iot/template"),
                             ("POST", "/iot/template"), ("GET", f"/iot/template/{model}/serial"),
                             ("POST", f"/iot/template/{model}/serial"), ("GET", "/iot/session"),
                             ("DELETE", f"/iot/session/{self.dev['id']}/x")):
            with self.subTest(method=method, path=path):
                r = http_request(self.server.http_port, method, path, body="{}" if method == "POST" else None,
                                 headers=device_headers(self.dev))
                self.assertError(r, 403, "account's credentials")
                r = http_request(self.server.http_port, method, path)
                self.assertEqual(r.status, 401, r.text)

    def test_templates_and_serials_with_curl(self):
        port = self.server.http_port
        r = curl(port, "POST", "/iot/template", {"name": "thermostat", "ctrl": "r"},
                 basic_headers(self.acct))
        self.assertEqual(r.status, 201, r.text)
        model = r.json()["id"]
        self.assertEqual([t["id"] for t in self.get("/iot/template")], [model])
        self.assertEqual(self.get("/iot/template"), self.server.cli("template", "list", "--account",
                                                                    self.acct["email"]))
        # One serial, then a CSV file, as the README shows them.
        r = curl(port, "POST", f"/iot/template/{model}/serial",
                 {"hwid": "SN-0001", "enroll_pass": "factory1", "control_pass": "owner1"},
                 basic_headers(self.acct))
        self.assertEqual(r.status, 201, r.text)
        self.assertEqual(r.json(), {"model": model, "hwid": "SN-0001", "control": True})
        csv_path = self.server.write_file("serials.csv", "hwid,enroll_pass,control_pass\n"
                                          "SN-0002,factory2,owner2\nSN-0003,factory3\n")
        p = subprocess.run(["curl", "-sS", "-u", f"{self.acct['email']}:{self.acct['password']}",
                            "-H", "Content-Type: text/csv", "--data-binary", f"@{csv_path}",
                            f"http://{HOST}:{port}/iot/template/{model}/serial"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), {"model": model, "added": 2})
        listed = self.get(f"/iot/template/{model}/serial")
        self.assertEqual(listed, self.server.cli("serial", "list", model))
        self.assertEqual([(s["hwid"], s["control"], s["thing"]) for s in listed],
                         [("SN-0001", True, None), ("SN-0002", True, None), ("SN-0003", False, None)])
        # They enroll.
        thing = self.assert_enroll_ok("SN-0003/lamp", thing_topic(model, "factory3"))
        self.assertEqual(self.get(f"/iot/template/{model}/serial")[2]["thing"], thing["id"])

        # The file's rules: a bad line or a registered HWID, named by its line; all or none.
        bad = self.server.write_file("bad.csv", "SN-0004,factory4\nSN-0001,factory1\n")
        with open(bad, "rb") as f:
            text = f.read()
        r = http_request(port, "POST", f"/iot/template/{model}/serial", text,
                         {**basic_headers(self.acct), "Content-Type": "text/csv"})
        self.assertError(r, 409, f'CSV line 2: hwid "SN-0001" is already registered in {model}')
        r = http_request(port, "POST", f"/iot/template/{model}/serial", b"SN-0004\n",
                         {**basic_headers(self.acct), "Content-Type": "text/csv"})
        self.assertError(r, 400, "CSV line 1: expected hwid,enroll_pass[,control_pass]")
        self.assertEqual(len(self.get(f"/iot/template/{model}/serial")), 3)
        # The command line reads the same file with the same words.
        p = self.server.cli_run("serial", "add", model, "--csv", bad)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f'line 2: hwid "SN-0001" is already registered in {model}', p.stderr)

    def test_another_accounts_template_is_unknown(self):
        other = self.server.make_account()
        theirs = self.server.make_template(other["email"])["id"]
        r = http_request(self.server.http_port, "GET", f"/iot/template/{theirs}/serial",
                         headers=basic_headers(self.acct))
        self.assertError(r, 404, "no template")
        self.assertEqual(self.get("/iot/template"), [])

    def test_persistent_sessions_listed_and_deleted(self):
        cid = unique("persist")
        c = self.paho_dev(self.dev, client_id=cid, clean_session=False)
        self.assertEqual(c.subscribe(f"{self.dev['id']}/data/#", qos=1), (1,))
        mine = lambda: [s for s in self.get("/iot/session") if s["client_id"] == cid]
        # Saved a second after a change (docs/architecture.md, "A persistent session").
        online = wait_for(lambda: mine() and mine()[0]["online"] and mine()[0]["subscriptions"] and
                          mine()[0], what="the session listed online with its subscription")
        self.assertEqual(online["id"], self.dev["id"])
        self.assertEqual(online["subscriptions"], [{"filter": f"{self.dev['id']}/data/#", "qos": 1}])
        path = f"/iot/session/{self.dev['id']}/{cid}"
        r = http_request(self.server.http_port, "DELETE", path, headers=basic_headers(self.acct))
        self.assertError(r, 409, "connected")
        c.close()
        wait_for(lambda: not mine()[0]["online"], what="the session listed offline")
        self.assertEqual(mine(), [s for s in self.server.cli("session", "list", "--account",
                                                             self.acct["email"])
                                  if s["client_id"] == cid])
        r = http_request(self.server.http_port, "DELETE", path, headers=basic_headers(self.acct))
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json(), {"deleted": True})
        self.assertEqual(mine(), [])
        r = http_request(self.server.http_port, "DELETE", path, headers=basic_headers(self.acct))
        self.assertError(r, 404, "no session")


if __name__ == "__main__":
    unittest.main()
