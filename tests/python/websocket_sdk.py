"""The AWS IoT Device SDK v2 websocket builder against tether serve's MQTT over WebSockets.

Driven by crates/cli/tests/e2e/websockets.rs, which starts `tether serve --wss` and runs:

    python websocket_sdk.py HOST:PORT CA REGION

with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (the development
credential test/test on loopback). `mqtt5_client_builder.websockets_with_default_aws_signing`
signs the WebSocket upgrade with SigV4 (query parameters, service iotdevicegateway) from the
default credential chain, exactly as against AWS IoT. Two clients connect over MQTT 5; one
subscribes at QoS 1, the other publishes at QoS 1 and gets its PUBACK, the first receives the
message. Exits non-zero on the first failed check; prints one line per check.
"""

import queue
import sys
import threading

from awscrt import auth, mqtt5
from awsiot import mqtt5_client_builder

TIMEOUT = 10
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok: {what}", flush=True)


def client(host, port, ca, region, client_id, received=None):
    connected = threading.Event()
    stopped = threading.Event()
    failure = []

    def on_failure(data):
        failure.append(str(data.exception))
        connected.set()

    built = mqtt5_client_builder.websockets_with_default_aws_signing(
        endpoint=host,
        port=int(port),
        region=region,
        credentials_provider=auth.AwsCredentialsProvider.new_default_chain(),
        ca_filepath=ca,
        client_id=client_id,
        on_publish_received=(lambda data: received.put(data.publish_packet)) if received else None,
        on_lifecycle_connection_success=lambda _: connected.set(),
        on_lifecycle_connection_failure=on_failure,
        on_lifecycle_stopped=lambda _: stopped.set(),
    )
    built.start()
    check(connected.wait(TIMEOUT) and not failure, f"{client_id} connected over wss with SigV4 {failure}")
    return built, stopped


def main():
    address, ca, region = sys.argv[1:4]
    host, port = address.rsplit(":", 1)
    received = queue.Queue()
    subscriber, sub_stopped = client(host, port, ca, region, "ws-sub", received)
    suback = subscriber.subscribe(
        mqtt5.SubscribePacket(subscriptions=[mqtt5.Subscription("ws/sdk/#", mqtt5.QoS.AT_LEAST_ONCE)])
    ).result(TIMEOUT)
    check(
        suback.reason_codes == [mqtt5.SubackReasonCode.GRANTED_QOS_1],
        f"SUBACK granted QoS 1 (got {suback.reason_codes})",
    )
    publisher, pub_stopped = client(host, port, ca, region, "ws-pub")
    puback = publisher.publish(
        mqtt5.PublishPacket(topic="ws/sdk/t", payload=b"over websockets", qos=mqtt5.QoS.AT_LEAST_ONCE)
    ).result(TIMEOUT)
    check(
        puback.puback.reason_code == mqtt5.PubackReasonCode.SUCCESS,
        f"PUBACK success (got {puback.puback.reason_code})",
    )
    message = received.get(timeout=TIMEOUT)
    check(message.payload == b"over websockets", f"the subscriber received the message ({message.payload!r})")
    check(message.qos == mqtt5.QoS.AT_LEAST_ONCE, "at QoS 1")
    check(message.topic == "ws/sdk/t", "on its topic")

    # Wait for both clients to stop, so nothing native is torn down by the interpreter's exit.
    publisher.stop()
    subscriber.stop()
    check(pub_stopped.wait(TIMEOUT) and sub_stopped.wait(TIMEOUT), "the clients stopped cleanly")
    print(f"{checks} checks passed", flush=True)


if __name__ == "__main__":
    main()
