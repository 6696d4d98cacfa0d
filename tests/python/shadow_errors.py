"""Device Shadow over raw MQTT topics with paho-mqtt: every refusal AWS documents, with its code
and exact message on the request's /rejected topic, and a document that no refusal disturbs.

Driven by crates/cli/tests/e2e/shadow.rs, which starts `tether serve` and runs:

    python shadow_errors.py HOST:PORT CERT KEY CA

Exits non-zero on the first failed check; prints one line per check.
"""

import json
import queue
import ssl
import sys

import paho.mqtt.client as mqtt

TIMEOUT = 10
THING = "errors-lamp"
PREFIX = f"$aws/things/{THING}/shadow"
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok: {what}", flush=True)


def main():
    address, cert, key, ca = sys.argv[1:5]
    host, port = address.rsplit(":", 1)
    inbox = queue.Queue()
    subscribed = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="shadow-errors", protocol=mqtt.MQTTv311)
    client.tls_set(ca_certs=ca, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
    client.on_message = lambda c, u, m: inbox.put((m.topic, m.payload))
    client.on_subscribe = lambda c, u, mid, codes, props: subscribed.put(codes)
    client.connect(host, int(port), keepalive=30)
    client.loop_start()
    client.subscribe([(f"{PREFIX}/update/accepted", 1), (f"{PREFIX}/update/rejected", 1)])
    subscribed.get(timeout=TIMEOUT)
    client.subscribe([(f"{PREFIX}/get/+", 1), (f"{PREFIX}/delete/+", 1)])
    subscribed.get(timeout=TIMEOUT)

    def request(operation, payload):
        client.publish(f"{PREFIX}/{operation}", payload, qos=1)
        while True:
            topic, body = inbox.get(timeout=TIMEOUT)
            if topic in (f"{PREFIX}/{operation}/accepted", f"{PREFIX}/{operation}/rejected"):
                return topic.rsplit("/", 1)[1], json.loads(body)

    def refused(operation, payload, code, message, what):
        outcome, body = request(operation, payload)
        check(outcome == "rejected", f"{what}: rejected (got {outcome} {body})")
        check(body.get("code") == code, f"{what}: code {code} (got {body.get('code')})")
        check(body.get("message") == message, f"{what}: {message!r} (got {body.get('message')!r})")
        if code not in (404, 409):
            # AWS leaves the timestamp out of its 404 and 409 documents (its own examples).
            check(isinstance(body.get("timestamp"), int), f"{what}: a timestamp in seconds")
        return body

    refused("get", b"", 404, f"No shadow exists with name: '{THING}'", "get before any update")
    refused("delete", b"", 404, f"No shadow exists with name: '{THING}'", "delete before any update")

    outcome, body = request("update", json.dumps({"state": {"reported": {"on": True}}, "clientToken": "t1"}))
    check(outcome == "accepted" and body["version"] == 1, "a valid update is accepted")
    check(body["clientToken"] == "t1", "the client token is echoed")

    refused("update", b"not json", 400, "Invalid JSON", "invalid JSON")
    refused("update", b"{}", 400, "Missing required node: state", "no state")
    refused("update", b'{"state": 1}', 400, "State node must be an object", "state not an object")
    refused("update", b'{"state": {"desired": 5}}', 400, "Desired node must be an object", "desired not an object")
    refused("update", b'{"state": {"reported": []}}', 400, "Reported node must be an object", "reported not an object")
    refused(
        "update",
        b'{"state": {"delta": {"a": 1}}}',
        400,
        "State contains an invalid node: 'delta'",
        "delta in a request",
    )
    refused("update", b'{"state": {"reported": {"a": 1}}, "version": "x"}', 400, "Invalid version", "a version that is not a number")
    token = "x" * 65
    body = refused(
        "update",
        json.dumps({"state": {"reported": {"a": 1}}, "clientToken": token}).encode(),
        400,
        "Invalid clientToken",
        "a client token over 64 bytes",
    )
    check("clientToken" not in body, "a token that is itself the fault is not echoed")
    deep = {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}
    refused(
        "update",
        json.dumps({"state": {"reported": deep}}).encode(),
        400,
        "JSON contains too many levels of nesting; maximum is 6",
        "nesting deeper than 6",
    )
    refused("update", b"\xff\xfe\x00", 415, "Unsupported documented encoding; supported encoding is UTF-8", "a payload that is not UTF-8")
    big = {"state": {"reported": {"blob": "x" * 9000}}}
    refused("update", json.dumps(big).encode(), 413, "The payload exceeds the maximum size allowed", "a document over 8 KB")
    body = refused(
        "update",
        json.dumps({"state": {"reported": {"a": 1}}, "version": 7, "clientToken": "t9"}).encode(),
        409,
        "Version conflict",
        "a stale version",
    )
    check(body.get("clientToken") == "t9", "a refusal echoes a valid client token")

    outcome, body = request("get", json.dumps({"clientToken": "g1"}))
    check(outcome == "accepted", "get after the refusals")
    check(body["state"] == {"reported": {"on": True}}, f"no refusal changed the document: {body['state']}")
    check(body["version"] == 1, "no refusal changed the version")
    check(body["clientToken"] == "g1", "get echoes the client token")

    outcome, body = request("delete", b"")
    check(outcome == "accepted" and body["version"] == 1, "delete accepted")
    client.loop_stop()
    client.disconnect()
    print(f"{checks} checks passed", flush=True)


if __name__ == "__main__":
    main()
