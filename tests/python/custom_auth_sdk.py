"""The AWS IoT Device SDK v2's custom-authorizer builders against tether serve.

Driven by crates/cli/tests/e2e/websockets.rs:

    python custom_auth_sdk.py WSS_HOST:PORT PORT443_HOST:PORT CA AUTHORIZER TOKEN_KEY TOKEN SIGNATURE

`mqtt5_client_builder.websockets_with_custom_authorizer` (MQTT over WebSockets, the credentials in
the CONNECT's user name) and `direct_with_custom_authorizer` (MQTT over TLS with ALPN `mqtt`)
each connect with the signed token, publish at QoS 1 to a topic the authorizer's policy allows,
get PUBACK success, and stop. Exits non-zero on the first failed check; prints one line per check.
"""

import sys
import threading

from awscrt import mqtt5
from awsiot import mqtt5_client_builder

TIMEOUT = 10
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok: {what}", flush=True)


def exercise(builder, address, ca, client_id, auth):
    host, port = address.rsplit(":", 1)
    connected = threading.Event()
    stopped = threading.Event()
    failure = []

    def on_failure(data):
        failure.append(str(data.exception))
        connected.set()

    client = builder(
        endpoint=host,
        port=int(port),
        ca_filepath=ca,
        client_id=client_id,
        on_lifecycle_connection_success=lambda _: connected.set(),
        on_lifecycle_connection_failure=on_failure,
        on_lifecycle_stopped=lambda _: stopped.set(),
        **auth,
    )
    client.start()
    check(connected.wait(TIMEOUT) and not failure, f"{client_id} connected {failure}")
    puback = client.publish(
        mqtt5.PublishPacket(topic=f"custom/{client_id}", payload=b"hi", qos=mqtt5.QoS.AT_LEAST_ONCE)
    ).result(TIMEOUT)
    check(
        puback.puback.reason_code == mqtt5.PubackReasonCode.SUCCESS,
        f"{client_id}: PUBACK success (got {puback.puback.reason_code})",
    )
    client.stop()
    check(stopped.wait(TIMEOUT), f"{client_id} stopped cleanly")


def main():
    wss, port443, ca, authorizer, token_key, token, signature = sys.argv[1:8]
    auth = dict(
        auth_username="sdk",
        auth_authorizer_name=authorizer,
        auth_authorizer_signature=signature,
        auth_token_key_name=token_key,
        auth_token_value=token,
    )
    exercise(mqtt5_client_builder.websockets_with_custom_authorizer, wss, ca, "sdk-ws", auth)
    exercise(mqtt5_client_builder.direct_with_custom_authorizer, port443, ca, "sdk-alpn", auth)
    print(f"{checks} checks passed", flush=True)


if __name__ == "__main__":
    main()
