"""Several phones controlling one thing (SPEC 5): the official iOS app enrolls every phone as the
controller whose HWID is the thing's serial, so each phone's enrollment is a repeated enrollment
of one controller. Each gets its own auth code and the earlier ones stay valid (the 8 most recent,
oldest dropped first): phone B's enrollment no longer locks phone A out. `plugmq device set ID
--revoke-auth` and, for the account, `DELETE /iot/auth/ID` end every code and close the
connections that logged in with one; `--new-auth` still gives one new code and ends the others."""

import json
import unittest

from harness import (AUTH_RE, PahoClient, ServerTestCase, account_headers, basic_headers, curl,
                     device_headers, http_request, paho_connect_rc, unique)

LIVE_LIMIT = 5.0  # a server applies an admin change at its next directory refresh (1 s)
CODES_KEPT = 8    # store::kControllerAuthCodes


class ControllerPhonesTest(ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()

    def setUp(self):
        super().setUp()
        self.model = self.server.make_template(self.acct["email"])["id"]
        self.thing = self.make_thing(self.model)

    def phone_enrolls(self) -> dict:
        """What the iOS app does: enroll as controller with the thing's serial as its HWID."""
        return self.make_controller(self.thing, hwid=self.thing["hwid"], name="iPhone")

    def phone(self, ctl: dict) -> PahoClient:
        """A phone logged in with its code (a client id of its own), subscribed to its thing."""
        c = PahoClient(self.port, ctl["id"], ctl["auth"], client_id=unique("phone"))
        self.addCleanup(c.close)
        self.assertEqual(c.connect(), 0, "CONNACK of a phone")
        self.assertEqual(c.subscribe(f"{self.thing['id']}/data/#"), (0,))
        return c

    def rc(self, ctl: dict) -> int:
        return paho_connect_rc(self.port, ctl["id"], ctl["auth"])

    def test_phone_a_and_phone_b_both_control_the_thing_until_revoked(self):
        a = self.phone_enrolls()
        b = self.phone_enrolls()
        self.assertEqual(b["id"], a["id"], "one controller")
        self.assertNotEqual(b["auth"], a["auth"])
        phone_a, phone_b = self.phone(a), self.phone(b)
        # Each publishes for the thing (its own topic, as the iOS client does: "of"); each sees
        # the other's.
        topic = f"{self.thing['id']}/data/light"
        phone_a.publish("/data/light", json.dumps({"of": self.thing["id"], "data": "on"}), qos=1)
        phone_b.publish(topic, '"off"', qos=1)
        for c in (phone_a, phone_b):
            c.messages.wait(lambda m: m.topic == topic and m.json()["data"] == "on")
            c.messages.wait(lambda m: m.topic == topic and m.json()["data"] == "off")
        stored = self.server.wait_records("light", lambda rs: len(rs) == 2)
        self.assertEqual({r["of"] for r in stored}, {self.thing["id"]})

        out = self.server.cli("device", "set", a["id"], "--revoke-auth")
        self.assertEqual(out["id"], a["id"])
        self.assertNotIn("auth", out, "no new code unless --new-auth")
        for c in (phone_a, phone_b):
            self.assertTrue(c.disconnected.wait(LIVE_LIMIT), "a phone's connection closed")
        self.assertEqual(self.rc(a), 4)
        self.assertEqual(self.rc(b), 4)
        # A phone that enrolls again is back; the revoked codes stay revoked.
        c = self.phone_enrolls()
        self.assertEqual(c["id"], a["id"])
        self.assertEqual(self.rc(c), 0)
        self.assertEqual(self.rc(a), 4)

    def test_the_oldest_codes_go_first(self):
        phones = [self.phone_enrolls() for _ in range(CODES_KEPT + 1)]
        self.assertEqual(len({p["id"] for p in phones}), 1)
        self.assertEqual(self.rc(phones[0]), 4, "the ninth enrollment dropped the first code")
        for p in (phones[1], phones[CODES_KEPT // 2], phones[-1]):
            self.assertEqual(self.rc(p), 0)

    def test_new_auth_still_leaves_one_code(self):
        a, b = self.phone_enrolls(), self.phone_enrolls()
        out = self.server.cli("device", "set", a["id"], "--new-auth")
        self.assertRegex(out["auth"], AUTH_RE)
        self.assertEqual((self.rc(a), self.rc(b)), (4, 4))
        self.assertEqual(self.rc({"id": a["id"], "auth": out["auth"]}), 0)
        # Both at once: every code revoked, then one new one, which works.
        live = self.phone({"id": a["id"], "auth": out["auth"]})
        both = self.server.cli("device", "set", a["id"], "--revoke-auth", "--new-auth")
        self.assertTrue(live.disconnected.wait(LIVE_LIMIT))
        self.assertEqual(self.rc({"id": a["id"], "auth": out["auth"]}), 4)
        self.assertEqual(self.rc({"id": a["id"], "auth": both["auth"]}), 0)
        text = self.server.cli_run("device", "set", a["id"], "--revoke-auth", json_flag=False)
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertIn("is revoked", text.stdout)
        bad = self.server.cli_run("device", "show", a["id"], "--revoke-auth")
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertIn("--revoke-auth", bad.stderr)
        helped = self.server.cli_run("device", "set", "--help", json_flag=False)
        self.assertEqual(helped.returncode, 0, helped.stderr)
        self.assertIn("--revoke-auth ends every auth code", helped.stdout + helped.stderr)

    def test_http_revoke_for_the_account(self):
        a, b = self.phone_enrolls(), self.phone_enrolls()
        phone_a = self.phone(a)
        http = self.server.http_port
        path = f"/iot/auth/{a['id']}"
        # An HTTP login of phone B, cached by the server, works until the revocation.
        self.assertEqual(http_request(http, "GET", f"/iot/device/{b['id']}",
                                      headers=device_headers(b)).status, 200)
        # Not for a device, even the controller itself; not another account's device.
        r = http_request(http, "DELETE", path, headers=device_headers(a))
        self.assertEqual(r.status, 403, r.text)
        stranger = self.server.make_account()
        r = http_request(http, "DELETE", path, headers=account_headers(stranger))
        self.assertEqual(r.status, 404, r.text)
        self.assertEqual(set(r.json()), {"err", "msg"})
        r = http_request(http, "GET", path, headers=account_headers(self.acct))
        self.assertEqual(r.status, 405, r.text)
        self.assertEqual(self.rc(a), 0, "refused calls changed nothing")
        # curl, as the account with Basic authentication.
        r = curl(http, "DELETE", path, headers=basic_headers(self.acct))
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json(), {"id": a["id"], "revoked": True})
        self.assertTrue(phone_a.disconnected.wait(LIVE_LIMIT))
        self.assertEqual((self.rc(a), self.rc(b)), (4, 4))
        r = http_request(http, "GET", f"/iot/device/{b['id']}", headers=device_headers(b))
        self.assertEqual(r.status, 401, r.text)
        r = http_request(http, "DELETE", "/iot/auth/dev-000000000000000000000000",
                         headers=account_headers(self.acct))
        self.assertEqual(r.status, 404, r.text)


if __name__ == "__main__":
    unittest.main()
