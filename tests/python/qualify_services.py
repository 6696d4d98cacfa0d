"""Reference devices for `tether qualify`'s shadow and jobs tests (Shadow_Publish_Reported_State,
Shadow_Update_Reported_State, Job_Execution), which run on the real broker and services.

Driven by crates/cli/tests/e2e/qualify/services.rs, which starts `tether qualify` and runs, once
per test it announces:

    python qualify_services.py HOST:PORT CERT KEY CA THING MODE

MODE is one of:
  sdk-shadow-publish   the AWS IoT Device SDK v2 shadow client (awsiot.iotshadow's
                       IotShadowClientV2 over MQTT 5) reports {"firmware": "1.0.0"} (passes)
  sdk-shadow-sync      the SDK opens the delta stream, gets the shadow, and reports whatever the
                       delta (or the shadow's delta) asks for (passes)
  sdk-job              the SDK jobs client (awsiot.iotjobs' IotJobsClientV2) listens on
                       notify-next, describes $next, and moves the job to IN_PROGRESS, then
                       SUCCEEDED (passes)
  silent               paho-mqtt: connects, subscribes to the shadow's delta and notify-next,
                       and never publishes (fails all three)
  wrong-values         paho-mqtt: subscribes to the delta and reports {"tetherQualify": "no"}
                       when the first one arrives (fails the update test)
  no-delta             paho-mqtt: reports its state once, never subscribes to the delta (passes
                       the publish test with warnings: no update/accepted; fails the update test)
  job-in-progress      paho-mqtt: gets $next and sets the job IN_PROGRESS, never SUCCEEDED
                       (fails the job test)

Runs until killed (the test kills it after the verdict); prints what it does.
"""

import json
import sys
import threading
import time

TIMEOUT = 10


def log(text):
    print(text, flush=True)


def sdk_client(host, port, cert, key, ca, thing):
    from awsiot import mqtt5_client_builder

    connected = threading.Event()
    client = mqtt5_client_builder.mtls_from_path(
        endpoint=host,
        port=int(port),
        cert_filepath=cert,
        pri_key_filepath=key,
        ca_filepath=ca,
        client_id=thing,
        on_lifecycle_connection_success=lambda _: connected.set(),
    )
    client.start()
    if not connected.wait(TIMEOUT):
        raise SystemExit("not connected")
    log("connected")
    return client


def rr_options():
    from awscrt import mqtt_request_response

    return mqtt_request_response.ClientOptions(
        max_request_response_subscriptions=4,
        max_streaming_subscriptions=4,
        operation_timeout_in_seconds=TIMEOUT,
    )


def sdk_shadow_publish(client, thing):
    from awsiot import iotshadow

    shadow = iotshadow.IotShadowClientV2(client, rr_options())
    accepted = shadow.update_shadow(
        iotshadow.UpdateShadowRequest(
            thing_name=thing, state=iotshadow.ShadowState(reported={"firmware": "1.0.0"})
        )
    ).result(TIMEOUT)
    log(f"update accepted at version {accepted.version}")
    return shadow


def sdk_shadow_sync(client, thing):
    import queue

    from awscrt import mqtt_request_response
    from awsiot import ServiceStreamOptions, V2ServiceException, iotshadow

    shadow = iotshadow.IotShadowClientV2(client, rr_options())
    deltas = queue.Queue()
    subscribed = threading.Event()

    def status(event):
        if event.type == mqtt_request_response.SubscriptionStatusEventType.SUBSCRIPTION_ESTABLISHED:
            subscribed.set()

    stream = shadow.create_shadow_delta_updated_stream(
        iotshadow.ShadowDeltaUpdatedSubscriptionRequest(thing_name=thing),
        ServiceStreamOptions(incoming_event_listener=lambda e: deltas.put(e.state), subscription_status_listener=status),
    )
    stream.open()
    subscribed.wait(TIMEOUT)
    log("delta stream open")
    # What changed while the device was away is in the shadow's delta.
    try:
        got = shadow.get_shadow(iotshadow.GetShadowRequest(thing_name=thing)).result(TIMEOUT)
        if got.state and got.state.delta:
            deltas.put(got.state.delta)
    except V2ServiceException:
        pass
    while True:
        state = deltas.get()
        log(f"delta {state}: reporting it")
        shadow.update_shadow(
            iotshadow.UpdateShadowRequest(thing_name=thing, state=iotshadow.ShadowState(reported=state))
        ).result(TIMEOUT)
        log("reported")


