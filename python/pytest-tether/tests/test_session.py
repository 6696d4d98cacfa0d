"""The fixtures against the session's shared server (and one test with its own arguments):
boto3 control plane and data plane, a registered device, the awsiotsdk MQTT 5 builder."""

import os
import queue
import stat
import threading

import botocore.exceptions
import pytest
from awscrt import mqtt5

TIMEOUT = 10


def test_boto3_creates_a_thing(tether_iot):
    created = tether_iot.create_thing(thingName="boto3-thing", attributePayload={"attributes": {"room": "lab"}})
    assert created["thingName"] == "boto3-thing"
    assert created["thingArn"].endswith(":thing/boto3-thing")
    described = tether_iot.describe_thing(thingName="boto3-thing")
    assert described["attributes"] == {"room": "lab"}
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        tether_iot.describe_thing(thingName="no-such-thing")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_registered_device_has_its_thing_certificate_policy_and_files(tether_iot, tether_device):
    principals = tether_iot.list_thing_principals(thingName=tether_device.thing_name)["principals"]
    assert principals == [tether_device.certificate_arn]
    certificate = tether_iot.describe_certificate(certificateId=tether_device.certificate_id)
    assert certificate["certificateDescription"]["status"] == "ACTIVE"
    policies = tether_iot.list_attached_policies(target=tether_device.certificate_arn)["policies"]
    assert [p["policyName"] for p in policies] == [tether_device.policy_name]
    for path in (tether_device.certificate, tether_device.private_key, tether_device.root_ca):
        assert path.is_file(), path
    assert stat.S_IMODE(os.stat(tether_device.private_key).st_mode) == 0o600


def started(client_factory, **kwargs):
    """Starts a client from `client_factory`; its received publishes arrive in the queue."""
    received = queue.Queue()
    connected = threading.Event()
    client = client_factory(
        on_publish_received=lambda data: received.put(data.publish_packet),
        on_lifecycle_connection_success=lambda _: connected.set(),
        **kwargs,
    )
    client.start()
    assert connected.wait(TIMEOUT), "the awsiotsdk client connected over MQTT 5 with mutual TLS"
    return client, received


def subscribe(client, topic):
    suback = client.subscribe(
        mqtt5.SubscribePacket(subscriptions=[mqtt5.Subscription(topic_filter=topic, qos=mqtt5.QoS.AT_LEAST_ONCE)])
    ).result(TIMEOUT)
    assert suback.reason_codes == [mqtt5.SubackReasonCode.GRANTED_QOS_1]


def test_awsiotsdk_publish_subscribe_round_trip(tether_device, tether_mqtt5):
    client, received = started(tether_mqtt5)
    topic = f"devices/{tether_device.thing_name}/echo"
    subscribe(client, topic)
    puback = client.publish(
        mqtt5.PublishPacket(topic=topic, payload=b"hello tether", qos=mqtt5.QoS.AT_LEAST_ONCE)
    ).result(TIMEOUT)
    assert puback.puback.reason_code == mqtt5.PubackReasonCode.SUCCESS
    packet = received.get(timeout=TIMEOUT)
    assert (packet.topic, packet.payload) == (topic, b"hello tether")


def test_iot_data_publish_reaches_a_device(tether_device, tether_mqtt5, tether_iot_data):
    client, received = started(tether_mqtt5)
    topic = f"commands/{tether_device.thing_name}"
    subscribe(client, topic)
    tether_iot_data.publish(topic=topic, qos=1, payload=b'{"reboot": true}')
    packet = received.get(timeout=TIMEOUT)
    assert (packet.topic, packet.payload) == (topic, b'{"reboot": true}')


def test_a_device_may_not_connect_as_another_client_id(tether_device, tether_mqtt5):
    # The default policy allows iot:Connect only as the thing's own name, as AWS would.
    stopped = threading.Event()
    failures = queue.Queue()
    client = tether_mqtt5(
        client_id="someone-else",
        on_lifecycle_connection_failure=lambda data: failures.put(data),
        on_lifecycle_stopped=lambda _: stopped.set(),
    )
    client.start()
    failure = failures.get(timeout=TIMEOUT)
    assert failure.connack_packet is not None
    assert failure.connack_packet.reason_code == mqtt5.ConnectReasonCode.NOT_AUTHORIZED


def test_unmarked_tests_share_the_session_server(tether, tether_session_server, tether_mqtt5):
    assert tether is tether_session_server
    client, received = started(lambda **kw: tether_mqtt5(tether.demo_device, **kw))
    subscribe(client, "demo/#")
    client.publish(mqtt5.PublishPacket(topic="demo/1", payload=b"x", qos=mqtt5.QoS.AT_LEAST_ONCE)).result(TIMEOUT)
    assert received.get(timeout=TIMEOUT).topic == "demo/1"


@pytest.mark.tether(args=["--region", "eu-west-1"])
def test_marker_arguments_start_a_server_of_their_own(tether, tether_session_server, tether_iot):
    assert tether is not tether_session_server
    assert tether.region == "eu-west-1"
    assert ":eu-west-1:" in tether_iot.create_thing(thingName="in-ireland")["thingArn"]
