"""A scripted device for `tether qualify`'s MQTT_Subscribe_Retry_No_Suback: a subscriber that
retries an unacknowledged SUBSCRIBE on the same connection with the same packet id, as Device
Advisor expects (or, with --new-id, with another packet id, a fault the test must catch).

Driven by crates/cli/tests/e2e/qualify.rs:

    python qualify_subscribe_retry.py HOST:PORT CERT KEY CA CLIENT_ID [--new-id]

MQTT 3.1.1 over mutual TLS with the server's chain and host name verified. It sends CONNECT,
waits for CONNACK, subscribes to qualify/commands at QoS 1 with packet id 9, waits half a
second for the SUBACK, re-sends the SUBSCRIBE (packet id 9, or 10 with --new-id), and prints
`subscribed` when a SUBACK arrives (exit 0) or `no SUBACK` (exit 1). The packet framing is
shared with qualify_publish_retry.py.
"""

import socket
import ssl
import struct
import sys

from qualify_publish_retry import packet, read_packet, string

PACKET_ID = 9


def wait_suback(sock, seconds):
    sock.settimeout(seconds)
    try:
        while True:
            kind, body = read_packet(sock)
            if kind is None:
                return None
            if kind == 9:
                return struct.unpack("!H", body[:2])[0]
    except (socket.timeout, TimeoutError):
        return None


def subscribe(packet_id):
    return packet(0x82, struct.pack("!H", packet_id) + string("qualify/commands") + bytes([1]))


def main():
    address, cert, key, ca, client_id = sys.argv[1:6]
    retry_id = PACKET_ID + 1 if "--new-id" in sys.argv[6:] else PACKET_ID
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
    sock.sendall(subscribe(PACKET_ID))
    acked = wait_suback(sock, 0.5)
    if acked is None:
        sock.sendall(subscribe(retry_id))
        acked = wait_suback(sock, 5)
    if acked is None:
        print("no SUBACK", flush=True)
        sys.exit(1)
    print(f"subscribed (SUBACK for packet id {acked})", flush=True)
    sock.sendall(packet(0xE0, b""))
    sock.close()


if __name__ == "__main__":
    main()
