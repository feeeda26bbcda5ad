"""GET /metrics (SPEC 12) over real HTTP, parsed by the Prometheus project's own Python parser
(Debian python3-prometheus-client): every metric SPEC 12 names is there with its type, and the
counters move with real traffic (paho publishers and subscribers, curl); loopback-only access
without metrics.token, Bearer access with it, and SIGHUP changing the token."""

import http.client
import json
import signal
import socket
import unittest

from harness import (FreshServerTestCase, ServerTestCase, account_headers, http_request, thing_topic, unique,
                     wait_for)

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # scripts/test installs python3-prometheus-client
    text_string_to_metric_families = None

# What SPEC 12 asks for at least, with the type Prometheus must see.
REQUIRED = {
    "plugmq_connections": "gauge",
    "plugmq_messages_received": "counter",
    "plugmq_messages_delivered": "counter",
    "plugmq_messages_dropped": "counter",
    "plugmq_records_stored": "counter",
    "plugmq_store_queue_records": "gauge",
    "plugmq_store_commit_seconds": "histogram",
    "plugmq_http_requests": "counter",
    "plugmq_enrollments": "counter",
    "plugmq_sessions_persistent": "gauge",
    "plugmq_retained_messages": "gauge",
    "plugmq_build_info": "gauge",
    "process_resident_memory_bytes": "gauge",
    "process_cpu_seconds": "counter",
    "process_open_fds": "gauge",
}


def scrape(port, headers=None, source=None):
    return http_request(port, "GET", "/metrics", headers=headers, source=source)


class Samples:
    """The samples of one scrape, parsed: value(name, **labels)."""

    def __init__(self, text: str):
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = [s for f in self.families.values() for s in f.samples]

    def value(self, name: str, **labels) -> float:
        found = [s.value for s in self.samples
                 if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
        if len(found) != 1:
            raise AssertionError(f"{len(found)} samples {name}{labels}")
        return found[0]


@unittest.skipIf(text_string_to_metric_families is None, "python3-prometheus-client is missing")
class MetricsTestCase(ServerTestCase):
    def samples(self) -> Samples:
        r = scrape(self.server.http_port)
        self.assertEqual(r.status, 200, r.text)
        self.assertTrue(r.headers["content-type"].startswith("text/plain; version=0.0.4"))
        return Samples(r.text)


class ExpositionTest(MetricsTestCase):
    def test_every_required_metric_with_its_type(self):
        s = self.samples()
        for name, kind in REQUIRED.items():
            with self.subTest(metric=name):
                self.assertIn(name, s.families)
                self.assertEqual(s.families[name].type, kind)
        self.assertEqual(s.value("plugmq_build_info"), 1)
        version = [x.labels["version"] for x in s.samples if x.name == "plugmq_build_info"]
        self.assertRegex(version[0], r"^\d+\.\d+\.\d+")
        self.assertGreater(s.value("process_resident_memory_bytes"), 1_000_000)
        self.assertGreaterEqual(s.value("process_open_fds"), 5)
        self.assertEqual(s.value("plugmq_store_commit_seconds_bucket", le="+Inf"),
                         s.value("plugmq_store_commit_seconds_count"))
        for listener in ("mqtt", "mqtts", "http", "https", "ws", "wss"):
            s.value("plugmq_connections", listener=listener)

    def test_only_get(self):
        r = http_request(self.server.http_port, "POST", "/metrics", b"")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.headers["allow"], "GET")


