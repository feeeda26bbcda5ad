"""The data directory as the commands find it: only `serve` and `account add` create a
database, every other command fails on a missing one and names the database in its errors;
PLUGMQ_CONFIG and PLUGMQ_DATA_DIR; one server per data directory; file modes."""

import json
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

from harness import BIN, HOST, Server, unique, wait_for

PASSWORD = "secret-pass-1"


def run(*args, env=None, cwd=None, umask=0o022) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("PLUGMQ_CONFIG", "PLUGMQ_DATA_DIR", "INVOCATION_ID")}
    full_env.update(env or {})
    return subprocess.run([BIN, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=30, env=full_env, cwd=cwd, preexec_fn=lambda: os.umask(umask))


def mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


class DataDirTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="plugmq-e2e-dd-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.data = os.path.join(self.dir, "data")
        self.db = os.path.join(self.data, "plugmq.db")

    def add_account(self, *extra, env=None):
        email = f"{unique('dd')}@example.com"
        p = run("account", "add", email, "--password", PASSWORD, *extra, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        return email, p


class MissingDatabaseTest(DataDirTestCase):
    COMMANDS = (("account", "set", "a@example.com", "--disabled", "true"),
                ("template", "add", "--account", "a@example.com", "--name", "t"),
                ("template", "list", "--account", "a@example.com"),
                ("serial", "add", "model", "--hwid", "h", "--enroll-pass", "p"),
                ("serial", "list", "model"),
                ("prototype", "add", "--account", "a@example.com", "--name", "p"),
                ("device", "list", "--account", "a@example.com"),
                ("device", "show", "dev-x"),
                ("data", "get", "#"),
                ("session", "list"))

    def test_every_admin_command_refuses_a_missing_database(self):
        for args in self.COMMANDS:
            with self.subTest(args=args):
                p = run(*args, "--data-dir", self.data)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(f"no database at {self.db} (use --data-dir or --config)", p.stderr)
                self.assertFalse(os.path.exists(self.data), "nothing is created")

    def test_without_any_flag_names_the_default(self):
        p = run("device", "list", "--account", "a@example.com", cwd=self.dir)
        self.assertEqual(p.returncode, 1, p.stderr)
        default = "/var/lib/plugmq/plugmq.db" if os.geteuid() == 0 else \
            os.path.join(self.dir, "plugmq-data", "plugmq.db")
        self.assertIn(f"no database at {default} (use --data-dir or --config)", p.stderr)

    def test_account_add_creates_it_and_says_so(self):
        _, p = self.add_account("--data-dir", self.data)
        self.assertIn(f"created database {self.db}", p.stderr)
        self.assertTrue(os.path.isfile(self.db))
        _, p = self.add_account("--data-dir", self.data)
        self.assertNotIn("created database", p.stderr, "only the first time")
        p = run("device", "list", "--data-dir", self.data, "--json")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_errors_name_the_database(self):
        self.add_account("--data-dir", self.data)
        p = run("device", "list", "--account", "nobody@example.com", "--data-dir", self.data)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"no account with email nobody@example.com (database {self.db})", p.stderr)


class EnvironmentTest(DataDirTestCase):
    def test_PLUGMQ_DATA_DIR(self):
        env = {"PLUGMQ_DATA_DIR": self.data}
        email, _ = self.add_account(env=env)
        self.assertTrue(os.path.isfile(self.db))
        p = run("device", "list", "--account", email, "--json", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        # --data-dir wins over the variable.
        other = os.path.join(self.dir, "other")
        p = run("device", "list", "--account", email, "--data-dir", other, env=env)
        self.assertIn(f"no database at {other}/plugmq.db", p.stderr)

    def test_PLUGMQ_CONFIG(self):
        cfg = os.path.join(self.dir, "plugmq.json")
        with open(cfg, "w") as f:
            json.dump({"data_dir": self.data, "retention": {"default_days": 9}}, f)
        env = {"PLUGMQ_CONFIG": cfg}
        email, p = self.add_account("--json", env=env)
        self.assertEqual(json.loads(p.stdout)["retention_days"], 9, "the file's default")
        self.assertTrue(os.path.isfile(self.db), "the file's data_dir")
        p = run("device", "list", "--account", email, "--json", env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        # PLUGMQ_DATA_DIR wins over the file's data_dir; --config over PLUGMQ_CONFIG.
        other = os.path.join(self.dir, "other")
        p = run("device", "list", "--account", email, env={**env, "PLUGMQ_DATA_DIR": other})
        self.assertIn(f"no database at {other}/plugmq.db", p.stderr)
        p = run("device", "list", "--account", email, env={"PLUGMQ_CONFIG": "/nonexistent.json"})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("/nonexistent.json", p.stderr)
        p = run("device", "list", "--account", email, "--config", cfg,
                env={"PLUGMQ_CONFIG": "/nonexistent.json"})
        self.assertEqual(p.returncode, 0, p.stderr)


class ServerTest(DataDirTestCase):
    def start(self, umask=0o022, env=None):
        server = Server()
        self.addCleanup(server.close)
        server.data_dir = self.data
        server.env = env or {}
        server.preexec_fn = lambda: os.umask(umask)
        return server.start()

    def test_a_second_server_on_the_same_data_directory_exits(self):
        first = self.start()
        p = subprocess.run([BIN, "serve", "--data-dir", self.data, "--mqtt", f"{HOST}:0",
                            "--http", "off"], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"another plugmq (pid {first.proc.pid}) is serving {self.data}", p.stderr)
        self.assertTrue(first.alive())
        # Once the first has stopped, the data directory is free again.
        first.stop()
        second = self.start()
        self.assertTrue(second.alive())

    def test_files_are_private(self):
        server = self.start(umask=0o022)
        self.add_account("--data-dir", self.data)
        wait_for(lambda: os.path.exists(self.db + "-wal"), what="the WAL")
        self.assertEqual(mode(self.data), 0o700)
        for f in ("", "-wal", "-shm"):
            self.assertEqual(mode(self.db + f), 0o600, f"plugmq.db{f}")
        server.stop()

    def test_under_systemd_the_group_may_read(self):
        server = self.start(umask=0o022, env={"INVOCATION_ID": "e2e"})
        wait_for(lambda: os.path.exists(self.db + "-wal"), what="the WAL")
        self.assertEqual(mode(self.data), 0o750)
        for f in ("", "-wal"):
            self.assertEqual(mode(self.db + f), 0o640, f"plugmq.db{f}")
        server.stop()


if __name__ == "__main__":
    unittest.main()
