"""A scripted device for `tether qualify`'s MQTT_No_Ack_PingResp: a client with a 1 s keep-alive
that closes the connection when its PINGREQ gets no PINGRESP within a second, as Device Advisor
expects (or, with --ignore-pingresp, keeps pinging an endpoint that never answers, the fault the
test must catch).

Driven by crates/cli/tests/e2e/qualify.rs:

    python qualify_keepalive.py HOST:PORT CERT KEY CA CLIENT_ID [--ignore-pingresp]

MQTT 3.1.1 over mutual TLS with the server's chain and host name verified. After CONNACK it
sends PINGREQ every second; without a PINGRESP it prints `no PINGRESP: closing` and exits 0, or
with --ignore-pingresp pings on for up to 30 s.
"""

import socket
import ssl
import struct
import sys
import time

from qualify_publish_retry import packet, read_packet, string

KEEP_ALIVE = 1


def main():
    address, cert, key, ca, client_id = sys.argv[1:6]
    ignore = "--ignore-pingresp" in sys.argv[6:]
    host, port = address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    raw = socket.create_connection((host, int(port)), timeout=10)
    sock = context.wrap_socket(raw, server_hostname=host)
    sock.sendall(packet(0x10, string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", KEEP_ALIVE) + string(client_id)))
    kind, body = read_packet(sock)
    if kind != 2 or body[1] != 0:
        print(f"refused: CONNACK {body!r}", flush=True)
        sys.exit(1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sock.sendall(packet(0xC0, b""))
        sock.settimeout(KEEP_ALIVE)
        try:
            kind, _ = read_packet(sock)
        except (socket.timeout, TimeoutError):
            kind = None
        if kind == 13:
            time.sleep(KEEP_ALIVE)
            continue
        if not ignore:
            print("no PINGRESP: closing", flush=True)
            sock.close()
            return
    print("kept the connection without PINGRESP", flush=True)


if __name__ == "__main__":
    main()
