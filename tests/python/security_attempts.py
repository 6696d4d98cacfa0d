"""Security attempts against tether serve: every row an attempt that AWS IoT Core refuses.

Driven by crates/cli/tests/e2e/security.rs, which starts `tether serve --wss 127.0.0.1:0`, a
second `tether serve --api 0.0.0.0:0 --api-credential ...` for the API off loopback, writes the
dated certificates (expired, never registered, from a CA nobody registered) and runs:

    python security_attempts.py CONFIG_JSON

Each row is one attempt by one principal: the refusal AWS documents (CONNACK code, SUBACK or
PUBACK 0x87, the connection closed, an HTTP status and error type) is what the row expects, and
what came back is recorded. A row *succeeds* (a hole) when the attempt gets through: a message
delivered, a subscription that receives, a handshake that reaches CONNACK 0, an HTTP 200. Publish
attempts are checked at the receiving end too: an allow-all watcher subscribed to `#` and
`$aws/things/#` must never see the attempt's marker, which is proven by a sentinel published
after the attempt arriving first (messages from one router arrive in order, so no sleep is a
synchronisation). The clients themselves are in security_clients.py. Prints the rows as JSON on
stdout; exits 0 whether or not attempts succeeded
(the Rust test judges), non-zero only when the run itself could not be made.
"""

import datetime
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import boto3
import botocore.config
import botocore.exceptions

import security_more

from security_clients import (
    NOW, WAIT, Paho, clock_at, closed, code_name, configure, connect_packet, presign, publish_packet,
    raw_connect, read_packet, subscribe_packet, upgrade, ws_recv, ws_send,
)

ARN = "arn:aws:iot:us-east-1:123456789012"
CONFIG = json.load(open(sys.argv[1]))
HOST, PORT = CONFIG["mqtts"].rsplit(":", 1)
configure(CONFIG["ca"], CONFIG["mqtts"], CONFIG["wss"])
# Keys and certificates the run makes: in the test's own directory, removed with it.
TMP = tempfile.mkdtemp(prefix="security-attempts-", dir=CONFIG.get("tmp"))


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions, resources):
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


THING = "${iot:Connection.Thing.ThingName}"
# Thing-scoped: a device connects as its thing and uses its own topics, shadow and jobs.
THING_SCOPED = policy(
    allow("iot:Connect", f"{ARN}:client/{THING}"),
    allow(
        ["iot:Publish", "iot:Receive", "iot:RetainPublish"],
        [f"{ARN}:topic/things/{THING}/*", f"{ARN}:topic/$aws/things/{THING}/*"],
    ),
    allow(
        "iot:Subscribe",
        [f"{ARN}:topicfilter/things/{THING}/*", f"{ARN}:topicfilter/$aws/things/{THING}/*"],
    ),
)
# Any client id, thing-scoped topics: the thing name must come from the certificate's thing.
THING_TOPICS_ANY_CLIENT = policy(
    allow("iot:Connect", f"{ARN}:client/*"),
    allow(["iot:Publish", "iot:Receive"], f"{ARN}:topic/things/{THING}/*"),
    allow("iot:Subscribe", f"{ARN}:topicfilter/things/{THING}/*"),
)
# Client-id scoped topics under c/, any client id.
CLIENT_SCOPED = policy(
    allow("iot:Connect", f"{ARN}:client/*"),
    allow(["iot:Publish", "iot:Receive"], f"{ARN}:topic/c/${{iot:ClientId}}/*"),
    allow("iot:Subscribe", f"{ARN}:topicfilter/c/${{iot:ClientId}}/*"),
)
# Subscribe to anything, receive only open/*.
RECEIVE_NARROW = policy(
    allow("iot:Connect", f"{ARN}:client/wide"),
    allow("iot:Subscribe", f"{ARN}:topicfilter/*"),
    allow("iot:Receive", f"{ARN}:topic/open/*"),
)

iot = boto3.client(
    "iot",
    endpoint_url=CONFIG["api"],
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
    config=botocore.config.Config(retries={"total_max_attempts": 1}),
)


