"""boto3 against tether's AWS-compatible API: the shapes a provisioning script relies on.

Driven by crates/cli/tests/e2e/api.rs, which starts `tether serve` and runs:

    python boto3_flow.py API_URL MQTTS_HOST:PORT WORKDIR

Provisions a device (thing, keys and certificate, policy, attachments), lists things across
pages, describes the certificate, subscribes over mutual TLS with paho-mqtt using the returned
credentials, publishes through iot-data and checks the subscriber got it, reads the retained
message back, and checks AWS's error shapes (ResourceNotFoundException, CertificateStateException,
MalformedPolicyException, a wrong secret refused with 403). Exits non-zero on the first failed
check; prints one line per check.
"""

import base64
import hashlib
import json
import os
import queue
import ssl
import sys

import boto3
import botocore.exceptions
import paho.mqtt.client as mqtt

REGION = "us-east-1"
ALLOW_ALL = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
    }
)

checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok: {what}", flush=True)


def expect_error(call, code, status, what):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        got_code = e.response["Error"]["Code"]
        got_status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        check(
            got_code == code and got_status == status,
            f"{what}: {code} {status} (got {got_code} {got_status}: {e})",
        )
        return
    raise AssertionError(f"{what}: expected {code}, the call succeeded")


def client(service, endpoint, secret="test"):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key=secret,
    )


