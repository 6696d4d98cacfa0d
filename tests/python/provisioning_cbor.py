"""Fleet provisioning over the CBOR topics with paho-mqtt and cbor2, and every rejection a device
meets with AWS's statusCode, errorCode and errorMessage and nothing created: an empty and a wrong
ownership token, a disabled template, a missing parameter, a pre-provisioning hook that refuses,
and an expired claim. The hooks are local commands tether serve runs in place of Lambda
functions (the test's config file maps their ARNs).

Driven by crates/cli/tests/e2e/provisioning.rs, which starts tether serve with
--provisioning-claim-lifetime 3 and the hooks configured:

    python provisioning_cbor.py API_URL HOST:PORT CA WORKDIR ALLOW_ARN REFUSE_ARN

Exits non-zero on the first failed check; prints one line per check.
"""

import json
import os
import queue
import socket
import ssl
import sys
import time

import boto3
import cbor2
import paho.mqtt.client as mqtt

TIMEOUT = 10
checks = 0

TEMPLATE_BODY = json.dumps({
    "Parameters": {"SerialNumber": {"Type": "String"}},
    "Resources": {
        "thing": {"Type": "AWS::IoT::Thing",
                  "Properties": {"ThingName": {"Fn::Sub": "cbor-${SerialNumber}"}}},
        "certificate": {"Type": "AWS::IoT::Certificate",
                        "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}}},
    },
    "DeviceConfiguration": {"Serial": {"Ref": "SerialNumber"}},
})

CLAIM_POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [
            "arn:aws:iot:us-east-1:123456789012:topic/$aws/certificates/create/*",
            "arn:aws:iot:us-east-1:123456789012:topic/$aws/provisioning-templates/*"]},
        {"Effect": "Allow", "Action": ["iot:Subscribe"], "Resource": [
            "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/certificates/create/*",
            "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/provisioning-templates/*"]},
    ],
})


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok: {what}", flush=True)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