class Principal:
    """A certificate and key on disk, with the certificate's id and ARN when registered."""

    def __init__(self, name, cert, key, arn=None, cert_id=None):
        self.name, self.cert, self.key, self.arn, self.id = name, cert, key, arn, cert_id


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def new_principal(name, policy_name=None, thing=None, status_active=True):
    made = iot.create_keys_and_certificate(setAsActive=status_active)
    cert = write(f"{name}.crt", made["certificatePem"])
    key = write(f"{name}.key", made["keyPair"]["PrivateKey"])
    p = Principal(name, cert, key, made["certificateArn"], made["certificateId"])
    if policy_name:
        iot.attach_policy(policyName=policy_name, target=p.arn)
    if thing:
        iot.create_thing(thingName=thing)
        iot.attach_thing_principal(thingName=thing, principal=p.arn)
    return p


# ---------------------------------------------------------------- the rows

ROWS = []


def row(area, attempt, principal, expected):
    def register(fn):
        ROWS.append((area, attempt, principal, expected, fn))
        return fn

    return register


class World:
    pass


W = World()


def leaked(marker):
    """Whether the watcher saw `marker`: a sentinel published after the attempt must come first."""
    sentinel = f"sentinel-{uuid.uuid4()}".encode()
    W.demo_pub.publish("sentinel/x", sentinel)
    W.watcher.wait_message(sentinel)
    return bool(W.watcher.wait_message(marker, timeout=0))


def paho_subscribe_refused(principal, client_id, filt):
    c = Paho(principal, client_id)
    try:
        got = c.subscribe(filt)
        if isinstance(got, list) and got and got[0] >= 0x80:
            return True, f"SUBACK {code_name(got[0])}"
        return False, f"SUBACK {got}"
    finally:
        c.close()


def paho_publish_refused(principal, client_id, topic, retain=False):
    marker = f"attempt-{uuid.uuid4()}".encode()
    c = Paho(principal, client_id)
    try:
        got = c.publish(topic, marker, retain=retain)
    finally:
        c.close()
    if leaked(marker):
        return False, f"delivered to a subscriber (PUBACK {code_name(got)})"
    if isinstance(got, int) and got >= 0x80:
        return True, f"PUBACK {code_name(got)}, not delivered"
    return False, f"PUBACK {code_name(got)}"


# Topics: wildcards and reserved topics, MQTT 5 with paho (reason codes).
for filt in ["#", "things/+/data", "things/dev-b/#", "$aws/things/+/shadow/update/accepted",
             "$aws/events/#", "$aws/things/dev-b/jobs/notify-next",
             "$aws/things/dev-b/shadow/get/accepted"]:
    row("topics", f"SUBSCRIBE `{filt}`", "dev-a (thing-scoped)", "SUBACK 0x87")(
        lambda filt=filt: paho_subscribe_refused(W.dev_a, "dev-a", filt))

for topic in ["things/dev-b/data", "$aws/things/dev-b/shadow/update", "$aws/things/dev-b/jobs/get",
              "$aws/things/dev-b/jobs/start-next", "$aws/certificates/create/json",
              "$aws/provisioning-templates/fleet/provision/json"]:
    row("topics", f"PUBLISH QoS 1 `{topic}`", "dev-a (thing-scoped)", "PUBACK 0x87")(
        lambda topic=topic: paho_publish_refused(W.dev_a, "dev-a", topic))


@row("topics", "PUBLISH QoS 1 `things/dev-b/data` (mosquitto_pub, MQTT 3.1.1)",
     "dev-a (thing-scoped)", "connection closed")
def _():
    marker = f"attempt-{uuid.uuid4()}"
    out = subprocess.run(
        ["mosquitto_pub", "--cafile", CONFIG["ca"], "--cert", W.dev_a.cert, "--key", W.dev_a.key,
         "-h", HOST, "-p", str(PORT), "-i", "dev-a", "-t", "things/dev-b/data", "-m", marker,
         "-q", "1"], capture_output=True, timeout=30)
    if leaked(marker.encode()):
        return False, "delivered"
    if out.returncode == 0:
        return False, "mosquitto_pub exited 0 (PUBACK)"
    return True, f"connection closed (mosquitto_pub exit {out.returncode})"