class TrafficTest(MetricsTestCase):
    def test_counters_move_with_real_traffic(self):
        acct = self.server.make_account()
        pub_dev = self.server.make_prototype(acct["email"], "pub")
        before = self.samples()
        sub = self.paho(acct["email"], acct["password"])
        self.assertEqual(sub.subscribe("+/data/m", qos=1), (1,))
        pub = self.paho_dev(pub_dev)
        n = 25
        for i in range(n):
            pub.publish(f"{pub_dev['id']}/data/m", json.dumps(i), qos=1)
        wait_for(lambda: sub.messages.count() >= n, what=f"{n} deliveries")
        pub.publish(f"{pub_dev['id']}/other/m", "1", qos=0)  # not a topic plugmq stores
        r = http_request(self.server.http_port, "GET", "/iot/data/m", headers=account_headers(acct))
        self.assertEqual(r.status, 200)

        def moved():
            after = self.samples()
            received = (after.value("plugmq_messages_received_total")
                        - before.value("plugmq_messages_received_total"))
            delivered = (after.value("plugmq_messages_delivered_total", qos="1")
                         - before.value("plugmq_messages_delivered_total", qos="1"))
            stored = (after.value("plugmq_records_stored_total")
                      - before.value("plugmq_records_stored_total"))
            return after if (received >= n and delivered >= n and stored >= n) else None

        after = wait_for(moved, what="the counters to count the traffic")
        self.assertEqual(after.value("plugmq_connections", listener="mqtt"), 2)
        self.assertGreaterEqual(after.value("plugmq_http_requests_total", code="200"),
                                before.value("plugmq_http_requests_total", code="200") + 1)
        self.assertGreater(after.value("plugmq_mqtt_received_bytes_total"),
                           before.value("plugmq_mqtt_received_bytes_total"))
        self.assertGreater(after.value("plugmq_mqtt_sent_bytes_total"),
                           before.value("plugmq_mqtt_sent_bytes_total"))
        self.assertGreater(after.value("plugmq_store_commit_seconds_count"),
                           before.value("plugmq_store_commit_seconds_count"))
        self.assertGreaterEqual(after.value("plugmq_messages_dropped_total", reason="topic"),
                                before.value("plugmq_messages_dropped_total", reason="topic") + 1)
        sub.close()
        pub.close()
        wait_for(lambda: self.samples().value("plugmq_connections", listener="mqtt") == 0,
                 what="the MQTT connections to end")

    def test_enrollments_sessions_and_retained(self):
        acct = self.server.make_account()
        model = self.server.make_template(acct["email"])["id"]
        before = self.samples()
        thing = self.make_thing(model)
        self.assert_enroll_fails(thing["hwid"], thing_topic(model, "wrong-password"), 401)
        dev = self.paho_dev(thing, client_id=unique("persist"), clean_session=False)
        dev.subscribe(f"{thing['id']}/data/cfg", qos=1)
        info = dev.client.publish(f"{thing['id']}/data/cfg", "1", qos=1, retain=True)
        info.wait_for_publish(10)
        self.assertTrue(info.is_published())
        dev.close()
        after = self.samples()
        self.assertEqual(after.value("plugmq_enrollments_total", result="ok"),
                         before.value("plugmq_enrollments_total", result="ok") + 1)
        self.assertGreaterEqual(after.value("plugmq_enrollments_total", result="failed"),
                                before.value("plugmq_enrollments_total", result="failed") + 1)
        wait_for(lambda: self.samples().value("plugmq_sessions_persistent")
                 >= before.value("plugmq_sessions_persistent") + 1, what="the session saved")
        self.assertGreaterEqual(self.samples().value("plugmq_retained_messages"),
                                before.value("plugmq_retained_messages") + 1)


def lan_address():
    """An address of this machine that is not loopback, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # a documentation address: nothing is sent
            addr = s.getsockname()[0]
        except OSError:
            return None
    return None if addr.startswith("127.") else addr


@unittest.skipIf(text_string_to_metric_families is None, "python3-prometheus-client is missing")
class AccessTest(ServerTestCase):
    # Every address, so that a scrape can come from one that is not loopback.
    server_args = ("--http", "0.0.0.0:0")

    def test_without_a_token_only_loopback_may_scrape(self):
        self.assertEqual(scrape(self.server.http_port).status, 200)
        lan = lan_address()
        if lan is None:
            self.skipTest("this machine has no address but loopback")
        r = _scrape_at(lan, self.server.http_port)
        self.assertEqual(r[0], 403, r)
        self.assertIn("metrics.token", r[1])
        # Other requests from there are not affected.
        self.assertEqual(_get_at(lan, self.server.http_port, "/health")[0], 200)


def _request_at(host, port, path, headers=None):
    """GET `path` at host:port (an address that is not loopback)."""
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def _scrape_at(host, port, headers=None):
    return _request_at(host, port, "/metrics", headers)


def _get_at(host, port, path):
    return _request_at(host, port, path)


@unittest.skipIf(text_string_to_metric_families is None, "python3-prometheus-client is missing")
class TokenTest(FreshServerTestCase):
    server_config = {"metrics": {"token": "s3cret-token"}}

    def test_the_token_is_needed_even_from_loopback(self):
        port = self.server.http_port
        r = scrape(port)
        self.assertEqual(r.status, 401, r.text)
        self.assertEqual(r.headers["www-authenticate"], "Bearer")
        self.assertEqual(scrape(port, {"Authorization": "Bearer wrong"}).status, 403)
        self.assertEqual(scrape(port, {"Authorization": "Basic czNjcmV0"}).status, 401)
        r = scrape(port, {"Authorization": "Bearer s3cret-token"})
        self.assertEqual(r.status, 200, r.text)
        Samples(r.text).value("plugmq_build_info")
        # Device or account credentials are not the metrics token.
        acct = self.server.make_account()
        self.assertEqual(scrape(port, account_headers(acct)).status, 401)

    def test_sighup_changes_the_token_and_never_logs_it(self):
        port = self.server.http_port
        self.server.write_file("plugmq.json", json.dumps({"metrics": {"token": "next-token"}}))
        offset = self.server.log_size()
        self.server.signal(signal.SIGHUP)
        log = wait_for(lambda: "SIGHUP: configuration reloaded" in self.server.log_text(offset)
                       and self.server.log_text(offset), what="the reload log line")
        self.assertIn("SIGHUP: metrics.token changed from (set) to (a new one)", log)
        self.assertNotIn("next-token", self.server.log_text())
        self.assertNotIn("s3cret-token", self.server.log_text())
        self.assertEqual(scrape(port, {"Authorization": "Bearer s3cret-token"}).status, 403)
        self.assertEqual(scrape(port, {"Authorization": "Bearer next-token"}).status, 200)


if __name__ == "__main__":
    unittest.main()
