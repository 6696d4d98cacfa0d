"""The clients of tests/python/security_attempts.py: raw MQTT 3.1.1/5 packets over mutual TLS
(what a real client will not send: wildcards in topic names, wills to any topic), a paho-mqtt
session that waits for each acknowledgement, botocore signers with a moved clock, presigned
WebSocket URLs and a minimal WebSocket client. Judges nothing: the rows do.
"""

import datetime
import os
import socket
import ssl
import struct
import threading

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import paho.mqtt.client as mqtt

WAIT = 10.0
# Where the server is: set by `configure`.
TARGET = {}


def configure(ca, mqtts, wss):
    host, port = mqtts.rsplit(":", 1)
    TARGET.update(ca=ca, host=host, port=int(port), wss=wss)


# ---------------------------------------------------------------- raw MQTT


def tls(principal, alpn=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(TARGET["ca"])
    ctx.load_cert_chain(principal.cert, principal.key)
    if alpn:
        ctx.set_alpn_protocols([alpn])
    raw = socket.create_connection((TARGET['host'], TARGET['port']), timeout=WAIT)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def mqtt_string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def varint(n):
    out = b""
    while True:
        byte, n = n % 128, n // 128
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def connect_packet(client_id, v5=False, will=None, clean=True):
    flags = 0x02 if clean else 0
    payload = mqtt_string(client_id)
    if will:
        topic, message, retain = will
        flags |= 0x04 | 0x08 | (0x20 if retain else 0)
        payload += (b"\x00" if v5 else b"") + mqtt_string(topic) + mqtt_string(message)
    head = mqtt_string("MQTT") + bytes([5 if v5 else 4, flags]) + struct.pack("!H", 60)
    return packet(0x10, head + (b"\x00" if v5 else b"") + payload)


def publish_packet(topic, payload, qos=0, retain=False, v5=False, pid=1):
    body = mqtt_string(topic) + (struct.pack("!H", pid) if qos else b"")
    body += (b"\x00" if v5 else b"") + payload
    return packet(0x30 | (qos << 1) | (1 if retain else 0), body)


def subscribe_packet(filt, v5=False, pid=1):
    body = struct.pack("!H", pid) + (b"\x00" if v5 else b"") + mqtt_string(filt) + b"\x01"
    return packet(0x82, body)


def read_packet(sock):
    """One packet, or None when the connection closed or failed."""
    try:
        first = sock.recv(1)
        if not first:
            return None
        length, shift = 0, 0
        while True:
            b = sock.recv(1)
            if not b:
                return None
            length |= (b[0] & 0x7F) << shift
            shift += 7
            if not b[0] & 0x80:
                break
        body = b""
        while len(body) < length:
            chunk = sock.recv(length - len(body))
            if not chunk:
                return None
            body += chunk
        return first + body
    except (OSError, ssl.SSLError):
        return None


def raw_connect(principal, client_id, v5=False, will=None):
    """(socket, CONNACK code) or (None, why) when no CONNACK came."""
    try:
        sock = tls(principal)
        sock.sendall(connect_packet(client_id, v5, will))
    except (OSError, ssl.SSLError) as e:
        return None, f"TLS refused ({type(e).__name__}: {str(e)[:60]})"
    ack = read_packet(sock)
    if ack is None:
        return None, "closed before CONNACK"
    # The packet is its first byte and body: CONNACK's flags, then its code.
    return sock, ack[2]


def closed(sock):
    """True when the server closes `sock` (no packet other than a DISCONNECT comes)."""
    while True:
        p = read_packet(sock)
        if p is None:
            return True, "connection closed"
        if p[0] == 0xE0:
            return True, f"DISCONNECT 0x{p[1]:02X}" if len(p) > 1 else "DISCONNECT"
        if p[0] in (0x40,):
            return False, "PUBACK 0x00"


# ---------------------------------------------------------------- paho


class Paho:
    """A paho-mqtt client connected with a principal, waiting for each acknowledgement."""

    def __init__(self, principal, client_id, v5=True, will=None, authorizer=None):
        """`authorizer` = (port, user name): MQTT with a custom authorizer instead of a
        certificate, on ALPN `mqtt` of the port-443 listener, the token in the user name."""
        self.c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        )
        port = TARGET['port']
        if authorizer:
            port, user = authorizer
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.load_verify_locations(TARGET["ca"])
            ctx.check_hostname = False
            ctx.set_alpn_protocols(["mqtt"])
            self.c.tls_set_context(ctx)
            self.c.username_pw_set(user, "secret")
        else:
            self.c.tls_set(ca_certs=TARGET["ca"], certfile=principal.cert, keyfile=principal.key)
            self.c.tls_insecure_set(True)
        self.events = {}
        self.cond = threading.Condition()
        self.messages = []
        self.c.on_connect = lambda c, u, f, rc, p: self._event("connack", rc.value)
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self._event(
            ("suback", mid), [rc.value for rc in rcs]
        )
        self.c.on_publish = lambda c, u, mid, rc, p: self._event(("puback", mid), rc.value)
        self.c.on_disconnect = lambda c, u, f, rc, p: self._event("disconnect", rc.value)
        self.c.on_message = self._message
        if will:
            self.c.will_set(will[0], will[1], qos=0, retain=will[2])
        self.c.connect(TARGET['host'], port, keepalive=60)
        self.c.loop_start()
        self.connack = self.wait("connack")

    def _event(self, key, value):
        with self.cond:
            self.events.setdefault(key, value)
            self.cond.notify_all()

    def _message(self, c, u, msg):
        with self.cond:
            self.messages.append((msg.topic, bytes(msg.payload), msg.retain))
            self.cond.notify_all()

    def wait(self, key, timeout=WAIT):
        with self.cond:
            self.cond.wait_for(lambda: key in self.events or "disconnect" in self.events, timeout)
            if key in self.events:
                return self.events[key]
            return ("disconnect", self.events.get("disconnect"))

    def subscribe(self, filt):
        _, mid = self.c.subscribe(filt, qos=1)
        return self.wait(("suback", mid))

    def publish(self, topic, payload, retain=False):
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        return self.wait(("puback", info.mid))

    def wait_message(self, needle, timeout=WAIT):
        with self.cond:
            self.cond.wait_for(lambda: any(needle in m[1] for m in self.messages), timeout)
            return [m for m in self.messages if needle in m[1]]

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def code_name(value):
    return f"0x{value:02X}" if isinstance(value, int) else str(value)