@row("topics", "SUBSCRIBE `things/+/data` (raw MQTT 3.1.1)", "dev-a (thing-scoped)",
     "connection closed, no SUBACK")
def _():
    sock, code = raw_connect(W.dev_a, "dev-a")
    if sock is None or code != 0:
        return False, f"no session to try with: {code}"
    sock.sendall(subscribe_packet("things/+/data"))
    p = read_packet(sock)
    sock.close()
    if p is None:
        return True, "connection closed"
    if p[0] == 0x90:
        return False, f"SUBACK 0x{p[-1]:02X}"
    return False, f"packet 0x{p[0]:02X}"


@row("topics", "PUBLISH with a wildcard in the topic name `things/dev-a/#` (raw)",
     "dev-a (thing-scoped)", "connection closed")
def _():
    sock, code = raw_connect(W.dev_a, "dev-a")
    if sock is None or code != 0:
        return False, f"no session to try with: {code}"
    marker = f"attempt-{uuid.uuid4()}".encode()
    sock.sendall(publish_packet("things/dev-a/#", marker, qos=1))
    refused, got = closed(sock)
    return refused and not leaked(marker), got


@row("topics", "PUBLISH QoS 1 `$aws/events/presence/connected/dev-b` (forged lifecycle event)",
     "demo (allow-all policy)", "PUBACK 0x87")
def _():
    return paho_publish_refused(W.demo, "forger", "$aws/events/presence/connected/dev-b")


@row("topics", "PUBLISH QoS 1 `$aws/things/dev-b/shadow/update/accepted` (forged shadow answer)",
     "demo (allow-all policy)", "PUBACK 0x87")
def _():
    return paho_publish_refused(W.demo, "forger", "$aws/things/dev-b/shadow/update/accepted")


@row("topics", "PUBLISH QoS 0 `$aws/events/presence/disconnected/dev-b` (mosquitto_pub, 3.1.1)",
     "demo (allow-all policy)", "connection closed, not delivered")
def _():
    marker = f"attempt-{uuid.uuid4()}"
    out = subprocess.run(
        ["mosquitto_pub", "--cafile", CONFIG["ca"], "--cert", W.demo.cert, "--key", W.demo.key,
         "-h", HOST, "-p", str(PORT), "-i", "forger", "-t",
         "$aws/events/presence/disconnected/dev-b", "-m", marker], capture_output=True, timeout=30)
    # QoS 0 has no answer: mosquitto_pub's exit cannot tell; the watcher can.
    if leaked(marker.encode()):
        return False, f"delivered (mosquitto_pub exit {out.returncode})"
    return True, f"not delivered (mosquitto_pub exit {out.returncode})"


@row("retained/will", "CONNECT with a will on `$aws/events/presence/disconnected/dev-b`",
     "demo (allow-all policy)", "CONNACK 0x87")
def _():
    marker = f"attempt-{uuid.uuid4()}".encode()
    sock, code = raw_connect(W.demo, "will-forger", v5=True,
                             will=("$aws/events/presence/disconnected/dev-b", marker, False))
    if sock is None:
        return not leaked(marker), f"no CONNACK ({code})"
    sock.close()
    if leaked(marker):
        return False, f"CONNACK {code_name(code)}, will delivered"
    return code == 0x87, f"CONNACK {code_name(code)}"


# Spoofing the thing name and the client id.
@row("spoofing", "CONNECT as client id `dev-b` with dev-a's certificate",
     "dev-a (Connect on client/${iot:Connection.Thing.ThingName})", "CONNACK 0x87")
def _():
    c = Paho(W.dev_a, "dev-b")
    c.close()
    return c.connack == 0x87, f"CONNACK {code_name(c.connack)}"


@row("spoofing", "CONNECT as client id `dev-b` with dev-a's certificate (mosquitto_pub, 3.1.1)",
     "dev-a (Connect on client/${iot:Connection.Thing.ThingName})", "CONNACK 5")
