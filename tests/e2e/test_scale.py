"""1,000 concurrent device connections on one server; the broker keeps routing data."""

import resource
import selectors
import socket
import time
import unittest

from harness import HOST, ServerTestCase, check_record, encode_connect, unique

N_CONNECTIONS = 1000
DEADLINE = 30.0


def raise_nofile_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft == resource.RLIM_INFINITY or soft >= target:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class ScaleTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        raise_nofile_limit()  # before the server starts: it inherits the limit
        super().setUpClass()

    @classmethod
    def setUpServer(cls):
        cls.acct = cls.server.make_account()
        cls.devs = [cls.server.make_prototype(cls.acct["email"], f"scale-{i}") for i in range(4)]

    def test_1000_concurrent_connections(self):
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < N_CONNECTIONS + 200:
            self.skipTest(f"RLIMIT_NOFILE too low ({soft}) for {N_CONNECTIONS} connections")
        socks = []
        sel = selectors.DefaultSelector()
        self.addCleanup(sel.close)

        def close_all():
            for s in socks:
                try:
                    s.close()
                except OSError:
                    pass
        self.addCleanup(close_all)

        deadline = time.monotonic() + DEADLINE
        for i in range(N_CONNECTIONS):
            dev = self.devs[i % len(self.devs)]
            s = socket.create_connection((HOST, self.port), timeout=10)
            s.sendall(encode_connect(f"scale-{i}-{unique('c')}", username=dev["id"],
                                     password=dev["auth"], keepalive=120))
            s.setblocking(False)
            socks.append(s)
            sel.register(s, selectors.EVENT_READ, i)
        self.assertLess(time.monotonic(), deadline, "opening the connections took too long")

        bufs = {}
        acked = set()
        while len(acked) < N_CONNECTIONS:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail(f"only {len(acked)} of {N_CONNECTIONS} CONNACKs within {DEADLINE} s")
            for key, _ in sel.select(min(left, 1.0)):
                i = key.data
                try:
                    chunk = key.fileobj.recv(64)
                except BlockingIOError:
                    continue
                except ConnectionError as e:
                    self.fail(f"connection {i} failed before its CONNACK: {e}")
                if not chunk:
                    self.fail(f"connection {i} closed before its CONNACK "
                              f"({len(acked)} acked so far)")
                bufs[i] = bufs.get(i, b"") + chunk
                if len(bufs[i]) >= 4:
                    self.assertEqual(bufs[i][:4], b"\x20\x02\x00\x00", f"CONNACK of connection {i}")
                    acked.add(i)
                    sel.unregister(key.fileobj)
        self.assertEqual(len(acked), N_CONNECTIONS)

        # With all of them open, data still flows.
        a, b = self.devs[0], self.devs[1]
        sub = self.subscriber(a["id"], a["auth"], f"{b['id']}/data/#")
        pub = self.paho_dev(b)
        pub.publish(f"{b['id']}/data/under-load", "123", qos=1)
        check_record(self, sub.messages.wait_topic(f"{b['id']}/data/under-load"), data=123)

        # None of the 1000 was closed meanwhile (each would have turned readable with EOF).
        probe = selectors.DefaultSelector()
        self.addCleanup(probe.close)
        for s in socks:
            probe.register(s, selectors.EVENT_READ)
        readable = probe.select(0)
        self.assertEqual(len(readable), 0, f"{len(readable)} connections became readable (closed)")

        close_all()
        socks.clear()
        # After the mass disconnect the server still accepts logins and routes data.
        self.raw_connected(a["id"], a["auth"]).ping()
        pub.publish(f"{b['id']}/data/after-close", "1", qos=1)
        sub.messages.wait_topic(f"{b['id']}/data/after-close")


if __name__ == "__main__":
    unittest.main()
