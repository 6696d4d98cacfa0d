"""boto3 against the rest of tether's registry API: certificates from a CSR, CA certificate
updates and deletion, listing by CA, policy versions and their deletion, the principal-policy
and target operations, detaching things and policies, each with the response shapes and errors
AWS gives.

Driven by crates/cli/tests/e2e/api.rs, which starts `tether serve` and runs:

    python registry_ops.py API_URL WORKDIR

Exits non-zero on the first failed check; prints one line per check.
"""

import json
import subprocess
import sys

import boto3
import botocore.exceptions

REGION = "us-east-1"
ALLOW = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}
)
ALLOW_MORE = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}]}
)

checks = 0


def check(condition, what):
    global checks
    if not condition:
        raise AssertionError(what)
    checks += 1
    print(f"ok: {what}", flush=True)


def expect_error(call, code, what):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        check(got == code, f"{what}: {code} (got {got}: {e.response['Error'].get('Message')})")
        return
    raise AssertionError(f"{what}: succeeded, but AWS refuses it with {code}")


def openssl(*args, stdin=None):
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True).stdout


def main():
    api, work = sys.argv[1:3]
    iot = boto3.client(
        "iot",
        endpoint_url=api,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )

    # A certificate from a CSR made with OpenSSL.
    key = f"{work}/csr-key.pem"
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    csr = openssl("req", "-new", "-key", key, "-subj", "/CN=from-csr").decode()
    created = iot.create_certificate_from_csr(certificateSigningRequest=csr, setAsActive=True)
    cert_id, cert_arn = created["certificateId"], created["certificateArn"]
    check(len(cert_id) == 64 and "BEGIN CERTIFICATE" in created["certificatePem"], "create_certificate_from_csr issues a certificate")
    listed = iot.list_certificates(pageSize=250)["certificates"]
    check(any(c["certificateId"] == cert_id and c["status"] == "ACTIVE" for c in listed), "list_certificates shows it ACTIVE")
    expect_error(
        lambda: iot.create_certificate_from_csr(certificateSigningRequest="not a csr"),
        "InvalidRequestException",
        "a CSR that is not PEM",
    )

    # A CA certificate of our own, registered in SNI_ONLY mode, then updated, listed, deleted.
    ca_key, ca_pem = f"{work}/ca-key.pem", f"{work}/ca.pem"
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", ca_key)
    openssl(
        "req", "-x509", "-new", "-key", ca_key, "-subj", "/CN=Registry Ops CA", "-days", "30",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", "-out", ca_pem,
    )
    ca = iot.register_ca_certificate(
        caCertificate=open(ca_pem).read(), certificateMode="SNI_ONLY", setAsActive=True
    )
    ca_id = ca["certificateId"]
    check(any(c["certificateId"] == ca_id for c in iot.list_ca_certificates()["certificates"]), "list_ca_certificates lists the CA")
    iot.update_ca_certificate(certificateId=ca_id, newStatus="INACTIVE", newAutoRegistrationStatus="ENABLE")
    described = iot.describe_ca_certificate(certificateId=ca_id)["certificateDescription"]
    check(described["status"] == "INACTIVE", "update_ca_certificate sets the status")
    check(described["autoRegistrationStatus"] == "ENABLE", "update_ca_certificate enables auto-registration")
    check(iot.list_certificates_by_ca(caCertificateId=ca_id)["certificates"] == [], "list_certificates_by_ca: none issued yet")
    iot.delete_ca_certificate(certificateId=ca_id)
    expect_error(lambda: iot.describe_ca_certificate(certificateId=ca_id), "ResourceNotFoundException", "a deleted CA certificate")

    # Policies and their versions.
    iot.create_policy(policyName="ops-policy", policyDocument=ALLOW)
    version = iot.create_policy_version(policyName="ops-policy", policyDocument=ALLOW_MORE, setAsDefault=True)
    check(version["policyVersionId"] == "2" and version["isDefaultVersion"], "a second version becomes the default")
    first = iot.get_policy_version(policyName="ops-policy", policyVersionId="1")
    check(json.loads(first["policyDocument"]) == json.loads(ALLOW) and not first["isDefaultVersion"], "get_policy_version returns version 1")
    iot.delete_policy_version(policyName="ops-policy", policyVersionId="1")
    expect_error(
        lambda: iot.get_policy_version(policyName="ops-policy", policyVersionId="1"),
        "ResourceNotFoundException",
        "a deleted policy version",
    )
    expect_error(
        lambda: iot.delete_policy_version(policyName="ops-policy", policyVersionId="2"),
        "DeleteConflictException",
        "deleting the default version",
    )
    check(any(p["policyName"] == "ops-policy" for p in iot.list_policies()["policies"]), "list_policies lists it")

    # Attach and detach, in both API generations.
    iot.attach_policy(policyName="ops-policy", target=cert_arn)
    targets = iot.list_targets_for_policy(policyName="ops-policy")["targets"]
    check(targets == [cert_arn], "list_targets_for_policy names the certificate")
    iot.detach_policy(policyName="ops-policy", target=cert_arn)
    check(iot.list_targets_for_policy(policyName="ops-policy")["targets"] == [], "detach_policy detaches it")
    iot.attach_principal_policy(policyName="ops-policy", principal=cert_arn)
    principals = iot.list_principal_policies(principal=cert_arn)["policies"]
    check([p["policyName"] for p in principals] == ["ops-policy"], "list_principal_policies after attach_principal_policy")
    iot.detach_principal_policy(policyName="ops-policy", principal=cert_arn)
    check(iot.list_principal_policies(principal=cert_arn)["policies"] == [], "detach_principal_policy detaches it")

    # A thing and its principal.
    iot.create_thing(thingName="ops-thing")
    iot.attach_thing_principal(thingName="ops-thing", principal=cert_arn)
    iot.detach_thing_principal(thingName="ops-thing", principal=cert_arn)
    check(iot.list_thing_principals(thingName="ops-thing")["principals"] == [], "detach_thing_principal detaches it")

    # Deletion rules.
    expect_error(
        lambda: iot.delete_certificate(certificateId=cert_id),
        "CertificateStateException",
        "deleting an ACTIVE certificate",
    )
    iot.delete_policy(policyName="ops-policy")
    expect_error(lambda: iot.get_policy(policyName="ops-policy"), "ResourceNotFoundException", "a deleted policy")
    print(f"{checks} checks passed", flush=True)


if __name__ == "__main__":
    main()