def _():
    out = subprocess.run(
        ["mosquitto_pub", "--cafile", CONFIG["ca"], "--cert", W.dev_a.cert, "--key", W.dev_a.key,
         "-h", HOST, "-p", str(PORT), "-i", "dev-b", "-t", "things/dev-b/data", "-m", "x"],
        capture_output=True, timeout=30)
    return out.returncode == 5, f"mosquitto_pub exit {out.returncode} {out.stderr.decode().strip()[:60]}"


@row("spoofing", "CONNECT as client id `dev-a` with a certificate attached to no thing",
     "orphan (thing-scoped policy, no thing)", "CONNACK 0x87")
def _():
    c = Paho(W.orphan, "dev-a")
    c.close()
    return c.connack == 0x87, f"CONNACK {code_name(c.connack)}"


@row("spoofing", "CONNECT as client id `dev-b` (another thing's name), PUBLISH `things/dev-b/data`",
     "dev-c (Connect on client/*, topics things/${iot:Connection.Thing.ThingName}/*)", "PUBACK 0x87")
def _():
    return paho_publish_refused(W.dev_c, "dev-b", "things/dev-b/data")


@row("spoofing", "CONNECT as client id `dev-b`, SUBSCRIBE `things/dev-b/#`",
     "dev-c (Connect on client/*, topics things/${iot:Connection.Thing.ThingName}/*)", "SUBACK 0x87")
def _():
    return paho_subscribe_refused(W.dev_c, "dev-b", "things/dev-b/#")


@row("spoofing", "client id `sensor-1` PUBLISH `c/sensor-2/x`",
     "loose (topics c/${iot:ClientId}/*)", "PUBACK 0x87")
def _():
    return paho_publish_refused(W.loose, "sensor-1", "c/sensor-2/x")


@row("spoofing", "client id `*` PUBLISH `c/sensor-2/x` (a policy wildcard as the variable's value)",
     "loose (topics c/${iot:ClientId}/*)", "PUBACK 0x87")
def _():
    return paho_publish_refused(W.loose, "*", "c/sensor-2/x")


@row("spoofing", "client id `?` PUBLISH `c/x/y`",
     "loose (topics c/${iot:ClientId}/*)", "PUBACK 0x87")
def _():
    return paho_publish_refused(W.loose, "?", "c/x/y")


def receives_nothing(principal, client_id, filters, topic, retained=False):
    """Subscribes `filters`, then the demo publishes to `topic`: nothing may arrive."""
    marker = f"attempt-{uuid.uuid4()}".encode()
    if retained:
        W.demo_pub.publish(topic, marker, retain=True)
    c = Paho(principal, client_id)
    try:
        acks = [c.subscribe(f) for f in filters]
        if not retained:
            W.demo_pub.publish(topic, marker)
        # A control message the principal may receive, published after: its arrival means the
        # attempt's message would have arrived before it.
        control = f"control-{uuid.uuid4()}".encode()
        W.demo_pub.publish("open/control", control)
        c.wait_message(control)
        got = c.wait_message(marker, timeout=0)
        if got:
            return False, f"delivered {len(got)}× (SUBACK {acks})"
        return True, f"not delivered (SUBACK {acks})"
    finally:
        c.close()
        if retained:
            W.demo_pub.publish(topic, b"", retain=True)


@row("overlap", "SUBSCRIBE `#`, receive `secret/x`", "wide (Subscribe *, Receive open/*)",
     "not delivered (iot:Receive per message)")
def _():
    return receives_nothing(W.wide, "wide", ["#"], "secret/x")


@row("overlap", "SUBSCRIBE `open/#` and `#` overlapping, receive `secret/y`",
     "wide (Subscribe *, Receive open/*)", "not delivered")
def _():
    return receives_nothing(W.wide, "wide", ["open/#", "#"], "secret/y")


@row("overlap", "SUBSCRIBE `$share/g/#`, receive `secret/z`", "wide (Subscribe *, Receive open/*)",
     "not delivered")
def _():
    return receives_nothing(W.wide, "wide", ["$share/g/#", "open/#"], "secret/z")


@row("overlap", "SUBSCRIBE `secret/r` exactly, receive its retained message",
     "wide (Subscribe *, Receive open/*)", "not delivered")
def _():
    return receives_nothing(W.wide, "wide", ["secret/r", "open/#"], "secret/r", retained=True)


