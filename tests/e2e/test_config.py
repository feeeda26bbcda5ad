"""The configuration file (SPEC 9): --check-config, a file that sets listeners and limits, flags
over the file, the file's data_dir and retention for admin commands, a bad file stopping
`serve` before it listens, and SIGHUP reloading the TLS certificate without stopping the
server."""

import json
import os
import shutil
import signal
import socket
import subprocess
import unittest
from typing import Optional

from harness import (BIN, HOST, REPO, ConnectionClosed, PahoClient, RawClient,
                     UnstartedServerTestCase, assert_refused_without_connack, encode_connect,
                     http_request, unique, wait_for)

SHIPPED = os.path.join(REPO, "config", "plugmq.json")
OPENSSL = shutil.which("openssl")

# The built-in defaults, in the file's layout (what --check-config --json prints).
DEFAULTS = {
    "log_level": "info",
    "io_threads": 0,
    "mqtt": {"listen": "0.0.0.0:1883"},
    "mqtts": {"listen": "0.0.0.0:8883", "cert": "", "key": ""},
    "http": {"listen": "0.0.0.0:8080", "max_body_bytes": 1048576, "max_records_per_publish": 1000,
             "request_timeout_s": 30, "idle_timeout_s": 60, "cors_origins": []},
    "https": {"listen": "0.0.0.0:8443"},
    "limits": {"max_connections": 100000, "max_packet_size": 1048576,
               "max_subscriptions": 1000, "queue_max_messages": 10000, "queue_max_bytes": 8388608,
               "slow_subscriber_timeout_s": 10, "connect_timeout_s": 10},
    "sessions": {"max_inflight": 32, "expiry_days": 30, "max_replay": 1000000},
    "enrollment": {"session_timeout_s": 30, "attempts_per_minute": 10},
    "logins": {"failures_per_address": 30, "failures_per_identity": 10, "hash_threads": 0,
               "max_queued_hashes": 256},
    "retention": {"default_days": 30},
    "storage": {"commit_interval_ms": 100},
    "metrics": {"token": ""},
}


