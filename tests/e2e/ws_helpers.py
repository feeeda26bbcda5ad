"""Clients of MQTT over WebSocket (SPEC 12) for the end-to-end tests.

- `WsClient`: the harness's RawClient over a WebSocket of its own making (RFC 6455 written out
  with the standard library: the opening handshake, masked frames, fragments, ping, close), so a
  test chooses every frame's boundaries and type.
- `ws_handshake`: one opening handshake, for the answers to requests that are refused.
- `MqttJs`: MQTT.js (the client browsers use) in Node.js, driven line by line through
  tests/e2e/js/mqtt_client.mjs; `mqttjs_missing()` says why it cannot run.
"""

import base64
import hashlib
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

from harness import DEFAULT_TIMEOUT, HERE, HOST, ConnectionClosed, RawClient

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
JS_DIR = os.path.join(HERE, "js")


class Handshake(NamedTuple):
    status: int
    headers: dict  # lowercase names
    body: bytes  # a refusal's body (Content-Length)

    def json(self):
        return json.loads(self.body)


class WsRefused(Exception):
    def __init__(self, handshake: Handshake):
        super().__init__(f"WebSocket handshake answered {handshake.status}: {handshake.body!r}")
        self.handshake = handshake


def upgrade_request(path: str, key: str, protocols: Sequence[str], host: str, port: int,
                    extra: Optional[dict] = None) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if protocols:
        lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
    for name, value in (extra or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_head(sock: socket.socket, deadline: float) -> Handshake:
    """Reads an HTTP response's head, and its body when it has a Content-Length; returns it with
    whatever came after (in `body` for a 101: the first frames)."""
    data = bytearray()
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionClosed(f"closed during the handshake's answer: {bytes(data)!r}")
        data += chunk
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if status != 101:
        want = int(headers.get("content-length", "0"))
        while len(rest) < want:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return Handshake(status, headers, rest)


def accept_value(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


def open_handshake(client: RawClient, port: int, protocols: Sequence[str], path: str,
                   extra: Optional[dict], timeout: float) -> Tuple[str, Handshake]:
    """Sends an opening handshake on `client`'s connection: its Sec-WebSocket-Key and the
    answer."""
    key = base64.b64encode(os.urandom(16)).decode()
    client.send_raw(upgrade_request(path, key, protocols, HOST, port, extra))
    return key, read_head(client.sock, time.monotonic() + timeout)


def ws_handshake(port: int, protocols: Sequence[str] = ("mqtt",), tls: Optional[ssl.SSLContext] = None,
                 path: str = "/mqtt", extra: Optional[dict] = None,
                 timeout: float = DEFAULT_TIMEOUT) -> Handshake:
    """One opening handshake on a connection of its own, closed afterwards: the answer."""
    client = RawClient(port, timeout=timeout, tls=tls)
    try:
        return open_handshake(client, port, protocols, path, extra, timeout)[1]
    finally:
        client.close()


class WsClient(RawClient):
    """RawClient (MQTT packets in, MQTT packets out) over MQTT over WebSocket: send() puts its
    bytes in one binary message of one frame; send_frame() sends any frame. Received data frames
    feed the packet parser whatever their boundaries; a server's ping is answered; its close
    frame is kept in `close_frame` (code, reason) and ends the stream (ConnectionClosed)."""

    # A TLS stream cut is as closed as a reset: any socket error ends the stream.
    CLOSED_ERRORS = (OSError,)

    def __init__(self, port: int, protocols: Sequence[str] = ("mqtt",),
                 tls: Optional[ssl.SSLContext] = None, path: str = "/mqtt",
                 timeout: float = DEFAULT_TIMEOUT):
        super().__init__(port, timeout=timeout, tls=tls)
        self.wire = bytearray()  # bytes received and not yet parsed into frames
        self.close_frame = None
        self.sent_close = False
        self.pongs: List[bytes] = []
        self.opcodes: List[int] = []  # of the data frames received
        try:
            key, self.handshake = open_handshake(self, port, protocols, path, None, timeout)
        except BaseException:
            self.sock.close()
            raise
        if self.handshake.status != 101:
            self.sock.close()
            raise WsRefused(self.handshake)
        if self.handshake.headers.get("sec-websocket-accept") != accept_value(key):
            self.sock.close()
            raise AssertionError(f"bad Sec-WebSocket-Accept: {self.handshake.headers}")
        self.protocol = self.handshake.headers.get("sec-websocket-protocol")
        self.wire += self.handshake.body

    # -- frames out -------------------------------------------------------------------------------
    def send_frame(self, opcode: int, payload: bytes = b"", fin: bool = True) -> None:
        """A client frame (masked, RFC 6455 section 5.3)."""
        first = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            head = bytes([first, 0x80 | n])
        elif n < 65536:
            head = bytes([first, 0x80 | 126]) + struct.pack("!H", n)
        else:
            head = bytes([first, 0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.send_raw(head + mask + masked)

    def send(self, data: bytes) -> None:
        self.send_frame(BINARY, data)

    def send_close(self, code: int = 1000, reason: bytes = b"") -> None:
        self.sent_close = True
        self.send_frame(CLOSE, struct.pack("!H", code) + reason)

    def ws_ping(self, payload: bytes = b"plugmq", timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """A WebSocket ping; returns the pong's payload (data frames meanwhile are kept)."""
        self.send_frame(PING, payload)
        deadline = time.monotonic() + timeout
        while not self.pongs:
            frame = self._frame()
            if frame is None:
                self.wire += self.recv_raw(deadline)
            else:
                self._apply(*frame)
        return self.pongs.pop(0)

    # -- frames in --------------------------------------------------------------------------------
    def _frame(self):
        """The next whole frame in `wire` (fin, opcode, payload), or None."""
        w = self.wire
        if len(w) < 2:
            return None
        fin, opcode, masked, n = w[0] & 0x80, w[0] & 0x0F, w[1] & 0x80, w[1] & 0x7F
        if masked:
            raise AssertionError("the server sent a masked frame (RFC 6455 section 5.1)")
        at = 2
        if n == 126:
            if len(w) < 4:
                return None
            n, at = struct.unpack("!H", w[2:4])[0], 4
        elif n == 127:
            if len(w) < 10:
                return None
            n, at = struct.unpack("!Q", w[2:10])[0], 10
        if len(w) < at + n:
            return None
        payload = bytes(w[at:at + n])
        del w[:at + n]
        return bool(fin), opcode, payload

    def _apply(self, fin: bool, opcode: int, payload: bytes) -> bool:
        """Handles one frame; True when it brought data."""
        if opcode in (TEXT, BINARY, CONTINUATION):
            self.opcodes.append(opcode)
            self.buf += payload
            return True
        if opcode == CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            self.close_frame = (code, payload[2:].decode("utf-8", "replace"))
            if not self.sent_close:
                try:
                    self.send_close(code or 1000)  # the closing handshake's answer
                except ConnectionClosed:
                    pass
            self.eof = True
            raise ConnectionClosed(f"close frame {self.close_frame}")
        if opcode == PING:
            self.send_frame(PONG, payload)
        elif opcode == PONG:
            self.pongs.append(payload)
        return False

    def _fill(self, deadline: float) -> None:
        # RawClient's reads go through here: the next data frame's payload into `buf`.
        while True:
            frame = self._frame()
            if frame is None:
                self.wire += self.recv_raw(deadline)
            elif self._apply(*frame):
                return


# ------------------------------------------------------------------------------------------------
# MQTT.js


def mqttjs_missing() -> Optional[str]:
    """Why the MQTT.js client cannot run here (the reason to skip), or None."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node and npm are not installed (scripts/test installs them)"
    return None


class MqttJs:
    """One Node.js process running tests/e2e/js/mqtt_client.mjs: cmd() sends a command, wait()
    waits for an event (see the script for both)."""

    def __init__(self):
        if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "mqtt")):
            raise AssertionError(f"MQTT.js is not installed in {JS_DIR}/node_modules: run "
                                 f"scripts/test, or `npm ci` in {JS_DIR}")
        self.proc = subprocess.Popen(["node", "mqtt_client.mjs"], cwd=JS_DIR,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.events: List[dict] = []
        self.stderr: List[str] = []
        self._cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.version = self.wait(lambda e: e["ev"] == "ready", what="MQTT.js to start")["version"]

    def _read(self):
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"ev": "garbage", "line": line}
            with self._cv:
                self.events.append(event)
                self._cv.notify_all()

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    def cmd(self, op: str, **kw) -> int:
        """Sends a command; returns the number of events before it (for wait's `start`)."""
        with self._cv:
            start = len(self.events)
        self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        self.proc.stdin.flush()
        return start

    def wait(self, pred: Callable[[dict], bool], timeout: float = DEFAULT_TIMEOUT,
             what: str = "an event", start: int = 0) -> dict:
        """The first event from index `start` on that satisfies `pred`."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for e in self.events[start:]:
                    if pred(e):
                        return e
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"MQTT.js: no {what} within {timeout} s; events: "
                                         f"{self.events[start:]}; stderr: {''.join(self.stderr)}")
                self._cv.wait(min(left, 0.1))

    def connect(self, url: str, **kw) -> dict:
        """Connects; returns the "connect" event, or the "error" one (a refusal's CONNACK code)."""
        start = self.cmd("connect", url=url, **kw)
        return self.wait(lambda e: e["ev"] in ("connect", "error"), what="CONNACK", start=start)

    def subscribe(self, topic: str, qos: int) -> List[int]:
        start = self.cmd("subscribe", topic=topic, qos=qos)
        return self.wait(lambda e: e["ev"] in ("suback", "error"), what=f"SUBACK for {topic}",
                         start=start).get("granted")

    def publish(self, topic: str, payload: str, qos: int) -> None:
        start = self.cmd("publish", topic=topic, payload=payload, qos=qos)
        e = self.wait(lambda e: e["ev"] in ("published", "error"), what=f"publish to {topic}",
                      start=start)
        assert e["ev"] == "published", e

    def message(self, pred: Callable[[dict], bool], what: str, start: int = 0) -> dict:
        return self.wait(lambda e: e["ev"] == "message" and pred(e), what=what, start=start)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.cmd("exit")
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
