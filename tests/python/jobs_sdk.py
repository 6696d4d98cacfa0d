"""AWS IoT Jobs with the clients users run: boto3 creates and manages jobs, and the AWS IoT Device
SDK v2 jobs client (awsiotsdk's IotJobsClientV2, request-response over MQTT 5 with mutual TLS)
carries them out on the device, against tether serve.

Driven by crates/cli/tests/e2e/jobs.rs, which starts `tether serve --jobs-minute 1` (a minute of
Jobs timers lasts a second) and runs:

    python jobs_sdk.py API_URL HOST:PORT CERT KEY CA THING

Covers: notify-next when a job is created, get-pending, start-next, describe, update to SUCCEEDED
and FAILED with the job's completion seen through boto3, the rejections a device meets (AWS's
codes, with the execution's state where AWS adds it), a step timeout firing TIMED_OUT, and
CancelJob with and without force. Exits non-zero on the first failed check; prints one line per
check.
"""

import json
import queue
import sys
import threading
import time

import boto3
from awscrt import mqtt_request_response
from awsiot import V2ServiceException, ServiceStreamOptions, iotjobs, mqtt5_client_builder

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
    api, address, cert, key, ca, thing = sys.argv[1:7]
    host, port = address.rsplit(":", 1)
    iot = boto3.client(
        "iot",
        endpoint_url=api,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    thing_arn = iot.describe_thing(thingName=thing)["thingArn"]

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
    jobs = iotjobs.IotJobsClientV2(
        client,
        mqtt_request_response.ClientOptions(
            max_request_response_subscriptions=4,
            max_streaming_subscriptions=2,
            operation_timeout_in_seconds=TIMEOUT,
        ),
    )

    nexts = queue.Queue()
    subscribed = threading.Event()

    def status(event):
        if event.type == mqtt_request_response.SubscriptionStatusEventType.SUBSCRIPTION_ESTABLISHED:
            subscribed.set()

    stream = jobs.create_next_job_execution_changed_stream(
        iotjobs.NextJobExecutionChangedSubscriptionRequest(thing_name=thing),
        ServiceStreamOptions(incoming_event_listener=nexts.put, subscription_status_listener=status),
    )
    stream.open()
    check(subscribed.wait(TIMEOUT), "the notify-next stream is subscribed")

    def create(job_id, **extra):
        iot.create_job(jobId=job_id, targets=[thing_arn], document=json.dumps({"op": job_id}), **extra)

    def next_event(what):
        """The next notify-next event; raises (failing the script) when none arrives."""
        event = nexts.get(timeout=TIMEOUT)
        print(f"ok: notify-next arrived: {what}", flush=True)
        return event

    def start_next(**extra):
        return jobs.start_next_pending_job_execution(
            iotjobs.StartNextPendingJobExecutionRequest(thing_name=thing, **extra)
        ).result(TIMEOUT)

    def update(job_id, status, **extra):
        return jobs.update_job_execution(
            iotjobs.UpdateJobExecutionRequest(thing_name=thing, job_id=job_id, status=status, **extra)
        )

    def describe(job_id, **extra):
        return jobs.describe_job_execution(
            iotjobs.DescribeJobExecutionRequest(thing_name=thing, job_id=job_id, **extra)
        )

    # A job is created: the device hears of it on notify-next, with its document.
    create("firmware-1", description="Update to 1.2")
    event = next_event("a job was created")
    check(event.execution.job_id == "firmware-1", f"notify-next names the job: {event.execution.job_id}")
    check(event.execution.status == "QUEUED" and event.execution.version_number == 1, "it is QUEUED at version 1")
    check(event.execution.job_document == {"op": "firmware-1"}, f"it carries the document as JSON: {event.execution.job_document}")

    pending = jobs.get_pending_job_executions(
        iotjobs.GetPendingJobExecutionsRequest(thing_name=thing)
    ).result(TIMEOUT)
    check([j.job_id for j in pending.queued_jobs] == ["firmware-1"], "get-pending lists it as queued")
    check(pending.in_progress_jobs == [], "nothing is in progress yet")

    started = start_next(status_details={"step": "download"}, step_timeout_in_minutes=5)
    check(started.execution.job_id == "firmware-1", "start-next starts it")
    check(started.execution.status == "IN_PROGRESS" and started.execution.version_number == 2, "IN_PROGRESS at version 2")
    check(started.execution.job_document == {"op": "firmware-1"}, "start-next carries the document")
    check(started.execution.thing_name == thing, "the execution names the thing")

    described = describe("firmware-1", include_job_document=True).result(TIMEOUT)
    check(described.execution.status == "IN_PROGRESS", "describe shows it in progress")
    check(described.execution.status_details == {"step": "download"}, f"with its status details: {described.execution.status_details}")
    check(describe("$next").result(TIMEOUT).execution.job_id == "firmware-1", "$next is the job in progress")

    mismatch = rejected(update("firmware-1", "SUCCEEDED", expected_version=1), "an update at a stale version")
    check(mismatch.code == "VersionMismatch", f"VersionMismatch: {mismatch.code}")
    check(mismatch.execution_state.version_number == 2, "the rejection carries the execution's state")

    done = update("firmware-1", "SUCCEEDED", expected_version=2, include_job_execution_state=True).result(TIMEOUT)
    check(done.execution_state.status == "SUCCEEDED" and done.execution_state.version_number == 3, "update to SUCCEEDED is accepted at version 3")
    event = next_event("the queue emptied")
    check(event.execution is None, "notify-next without an execution once nothing is pending")
    job = iot.describe_job(jobId="firmware-1")["job"]
    check(job["status"] == "COMPLETED" and job["jobProcessDetails"]["numberOfSucceededThings"] == 1, "boto3 sees the job COMPLETED")
    check(job["description"] == "Update to 1.2", "and its description")
    execution = iot.describe_job_execution(jobId="firmware-1", thingName=thing)["execution"]
    check(execution["status"] == "SUCCEEDED" and execution["versionNumber"] == 3, "boto3 sees the execution SUCCEEDED")

    late = rejected(update("firmware-1", "IN_PROGRESS"), "an update of a SUCCEEDED execution")
    check(late.code == "InvalidStateTransition" and late.execution_state.status == "SUCCEEDED", f"InvalidStateTransition with the state: {late.code}")
    over = rejected(describe("firmware-1"), "describe of a SUCCEEDED execution")
    check(over.code == "TerminalStateReached", f"TerminalStateReached: {over.code}")
    missing = rejected(update("no-such-job", "SUCCEEDED"), "an update of a job that does not exist")
    check(missing.code == "ResourceNotFound", f"ResourceNotFound: {missing.code}")
    bad = rejected(update("firmware-1", "QUEUED"), "a status a device may not report")
    check(bad.code == "InvalidRequest", f"InvalidRequest: {bad.code} {bad.message}")

    # A second job fails.
    create("firmware-2")
    next_event("a second job was created")
    start_next()
    failed = update("firmware-2", "FAILED", status_details={"reason": "checksum"}, include_job_document=True).result(TIMEOUT)
    check(failed.job_document == {"op": "firmware-2"}, "update can return the document")
    next_event("the failed job left the queue")
    execution = iot.describe_job_execution(jobId="firmware-2", thingName=thing)["execution"]
    check(execution["status"] == "FAILED", "boto3 sees the execution FAILED")
    check(execution["statusDetails"]["detailsMap"] == {"reason": "checksum"}, "with the device's details")
    check(iot.describe_job(jobId="firmware-2")["job"]["jobProcessDetails"]["numberOfFailedThings"] == 1, "the job counts it")

    # A step timer of one (local) minute runs out: TIMED_OUT, and the device hears the queue empty.
    create("slow-1")
    next_event("a third job was created")
    before = time.monotonic()
    start_next(step_timeout_in_minutes=1)
    event = next_event("the step timer ran out")
    check(event.execution is None, "the timed-out execution left the queue")
    check(time.monotonic() - before < 5, "it timed out after the step timer, not much later")
    execution = iot.describe_job_execution(jobId="slow-1", thingName=thing)["execution"]
    check(execution["status"] == "TIMED_OUT" and execution["versionNumber"] == 3, f"boto3 sees it TIMED_OUT: {execution['status']}")
    timed_out = rejected(update("slow-1", "SUCCEEDED"), "an update after the timeout")
    check(timed_out.code == "InvalidStateTransition", "a timed-out execution takes no update")

    # CancelJob without force spares an execution in progress; with force it stops it.
    create("cancel-1")
    next_event("a job to cancel was created")
    start_next()
    iot.cancel_job(jobId="cancel-1", comment="changed our mind")
    check(iot.describe_job(jobId="cancel-1")["job"]["status"] == "CANCELED", "the job is CANCELED")
    still = describe("cancel-1").result(TIMEOUT)
    check(still.execution.status == "IN_PROGRESS", "without force the execution in progress goes on")
    iot.cancel_job(jobId="cancel-1", force=True)
    next_event("the forced cancel emptied the queue")
    execution = iot.describe_job_execution(jobId="cancel-1", thingName=thing)["execution"]
    check(execution["status"] == "CANCELED" and execution["forceCanceled"], "with force it is CANCELED and forceCanceled")
    stopped_update = rejected(update("cancel-1", "SUCCEEDED"), "an update of a force-canceled execution")
    check(stopped_update.code == "InvalidStateTransition", "a canceled execution takes no update")
    create("cancel-2")
    next_event("a queued job to cancel was created")
    iot.cancel_job(jobId="cancel-2")
    next_event("canceling a queued job emptied the queue")
    check(iot.describe_job_execution(jobId="cancel-2", thingName=thing)["execution"]["status"] == "CANCELED", "a queued execution is canceled without force")

    # Release the native request-response resources before the client they use, and wait for
    # the client to stop, so nothing native is torn down by the interpreter's exit.
    del stream, jobs
    client.stop()
    check(stopped.wait(TIMEOUT), "the client stopped cleanly")
    print(f"{checks} checks passed", flush=True)


if __name__ == "__main__":
    main()
