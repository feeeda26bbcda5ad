"""The operator's commands (SPEC section 8) on the data directory of a running server: account
list and delete, device delete and new auth codes, template and serial deletion, data delete,
and the devices' online and last_seen columns."""

import unittest

from harness import (AUTH_RE, FreshServerTestCase, RawClient, ServerTestCase, device_headers,
                     http_request, now_ms, paho_connect_rc, thing_topic, unique, wait_for)


def by_id(items, key="id"):
    return {item[key]: item for item in items}


class AdminTestMixin:
    def cli_fails(self, args, code, *needles) -> str:
        """Runs a command that must fail with exit status `code`; each needle must be in its
        stderr. Returns the stderr."""
        p = self.server.cli_run(*args)
        self.assertEqual(p.returncode, code, f"{args}: stdout {p.stdout!r} stderr {p.stderr!r}")
        for needle in needles:
            self.assertIn(needle, p.stderr, f"{args}: stderr should say {needle!r}")
        return p.stderr

    def put_records(self, dev, channel, records) -> list:
        """PUT /iot/data/CHANNEL as `dev` (stored once it answers: QoS 1); the record ids."""
        r = http_request(self.server.http_port, "PUT", f"/iot/data/{channel}", records,
                         device_headers(dev))
        self.assertEqual(r.status, 200, r.text)
        return r.json()

    def device(self, plug_id) -> dict:
        return self.server.cli("device", "show", plug_id)

    def connected(self, dev, client_id=None) -> RawClient:
        c = RawClient(self.server.port)
        self.addCleanup(c.close)
        self.assertEqual(c.connect(client_id, username=dev["id"], password=dev["auth"]), 0)
        return c


class AccountCommandsTest(AdminTestMixin, ServerTestCase):
    def test_account_list(self):
        a = self.server.make_account(retention_days=7)
        b = self.server.make_account()
        self.server.make_prototype(a["email"])
        self.server.make_template(a["email"])
        self.server.cli("account", "set", b["email"], "--disabled", "true")
        listed = by_id(self.server.cli("account", "list"))
        self.assertEqual(listed[a["id"]]["email"], a["email"])
        self.assertEqual(listed[a["id"]]["retention_days"], 7)
        self.assertEqual((listed[a["id"]]["devices"], listed[a["id"]]["templates"]), (1, 1))
        self.assertFalse(listed[a["id"]]["disabled"])
        self.assertEqual((listed[b["id"]]["devices"], listed[b["id"]]["disabled"]), (0, True))
        text = self.server.cli_run("account", "list", json_flag=False)
        self.assertEqual(text.returncode, 0, text.stderr)
        line = [ln for ln in text.stdout.splitlines() if a["email"] in ln]
        self.assertEqual(len(line), 1, text.stdout)
        self.assertIn("devices=1", line[0])
        self.assertIn("retention=7d", line[0])

    def test_account_delete_needs_yes_and_says_what_would_go(self):
        acct = self.server.make_account()
        p = self.server.make_prototype(acct["email"])
        self.server.make_prototype(acct["email"])
        model = self.server.make_template(acct["email"])["id"]
        self.server.add_serial(model, unique("hw"), "enroll-1")
        err = self.cli_fails(("account", "delete", acct["email"]), 2, "2 devices", "1 template",
                             "1 serial", "--yes", "plugmq.db")
        self.assertIn(acct["id"], err)
        self.assertIn(acct["id"], by_id(self.server.cli("account", "list")))
        self.assertEqual(paho_connect_rc(self.port, p["id"], p["auth"]), 0)
        self.cli_fails(("account", "delete", "nobody@example.com", "--yes"), 1,
                       "no account with email nobody@example.com", "plugmq.db")

    def test_account_delete_takes_everything(self):
        acct = self.server.make_account()
        p = self.server.make_prototype(acct["email"])
        model = self.server.make_template(acct["email"])["id"]
        thing = self.make_thing(model)
        t0 = now_ms()
        self.put_records(p, "t", [{"data": i, "at": t0 - i} for i in range(3)])
        self.put_records(thing, "t", [{"data": 9, "retain": True}])
        live = self.connected(p)
        account_session = RawClient(self.port)
        self.addCleanup(account_session.close)
        self.assertEqual(account_session.connect(unique("acct"), username=acct["email"],
                                                 password=acct["password"]), 0)

        out = self.server.cli("account", "delete", acct["email"], "--yes")
        self.assertEqual(out["deleted"], acct["id"])
        self.assertEqual((out["devices"], out["records"], out["templates"], out["serials"]),
                         (2, 4, 1, 1))
        live.wait_closed(5)  # the server notices at its next directory refresh (1 s)
        account_session.wait_closed(5)
        self.assertNotIn(acct["id"], by_id(self.server.cli("account", "list")))
        self.cli_fails(("device", "show", p["id"]), 1, f"no device {p['id']}")
        self.assertEqual(self.server.data_get("#", of=[p["id"], thing["id"]]), [])
        self.assertEqual(paho_connect_rc(self.port, p["id"], p["auth"]), 4)
        self.assertEqual(paho_connect_rc(self.port, acct["email"], acct["password"]), 4)
        self.cli_fails(("serial", "list", model), 1, f"no template {model}")
        # The email is free again.
        self.server.cli("account", "add", acct["email"], "--password", "another-1")