@row("overlap", "client id `+` SUBSCRIBE `c/+/#`, receive `c/sensor-2/x`",
     "loose (topics c/${iot:ClientId}/*)", "not delivered (+ is literal in policies)")
def _():
    c = Paho(W.loose, "+")
    marker = f"attempt-{uuid.uuid4()}".encode()
    try:
        acks = c.subscribe("c/+/#")
        W.demo_pub.publish("c/sensor-2/x", marker)
        leaked(marker)
        # This principal can receive nothing at all, so no control message can follow the
        # attempt to it: the watcher's sentinel (routed after) has arrived, and a copy for this
        # client, routed in the same pass, is given a further second.
        got = c.wait_message(marker, timeout=1.0)
        return not got, f"{'delivered' if got else 'not delivered'} (SUBACK {acks})"
    finally:
        c.close()


@row("retained/will", "PUBLISH retained `things/dev-b/state`, then a new subscriber reads it",
     "dev-a (thing-scoped)", "PUBACK 0x87, nothing retained")
def _():
    refused, got = paho_publish_refused(W.dev_a, "dev-a", "things/dev-b/state", retain=True)
    reader = Paho(W.demo, "retained-reader")
    try:
        reader.subscribe("sentinel/r")
        reader.subscribe("things/dev-b/state")
        # A stored message is sent when the subscription is made, before a sentinel routed after.
        control = f"control-{uuid.uuid4()}".encode()
        W.demo_pub.publish("sentinel/r", control)
        reader.wait_message(control)
        retained = [m for m in reader.messages if m[0] == "things/dev-b/state"]
    finally:
        reader.close()
    if retained:
        return False, f"{got}; a retained message was stored"
    return refused, got + ", nothing retained"


def will_attempt(topic, v5):
    marker = f"attempt-{uuid.uuid4()}".encode()
    sock, code = raw_connect(W.dev_a, "dev-a", v5=v5, will=(topic, marker, False))
    if sock is None:
        return True, f"no connection ({code})"
    if code != 0:
        return not leaked(marker), f"CONNACK {code_name(code)}"
    # Drop the socket without DISCONNECT: the will fires if it was accepted.
    sock.close()
    # Wait for the server to see the close: the next connection of dev-a gets CONNACK.
    again, code2 = raw_connect(W.dev_a, "dev-a")
    if again is not None:
        again.close()
    if leaked(marker):
        return False, "will delivered"
    return True, "CONNACK 0x00, will not delivered"


@row("retained/will", "CONNECT with a will on `things/dev-b/will`, then drop the socket",
     "dev-a (thing-scoped)", "CONNACK 5, or the will not published")
def _():
    return will_attempt("things/dev-b/will", v5=False)


@row("retained/will", "CONNECT (MQTT 5) with a will on `$aws/things/dev-b/shadow/update`",
     "dev-a (thing-scoped)", "CONNACK 0x87, or the will not published")
def _():
    return will_attempt("$aws/things/dev-b/shadow/update", v5=True)


@row("provisioning", "SUBSCRIBE `$aws/certificates/create/json/accepted` and read another "
     "client's new certificate", "demo (allow-all policy), second client",
     "not delivered (answered to the requester only)")
def _():
    requester = Paho(W.demo, "requester")
    spy = Paho(W.demo, "spy")
    try:
        requester.subscribe("$aws/certificates/create/json/accepted")
        spy.subscribe("$aws/certificates/create/json/accepted")
        spy.subscribe("sentinel/spy")
        requester.publish("$aws/certificates/create/json", b"{}")
        mine = requester.wait_message(b"certificateOwnershipToken")
        if not mine:
            return False, "the requester got no answer: nothing to compare"
        # A sentinel routed after the answer reaches the spy after any copy of the answer.
        sentinel = f"sentinel-{uuid.uuid4()}".encode()
        W.demo_pub.publish("sentinel/spy", sentinel)
        spy.wait_message(sentinel)
        spy_saw = spy.wait_message(b"certificateOwnershipToken", timeout=0)
        return not spy_saw, "delivered to the spy" if spy_saw else "only the requester got it"
    finally:
        requester.close()
        spy.close()


