"""The web console in headless Chromium against a running tether serve, as a person would use it.

Driven by crates/cli/tests/e2e/console.rs:

    python console_page.py CONSOLE_URL DATA_DIR MQTTS_PORT SCREENSHOT_DIR

Uses browser_page.py's chromedriver client (W3C WebDriver over HTTP; Chromium trusts tether's
server keys by their SPKI hashes, for the --wss test client). With the demo device's files from
DATA_DIR it runs real device clients (mosquitto_sub and mosquitto_pub over mutual TLS on
MQTTS_PORT) and checks, through what the page shows:

  1. the console opens on loopback without a login, and its event stream is live;
  2. the demo device connects and the sessions page shows it, with its TLS version;
  3. the things page finds it; on its page a desired state typed into the shadow editor is
     sent, the page shows the delta, and the device receives it on update/delta;
  4. the MQTT test client subscribes over WebSockets and over server-sent events and shows what
     a device publishes; what it publishes reaches mosquitto_sub;
  5. the policy evaluator says the demo device may connect;
  6. revoking the demo certificate (after the confirmation dialog) drops the device, and the
     refusal of its next connection is listed with the doctor's explanation.

Saves a PNG of each page in SCREENSHOT_DIR. Prints one line per check; exits non-zero on the
first failure. Every process it started is stopped before it exits.
"""

import base64
import queue
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import browser_page as wd  # noqa: E402  (the shared chromedriver client)

TIMEOUT = 20
W3C_ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class Page:
    """One WebDriver session on the console."""

    def __init__(self, port, session, shots):
        self.port = port
        self.session = session
        self.shots = shots

    def call(self, method, path, body=None):
        try:
            return wd.call(self.port, method, f"/session/{self.session}{path}", body)
        except urllib.error.HTTPError as e:
            raise AssertionError(f"WebDriver {method} {path}: {e.read().decode(errors='replace')[:600]}") from None

    def js(self, script, *args):
        return self.call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait(self, script, what, *args):
        """Waits until `script` returns something truthy; checks it and returns it."""
        deadline = time.monotonic() + TIMEOUT
        value = None
        while time.monotonic() < deadline:
            value = self.js(script, *args)
            if value:
                wd.check(True, f"{what}: {value!r}"[:300])
                return value
            time.sleep(0.1)
        status = self.js("return document.getElementById('status').textContent")
        raise AssertionError(f"{what}: not seen within {TIMEOUT} s (status line: {status!r})")

    def go(self, route):
        self.js("location.hash = arguments[0]", route)

    def element(self, css):
        """The element `css` selects, once the page has rendered it."""
        self.wait(f"return document.querySelector({css!r}) !== null", f"{css} is shown")
        found = self.call("POST", "/element", {"using": "css selector", "value": css})
        if W3C_ELEMENT not in found:
            raise AssertionError(f"chromedriver found no element {css}: {found!r}")
        return found[W3C_ELEMENT]

    def click(self, css):
        # A list the server's events refresh may replace the element between finding and
        # clicking it: then it is found again.
        for attempt in range(5):
            element = self.element(css)
            try:
                # WebDriver would scroll it just into view, where the fixed status line may
                # cover it; a person scrolls it to the middle.
                self.js("arguments[0].scrollIntoView({block: 'center'})", {W3C_ELEMENT: element})
                self.call("POST", f"/element/{element}/click", {})
                return
            except AssertionError as e:
                if "stale element" not in str(e) or attempt == 4:
                    raise

    def type(self, css, text):
        element = self.element(css)
        self.call("POST", f"/element/{element}/clear", {})
        self.call("POST", f"/element/{element}/value", {"text": text})

    def screenshot(self, name):
        png = base64.b64decode(self.call("GET", "/screenshot"))
        path = Path(self.shots, f"{name}.png")
        path.write_bytes(png)
        wd.check(png.startswith(b"\x89PNG"), f"screenshot {path}")


