"""A page using MQTT.js in headless Chromium against tether serve's MQTT over WebSockets.

Driven by crates/cli/tests/e2e/websockets.rs:

    python browser_page.py PAGE_URL DATA_DIR -- PUBLISH_COMMAND...

Starts chromedriver (port chosen by itself, read from its first lines) and, through its W3C
WebDriver HTTP API, a headless Chromium with a fresh profile that accepts exactly tether's two
server keys (--ignore-certificate-errors-spki-list, computed from DATA_DIR/server/*.pem: the
browser has no way to be given a CA file). It opens PAGE_URL (docs/examples/browser/index.html,
which presigns the URL with WebCrypto, connects MQTT.js over wss and subscribes), waits for the
page to say "subscribed", runs PUBLISH_COMMAND, and waits for the page to show the message.
Prints one line per check; exits non-zero on the first failure. Every process it started is
stopped before it exits.
"""

import base64
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TIMEOUT = 20
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok: {what}", flush=True)


def spki_hash(pem_path):
    """base64(sha256(SubjectPublicKeyInfo DER)) of a certificate, as Chromium names keys."""
    der = subprocess.run(
        ["openssl", "x509", "-in", str(pem_path), "-noout", "-pubkey"], check=True, capture_output=True
    ).stdout
    spki = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"], input=der, check=True, capture_output=True
    ).stdout
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def call(port, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return json.loads(response.read())["value"]


def start_chromedriver():
    driver = subprocess.Popen(
        ["chromedriver", "--port=0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        line = driver.stdout.readline()
        found = re.search(r"started successfully on port (\d+)", line)
        if found:
            return driver, int(found.group(1))
        if not line and driver.poll() is not None:
            break
    driver.kill()
    raise AssertionError("chromedriver did not report its port")


def text_of(port, session, element_id):
    script = {"script": f"return document.getElementById('{element_id}').textContent", "args": []}
    return call(port, "POST", f"/session/{session}/execute/sync", script)


def wait_for(port, session, element_id, predicate, what):
    deadline = time.monotonic() + TIMEOUT
    text = None
    while time.monotonic() < deadline:
        text = text_of(port, session, element_id)
        if predicate(text):
            check(True, f"{what}: {text!r}")
            return text
        time.sleep(0.1)
    raise AssertionError(f"{what}: the page shows {element_id} = {text!r}")


def main():
    separator = sys.argv.index("--")
    page_url, data_dir = sys.argv[1:separator]
    publish = sys.argv[separator + 1 :]
    keys = ",".join(spki_hash(p) for p in sorted(Path(data_dir, "server").glob("server-*.pem")))
    driver, port = start_chromedriver()
    session = None
    try:
        with tempfile.TemporaryDirectory(prefix="tether-chromium-") as profile:
            capabilities = {
                "capabilities": {
                    "alwaysMatch": {
                        "browserName": "chrome",
                        "goog:chromeOptions": {
                            "binary": "/usr/bin/chromium",
                            "args": CHROMIUM_FLAGS
                            + [f"--user-data-dir={profile}", f"--ignore-certificate-errors-spki-list={keys}"],
                        },
                    }
                }
            }
            session = call(port, "POST", "/session", capabilities)["sessionId"]
            check(True, "headless Chromium started")
            call(port, "POST", f"/session/{session}/url", {"url": page_url})
            wait_for(port, session, "status", lambda t: t == "subscribed" or t.startswith("error"), "the page's status")
            check(text_of(port, session, "status") == "subscribed", "MQTT.js connected over wss and subscribed")
            published = subprocess.run(publish, capture_output=True, text=True, timeout=TIMEOUT)
            check(published.returncode == 0, f"published ({published.stderr.strip()})")
            wait_for(port, session, "received", lambda t: bool(t), "the page shows the message")
            call(port, "DELETE", f"/session/{session}")
            session = None
    finally:
        if session is not None:
            try:
                call(port, "DELETE", f"/session/{session}")
            except Exception:  # the browser may already be gone; chromedriver goes next anyway
                pass
        driver.terminate()
        driver.wait(TIMEOUT)
    print(f"{checks} checks passed", flush=True)


if __name__ == "__main__":
    main()
