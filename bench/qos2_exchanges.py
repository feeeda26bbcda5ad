#!/usr/bin/python3
"""qos2_exchanges: what a QoS 2 exchange costs a persistent session (clean session 0) against a
clean one, against the real binary on localhost (docs/decisions/017, "QoS 2 steps wait for a
save"): the wall time per exchange and the data writer's commits
(plugmq_store_commit_seconds_count) of N exchanges, for

  - inbound: a raw publisher's PUBLISH, PUBREC, PUBREL, PUBCOMP, one at a time and 32 at a
    time;
  - outbound: a clean raw publisher's QoS 2 messages (one at a time, 32 at a time) through to a
    raw QoS 2 subscriber that answers each PUBLISH with PUBREC and each PUBREL with PUBCOMP: the
    time from the first PUBLISH sent to the subscriber's last PUBCOMP.

Usage: PLUGMQ_BIN=$PWD/build/release/plugmq /usr/bin/python3 bench/qos2_exchanges.py [N]
(N: 1000 by default). Not run by ctest; uses tests/e2e/harness.py for the server."""

import os
import re
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from harness import (PUBCOMP, PUBLISH, PUBREC, PUBREL, RawClient, Server, ack,  # noqa: E402
                     encode_publish, http_request, parse_publish, unique)
from session_helpers import raw_connect  # noqa: E402

WINDOW = 32


def commits(s: Server) -> float:
    text = http_request(s.http_port, "GET", "/metrics").body.decode()
    return float(re.search(r"^plugmq_store_commit_seconds_count (\S+)$", text, re.M).group(1))


def batches(n: int, size: int):
    for first in range(0, n, size):
        yield [i % 65535 + 1 for i in range(first, min(n, first + size))]


def complete(c: RawClient, topic: str, ids) -> None:
    """One batch of a publisher's QoS 2 exchanges."""
    c.send(b"".join(encode_publish(topic, str(i), qos=2, mid=i) for i in ids))
    for _ in ids:
        assert c.read_packet().type == PUBREC
    c.send(b"".join(ack(PUBREL, i) for i in ids))
    for _ in ids:
        assert c.read_packet().type == PUBCOMP


def inbound(s: Server, pub: dict, n: int, clean: bool, size: int) -> float:
    c = RawClient(s.port)
    raw_connect(c, pub, unique("in"), clean=clean)
    topic = f"{pub['id']}/data/{unique('in')}"
    t0 = time.monotonic()
    for ids in batches(n, size):
        complete(c, topic, ids)
    dt = time.monotonic() - t0
    c.close()
    return dt


def outbound(s: Server, pub: dict, sub: dict, n: int, clean: bool, size: int) -> float:
    c = RawClient(s.port)
    raw_connect(c, sub, unique("out"), clean=clean)
    topic = f"{pub['id']}/data/{unique('out')}"
    assert c.subscribe([(topic, 2)]) == [2]
    p = RawClient(s.port)
    raw_connect(p, pub, unique("pub"), clean=True)
    end = {}

    def subscriber():
        done = 0
        while done < n:
            pk = c.read_packet(30)
            if pk.type == PUBLISH:
                c.send(ack(PUBREC, parse_publish(pk).packet_id))
            elif pk.type == PUBREL:
                (pid,) = struct.unpack("!H", pk.body)
                c.send(ack(PUBCOMP, pid))
                done += 1
        end["t"] = time.monotonic()

    th = threading.Thread(target=subscriber)
    th.start()
    t0 = time.monotonic()
    for ids in batches(n, size):
        complete(p, topic, ids)
    th.join(60)
    c.close()
    p.close()
    return end["t"] - t0


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    s = Server()
    s.start(log_level="info")
    try:
        acct = s.make_account()
        pub = s.make_prototype(acct["email"], "q2-pub")
        sub = s.make_prototype(acct["email"], "q2-sub")
        runs = [("inbound, one at a time", lambda cl: inbound(s, pub, n, cl, 1)),
                (f"inbound, {WINDOW} at a time", lambda cl: inbound(s, pub, n, cl, WINDOW)),
                ("outbound, one at a time", lambda cl: outbound(s, pub, sub, n, cl, 1)),
                (f"outbound, {WINDOW} at a time",
                 lambda cl: outbound(s, pub, sub, n, cl, WINDOW))]
        for name, run in runs:
            for clean in (True, False):
                before = commits(s)
                dt = run(clean)
                time.sleep(0.3)  # the last commits reported
                spent = commits(s) - before
                print(f"{name:24} {'clean' if clean else 'persistent':10} {n} exchanges "
                      f"{dt:6.3f} s {dt / n * 1000:6.3f} ms each, {spent:5.0f} commits")
    finally:
        s.close()


if __name__ == "__main__":
    main()
