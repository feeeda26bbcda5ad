"""Server lifecycle (SPEC sections 2 and 7): the ready file, SIGTERM/SIGINT exit 0, identities
persist across restarts."""

import os
import signal
import unittest

from harness import RawClient, UnstartedServerTestCase, paho_connect_rc, wait_for


class LifecycleTest(UnstartedServerTestCase):
    def test_ready_file(self):
        self.server.start()
        ready = self.server.ready
        self.assertIsInstance(ready, dict)
        self.assertIsInstance(ready["mqtt"], int)
        self.assertNotIsInstance(ready["mqtt"], bool)
        self.assertGreater(ready["mqtt"], 0)
        self.assertLess(ready["mqtt"], 65536)
        self.assertIn("mqtts", ready)
        self.assertIsNone(ready["mqtts"], "no TLS configured")
        self.assertIn("http", ready)
        self.assertTrue(ready["http"] is None or isinstance(ready["http"], int), ready)
        self.assertEqual(ready["pid"], self.server.proc.pid)
        # The port in the file is the one that accepts MQTT.
        c = RawClient(ready["mqtt"])
        self.addCleanup(c.close)
        self.assertEqual(c.connect(username="dev-" + "0" * 24, password="x" * 32), 4)
        # No leftover temp file beside it (written to a temp file, then renamed).
        leftovers = [f for f in os.listdir(self.server.dir)
                     if f.startswith("ready.json") and f != "ready.json"]
        self.assertEqual(leftovers, [])

    def test_threads_are_named_by_role(self):
        # `top -H`, `ps -L` and perf show which thread is which.
        self.server.start(["--io-threads", "2"])
        task_dir = f"/proc/{self.server.proc.pid}/task"
        roles = {"pq-io-0", "pq-io-1", "pq-writer", "pq-store", "pq-read-0"}

        def names():
            found = set()
            for tid in os.listdir(task_dir):
                with open(os.path.join(task_dir, tid, "comm")) as f:
                    found.add(f.read().strip())
            return found

        # A thread names itself when it starts, which may be just after the ready file.
        wait_for(lambda: roles <= names(), what=f"threads named {sorted(roles)}")

    def test_sigterm_exits_0_and_closes_clients(self):
        self.server.start()
        acct = self.server.make_account()
        dev = self.server.make_prototype(acct["email"], "term")
        c = RawClient(self.server.port)
        self.addCleanup(c.close)
        self.assertEqual(c.connect(username=dev["id"], password=dev["auth"]), 0)
        self.server.signal(signal.SIGTERM)
        rc = self.server.wait_exit(10)
        self.assertEqual(rc, 0, "exit status after SIGTERM")
        c.wait_closed(5)

    def test_sigint_exits_0(self):
        self.server.start()
        self.server.signal(signal.SIGINT)
        self.assertEqual(self.server.wait_exit(10), 0, "exit status after SIGINT")

    def test_identities_persist_across_restart(self):
        acct = self.server.make_account()
        dev = self.server.make_prototype(acct["email"], "persist")
        self.server.start()
        self.assertEqual(paho_connect_rc(self.server.port, dev["id"], dev["auth"]), 0)
        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        self.assertEqual(paho_connect_rc(self.server.port, dev["id"], dev["auth"]), 0)
        self.assertEqual(paho_connect_rc(self.server.port, acct["email"], acct["password"]), 0)
        self.assertEqual(paho_connect_rc(self.server.port, dev["id"], "0" * 32), 4)


if __name__ == "__main__":
    unittest.main()
