#!/usr/bin/python3
"""persistent_sessions: what a persistent session (clean session 0, SPEC 11) costs at delivery
and at resume, against the real binary on localhost (docs/decisions/017).

  1. A subscriber (`mosquitto_sub -q 1 -c -i ID`) misses N QoS 1 messages
     (`mosquitto_pub -l -q 1`), then resumes: the time from its start to its N-th message.
  2. QoS 1 delivery, publish to receipt, 200 in a row (paho), to a clean and to a persistent
     subscriber: median and p99.

Usage: PLUGMQ_BIN=$PWD/build/release/plugmq /usr/bin/python3 bench/persistent_sessions.py [N]
(N: 50000 by default). Not run by ctest; uses tests/e2e/harness.py for the server."""

import json
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import paho.mqtt.client as mqtt  # noqa: E402

from harness import HOST, Server, mosquitto_pub, mosquitto_pub_lines, unique  # noqa: E402


def replay(s: Server, pub: dict, sub: dict, topic: str, n: int) -> None:
    def mosquitto_sub(count):
        return subprocess.Popen(["mosquitto_sub", "-h", HOST, "-p", str(s.port), "-u", sub["id"],
                                 "-P", sub["auth"], "-q", "1", "-c", "-i", "bench", "-t", topic,
                                 "-C", str(count)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    first = mosquitto_sub(1)  # the session and its subscription
    while first.poll() is None:
        mosquitto_pub(s.port, pub["id"], pub["auth"], topic, '"probe"', extra=["-q", "1"])
        time.sleep(0.1)
    mosquitto_pub_lines(s.port, pub["id"], pub["auth"], topic, [str(i) for i in range(n)], qos=1,
                        timeout=600)
    start = time.monotonic()
    second = mosquitto_sub(n)
    second.wait(600)
    took = time.monotonic() - start
    print(f"{n} missed QoS 1 messages replayed in {took:.2f} s: {n / took:.0f} messages/s")


def latency(s: Server, pub: dict, sub: dict, topic: str, clean: bool) -> None:
    got, samples = threading.Event(), []
    c = mqtt.Client(client_id=unique("lat"), clean_session=clean, protocol=mqtt.MQTTv311)
    c.username_pw_set(sub["id"], sub["auth"])
    c.on_message = lambda cl, u, m: (samples.append(time.monotonic() - json.loads(m.payload)["data"]),
                                     got.set())
    subscribed = threading.Event()
    c.on_subscribe = lambda *a: subscribed.set()
    c.connect(HOST, s.port, 60)
    c.loop_start()
    c.subscribe(topic, 1)
    subscribed.wait(10)
    p = mqtt.Client(client_id=unique("latpub"), protocol=mqtt.MQTTv311)
    p.username_pw_set(pub["id"], pub["auth"])
    p.connect(HOST, s.port, 60)
    p.loop_start()
    for _ in range(200):
        got.clear()
        p.publish(topic, json.dumps(time.monotonic()), qos=1)
        got.wait(5)
    p.disconnect()
    p.loop_stop()
    c.disconnect()
    c.loop_stop()
    samples.sort()
    kind = "clean" if clean else "persistent"
    print(f"QoS 1 delivery to a {kind} subscriber: median {statistics.median(samples) * 1000:.2f} "
          f"ms, p99 {samples[int(len(samples) * 0.99) - 1] * 1000:.2f} ms")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
    s = Server().start(log_level="info")
    try:
        acct = s.make_account()
        pub = s.make_prototype(acct["email"], "bench-pub")
        sub = s.make_prototype(acct["email"], "bench-sub")
        replay(s, pub, sub, f"{pub['id']}/data/replay", n)
        for clean in (True, False):
            latency(s, pub, sub, f"{pub['id']}/data/latency", clean)
    finally:
        s.stop()
        s.close()


if __name__ == "__main__":
    main()
