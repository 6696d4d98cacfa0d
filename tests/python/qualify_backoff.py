"""A scripted device for `tether qualify`'s MQTT_Connect_Exponential_Backoff_Retries: a client
that gives up on a CONNACK after a short wait and reconnects with exponential backoff and
"equal jitter" (AWS's "Exponential Backoff And Jitter": a delay drawn between half and all of
the doubled one), or, with --no-jitter, with strict doubling. With --paho-fixed-delay S it is
instead paho-mqtt's own client reconnecting after a fixed S seconds (reconnect_delay_set with
equal minimum and maximum), a device the test must fail.

Driven by crates/cli/tests/e2e/qualify.rs:

    python qualify_backoff.py HOST:PORT CERT KEY CA CLIENT_ID [--base S] [--connack-timeout S]
                              [--seed N] [--no-jitter] [--paho-fixed-delay S]

MQTT 3.1.1 over mutual TLS with the server's chain and host name verified. Each attempt sends
CONNECT and waits --connack-timeout seconds (0.3) for CONNACK; without one it closes the
connection and waits --base (0.15) × 2^attempt seconds, jittered, before the next. It prints
each delay, and `connected after N attempts` when a CONNACK accepts it (exit 0), or gives up
after ten attempts (exit 1). The random generator is seeded (--seed, 25) so that a test run's
delays are reproducible; the delays stay small so the test stays fast.
"""

import argparse
import random
import socket
import ssl
import struct
import sys
import time

from qualify_publish_retry import packet, read_packet, string


def attempt(context, host, port, client_id, wait):
    raw = socket.create_connection((host, port), timeout=10)
    sock = context.wrap_socket(raw, server_hostname=host)
    try:
        # CONNECT: MQTT 3.1.1, clean session, keep-alive 60 s.
        sock.sendall(packet(0x10, string("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 60) + string(client_id)))
        sock.settimeout(wait)
        try:
            kind, body = read_packet(sock)
        except (socket.timeout, TimeoutError, ConnectionError, ssl.SSLError):
            return False
        if kind == 2 and body[1] == 0:
            sock.sendall(packet(0xE0, b""))
            return True
        return False
    finally:
        sock.close()


def paho_fixed(host, port, cert, key, ca, client_id, delay):
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
    client.reconnect_delay_set(min_delay=delay, max_delay=delay)

    def on_connect(client, _userdata, _flags, reason_code, _properties):
        if not reason_code.is_failure:
            print("connected", flush=True)
            client.disconnect()

    client.on_connect = on_connect
    client.connect(host, port, 60)
    client.loop_forever(retry_first_connection=True)


def main():
    parser = argparse.ArgumentParser()
    for name in ["address", "cert", "key", "ca", "client_id"]:
        parser.add_argument(name)
    parser.add_argument("--base", type=float, default=0.15)
    parser.add_argument("--connack-timeout", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--no-jitter", action="store_true")
    parser.add_argument("--paho-fixed-delay", type=int)
    args = parser.parse_args()
    host, port = args.address.rsplit(":", 1)
    if args.paho_fixed_delay is not None:
        paho_fixed(host, int(port), args.cert, args.key, args.ca, args.client_id, args.paho_fixed_delay)
        return
    context = ssl.create_default_context(cafile=args.ca)
    context.load_cert_chain(args.cert, args.key)
    rng = random.Random(args.seed)
    for n in range(10):
        if attempt(context, host, int(port), args.client_id, args.connack_timeout):
            print(f"connected after {n + 1} attempts", flush=True)
            return
        delay = args.base * 2**n
        if not args.no_jitter:
            delay = rng.uniform(delay / 2, delay)
        print(f"no CONNACK; reconnecting in {delay:.3f} s", flush=True)
        time.sleep(delay)
    print("gave up", flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