# Certificates.
def handshake_refused(principal):
    if principal.name == "expired":
        # The clock, not an event, is what this row waits for.
        time.sleep(max(0.0, CONFIG["expired_at"] + 1.5 - time.time()))
    sock, code = raw_connect(principal, principal.name)
    if sock is None:
        return True, code
    sock.close()
    return code != 0, f"CONNACK {code_name(code)}"


for label in ["revoked", "inactive", "pending-transfer", "unregistered", "unregistered-ca",
              "inactive-ca"]:
    what = {
        "revoked": "a REVOKED certificate",
        "inactive": "an INACTIVE certificate",
        "pending-transfer": "a PENDING_TRANSFER certificate",
        "unregistered": "a certificate of tether's CA never registered",
        "unregistered-ca": "a certificate issued by a CA nobody registered",
        "inactive-ca": "an unregistered certificate of a CA with auto-registration, set INACTIVE",
    }[label]
    row("certificates", f"TLS + CONNECT with {what}", label, "handshake refused, no CONNACK")(
        lambda label=label: handshake_refused(W.certs[label]))


@row("certificates", "RegisterCertificate of a certificate whose CA is INACTIVE",
     "dev credential (boto3)", "HTTP 406 CertificateStateException")
def _():
    refused, got = api_refused(lambda: iot.register_certificate(
        certificatePem=W.fleet_unregistered_pem, setAsActive=True), status=406)
    listed = iot.list_certificates_by_ca(caCertificateId=W.fleet_ca)["certificates"]
    if len(listed) != 1:
        return False, f"{got}; the CA now has {len(listed)} certificates"
    return refused, got


# SigV4: the API and presigned WebSocket URLs.
def skewed(seconds):
    return clock_at(lambda: NOW() + datetime.timedelta(seconds=seconds))


def signed_iot(secret="test"):
    return boto3.client(
        "iot", endpoint_url=CONFIG["api"], region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"total_max_attempts": 1}))


def skewed_call(seconds):
    client = signed_iot()
    with skewed(seconds):
        return client.list_things()


def api_refused(call, status=403):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        got = e.response["ResponseMetadata"]["HTTPStatusCode"]
        code = e.response["Error"]["Code"]
        return got == status, f"HTTP {got} {code}"
    except botocore.exceptions.BotoCoreError as e:
        return False, f"no answer: {e}"
    return False, "HTTP 200"


for seconds, words in [(-16 * 60, "16 minutes in the past"), (16 * 60, "16 minutes in the future")]:
    row("sigv4", f"ListThings signed {words}", "dev credential on loopback",
        "HTTP 403 InvalidSignatureException")(
        lambda seconds=seconds: api_refused(lambda: skewed_call(seconds)))


@row("sigv4", "ListThings with a wrong secret key", "dev credential on loopback",
     "HTTP 403 InvalidSignatureException")
def _():
    return api_refused(lambda: signed_iot(secret="wrong").list_things())


def wss_refused(target):
    sock, line, rest = upgrade(target)
    if not line.startswith("HTTP/1.1 101"):
        sock.close()
        return line.startswith("HTTP/1.1 403"), line
    # Switched (a custom authorizer could still be named in the CONNECT): the session is what
    # must not open.
    ws_send(sock, connect_packet("wss-unsigned", v5=False))
    ack = ws_recv(sock, rest)
    sock.close()
    if ack is None:
        return True, f"{line[9:]}, then closed before CONNACK"
    return ack[0] == 0x20 and ack[-1] != 0, f"{line[9:]}, then CONNACK {ack[-1]}"


row("sigv4", "wss upgrade, URL presigned 10 min ago with X-Amz-Expires=300", "dev credential",
    "HTTP 403")(lambda: wss_refused(presign(NOW() - datetime.timedelta(minutes=10), 300)))
row("sigv4", "wss upgrade, URL presigned 20 min in the future", "dev credential", "HTTP 403")(
    lambda: wss_refused(presign(NOW() + datetime.timedelta(minutes=20), 300)))
