"""The web console (SPEC 12) at /console/.

ConsoleFilesTest needs no browser: "/" leads to the console, every file is served with its
type, a strict Content-Security-Policy and nosniff, byte for byte as committed, and the browser
libraries are the pinned upstream files that console/vendor/README.md lists with their SHA-256.

ConsoleBrowserTest drives a real headless Chromium (Selenium with Debian's chromium-driver, a
temporary profile): sign in, watch a device come online when a paho client connects, see what
paho publishes in the live view (MQTT.js over WebSocket) and on the chart, edit a property and
the device's settings, create a template and register serials (one, and CSV), page through
records, delete a persistent session, read the broker's figures with a metrics token, and load
every view without a single CSP violation in the browser's log. ConsoleHttpsTest does the same
sign-in and live data over https and wss. Screenshots go to the test's temporary directory
and, when PLUGMQ_ARTIFACTS is set, to that directory too. Without chromium, chromedriver or
python3-selenium the browser tests are skipped, saying which is missing.

No sleeps: every wait is a WebDriverWait (or wait_for) on a condition.
"""

import hashlib
import importlib.util
import json
import math
import os
import re
import shutil
import tempfile
import unittest
import urllib.request

from harness import (HOST, REPO, FreshServerTestCase, PahoClient, ServerTestCase, basic_headers,
                     http_request, make_tls_certs, now_ms, run_scripts_run, thing_topic, unique,
                     wait_for)

CONSOLE = os.path.join(REPO, "console")
METRICS_TOKEN = "console-test-token"
WAIT = 15  # seconds a browser condition gets


def vendor_table():
    """The rows of console/vendor/README.md's table: {file: sha256}."""
    with open(os.path.join(CONSOLE, "vendor", "README.md"), encoding="utf-8") as f:
        text = f.read()
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


class ConsoleFilesTest(ServerTestCase):

    def get(self, path, headers=None):
        return http_request(self.server.http_port, "GET", path, headers=headers)

    def test_root_leads_to_the_console(self):
        r = self.get("/")
        self.assertEqual(r.status, 302)
        self.assertEqual(r.headers["location"], "/console/")
        r = self.get("/console")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.headers["location"], "/console/")

    def test_every_file_as_committed_with_its_headers(self):
        types = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
                 ".md": "text/plain; charset=utf-8", ".LICENSE": "text/plain; charset=utf-8"}
        seen = 0
        for base, _, files in os.walk(CONSOLE):
            for name in files:
                rel = os.path.relpath(os.path.join(base, name), CONSOLE)
                with self.subTest(file=rel):
                    with open(os.path.join(CONSOLE, rel), "rb") as f:
                        want = f.read()
                    r = self.get(f"/console/{rel}", {"Host": f"{HOST}:{self.server.http_port}"})
                    self.assertEqual(r.status, 200)
                    self.assertEqual(r.body, want, "served byte for byte")
                    self.assertEqual(r.headers["content-type"], types[os.path.splitext(name)[1]])
                    self.assertEqual(r.headers["x-content-type-options"], "nosniff")
                    csp = r.headers["content-security-policy"]
                    self.assertIn("default-src 'self'", csp)
                    self.assertIn("frame-ancestors 'none'", csp)
                    self.assertIn(f"connect-src 'self' ws://{HOST}:{self.server.http_port} "
                                  f"wss://{HOST}:{self.server.http_port};", csp)
                    self.assertNotIn("unsafe", csp)
                    self.assertEqual(r.headers["etag"], f'"{hashlib.sha256(want).hexdigest()}"')
                    again = self.get(f"/console/{rel}", {"If-None-Match": r.headers["etag"]})
                    self.assertEqual(again.status, 304)
                    seen += 1
        self.assertGreater(seen, 10)
        self.assertEqual(self.get("/console/").body, self.get("/console/index.html").body)

    def test_no_path_reaches_outside(self):
        for path in ("/console/../README.md", "/console/%2e%2e/README.md", "/console/nothing",
                     "/console/vendor/", "/console//index.html", "/console/vendor/%2e%2e/app.js"):
            with self.subTest(path=path):
                r = self.get(path)
                self.assertEqual(r.status, 404, r.text)
                self.assertIn("content-security-policy", r.headers)

    def test_vendor_files_are_the_pinned_upstream_files(self):
        table = vendor_table()
        self.assertEqual(set(table), {"uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE",
                                      "mqtt.min.js", "mqtt.LICENSE.md"})
        on_disk = set(os.listdir(os.path.join(CONSOLE, "vendor"))) - {"README.md"}
        self.assertEqual(on_disk, set(table), "every vendor file is listed, and only those")
        for name, sha in table.items():
            with self.subTest(file=name):
                with open(os.path.join(CONSOLE, "vendor", name), "rb") as f:
                    self.assertEqual(hashlib.sha256(f.read()).hexdigest(), sha)
                served = self.get(f"/console/vendor/{name}")
                self.assertEqual(hashlib.sha256(served.body).hexdigest(), sha)

    def test_the_page_has_no_inline_code(self):
        page = self.get("/console/").text
        self.assertNotRegex(page, r"<style", "no inline style element")
        self.assertNotRegex(page, r"\sstyle\s*=", "no style attribute")
        self.assertNotRegex(page, r"\son[a-z]+\s*=", "no inline event handler")
        for m in re.finditer(r"<script([^>]*)>(.*?)</script>", page, re.S):
            self.assertIn("src=", m.group(1))
            self.assertEqual(m.group(2).strip(), "", "no inline script")


