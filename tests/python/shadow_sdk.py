"""The AWS IoT Device SDK v2 shadow client (awsiotsdk's IotShadowClientV2) against tether serve.

Driven by crates/cli/tests/e2e/shadow.rs, which starts `tether serve` and runs:

    python shadow_sdk.py HOST:PORT CERT KEY CA THING

The SDK connects over MQTT 5 with mutual TLS, as a device program does, and uses the
request-response shadow API unchanged: a delta stream, update desired, the delta arriving,
update reported, get (no delta left), a version conflict (409), a named shadow beside the
classic one, delete, and get of a deleted shadow (404 with AWS's message). Exits non-zero on the
first failed check; prints one line per check.
"""

import queue
import sys
import threading

from awscrt import mqtt_request_response
from awsiot import V2ServiceException, iotshadow, mqtt5_client_builder, ServiceStreamOptions

TIMEOUT = 10
checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok: {what}", flush=True)


def rejected(future, what):
    """The modeled error of a request the service must refuse."""
    try:
        future.result(TIMEOUT)
    except V2ServiceException as e:
        check(e.modeled_error is not None, f"{what}: refused with a modeled error")
        return e.modeled_error
    raise AssertionError(f"{what}: accepted, but the service must refuse it")


def main():
    address, cert, key, ca, thing = sys.argv[1:6]
    host, port = address.rsplit(":", 1)
    connected = threading.Event()
    stopped = threading.Event()
    client = mqtt5_client_builder.mtls_from_path(
        endpoint=host,
        port=int(port),
        cert_filepath=cert,
        pri_key_filepath=key,
        ca_filepath=ca,
        client_id=thing,
        on_lifecycle_connection_success=lambda _: connected.set(),
        on_lifecycle_stopped=lambda _: stopped.set(),
    )
    client.start()
    check(connected.wait(TIMEOUT), "the SDK connected over MQTT 5 with mutual TLS")
    shadow = iotshadow.IotShadowClientV2(
        client,
        mqtt_request_response.ClientOptions(
            max_request_response_subscriptions=4,
            max_streaming_subscriptions=4,
            operation_timeout_in_seconds=TIMEOUT,
        ),
    )

    deltas = queue.Queue()
    subscribed = threading.Event()

    def status(event):
        if event.type == mqtt_request_response.SubscriptionStatusEventType.SUBSCRIPTION_ESTABLISHED:
            subscribed.set()

    stream = shadow.create_shadow_delta_updated_stream(
        iotshadow.ShadowDeltaUpdatedSubscriptionRequest(thing_name=thing),
        ServiceStreamOptions(incoming_event_listener=deltas.put, subscription_status_listener=status),
    )
    stream.open()
    check(subscribed.wait(TIMEOUT), "the delta stream is subscribed")

    accepted = shadow.update_shadow(
        iotshadow.UpdateShadowRequest(
            thing_name=thing,
            state=iotshadow.ShadowState(desired={"color": "green", "power": {"level": 3}}),
        )
    ).result(TIMEOUT)
    check(accepted.version == 1, f"update desired accepted at version 1 (got {accepted.version})")
    check(accepted.state.desired == {"color": "green", "power": {"level": 3}}, "accepted echoes the request")
    delta = deltas.get(timeout=TIMEOUT)
    check(delta.state == {"color": "green", "power": {"level": 3}}, f"the delta arrived: {delta.state}")
    check(delta.version == 1, "the delta carries the version")

    reported = shadow.update_shadow(
        iotshadow.UpdateShadowRequest(
            thing_name=thing,
            state=iotshadow.ShadowState(reported={"color": "green", "power": {"level": 1}}),
        )
    ).result(TIMEOUT)
    check(reported.version == 2, "update reported accepted at version 2")
    delta = deltas.get(timeout=TIMEOUT)
    check(delta.state == {"power": {"level": 3}}, f"the delta names only what still differs: {delta.state}")

    got = shadow.get_shadow(iotshadow.GetShadowRequest(thing_name=thing)).result(TIMEOUT)
    check(got.state.desired["color"] == "green" and got.state.reported["power"] == {"level": 1}, "get returns both sections")
    check(got.state.delta == {"power": {"level": 3}}, f"get returns the delta: {got.state.delta}")
    check(got.metadata.desired["color"]["timestamp"] > 0, "metadata carries per-field timestamps")
    check(got.version == 2, "get returns the version")

    conflict = rejected(
        shadow.update_shadow(
            iotshadow.UpdateShadowRequest(
                thing_name=thing, version=1, state=iotshadow.ShadowState(reported={"x": 1})
            )
        ),
        "an update at a stale version",
    )
    check(conflict.code == 409 and conflict.message == "Version conflict", f"409 Version conflict: {conflict.code} {conflict.message}")

    named = shadow.update_named_shadow(
        iotshadow.UpdateNamedShadowRequest(
            thing_name=thing, shadow_name="config", state=iotshadow.ShadowState(reported={"mode": "eco"})
        )
    ).result(TIMEOUT)
    check(named.version == 1, "a named shadow starts at version 1 beside the classic one")
    got_named = shadow.get_named_shadow(
        iotshadow.GetNamedShadowRequest(thing_name=thing, shadow_name="config")
    ).result(TIMEOUT)
    check(got_named.state.reported == {"mode": "eco"}, "get of the named shadow")

    deleted = shadow.delete_shadow(iotshadow.DeleteShadowRequest(thing_name=thing)).result(TIMEOUT)
    check(deleted.version == 2, f"delete accepted with the shadow's version (got {deleted.version})")
    missing = rejected(shadow.get_shadow(iotshadow.GetShadowRequest(thing_name=thing)), "get of a deleted shadow")
    check(missing.code == 404, f"404 for a deleted shadow: {missing.message}")
    check(missing.message == f"No shadow exists with name: '{thing}'", f"AWS's message: {missing.message}")
    still = shadow.get_named_shadow(
        iotshadow.GetNamedShadowRequest(thing_name=thing, shadow_name="config")
    ).result(TIMEOUT)
    check(still.version == 1, "deleting the classic shadow leaves the named one")

    again = shadow.update_shadow(
        iotshadow.UpdateShadowRequest(thing_name=thing, state=iotshadow.ShadowState(reported={"on": True}))
    ).result(TIMEOUT)
    check(again.version == 3, f"a shadow recreated after delete continues its version (got {again.version})")

    # Release the native request-response resources before the client they use, and wait for
    # the client to stop, so nothing native is torn down by the interpreter's exit.
    del stream, shadow
    client.stop()
    check(stopped.wait(TIMEOUT), "the client stopped cleanly")
    print(f"{checks} checks passed", flush=True)


if __name__ == "__main__":
    main()
