"""iot-data DeleteConnection with boto3, on clients made with paho-mqtt: the connection closed
(MQTT 5: DISCONNECT 0x98), by default the will published and the persistent session kept with
what was queued meanwhile; with cleanSession and preventWillMessage neither; the errors AWS lists
(ResourceNotFoundException for a client not connected, InvalidRequestException for a client id
starting with $).

Driven by crates/cli/tests/e2e/delete_connection.rs, which starts `tether serve` and runs:

    python delete_connection.py HOST:PORT CERT KEY CA API_URL

Exits non-zero on the first failed check; prints one line per check.
"""

import sys
import threading
import uuid

import boto3
import botocore.config
import botocore.exceptions
import paho.mqtt.client as mqtt

TIMEOUT = 10
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok: {what}", flush=True)


class Client:
    """A paho-mqtt session over mutual TLS that records what happens to it."""

    def __init__(self, target, client_id, v5=False, clean=True, will=None):
        host, port, cert, key, ca = target
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
                             clean_session=None if v5 else clean)
        self.c.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
        self.c.tls_insecure_set(True)
        # No automatic reconnection while a check looks at the close.
        self.c.reconnect_delay_set(min_delay=60, max_delay=120)
        if will:
            self.c.will_set(will[0], will[1], qos=1)
        self.cond = threading.Condition()
        self.events, self.messages = {}, []
        self.c.on_connect = lambda c, u, flags, rc, p: self._set(
            "connack", (rc.value, flags.session_present))
        self.c.on_disconnect = lambda c, u, f, rc, p: self._set("disconnect", rc.value)
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self._set("suback", rcs[0].value)
        self.c.on_message = self._message
        properties = None
        if v5 and not clean:
            properties = mqtt.Properties(mqtt.PacketTypes.CONNECT)
            properties.SessionExpiryInterval = 600
        self.c.connect(host, port, keepalive=60, clean_start=clean if v5 else 3,
                       properties=properties)
        self.c.loop_start()
        self.connack = self.wait("connack")

    def _set(self, key, value):
        with self.cond:
            self.events[key] = value
            self.cond.notify_all()

    def _message(self, c, u, msg):
        with self.cond:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self.cond.notify_all()

    def wait(self, key, timeout=TIMEOUT):
        with self.cond:
            self.cond.wait_for(lambda: key in self.events, timeout)
            return self.events.get(key)

    def subscribe(self, topic):
        self.c.subscribe(topic, qos=1)
        return self.wait("suback")

    def wait_message(self, payload, timeout=TIMEOUT):
        with self.cond:
            self.cond.wait_for(lambda: any(m[1] == payload for m in self.messages), timeout)
            return any(m[1] == payload for m in self.messages)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def main():
    address, cert, key, ca, api = sys.argv[1:6]
    host, port = address.rsplit(":", 1)
    target = (host, int(port), cert, key, ca)
    data = boto3.client("iot-data", endpoint_url=api, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=botocore.config.Config(retries={"total_max_attempts": 1}))

    watcher = Client(target, "dc-watcher", v5=True)
    check(watcher.subscribe("wills/#") == 1, "the watcher subscribes to wills/#")

    def sentinel():
        """A message published after what is checked, routed after it: waited for."""
        marker = f"sentinel-{uuid.uuid4()}".encode()
        data.publish(topic="wills/sentinel", qos=1, payload=marker)
        check(watcher.wait_message(marker), "the watcher's sentinel arrived")

    # Defaults: the will is published, the persistent session (3.1.1, clean session off) kept.
    dev = Client(target, "dc-keep", clean=False, will=("wills/dc-keep", b"gone-keep"))
    check(dev.connack == (0, False), f"dc-keep connects: {dev.connack}")
    check(dev.subscribe("cmd/dc-keep") == 1, "dc-keep subscribes to cmd/dc-keep")
    data.delete_connection(clientId="dc-keep")
    check(dev.wait("disconnect") is not None, "DeleteConnection closed dc-keep's connection")
    dev.c.loop_stop()
    check(watcher.wait_message(b"gone-keep"), "its will was published")
    data.publish(topic="cmd/dc-keep", qos=1, payload=b"queued-while-away")
    try:
        data.delete_connection(clientId="dc-keep")
        check(False, "DeleteConnection of a client that is not connected answered 200")
    except botocore.exceptions.ClientError as e:
        got = (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
        check(got == (404, "ResourceNotFoundException"),
              f"an offline persistent session is not found: {got}")
    back = Client(target, "dc-keep", clean=False)
    check(back.connack == (0, True), f"dc-keep resumes its session: {back.connack}")
    check(back.wait_message(b"queued-while-away"), "and gets what was queued meanwhile")
    back.close()

    # cleanSession and preventWillMessage: neither the will nor the session survives.
    dev = Client(target, "dc-clean", clean=False, will=("wills/dc-clean", b"gone-clean"))
    check(dev.connack == (0, False), f"dc-clean connects: {dev.connack}")
    check(dev.subscribe("cmd/dc-clean") == 1, "dc-clean subscribes to cmd/dc-clean")
    data.delete_connection(clientId="dc-clean", cleanSession=True, preventWillMessage=True)
    check(dev.wait("disconnect") is not None, "DeleteConnection closed dc-clean's connection")
    dev.c.loop_stop()
    data.publish(topic="cmd/dc-clean", qos=1, payload=b"not-for-a-deleted-session")
    back = Client(target, "dc-clean", clean=False)
    check(back.connack == (0, False), f"dc-clean's session was discarded: {back.connack}")
    sentinel()
    check(not watcher.wait_message(b"gone-clean", timeout=0), "its will was not published")
    check(not back.wait_message(b"not-for-a-deleted-session", timeout=0.5),
          "nothing was queued for the discarded session")
    back.close()

    # MQTT 5: the client is told why.
    dev = Client(target, "dc-five", v5=True)
    data.delete_connection(clientId="dc-five", preventWillMessage=True)
    reason = dev.wait("disconnect")
    dev.c.loop_stop()
    check(reason == 0x98, f"an MQTT 5 client gets DISCONNECT 0x98 Administrative action: {reason}")

    # Errors.
    for client_id, expected in [("dc-nobody", (404, "ResourceNotFoundException")),
                                ("$dc-reserved", (400, "InvalidRequestException"))]:
        try:
            data.delete_connection(clientId=client_id)
            check(False, f"DeleteConnection of {client_id} answered 200")
        except botocore.exceptions.ClientError as e:
            got = (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
            check(got == expected, f"DeleteConnection of {client_id}: {got}")
    watcher.close()
    print(f"{checks} checks passed")


if __name__ == "__main__":
    main()