class Device:
    """A mosquitto client whose output lines are read without blocking."""

    def __init__(self, args):
        # stdbuf: mosquitto_sub's stdout is a pipe here, which it would buffer to the end.
        self.process = subprocess.Popen(["stdbuf", "-oL", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.seen = []

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_line(self, predicate, what):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if predicate(line):
                wd.check(True, f"{what}: {line!r}"[:300])
                return line
        raise AssertionError(f"{what}: not seen within {TIMEOUT} s; the client printed {self.seen!r}")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(TIMEOUT)


def main():
    console_url, data_dir, mqtts_port, shots = sys.argv[1:5]
    demo = Path(data_dir, "devices", "demo-device")
    tls = [
        "--cafile", str(demo / "root-ca.pem"),
        "--cert", str(demo / "certificate.pem.crt"),
        "--key", str(demo / "private.pem.key"),
        "-h", "localhost", "-p", mqtts_port,
    ]
    keys = ",".join(wd.spki_hash(p) for p in sorted(Path(data_dir, "server").glob("server-*.pem")))
    driver, port = wd.start_chromedriver()
    session = None
    devices = []
    try:
        with tempfile.TemporaryDirectory(prefix="tether-chromium-", ignore_cleanup_errors=True) as profile:
            capabilities = {
                "capabilities": {
                    "alwaysMatch": {
                        "browserName": "chrome",
                        "goog:chromeOptions": {
                            "binary": "/usr/bin/chromium",
                            "args": wd.CHROMIUM_FLAGS
                            + [
                                "--window-size=1280,1000",
                                f"--user-data-dir={profile}",
                                f"--ignore-certificate-errors-spki-list={keys}",
                            ],
                        },
                    }
                }
            }
            session = wd.call(port, "POST", "/session", capabilities)["sessionId"]
            page = Page(port, session, shots)
            wd.check(True, "headless Chromium started")

            # 1. Loopback: no login; the event stream is live.
            page.call("POST", "/url", {"url": console_url})
            page.wait("const l = document.getElementById('live'); return l && l.dataset.open === 'yes' && l.textContent",
                      "the console opened without a login and its event stream is live")

            # 2. The demo device connects; the sessions page shows it.
            page.go("#/sessions")
            page.wait("return document.getElementById('sessions-table') !== null", "the sessions page is shown")
            device = Device(["mosquitto_sub", *tls, "-i", "demo-device", "-q", "1", "-v",
                             "-t", "$aws/things/demo-device/shadow/update/delta"])
            devices.append(device)
            row = "tr[data-client-id='demo-device'][data-connected='yes']"
            page.wait(f"const r = document.querySelector(\"{row}\"); return r && r.textContent",
                      "the sessions page shows the demo device connected")
            page.wait(f"const r = document.querySelector(\"{row}\"); return r && /TLSv1\\.[23]/.test(r.textContent) && r.textContent.match(/TLSv1\\.[23]/)[0]",
                      "with its TLS version")
            page.wait(f"const r = document.querySelector(\"{row}\"); return r && r.textContent.includes('shadow/update/delta') && 'subscription listed'",
                      "with its subscription")
            page.screenshot("sessions")

            # 3. Things: search, the thing's page, the shadow editor, the delta on the device.
            page.go("#/things")
            page.type("#thing-search", "DEMO")
            page.wait("const c = document.getElementById('thing-count'); return c && c.textContent.startsWith('1 thing') && c.textContent",
                      "the search finds the demo thing")
            page.wait("const t = document.getElementById('things-table'); return t && t.textContent.includes('connected') && 'connected'",
                      "the things page says it is connected")
            page.screenshot("things")
            page.click("#things-table a")
            page.wait("return document.getElementById('shadow-form') !== null && location.hash", "the thing's page opens")
            page.wait("const a = document.querySelector('a[href=\"#/policies/tether-dev-allow-all\"]'); return a && a.textContent",
                      "its certificate's attached policy is listed")
            page.type("#shadow-desired", '{"led": "on", "rate": 5}')
            page.click("#shadow-update")
            page.wait("const d = document.getElementById('shadow-delta-view'); return d && d.textContent.includes('led') && d.textContent.replace(/\\s+/g, ' ')",
                      "the page shows the delta")
            page.wait("const v = document.getElementById('shadow-version'); return v && v.textContent", "the shadow's version")
            device.wait_line(lambda l: l.startswith("$aws/things/demo-device/shadow/update/delta") and '"led":"on"' in l,
                             "the device received the delta on update/delta")
            page.screenshot("thing")

            # 4. The MQTT test client, over WebSockets and over server-sent events.
            page.go("#/mqtt")
            page.wait("return document.getElementById('subscribe-form') !== null", "the test client page is shown")
            wd.check(page.js("return document.getElementById('transport-wss').checked"), "WebSockets is the default with --wss")
            page.type("#sub-filter", "device/#")
            page.click("#subscribe")
            page.wait("const s = document.querySelector('#subscriptions li[data-filter=\"device/#\"]'); return s && s.textContent.includes('WebSocket') && s.textContent",
                      "subscribed over WebSockets")
            published = subprocess.run(["mosquitto_pub", *tls, "-i", "demo-pub", "-q", "1", "-t", "device/temp", "-m", "21.5"],
                                       capture_output=True, text=True, timeout=TIMEOUT)
            wd.check(published.returncode == 0, f"a device published to device/temp ({published.stderr.strip()})")
            page.wait("const m = document.querySelector('#mqtt-messages li[data-topic=\"device/temp\"]'); return m && m.textContent.includes('21.5') && m.textContent",
                      "the page shows the device's message")
            listener = Device(["mosquitto_sub", *tls, "-i", "console-listener", "-q", "1", "-d", "-v", "-C", "1", "-t", "console/#"])
            devices.append(listener)
            listener.wait_line(lambda l: "SUBACK" in l, "mosquitto_sub subscribed to console/#")
            page.type("#pub-topic", "console/hello")
            page.type("#pub-payload", "hello from the console")
            page.click("#publish")
            listener.wait_line(lambda l: l == "console/hello hello from the console",
                               "mosquitto_sub received what the page published over WebSockets")
            page.click("#transport-sse")
            page.type("#sub-filter", "sse/#")
            page.click("#subscribe")
            page.wait("const s = document.querySelector('#subscriptions li[data-filter=\"sse/#\"]'); return s && s.textContent.includes('server-sent events') && s.textContent",
                      "subscribed over server-sent events")
            published = subprocess.run(["mosquitto_pub", *tls, "-i", "demo-pub", "-q", "1", "-t", "sse/temp", "-m", "22.5"],
                                       capture_output=True, text=True, timeout=TIMEOUT)
            wd.check(published.returncode == 0, "a device published to sse/temp")
            page.wait("const m = document.querySelector('#mqtt-messages li[data-topic=\"sse/temp\"]'); return m && m.textContent.includes('22.5') && m.textContent",
                      "the page shows it from the event stream")
            listener2 = Device(["mosquitto_sub", *tls, "-i", "console-listener-2", "-q", "1", "-d", "-v", "-C", "1", "-t", "console/#"])
            devices.append(listener2)
            listener2.wait_line(lambda l: "SUBACK" in l, "mosquitto_sub subscribed again")
            page.type("#pub-topic", "console/sse")
            page.type("#pub-payload", "published through iot-data")
            page.click("#publish")
            listener2.wait_line(lambda l: l == "console/sse published through iot-data",
                                "mosquitto_sub received what the page published without WebSockets")
            page.screenshot("mqtt")

            # 5. Policies: the document and the evaluator.
            page.go("#/policies/tether-dev-allow-all")
            page.wait("const d = document.getElementById('policy-document'); return d && d.textContent.includes('iot:') && 'document shown'",
                      "the policy's document is shown")
            page.type("#eval-client", "demo-device")
            page.click("#eval-run")
            page.wait("const v = document.getElementById('eval-verdict'); return v && v.textContent === 'Allowed' && document.getElementById('eval-answer').textContent",
                      "the evaluator allows the demo device to connect")
            page.screenshot("policies")

            # 6. Revoke the certificate: the device drops; the refusal is explained.
            page.go("#/certificates")
            page.wait("return document.querySelector('#certificates-table button[data-action=\"REVOKED\"]') !== null",
                      "the certificates page offers Revoke")
            page.click("#certificates-table button[data-action='REVOKED']")
            page.wait("return document.getElementById('confirm').open && document.getElementById('confirm-text').textContent",
                      "a confirmation dialog asks first")
            page.click("#confirm-ok")
            page.wait("const t = document.getElementById('certificates-table'); return t && t.textContent.includes('REVOKED') && 'REVOKED'",
                      "the certificate is REVOKED")
            page.screenshot("certificates")
            page.go("#/sessions")
            page.wait(f"return document.getElementById('sessions-table') !== null && document.querySelector(\"{row}\") === null && 'gone'",
                      "the demo device dropped off the sessions page")
            # mosquitto_sub would keep reconnecting, each attempt refused again.
            device.stop()
            refused = subprocess.run(["mosquitto_pub", *tls, "-i", "demo-device", "-q", "1", "-t", "device/temp", "-m", "x"],
                                     capture_output=True, text=True, timeout=TIMEOUT)
            wd.check(refused.returncode != 0, "the revoked certificate cannot connect again")
            page.go("#/refusals")
            item = "li.refusal[data-kind='not_active']"
            page.wait(f"const r = document.querySelector(\"{item}\"); return r && r.querySelector('.why').textContent.includes('only ACTIVE certificates connect') && r.textContent.replace(/\\s+/g, ' ')",
                      "the refusal is listed with the doctor's explanation")
            page.js("const k = document.getElementById('refusal-kind'); k.value = 'not_active'; k.dispatchEvent(new Event('change'))")
            page.wait("const k = document.getElementById('refusal-kind'); return k.value === 'not_active' && [...document.querySelectorAll('li.refusal')].every((r) => r.dataset.kind === 'not_active') && document.getElementById('refusal-count').textContent",
                      "the kind filter keeps not_active refusals only")
            page.screenshot("refusals")

            # The overview after all this: its charts have something to show.
            page.go("#/overview")
            recorded = len(Path(data_dir, "refusals.jsonl").read_text().splitlines())
            page.wait("const r = document.getElementById('stat-refusals'); return r && Number(r.textContent) === arguments[0] && r.textContent",
                      f"the overview counts the {recorded} refusals of the record in the last hour", recorded)
            page.wait("const n = document.querySelectorAll('#recent-refusals li').length; return n === Math.min(arguments[0], 5) && `${n} listed`",
                      "and lists the latest, each once", recorded)
            page.screenshot("overview")
            wd.call(port, "DELETE", f"/session/{session}")
            session = None
    finally:
        for device in devices:
            device.stop()
        if session is not None:
            try:
                wd.call(port, "DELETE", f"/session/{session}")
            except Exception:  # the browser may already be gone; chromedriver goes next anyway
                pass
        driver.terminate()
        driver.wait(TIMEOUT)
    print(f"{wd.checks} checks passed", flush=True)


if __name__ == "__main__":
    main()
