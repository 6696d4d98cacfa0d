"""AWS IoT Jobs over raw MQTT topics with paho-mqtt: answers reach the requesting client without
any subscription, and every kind of refusal carries AWS's error code on the request's /rejected
topic, with the client token echoed and a timestamp in seconds.

Driven by crates/cli/tests/e2e/jobs.rs, which starts `tether serve`, creates job `raw-1` for
THING, watches the thing's Jobs topics with another client, and runs:

    python jobs_errors.py HOST:PORT CERT KEY CA THING

The client subscribes to nothing: AWS delivers Jobs answers "even without a specific
subscription". Exits non-zero on the first failed check; prints one line per check.
"""

import json
import queue
import ssl
import sys

import paho.mqtt.client as mqtt

TIMEOUT = 10
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok: {what}", flush=True)


def main():
    address, cert, key, ca, thing = sys.argv[1:6]
    host, port = address.rsplit(":", 1)
    prefix = f"$aws/things/{thing}/jobs"
    inbox = queue.Queue()
    connected = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="jobs-raw-device", protocol=mqtt.MQTTv311)
    client.tls_set(ca_certs=ca, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
    client.on_message = lambda c, u, m: inbox.put((m.topic, m.payload))
    client.on_connect = lambda c, u, flags, rc, props: connected.put(rc)
    client.connect(host, int(port), keepalive=30)
    client.loop_start()
    check(connected.get(timeout=TIMEOUT) == 0, "connected without subscribing to anything")

    def request(topic, payload):
        client.publish(topic, payload, qos=1)
        answer_topic, body = inbox.get(timeout=TIMEOUT)
        return answer_topic, json.loads(body)

    topic, body = request(f"{prefix}/get", json.dumps({"clientToken": "raw-get"}))
    check(topic == f"{prefix}/get/accepted", f"get answered on get/accepted without a subscription: {topic}")
    check([j["jobId"] for j in body["queuedJobs"]] == ["raw-1"], f"the queued job is listed: {body}")
    check(body["clientToken"] == "raw-get" and isinstance(body["timestamp"], int), "token echoed, timestamp in seconds")

    def refused(topic, payload, code, what, token=True):
        got_topic, body = request(topic, payload)
        check(got_topic == f"{topic}/rejected", f"{what}: answered on {topic}/rejected (got {got_topic})")
        check(body.get("code") == code, f"{what}: code {code} (got {body})")
        check(isinstance(body.get("message"), str) and body["message"], f"{what}: a message ({body.get('message')})")
        check(isinstance(body.get("timestamp"), int), f"{what}: a timestamp in seconds")
        if token:
            check(body.get("clientToken") == "t-1", f"{what}: the client token is echoed")
        return body

    refused(f"{prefix}/get", b"{not json", "InvalidJson", "a payload that is not JSON", token=False)
    refused(f"{prefix}/bogus", json.dumps({"clientToken": "t-1"}), "InvalidTopic", "a topic that maps to no API")
    refused(f"{prefix}/raw-1/update", json.dumps({"clientToken": "t-1"}), "InvalidRequest", "an update without a status")
    refused(
        f"{prefix}/raw-1/update",
        json.dumps({"clientToken": "t-1", "status": "IN_PROGRESS", "statusDetails": {"bad key": "x"}}),
        "InvalidRequest",
        "status details with a bad name",
    )
    refused(
        f"{prefix}/raw-1/update",
        json.dumps({"clientToken": "t-1", "status": "IN_PROGRESS", "stepTimeoutInMinutes": 0}),
        "InvalidRequest",
        "a step timeout of 0",
    )
    refused(f"{prefix}/no-such-job/get", json.dumps({"clientToken": "t-1"}), "ResourceNotFound", "describe of a job that does not exist")
    body = refused(
        f"{prefix}/raw-1/update",
        json.dumps({"clientToken": "t-1", "status": "IN_PROGRESS", "expectedVersion": 9}),
        "VersionMismatch",
        "a stale expected version",
    )
    check(body["executionState"] == {"status": "QUEUED", "versionNumber": 1}, f"the execution's state is attached: {body}")

    topic, body = request(f"{prefix}/raw-1/update", json.dumps({"status": "REJECTED", "clientToken": "t-2"}))
    check(topic == f"{prefix}/raw-1/update/accepted", "a device may reject a queued job")
    body = refused(
        f"{prefix}/raw-1/update",
        json.dumps({"clientToken": "t-1", "status": "IN_PROGRESS"}),
        "InvalidStateTransition",
        "an update after REJECTED",
    )
    check(body["executionState"]["status"] == "REJECTED", "the state says REJECTED")
    topic, body = request(f"{prefix}/start-next", json.dumps({"clientToken": "t-3"}))
    check(topic == f"{prefix}/start-next/accepted" and "execution" not in body, f"start-next with nothing pending has no execution: {body}")

    client.loop_stop()
    client.disconnect()
    print(f"{checks} checks passed", flush=True)


if __name__ == "__main__":
    main()