class DeviceCommandsTest(AdminTestMixin, ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()

    def test_device_delete(self):
        p = self.server.make_prototype(self.acct["email"])
        other = self.server.make_prototype(self.acct["email"])
        self.put_records(p, "t", [{"data": 1}, {"data": 2}])
        self.put_records(other, "t", [{"data": 3}])
        live = self.connected(p)
        out = self.server.cli("device", "delete", p["id"])
        self.assertEqual(out, {"deleted": p["id"], "records": 2})
        live.wait_closed(5)
        self.assertEqual(self.server.data_get("t", of=p["id"]), [])
        self.assertEqual(len(self.server.data_get("t", of=other["id"])), 1)
        self.assertEqual(paho_connect_rc(self.port, p["id"], p["auth"]), 4)
        self.cli_fails(("device", "delete", p["id"]), 1, f"no device {p['id']}", "plugmq.db")
        self.cli_fails(("device", "delete"), 2, "missing device ID")

    def test_deleted_thing_enrolls_again(self):
        model = self.server.make_template(self.acct["email"])["id"]
        thing = self.make_thing(model)
        text = self.server.cli_run("device", "delete", thing["id"], json_flag=False)
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertIn("can enroll again", text.stdout)
        again = self.assert_enroll_ok(thing["hwid"], thing_topic(model, thing["pass"]))
        self.assertNotEqual(again["id"], thing["id"])
        serials = by_id(self.server.cli("serial", "list", model), "hwid")
        self.assertEqual(serials[thing["hwid"]]["thing"], again["id"])

    def test_new_auth_while_serving(self):
        p = self.server.make_prototype(self.acct["email"])
        self.assertEqual(paho_connect_rc(self.port, p["id"], p["auth"]), 0)
        out = self.server.cli("device", "set", p["id"], "--new-auth")
        self.assertEqual(out["id"], p["id"])
        self.assertRegex(out["auth"], AUTH_RE)
        self.assertNotEqual(out["auth"], p["auth"])
        self.assertEqual(paho_connect_rc(self.port, p["id"], p["auth"]), 4)
        self.assertEqual(paho_connect_rc(self.port, p["id"], out["auth"]), 0)
        self.assertNotIn("auth", self.device(p["id"]), "the code is shown once")
        text = self.server.cli_run("device", "set", p["id"], "--new-auth", json_flag=False)
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertRegex(text.stdout, r"auth code: \S+")
        self.cli_fails(("device", "show", p["id"], "--new-auth"), 2, "--new-auth")

    def test_online_and_last_seen(self):
        p = self.server.make_prototype(self.acct["email"])
        d = self.device(p["id"])
        self.assertEqual((d["online"], d["last_seen"]), (False, None))
        before = now_ms()
        first = self.connected(p, unique("c1"))
        d = wait_for(lambda: (lambda x: x if x["online"] else None)(self.device(p["id"])),
                     what="the device online")
        self.assertGreaterEqual(d["last_seen"], before)
        second = self.connected(p, unique("c2"))
        # Each login and disconnect moves last_seen: once it moves past the second login's,
        # the first connection's end is recorded.
        wait_for(lambda: self.device(p["id"])["last_seen"] > d["last_seen"],
                 what="the second login")
        seen = self.device(p["id"])["last_seen"]
        first.disconnect()
        first.wait_closed()
        wait_for(lambda: self.device(p["id"])["last_seen"] > seen, what="the first disconnect")
        self.assertTrue(self.device(p["id"])["online"], "one connection is still open")
        second.close()
        d = wait_for(lambda: (lambda x: x if not x["online"] else None)(self.device(p["id"])),
                     what="the device offline")
        self.assertGreaterEqual(d["last_seen"], seen)
        listed = by_id(self.server.cli("device", "list", "--account", self.acct["email"]))
        self.assertEqual(listed[p["id"]]["last_seen"], d["last_seen"])
        text = self.server.cli_run("device", "list", "--account", self.acct["email"],
                                   json_flag=False)
        self.assertIn("online=no", text.stdout)
        self.assertIn("last_seen=20", text.stdout)


class FleetCommandsTest(AdminTestMixin, ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()

    def test_template_delete_keeps_enrolled_things(self):
        model = self.server.make_template(self.acct["email"])["id"]
        thing = self.make_thing(model)
        waiting = self.new_serial(model)
        out = self.server.cli("template", "delete", model)
        self.assertEqual(out, {"deleted": model, "serials": 2, "things": 1})
        self.assertEqual(paho_connect_rc(self.port, thing["id"], thing["auth"]), 0)
        self.assertEqual(self.device(thing["id"])["model"], model)
        self.assert_enroll_fails(waiting["hwid"], thing_topic(model, waiting["pass"]), 404)
        templates = self.server.cli("template", "list", "--account", self.acct["email"])
        self.assertNotIn(model, by_id(templates))
        self.cli_fails(("template", "delete", model), 1, f"no template {model}", "plugmq.db")

    def test_serial_delete(self):
        model = self.server.make_template(self.acct["email"])["id"]
        a = self.new_serial(model)
        b = self.new_serial(model)
        out = self.server.cli("serial", "delete", model, a["hwid"])
        self.assertEqual(out, {"deleted": True, "model": model, "hwid": a["hwid"], "thing": None})
        self.assertEqual(list(by_id(self.server.cli("serial", "list", model), "hwid")),
                         [b["hwid"]])
        self.assert_enroll_fails(a["hwid"], thing_topic(model, a["pass"]), 404)
        self.cli_fails(("serial", "delete", model, a["hwid"]), 1, "no serial", a["hwid"])
        self.server.cli("serial", "delete", model, "--hwid", b["hwid"])
        self.assertEqual(self.server.cli("serial", "list", model), [])
        self.cli_fails(("serial", "delete", model), 2, "missing MODEL and HWID")


class DataDeleteTest(AdminTestMixin, ServerTestCase):
    def test_data_delete_like_the_http_call(self):
        acct = self.server.make_account()
        p = self.server.make_prototype(acct["email"])
        q = self.server.make_prototype(acct["email"])
        t0 = now_ms() - 10_000
        self.put_records(p, "a/x", [{"data": i, "at": t0 + 1000 * i} for i in range(3)])
        self.put_records(p, "b", [{"data": "b", "at": t0}])
        q_id = self.put_records(q, "a/x", [{"data": "q", "at": t0}])[0]

        self.cli_fails(("data", "delete", "#"), 2, "--id, --of, --before or --after")
        self.cli_fails(("data", "delete", "a/#", "--of", p["id"], "--limit", "5"), 2, "--limit")
        self.cli_fails(("data", "delete", "a/#", "--id", "zz"), 2, "'zz' is not a record id")
        self.cli_fails(("data", "delete", "a/#", "--id", q_id, "--before", "1"), 2, "--id")
        self.cli_fails(("data", "delete", "a/+/", "--of", p["id"]), 2, "invalid channel mask")

        out = self.server.cli("data", "delete", "a/#", "--of", p["id"], "--before", str(t0 + 1500))
        self.assertEqual(out, {"deleted": 2})
        self.assertEqual([r["data"] for r in self.server.data_get("a/#", of=p["id"])], [2])
        self.assertEqual(self.server.cli("data", "delete", "a/x", "--id", q_id, "--of", p["id"]),
                         {"deleted": 0}, "q's record is not p's")
        self.assertEqual(self.server.cli("data", "delete", "a/x", "--id", q_id), {"deleted": 1})
        text = self.server.cli_run("data", "delete", "#", "--after", str(t0 - 1), json_flag=False)
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertEqual(text.stdout.strip(), "deleted 2 record(s)")
        self.assertEqual(self.server.data_get("#", of=[p["id"], q["id"]]), [])


class PresenceAcrossRestartsTest(AdminTestMixin, FreshServerTestCase):
    def test_stop_and_crash_leave_no_device_online(self):
        acct = self.server.make_account()
        p = self.server.make_prototype(acct["email"])
        online = lambda: self.device(p["id"])["online"]  # noqa: E731
        self.connected(p)
        wait_for(online, what="the device online")
        self.assertEqual(self.server.stop(), 0)
        self.assertFalse(online(), "a server that stops marks its devices offline")

        self.server.start()
        c = self.connected(p)
        wait_for(online, what="the device online again")
        self.server.kill()
        c.close()
        self.assertTrue(online(), "a killed server could not record the end")
        self.server.start()
        wait_for(lambda: not online(), what="the restarted server to mark it offline")


if __name__ == "__main__":
    unittest.main()
