"""The README's examples, run as a reader would copy them: the worked example (a shell block, in
an empty directory, with the binary under test first on PATH and its port moved to a free one)
and the paho-mqtt snippet for properties (its placeholders filled in)."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import BIN, REPO, ServerTestCase, mosquitto_pub, run_scripts_run, wait_for

README = os.path.join(REPO, "README.md")


def block_after(marker: str) -> str:
    """The fenced code block right after the line starting with `marker`."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    at = text.find(marker)
    if at < 0:
        raise AssertionError(f"README has no block marked {marker!r}")
    rest = text[at:].split("\n", 1)[1]
    m = re.match(r"```[^\n]*\n(.*?)^```\s*$", rest, re.M | re.S)
    if not m:
        raise AssertionError(f"no code block right after {marker!r}")
    return m.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WorkedExampleTest(unittest.TestCase):
    def test_runs_as_written(self):
        if not os.path.exists(BIN):
            self.skipTest(f"no plugmq binary at {BIN}")
        script = block_after("<!-- worked-example:")
        self.assertIn("1884", script)
        # The one change: a free port for the README's 1884 (tests use no fixed port). A port
        # taken between here and the server's start fails the test loudly, never silently.
        script = script.replace("1884", str(free_port()))
        work = tempfile.mkdtemp(prefix="plugmq-readme-")
        self.addCleanup(shutil.rmtree, work, True)
        env = dict(os.environ, PATH=os.path.dirname(os.path.abspath(BIN)) + ":" +
                   os.environ["PATH"])
        p = subprocess.run(["bash", "-e", "-c", script], cwd=work, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        self.assertRegex(p.stdout, r'\Acreated account com-[0-9a-f]{24} \(me@example\.com, '
                                   r'retention 30 days\)\ndev-[0-9a-f]{24}/data/temperature '
                                   r'\{"id":"[0-9a-f]{24}","data":21\.5,"at":\d+\}\n\Z')
        self.assertIn("created database", p.stderr)


class ScriptsRunTest(unittest.TestCase):
    """`scripts/run` after `scripts/test` built build/dev: it starts the broker at once (no
    second build), and its banner names the binary and an admin command that works as printed,
    and a mosquitto_pub line that does."""

    def test_banner(self):
        run = run_scripts_run(self, ["--mqtt", "127.0.0.1:0", "--http", "off"])
        built, data, lines = run.built, run.data, run.lines
        # Up to date after scripts/test: configure, a no-op build, the demo account, the start.
        wait_for(lambda: any("Ctrl-C stops it" in l for l in lines) and
                 any("mosquitto_pub" in l for l in lines), timeout=60, what="the banner")
        text = "".join(lines)
        self.assertIn(f"The binary is {built}", text)
        admin = next(l.strip() for l in lines if "device list --data-dir" in l)
        self.assertEqual(admin, f"{built} device list --data-dir {data}")
        p = subprocess.run(admin.split() + ["--json"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("demo-device", p.stdout)
        pub = next(l.strip() for l in lines if l.strip().startswith("mosquitto_pub"))
        p = subprocess.run(["sh", "-c", pub + " -q 1"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        run.stop()
        self.assertEqual(run.proc.returncode, 0, text)


class PahoSnippetTest(ServerTestCase):
    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.dev = cls.server.make_prototype(cls.acct["email"], "kitchen")

    def test_prints_both_replies_and_exits(self):
        code = block_after("<!-- paho-snippet:")
        self.assertIn('"dev-...", "..."', code)
        self.assertIn('"localhost", 1883', code)
        mosquitto_pub(self.port, self.dev["id"], self.dev["auth"],
                      f"{self.dev['id']}/data/temperature", "21.5", extra=["-q", "1"])
        code = (code.replace('"dev-...", "..."', f'"{self.dev["id"]}", "{self.dev["auth"]}"')
                .replace('"localhost", 1883', f'"127.0.0.1", {self.port}'))
        p = subprocess.run(["/usr/bin/python3", "-c", code], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(lines, [f"{self.dev['id']}/ag/prop/set ",
                                 f'{self.dev["id"]}/ag/prop/get '
                                 '{"last_temp":21.5,"room":"kitchen"}'], p.stdout)


if __name__ == "__main__":
    unittest.main()
