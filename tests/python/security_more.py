"""More rows of tests/python/security_attempts.py: custom authorizers (a token the authorizer
denies, a policy it returns that does not allow the topic, a missing or forged token signature,
an INACTIVE authorizer), the HTTPS data plane reached with a device certificate (boto3 iot-data),
named shadows, Device Defender and file-delivery (streams) topics of another thing, and API
credentials other than the development one used off loopback. Registered by `add(S)`, S being
the security_attempts module (its `row`, `W`, `CONFIG` and judging helpers); judges with them.
"""

import os
import subprocess
import uuid

import boto3
import botocore
import botocore.config
import botocore.exceptions

from security_clients import Paho, code_name

ARN = "arn:aws:iot:us-east-1:123456789012"
AUTHORIZER = "security-signed"
INACTIVE_AUTHORIZER = "security-inactive"


def setup(S):
    """The authorizers (one signed and ACTIVE, one unsigned and INACTIVE) and a retained message
    of another thing, for the HTTPS rows."""
    material = S.CONFIG["authorizer"]
    S.iot.create_authorizer(
        authorizerName=AUTHORIZER, authorizerFunctionArn=material["function"],
        tokenKeyName="tok", tokenSigningPublicKeys={"k1": material["public_key"]},
        status="ACTIVE")
    S.iot.create_authorizer(
        authorizerName=INACTIVE_AUTHORIZER, authorizerFunctionArn=material["function"],
        signingDisabled=True, status="INACTIVE")
    S.W.demo_pub.publish("things/dev-b/config", b"dev-b's retained config", retain=True)


def user(token, signature=None, authorizer=AUTHORIZER):
    """The CONNECT user name AWS documents for a custom authorizer over ALPN `mqtt`."""
    name = f"dev?x-amz-customauthorizer-name={authorizer}"
    if signature is not None:
        quoted = signature.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
        name += f"&x-amz-customauthorizer-signature={quoted}"
    return f"{name}&tok={token}"


def port_443(S):
    return int(S.CONFIG["https443"].rsplit(":", 1)[1])


def custom(S, client_id, token, signature=None, authorizer=AUTHORIZER):
    return Paho(None, client_id, authorizer=(port_443(S), user(token, signature, authorizer)))


def connect_refused(S, token, signature=None, authorizer=AUTHORIZER):
    c = custom(S, "custom-attempt", token, signature, authorizer)
    c.close()
    code = c.connack
    refused = not (isinstance(code, int) and code == 0)
    return refused, f"CONNACK {code_name(code)}"


def iot_data(S, principal):
    """boto3 iot-data on the port-443 listener with the device's certificate and no SigV4, as a
    device publishes over HTTPS (AWS port 8443, or 443 with ALPN x-amzn-http-ca)."""
    return boto3.client(
        "iot-data", endpoint_url=f"https://localhost:{port_443(S)}", region_name="us-east-1",
        verify=S.CONFIG["ca"],
        config=botocore.config.Config(
            signature_version=botocore.UNSIGNED, client_cert=(principal.cert, principal.key),
            retries={"total_max_attempts": 1}))


def api_refused(call, status):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        got = e.response["ResponseMetadata"]["HTTPStatusCode"]
        return got == status, f"HTTP {got} {e.response['Error']['Code']}"
    except botocore.exceptions.BotoCoreError as e:
        return False, f"no answer: {e}"
    return False, "HTTP 200"


def open_iot(S, key, secret):
    return boto3.client(
        "iot", endpoint_url=S.open_api(), region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"total_max_attempts": 1}))


