"""Deployment files (SPEC section 9): the systemd unit, the Docker image's build and health
check, and the README's test-certificate commands.

The unit is checked with `systemd-analyze verify` (where it exists) on a copy whose ExecStart runs
the binary under test; the Dockerfile by reading it (no Docker daemon is needed); the health check
script against a real broker; the certificate commands by running them and making a TLS
connection with the result."""

import io
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import tarfile
import tempfile
import threading
import unittest
from typing import Dict, List

from harness import BIN, HOST, REPO, Server, http_request

UNIT = os.path.join(REPO, "config", "plugmq.service")
DOCKERFILE = os.path.join(REPO, "docker", "Dockerfile")
DOCKERIGNORE = os.path.join(REPO, ".dockerignore")
HEALTHCHECK = os.path.join(REPO, "docker", "healthcheck")
README = os.path.join(REPO, "README.md")

INSTALLED_BIN = "/usr/local/bin/plugmq"
EXEC_START = f"{INSTALLED_BIN} serve --config /etc/plugmq/plugmq.json"
CERT_MARKER = "<!-- test-certificate:"


def read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def fenced_blocks(markdown: str) -> List[str]:
    """The contents of the ``` fenced code blocks of a Markdown text, in order."""
    return re.findall(r"^```[^\n]*\n(.*?)^```\s*$", markdown, re.M | re.S)


def parse_unit(text: str) -> Dict[str, Dict[str, List[str]]]:
    """section -> key -> values (a key may repeat), for a unit file without continuations."""
    out: Dict[str, Dict[str, List[str]]] = {}
    section = None
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = out.setdefault(line[1:-1], {})
            continue
        if section is None or "=" not in line or line.endswith("\\"):
            raise AssertionError(f"{UNIT}:{n}: unexpected line {line!r}")
        key, value = line.split("=", 1)
        section.setdefault(key.strip(), []).append(value.strip())
    return out


def analyze_verify(unit_text: str, name: str = "plugmq.service") -> List[str]:
    """Writes `unit_text` as NAME in a temp dir and runs `systemd-analyze verify` on it. Returns
    the problems: the status if non-zero, and every output line that mentions the unit (verify
    exits 0 on warnings such as an unparsable value or an unknown key)."""
    with tempfile.TemporaryDirectory(prefix="plugmq-unit-") as d:
        path = os.path.join(d, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(unit_text)
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", path],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    problems = [line for line in (p.stdout + p.stderr).splitlines()
                if name in line or path in line or d in line]
    if p.returncode != 0:
        problems.insert(0, f"systemd-analyze verify exited {p.returncode}: {p.stderr.strip()!r}")
    return problems