def run(*args, timeout=30) -> subprocess.CompletedProcess:
    return subprocess.run([BIN, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def make_cert(directory: str, name: str):
    """A self-signed certificate and its key (PEM) for localhost: (cert_path, key_path)."""
    cert = os.path.join(directory, f"{name}.crt")
    key = os.path.join(directory, f"{name}.key")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class ConfigTestCase(UnstartedServerTestCase):
    def write_config(self, obj, name: Optional[str] = None) -> str:
        text = obj if isinstance(obj, str) else json.dumps(obj, indent=2)
        return self.server.write_file(name or f"{unique('cfg')}.json", text)

    def assertConfigError(self, p: subprocess.CompletedProcess, *needles: str):
        """Exit status 2, nothing on stdout, and every needle in the message on stderr."""
        self.assertEqual(p.returncode, 2, f"exit {p.returncode}; stderr {p.stderr!r}")
        self.assertEqual(p.stdout, "", "errors go to stderr")
        for n in needles:
            self.assertIn(n, p.stderr)

    def new_raw(self, port: int) -> RawClient:
        c = RawClient(port)
        self.addCleanup(c.close)
        return c

    def assert_refused(self, port: int):
        """A connection the server closes without any CONNACK (over max_connections)."""
        assert_refused_without_connack(self, self.new_raw(port), encode_connect(unique("over")))


class CheckConfigTest(ConfigTestCase):
    def test_shipped_config_is_valid_and_is_the_defaults(self):
        p = run("serve", "--config", SHIPPED, "--check-config", "--data-dir",
                self.server.data_dir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), "configuration OK")
        p = run("serve", "--config", SHIPPED, "--check-config", "--data-dir",
                self.server.data_dir, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertIs(out["ok"], True)
        self.assertEqual(out["source"], SHIPPED)
        config = dict(out["config"])
        self.assertEqual(config.pop("data_dir"), self.server.data_dir, "--data-dir wins")
        self.assertEqual(config, DEFAULTS)

    def test_without_a_file_the_defaults(self):
        p = run("serve", "--check-config", "--data-dir", self.server.data_dir, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertIsNone(out["source"])
        out["config"].pop("data_dir")
        self.assertEqual(out["config"], DEFAULTS)

    def test_check_config_does_not_start_anything(self):
        missing = os.path.join(self.server.dir, "not-created")
        p = run("serve", "--check-config", "--data-dir", missing, "--mqtt", f"{HOST}:0")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(missing), "--check-config creates no data directory")

    def test_unknown_key_is_rejected(self):
        f = self.write_config({"limits": {"max_conections": 5}})
        p = run("serve", "--config", f, "--check-config")
        self.assertConfigError(p, f, '"limits.max_conections"', "unknown key")
        f = self.write_config('{"mqtt": {"listen": "127.0.0.1:0"}, // ok\n "bogus": 1}')
        self.assertConfigError(run("serve", "--config", f, "--check-config"), '"bogus"')

    def test_bad_values_are_rejected(self):
        cases = [
            ({"limits": {"max_connections": 0}},
             '"limits.max_connections" must be an integer 1..10000000, got 0'),
            ({"limits": {"queue_max_bytes": "8M"}}, '"limits.queue_max_bytes"'),
            ({"mqtt": {"listen": "127.0.0.1:99999"}}, '"mqtt.listen"'),
            ({"log_level": "loud"}, '"log_level"'),
            ({"retention": {"default_days": -1}}, '"retention.default_days"'),
            ({"http": {"cors_origins": "*"}}, '"http.cors_origins" must be an array of strings'),
            ({"http": {"cors_origins": ["https://app.example.com/"]}},
             '"http.cors_origins": not an origin: "https://app.example.com/"'),
            ({"http": {"cors_origins": ["app.example.com"]}}, '"http.cors_origins"'),
        ]
        for obj, needle in cases:
            with self.subTest(config=obj):
                f = self.write_config(obj)
                self.assertConfigError(run("serve", "--config", f, "--check-config"), f, needle)

    def test_syntax_error_names_line(self):
        f = self.write_config('{\n  "io_threads": 1,\n  "log_level" "info"\n}\n')
        self.assertConfigError(run("serve", "--config", f, "--check-config"), f, "line 3")

    def test_missing_file(self):
        f = os.path.join(self.server.dir, "absent.json")
        self.assertConfigError(run("serve", "--config", f, "--check-config"), f)

    def test_flags_are_checked_too(self):
        f = self.write_config({"mqtt": {"listen": "127.0.0.1:0"}})
        self.assertConfigError(run("serve", "--config", f, "--check-config", "--mqtt", "nope"),
                               "--mqtt")
        self.assertConfigError(run("serve", "--config", f, "--check-config", "--max-connections",
                                   "0"), "--max-connections")

    def test_certificate_without_key(self):
        p = run("serve", "--check-config", "--tls-cert", "/some/cert.pem")
        self.assertConfigError(p, "--tls-cert", "--tls-key")
        f = self.write_config({"mqtts": {"key": "/some/key.pem"}})
        self.assertConfigError(run("serve", "--config", f, "--check-config"),
                               '"mqtts.key"', '"mqtts.cert"', "--tls-cert")

    @unittest.skipUnless(OPENSSL, "no openssl command")
    def test_tls_certificate_is_loaded(self):
        cert, key = make_cert(self.server.dir, "a")
        _, other_key = make_cert(self.server.dir, "b")
        ok = run("serve", "--check-config", "--tls-cert", cert, "--tls-key", key)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertEqual(ok.stdout.strip(), "configuration OK")
        f = self.write_config({"mqtts": {"cert": cert, "key": other_key}})
        # A key of another certificate: the message names the key file.
        self.assertConfigError(run("serve", "--config", f, "--check-config"), other_key)
        missing = os.path.join(self.server.dir, "missing.crt")
        self.assertConfigError(run("serve", "--check-config", "--tls-cert", missing,
                                   "--tls-key", key), missing)

    def test_help_lists_the_configuration_flags(self):
        p = run("serve", "--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        for flag in ("--config", "--check-config", "--mqtts", "--tls-cert", "--tls-key"):
            self.assertIn(flag, p.stdout)
        self.assertIn("--config", run("--help").stdout)


class ServeWithConfigTest(ConfigTestCase):
    def test_file_sets_listener_data_dir_and_limits(self):
        data = os.path.join(self.server.dir, "from-file")
        f = self.write_config(f"""// a test configuration
{{
  "data_dir": {json.dumps(data)},
  "log_level": "debug",
  "mqtt": {{ "listen": "{HOST}:0" }},   /* a free port */
  "http": {{ "listen": "{HOST}:0" }},
  "https": {{ "listen": "off" }},
  "limits": {{ "max_connections": 2 }}
}}""")
        acct = self.cli_config(f, "account", "add", f"{unique('a')}@example.com", "--password",
                               "secret-1")
        dev = self.cli_config(f, "prototype", "add", "--account", acct["email"], "--name", "d")
        self.assertTrue(os.path.exists(os.path.join(data, "plugmq.db")),
                        "admin commands use the file's data_dir")

        self.server.launch(["--config", f], free_http=False)
        port = self.server.port
        self.assertNotEqual(port, 1883, "the file's listener (port 0) is used")
        self.assertIsInstance(self.server.ready["http"], int, "the file's http listener")
        self.assertNotEqual(self.server.ready["http"], 8080)
        self.assertIsNone(self.server.ready["https"])
        self.assertTrue(self.server.ready["mqtts"] is None or
                        isinstance(self.server.ready["mqtts"], int), self.server.ready)
        # The device created on the file's data dir logs in: the server uses that directory.
        first = self.new_raw(port)
        self.assertEqual(first.connect(username=dev["id"], password=dev["auth"]), 0)
        second = self.new_raw(port)
        self.assertEqual(second.connect(username=dev["id"], password=dev["auth"]), 0)
        # A third connection is over max_connections = 2.
        self.assert_refused(port)
        wait_for(lambda: "limit of 2 connections" in self.server.log_text(),
                 what="the refusal in the log")
        # Once one closes, a new connection is accepted again.
        first.disconnect()
        first.wait_closed()

        def accepted():
            c = self.new_raw(port)
            try:
                return c.connect(username=dev["id"], password=dev["auth"]) == 0
            except (AssertionError, ConnectionClosed):
                return False  # still counted: the server refused it
        wait_for(accepted, what="a connection accepted after one closed")
        self.assertEqual(self.server.stop(), 0)

    def cli_config(self, config: str, *args: str):
        p = run(*args, "--config", config, "--json")
        self.assertEqual(p.returncode, 0, f"{args}: {p.stderr}")
        out = json.loads(p.stdout)
        if args[:2] == ("account", "add"):
            out["email"] = args[2]
        return out

    def test_flags_override_the_file(self):
        other = os.path.join(self.server.dir, "file-data-dir")
        # 192.0.2.1 (TEST-NET-1) is not an address of this machine: the server could not bind
        # it, so it starts only if --mqtt wins over the file.
        f = self.write_config({"data_dir": other, "mqtt": {"listen": "192.0.2.1:1883"},
                               "limits": {"max_connections": 1}, "log_level": "off"})
        self.server.launch(["--config", f, "--mqtt", f"{HOST}:0", "--data-dir",
                                self.server.data_dir, "--max-connections", "3",
                                "--log-level", "debug"])
        self.assertTrue(os.path.exists(os.path.join(self.server.data_dir, "plugmq.db")),
                        "--data-dir wins over data_dir")
        self.assertFalse(os.path.exists(other), "the file's data_dir is not used")
        self.assertIn("starting", self.server.log_text(), "--log-level wins over log_level")
        acct = self.server.make_account()
        dev = self.server.make_prototype(acct["email"])
        for i in range(3):
            c = self.new_raw(self.server.port)
            self.assertEqual(c.connect(username=dev["id"], password=dev["auth"]), 0,
                             f"connection {i + 1} of --max-connections 3")
        self.assert_refused(self.server.port)
        self.assertEqual(self.server.stop(), 0)

    def test_bad_config_exits_2_before_listening(self):
        data = os.path.join(self.server.dir, "never")
        for obj, needle in (({"limits": {"max_connections": 0}}, '"limits.max_connections"'),
                            ({"mqtts": {"listn": "0.0.0.0:8883"}}, '"mqtts.listn"')):
            with self.subTest(config=obj):
                f = self.write_config(obj)
                p = subprocess.run([BIN, "serve", "--config", f, "--data-dir", data, "--mqtt",
                                    f"{HOST}:0", "--ready-file", self.server.ready_path],
                                   stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   timeout=30)
                self.assertConfigError(p, f, needle)
                self.assertFalse(os.path.exists(self.server.ready_path), "no ready file")
                self.assertFalse(os.path.exists(data), "nothing created")

    def test_host_names_in_listen_addresses(self):
        f = self.write_config({"mqtt": {"listen": "localhost:0"}, "http": {"listen": "localhost:0"},
                               "https": {"listen": "off"}})
        self.server.launch(["--config", f, "--data-dir", self.server.data_dir], free_http=False)
        # localhost resolves to 127.0.0.1 (IPv4 first): both listeners take connections there.
        socket.create_connection(("127.0.0.1", self.server.port), timeout=5).close()
        self.assertEqual(http_request(self.server.http_port, "GET", "/health").status, 200)
        self.assertIn(f"mqtt listening on 127.0.0.1:{self.server.port} (localhost)",
                      self.server.log_text())
        self.server.stop()
        # A name that does not resolve is a configuration error naming the flag.
        p = run("serve", "--data-dir", self.server.data_dir, "--mqtt", "no-such-host.invalid:0",
                "--check-config")
        self.assertConfigError(p, "--mqtt", "'no-such-host.invalid'")

    def test_certificate_without_key_exits_2(self):
        p = subprocess.run([BIN, "serve", "--data-dir", self.server.data_dir, "--mqtt",
                            f"{HOST}:0", "--tls-key", "/k.pem", "--ready-file",
                            self.server.ready_path],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        self.assertConfigError(p, "--tls-cert", "--tls-key")
        self.assertFalse(os.path.exists(self.server.ready_path))


class AdminCommandsTest(ConfigTestCase):
    def test_account_add_takes_retention_from_the_file(self):
        f = self.write_config({"data_dir": self.server.data_dir,
                               "retention": {"default_days": 7}})
        email = f"{unique('r')}@example.com"
        p = run("account", "add", email, "--password", "secret-1", "--config", f, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["retention_days"], 7)
        # --retention-days wins over the file.
        p = run("account", "add", f"{unique('r')}@example.com", "--password", "secret-1",
                "--retention-days", "3", "--config", f, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["retention_days"], 3)
        # Without the file: the built-in 30 days (same data dir, by flag).
        p = run("account", "add", f"{unique('r')}@example.com", "--password", "secret-1",
                "--data-dir", self.server.data_dir, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["retention_days"], 30)
        # All three went to the file's data_dir.
        p = run("device", "list", "--config", f, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.server.data_dir, "plugmq.db")))

    def test_every_command_takes_config(self):
        f = self.write_config({"data_dir": self.server.data_dir})
        p = run("account", "add", f"{unique('r')}@example.com", "--password", "secret-1",
                "--config", f)  # the one admin command that creates the database
        self.assertEqual(p.returncode, 0, p.stderr)
        for args in (("device", "list"), ("template", "list"), ("data", "get", "#")):
            with self.subTest(args=args):
                p = run(*args, "--config", f, "--json")
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(json.loads(p.stdout), [])

    def test_bad_file_is_a_usage_error_for_admin_commands(self):
        f = self.write_config({"retention": {"default_days": 40000}})
        p = run("account", "add", f"{unique('r')}@example.com", "--password", "secret-1",
                "--config", f, "--data-dir", self.server.data_dir)
        self.assertConfigError(p, f, '"retention.default_days"')


class SighupTest(ConfigTestCase):
    def test_sighup_without_tls_keeps_serving(self):
        self.server.launch(["--data-dir", self.server.data_dir, "--mqtt", f"{HOST}:0",
                                "--log-level", "debug"])
        offset = self.server.log_size()
        self.server.signal(signal.SIGHUP)
        wait_for(lambda: "nothing to reload" in self.server.log_text(offset),
                 what="the SIGHUP log line")
        self.assertTrue(self.server.alive())
        self.assertEqual(self.new_raw(self.server.port).connect(
            username="dev-" + "0" * 24, password="x" * 32), 4, "still answering CONNECT")
        self.assertEqual(self.server.stop(), 0)

    def test_sighup_applies_what_can_change_live_and_names_the_rest(self):
        f = self.write_config({"limits": {"max_subscriptions": 2}})
        self.server.launch(["--config", f, "--data-dir", self.server.data_dir, "--mqtt",
                            f"{HOST}:0"])
        acct = self.server.make_account()
        dev = self.server.make_prototype(acct["email"], "d")
        c = PahoClient(self.server.port, dev["id"], dev["auth"])
        self.addCleanup(c.close)
        c.connect()
        self.assertEqual(c.subscribe("+/data/a"), (0,))
        self.assertEqual(c.subscribe("+/data/b"), (0,))
        self.assertEqual(c.subscribe("+/data/c"), (128,), "max_subscriptions 2")

        with open(f, "w") as out:
            json.dump({"log_level": "debug", "limits": {"max_subscriptions": 3},
                       "http": {"max_body_bytes": 2048}}, out)
        offset = self.server.log_size()
        self.server.signal(signal.SIGHUP)
        log = wait_for(lambda: "SIGHUP: configuration reloaded" in self.server.log_text(offset)
                       and self.server.log_text(offset), what="the reload log line")
        self.assertIn("SIGHUP: limits.max_subscriptions changed from 2 to 3", log)
        self.assertIn('SIGHUP: log_level changed from "info" to "debug"', log)
        self.assertIn("SIGHUP: http.max_body_bytes changed from 1048576 to 2048: takes effect "
                      "after a restart", log)
        self.assertIn("2 setting(s) changed, 1 waiting for a restart", log)
        # The same connection, not dropped, follows the new limit.
        self.assertTrue(c.is_connected())
        self.assertEqual(c.subscribe("+/data/c"), (0,), "max_subscriptions 3 now")
        self.assertEqual(c.subscribe("+/data/d"), (128,))

        # A file that does not parse changes nothing.
        with open(f, "w") as out:
            out.write('{"limits": {"max_subscriptions": 0}}')
        offset = self.server.log_size()
        self.server.signal(signal.SIGHUP)
        log = wait_for(lambda: "configuration not reloaded" in self.server.log_text(offset)
                       and self.server.log_text(offset), what="the refused reload")
        self.assertIn('"limits.max_subscriptions"', log)
        self.assertEqual(c.subscribe("+/data/d"), (128,), "still 3")
        self.assertTrue(c.is_connected())
        self.assertEqual(self.server.stop(), 0)

    @unittest.skipUnless(OPENSSL, "no openssl command")
    def test_sighup_reloads_the_certificate_and_survives_a_bad_one(self):
        cert, key = make_cert(self.server.dir, "server")
        f = self.write_config({"mqtts": {"listen": f"{HOST}:0", "cert": cert, "key": key}})
        self.server.launch(["--config", f, "--data-dir", self.server.data_dir, "--mqtt",
                                f"{HOST}:0", "--log-level", "debug"])
        ready = self.server.ready
        self.assertTrue(ready["mqtts"] is None or isinstance(ready["mqtts"], int), ready)

        offset = self.server.log_size()
        self.server.signal(signal.SIGHUP)
        wait_for(lambda: "TLS certificate reloaded" in self.server.log_text(offset),
                 what="the reload log line")

        # A broken certificate: logged as an error, the server goes on.
        with open(cert, "w") as out:
            out.write("not a certificate\n")
        offset = self.server.log_size()
        self.server.signal(signal.SIGHUP)
        wait_for(lambda: "not reloaded" in self.server.log_text(offset),
                 what="the failed reload log line")
        self.assertIn(cert, self.server.log_text(offset), "the error names the file")
        self.assertTrue(self.server.alive())
        self.assertEqual(self.new_raw(self.server.port).connect(
            username="dev-" + "0" * 24, password="x" * 32), 4, "still answering CONNECT")
        # Several in a row do not stop it either (signals may coalesce: wait for one more).
        offset = self.server.log_size()
        for _ in range(5):
            self.server.signal(signal.SIGHUP)
        wait_for(lambda: "not reloaded" in self.server.log_text(offset),
                 what="another failed reload log line")
        self.assertTrue(self.server.alive())
        self.assertEqual(self.new_raw(self.server.port).connect(
            username="dev-" + "0" * 24, password="x" * 32), 4, "still answering CONNECT")
        self.assertEqual(self.server.stop(), 0, "SIGTERM still exits 0")


if __name__ == "__main__":
    unittest.main()