class ScriptsRunConsoleTest(unittest.TestCase):
    """`scripts/run` prints the console's address with the demo account's sign-in, and both
    work as printed."""

    def test_banner_names_the_console_and_its_sign_in(self):
        run = run_scripts_run(self, ["--mqtt", f"{HOST}:0", "--http", f"{HOST}:0"])
        data, lines = run.data, run.lines
        wait_for(lambda: any("sign in with" in line for line in lines), timeout=120,
                 what="the console's lines in the banner")
        text = "".join(lines)
        url = re.search(r"^  (http://localhost:(\d+)/console/)$", text, re.M)
        self.assertIsNotNone(url, text)
        sign_in = re.search(r"^  sign in with (\S+) and password (\S+)$", text, re.M)
        self.assertIsNotNone(sign_in, text)
        with open(os.path.join(data, "demo-credentials.json"), encoding="utf-8") as f:
            demo = json.load(f)
        self.assertEqual(sign_in.groups(), (demo["email"], demo["password"]))
        with urllib.request.urlopen(url.group(1), timeout=10) as r:
            self.assertEqual(r.status, 200)
            self.assertIn(b"<title>plugmq console</title>", r.read())
        devices = http_request(int(url.group(2)), "GET", "/iot/device",
                               headers=basic_headers({"email": demo["email"],
                                                      "password": demo["password"]}))
        self.assertEqual(devices.status, 200, devices.text)
        self.assertEqual([d["name"] for d in devices.json()], ["demo-device"])


# ------------------------------------------------------------------------------------------------
# The browser


def browser_missing():
    """Why the browser tests cannot run here, or ''."""
    missing = [what for what, ok in (("chromium", shutil.which("chromium")),
                                     ("chromedriver (chromium-driver)", shutil.which("chromedriver")))
               if not ok]
    if importlib.util.find_spec("selenium") is None:
        missing.append("selenium (python3-selenium)")
    if missing:
        return ("skipped: the browser tests need " + ", ".join(missing) +
                " (apt-get install chromium chromium-driver python3-selenium; scripts/test does)")
    return ""


def start_browser(profile_dir, insecure_tls=False):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    opts = Options()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", f"--user-data-dir={profile_dir}", "--window-size=1280,900",
                "--no-first-run", "--no-default-browser-check", "--disable-gpu",
                "--disable-dev-shm-usage", "--disable-extensions", "--lang=en-US"):
        opts.add_argument(arg)
    if os.geteuid() == 0:
        opts.add_argument("--no-sandbox")  # Chromium's sandbox refuses to run as root
    if insecure_tls:
        opts.add_argument("--ignore-certificate-errors")  # the test's own CA
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")),
                            options=opts)


