"""boto3 fills a registry with one of everything `tether registry` carries: thing types (one
deprecated), a thing group hierarchy with properties, things with attributes and memberships,
a policy with three versions whose default is the second, a group policy, a certificate from
CreateKeysAndCertificate, a CA registered with a verification certificate, a certificate of
that CA registered by PEM, one registered without a CA and then revoked, attachments of every
kind and a provisioning template.

Driven by crates/cli/tests/e2e/registry_sync.rs:

    python registry_populate.py API_URL WORKDIR

Writes WORKDIR/sensor-1.pem and WORKDIR/sensor-1.key (the CreateKeysAndCertificate pair) and
prints one JSON line: {"sensor1": CERT_ID, "ca": CA_ID, "fleet": CERT_ID, "stray": CERT_ID}.
"""

import json
import subprocess
import sys

import boto3

REGION = "us-east-1"


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action, resource):
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, check=True).stdout


def main():
    api, work = sys.argv[1:3]
    iot = boto3.client(
        "iot",
        endpoint_url=api,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )

    iot.create_thing_type(
        thingTypeName="sensor",
        thingTypeProperties={"thingTypeDescription": "a sensor", "searchableAttributes": ["floor"]},
    )
    iot.create_thing_type(thingTypeName="legacy")
    iot.create_thing_group(
        thingGroupName="site",
        thingGroupProperties={"attributePayload": {"attributes": {"city": "Lyon"}}},
    )
    iot.create_thing_group(thingGroupName="floor-1", parentGroupName="site")
    iot.create_thing_group(
        thingGroupName="floor-2",
        parentGroupName="site",
        thingGroupProperties={"thingGroupDescription": "second floor"},
    )
    iot.create_thing(
        thingName="sensor-1",
        thingTypeName="sensor",
        attributePayload={"attributes": {"floor": "1", "model": "t-100"}},
    )
    iot.create_thing(thingName="sensor-2", thingTypeName="sensor", attributePayload={"attributes": {"floor": "2"}})
    iot.create_thing(thingName="old-1", thingTypeName="legacy")
    iot.deprecate_thing_type(thingTypeName="legacy")
    iot.add_thing_to_thing_group(thingGroupName="floor-1", thingName="sensor-1")
    iot.add_thing_to_thing_group(thingGroupName="floor-2", thingName="sensor-2")

    # A policy with three versions; the second, the default, lets only client sensor-1 connect.
    iot.create_policy(policyName="sensor-policy", policyDocument=doc(allow("iot:Connect", "*")))
    iot.create_policy_version(
        policyName="sensor-policy",
        policyDocument=doc(
            allow("iot:Connect", "arn:aws:iot:*:*:client/sensor-1"),
            allow("iot:Publish", "arn:aws:iot:*:*:topic/sensors/*"),
        ),
        setAsDefault=True,
    )
    iot.create_policy_version(policyName="sensor-policy", policyDocument=doc(allow("iot:*", "*")))
    iot.create_policy(policyName="group-policy", policyDocument=doc(allow("iot:Subscribe", "*")))
    iot.attach_policy(policyName="group-policy", target=iot.describe_thing_group(thingGroupName="site")["thingGroupArn"])

    keys = iot.create_keys_and_certificate(setAsActive=True)
    open(f"{work}/sensor-1.pem", "w").write(keys["certificatePem"])
    open(f"{work}/sensor-1.key", "w").write(keys["keyPair"]["PrivateKey"])
    iot.attach_policy(policyName="sensor-policy", target=keys["certificateArn"])
    iot.attach_thing_principal(thingName="sensor-1", principal=keys["certificateArn"])

    # A CA of our own, registered in DEFAULT mode with a verification certificate.
    ca_key, ca_pem = f"{work}/ca-key.pem", f"{work}/ca.pem"
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ca_key)
    openssl(
        "req", "-x509", "-new", "-key", ca_key, "-subj", "/CN=Registry Sync CA", "-days", "30",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", "-out", ca_pem,
    )
    code = iot.get_registration_code()["registrationCode"]

    def issue(name, cn):
        key = f"{work}/{name}.key"
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
        csr = f"{work}/{name}.csr"
        openssl("req", "-new", "-key", key, "-subj", f"/CN={cn}", "-out", csr)
        out = f"{work}/{name}.crt"
        openssl("x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial", "-days", "30", "-out", out)
        return open(out).read()

    verification = issue("verification", code)
    ca = iot.register_ca_certificate(
        caCertificate=open(ca_pem).read(),
        verificationCertificate=verification,
        setAsActive=True,
        allowAutoRegistration=True,
    )
    fleet = iot.register_certificate(certificatePem=issue("fleet", "fleet-1"), status="ACTIVE")
    iot.attach_thing_principal(thingName="sensor-2", principal=fleet["certificateArn"])
    iot.attach_policy(policyName="sensor-policy", target=fleet["certificateArn"])

    # A self-signed certificate registered without a CA, then revoked.
    stray_key, stray_pem = f"{work}/stray.key", f"{work}/stray.pem"
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", stray_key)
    openssl("req", "-x509", "-new", "-key", stray_key, "-subj", "/CN=stray", "-days", "30", "-out", stray_pem)
    stray = iot.register_certificate_without_ca(certificatePem=open(stray_pem).read(), status="INACTIVE")
    iot.update_certificate(certificateId=stray["certificateId"], newStatus="REVOKED")

    body = {
        "Parameters": {"SerialNumber": {"Type": "String"}},
        "Resources": {
            "thing": {
                "Type": "AWS::IoT::Thing",
                "Properties": {"ThingName": {"Fn::Join": ["", ["fleet-", {"Ref": "SerialNumber"}]]}},
            }
        },
    }
    iot.create_provisioning_template(
        templateName="fleet",
        description="fleet devices",
        templateBody=json.dumps(body),
        provisioningRoleArn="arn:aws:iam::123456789012:role/provisioning",
        enabled=True,
    )
    print(json.dumps({
        "sensor1": keys["certificateId"],
        "ca": ca["certificateId"],
        "fleet": fleet["certificateId"],
        "stray": stray["certificateId"],
    }))


if __name__ == "__main__":
    main()
