"""Fleet provisioning by claim with the clients users run: boto3 creates a provisioning template
(Mappings, Fn::Join, Fn::FindInMap) and a claim (CreateProvisioningClaim), and the AWS IoT Device
SDK v2 identity client (awsiotsdk's IotIdentityClientV2, request-response over MQTT 5 with mutual
TLS and the claim certificate) runs CreateKeysAndCertificate, CreateCertificateFromCsr and
RegisterThing against tether serve; the provisioned device then connects with its own
certificate.

Driven by crates/cli/tests/e2e/provisioning.rs:

    python provisioning_sdk.py API_URL HOST:PORT CA WORKDIR

Exits non-zero on the first failed check; prints one line per check.
"""

import json
import os
import subprocess
import sys
import threading

import boto3
from awscrt import mqtt_request_response
from awsiot import V2ServiceException, iotidentity, mqtt5_client_builder

TIMEOUT = 10
TEMPLATE = "factory"
checks = 0

TEMPLATE_BODY = {
    "Parameters": {
        "SerialNumber": {"Type": "String"},
        "Site": {"Type": "String", "Default": "seattle"},
    },
    "Mappings": {
        "Sites": {
            "seattle": {"Group": "plant-seattle", "Broker": "https://sea.example"},
            "berlin": {"Group": "plant-berlin", "Broker": "https://ber.example"},
        }
    },
    "Resources": {
        "thing": {
            "Type": "AWS::IoT::Thing",
            "Properties": {
                "ThingName": {"Fn::Join": ["-", ["meter", {"Ref": "SerialNumber"}]]},
                "AttributePayload": {"serial": {"Ref": "SerialNumber"}},
                "ThingGroups": [{"Fn::FindInMap": ["Sites", {"Ref": "Site"}, "Group"]}],
            },
        },
        "certificate": {
            "Type": "AWS::IoT::Certificate",
            "Properties": {
                "CertificateId": {"Ref": "AWS::IoT::Certificate::Id"},
                "Status": "Active",
            },
        },
        "policy": {
            "Type": "AWS::IoT::Policy",
            "Properties": {
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}
                    ],
                }
            },
        },
    },
    "DeviceConfiguration": {
        "Broker": {"Fn::FindInMap": ["Sites", {"Ref": "Site"}, "Broker"]},
        "Model": "m1",
    },
}


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok: {what}", flush=True)