class BrowserMixin:
    """A browser for the class (temporary profile), its log kept across reads, screenshots."""

    driver = None
    scheme = "http"
    insecure_tls = False

    @classmethod
    def start_browser(cls):
        why = browser_missing()
        if why:
            raise unittest.SkipTest(why)
        cls.browser_dir = tempfile.mkdtemp(prefix="plugmq-chromium-")
        cls.shots = os.path.join(cls.browser_dir, "screenshots")
        os.makedirs(cls.shots)
        cls.driver = start_browser(os.path.join(cls.browser_dir, "profile"), cls.insecure_tls)
        cls.driver.set_page_load_timeout(30)
        cls.log = []

    @classmethod
    def stop_browser(cls):
        if cls.driver is not None:
            cls.driver.quit()
            cls.driver = None
        if getattr(cls, "browser_dir", None):
            if os.environ.get("PLUGMQ_E2E_KEEP"):
                print(f"[console] keeping {cls.browser_dir}")
            else:
                shutil.rmtree(cls.browser_dir, ignore_errors=True)

    # -- the page --------------------------------------------------------------------------------
    def base(self):
        return f"{self.scheme}://{HOST}:{self.web_port()}"

    def web_port(self):
        return self.server.https_port if self.scheme == "https" else self.server.http_port

    def wait(self, condition, what, timeout=WAIT):
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait
        try:
            # An element read while the page redraws it is stale: that poll counts as false.
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=[StaleElementReferenceException]).until(
                lambda d: condition())
        except Exception as e:
            self.screenshot(f"failed-{unique('wait')}")
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                 f"browser log: {self.browser_log()[-5:]}") from e

    def find(self, css):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        """The element's text, or None while there is none (a page being redrawn)."""
        from selenium.common.exceptions import StaleElementReferenceException
        try:
            found = self.finds(css)
            return found[0].text if found else None
        except StaleElementReferenceException:
            return None

    def attr(self, css, name):
        from selenium.common.exceptions import StaleElementReferenceException
        try:
            found = self.finds(css)
            return found[0].get_attribute(name) if found else None
        except StaleElementReferenceException:
            return None

    def fill(self, css, value):
        e = self.find(css)
        e.clear()
        e.send_keys(value)

    def go(self, hash_path):
        """Another view of the page already loaded (the credentials stay in its memory)."""
        self.driver.execute_script("location.hash = arguments[0]", hash_path)
        view = hash_path.split("/")[1].split("?")[0]
        self.wait(lambda: self.attr("#view", "data-view") == view and not self.finds("#signin:not([hidden])"),
                  f"the {view} view")

    def sign_in(self, email, password):
        """Loads the console afresh (signed out) and signs in."""
        self.driver.get(f"{self.base()}/")
        self.wait(lambda: self.finds("#signin-email") and self.find("#signin-email").is_displayed(),
                  "the sign-in form")
        self.assertTrue(self.driver.current_url.endswith("/console/"), self.driver.current_url)
        self.fill("#signin-email", email)
        self.fill("#signin-password", password)
        self.find("#signin-submit").click()
        self.wait(lambda: self.finds("#devices-table tr[data-id]") or
                  self.text("#view p.muted") == "No devices yet.", "the devices after signing in")

    def wait_mqtt(self):
        self.wait(lambda: self.attr("#mqtt-state", "data-state") == "connected",
                  "MQTT over WebSocket connected")

    def browser_log(self):
        """Every browser log entry so far (reading it empties Chrome's buffer: kept here)."""
        type(self).log.extend(self.driver.get_log("browser"))
        return type(self).log

    def csp_violations(self, since=0):
        return [e["message"] for e in self.browser_log()[since:]
                if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]

    def screenshot(self, name, width=None, height=None):
        if width:
            self.driver.set_window_size(width, height)
        path = os.path.join(self.shots, f"{name}.png")
        self.driver.save_screenshot(path)
        out = os.environ.get("PLUGMQ_ARTIFACTS")
        if out:
            os.makedirs(out, exist_ok=True)
            shutil.copy(path, os.path.join(out, f"console-{name}.png"))
        return path

    # -- MQTT from the test's side ------------------------------------------------------------
    def publish_until(self, client, topic, seen, what, numbers=True):
        """Publishes a fresh value on `topic` at each poll until `seen(value)` (what the page
        shows) is true for one of them: the page's subscription may not be active yet when the
        first goes out. Returns the value the page showed."""
        sent = []

        def step():
            # Never a whole number: JSON.stringify(21.0) is "21", json.dumps(21.0) "21.0".
            value = 21.125 + len(sent) * 0.25 if numbers else unique("v")
            client.publish(topic, json.dumps(value))
            sent.append(value)
            return next((v for v in sent if seen(v)), None)

        return self.wait(step, what)


