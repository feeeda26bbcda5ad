"""The command line (SPEC section 8): help and version, usage errors, accounts, prototypes,
devices, and admin commands on the data dir of a running server."""

import json
import os
import subprocess
import sys
import unittest

from harness import (AUTH_RE, BIN, COM_ID_RE, DEV_ID_RE, CliError, Server, paho_connect_rc,
                     test_failed, unique)

DEFAULT_PROTOTYPE_PERM = {"of": {"r": None, "w": None}, "ctrl": "rw"}


def run(*args, timeout=30):
    return subprocess.run([BIN, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


class CliTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(BIN):
            raise unittest.SkipTest(f"no plugmq binary at {BIN}")
        cls.server = Server()  # not started: the CLI works on the data dir alone

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def assertUsageError(self, p, what):
        self.assertEqual(p.returncode, 2, f"{what}: exit {p.returncode}, stderr {p.stderr!r}")
        self.assertTrue(p.stderr.strip(), f"{what}: a usage error must say why on stderr")

    def assertFails(self, args, *needles):
        p = self.server.cli_run(*args)
        self.assertNotEqual(p.returncode, 0, f"{args} should fail; stdout {p.stdout!r}")
        self.assertTrue(p.stderr.strip(), f"{args}: error message expected on stderr")
        if needles:
            self.assertTrue(any(n.lower() in p.stderr.lower() for n in needles),
                            f"{args}: stderr {p.stderr!r} should mention one of {needles}")
        return p


class HelpAndUsageTest(CliTestCase):
    def test_version(self):
        p = run("--version")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout + p.stderr, r"\d+\.\d+")

    def test_help(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout + p.stderr
        for word in ("serve", "account", "prototype", "device", "account delete",
                     "device delete", "data delete", "--password -"):
            self.assertIn(word, out, f"--help should list {word}")

    def test_serve_help(self):
        p = run("serve", "--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout + p.stderr
        self.assertIn("--mqtt", out)
        self.assertIn("--ready-file", out)

    def test_subcommand_help(self):
        for args in (("account", "--help"), ("prototype", "--help"), ("device", "--help"),
                     ("account", "add", "--help"), ("device", "set", "--help"),
                     ("account", "delete", "--help"), ("device", "delete", "--help"),
                     ("template", "delete", "--help"), ("serial", "delete", "--help"),
                     ("data", "delete", "--help")):
            with self.subTest(args=args):
                p = run(*args)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertTrue((p.stdout + p.stderr).strip())

    def test_unknown_subcommand(self):
        self.assertUsageError(run("frobnicate"), "unknown subcommand")
        self.assertUsageError(run("account", "frobnicate", "--data-dir", self.server.data_dir),
                              "unknown account subcommand")

    def test_unknown_flag(self):
        self.assertUsageError(run("serve", "--bogus-flag"), "serve --bogus-flag")
        self.assertUsageError(
            self.server.cli_run("account", "add", "x@example.com", "--password", "pass1234",
                                "--bogus-flag"), "account add --bogus-flag")

    def test_missing_required_option(self):
        self.assertUsageError(self.server.cli_run("account", "add", "y@example.com"),
                              "account add without --password")
        self.assertUsageError(self.server.cli_run("prototype", "add", "--name", "n"),
                              "prototype add without --account")


class IdentityCommandsTest(CliTestCase):
    def test_account_add(self):
        email = f"{unique('a')}@example.com"
        out = self.server.cli("account", "add", email, "--password", "secret-1",
                              "--retention-days", "7")
        self.assertIsInstance(out, dict)
        self.assertRegex(out["id"], COM_ID_RE)
        self.assertEqual(out["email"], email)
        self.assertTrue(os.path.exists(os.path.join(self.server.data_dir, "plugmq.db")))

    def test_account_add_duplicate_email_fails(self):
        email = f"{unique('dup')}@example.com"
        self.server.cli("account", "add", email, "--password", "secret-1")
        self.assertFails(("account", "add", email, "--password", "secret-2"))

    def test_account_password_too_short_fails(self):
        self.assertFails(("account", "add", f"{unique('s')}@example.com", "--password", "abc"))

    def test_account_set_unknown_fails(self):
        self.assertFails(("account", "set", "nobody-here@example.com", "--disabled", "true"))

    def test_account_set(self):
        acct = self.server.make_account()
        self.server.cli("account", "set", acct["email"], "--password", "another-pw",
                        "--retention-days", "0")
        self.server.cli("account", "set", acct["email"], "--disabled", "true")
        self.server.cli("account", "set", acct["email"], "--disabled", "false")
        self.assertFails(("account", "set", acct["email"], "--disabled", "maybe"))

    def test_prototype_add_and_list(self):
        acct = self.server.make_account()
        hwid = unique("hw")
        out = self.server.cli("prototype", "add", "--account", acct["email"], "--name",
                              "My Proto", "--hwid", hwid)
        self.assertRegex(out["id"], DEV_ID_RE)
        self.assertRegex(out["auth"], AUTH_RE)
        devices = self.server.cli("device", "list", "--account", acct["email"])
        self.assertIsInstance(devices, list)
        mine = [d for d in devices if d["id"] == out["id"]]
        self.assertEqual(len(mine), 1, devices)
        d = mine[0]
        for key in ("id", "kind", "name", "hwid", "model", "perm", "status"):
            self.assertIn(key, d)
        self.assertEqual(d["kind"], "prototype")
        self.assertEqual(d["name"], "My Proto")
        self.assertEqual(d["hwid"], hwid)
        self.assertEqual(d["perm"], DEFAULT_PROTOTYPE_PERM)
        self.assertEqual(d["status"], "ok")
        # The auth code is a secret: shown once at creation, never listed.
        p = self.server.cli_run("device", "list", "--account", acct["email"])
        self.assertNotIn(out["auth"], p.stdout)

    def test_prototype_add_unknown_account_fails(self):
        self.assertFails(("prototype", "add", "--account", "ghost@example.com", "--name", "x"))

    def test_prototype_bad_hwid_fails(self):
        acct = self.server.make_account()
        self.assertFails(("prototype", "add", "--account", acct["email"], "--name", "x",
                          "--hwid", "a/b"))

    def test_device_list_filters_by_account(self):
        a1 = self.server.make_account()
        a2 = self.server.make_account()
        p1 = self.server.make_prototype(a1["email"], "one")
        p2 = self.server.make_prototype(a2["email"], "two")
        ids1 = {d["id"] for d in self.server.cli("device", "list", "--account", a1["email"])}
        ids2 = {d["id"] for d in self.server.cli("device", "list", "--account", a2["email"])}
        self.assertEqual(ids1, {p1["id"]})
        self.assertEqual(ids2, {p2["id"]})
        all_ids = {d["id"] for d in self.server.cli("device", "list")}
        self.assertTrue({p1["id"], p2["id"]} <= all_ids)

    def test_device_show(self):
        acct = self.server.make_account()
        p = self.server.make_prototype(acct["email"], "shown")
        d = self.server.cli("device", "show", p["id"])
        self.assertIsInstance(d, dict)
        self.assertEqual(d["id"], p["id"])
        self.assertEqual(d["kind"], "prototype")
        self.assertEqual(d["name"], "shown")
        self.assertEqual(d["perm"], DEFAULT_PROTOTYPE_PERM)
        # Plug-IDs are accepted case-insensitively and printed lowercase.
        self.assertEqual(self.server.cli("device", "show", p["id"].upper())["id"], p["id"])
        self.assertFails(("device", "show", "dev-" + "0" * 24))

    def test_device_set_perm(self):
        acct = self.server.make_account()
        p = self.server.make_prototype(acct["email"], "perm")
        q = self.server.make_prototype(acct["email"], "other")
        perm = {"of": {"r": [q["id"]], "w": []}, "ctrl": "r"}
        self.server.cli("device", "set", p["id"], "--perm", json.dumps(perm))
        self.assertEqual(self.server.cli("device", "show", p["id"])["perm"], perm)

    def test_device_set_perm_bad_json_fails(self):
        acct = self.server.make_account()
        p = self.server.make_prototype(acct["email"], "perm-bad")
        self.assertFails(("device", "set", p["id"], "--perm", "{not json"), "perm", "json")
        self.assertEqual(self.server.cli("device", "show", p["id"])["perm"],
                         DEFAULT_PROTOTYPE_PERM, "a failed set changes nothing")

    def test_device_set_perm_bad_shape_fails(self):
        acct = self.server.make_account()
        p = self.server.make_prototype(acct["email"], "perm-shape")
        for bad in ('{"of":{"r":"everyone","w":null},"ctrl":"rw"}',
                    '{"of":{"r":["not-a-plug-id"],"w":null},"ctrl":"rw"}',
                    '{"of":{"r":null,"w":null},"ctrl":"write"}',
                    '[1,2]'):
            with self.subTest(perm=bad):
                self.assertFails(("device", "set", p["id"], "--perm", bad))

    def test_device_set_status_and_name(self):
        acct = self.server.make_account()
        p = self.server.make_prototype(acct["email"], "status")
        self.server.cli("device", "set", p["id"], "--status", "disabled")
        self.assertEqual(self.server.cli("device", "show", p["id"])["status"], "disabled")
        self.server.cli("device", "set", p["id"], "--status", "ok")
        self.assertEqual(self.server.cli("device", "show", p["id"])["status"], "ok")
        self.server.cli("device", "set", p["id"], "--name", "renamed")
        self.assertEqual(self.server.cli("device", "show", p["id"])["name"], "renamed")
        self.assertNotEqual(self.server.cli_run("device", "set", p["id"], "--status",
                                                "sleeping").returncode, 0)

    def test_human_output_without_json(self):
        acct = self.server.make_account()
        self.server.make_prototype(acct["email"], "human")
        p = self.server.cli_run("device", "list", "--account", acct["email"], json_flag=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("human", p.stdout)


class CliWhileServingTest(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(BIN):
            self.skipTest(f"no plugmq binary at {BIN}")
        self.server = Server()
        self.addCleanup(self.server.close)
        self.server.start()

    def tearDown(self):
        if test_failed(self):
            sys.stderr.write(f"\n--- server log ---\n{self.server.log_tail()}\n--- end ---\n")

    def test_add_account_and_prototype_while_serving(self):
        acct = self.server.make_account()
        proto = self.server.make_prototype(acct["email"], "live")
        self.assertEqual(paho_connect_rc(self.server.port, proto["id"], proto["auth"]), 0)
        self.assertEqual(paho_connect_rc(self.server.port, acct["email"], acct["password"]), 0)
        # A device created while serving shows up in the listing too.
        ids = {d["id"] for d in self.server.cli("device", "list", "--account", acct["email"])}
        self.assertIn(proto["id"], ids)
        self.assertTrue(self.server.alive())

    def test_cli_error_while_serving_leaves_server_alone(self):
        with self.assertRaises(CliError):
            self.server.cli("prototype", "add", "--account", "ghost@example.com", "--name", "x")
        acct = self.server.make_account()
        proto = self.server.make_prototype(acct["email"], "after-error")
        self.assertEqual(paho_connect_rc(self.server.port, proto["id"], proto["auth"]), 0)


if __name__ == "__main__":
    unittest.main()