def connect(host, port, cert, key, ca, client_id):
    connected = threading.Event()
    stopped = threading.Event()
    client = mqtt5_client_builder.mtls_from_path(
        endpoint=host,
        port=int(port),
        cert_filepath=cert,
        pri_key_filepath=key,
        ca_filepath=ca,
        client_id=client_id,
        on_lifecycle_connection_success=lambda _: connected.set(),
        on_lifecycle_stopped=lambda _: stopped.set(),
    )
    client.start()
    return client, connected, stopped


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def main():
    api, address, ca, work = sys.argv[1:5]
    host, port = address.rsplit(":", 1)
    iot = boto3.client(
        "iot",
        endpoint_url=api,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    for group in ("plant-seattle", "plant-berlin"):
        iot.create_thing_group(thingGroupName=group)
    created = iot.create_provisioning_template(
        templateName=TEMPLATE,
        templateBody=json.dumps(TEMPLATE_BODY),
        provisioningRoleArn="arn:aws:iam::123456789012:role/provisioning",
        enabled=True,
    )
    check(created["defaultVersionId"] == 1, "boto3 created the template, version 1")
    check(
        created["templateArn"].endswith(f":provisioningtemplate/{TEMPLATE}"),
        "its ARN names the template",
    )
    claim = iot.create_provisioning_claim(templateName=TEMPLATE)
    claim_id = claim["certificateId"]
    listed = [c["certificateId"] for c in iot.list_certificates()["certificates"]]
    check(claim_id not in listed, "the claim certificate is not among the account's certificates")
    claim_cert = write(os.path.join(work, "claim.pem.crt"), claim["certificatePem"])
    claim_key = write(os.path.join(work, "claim.pem.key"), claim["keyPair"]["PrivateKey"])

    client, connected, stopped = connect(host, port, claim_cert, claim_key, ca, "factory-line-1")
    check(connected.wait(TIMEOUT), "the SDK connected with the claim certificate over MQTT 5")
    identity = iotidentity.IotIdentityClientV2(
        client,
        mqtt_request_response.ClientOptions(
            max_request_response_subscriptions=6,
            max_streaming_subscriptions=2,
            operation_timeout_in_seconds=TIMEOUT,
        ),
    )

    # CreateKeysAndCertificate, then RegisterThing with the token and parameters.
    keys = identity.create_keys_and_certificate(
        iotidentity.CreateKeysAndCertificateRequest()
    ).result(TIMEOUT)
    check(len(keys.certificate_id) == 64, "CreateKeysAndCertificate answered a certificate id")
    check("PRIVATE KEY" in keys.private_key, "and a private key")
    described = iot.describe_certificate(certificateId=keys.certificate_id)
    check(
        described["certificateDescription"]["status"] == "PENDING_ACTIVATION",
        "the new certificate is PENDING_ACTIVATION",
    )
    registered = identity.register_thing(
        iotidentity.RegisterThingRequest(
            template_name=TEMPLATE,
            certificate_ownership_token=keys.certificate_ownership_token,
            parameters={"SerialNumber": "0001"},
        )
    ).result(TIMEOUT)
    check(registered.thing_name == "meter-0001", "RegisterThing named the thing with Fn::Join")
    check(
        registered.device_configuration == {"Broker": "https://sea.example", "Model": "m1"},
        f"the device configuration came through Fn::FindInMap: {registered.device_configuration}",
    )
    thing = iot.describe_thing(thingName="meter-0001")
    check(thing["attributes"] == {"serial": "0001"}, "the thing has its attributes")
    groups = iot.list_thing_groups_for_thing(thingName="meter-0001")["thingGroups"]
    check([g["groupName"] for g in groups] == ["plant-seattle"], "the thing is in the mapped group")
    described = iot.describe_certificate(certificateId=keys.certificate_id)
    check(described["certificateDescription"]["status"] == "ACTIVE", "the certificate is ACTIVE")
    principals = iot.list_thing_principals(thingName="meter-0001")["principals"]
    check(principals == [described["certificateDescription"]["certificateArn"]], "and attached")
    policies = iot.list_attached_policies(target=principals[0])["policies"]
    check(len(policies) == 1, "with the template's policy")

    # CreateCertificateFromCsr with a P-256 key that never leaves the device.
    device_key = os.path.join(work, "device2.key")
    subprocess.run(
        ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", device_key],
        check=True,
    )
    csr = subprocess.run(
        ["openssl", "req", "-new", "-key", device_key, "-subj", "/CN=meter-0002"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    from_csr = identity.create_certificate_from_csr(
        iotidentity.CreateCertificateFromCsrRequest(certificate_signing_request=csr)
    ).result(TIMEOUT)
    check("BEGIN CERTIFICATE" in from_csr.certificate_pem, "CreateCertificateFromCsr signed the CSR")
    second = identity.register_thing(
        iotidentity.RegisterThingRequest(
            template_name=TEMPLATE,
            certificate_ownership_token=from_csr.certificate_ownership_token,
            parameters={"SerialNumber": "0002", "Site": "berlin"},
        )
    ).result(TIMEOUT)
    check(second.thing_name == "meter-0002", "the CSR's certificate registered its thing")
    check(second.device_configuration["Broker"] == "https://ber.example", "the mapping followed Site")

    # Refusals come back as the SDK's modeled error, with AWS's fields.
    try:
        identity.register_thing(
            iotidentity.RegisterThingRequest(
                template_name=TEMPLATE,
                certificate_ownership_token="not-a-token",
                parameters={"SerialNumber": "0003"},
            )
        ).result(TIMEOUT)
        raise AssertionError("a wrong token was accepted")
    except V2ServiceException as e:
        error = e.modeled_error
        check(error is not None and error.status_code == 400, "a wrong token is refused with 400")
        check(error.error_code == "InvalidCertificateOwnershipToken", f"as {error.error_code}")
    check(
        iot.list_things(attributeName="serial", attributeValue="0003")["things"] == [],
        "and nothing was created",
    )

    del identity
    client.stop()
    check(stopped.wait(TIMEOUT), "the claim connection stopped cleanly")

    # The device reconnects with its own certificate.
    cert = write(os.path.join(work, "device.pem.crt"), keys.certificate_pem)
    key = write(os.path.join(work, "device.pem.key"), keys.private_key)
    client, connected, stopped = connect(host, port, cert, key, ca, "meter-0001")
    check(connected.wait(TIMEOUT), "the provisioned device connected with its own certificate")
    client.stop()
    check(stopped.wait(TIMEOUT), "and stopped cleanly")
    print(f"{checks} checks passed", flush=True)


if __name__ == "__main__":
    main()