row("sigv4", "wss upgrade, X-Amz-Expires raised from 60 to 86400 after signing 5 min ago",
    "dev credential", "HTTP 403")(
    lambda: wss_refused(presign(NOW() - datetime.timedelta(minutes=5), 60)
                        .replace("X-Amz-Expires=60", "X-Amz-Expires=86400")))
row("sigv4", "wss upgrade, URL presigned with a wrong secret key", "dev credential", "HTTP 403")(
    lambda: wss_refused(presign(NOW(), 300, secret="wrong")))
row("sigv4", "wss upgrade without any signature, then CONNECT", "none",
    "no session: HTTP 403, or 101 and CONNACK refused (custom authorizers sign in the CONNECT)")(
    lambda: wss_refused("/mqtt"))


# The control plane off loopback.
def open_api():
    return f"http://{CONFIG['external_ip']}:{CONFIG['open_api_port']}"


def http_get(url):
    """(status, body) of an unsigned GET."""
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as answer:
            return answer.status, answer.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


@row("api", "GET /things unsigned, from a non-loopback address", "none",
     "HTTP 403 MissingAuthenticationTokenException")
def _():
    status, body = http_get(f"{open_api()}/things")
    return status == 403 and "Missing Authentication Token" in body, f"HTTP {status} {body[:60]}"


@row("api", "ListThings with the dev credential test/test, from a non-loopback address",
     "dev credential (AWS CLI)", "HTTP 403 UnrecognizedClientException")
def _():
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_CONFIG_FILE=os.path.join(TMP, "none"),
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(TMP, "none"),
               AWS_EC2_METADATA_DISABLED="true", AWS_MAX_ATTEMPTS="1")
    env.pop("AWS_PROFILE", None)
    out = subprocess.run([CONFIG["aws"], "--endpoint-url", open_api(), "--region", "us-east-1",
                          "iot", "list-things"], capture_output=True, env=env, timeout=60)
    err = out.stderr.decode().strip()
    refused = out.returncode != 0 and "(UnrecognizedClientException)" in err
    return refused, err[:100] or "exit 0"


@row("api", "the web console /console from a non-loopback address without a login", "none",
     "HTTP 401 or a login page")
def _():
    status, _ = http_get(f"{open_api()}/console/api/sessions")
    return status in (401, 403), f"HTTP {status}"


# Custom authorizers, HTTPS with a device certificate, other things' named shadows, Defender and
# streams topics, other API credentials off loopback.
security_more.add(sys.modules[__name__])


# Last, so that the rows before it pass the time until the certificate expires.
row("certificates", "TLS + CONNECT with an expired certificate (registered, ACTIVE)", "expired",
    "handshake refused, no CONNACK")(lambda: handshake_refused(W.certs["expired"]))


# ---------------------------------------------------------------- setup and run


