"""A reference device for `tether qualify`: one connection attempt with a real Python client.

Driven by crates/cli/tests/e2e/qualify.rs, which starts `tether qualify` and runs, once per
test it announces:

    python qualify_device.py CLIENT HOST:PORT CERT KEY CA CLIENT_ID [--insecure] [--keepalive N]
                             [--tls12-ciphers LIST]

CLIENT is `awsiotsdk` (the AWS IoT Device SDK v2's MQTT 3.1.1 connection built by
mqtt_connection_builder.mtls_from_path, as AWS's samples build it: it verifies the server's
chain and host name) or `paho` (paho-mqtt with tls_set; with --insecure it trusts any server
certificate, as a device built with certificate checks turned off does: CERT_NONE and no host
name check); with --tls12-ciphers (paho only) it offers TLS 1.2 alone with exactly the OpenSSL
cipher LIST, as a device stack built with a fixed suite list does. Prints `connected` and exits 0 when CONNACK accepted the connection, prints
`refused: ERROR` and exits 1 otherwise.
"""

import ssl
import sys
import threading

TIMEOUT = 10


def awsiotsdk(host, port, cert, key, ca, client_id, keepalive):
    from awsiot import mqtt_connection_builder

    connection = mqtt_connection_builder.mtls_from_path(
        endpoint=host,
        port=port,
        cert_filepath=cert,
        pri_key_filepath=key,
        ca_filepath=ca,
        client_id=client_id,
        clean_session=True,
        keep_alive_secs=keepalive,
    )
    connection.connect().result(TIMEOUT)
    connection.disconnect().result(TIMEOUT)


def paho(host, port, cert, key, ca, client_id, keepalive, insecure, tls12_ciphers=None):
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    if tls12_ciphers:
        context = ssl.create_default_context(cafile=ca)
        context.load_cert_chain(cert, key)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(tls12_ciphers)
        client.tls_set_context(context)
    elif insecure:
        client.tls_set(certfile=cert, keyfile=key, cert_reqs=ssl.CERT_NONE)
        client.tls_insecure_set(True)
    else:
        client.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
    answered = threading.Event()
    result = {}

    def on_connect(_client, _userdata, _flags, reason_code, _properties):
        result["code"] = reason_code
        answered.set()

    client.on_connect = on_connect
    client.connect(host, port, keepalive)
    client.loop_start()
    try:
        if not answered.wait(TIMEOUT):
            raise RuntimeError("no CONNACK")
        if result["code"].is_failure:
            raise RuntimeError(f"CONNACK refused: {result['code']}")
        client.disconnect()
    finally:
        client.loop_stop()


def main():
    kind, address, cert, key, ca, client_id = sys.argv[1:7]
    rest = sys.argv[7:]
    insecure = "--insecure" in rest
    keepalive = int(rest[rest.index("--keepalive") + 1]) if "--keepalive" in rest else 60
    ciphers = rest[rest.index("--tls12-ciphers") + 1] if "--tls12-ciphers" in rest else None
    host, port = address.rsplit(":", 1)
    try:
        if kind == "awsiotsdk":
            awsiotsdk(host, int(port), cert, key, ca, client_id, keepalive)
        elif kind == "paho":
            paho(host, int(port), cert, key, ca, client_id, keepalive, insecure, ciphers)
        else:
            raise SystemExit(f"unknown client {kind!r}: give awsiotsdk or paho")
    except Exception as e:  # the verdict is the endpoint's; this only reports what the client saw
        print(f"refused: {type(e).__name__}: {e}", flush=True)
        sys.exit(1)
    print("connected", flush=True)


if __name__ == "__main__":
    main()
