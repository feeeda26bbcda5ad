"""Shared helpers for the plugmq end-to-end tests.

The tests start the real `plugmq` binary (env PLUGMQ_BIN, else build/e2e/plugmq) on port 0 with
--ready-file and a temporary data directory, and drive it with real clients: a raw-socket MQTT
3.1.1 client (for byte-precise protocol checks), paho-mqtt 1.6.1 and mosquitto_pub/_sub.

Rules the helpers enforce: no fixed ports; no sleep stands in for synchronisation -- everything
waits for a condition with a deadline (`wait_for`). The only bounded waits that are allowed to
run out are the ones that show that something does NOT happen (`Collector.assert_nothing`,
`RawClient.assert_open_for`); each caller says why the duration is enough.

Run with /usr/bin/python3 (Debian's python3-paho-mqtt); stdlib otherwise.
"""

import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

import paho.mqtt.client as mqtt

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("PLUGMQ_BIN") or os.path.join(REPO, "build", "e2e", "plugmq")
HOST = "127.0.0.1"

OID_RE = re.compile(r"^[0-9a-f]{24}$")
DEV_ID_RE = re.compile(r"^dev-[0-9a-f]{24}$")
COM_ID_RE = re.compile(r"^com-[0-9a-f]{24}$")
AUTH_RE = re.compile(r"^([0-9a-f]{32}|[A-Za-z0-9_-]{22,})$")

READY_TIMEOUT = 20.0  # seconds the server gets to bind and write its ready file
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
DEFAULT_TIMEOUT = 10.0  # default deadline for a positive condition (a message, a CONNACK)
NEGATIVE_WINDOW = 1.0  # how long negative tests watch for something that must not arrive


def now_ms() -> int:
    return int(time.time() * 1000)


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def wait_for(pred: Callable[[], object], timeout: float = DEFAULT_TIMEOUT, what: str = "condition",
             interval: float = 0.02):
    """Polls `pred` every `interval` s until it returns a truthy value (returned) or the deadline
    passes (AssertionError naming `what`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


# ------------------------------------------------------------------------------------------------
# Server process and command line


class CliError(Exception):
    def __init__(self, args, returncode, stdout, stderr):
        super().__init__(f"plugmq {' '.join(args)} exited {returncode}: {stderr.strip()!r}")
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class Server:
    """One plugmq process with its own temp dir (data dir, ready file, log file).

    The CLI helpers work whether or not the broker is running (same data dir)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="plugmq-e2e-")
        self.data_dir = os.path.join(self.dir, "data")
        os.makedirs(self.data_dir)
        self.ready_path = os.path.join(self.dir, "ready.json")
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc: Optional[subprocess.Popen] = None
        self.ready: Optional[dict] = None
        self.port: Optional[int] = None
        self.http_port: Optional[int] = None
        self.https_port: Optional[int] = None
        self._log_file = None
        # Runs in the server's process before it starts (e.g. to set its resource limits).
        self.preexec_fn: Optional[Callable[[], None]] = None
        # Environment variables set for the server's process, on top of this process's.
        self.env: dict = {}

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self, extra_args: Sequence[str] = (), log_level: str = "debug") -> "Server":
        # Every listener on a free port (no test uses a fixed one); later flags in extra_args
        # win. The https listener is only on when the test configures TLS.
        return self.launch(["--data-dir", self.data_dir, "--mqtt", f"{HOST}:0",
                            "--http", f"{HOST}:0", "--https", f"{HOST}:0",
                            "--log-level", log_level, *extra_args], free_http=False)

    def launch(self, serve_args: Sequence[str], free_http: bool = True) -> "Server":
        """Runs `plugmq serve` with `serve_args` plus --ready-file, and waits for the ready
        file. The HTTP listeners go on free ports (--http/--https HOST:0, after serve_args)
        unless not `free_http`: serve_args (or the configuration file) must then set them, as
        no test may use a fixed port."""
        if not os.path.exists(BIN):
            raise RuntimeError(f"plugmq binary not found at {BIN} (set PLUGMQ_BIN)")
        if os.path.exists(self.ready_path):
            os.unlink(self.ready_path)
        args = [BIN, "serve", *serve_args, "--ready-file", self.ready_path]
        if free_http:
            args += ["--http", f"{HOST}:0", "--https", f"{HOST}:0"]
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"=== {' '.join(args)}\n".encode())
        self._log_file.flush()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=self._log_file, cwd=self.dir,
                                     preexec_fn=self.preexec_fn,
                                     env={**os.environ, **self.env} if self.env else None)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"plugmq serve exited with {self.proc.returncode} before "
                                     f"writing its ready file; log:\n{self.log_tail()}")
            if not os.path.exists(self.ready_path):
                return None
            with open(self.ready_path, "rb") as f:
                text = f.read()
            return json.loads(text)  # written atomically: never partial

        try:
            self.ready = wait_for(ready, READY_TIMEOUT, "the ready file")
        except AssertionError:
            self.stop()
            raise
        self.port = self.ready["mqtt"]
        self.http_port = self.ready.get("http")
        self.https_port = self.ready.get("https")
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig) -> None:
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> Optional[int]:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> Optional[int]:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT. Returns the exit status (None if killed)."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    rc = self.proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    rc = None
            else:
                rc = self.proc.returncode
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return rc

    def kill(self) -> int:
        """SIGKILL (a crash): waits for the process and returns its exit status (-9)."""
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            rc = self.proc.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return rc

    def restart(self, extra_args: Sequence[str] = (), crash: bool = False,
                log_level: str = "debug") -> Optional[int]:
        """Stops the server (SIGTERM, or SIGKILL with crash=True) and starts it again on the same
        data dir; the new process binds a new port (clients must reconnect to self.port).
        Returns the exit status of the old process."""
        rc = self.kill() if crash else self.stop()
        self.start(extra_args, log_level)
        return rc

    def close(self) -> None:
        self.stop()
        if os.environ.get("PLUGMQ_E2E_KEEP"):
            sys.stderr.write(f"[harness] keeping {self.dir}\n")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- logs -------------------------------------------------------------------------------------
    def log_size(self) -> int:
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_text(self, offset: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, offset: int = 0, lines: int = 150) -> str:
        return "\n".join(self.log_text(offset).splitlines()[-lines:])

    # -- command line -----------------------------------------------------------------------------
    def cli_run(self, *args: str, json_flag: bool = True, timeout: float = 30) -> \
            subprocess.CompletedProcess:
        argv = [BIN, *args, "--data-dir", self.data_dir]
        if json_flag:
            argv.append("--json")
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, cwd=self.dir)

    def cli(self, *args: str, timeout: float = 30):
        """Runs `plugmq ARGS --data-dir D --json`; returns the parsed JSON (None for no output) or
        raises CliError with the stderr text."""
        p = self.cli_run(*args, timeout=timeout)
        if p.returncode != 0:
            raise CliError(args, p.returncode, p.stdout, p.stderr)
        out = p.stdout.strip()
        return json.loads(out) if out else None

    def make_account(self, email: Optional[str] = None, password: Optional[str] = None,
                     retention_days: Optional[int] = None) -> dict:
        email = email or f"{unique('acct')}@example.com"
        password = password or unique("pw")
        args = ["account", "add", email, "--password", password]
        if retention_days is not None:
            args += ["--retention-days", str(retention_days)]
        result = self.cli(*args)
        return {"id": result["id"], "email": email, "password": password}

    def make_prototype(self, email: str, name: Optional[str] = None,
                       hwid: Optional[str] = None) -> dict:
        args = ["prototype", "add", "--account", email, "--name", name or unique("proto")]
        if hwid:
            args += ["--hwid", hwid]
        result = self.cli(*args)
        return {"id": result["id"], "auth": result["auth"]}

    # -- production templates and serial numbers (SPEC 5) ----------------------------------------
    def make_template(self, email: str, name: Optional[str] = None, ctrl: Optional[str] = None,
                      perm: Optional[dict] = None) -> dict:
        """`plugmq template add`; returns its JSON (with "id" = "mod-…")."""
        args = ["template", "add", "--account", email, "--name", name or unique("model")]
        if ctrl is not None:
            args += ["--ctrl", ctrl]
        if perm is not None:
            args += ["--perm", json.dumps(perm)]
        return self.cli(*args)

    def add_serial(self, model: str, hwid: str, enroll_pass: str,
                   control_pass: Optional[str] = None) -> dict:
        """`plugmq serial add MODEL --hwid H --enroll-pass P [--control-pass C]`."""
        args = ["serial", "add", model, "--hwid", hwid, "--enroll-pass", enroll_pass]
        if control_pass is not None:
            args += ["--control-pass", control_pass]
        return self.cli(*args)

    # -- stored data (SPEC 7, 8) -----------------------------------------------------------------
    def data_get_args(self, mask: str, of=None, before=None, after=None,
                      limit: Optional[int] = None) -> List[str]:
        args = ["data", "get", mask]
        if of is not None:
            args += ["--of", of if isinstance(of, str) else ",".join(of)]
        if before is not None:
            args += ["--before", str(before)]
        if after is not None:
            args += ["--after", str(after)]
        if limit is not None:
            args += ["--limit", str(limit)]
        return args

    def data_get(self, mask: str, of=None, before=None, after=None,
                 limit: Optional[int] = None) -> list:
        """`plugmq data get MASK [--of ID,..] [--before T] [--after T] [--limit N] --json`: the
        stored records [{"id","of","channel","data","at"}], newest first. `of` is a Plug-ID or a
        list of them; T a number (ms), an ISO-8601 string or an OID."""
        out = self.cli(*self.data_get_args(mask, of, before, after, limit))
        if not isinstance(out, list):
            raise AssertionError(f"data get {mask!r} printed {out!r}, expected a JSON array")
        return out

    def wait_records(self, mask: str, pred: Callable[[list], object],
                     timeout: float = DEFAULT_TIMEOUT, what: str = "stored records",
                     **query) -> list:
        """Polls `data get MASK` (with `query`: of/before/after/limit) until `pred(records)` is
        truthy (the writer thread commits within a fraction of a second); returns the records.
        On timeout the AssertionError shows the last result."""
        last = []

        def check():
            last[:] = [self.data_get(mask, **query)]
            return pred(last[0])

        try:
            wait_for(check, timeout, what, interval=0.1)
        except AssertionError as e:
            shown = last[0][:10] if last else None
            raise AssertionError(f"{e}; last data get {mask!r} {query}: "
                                 f"{len(last[0]) if last else '?'} records, first {shown}")
        return last[0]

    def write_file(self, name: str, text: str) -> str:
        """Writes a file in the server's temp dir and returns its path."""
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path


