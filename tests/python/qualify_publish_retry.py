"""A scripted device for `tether qualify`'s MQTT_Publish_Retry_No_Puback: a QoS 1 publisher that
re-sends an unacknowledged PUBLISH on the same connection, the way Device Advisor expects a
device to (or, with --no-dup, re-sends it without the DUP flag, a fault the test must catch).

Driven by crates/cli/tests/e2e/qualify.rs:

    python qualify_publish_retry.py HOST:PORT CERT KEY CA CLIENT_ID [--no-dup]

MQTT 3.1.1 over mutual TLS with the server's chain and host name verified. It sends CONNECT,
waits for CONNACK, publishes packet id 7 at QoS 1, waits half a second for its PUBACK, re-sends
it (DUP=1 unless --no-dup), and prints `acknowledged` when a PUBACK for id 7 arrives (exit 0) or
`no PUBACK` (exit 1). The packets are written out here on purpose: no client library lets a
program choose its DUP flag.
"""

import socket
import ssl
import struct
import sys

PACKET_ID = 7


def remaining_length(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def string(text):
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def packet(first, body):
    return bytes([first]) + remaining_length(len(body)) + body


def read_packet(sock):
    head = sock.recv(1)
    if not head:
        return None, b""
    length, shift = 0, 0
    while True:
        byte = sock.recv(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            return None, b""
        body += chunk
    return head[0] >> 4, body


def wait_puback(sock, seconds):
    sock.settimeout(seconds)
    try:
        while True:
            kind, body = read_packet(sock)
            if kind is None:
                return False
            if kind == 4 and struct.unpack("!H", body[:2])[0] == PACKET_ID:
                return True
    except (socket.timeout, TimeoutError):
        return False


def main():
    address, cert, key, ca, client_id = sys.argv[1:6]
    dup = "--no-dup" not in sys.argv[6:]
    host, port = address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    raw = socket.create_connection((host, int(port)), timeout=10)
    sock = context.wrap_socket(raw, server_hostname=host)
    # CONNECT: MQTT 3.1.1, clean session, keep-alive 60 s.
    sock.sendall(packet(0x10, string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) + string(client_id)))
    kind, body = read_packet(sock)
    if kind != 2 or body[1] != 0:
        print(f"refused: CONNACK {body!r}", flush=True)
        sys.exit(1)
    message = string("qualify/retry") + struct.pack("!H", PACKET_ID) + b"hello"
    sock.sendall(packet(0x32, message))
    if not wait_puback(sock, 0.5):
        sock.sendall(packet(0x3A if dup else 0x32, message))
        if not wait_puback(sock, 5):
            print("no PUBACK", flush=True)
            sys.exit(1)
    print("acknowledged", flush=True)
    sock.sendall(packet(0xE0, b""))
    sock.close()


if __name__ == "__main__":
    main()
