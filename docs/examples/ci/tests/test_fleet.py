"""An example IoT test suite, as a team would write it for AWS IoT Core: boto3 and the AWS IoT
Device SDK with no endpoint in the code. run-tests.sh points them at a local tether through
the environment (AWS_ENDPOINT_URL, IOT_ENDPOINT, …); against AWS the same tests run with the
real endpoint and credentials."""

import json
import os
import queue
import threading

import boto3
from awscrt import mqtt5
from awsiot import mqtt5_client_builder

TIMEOUT = 10


def provision(iot, name, directory):
    """The application's provisioning code: a thing, its certificate and a policy."""
    iot.create_thing(thingName=name)
    keys = iot.create_keys_and_certificate(setAsActive=True)
    iot.create_policy(
        policyName=f"{name}-policy",
        policyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
        }),
    )
    iot.attach_policy(policyName=f"{name}-policy", target=keys["certificateArn"])
    iot.attach_thing_principal(thingName=name, principal=keys["certificateArn"])
    cert, key = directory / f"{name}.pem.crt", directory / f"{name}.pem.key"
    cert.write_text(keys["certificatePem"])
    key.write_text(keys["keyPair"]["PrivateKey"])
    key.chmod(0o600)
    return cert, key


def connect(name, cert, key, on_message):
    connected = threading.Event()
    client = mqtt5_client_builder.mtls_from_path(
        endpoint=os.environ["IOT_ENDPOINT"],
        port=int(os.environ["IOT_PORT"]),
        cert_filepath=str(cert),
        pri_key_filepath=str(key),
        ca_filepath=os.environ["IOT_ROOT_CA"],
        client_id=name,
        on_publish_received=lambda data: on_message(data.publish_packet),
        on_lifecycle_connection_success=lambda _: connected.set(),
    )
    client.start()
    assert connected.wait(TIMEOUT), f"{name} connected"
    return client


def test_provisioned_devices_are_listed(tmp_path):
    iot = boto3.client("iot")
    for name in ("pump-1", "pump-2"):
        provision(iot, name, tmp_path)
    names = {t["thingName"] for t in iot.list_things()["things"]}
    assert {"pump-1", "pump-2"} <= names


def test_a_command_from_the_cloud_reaches_the_device(tmp_path):
    iot = boto3.client("iot")
    cert, key = provision(iot, "valve-7", tmp_path)
    received = queue.Queue()
    device = connect("valve-7", cert, key, received.put)
    try:
        device.subscribe(mqtt5.SubscribePacket(subscriptions=[
            mqtt5.Subscription(topic_filter="cmd/valve-7", qos=mqtt5.QoS.AT_LEAST_ONCE)
        ])).result(TIMEOUT)
        boto3.client("iot-data").publish(topic="cmd/valve-7", qos=1, payload=b'{"open": false}')
        message = received.get(timeout=TIMEOUT)
        assert json.loads(message.payload) == {"open": False}
    finally:
        device.stop()