def main():
    endpoint, mqtts, workdir = sys.argv[1], sys.argv[2], sys.argv[3]
    mqtt_host, mqtt_port = mqtts.rsplit(":", 1)
    iot = client("iot", endpoint)
    data = client("iot-data", endpoint)

    check(
        iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"] == "localhost",
        "DescribeEndpoint answers a bare host name",
    )

    names = [f"py-thing-{i}" for i in range(5)]
    for name in names:
        created = iot.create_thing(thingName=name, attributePayload={"attributes": {"n": name}})
        check(created["thingArn"].endswith(f":thing/{name}"), f"CreateThing {name}")
    first = iot.list_things(maxResults=2)
    check(len(first["things"]) == 2 and "nextToken" in first, "ListThings pages with nextToken")
    listed = []
    for page in iot.get_paginator("list_things").paginate(PaginationConfig={"PageSize": 2}):
        listed += [t["thingName"] for t in page["things"]]
    check(all(n in listed for n in names), f"the paginator lists every thing ({listed})")

    keys = iot.create_keys_and_certificate(setAsActive=True)
    cert_arn, cert_id = keys["certificateArn"], keys["certificateId"]
    der = ssl.PEM_cert_to_DER_cert(keys["certificatePem"])
    check(hashlib.sha256(der).hexdigest() == cert_id, "certificateId is the SHA-256 of the DER")
    check(
        keys["keyPair"]["PrivateKey"].startswith("-----BEGIN RSA PRIVATE KEY-----"),
        "CreateKeysAndCertificate hands out a PKCS#1 RSA key",
    )
    described = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
    check(described["status"] == "ACTIVE", "DescribeCertificate status ACTIVE")
    check(described["certificateArn"] == cert_arn, "DescribeCertificate ARN")
    check(
        described["validity"]["notAfter"].year == 2049,
        "issued certificates expire in 2049 like AWS's",
    )

    iot.create_policy(policyName="py-allow-all", policyDocument=ALLOW_ALL)
    iot.attach_policy(policyName="py-allow-all", target=cert_arn)
    iot.attach_thing_principal(thingName=names[0], principal=cert_arn)
    check(
        iot.list_thing_principals(thingName=names[0])["principals"] == [cert_arn],
        "ListThingPrincipals",
    )
    check(
        iot.list_principal_things(principal=cert_arn)["things"] == [names[0]],
        "ListPrincipalThings",
    )
    attached = iot.list_attached_policies(target=cert_arn)["policies"]
    check([p["policyName"] for p in attached] == ["py-allow-all"], "ListAttachedPolicies")
    version = iot.create_policy_version(
        policyName="py-allow-all", policyDocument=ALLOW_ALL, setAsDefault=True
    )
    check(version["policyVersionId"] == "2" and version["isDefaultVersion"], "CreatePolicyVersion")
    versions = iot.list_policy_versions(policyName="py-allow-all")["policyVersions"]
    check([v["versionId"] for v in versions] == ["2", "1"], "ListPolicyVersions newest first")
    iot.set_default_policy_version(policyName="py-allow-all", policyVersionId="1")
    check(
        iot.get_policy(policyName="py-allow-all")["defaultVersionId"] == "1",
        "SetDefaultPolicyVersion",
    )

    expect_error(
        lambda: iot.describe_thing(thingName="no-such-thing"),
        "ResourceNotFoundException",
        404,
        "DescribeThing of a missing thing",
    )
    expect_error(
        lambda: iot.delete_certificate(certificateId=cert_id),
        "CertificateStateException",
        406,
        "DeleteCertificate of an ACTIVE certificate",
    )
    expect_error(
        lambda: iot.create_policy(policyName="bad", policyDocument='{"Statement": 7}'),
        "MalformedPolicyException",
        400,
        "CreatePolicy with a malformed document",
    )
    expect_error(
        lambda: iot.create_policy(policyName="py-allow-all", policyDocument=ALLOW_ALL),
        "ResourceAlreadyExistsException",
        409,
        "CreatePolicy twice",
    )
    expect_error(
        lambda: client("iot", endpoint, secret="wrong").list_things(),
        "InvalidSignatureException",
        403,
        "a wrong secret",
    )

    # A subscriber on the broker with the new credentials, then an iot-data publish.
    paths = {}
    for name, text in [
        ("cert.pem", keys["certificatePem"]),
        ("key.pem", keys["keyPair"]["PrivateKey"]),
        ("ca.pem", iot_root_ca(endpoint)),
    ]:
        paths[name] = os.path.join(workdir, name)
        with open(paths[name], "w") as f:
            f.write(text)
    received = queue.Queue()
    subscribed = queue.Queue()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=names[0])
    sub.tls_set(ca_certs=paths["ca.pem"], certfile=paths["cert.pem"], keyfile=paths["key.pem"])
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe("py/topic", qos=1)
    sub.on_subscribe = lambda c, u, mid, rcs, p: subscribed.put(rcs)
    sub.on_message = lambda c, u, m: received.put((m.topic, m.payload))
    sub.connect("localhost", int(mqtt_port))
    sub.loop_start()
    try:
        codes = subscribed.get(timeout=20)
        check(all(not rc.is_failure for rc in codes), "paho subscribed with the new certificate")
        data.publish(topic="py/topic", qos=1, payload=b"from boto3")
        topic, payload = received.get(timeout=20)
        check((topic, payload) == ("py/topic", b"from boto3"), "iot-data Publish reached MQTT")
    finally:
        sub.loop_stop()
        sub.disconnect()

    data.publish(topic="py/retained", qos=1, retain=True, payload=b"kept")
    retained = data.get_retained_message(topic="py/retained")
    check(
        retained["payload"] == b"kept" and retained["qos"] == 1,
        "GetRetainedMessage returns the payload",
    )
    topics = [t["topic"] for t in data.list_retained_messages()["retainedTopics"]]
    check("py/retained" in topics, "ListRetainedMessages lists it")
    expect_error(
        lambda: data.get_retained_message(topic="py/none"),
        "ResourceNotFoundException",
        404,
        "GetRetainedMessage of a topic with none",
    )

    print(f"boto3 flow: {checks} checks passed", flush=True)


def iot_root_ca(endpoint):
    import urllib.request

    with urllib.request.urlopen(endpoint + "/_tether/root-ca.pem") as answer:
        return answer.read().decode()


if __name__ == "__main__":
    main()