class Device:
    """A paho-mqtt client that publishes a request and waits for its answer."""

    def __init__(self, host, port, cert, key, ca, client_id, template="+"):
        self.inbox = queue.Queue()
        self.disconnected = queue.Queue()
        connected = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        self.client.tls_set(ca_certs=ca, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
        self.client.on_message = lambda c, u, m: self.inbox.put((m.topic, m.payload))
        self.client.on_connect = lambda c, u, flags, rc, props: connected.put(rc)
        self.client.on_disconnect = lambda c, u, flags, rc, props: self.disconnected.put(rc)
        self.client.connect(host, int(port), keepalive=30)
        self.client.loop_start()
        check(connected.get(timeout=TIMEOUT) == 0, f"{client_id} connected")
        subscribed = queue.Queue()
        self.client.on_subscribe = lambda c, u, mid, codes, props: subscribed.put(codes)
        self.client.subscribe([
            ("$aws/certificates/create/cbor/+", 1),
            (f"$aws/provisioning-templates/{template}/provision/cbor/+", 1),
        ])
        codes = subscribed.get(timeout=TIMEOUT)
        check(all(not c.is_failure for c in codes), "subscribed to the answers first, as AWS asks")

    def request(self, topic, payload):
        self.client.publish(topic, cbor2.dumps(payload) if payload is not None else b"", qos=1)
        answer, body = self.inbox.get(timeout=TIMEOUT)
        return answer, cbor2.loads(body)

    def stop(self):
        self.client.disconnect()
        self.client.loop_stop()


def main():
    api, address, ca, work, allow_arn, refuse_arn = sys.argv[1:7]
    host, port = address.rsplit(":", 1)
    iot = boto3.client("iot", endpoint_url=api, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    role = "arn:aws:iam::123456789012:role/provisioning"
    for name, extra in [
        ("cbor-fleet", {"enabled": True}),
        ("cbor-off", {"enabled": False}),
        ("cbor-refused", {"enabled": True, "preProvisioningHook": {"targetArn": refuse_arn}}),
        ("cbor-hooked", {"enabled": True, "preProvisioningHook": {"targetArn": allow_arn}}),
    ]:
        iot.create_provisioning_template(templateName=name, templateBody=TEMPLATE_BODY,
                                         provisioningRoleArn=role, **extra)
    check(len(iot.list_provisioning_templates()["templates"]) == 4, "four templates are listed")

    # Provisioning by claim: a registered claim certificate with the guide's claim policy.
    claim = iot.create_keys_and_certificate(setAsActive=True)
    iot.create_policy(policyName="claim", policyDocument=CLAIM_POLICY)
    iot.attach_policy(policyName="claim", target=claim["certificateArn"])
    cert = write(os.path.join(work, "claim.crt"), claim["certificatePem"])
    key = write(os.path.join(work, "claim.key"), claim["keyPair"]["PrivateKey"])
    device = Device(host, port, cert, key, ca, "cbor-factory")

    topic, keys = device.request("$aws/certificates/create/cbor", None)
    check(topic == "$aws/certificates/create/cbor/accepted", f"CreateKeysAndCertificate in CBOR: {topic}")
    check(isinstance(keys, dict) and len(keys["certificateId"]) == 64, "a CBOR map with the certificate id")
    token = keys["certificateOwnershipToken"]
    cert_id = keys["certificateId"]

    def nothing_created(what):
        status = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]["status"]
        check(status == "PENDING_ACTIVATION", f"{what}: the certificate is still PENDING_ACTIVATION")
        things = [t["thingName"] for t in iot.list_things()["things"]]
        check(not any(t.startswith("cbor-") for t in things), f"{what}: no thing was created ({things})")
        check(iot.list_principal_things(principal=iot.describe_certificate(certificateId=cert_id)
              ["certificateDescription"]["certificateArn"])["things"] == [], f"{what}: nothing attached")

    def refused(template, payload, status, code, needle, what):
        request_topic = f"$aws/provisioning-templates/{template}/provision/cbor"
        topic, body = device.request(request_topic, payload)
        check(topic == f"{request_topic}/rejected", f"{what}: answered on /rejected ({topic})")
        check(body.get("statusCode") == status, f"{what}: statusCode {status} ({body})")
        check(body.get("errorCode") == code, f"{what}: errorCode {code} ({body})")
        check(needle in body.get("errorMessage", ""), f"{what}: the message says {needle!r}")
        nothing_created(what)

    refused("cbor-fleet", {"parameters": {"SerialNumber": "1"}}, 400, "InvalidCertificateOwnershipToken",
            "Certificate ownership token cannot be empty.", "an empty token")
    refused("cbor-fleet", {"certificateOwnershipToken": "wrong", "parameters": {"SerialNumber": "1"}},
            400, "InvalidCertificateOwnershipToken", "invalid", "a wrong token")
    refused("cbor-off", {"certificateOwnershipToken": token, "parameters": {"SerialNumber": "1"}},
            400, "InvalidRequest", "disabled", "a disabled template")
    refused("cbor-fleet", {"certificateOwnershipToken": token}, 400, "InvalidParameters", "SerialNumber",
            "a missing parameter")
    refused("cbor-refused", {"certificateOwnershipToken": token, "parameters": {"SerialNumber": "1"}},
            403, "AccessDenied", "allowProvisioning", "a hook that refuses")

    # The hook that allows adds its parameterOverrides.
    request_topic = "$aws/provisioning-templates/cbor-hooked/provision/cbor"
    topic, body = device.request(request_topic, {"certificateOwnershipToken": token,
                                                 "parameters": {"SerialNumber": "1"}})
    check(topic == f"{request_topic}/accepted", f"the allowing hook let RegisterThing through: {body}")
    check(body == {"thingName": "cbor-from-hook", "deviceConfiguration": {"Serial": "from-hook"}},
          f"with the hook's override: {body}")
    status = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]["status"]
    check(status == "ACTIVE", "the certificate is ACTIVE (the template's default status)")
    device.stop()

    # An expired claim: the connection it opened is closed, it cannot connect again, and it
    # created no certificate.
    temporary = iot.create_provisioning_claim(templateName="cbor-fleet")
    cert = write(os.path.join(work, "temporary.crt"), temporary["certificatePem"])
    key = write(os.path.join(work, "temporary.key"), temporary["keyPair"]["PrivateKey"])
    check(temporary["expiration"].timestamp() - time.time() < 5, "the claim expires within the configured 3 s")
    before = len(iot.list_certificates()["certificates"])
    # The claim's policy covers its own template's topics only.
    early = Device(host, port, cert, key, ca, "cbor-trusted-user", template="cbor-fleet")
    early.client.reconnect_delay_set(min_delay=60, max_delay=60)
    early.disconnected.get(timeout=TIMEOUT)
    check(True, "when the claim expired, its connection was closed")
    check(not connects(host, port, cert, key, ca), "and the claim certificate cannot connect again")
    check(len(iot.list_certificates()["certificates"]) == before, "no certificate was created")
    early.stop()
    print(f"{checks} checks passed", flush=True)


def connects(host, port, cert, key, ca):
    """Whether an MQTT CONNECT with these credentials is accepted (a CONNACK with code 0)."""
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    try:
        with socket.create_connection((host, int(port)), timeout=TIMEOUT) as raw:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                client_id = b"probe"
                body = b"\x00\x04MQTT\x04\x02\x00\x1e" + len(client_id).to_bytes(2, "big") + client_id
                tls.sendall(bytes([0x10, len(body)]) + body)
                return tls.recv(4)[:1] == b"\x20"
    except (OSError, ssl.SSLError):
        return False


if __name__ == "__main__":
    main()
