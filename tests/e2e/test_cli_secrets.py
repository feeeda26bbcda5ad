"""Secrets never only on argv (SPEC section 8): --password, --enroll-pass and --control-pass
read from standard input with "-", a prompt without echo on a terminal (a pty here), and a usage
error naming the flag when a required one is missing without a terminal."""

import os
import pty
import select
import subprocess
import time
import unittest

from harness import (BIN, DEFAULT_TIMEOUT, ServerTestCase, Server, ctrl_topic, paho_connect_rc,
                     thing_topic, unique)


def run_with_stdin(server: Server, args, text: str) -> subprocess.CompletedProcess:
    return subprocess.run([BIN, *args, "--data-dir", server.data_dir, "--json"], input=text,
                          capture_output=True, text=True, timeout=30)


class OnTerminal:
    """A command whose standard input is a pty (stdout and stderr are pipes): what it prompts on
    stderr is awaited before anything is typed, as a person would."""

    def __init__(self, args):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([BIN, *args], stdin=slave, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        os.close(slave)
        self.stderr = b""
        self.echoed = b""

    def wait_prompt(self, text: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        fd = self.proc.stderr.fileno()
        while text.encode() not in self.stderr:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no prompt {text!r}; stderr so far {self.stderr!r}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise AssertionError(f"stderr closed before {text!r}: {self.stderr!r}")
                self.stderr += chunk

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def finish(self):
        """Waits for the exit; returns (status, stdout, stderr) and keeps what the terminal
        echoed in self.echoed."""
        out, err = self.proc.communicate(timeout=30)
        self.stderr += err
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                break
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: the command closed its end
                break
            if not chunk:
                break
            self.echoed += chunk
        os.close(self.master)
        return self.proc.returncode, out.decode(), self.stderr.decode()


class SecretsTest(ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()

    def account_login(self, email, password) -> int:
        return paho_connect_rc(self.port, email, password)

    def test_password_from_stdin(self):
        email = f"{unique('stdin')}@example.com"
        p = run_with_stdin(self.server, ["account", "add", email, "--password", "-"],
                           "from-stdin-1\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.account_login(email, "from-stdin-1"), 0)
        self.assertEqual(self.account_login(email, "from-stdin-1\n"), 4)
        # A carriage return before the newline goes too; no newline at all is fine.
        p = run_with_stdin(self.server, ["account", "set", email, "--password", "-"],
                           "changed-2\r\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.account_login(email, "changed-2"), 0)
        self.assertEqual(self.account_login(email, "from-stdin-1"), 4)
        p = run_with_stdin(self.server, ["account", "set", email, "--password", "-"], "third-3")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.account_login(email, "third-3"), 0)

    def test_nothing_on_stdin(self):
        email = f"{unique('empty')}@example.com"
        p = run_with_stdin(self.server, ["account", "add", email, "--password", "-"], "")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--password -: nothing to read on standard input", p.stderr)
        self.assertNotIn(email, [a["email"] for a in self.server.cli("account", "list")])

    def test_missing_password_without_terminal(self):
        fresh = Server()
        self.addCleanup(fresh.close)
        p = fresh.cli_run("account", "add", f"{unique('m')}@example.com")  # stdin: /dev/null
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("missing --password", p.stderr)
        self.assertIn("--password -", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(fresh.data_dir, "plugmq.db")),
                         "a usage error creates no database")

    def test_serial_passwords_from_stdin(self):
        model = self.server.make_template(self.acct["email"])["id"]
        hwid = unique("hw")
        p = run_with_stdin(self.server, ["serial", "add", model, "--hwid", hwid, "--enroll-pass",
                                         "-", "--control-pass", "-"], "enroll-1\ncontrol-1\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        thing = self.assert_enroll_ok(hwid, thing_topic(model, "enroll-1"))
        self.assertTrue(thing["id"])
        self.assert_enroll_ok(unique("ctl"), ctrl_topic(model, hwid, "control-1"))
        p = run_with_stdin(self.server, ["serial", "add", model, "--hwid", unique("hw")], "")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--enroll-pass -", p.stderr)

    def test_prompt_on_a_terminal(self):
        email = f"{unique('tty')}@example.com"
        t = OnTerminal(["account", "add", email, "--data-dir", self.server.data_dir, "--json"])
        t.wait_prompt(f"password for {email}: ")
        t.type("typed-secret-1")
        t.wait_prompt(f"password for {email} (again): ")
        t.type("typed-secret-1")
        rc, out, err = t.finish()
        self.assertEqual(rc, 0, err)
        self.assertIn(email, out)
        self.assertNotIn(b"typed-secret", t.echoed, "the terminal must not echo the password")
        self.assertEqual(self.account_login(email, "typed-secret-1"), 0)

        # "-" on a terminal prompts too; two different entries change nothing.
        t = OnTerminal(["account", "set", email, "--password", "-", "--data-dir",
                        self.server.data_dir])
        t.wait_prompt(f"password for {email}: ")
        t.type("first-try-1")
        t.wait_prompt("(again): ")
        t.type("first-try-2")
        rc, out, err = t.finish()
        self.assertEqual(rc, 2, err)
        self.assertIn("differ", err)
        self.assertEqual(self.account_login(email, "typed-secret-1"), 0)


if __name__ == "__main__":
    unittest.main()