def sdk_job(client, thing):
    import queue

    from awscrt import mqtt_request_response
    from awsiot import ServiceStreamOptions, iotjobs

    jobs = iotjobs.IotJobsClientV2(client, rr_options())
    notified = queue.Queue()
    subscribed = threading.Event()

    def status(event):
        if event.type == mqtt_request_response.SubscriptionStatusEventType.SUBSCRIPTION_ESTABLISHED:
            subscribed.set()

    stream = jobs.create_next_job_execution_changed_stream(
        iotjobs.NextJobExecutionChangedSubscriptionRequest(thing_name=thing),
        ServiceStreamOptions(incoming_event_listener=notified.put, subscription_status_listener=status),
    )
    stream.open()
    subscribed.wait(TIMEOUT)
    log("notify-next stream open")
    while True:
        described = jobs.describe_job_execution(
            iotjobs.DescribeJobExecutionRequest(thing_name=thing, job_id="$next")
        ).result(TIMEOUT)
        execution = described.execution
        if execution is None:
            notified.get()
            continue
        log(f"job {execution.job_id}: {execution.job_document}")
        for status in ("IN_PROGRESS", "SUCCEEDED"):
            jobs.update_job_execution(
                iotjobs.UpdateJobExecutionRequest(thing_name=thing, job_id=execution.job_id, status=status)
            ).result(TIMEOUT)
            log(f"job {execution.job_id} {status}")


def paho_device(host, port, cert, key, ca, thing, mode):
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=thing, userdata=[])
    client.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
    shadow = f"$aws/things/{thing}/shadow"
    jobs = f"$aws/things/{thing}/jobs"

    def on_connect(client, userdata, flags, reason, properties):
        log(f"connected: {reason}")
        if mode in ("silent", "wrong-values"):
            client.subscribe(f"{shadow}/update/delta", qos=1)
            client.subscribe(f"{jobs}/notify-next", qos=1)
        if mode == "no-delta":
            client.publish(f"{shadow}/update", json.dumps({"state": {"reported": {"firmware": "1.0.0"}}}), qos=1)
            log("reported once")
        if mode == "job-in-progress":
            client.subscribe(f"{jobs}/$next/get/accepted", qos=1)
            client.subscribe(f"{jobs}/notify-next", qos=1)
            client.publish(f"{jobs}/$next/get", json.dumps({"clientToken": "ref"}), qos=1)

    def on_message(client, userdata, message):
        log(f"message on {message.topic}")
        if mode == "wrong-values" and message.topic.endswith("/update/delta") and not userdata:
            userdata.append("reported")
            client.publish(f"{shadow}/update", json.dumps({"state": {"reported": {"tetherQualify": "no"}}}), qos=1)
            log("reported other values")
        if mode == "job-in-progress" and message.topic.endswith("/notify-next"):
            client.publish(f"{jobs}/$next/get", json.dumps({"clientToken": "ref"}), qos=1)
        if mode == "job-in-progress" and message.topic.endswith("/get/accepted"):
            execution = json.loads(message.payload).get("execution")
            if execution:
                client.publish(f"{jobs}/{execution['jobId']}/update", json.dumps({"status": "IN_PROGRESS"}), qos=1)
                log(f"job {execution['jobId']} IN_PROGRESS, and left there")

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(host, int(port), keepalive=60)
    client.loop_forever()


def main():
    address, cert, key, ca, thing, mode = sys.argv[1:7]
    host, port = address.rsplit(":", 1)
    if mode.startswith("sdk-"):
        client = sdk_client(host, port, cert, key, ca, thing)
        kept = {
            "sdk-shadow-publish": sdk_shadow_publish,
            "sdk-shadow-sync": sdk_shadow_sync,
            "sdk-job": sdk_job,
        }[mode](client, thing)
        log(f"done: {type(kept).__name__}")
        while True:
            time.sleep(60)
    paho_device(host, port, cert, key, ca, thing, mode)


if __name__ == "__main__":
    main()