class SystemdUnitTest(unittest.TestCase):
    def setUp(self):
        self.text = read(UNIT)
        self.unit = parse_unit(self.text)

    def under_test(self) -> str:
        """The unit with ExecStart running the binary under test, everything else identical."""
        if not os.path.exists(BIN):
            self.skipTest(f"no plugmq binary at {BIN}")
        lines = self.text.splitlines(keepends=True)
        starts = [i for i, line in enumerate(lines) if line.startswith("ExecStart=")]
        self.assertEqual(len(starts), 1, "one ExecStart= line")
        i = starts[0]
        self.assertTrue(lines[i].startswith(f"ExecStart={INSTALLED_BIN} "), lines[i])
        lines[i] = lines[i].replace(INSTALLED_BIN, os.path.abspath(BIN), 1)
        return "".join(lines)

    def test_systemd_analyze_verify(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        problems = analyze_verify(self.under_test())
        self.assertEqual(problems, [], "systemd-analyze verify reports problems with the unit")

    def test_verify_reports_a_bad_value_and_an_unknown_key(self):
        # The check above relies on warnings naming the unit; make sure they do here.
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        good = self.under_test()
        bad = good.replace("\nProtectHome=yes\n", "\nProtectHome=yess\n")
        self.assertNotEqual(bad, good)
        self.assertTrue(any("yess" in p for p in analyze_verify(bad)), analyze_verify(bad))
        bad = good.replace("\n[Service]\n", "\n[Service]\nProtectTheWorld=yes\n")
        self.assertTrue(any("ProtectTheWorld" in p for p in analyze_verify(bad)))
        bad = good.replace(os.path.abspath(BIN), "/nonexistent/plugmq", 1)
        self.assertTrue(analyze_verify(bad), "a missing ExecStart binary must be reported")

    def test_service_settings(self):
        s = self.unit["Service"]
        expected = {
            "ExecStart": [EXEC_START],
            "ExecReload": ["/bin/kill -HUP $MAINPID"],
            "User": ["plugmq"], "Group": ["plugmq"],
            "StateDirectory": ["plugmq"],
            "Restart": ["on-failure"],
            "CapabilityBoundingSet": [""],
            "NoNewPrivileges": ["yes"],
            "ProtectSystem": ["strict"],
            "ProtectHome": ["yes"],
            "PrivateTmp": ["yes"],
            "PrivateDevices": ["yes"],
            "ProtectKernelTunables": ["yes"],
            "ProtectKernelModules": ["yes"],
            "ProtectKernelLogs": ["yes"],
            "ProtectControlGroups": ["yes"],
            "RestrictAddressFamilies": ["AF_INET AF_INET6 AF_UNIX"],
            "RestrictNamespaces": ["yes"],
            "LockPersonality": ["yes"],
            "MemoryDenyWriteExecute": ["yes"],
            "RestrictRealtime": ["yes"],
            "SystemCallArchitectures": ["native"],
        }
        for key, value in expected.items():
            with self.subTest(key=key):
                self.assertEqual(s.get(key), value)
        # Started once listening (sd_notify), never restarted over a configuration error, and
        # its files readable by its group only.
        self.assertEqual(s["Type"], ["notify"])
        self.assertEqual(s["RestartPreventExitStatus"], ["2"])
        self.assertEqual(s["UMask"], ["0027"])
        self.assertIn("@system-service", s["SystemCallFilter"])
        self.assertNotIn("DynamicUser", s, "admin commands need the same fixed user")
        self.assertIn("/etc/plugmq", " ".join(s.get("ReadOnlyPaths", [])))
        self.assertGreaterEqual(int(s["LimitNOFILE"][0]), 100_000,
                                "one descriptor per connection; --max-connections is 100,000")
        self.assertRegex(s["RestartSec"][0], r"^[1-9]\d*(s|ms)?$")
        self.assertRegex(s["TimeoutStopSec"][0], r"^[1-9]\d*s?$")
        self.assertEqual(self.unit["Install"]["WantedBy"], ["multi-user.target"])


def depends_closure(packages: set) -> set:
    """The packages and what they depend on, recursively, as this machine's dpkg knows them
    (apt-get installs them along)."""
    seen, todo = set(), list(packages)
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        p = subprocess.run(["dpkg-query", "-W", "-f", "${Depends},${Pre-Depends}", pkg],
                           capture_output=True, text=True)
        for dep in re.split(r"[,|]", p.stdout):
            name = dep.strip().split(" ")[0].split(":")[0]
            if name:
                todo.append(name)
    return seen


class DockerfileTest(unittest.TestCase):
    def setUp(self):
        # One instruction per entry: continuation lines joined, comments dropped.
        text = re.sub(r"\\\n", " ", "\n".join(l for l in read(DOCKERFILE).splitlines()
                                             if not l.lstrip().startswith("#")))
        self.instructions = [tuple(l.strip().split(None, 1)) for l in text.splitlines()
                             if l.strip()]
        self.stages: List[List[tuple]] = []
        for ins in self.instructions:
            if ins[0].upper() == "FROM":
                self.stages.append([])
            self.stages[-1].append(ins)

    def test_build_stage_runs_scripts_build_like_the_readme(self):
        self.assertEqual(len(self.stages), 2, "a build stage and a runtime stage")
        self.assertRegex(self.stages[0][0][1], r"^debian:12 AS \w+$")
        runs = [ins[1] for ins in self.stages[0] if ins[0].upper() == "RUN"]
        firsts = [shlex.split(r.split("&&")[0])[0] for r in runs]
        self.assertIn("scripts/build", firsts, f"the build stage's RUN steps: {runs}")
        # The build packages are installed in a layer before the sources are copied in, from
        # the package list alone: a source change does not install them again.
        steps = [(ins[0].upper(), ins[1]) for ins in self.stages[0]]
        deps = next(i for i, (k, v) in enumerate(steps) if k == "RUN" and "ensure_packages" in v)
        sources = steps.index(("COPY", ". ."))
        self.assertLess(deps, sources)
        self.assertEqual([v for k, v in steps[:deps] if k == "COPY"],
                         ["scripts/lib/common.sh scripts/lib/common.sh"])
        # The README's systemd set-up installs with scripts/install, which builds with the same
        # command.
        blocks = [b for b in fenced_blocks(read(README))
                  if "systemctl enable --now plugmq" in b and "cpack" not in b]
        self.assertEqual(len(blocks), 1, "one README block installs the systemd service "
                                         "from the sources")
        self.assertIn("scripts/install", [l.strip() for l in blocks[0].splitlines()])
        self.assertIn("$(scripts/build)", read(os.path.join(REPO, "scripts", "install")))
        self.assertIn("docker build -f docker/Dockerfile -t plugmq .", read(README))

    def test_runtime_stage(self):
        runtime = self.stages[-1]
        self.assertEqual(runtime[0][1], "debian:12-slim")
        ins = {}
        for name, *rest in runtime:
            ins.setdefault(name.upper(), []).append(rest[0] if rest else "")
        self.assertEqual(ins["USER"], ["plugmq"])
        self.assertEqual(ins["VOLUME"], ["/var/lib/plugmq"])
        self.assertEqual(ins["EXPOSE"], ["1883 8883 8080 8443"])
        self.assertEqual([json.loads(v) for v in ins["ENTRYPOINT"]], [["plugmq"]])
        self.assertEqual([json.loads(v) for v in ins["CMD"]],
                         [["serve", "--config", "/etc/plugmq/plugmq.json"]])
        self.assertIn("config/plugmq.json /etc/plugmq/plugmq.json", ins["COPY"])
        # `docker exec plugmq plugmq ...` finds the server's database through the config.
        self.assertIn("PLUGMQ_CONFIG=/etc/plugmq/plugmq.json", ins["ENV"])
        self.assertIn("docker/healthcheck /usr/local/bin/plugmq-healthcheck", ins["COPY"])
        self.assertTrue(any("plugmq-healthcheck" in h for h in ins["HEALTHCHECK"]))
        with open(DOCKERIGNORE, encoding="utf-8") as f:
            ignored = {l.strip() for l in f if l.strip() and not l.startswith("#")}
        self.assertLessEqual({"build/", "plugmq-data/", ".git"}, ignored)

    def test_runtime_stage_installs_every_library_the_binary_links(self):
        if not os.path.exists(BIN):
            self.skipTest(f"no plugmq binary at {BIN}")
        if not (shutil.which("ldd") and shutil.which("dpkg")):
            self.skipTest("needs ldd and dpkg")
        runtime_runs = " ".join(i[1] for i in self.stages[-1] if i[0].upper() == "RUN")
        m = re.search(r"apt-get install ((?:-\S+\s+)*)([^&]+)", runtime_runs)
        self.assertIsNotNone(m, "the runtime stage installs its libraries with apt-get")
        installed = depends_closure(set(m.group(2).split()))
        # In debian:12-slim already (Essential, or needed by apt): the C and C++ runtimes.
        base = {"libc6", "libgcc-s1", "libstdc++6"}
        ldd = subprocess.run(["ldd", BIN], capture_output=True, text=True, check=True).stdout
        libs = re.findall(r"=> (/\S+)", ldd)
        self.assertTrue(libs, ldd)
        needed = set()
        for lib in libs:
            real = os.path.realpath(lib)
            p = subprocess.run(["dpkg", "-S", real], capture_output=True, text=True)
            if p.returncode != 0:  # merged /usr: dpkg may know the other spelling
                alt = real[4:] if real.startswith("/usr/") else "/usr" + real
                p = subprocess.run(["dpkg", "-S", alt], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, f"no Debian package owns {real}")
            needed.add(p.stdout.split(":")[0])
        # Sanitizer builds link libasan/libubsan, which no runtime image has.
        needed = {n for n in needed if not re.match(r"lib(a|ub|l|t)san\d*$", n)}
        self.assertEqual(needed - base - installed, set(),
                         f"libraries the binary links ({sorted(needed)}) that the runtime stage "
                         f"does not install ({sorted(installed)})")


class InstallTest(unittest.TestCase):
    """scripts/install, staged (--destdir) from the build tree under test (--build-dir)."""

    def setUp(self):
        self.build = os.path.dirname(os.path.abspath(BIN))
        if not os.path.exists(os.path.join(self.build, "cmake_install.cmake")):
            self.skipTest(f"{self.build} is not a CMake build tree")
        self.dest = tempfile.mkdtemp(prefix="plugmq-install-")
        self.addCleanup(shutil.rmtree, self.dest, True)

    def install(self):
        p = subprocess.run([os.path.join(REPO, "scripts", "install"), "--build-dir", self.build,
                            "--destdir", self.dest, "--prefix", "/opt/plugmq"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_binary_unit_and_config_in_place(self):
        out = self.install()
        binary = os.path.join(self.dest, "opt/plugmq/bin/plugmq")
        v = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        self.assertTrue(v.stdout.startswith("plugmq "), v.stdout)
        unit = read(os.path.join(self.dest, "opt/plugmq/lib/systemd/system/plugmq.service"))
        self.assertEqual(parse_unit(unit)["Service"]["ExecStart"],
                         ["/opt/plugmq/bin/plugmq serve --config /etc/plugmq/plugmq.json"])
        config = os.path.join(self.dest, "etc/plugmq/plugmq.json")
        self.assertEqual(read(config), read(os.path.join(REPO, "config", "plugmq.json")))
        self.assertIn("systemctl daemon-reload && systemctl enable --now plugmq", out)
        # Installing again keeps an edited config; the shipped one goes beside it.
        with open(config, "a", encoding="utf-8") as f:
            f.write("// edited\n")
        out = self.install()
        self.assertTrue(read(config).endswith("// edited\n"))
        self.assertTrue(os.path.exists(config + ".new"))
        self.assertIn("kept", out)


class DebianPackageTest(unittest.TestCase):
    """`cpack -G DEB` in the build tree under test: what the package holds and declares."""

    def test_package(self):
        build = os.path.dirname(os.path.abspath(BIN))
        if not os.path.exists(os.path.join(build, "CPackConfig.cmake")):
            self.skipTest(f"{build} is not a CMake build tree")
        for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps"):
            if not shutil.which(tool):
                self.skipTest(f"needs {tool}")
        out = tempfile.mkdtemp(prefix="plugmq-deb-")
        self.addCleanup(shutil.rmtree, out, True)
        p = subprocess.run(["cpack", "-G", "DEB", "-B", out], cwd=build, capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        debs = [f for f in os.listdir(out) if f.endswith(".deb")]
        self.assertEqual(len(debs), 1, os.listdir(out))
        deb = os.path.join(out, debs[0])
        files = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True,
                               check=True).stdout
        for path in ("./usr/bin/plugmq", "./usr/lib/systemd/system/plugmq.service",
                     "./etc/plugmq/plugmq.json"):
            self.assertIn(path, files)
        fields = subprocess.run(["dpkg-deb", "-f", deb, "Package", "Depends"],
                                capture_output=True, text=True, check=True).stdout
        self.assertIn("Package: plugmq", fields)
        for lib in ("libsqlite3-0", "libssl3", "libsystemd0"):
            self.assertIn(lib, fields)
        control = os.path.join(out, "control")
        subprocess.run(["dpkg-deb", "-e", deb, control], check=True)
        self.assertEqual(read(os.path.join(control, "conffiles")).split(),
                         ["/etc/plugmq/plugmq.json"])
        self.assertIn("useradd --system", read(os.path.join(control, "postinst")))
        unit = subprocess.run(["dpkg-deb", "--fsys-tarfile", deb], capture_output=True,
                              check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(unit)) as tar:
            text = tar.extractfile("./usr/lib/systemd/system/plugmq.service").read().decode()
        self.assertEqual(parse_unit(text)["Service"]["ExecStart"],
                         ["/usr/bin/plugmq serve --config /etc/plugmq/plugmq.json"])


class NotifyTest(unittest.TestCase):
    """Type=notify: READY=1 once the listeners are bound, RELOADING=1 then READY=1 around a
    SIGHUP, STOPPING=1 at SIGTERM, sent to NOTIFY_SOCKET as systemd would receive them."""

    def test_ready_reload_stopping(self):
        tmp = tempfile.mkdtemp(prefix="plugmq-notify-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(path)
        sock.settimeout(30)
        server = Server()
        self.addCleanup(server.close)
        server.env = {"NOTIFY_SOCKET": path}
        server.start(log_level="info")

        def receive():
            return dict(line.split("=", 1) for line in sock.recv(4096).decode().splitlines())

        ready = receive()
        self.assertEqual(ready["READY"], "1")
        # Sent after the listeners were bound: the ports it names take connections.
        self.assertIn(f"mqtt {server.port}", ready["STATUS"])
        self.assertIn(f"http {server.http_port}", ready["STATUS"])
        socket.create_connection((HOST, server.port), timeout=5).close()
        server.signal(signal.SIGHUP)
        reloading = receive()
        self.assertEqual(reloading["RELOADING"], "1")
        self.assertGreater(int(reloading["MONOTONIC_USEC"]), 0)
        self.assertEqual(receive()["READY"], "1")
        server.signal(signal.SIGTERM)
        self.assertEqual(receive()["STOPPING"], "1")
        self.assertEqual(server.wait_exit(), 0)


class HealthcheckTest(unittest.TestCase):
    """docker/healthcheck against a real broker, a closed port and a silent listener."""

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(BIN):
            raise unittest.SkipTest(f"no plugmq binary at {BIN}")
        for tool in ("bash", "timeout", "cat", "head", "tr"):
            if not shutil.which(tool):
                raise unittest.SkipTest(f"the health check needs {tool}")

    def check(self, port: int, timeout: float = 5):
        env = dict(os.environ, PLUGMQ_HEALTH_PORT=str(port), PLUGMQ_HEALTH_TIMEOUT=str(timeout))
        return subprocess.run([HEALTHCHECK], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout + 10)

    def test_healthy_broker(self):
        server = Server()
        self.addCleanup(server.close)
        server.start(log_level="info")
        offset = server.log_size()
        p = self.check(server.http_port)
        self.assertEqual(p.returncode, 0, f"health check of a running broker: {p.stderr!r}")
        # It logs nothing: no refused login every 30 s for brute-force alerting to flag.
        self.assertEqual(server.log_text(offset), "")
        reply = http_request(server.http_port, "GET", "/health")
        self.assertEqual(reply.status, 200)
        body = reply.json()
        self.assertEqual((body["status"], body["store"], body["writer"]), ("ok", "ok", "ok"))
        self.assertIsInstance(body["connections"], int)
        self.assertEqual(http_request(server.http_port, "POST", "/health").status, 405)
        self.assertEqual(server.stop(), 0)
        p = self.check(server.http_port)
        self.assertNotEqual(p.returncode, 0, "a stopped broker is unhealthy")
        self.assertIn("cannot connect", p.stderr)

    def test_a_listener_that_does_not_answer_is_unhealthy(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            # Accepts (the kernel does) and never answers: the check gives up after 1 s.
            p = self.check(s.getsockname()[1], timeout=1)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("did not answer GET /health", p.stderr)

    def test_a_listener_that_is_not_plugmq_is_unhealthy(self):
        server = Server()
        self.addCleanup(server.close)
        server.start()
        # The MQTT port closes on the first bytes of an HTTP request, sometimes before the
        # request is all written: either way a message and exit status 1, never a SIGPIPE.
        for _ in range(20):
            p = self.check(server.port, timeout=2)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertRegex(p.stderr, r"unhealthy: .*(closed the connection without answering"
                                       r"|cannot send a request)")


class TestCertificateTest(unittest.TestCase):
    """The README's "A test certificate" commands, run in an empty directory."""

    def setUp(self):
        if not shutil.which("openssl"):
            self.skipTest("openssl is not installed")
        text = read(README)
        at = text.find(CERT_MARKER)
        self.assertGreaterEqual(at, 0, f"README has no block marked {CERT_MARKER!r}")
        blocks = fenced_blocks(text[at:])
        self.assertTrue(blocks and text[at:].split("\n", 1)[1].startswith("```"),
                        "the marker comes right before its code block")
        self.script = blocks[0]
        self.dir = tempfile.mkdtemp(prefix="plugmq-cert-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        p = subprocess.run(["sh", "-e", "-c", self.script], cwd=self.dir,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, f"the commands failed:\n{self.script}\n{p.stderr}")
        self.output = p.stdout

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def test_verifies_against_the_ca_and_names_localhost(self):
        for f in ("ca.crt", "ca.key", "server.crt", "server.key"):
            self.assertTrue(os.path.exists(self.path(f)), f"{f} was not made")
        self.assertIn("server.crt: OK", self.output)
        p = subprocess.run(["openssl", "verify", "-CAfile", "ca.crt", "server.crt"],
                           cwd=self.dir, capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "server.crt: OK"), p.stderr)
        p = subprocess.run(["openssl", "x509", "-in", "server.crt", "-noout", "-ext",
                            "subjectAltName"], cwd=self.dir, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("DNS:localhost", p.stdout)
        self.assertIn("IP Address:127.0.0.1", p.stdout)

    def test_tls_clients_accept_it_for_localhost_only(self):
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(self.path("server.crt"), self.path("server.key"))
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        port = listener.getsockname()[1]

        def serve():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return  # closed
                try:
                    with server_ctx.wrap_socket(conn, server_side=True) as tls:
                        tls.sendall(b"ok")
                except (OSError, ssl.SSLError):
                    pass  # the client refused the certificate

        threading.Thread(target=serve, daemon=True).start()
        client_ctx = ssl.create_default_context(cafile=self.path("ca.crt"))

        def connect(name: str) -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with client_ctx.wrap_socket(raw, server_hostname=name) as tls:
                    return tls.recv(2)

        for name in ("localhost", "127.0.0.1"):
            with self.subTest(name=name):
                self.assertEqual(connect(name), b"ok")
        with self.assertRaises(ssl.SSLCertVerificationError):
            connect("broker.example.com")


if __name__ == "__main__":
    unittest.main()