# ---------------------------------------------------------------- SigV4 and WebSockets

def NOW():
    return datetime.datetime.now(datetime.timezone.utc)


SIGNERS = [botocore.auth]
try:  # botocore signs with awscrt when it is installed (the venv has it, for awsiotsdk)
    import botocore.crt.auth

    SIGNERS.append(botocore.crt.auth)
except ImportError:
    pass


class clock_at:
    """Every botocore signer reads `at()` as the time while this is entered."""

    def __init__(self, at):
        self.at = at

    def __enter__(self):
        self.real = [m.get_current_datetime for m in SIGNERS]
        for m in SIGNERS:
            m.get_current_datetime = lambda remove_tzinfo=True: (
                self.at().replace(tzinfo=None) if remove_tzinfo else self.at())

    def __exit__(self, *exc):
        for m, real in zip(SIGNERS, self.real):
            m.get_current_datetime = real


def presign(signed_at, expires, secret="test"):
    host = f"localhost:{TARGET['wss'].rsplit(':', 1)[1]}"
    request = botocore.awsrequest.AWSRequest(method="GET", url=f"https://{host}/mqtt")
    creds = botocore.credentials.Credentials("test", secret)
    signer = botocore.auth.SigV4QueryAuth(creds, "iotdevicegateway", "us-east-1", expires=expires)
    with clock_at(lambda: signed_at):
        signer.add_auth(request)
    return request.url.split(host, 1)[1]


def upgrade(target):
    """A WebSocket upgrade of `target`: the socket, the answer's head and what followed it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(TARGET["ca"])
    whost, wport = TARGET["wss"].rsplit(":", 1)
    sock = ctx.wrap_socket(socket.create_connection((whost, int(wport)), timeout=WAIT),
                           server_hostname="localhost")
    sock.sendall(
        f"GET {target} HTTP/1.1\r\nHost: localhost:{wport}\r\nConnection: Upgrade\r\n"
        "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
        .encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    return sock, head.split(b"\r\n", 1)[0].decode(errors="replace"), rest


def ws_send(sock, data):
    mask = os.urandom(4)
    n = len(data)
    head = bytes([0x82]) + (bytes([0x80 | n]) if n < 126 else bytes([0xFE]) + struct.pack("!H", n))
    sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def ws_recv(sock, buffered):
    """One WebSocket message's payload, or None at close."""
    data = buffered
    try:
        while True:
            if len(data) >= 2:
                n = data[1] & 0x7F
                offset = 2
                if n == 126 and len(data) >= 4:
                    n, offset = struct.unpack("!H", data[2:4])[0], 4
                if len(data) >= offset + n and n != 126:
                    if data[0] & 0x0F == 0x8:
                        return None
                    return data[offset:offset + n]
            chunk = sock.recv(4096)
            if not chunk:
                return None
            data += chunk
    except (OSError, ssl.SSLError):
        return None