# ------------------------------------------------------------------------------------------------
# Message collection


class Msg(NamedTuple):
    topic: str
    payload: bytes
    retain: bool = False  # the PUBLISH's RETAIN flag (paho clients only)
    qos: int = 0  # the QoS it was delivered at (paho clients only)

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.payload)


class Collector:
    """Thread-safe list of received (topic, payload) messages with waiting helpers."""

    def __init__(self):
        self._cond = threading.Condition()
        self.items: List[Msg] = []

    def put(self, topic: str, payload: bytes, retain: bool = False, qos: int = 0) -> None:
        with self._cond:
            self.items.append(Msg(topic, payload, retain, qos))
            self._cond.notify_all()

    def matching(self, pred: Callable[[Msg], bool]) -> List[Msg]:
        with self._cond:
            return [m for m in self.items if pred(m)]

    def count(self) -> int:
        with self._cond:
            return len(self.items)

    def wait(self, pred: Callable[[Msg], bool], timeout: float = DEFAULT_TIMEOUT,
             what: str = "a message", start: int = 0) -> Msg:
        """The first message (from index `start` on) that matches `pred`, waiting until the
        deadline for one to arrive."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.items[start:]:
                    if pred(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(m.topic, m.payload[:100]) for m in self.items[-10:]]
                    raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}; "
                                         f"last messages: {seen}")
                self._cond.wait(min(left, 0.05))

    def wait_topic(self, topic: str, timeout: float = DEFAULT_TIMEOUT) -> Msg:
        return self.wait(lambda m: m.topic == topic, timeout, f"a message on {topic!r}")

    def assert_nothing(self, pred: Callable[[Msg], bool] = lambda m: True,
                       duration: float = NEGATIVE_WINDOW, what: str = "message") -> None:
        """Negative check: waits the bounded `duration` and fails if a matching message arrived.
        A delivery on localhost takes milliseconds, so a 1 s window would see one."""
        deadline = time.monotonic() + duration
        with self._cond:
            while True:
                found = [m for m in self.items if pred(m)]
                if found:
                    raise AssertionError(f"unexpected {what}: {found[:3]}")
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(min(left, 0.05))


def sync_subscription(collector: Collector, publish: Callable[[str, str], object], topic: str,
                      timeout: float = DEFAULT_TIMEOUT) -> None:
    """Makes sure a subscription is active: publishes unique probes on `topic` (a data topic the
    subscriber can read) until one of them arrives in `collector`. Needed for subscribers that
    do not tell us when their SUBACK came (mosquitto_sub) and for cross-client ordering."""
    deadline = time.monotonic() + timeout
    while True:
        token = unique("sync")
        publish(topic, json.dumps(token))
        try:
            collector.wait(lambda m: m.topic == topic and token in m.text, 0.5)
            return
        except AssertionError:
            if time.monotonic() >= deadline:
                raise AssertionError(f"subscription never became active (probe on {topic!r})")


def check_record(tc: unittest.TestCase, msg: Msg, data=None, at: Optional[int] = None,
                 near_now_ms: int = 30_000) -> dict:
    """Asserts a delivered data payload is the record {"id":OID,"data":DATA,"at":MS}."""
    rec = json.loads(msg.payload)
    tc.assertIsInstance(rec, dict, msg.payload)
    tc.assertEqual(set(rec), {"id", "data", "at"}, f"record keys in {msg.payload!r}")
    tc.assertRegex(rec["id"], OID_RE)
    tc.assertIsInstance(rec["at"], int, f"'at' must be an integer in {msg.payload!r}")
    if data is not None:
        tc.assertEqual(rec["data"], data, msg.payload)
    if at is not None:
        tc.assertEqual(rec["at"], at, msg.payload)
    elif near_now_ms:
        tc.assertLess(abs(rec["at"] - now_ms()), near_now_ms, f"'at' not near now: {msg.payload!r}")
    return rec


def stored_form(msg: Msg) -> dict:
    """The record `plugmq data get` must print for a delivered data message:
    {"id","of","channel","data","at"} from the topic PLUG_ID/data/CHANNEL and the payload."""
    plug_id, sep, channel = msg.topic.partition("/data/")
    if not sep:
        raise AssertionError(f"not a data topic: {msg.topic!r}")
    rec = json.loads(msg.payload)
    return {"id": rec["id"], "of": plug_id, "channel": channel, "data": rec["data"],
            "at": rec["at"]}


def prop_topic(plug_id: str, op: str) -> str:
    """P/ag/prop/set or P/ag/prop/get (SPEC 4)."""
    assert op in ("set", "get")
    return f"{plug_id}/ag/prop/{op}"


# ------------------------------------------------------------------------------------------------
# paho-mqtt 1.6.1 clients


class PahoClient:
    """A paho client running its network loop in a thread; received messages go to .messages."""

    def __init__(self, port: int, username: Optional[str] = None, password: Optional[str] = None,
                 client_id: Optional[str] = None, clean_session: bool = True, keepalive: int = 60,
                 will: Optional[Tuple[str, object]] = None, tls_ca: Optional[str] = None,
                 websocket: bool = False):
        """tls_ca: connect with TLS, trusting that CA file (the port must be the TLS one).
        websocket: MQTT over WebSocket at /mqtt (the port must be an HTTP listener's)."""
        self.port = port
        self.keepalive = keepalive
        cid = client_id if client_id is not None else unique("paho")
        self.client = mqtt.Client(client_id=cid, clean_session=clean_session,
                                  protocol=mqtt.MQTTv311,
                                  transport="websockets" if websocket else "tcp")
        if websocket:
            self.client.ws_set_options(path="/mqtt")
        if username is not None:
            self.client.username_pw_set(username, password)
        if will is not None:
            self.client.will_set(will[0], will[1], qos=0, retain=False)
        if tls_ca is not None:
            self.client.tls_set_context(ssl.create_default_context(cafile=tls_ca))
        self.messages = Collector()
        self.connack_rc: Optional[int] = None
        self.disconnected = threading.Event()
        self._subacks = {}
        self._lock = threading.Lock()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_unsubscribe = self._on_unsubscribe
        self.client.on_disconnect = self._on_disconnect
        self._loop_running = False

    def _on_connect(self, client, userdata, flags, rc):
        if self.connack_rc is None:
            self.connack_rc = rc

    def _on_message(self, client, userdata, message):
        self.messages.put(message.topic, message.payload, bool(message.retain), message.qos)

    def _on_subscribe(self, client, userdata, mid, granted_qos):
        with self._lock:
            self._subacks[mid] = tuple(granted_qos)

    def _on_unsubscribe(self, client, userdata, mid):
        with self._lock:
            self._subacks[mid] = "unsuback"

    def _on_disconnect(self, client, userdata, rc):
        self.disconnected.set()

    def connect(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Connects and waits for the CONNACK; returns its return code."""
        self.client.connect(HOST, self.port, self.keepalive)
        self.client.loop_start()
        self._loop_running = True
        wait_for(lambda: self.connack_rc is not None, timeout, "CONNACK (paho)")
        if self.connack_rc != 0:
            self.close()
        return self.connack_rc

    def subscribe(self, topic: str, qos: int = 0, timeout: float = DEFAULT_TIMEOUT):
        """Subscribes and waits for the SUBACK; returns the granted QoS tuple."""
        rc, mid = self.client.subscribe(topic, qos)
        assert rc == mqtt.MQTT_ERR_SUCCESS, f"subscribe failed locally: {rc}"
        return wait_for(lambda: self._subacks.get(mid), timeout, f"SUBACK for {topic!r}")

    def unsubscribe(self, topic: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        rc, mid = self.client.unsubscribe(topic)
        assert rc == mqtt.MQTT_ERR_SUCCESS, f"unsubscribe failed locally: {rc}"
        wait_for(lambda: self._subacks.get(mid), timeout, f"UNSUBACK for {topic!r}")

    def publish(self, topic: str, payload, qos: int = 0, timeout: float = DEFAULT_TIMEOUT):
        """Publishes; with qos 1 waits for the PUBACK (AssertionError if none)."""
        info = self.client.publish(topic, payload, qos=qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise AssertionError(f"paho publish to {topic!r} failed: {mqtt.error_string(info.rc)}")
        if qos > 0:
            info.wait_for_publish(timeout)
            if not info.is_published():
                raise AssertionError(f"no PUBACK within {timeout} s for publish to {topic!r}")
        return info

    def request(self, topic: str, payload, qos: int = 0,
                timeout: float = DEFAULT_TIMEOUT) -> Msg:
        """A property request (SPEC 4): publishes `payload` on `topic` (P/ag/prop/set or
        P/ag/prop/get) and returns the first message on that same topic that arrives after it
        (paho hands on_message every PUBLISH, subscribed to or not)."""
        start = self.messages.count()
        self.publish(topic, payload, qos, timeout)
        return self.messages.wait(lambda m: m.topic == topic, timeout,
                                  f"the reply on {topic!r}", start=start)

    def is_connected(self) -> bool:
        return self.client.is_connected()

    def close(self) -> None:
        try:
            self.client.disconnect()
        except Exception:
            pass
        if self._loop_running:
            self.client.loop_stop()
            self._loop_running = False


def paho_connect_rc(port: int, username: Optional[str], password: Optional[str],
                    client_id: Optional[str] = None, clean_session: bool = True,
                    timeout: float = DEFAULT_TIMEOUT) -> int:
    """Connects with paho without a background thread (so it never retries) and returns the
    CONNACK return code; disconnects afterwards."""
    cid = client_id if client_id is not None else unique("paho")
    c = mqtt.Client(client_id=cid, clean_session=clean_session, protocol=mqtt.MQTTv311)
    if username is not None:
        c.username_pw_set(username, password)
    result = []
    c.on_connect = lambda client, userdata, flags, rc: result.append(rc)
    c.connect(HOST, port, 60)
    deadline = time.monotonic() + timeout
    try:
        while not result:
            if time.monotonic() >= deadline:
                raise AssertionError("timed out waiting for CONNACK (paho)")
            rc = c.loop(0.1)
            if rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_CONN_REFUSED) and not result:
                raise AssertionError(f"paho connection lost before CONNACK: "
                                     f"{mqtt.error_string(rc)}")
    finally:
        try:
            c.disconnect()
        except Exception:
            pass
        if c.socket() is not None:
            c.socket().close()
    return result[0]


# ------------------------------------------------------------------------------------------------
# mosquitto clients


def mosquitto_pub(port: int, username: str, password: str, topic: str, message,
                  extra: Sequence[str] = (), timeout: float = 20) -> None:
    args = ["mosquitto_pub", "-h", HOST, "-p", str(port), "-u", username, "-P", password,
            "-t", topic, "-i", unique("mpub"), *extra]
    stdin = None
    if isinstance(message, bytes):
        args += ["-s"]
        stdin = message
    else:
        args += ["-m", message]
    p = subprocess.run(args, input=stdin, capture_output=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"mosquitto_pub exited {p.returncode}: {p.stderr!r}")


def mosquitto_pub_lines(port: int, username: str, password: str, topic: str,
                        lines: Sequence[str], qos: int = 0, extra: Sequence[str] = (),
                        timeout: float = 60) -> None:
    """`mosquitto_pub -l`: one connection, one message per line of stdin."""
    args = ["mosquitto_pub", "-h", HOST, "-p", str(port), "-u", username, "-P", password,
            "-t", topic, "-i", unique("mpubl"), "-q", str(qos), "-l", *extra]
    text = "".join(line + "\n" for line in lines).encode()
    p = subprocess.run(args, input=text, capture_output=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"mosquitto_pub -l exited {p.returncode}: {p.stderr!r}")


class MosquittoSub:
    """mosquitto_sub -v as a subprocess; each output line 'TOPIC PAYLOAD' goes to .messages."""

    def __init__(self, port: int, username: str, password: str, topics: Sequence[str],
                 extra: Sequence[str] = ()):
        args = ["mosquitto_sub", "-h", HOST, "-p", str(port), "-u", username, "-P", password,
                "-v", "-i", unique("msub"), *extra]
        for t in topics:
            args += ["-t", t]
        self.messages = Collector()
        self.stderr_lines: List[str] = []
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._out = threading.Thread(target=self._read_stdout, daemon=True)
        self._err = threading.Thread(target=self._read_stderr, daemon=True)
        self._out.start()
        self._err.start()

    def _read_stdout(self):
        for line in self.proc.stdout:
            line = line.rstrip(b"\n")
            topic, _, payload = line.partition(b" ")
            self.messages.put(topic.decode("utf-8", "replace"), payload)

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line.decode("utf-8", "replace"))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.join(5)
        self._err.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()


# ------------------------------------------------------------------------------------------------
# TLS test certificates


def make_tls_certs(directory: str, name: str = "test") -> dict:
    """A CA and a server certificate it signs for localhost and 127.0.0.1, made with the openssl
    command line in `directory`. Returns the paths: {"ca", "cert", "key"}."""
    os.makedirs(directory, exist_ok=True)
    ca_key, ca = (os.path.join(directory, f"{name}-ca.{e}") for e in ("key", "crt"))
    key, csr, cert = (os.path.join(directory, f"{name}-server.{e}") for e in ("key", "csr", "crt"))
    ext = os.path.join(directory, f"{name}-ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")

    def run(*args):
        p = subprocess.run(["openssl", *args], capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError(f"openssl {' '.join(args)} failed: {p.stderr}")

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
        "-days", "2", "-subj", f"/CN=plugmq e2e {name} CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=localhost")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext)
    return {"ca": ca, "cert": cert, "key": key}


# ------------------------------------------------------------------------------------------------
# HTTP REST API (SPEC 10): Python's http.client and curl


class HttpReply(NamedTuple):
    status: int
    headers: dict  # lowercase names
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def device_headers(dev: dict) -> dict:
    """X-Plug-Id + X-Plug-Auth: a device's credentials."""
    return {"X-Plug-Id": dev["id"], "X-Plug-Auth": dev["auth"]}


def account_headers(acct: dict) -> dict:
    """X-Plug-Email + X-Plug-Master: an account's credentials."""
    return {"X-Plug-Email": acct["email"], "X-Plug-Master": acct["password"]}


def basic_headers(acct: dict) -> dict:
    """Authorization: Basic base64(EMAIL:PASSWORD)."""
    token = base64.b64encode(f"{acct['email']}:{acct['password']}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _http_body(body) -> Optional[bytes]:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def http_request(port: int, method: str, path: str, body=None, headers: Optional[dict] = None,
                 tls_ca: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT,
                 source: Optional[str] = None) -> HttpReply:
    """One request on a new connection with http.client; `body` is bytes, text, or any other
    value sent as JSON. With tls_ca: HTTPS trusting that CA file. source: the local address to
    connect from (see RawClient)."""
    source_address = (source, 0) if source else None
    if tls_ca:
        conn = http.client.HTTPSConnection(HOST, port, timeout=timeout,
                                           context=ssl.create_default_context(cafile=tls_ca),
                                           source_address=source_address)
    else:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout,
                                          source_address=source_address)
    try:
        conn.request(method, path, body=_http_body(body), headers=headers or {})
        r = conn.getresponse()
        return HttpReply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def curl(port: int, method: str, path: str, body=None, headers: Optional[dict] = None,
         extra: Sequence[str] = (), scheme: str = "http", timeout: float = DEFAULT_TIMEOUT) -> \
        HttpReply:
    """One request with the curl command line (`body` as for http_request, sent from stdin)."""
    args = ["curl", "-sS", "-i", "-X", method, "--max-time", str(timeout), *extra]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    data = _http_body(body)
    if data is not None:
        args += ["--data-binary", "@-", "-H", "Content-Type: application/json"]
    args.append(f"{scheme}://{HOST}:{port}{path}")
    p = subprocess.run(args, input=data or b"", capture_output=True, timeout=timeout + 10)
    if p.returncode != 0:
        raise AssertionError(f"curl {method} {path} failed ({p.returncode}): {p.stderr!r}")
    out = p.stdout
    while True:
        head, _, rest = out.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        if 100 <= status < 200:  # "100 Continue" comes before the answer
            out = rest
            continue
        hdrs = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            hdrs[name.strip().lower()] = value.strip()
        return HttpReply(status, hdrs, rest)


# ------------------------------------------------------------------------------------------------
# Raw-socket MQTT 3.1.1


CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14

PINGREQ_BYTES = b"\xc0\x00"
PINGRESP_BYTES = b"\xd0\x00"
DISCONNECT_BYTES = b"\xe0\x00"


def enc_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        if n:
            byte |= 0x80
        out.append(byte)
        if not n:
            return bytes(out)


def enc_str(s) -> bytes:
    b = s.encode() if isinstance(s, str) else bytes(s)
    return struct.pack("!H", len(b)) + b


def packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + enc_varint(len(body)) + body


def encode_connect(client_id="", username=None, password=None, will_topic=None,
                   will_payload=b"", will_qos=0, will_retain=False, keepalive=60, clean=True,
                   proto_name="MQTT", proto_level=4, v5_properties=False) -> bytes:
    flags = 0
    if clean:
        flags |= 0x02
    if will_topic is not None:
        flags |= 0x04 | (will_qos << 3) | (0x20 if will_retain else 0)
    if password is not None:
        flags |= 0x40
    if username is not None:
        flags |= 0x80
    body = enc_str(proto_name) + bytes([proto_level, flags]) + struct.pack("!H", keepalive)
    if v5_properties:
        body += b"\x00"  # MQTT 5 CONNECT: empty property list
    body += enc_str(client_id)
    if will_topic is not None:
        if v5_properties:
            body += b"\x00"
        body += enc_str(will_topic) + enc_str(will_payload)
    if username is not None:
        body += enc_str(username)
    if password is not None:
        body += enc_str(password)
    return packet(0x10, body)


def encode_subscribe(mid: int, filters: Sequence[Tuple[str, int]], flags: int = 0x02) -> bytes:
    body = struct.pack("!H", mid) + b"".join(enc_str(f) + bytes([qos]) for f, qos in filters)
    return packet(0x80 | flags, body)


def encode_unsubscribe(mid: int, filters: Sequence[str]) -> bytes:
    body = struct.pack("!H", mid) + b"".join(enc_str(f) for f in filters)
    return packet(0xA2, body)


def encode_publish(topic, payload, qos: int = 0, mid: Optional[int] = None,
                   retain: bool = False, dup: bool = False) -> bytes:
    if isinstance(payload, str):
        payload = payload.encode()
    body = enc_str(topic)
    if qos > 0:
        body += struct.pack("!H", mid or 1)
    body += payload
    first = 0x30 | (qos << 1) | (0x01 if retain else 0) | (0x08 if dup else 0)
    return packet(first, body)


class Packet(NamedTuple):
    type: int
    flags: int
    body: bytes

    @property
    def raw(self) -> bytes:
        return bytes([(self.type << 4) | self.flags]) + enc_varint(len(self.body)) + self.body

    def publish_topic_payload(self) -> Tuple[str, bytes]:
        assert self.type == PUBLISH
        n = struct.unpack("!H", self.body[:2])[0]
        topic = self.body[2:2 + n].decode()
        rest = self.body[2 + n:]
        if (self.flags >> 1) & 3:
            rest = rest[2:]
        return topic, rest


class ConnectionClosed(Exception):
    pass


class NoPacket(Exception):
    pass




class ScriptsRun(NamedTuple):
    """`scripts/run` started by run_scripts_run: its process, the lines it printed so far (a
    thread appends them), its data directory, the dev binary it runs, and stop() (SIGINT to
    its process group; also a cleanup of the test)."""
    proc: subprocess.Popen
    lines: list
    data: str
    built: str
    stop: Callable[[], None]


def run_scripts_run(test: unittest.TestCase, args: Sequence[str]) -> ScriptsRun:
    """Starts `scripts/run ARGS` as a user would after scripts/test, on a temporary data
    directory; skips the test when the binary under test is not the dev tree's, which is the one
    scripts/run builds and runs."""
    built = os.path.join(REPO, "build", "dev", "plugmq")
    if os.path.realpath(BIN) != os.path.realpath(built):
        test.skipTest(f"scripts/run builds {built}, not the binary under test")
    data = tempfile.mkdtemp(prefix="plugmq-run-")
    test.addCleanup(shutil.rmtree, data, True)
    proc = subprocess.Popen([os.path.join(REPO, "scripts", "run"), *args], cwd=REPO,
                            env=dict(os.environ, PLUGMQ_DATA_DIR=data), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()

    def stop():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=30)
        reader.join(timeout=10)
        proc.stdout.close()
    test.addCleanup(stop)
    return ScriptsRun(proc, lines, data, built, stop)


class Delivery(NamedTuple):
    """A PUBLISH as a raw client received it (parse_publish)."""
    topic: str
    payload: bytes
    qos: int
    dup: bool
    packet_id: Optional[int]

    def json(self):
        return json.loads(self.payload)

    def data(self):
        return self.json()["data"]


def parse_publish(p) -> Delivery:
    assert p.type == PUBLISH, f"expected a PUBLISH, got {p.raw[:16]!r}"
    qos = (p.flags >> 1) & 3
    n = struct.unpack("!H", p.body[:2])[0]
    topic = p.body[2:2 + n].decode()
    rest = p.body[2 + n:]
    packet_id = None
    if qos > 0:
        packet_id = struct.unpack("!H", rest[:2])[0]
        rest = rest[2:]
    return Delivery(topic, rest, qos, bool(p.flags & 0x08), packet_id)


def ack(kind: int, packet_id: int) -> bytes:
    """PUBACK (4), PUBREC (5), PUBREL (6) or PUBCOMP (7) for `packet_id`."""
    return packet((kind << 4) | (0x02 if kind == 6 else 0), struct.pack("!H", packet_id))


class RawClient:
    """A minimal blocking MQTT 3.1.1 client over a plain socket, for byte-precise tests. Its MQTT
    bytes go out through send() and come in through _fill(); a transport over the socket
    (ws_helpers.WsClient: WebSocket frames) overrides those two and uses send_raw() and
    recv_raw() for the socket's own bytes."""

    # The socket errors that mean the connection is gone (ConnectionClosed) rather than a failure
    # to report as it is.
    CLOSED_ERRORS: Tuple[type, ...] = (BrokenPipeError, ConnectionResetError)

    def __init__(self, port: int, host: str = HOST, timeout: float = DEFAULT_TIMEOUT,
                 tls: Optional[ssl.SSLContext] = None, source: Optional[str] = None):
        """tls: handshake with this client context first (ssl.SSLError if it fails). source: the
        local address to connect from (another loopback address, e.g. "127.0.0.2", is another
        client address for the server's per-address limits)."""
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        if tls is not None:
            try:
                self.sock = tls.wrap_socket(self.sock, server_hostname=host)
            except BaseException:
                self.sock.close()
                raise
        self.buf = bytearray()
        self.eof = False

    # -- I/O --------------------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        """Writes `data` to the socket as it is."""
        try:
            self.sock.sendall(data)
        except self.CLOSED_ERRORS as e:
            self.eof = True
            raise ConnectionClosed(str(e))

    def send(self, data: bytes) -> None:
        """Sends MQTT bytes."""
        self.send_raw(data)

    def recv_raw(self, deadline: float) -> bytes:
        """The socket's next bytes: NoPacket at `deadline`, ConnectionClosed at EOF."""
        if self.eof:
            raise ConnectionClosed("EOF")
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoPacket()
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise NoPacket()
        except self.CLOSED_ERRORS:
            chunk = b""
        if not chunk:
            self.eof = True
            raise ConnectionClosed("EOF")
        return chunk

    def _parse(self) -> Optional[Packet]:
        if len(self.buf) < 2:
            return None
        length, mult, i = 0, 1, 1
        while True:
            if i >= len(self.buf):
                return None
            byte = self.buf[i]
            length += (byte & 0x7F) * mult
            mult *= 128
            i += 1
            if not byte & 0x80:
                break
            if i > 4:
                raise AssertionError(f"server sent a malformed remaining length: {self.buf[:6]!r}")
        if len(self.buf) < i + length:
            return None
        first = self.buf[0]
        body = bytes(self.buf[i:i + length])
        del self.buf[:i + length]
        return Packet(first >> 4, first & 0x0F, body)

    def _fill(self, deadline: float) -> None:
        """Reads MQTT bytes into `buf`."""
        self.buf += self.recv_raw(deadline)

    def read_packet(self, timeout: float = DEFAULT_TIMEOUT) -> Packet:
        """Returns the next packet; raises NoPacket on timeout, ConnectionClosed on EOF."""
        deadline = time.monotonic() + timeout
        while True:
            p = self._parse()
            if p is not None:
                return p
            self._fill(deadline)

    def expect(self, ptype: int, timeout: float = DEFAULT_TIMEOUT) -> Packet:
        """Reads packets until one of type `ptype` (skipping PUBLISHes); fails on anything else."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                p = self.read_packet(max(0.0, deadline - time.monotonic()))
            except NoPacket:
                raise AssertionError(f"no packet of type {ptype} within {timeout} s")
            except ConnectionClosed:
                raise AssertionError(f"connection closed while waiting for packet type {ptype}")
            if p.type == ptype:
                return p
            if p.type != PUBLISH:
                raise AssertionError(f"expected packet type {ptype}, got {p.raw[:16]!r}")

    # -- protocol ---------------------------------------------------------------------------------
    def connect(self, client_id: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT,
                **kw) -> int:
        """Sends CONNECT and returns the CONNACK return code (asserting the packet's shape)."""
        self.send(encode_connect(client_id if client_id is not None else unique("raw"), **kw))
        try:
            p = self.read_packet(timeout)
        except NoPacket:
            raise AssertionError(f"no CONNACK within {timeout} s")
        except ConnectionClosed:
            raise AssertionError("connection closed without a CONNACK")
        if p.type != CONNACK or p.flags != 0 or len(p.body) != 2:
            raise AssertionError(f"expected a CONNACK, got {p.raw!r}")
        return p.body[1]

    def subscribe(self, filters: Sequence[Tuple[str, int]], mid: int = 1,
                  timeout: float = DEFAULT_TIMEOUT) -> List[int]:
        """Sends SUBSCRIBE and returns the SUBACK return codes."""
        self.send(encode_subscribe(mid, filters))
        p = self.expect(SUBACK, timeout)
        assert p.flags == 0, f"SUBACK flags must be 0: {p.raw!r}"
        got_mid = struct.unpack("!H", p.body[:2])[0]
        assert got_mid == mid, f"SUBACK packet id {got_mid} != {mid}"
        return list(p.body[2:])

    def publish(self, topic, payload, qos: int = 0, mid: int = 1) -> None:
        self.send(encode_publish(topic, payload, qos, mid))

    def ping(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.send(PINGREQ_BYTES)
        p = self.expect(PINGRESP, timeout)
        assert p.raw == PINGRESP_BYTES, f"bad PINGRESP {p.raw!r}"

    def disconnect(self) -> None:
        self.send(DISCONNECT_BYTES)

    def wait_closed(self, timeout: float = DEFAULT_TIMEOUT) -> float:
        """Waits until the server closes the connection (EOF or reset), ignoring any packets.
        Returns the seconds waited; AssertionError if still open at the deadline."""
        start = time.monotonic()
        deadline = start + timeout
        self.buf.clear()
        while True:
            try:
                self._fill(deadline)
                self.buf.clear()
            except ConnectionClosed:
                return time.monotonic() - start
            except NoPacket:
                raise AssertionError(f"server did not close the connection within {timeout} s")

    def assert_open_for(self, duration: float) -> None:
        """Negative check: nothing closes the connection during `duration` (packets that arrive
        are kept for later reads)."""
        deadline = time.monotonic() + duration
        while True:
            try:
                self._fill(deadline)
            except NoPacket:
                return
            except ConnectionClosed:
                raise AssertionError("server closed the connection unexpectedly")

    def close(self, abort: bool = False) -> None:
        """Closes the socket; abort=True sends a TCP RST (SO_LINGER 0) instead of a FIN."""
        try:
            if abort:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass


# ------------------------------------------------------------------------------------------------
# Enrollment over MQTT (SPEC 5)


def thing_topic(model: str, password: str) -> str:
    return f"{model}/thing/{password}"


def ctrl_topic(model: str, thing_hwid: str, password: str) -> str:
    return f"{model}/ctrl/{thing_hwid}/{password}"


def assert_refused_without_connack(tc: unittest.TestCase, client: RawClient, connect: bytes,
                                   timeout: float = DEFAULT_TIMEOUT) -> None:
    """`client` is a connection over max_connections: whatever it sends (`connect` goes out
    first; a close before that is a refusal as well), the server closes it without a packet
    within `timeout` s."""
    try:
        client.send(connect)
    except ConnectionClosed:
        return
    try:
        p = client.read_packet(timeout)
        tc.fail(f"a connection over max_connections got a packet: {p.raw!r}")
    except ConnectionClosed:
        pass
    except NoPacket:
        tc.fail(f"a connection over max_connections was neither answered nor closed within "
                f"{timeout} s")


class EnrollReply(NamedTuple):
    suback: List[int]  # the SUBACK return codes
    topic: str  # topic of the reply PUBLISH
    flags: int  # fixed-header flags of the reply PUBLISH
    reply: object  # its payload, parsed as JSON


def raw_enroll(client: RawClient, client_id: str, topic: str,
               timeout: float = DEFAULT_TIMEOUT, **connect_kw) -> EnrollReply:
    """Runs an enrollment on a fresh RawClient: CONNECT without credentials (CONNACK 0 asserted),
    SUBSCRIBE to `topic`, then reads exactly the SUBACK and the one reply PUBLISH, in that order.
    Leaves the connection as it is (open or closing) for the caller to check."""
    rc = client.connect(client_id, timeout=timeout, **connect_kw)
    if rc != 0:
        raise AssertionError(f"enrollment CONNECT of {client_id!r} got CONNACK {rc}, expected 0")
    client.send(encode_subscribe(1, [(topic, 0)]))
    got = []
    for what in ("SUBACK", "reply PUBLISH"):
        try:
            got.append(client.read_packet(timeout))
        except NoPacket:
            raise AssertionError(f"enrollment: no {what} within {timeout} s "
                                 f"(got {[p.raw[:40] for p in got]})")
        except ConnectionClosed:
            raise AssertionError(f"enrollment: connection closed before the {what} "
                                 f"(got {[p.raw[:40] for p in got]})")
    suback, pub = got
    if suback.type != SUBACK:
        raise AssertionError(f"enrollment: expected SUBACK first, got {suback.raw[:40]!r}")
    mid = struct.unpack("!H", suback.body[:2])[0]
    if mid != 1:
        raise AssertionError(f"enrollment: SUBACK packet id {mid} != 1")
    if pub.type != PUBLISH:
        raise AssertionError(f"enrollment: expected the reply PUBLISH after the SUBACK, got "
                             f"{pub.raw[:40]!r}")
    ptopic, payload = pub.publish_topic_payload()
    try:
        reply = json.loads(payload)
    except ValueError:
        raise AssertionError(f"enrollment reply is not JSON: {payload[:200]!r}")
    return EnrollReply(list(suback.body[2:]), ptopic, pub.flags, reply)


def probe_until_stopped(collector: Collector, publish: Callable[[str, str], object], topic: str,
                        limit: float, quiet: float = 1.0, interval: float = 0.2,
                        settle: float = 0.3, control: Optional[Collector] = None) -> float:
    """Live revocation check. Publishes a unique probe on `topic` every `interval` s and watches
    `collector` (the session losing its permission). Delivery has stopped once every probe sent
    during `quiet` s (each given `settle` s to arrive) is missing. Asserts that the last probe
    that did arrive was sent within `limit` s of the call, then keeps probing for `quiet` s more
    and asserts none of the probes after the stop arrives. `control` (a session that keeps its
    permission) must receive the last probe: the probes really were published.
    Returns the seconds until delivery stopped (the send time of the first missing probe)."""
    start = time.monotonic()
    sent: List[Tuple[str, float]] = []
    give_up = start + limit + quiet + settle + 2.0

    def arrived() -> set:
        out = set()
        for m in collector.matching(lambda m: m.topic == topic):
            try:
                out.add(json.loads(m.payload).get("data"))
            except (ValueError, AttributeError):
                pass
        return out

    stop_index = None
    while stop_index is None:
        token = unique("probe")
        publish(topic, json.dumps(token))
        sent.append((token, time.monotonic()))
        got = arrived()
        last = max((i for i, (tok, _) in enumerate(sent) if tok in got), default=-1)
        now = time.monotonic()
        settled_missing = [i for i in range(last + 1, len(sent)) if now - sent[i][1] >= settle]
        if settled_missing and now - sent[last + 1][1] >= quiet + settle:
            stop_index = last + 1
            break
        if now >= give_up:
            raise AssertionError(f"{topic!r}: probes still delivered {now - start:.1f} s after "
                                 f"the change (limit {limit} s)")
        time.sleep(interval)
    stopped_after = sent[stop_index][1] - start
    last_delivered_at = sent[stop_index - 1][1] - start if stop_index > 0 else 0.0
    if last_delivered_at > limit:
        raise AssertionError(f"{topic!r}: a probe sent {last_delivered_at:.1f} s after the change "
                             f"was still delivered (limit {limit} s)")
    # Nothing more arrives: keep probing for `quiet` s.
    end = time.monotonic() + quiet
    while time.monotonic() < end:
        token = unique("probe")
        publish(topic, json.dumps(token))
        sent.append((token, time.monotonic()))
        time.sleep(interval)
    time.sleep(settle)  # bounded window for the last probes to (not) arrive
    late = [tok for tok, _ in sent[stop_index:] if tok in arrived()]
    if late:
        raise AssertionError(f"{topic!r}: {len(late)} probe(s) delivered after delivery had "
                             f"stopped")
    if control is not None:
        last_token = sent[-1][0]
        control.wait(lambda m: m.topic == topic and last_token in m.text, DEFAULT_TIMEOUT,
                     f"the last probe on {topic!r} at the control subscriber")
    return stopped_after


def probe_until_started(collector: Collector, publish: Callable[[str, str], object], topic: str,
                        limit: float, interval: float = 0.2, then: int = 3) -> float:
    """Live grant check. Publishes a unique probe on `topic` every `interval` s until one arrives
    in `collector`; asserts that happened for a probe sent within `limit` s of the call, and that
    the `then` probes after it arrive too. Returns the seconds until the first delivered probe
    was sent."""
    start = time.monotonic()
    sent: List[Tuple[str, float]] = []
    give_up = start + limit + 2.0
    while True:
        token = unique("probe")
        publish(topic, json.dumps(token))
        sent.append((token, time.monotonic()))
        texts = [m.text for m in collector.matching(lambda m: m.topic == topic)]
        first = next((t for tok, t in sent if any(tok in x for x in texts)), None)
        if first is not None:
            break
        if time.monotonic() >= give_up:
            raise AssertionError(f"{topic!r}: no probe delivered {time.monotonic() - start:.1f} s "
                                 f"after the change (limit {limit} s)")
        time.sleep(interval)
    started_after = first - start
    if started_after > limit:
        raise AssertionError(f"{topic!r}: delivery started only {started_after:.1f} s after the "
                             f"change (limit {limit} s)")
    for _ in range(then):
        token = unique("probe")
        publish(topic, json.dumps(token))
        collector.wait(lambda m: m.topic == topic and token in m.text, DEFAULT_TIMEOUT,
                       f"a probe on {topic!r} after delivery started")
    return started_after


# ------------------------------------------------------------------------------------------------
# Test case base


def test_failed(tc: unittest.TestCase) -> bool:
    """In tearDown: has this test (or one of its subtests) failed so far? (unittest resets
    _outcome.success for the tearDown part, so look at the result lists.)"""
    outcome = getattr(tc, "_outcome", None)
    result = getattr(outcome, "result", None)
    if result is None:
        return False
    for t, _ in list(result.failures) + list(result.errors):
        if t is tc or getattr(t, "test_case", None) is tc:
            return True
    return False


def sanitizer_report(log: str) -> str:
    """The first AddressSanitizer/UBSan/LeakSanitizer report in a server log, or ''. Matters for
    the asan preset: UBSan reports without stopping the process."""
    m = re.search(r"(ERROR: (Address|Leak)Sanitizer|runtime error: )", log)
    if not m:
        return ""
    return log[max(0, m.start() - 200): m.start() + 3000]


def start_args(server: Server, args: Sequence[str], config: Optional[dict]) -> Tuple[str, ...]:
    """`args` for `plugmq serve`, after --config with `config` written to the server's dir."""
    if config is None:
        return tuple(args)
    return ("--config", server.write_file("plugmq.json", json.dumps(config)), *args)


class ServerTestCase(unittest.TestCase):
    """One server per test class; helpers register clients for cleanup; prints the server log
    produced during a failed test; fails a test after which the server is no longer running."""

    server: Server
    server_args: Sequence[str] = ()
    # A configuration file for the class's server: written to its directory, given with --config.
    server_config: Optional[dict] = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        try:
            cls.server.start(start_args(cls.server, cls.server_args, cls.server_config))
            cls.setUpServer()
        except BaseException:
            sys.stderr.write(f"\n--- server log ---\n{cls.server.log_tail()}\n")
            cls.server.close()
            raise

    @classmethod
    def setUpServer(cls):
        """Hook: create accounts and devices for the whole class."""

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        report = sanitizer_report(cls.server.log_text())
        cls.server.close()
        if report:
            raise AssertionError(f"sanitizer report in the server log:\n{report}")
        if rc not in (0, None) and not getattr(cls, "EXPECT_NONZERO_EXIT", False):
            raise AssertionError(f"the server exited with status {rc} on SIGTERM (expected 0)")

    def setUp(self):
        self._log_offset = self.server.log_size()

    def tearDown(self):
        if test_failed(self):
            sys.stderr.write(f"\n--- server log during {self.id()} ---\n"
                             f"{self.server.log_tail(self._log_offset)}\n--- end ---\n")
        if not self.server.alive():
            sys.stderr.write(f"\n--- server log (server died) ---\n"
                             f"{self.server.log_tail(self._log_offset)}\n--- end ---\n")
            self.fail(f"the server is no longer running (exit status {self.server.proc.returncode})")
        report = sanitizer_report(self.server.log_text(self._log_offset))
        if report:
            self.fail(f"sanitizer report in the server log:\n{report}")

    # -- client factories (closed automatically) -----------------------------------------------
    @property
    def port(self) -> int:
        return self.server.port

    def raw(self) -> RawClient:
        c = RawClient(self.port)
        self.addCleanup(c.close)
        return c

    def raw_connected(self, username=None, password=None, client_id=None, **kw) -> RawClient:
        c = self.raw()
        rc = c.connect(client_id, username=username, password=password, **kw)
        self.assertEqual(rc, 0, f"CONNACK for {username!r}")
        return c

    def paho(self, username=None, password=None, connect=True, **kw) -> PahoClient:
        c = PahoClient(self.port, username, password, **kw)
        self.addCleanup(c.close)
        if connect:
            rc = c.connect()
            self.assertEqual(rc, 0, f"paho CONNACK for {username!r}")
        return c

    def paho_dev(self, dev: dict, **kw) -> PahoClient:
        return self.paho(dev["id"], dev["auth"], **kw)

    def subscriber(self, username, password, topic="+/data/#", **kw) -> PahoClient:
        c = self.paho(username, password, **kw)
        granted = c.subscribe(topic)
        self.assertEqual(granted, (0,), f"SUBACK for {topic!r}")
        return c

    def mosquitto_sub(self, username, password, topics=("+/data/#",), extra=()) -> MosquittoSub:
        s = MosquittoSub(self.port, username, password, topics, extra)
        self.addCleanup(s.close)
        return s

    # -- enrollment (SPEC 5) ----------------------------------------------------------------------
    def enroll(self, client_id: str, topic: str, **connect_kw) -> Tuple[RawClient, EnrollReply]:
        """An enrollment over a raw socket; returns the (still open or closing) client and the
        reply. See `raw_enroll`."""
        c = self.raw()
        return c, raw_enroll(c, client_id, topic, **connect_kw)

    def assert_enroll_ok(self, client_id: str, topic: str, **connect_kw) -> dict:
        """Enrolls; asserts SUBACK 0 and the reply {"id":"dev-…","auth":…} on `topic` at QoS 0;
        disconnects. Returns {"id","auth"}."""
        c, r = self.enroll(client_id, topic, **connect_kw)
        self.assertEqual(r.suback, [0], f"SUBACK of a successful enrollment ({client_id!r})")
        self.assertEqual(r.topic, topic, "the enrollment reply comes on the subscribed topic")
        self.assertEqual((r.flags >> 1) & 3, 0, "the enrollment reply is QoS 0")
        self.assertIsInstance(r.reply, dict, r.reply)
        self.assertNotIn("err", r.reply, f"enrollment of {client_id!r} failed: {r.reply}")
        self.assertEqual(set(r.reply), {"id", "auth"}, r.reply)
        self.assertRegex(r.reply["id"], DEV_ID_RE)
        self.assertRegex(r.reply["auth"], AUTH_RE)
        c.disconnect()
        return dict(r.reply)

    def assert_enroll_fails(self, client_id: str, topic: str, err: int,
                            close_timeout: float = 5.0, **connect_kw) -> dict:
        """Enrolls expecting failure: the reply on `topic` is {"err":ERR,"msg":STRING}, and the
        server then closes the connection (within `close_timeout`, far below the enrollment
        timeout of the test servers)."""
        c, r = self.enroll(client_id, topic, **connect_kw)
        self.assertEqual(r.topic, topic, "the enrollment reply comes on the subscribed topic")
        self.assertIsInstance(r.reply, dict, r.reply)
        self.assertEqual(r.reply.get("err"), err, f"enrollment reply {r.reply}")
        self.assertIsInstance(r.reply.get("msg"), str, f"enrollment reply {r.reply}")
        self.assertNotIn("auth", r.reply)
        c.wait_closed(close_timeout)
        return dict(r.reply)

    def new_serial(self, model: str, control: bool = True, hwid: Optional[str] = None) -> dict:
        """Registers a random serial; returns {"model","hwid","pass","cpass"} (cpass None when
        control is disabled)."""
        s = {"model": model, "hwid": hwid or unique("hw"), "pass": unique("ep"),
             "cpass": unique("cp") if control else None}
        out = self.server.add_serial(model, s["hwid"], s["pass"], s["cpass"])
        self.assertEqual(out, {"model": model, "hwid": s["hwid"], "control": control})
        return s

    def make_thing(self, model: str, control: bool = True, name: Optional[str] = None) -> dict:
        """Registers a serial and enrolls it over MQTT: {"id","auth","model","hwid","pass",
        "cpass"}."""
        s = self.new_serial(model, control)
        cid = s["hwid"] + (f"/{name}" if name else "")
        s.update(self.assert_enroll_ok(cid, thing_topic(model, s["pass"])))
        return s

    def make_controller(self, thing: dict, hwid: Optional[str] = None,
                        name: Optional[str] = None) -> dict:
        """Enrolls a controller (HWID `hwid`, new when None) for `thing` (from make_thing):
        {"id","auth","hwid"}."""
        hwid = hwid or unique("ctl")
        cid = hwid + (f"/{name}" if name else "")
        out = self.assert_enroll_ok(cid, ctrl_topic(thing["model"], thing["hwid"], thing["cpass"]))
        out["hwid"] = hwid
        return out


class UnstartedServerTestCase(unittest.TestCase):
    """Every test gets a Server of its own that it starts itself (or not: a CLI-only test), and
    its log is printed when the test fails."""

    def setUp(self):
        if not os.path.exists(BIN):
            self.skipTest(f"no plugmq binary at {BIN}")
        self.server = Server()
        self.addCleanup(self.server.close)

    def tearDown(self):
        if test_failed(self):
            sys.stderr.write(f"\n--- server log ---\n{self.server.log_tail()}\n--- end ---\n")


class FreshServerTestCase(ServerTestCase):
    """Like ServerTestCase, but every test gets a server of its own (started in setUp with
    `server_args`), so a test may restart or kill it. At the end the server must stop with
    status 0 on SIGTERM (if it is running) and its whole log must be free of sanitizer
    reports."""

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(BIN):
            raise unittest.SkipTest(f"no plugmq binary at {BIN}")

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.server = Server()
        self.addCleanup(self._finish_server)
        try:
            self.server.start(start_args(self.server, self.server_args, self.server_config))
        except BaseException:
            sys.stderr.write(f"\n--- server log ---\n{self.server.log_tail()}\n")
            raise
        super().setUp()

    def _finish_server(self):
        running = self.server.alive()
        rc = self.server.stop()
        report = sanitizer_report(self.server.log_text())
        self.server.close()
        if report:
            raise AssertionError(f"sanitizer report in the server log:\n{report}")
        if running and rc != 0:
            raise AssertionError(f"the server exited with status {rc} on SIGTERM (expected 0)")