def add(S):
    row, W = S.row, S.W
    sec = "custom authorizer (token allow-sec: topics custom/* only)"

    @row("authorizer", "CONNECT (ALPN mqtt) with a validly signed token the authorizer denies",
         "token `deny`", "CONNACK refused (authorizer: isAuthenticated false)")
    def _():
        return connect_refused(S, "deny", S.CONFIG["authorizer"]["signatures"]["deny"])

    @row("authorizer", "PUBLISH QoS 1 `things/dev-b/data`, outside the policy the authorizer "
         "returned", sec, "PUBACK 0x87")
    def _():
        marker = f"attempt-{uuid.uuid4()}".encode()
        c = custom(S, "custom-sec", "allow-sec", S.CONFIG["authorizer"]["signatures"]["allow-sec"])
        try:
            if c.connack != 0:
                return False, f"no session to try with: CONNACK {code_name(c.connack)}"
            got = c.publish("things/dev-b/data", marker)
        finally:
            c.close()
        if S.leaked(marker):
            return False, f"delivered (PUBACK {code_name(got)})"
        return isinstance(got, int) and got >= 0x80, f"PUBACK {code_name(got)}"

    @row("authorizer", "SUBSCRIBE `#`, outside the policy the authorizer returned", sec,
         "SUBACK 0x87")
    def _():
        c = custom(S, "custom-sec", "allow-sec", S.CONFIG["authorizer"]["signatures"]["allow-sec"])
        try:
            if c.connack != 0:
                return False, f"no session to try with: CONNACK {code_name(c.connack)}"
            got = c.subscribe("#")
        finally:
            c.close()
        refused = isinstance(got, list) and bool(got) and got[0] >= 0x80
        return refused, f"SUBACK {got}"

    @row("authorizer", "CONNECT with token `allow-sec` and no signature, signing on", "none",
         "CONNACK refused (signature missing)")
    def _():
        return connect_refused(S, "allow-sec")

    @row("authorizer", "CONNECT with token `allow-mallory` and allow-sec's signature (forged)",
         "none", "CONNACK refused (signature does not verify)")
    def _():
        return connect_refused(S, "allow-mallory",
                               S.CONFIG["authorizer"]["signatures"]["allow-sec"])

    @row("authorizer", "CONNECT naming an INACTIVE authorizer (signing off) with token "
         "`allow-sec`", "none", "CONNACK refused (authorizer INACTIVE)")
    def _():
        return connect_refused(S, "allow-sec", authorizer=INACTIVE_AUTHORIZER)

    # The HTTPS data plane with a device certificate. AWS authenticates the certificate and
    # refuses by policy (403 ForbiddenException); tether serves no certificate-authenticated
    # HTTPS (docs/aws-differences.md), so these are refused before any policy is read: 403
    # MissingAuthenticationTokenException.
    dev_a = "dev-a's certificate (thing-scoped), boto3 iot-data, no SigV4"
    https_403 = "HTTP 403 (ForbiddenException; tether: no certificate-authenticated HTTPS)"

    @row("https", "Publish (`POST /topics/things/dev-b/data`) over HTTPS", dev_a,
         https_403)
    def _():
        marker = f"attempt-{uuid.uuid4()}".encode()
        refused, got = api_refused(lambda: iot_data(S, W.dev_a).publish(
            topic="things/dev-b/data", qos=1, payload=marker), 403)
        if S.leaked(marker):
            return False, f"{got}, delivered"
        return refused, got

    @row("https", "GetRetainedMessage `things/dev-b/config`", dev_a,
         https_403)
    def _():
        return api_refused(
            lambda: iot_data(S, W.dev_a).get_retained_message(topic="things/dev-b/config"), 403)

    @row("https", "ListRetainedMessages", dev_a, https_403)
    def _():
        return api_refused(lambda: iot_data(S, W.dev_a).list_retained_messages(), 403)

    @row("https", "GetThingShadow of thing `dev-b`", dev_a, https_403)
    def _():
        return api_refused(lambda: iot_data(S, W.dev_a).get_thing_shadow(thingName="dev-b"), 403)

    @row("https", "UpdateThingShadow of thing `dev-b`", dev_a, https_403)
    def _():
        marker = f"attempt-{uuid.uuid4()}"
        refused, got = api_refused(lambda: iot_data(S, W.dev_a).update_thing_shadow(
            thingName="dev-b", payload=f'{{"state":{{"reported":{{"m":"{marker}"}}}}}}'), 403)
        if S.leaked(marker.encode()):
            return False, f"{got}, the shadow changed"
        return refused, got

    # Named shadows, Device Defender and file delivery (MQTT-based streams) of another thing.
    thing_scoped = "dev-a (thing-scoped)"
    for topic in ["$aws/things/dev-b/shadow/name/cfg/update",
                  "$aws/things/dev-b/shadow/name/cfg/get",
                  "$aws/things/dev-b/defender/metrics/json",
                  "$aws/things/dev-b/streams/fw/get/json"]:
        row("other things", f"PUBLISH QoS 1 `{topic}`", thing_scoped, "PUBACK 0x87")(
            lambda topic=topic: S.paho_publish_refused(W.dev_a, "dev-a", topic))
    for filt in ["$aws/things/dev-b/shadow/name/cfg/update/delta",
                 "$aws/things/dev-b/shadow/name/+/get/accepted",
                 "$aws/things/dev-b/defender/metrics/json/accepted",
                 "$aws/things/dev-b/streams/fw/data/json"]:
        row("other things", f"SUBSCRIBE `{filt}`", thing_scoped, "SUBACK 0x87")(
            lambda filt=filt: S.paho_subscribe_refused(W.dev_a, "dev-a", filt))
    for topic in ["$aws/things/dev-b/shadow/name/cfg/update/accepted",
                  "$aws/things/dev-b/defender/metrics/json/accepted"]:
        row("other things", f"PUBLISH QoS 1 `{topic}` (forged service answer)",
            "demo (allow-all policy)", "PUBACK 0x87")(
            lambda topic=topic: S.paho_publish_refused(W.demo, "forger", topic))

    # API credentials other than the development one, off loopback.
    @row("api", "ListThings from a non-loopback address, the configured key id with a wrong "
         "secret", "AKIDSECURITY (boto3)", "HTTP 403 InvalidSignatureException")
    def _():
        return api_refused(lambda: open_iot(S, "AKIDSECURITY", "wrong").list_things(), 403)

    @row("api", "ListThings from a non-loopback address with an unknown key id",
         "AKIDUNKNOWN (AWS CLI)", "HTTP 403 UnrecognizedClientException")
    def _():
        env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDUNKNOWN", AWS_SECRET_ACCESS_KEY="s3cret",
                   AWS_CONFIG_FILE=os.path.join(S.TMP, "none"),
                   AWS_SHARED_CREDENTIALS_FILE=os.path.join(S.TMP, "none"),
                   AWS_EC2_METADATA_DISABLED="true", AWS_MAX_ATTEMPTS="1")
        env.pop("AWS_PROFILE", None)
        out = subprocess.run([S.CONFIG["aws"], "--endpoint-url", S.open_api(), "--region",
                              "us-east-1", "iot", "list-things"], capture_output=True, env=env,
                             timeout=60)
        err = out.stderr.decode().strip()
        return out.returncode != 0 and "(UnrecognizedClientException)" in err, err[:100] or "exit 0"


def controls(S):
    """What the new principals may do, or their refusals prove nothing: the authorizer's token
    connects and publishes to custom/*, the configured credential lists things off loopback."""
    c = custom(S, "custom-sec", "allow-sec", S.CONFIG["authorizer"]["signatures"]["allow-sec"])
    assert c.connack == 0, f"the authorizer's allowed token refused: {c.connack}"
    assert c.publish("custom/x", b"control") == 0, "the authorizer's own topic refused"
    c.close()
    open_iot(S, "AKIDSECURITY", "s3cret").list_things()
