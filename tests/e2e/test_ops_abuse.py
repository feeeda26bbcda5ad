"""Operations under abuse (SPEC 9): a server whose open-files limit is too low for its
max_connections lowers max_connections to fit, says so once, and refuses the connections past
it at once rather than leaving them in the listen queue; and a line that a client can repeat
without bound (a bad login) is logged at most once per interval, the next one carrying the
count of those held back."""

import itertools
import re
import resource
import time
import unittest

from harness import (ConnectionClosed, RawClient, Server, ServerTestCase,
                     assert_refused_without_connack, encode_connect, unique, wait_for)

NOFILE = 100  # the open-files limit (soft and hard) of the server in FdLimitTest
WANTED = 1000  # its --max-connections: far more than fit under NOFILE


def limit_open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


class FdLimitTest(unittest.TestCase):
    """A server started under `ulimit -n 100` with --max-connections 1000."""

    def setUp(self):
        self.server = Server()
        self.server.preexec_fn = limit_open_files
        self.addCleanup(self.server.close)
        self.server.start(["--max-connections", str(WANTED), "--io-threads", "2"])
        acct = self.server.make_account()
        self.dev = self.server.make_prototype(acct["email"], "fd")

    def tearDown(self):
        if not self.server.alive():
            self.fail(f"the server died; log:\n{self.server.log_tail()}")

    def login(self) -> RawClient:
        c = RawClient(self.server.port)
        self.addCleanup(c.close)
        rc = c.connect(unique("fd"), username=self.dev["id"], password=self.dev["auth"])
        self.assertEqual(rc, 0, "a connection within the lowered max_connections")
        return c

    def assert_refused_at_once(self) -> None:
        """Closed by the server without a CONNACK, well before a client would give up."""
        c = RawClient(self.server.port)
        self.addCleanup(c.close)
        assert_refused_without_connack(
            self, c, encode_connect(unique("over"), username=self.dev["id"],
                                    password=self.dev["auth"]), timeout=5)

    def test_max_connections_is_lowered_to_fit_and_the_rest_are_refused_at_once(self):
        log = self.server.log_text()
        m = re.search(r"^.*using max_connections = (\d+)\b.*$", log, re.M)
        self.assertIsNotNone(m, f"no warning naming the max_connections used; log:\n{log}")
        warning = m.group(0)
        for needle in ("warn", f"(RLIMIT_NOFILE) is {NOFILE}", f"limits.max_connections = {WANTED}",
                       "--max-connections", "LimitNOFILE=", "--ulimit nofile=", "ulimit -n"):
            self.assertIn(needle, warning)
        self.assertEqual(len(re.findall(r"using max_connections", log)), 1, "said once")
        used = int(m.group(1))
        self.assertTrue(10 <= used < NOFILE, f"max_connections {used} under a limit of {NOFILE}")

        held = [self.login() for _ in range(used)]
        offset = self.server.log_size()
        # Past it, every new connection is closed at once, for as long as the server is full (a
        # second of attempts: a line per attempt, or every 100 ms, would show).
        start, attempts = time.monotonic(), 0
        while attempts < 3 or time.monotonic() - start < 1.0:
            self.assert_refused_at_once()
            attempts += 1
        for c in held:
            c.ping()
        lines = self.server.log_text(offset).splitlines()
        self.assertEqual([l for l in lines if "accept failed" in l], [],
                         "the server never ran out of descriptors")
        refusals = [l for l in lines if "connection refused" in l]
        self.assertLessEqual(len(refusals), 1, f"{attempts} refusals logged as:\n{refusals}")
        # A slot that frees up is used again.
        held.pop().disconnect()

        def login_again():
            c = RawClient(self.server.port)
            self.addCleanup(c.close)
            try:
                return c.connect(unique("again"), username=self.dev["id"],
                                 password=self.dev["auth"]) == 0
            except (AssertionError, ConnectionClosed):
                return False
        wait_for(login_again, what="a login once a connection has closed")


# Lines about a failed or refused login, whatever refuses it (bad credentials, a limit on
# failed logins).
LOGIN_FAILURE = re.compile(r"bad credentials|failed login|CONNACK [45]")
SOURCES = [f"127.0.0.{i}" for i in range(2, 12)]  # ten client addresses, 20 bad logins each
INTERVAL = 10  # seconds: a line is logged at most this often per kind and address


class BadLoginLogTest(ServerTestCase):
    def bad_login(self, source: str) -> int:
        c = RawClient(self.port, source=source)
        try:
            return c.connect(unique("bad"), username=unique("nodev"), password="wrong")
        finally:
            c.close()

    def test_repeated_bad_logins_are_logged_with_a_count(self):
        offset = self.server.log_size()
        start = time.monotonic()
        for i in range(200):
            self.assertIn(self.bad_login(SOURCES[i % len(SOURCES)]), (4, 5))
        self.assertLess(time.monotonic() - start, INTERVAL - 1, "the burst fits in one interval")
        failures = [l for l in self.server.log_text(offset).splitlines()
                    if LOGIN_FAILURE.search(l)]
        self.assertGreaterEqual(len(failures), 1, "the first bad login is logged at once")
        self.assertLess(len(failures), 40, "200 bad logins, far fewer lines:\n" +
                        "\n".join(failures[:50]))

        # Once the interval has passed, the next one logged for an address says how many were
        # held back (each address failed 20 times above: one logged, 19 held back).
        counted = re.compile(r"127\.0\.0\.\d+:\d+ .*\(and ([\d,]+) more like this in the last "
                             r"(\d+) s\)")
        attempts = itertools.count()

        def count_line():
            self.bad_login(SOURCES[next(attempts) % len(SOURCES)])
            return counted.search(self.server.log_text(offset))
        m = wait_for(count_line, timeout=30, interval=0.5, what="a line with the held-back count")
        self.assertTrue(LOGIN_FAILURE.search(m.group(0)), m.group(0))
        self.assertGreaterEqual(int(m.group(1).replace(",", "")), 19, m.group(0))


if __name__ == "__main__":
    unittest.main()