def setup():
    # First, while it is still valid (AWS refuses to register an expired certificate): the
    # certificate that expires a few seconds later and is tried last.
    expired = CONFIG["expired"]
    made = iot.register_certificate_without_ca(certificatePem=open(expired["cert"]).read(),
                                               status="ACTIVE")
    iot.attach_policy(policyName="tether-dev-allow-all", target=made["certificateArn"])
    iot.create_policy(policyName="thing-scoped", policyDocument=THING_SCOPED)
    iot.create_policy(policyName="thing-topics-any-client", policyDocument=THING_TOPICS_ANY_CLIENT)
    iot.create_policy(policyName="client-scoped", policyDocument=CLIENT_SCOPED)
    iot.create_policy(policyName="receive-narrow", policyDocument=RECEIVE_NARROW)
    W.demo = Principal("demo", CONFIG["demo_cert"], CONFIG["demo_key"])
    W.dev_a = new_principal("dev-a", "thing-scoped", "dev-a")
    W.dev_b = new_principal("dev-b", "thing-scoped", "dev-b")
    W.dev_c = new_principal("dev-c", "thing-topics-any-client", "dev-c")
    W.orphan = new_principal("orphan", "thing-scoped")
    W.loose = new_principal("loose", "client-scoped")
    W.wide = new_principal("wide", "receive-narrow")
    W.certs = {}
    revoked = new_principal("revoked", "tether-dev-allow-all")
    iot.update_certificate(certificateId=revoked.id, newStatus="REVOKED")
    W.certs["revoked"] = revoked
    W.certs["inactive"] = new_principal("inactive", "tether-dev-allow-all", status_active=False)
    pending = new_principal("pending-transfer", "tether-dev-allow-all")
    # tether has no TransferCertificate: the status is written where the API would write it.
    db = sqlite3.connect(CONFIG["database"])
    db.execute("UPDATE certificates SET status = 'PENDING_TRANSFER' WHERE id = ?", (pending.id,))
    db.commit()
    db.close()
    W.certs["pending-transfer"] = pending
    for label in ["expired", "unregistered", "unregistered-ca"]:
        f = CONFIG[label]
        W.certs[label] = Principal(label, f["cert"], f["key"])
    # A registered CA with auto-registration (JITR), one of its certificates registered and
    # ACTIVE: it connects. Then the CA is set INACTIVE.
    fleet = CONFIG["fleet"]
    ca = iot.register_ca_certificate(
        caCertificate=open(fleet["ca"]).read(),
        verificationCertificate=open(fleet["verification"]).read(), setAsActive=True,
        allowAutoRegistration=True)
    W.fleet_ca = ca["certificateId"]
    registered, unregistered = fleet["devices"]
    device = iot.register_certificate(certificatePem=open(registered["cert"]).read(),
                                      setAsActive=True)
    iot.attach_policy(policyName="tether-dev-allow-all", target=device["certificateArn"])
    W.fleet_registered = Principal("fleet-registered", registered["cert"], registered["key"])
    W.certs["inactive-ca"] = Principal("inactive-ca", unregistered["cert"], unregistered["key"])
    W.fleet_unregistered_pem = open(unregistered["cert"]).read()
    iot.update_ca_certificate(certificateId=W.fleet_ca, newStatus="INACTIVE")
    W.watcher = Paho(W.demo, "watcher")
    for filt in ["#", "$aws/things/#", "$aws/events/#", "$aws/certificates/#"]:
        W.watcher.subscribe(filt)
    W.demo_pub = Paho(W.demo, "demo-publisher")
    security_more.setup(sys.modules[__name__])


def main():
    setup()
    # Controls: each principal can do what its policy allows, or the refusals prove nothing.
    control = Paho(W.dev_a, "dev-a")
    assert control.connack == 0, f"dev-a's own CONNECT refused: {control.connack}"
    assert control.subscribe("things/dev-a/#") == [1], "dev-a's own SUBSCRIBE refused"
    assert control.publish("things/dev-a/data", b"control") == 0, "dev-a's own PUBLISH refused"
    control.close()
    wide = Paho(W.wide, "wide")
    assert wide.subscribe("#") == [1], "wide's SUBSCRIBE # refused"
    W.demo_pub.publish("open/x", b"wide-control")
    assert wide.wait_message(b"wide-control"), "wide receives nothing on open/x"
    wide.close()
    loose = Paho(W.loose, "sensor-1")
    assert loose.publish("c/sensor-1/x", b"loose-control") == 0, "loose's own PUBLISH refused"
    loose.close()
    # AWS: certificates registered before their CA was set INACTIVE keep working
    # (developerguide/deactivate-ca-cert.md).
    sock, code = raw_connect(W.fleet_registered, "fleet-registered")
    assert sock is not None and code == 0, f"a registered certificate of an INACTIVE CA: {code}"
    sock.close()
    security_more.controls(sys.modules[__name__])
    # AWS accepts a signature up to 15 minutes off: the skew rows are just outside it.
    for seconds in (-14 * 60, 14 * 60):
        skewed_call(seconds)
    rows = []
    for area, attempt, principal, expected, fn in ROWS:
        try:
            refused, got = fn()
        except Exception as e:  # a row that could not be judged is not a refusal
            refused, got = False, f"error: {type(e).__name__}: {e}"
        rows.append({"area": area, "attempt": attempt, "principal": principal,
                     "expected": expected, "got": got, "refused": bool(refused)})
        print(f"{'refused ' if refused else 'SUCCEEDED'} {attempt}: {got}", file=sys.stderr)
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