@unittest.skipIf(browser_missing(), browser_missing())
class ConsoleBrowserTest(BrowserMixin, ServerTestCase):
    server_config = {"metrics": {"token": METRICS_TOKEN}}

    @classmethod
    def setUpServer(cls):
        # Retention 0 (forever): the records dated in the past stay.
        cls.acct = cls.server.make_account(email=f"{unique('demo')}@example.com", retention_days=0)
        cls.dev = cls.server.make_prototype(cls.acct["email"], "demo-device")
        cls.start_browser()

    @classmethod
    def tearDownClass(cls):
        cls.stop_browser()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.sign_in(self.acct["email"], self.acct["password"])

    def device_online(self):
        return self.attr(f'#devices-table tr[data-id="{self.dev["id"]}"]', "data-online")

    def test_a_device_comes_online_and_its_data_shows_live_and_on_the_chart(self):
        self.assertEqual(self.device_online(), "no")
        self.screenshot("signed-in")
        paho = PahoClient(self.port, self.dev["id"], self.dev["auth"], client_id="SN-DEMO/kitchen")
        self.addCleanup(paho.close)
        self.assertEqual(paho.connect(), 0)
        self.wait(lambda: self.device_online() == "yes", "the demo device listed online")
        self.assertEqual(self.text(f'#devices-table tr[data-id="{self.dev["id"]}"] .last-seen'), "now")
        self.screenshot("devices-online")

        # The live view: every data channel of the account, over MQTT.js.
        self.go("#/live")
        self.wait_mqtt()
        topic = f"{self.dev['id']}/data/temperature"
        live_rows = '#live-table tbody tr[data-channel="temperature"] td.value'
        first = self.publish_until(paho, topic, lambda v: any(e.text == json.dumps(v)
                                                              for e in self.finds(live_rows)),
                                   "a value published by paho in the live view")
        paho.publish(topic, "22.5", qos=1)
        self.wait(lambda: self.text(live_rows) == "22.5", "22.5 on top of the live view")
        self.assertIn("demo-device", self.text("#live-table tbody tr td:nth-child(2)"))
        self.screenshot("live")

        # The chart: the channel's history (an hour of it, stored over HTTP), then what comes
        # live.
        start = now_ms() - 3_600_000
        history = [{"data": round(21 + 2 * math.sin(i / 6) + (i % 5) * 0.1, 2),
                    "at": start + i * 60_000, "of": self.dev["id"]} for i in range(59)]
        r = http_request(self.server.http_port, "PUT", "/iot/data/temperature", history,
                         basic_headers(self.acct))
        self.assertEqual(r.status, 200, r.text)
        self.go(f"#/chart?of={self.dev['id']}&channel=temperature")
        self.wait(lambda: self.attr("#chart", "data-last") == "22.5", "the history on the chart")
        self.assertGreaterEqual(int(self.attr("#chart", "data-points")), 59 + 2, first)
        self.assertTrue(self.finds("#chart canvas"), "uPlot drew a canvas")
        points = int(self.attr("#chart", "data-points"))
        last = self.publish_until(paho, topic, lambda v: self.attr("#chart", "data-last") == str(v),
                                  "a live value on the chart")
        self.assertEqual(self.text("#chart-latest"), str(last))
        self.assertGreater(int(self.attr("#chart", "data-points")), points)
        self.screenshot("chart")

        paho.close()
        self.go("#/devices")
        self.wait(lambda: self.device_online() == "no", "the demo device listed offline")

    def test_edit_a_property_and_the_settings(self):
        self.go(f"#/devices/{self.dev['id']}")
        self.wait(lambda: self.finds("#prop-form"), "the device page")
        self.fill("#prop-name", "room")
        self.fill("#prop-value", '"kitchen"')
        self.find("#prop-save").click()
        self.wait(lambda: self.text('#props-table tr[data-prop="room"] td.value') == '"kitchen"',
                  "the property listed")
        r = http_request(self.server.http_port, "GET", f"/iot/device/{self.dev['id']}/room",
                         headers=basic_headers(self.acct))
        self.assertEqual(r.json(), "kitchen")
        # Text that is not JSON is taken as text; a link reads the channel's last value.
        self.fill("#prop-name", "source")
        self.fill("#prop-value", '{"channel":"temperature"}')
        self.find("#prop-save").click()
        self.wait(lambda: self.finds('#props-table tr[data-prop="source"]'), "the link listed")
        # Delete one.
        self.find('#props-table tr[data-prop="source"] button.danger').click()
        self.wait(lambda: not self.finds('#props-table tr[data-prop="source"]'), "the link deleted")

        # Settings: name, read permission, controllers.
        self.fill("#dev-name", "kitchen-sensor")
        from selenium.webdriver.support.ui import Select
        Select(self.find("#perm-r-mode")).select_by_value("none")
        Select(self.find("#perm-ctrl")).select_by_value("r")
        self.find("#dev-save").click()
        self.wait(lambda: self.text("#device-title") == "kitchen-sensor", "the new name")
        info = http_request(self.server.http_port, "GET", f"/iot/device/{self.dev['id']}",
                            headers=basic_headers(self.acct)).json()
        self.assertEqual(info["name"], "kitchen-sensor")
        self.assertEqual(info["perm"], {"of": {"r": [], "w": None}, "ctrl": "r"})
        self.screenshot("device")
        # Back as it was, for the other tests.
        r = http_request(self.server.http_port, "PATCH", f"/iot/device/{self.dev['id']}",
                         {"name": "demo-device", "perm": {"of": {"r": None}, "ctrl": "rw"}},
                         basic_headers(self.acct))
        self.assertEqual(r.status, 200, r.text)

    def test_create_a_template_and_register_serials(self):
        self.go("#/templates")
        name = unique("thermostat")
        self.fill("#template-name", name)
        self.find("#template-add").click()
        self.wait(lambda: self.finds("#serial-form"), "the new template's page")
        model = self.driver.current_url.rsplit("/", 1)[1]
        self.assertRegex(model, r"^mod-[0-9a-f]{24}$")
        self.fill("#serial-hwid", "SN-0001")
        self.fill("#serial-enroll", "factory1")
        self.fill("#serial-control", "owner1")
        self.find("#serial-add").click()
        self.wait(lambda: self.finds('#serials-table tr[data-hwid="SN-0001"]'), "the serial listed")
        self.fill("#csv-text", "hwid,enroll_pass\nSN-0002,factory2\nSN-0003,factory3\n")
        self.find("#csv-import").click()
        self.wait(lambda: len(self.finds("#serials-table tr[data-hwid]")) == 3, "the CSV's serials")
        self.assertEqual(self.text("#csv-note"), "Registered 2 serials.")
        # A bad file is refused whole, its line named.
        self.fill("#csv-text", "SN-0004,factory4\nSN-0005,abc\n")
        self.find("#csv-import").click()
        self.wait(lambda: (self.text("#csv-note") or "").startswith("CSV line 2:"), "the refusal")
        self.assertEqual(len(self.finds("#serials-table tr[data-hwid]")), 3)
        listed = self.server.cli("serial", "list", model)
        self.assertEqual([(s["hwid"], s["control"]) for s in listed],
                         [("SN-0001", True), ("SN-0002", False), ("SN-0003", False)])
        # The thing enrolls with it, and the page names it.
        thing = self.assert_enroll_ok("SN-0001/porch", thing_topic(model, "factory1"))
        self.go("#/templates")
        self.go(f"#/templates/{model}")
        self.wait(lambda: self.text('#serials-table tr[data-hwid="SN-0001"] td:nth-child(3)') == "porch",
                  "the enrolled thing named")
        self.screenshot("template")
        self.server.cli("device", "delete", thing["id"])

    def test_records_page_by_page(self):
        channel = unique("hist")
        records = [{"data": i, "at": 1_700_000_000_000 + i * 1000, "of": self.dev["id"]}
                   for i in range(25)]
        r = http_request(self.server.http_port, "PUT", f"/iot/data/{channel}", records,
                         basic_headers(self.acct))
        self.assertEqual(r.status, 200, r.text)
        self.go(f"#/records?mask={channel}")
        from selenium.webdriver.support.ui import Select
        Select(self.find("#records-limit")).select_by_value("20")
        values = lambda: [e.text for e in self.finds("#records-table tbody td.value")]
        self.wait(lambda: values() == [str(i) for i in range(24, 4, -1)], "the newest 20")
        self.find("#records-older").click()
        self.wait(lambda: values() == [str(i) for i in range(4, -1, -1)], "the 5 oldest")
        self.assertFalse(self.find("#records-older").is_enabled())
        self.find("#records-newer").click()
        self.wait(lambda: values() == [str(i) for i in range(24, 4, -1)], "the newest 20 again")
        self.screenshot("records")

    def test_a_persistent_session_deleted(self):
        cid = unique("persist")
        c = PahoClient(self.port, self.dev["id"], self.dev["auth"], client_id=cid, clean_session=False)
        self.assertEqual(c.connect(), 0)
        self.assertEqual(c.subscribe(f"{self.dev['id']}/data/#", qos=1), (1,))
        c.close()
        row = f'#sessions-table tr[data-client="{cid}"]'

        def listed_offline():
            # The list is read when the view opens: open it again until the session shows.
            self.go("#/devices")
            self.go("#/sessions")
            return self.finds(f"{row} button.danger") and self.find(f"{row} button.danger").is_enabled()
        wait_for(listed_offline, what="the session listed offline")
        self.assertIn("(QoS 1)", self.text(f"{row} td:nth-child(4)"))
        self.screenshot("sessions")
        self.find(f"{row} button.danger").click()
        self.wait(lambda: not self.finds(row), "the session gone from the list")
        self.assertNotIn(cid, [s["client_id"] for s in self.server.cli("session", "list")])

    def test_broker_figures_need_the_metrics_token(self):
        self.go("#/broker")
        # This server has a metrics.token: without it the page says so.
        self.wait(lambda: self.finds("#metrics-refused"), "the note on the refusal")
        self.assertIn("401", self.text("#metrics-refused"))
        self.fill("#metrics-token", "not-it")
        self.find("#metrics-use").click()
        self.wait(lambda: "wrong metrics token" in (self.text("#metrics-refused") or ""), "the 403")
        self.fill("#metrics-token", METRICS_TOKEN)
        self.find("#metrics-use").click()
        self.wait(lambda: self.finds('#metrics dd[data-metric="received"]'), "the figures")
        self.assertFalse(self.finds("#metrics-refused"))
        self.assertRegex(self.text('#metrics dd[data-metric="connections-http"]'), r"^\d+$")
        self.screenshot("broker")

    def test_every_view_loads_without_a_csp_violation(self):
        mark = len(self.browser_log())
        self.sign_in(self.acct["email"], self.acct["password"])  # the page's whole life
        for view in ("#/devices", f"#/devices/{self.dev['id']}", "#/templates", "#/live",
                     f"#/chart?of={self.dev['id']}", "#/records", "#/sessions", "#/broker"):
            self.go(view)
        self.wait_mqtt()
        self.assertEqual(self.csp_violations(mark), [])
        severe = [e["message"] for e in self.browser_log()[mark:] if e["level"] == "SEVERE"]
        # /metrics refuses without the token (this server has one): the page's own fetch error.
        self.assertEqual([m for m in severe if "/metrics" not in m], [])
        # The check does see a violation: an inline script added now is refused and logged.
        self.driver.execute_script(
            "const s = document.createElement('script'); s.textContent = 'window.x = 1';"
            "document.body.append(s);")
        self.wait(lambda: self.csp_violations(mark), "the CSP violation of an inline script")
        self.assertIsNone(self.driver.execute_script("return window.x"))

    def test_wrong_password_and_phone_layout(self):
        self.driver.get(f"{self.base()}/console/")
        self.wait(lambda: self.find("#signin-email").is_displayed(), "the sign-in form")
        self.fill("#signin-email", self.acct["email"])
        self.fill("#signin-password", "wrong-password")
        self.find("#signin-submit").click()
        self.wait(lambda: self.text("#signin-error") == "Wrong email or password.", "the refusal")
        self.assertEqual(self.driver.execute_script(
            "return [localStorage.length, sessionStorage.length, document.cookie]"), [0, 0, ""])
        # A phone: the same page, nothing wider than the screen.
        self.driver.set_window_size(390, 844)
        try:
            self.sign_in(self.acct["email"], self.acct["password"])
            self.assertEqual(self.driver.execute_script(
                "return [localStorage.length, sessionStorage.length, document.cookie]"), [0, 0, ""],
                "the password is kept in memory only")
            self.assertLessEqual(self.driver.execute_script(
                "return document.documentElement.scrollWidth"),
                self.driver.execute_script("return window.innerWidth"))
            self.assertTrue(self.find('#nav a[data-view="live"]').is_displayed())
            self.screenshot("phone")
        finally:
            self.driver.set_window_size(1280, 900)


@unittest.skipIf(browser_missing(), browser_missing())
class ConsoleHttpsTest(BrowserMixin, FreshServerTestCase):
    """The console over https: the page, the API and MQTT over wss on the https listener."""

    scheme = "https"
    insecure_tls = True  # the browser does not know the test's CA

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_browser()
        cls.certs = make_tls_certs(cls.browser_dir)
        cls.server_args = ("--tls-cert", cls.certs["cert"], "--tls-key", cls.certs["key"])

    @classmethod
    def tearDownClass(cls):
        cls.stop_browser()
        super().tearDownClass()

    def test_sign_in_and_live_data_over_https(self):
        self.assertIsNotNone(self.server.https_port)
        acct = self.server.make_account()
        dev = self.server.make_prototype(acct["email"], "tls-device")
        r = http_request(self.server.https_port, "GET", "/console/", tls_ca=self.certs["ca"],
                         headers={"Host": f"localhost:{self.server.https_port}"})
        self.assertEqual(r.status, 200)
        self.assertIn(f"wss://localhost:{self.server.https_port}", r.headers["content-security-policy"])
        self.sign_in(acct["email"], acct["password"])
        self.assertTrue(self.driver.current_url.startswith("https://"))
        self.assertEqual(self.driver.execute_script("return window.isSecureContext"), True)
        self.go("#/live")
        self.wait_mqtt()
        paho = PahoClient(self.port, dev["id"], dev["auth"])
        self.addCleanup(paho.close)
        self.assertEqual(paho.connect(), 0)
        self.publish_until(paho, f"{dev['id']}/data/t",
                           lambda v: any(e.text == json.dumps(v)
                                         for e in self.finds("#live-table tbody td.value")),
                           "a value in the live view over wss")
        self.assertEqual(self.csp_violations(), [])
        self.screenshot("https-live")


if __name__ == "__main__":
    unittest.main()
