"""A reference device for `tether qualify`'s MQTT_Persistent_Session_Happy_Case: paho-mqtt with a
persistent session (clean session 0) that reconnects by itself.

Driven by crates/cli/tests/e2e/qualify.rs:

    python qualify_persistent.py HOST:PORT CERT KEY CA CLIENT_ID [--resubscribe]
                                 [--trust-session] [--no-ack]

It subscribes to qualify/commands at QoS 1 when CONNACK says session present 0 (with
--resubscribe: on every connection, as a device that ignores session present does; with
--trust-session: on its first connection only, as a device that assumes its session is kept),
reconnects one second after the connection drops, and exits 0 after the first message, printing
`received TOPIC`. paho acknowledges a QoS 1 message once on_message returns; with --no-ack
acknowledgements are manual and never given (MQTT_Client_Puback_Qos1 fails). The expired-session
and PUBACK tests of crates/cli/tests/e2e/qualify/qualification_list.rs use it too.
"""

import sys
import threading

import paho.mqtt.client as mqtt

TIMEOUT = 20


def main():
    address, cert, key, ca, client_id = sys.argv[1:6]
    resubscribe = "--resubscribe" in sys.argv[6:]
    trust_session = "--trust-session" in sys.argv[6:]
    no_ack = "--no-ack" in sys.argv[6:]
    connections = []
    host, port = address.rsplit(":", 1)
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
    )
    client.tls_set(ca_certs=ca, certfile=cert, keyfile=key)
    if no_ack:
        client.manual_ack_set(True)
    client.reconnect_delay_set(min_delay=1, max_delay=1)
    received = threading.Event()

    def on_connect(client, _userdata, flags, reason_code, _properties):
        print(f"connected session_present={flags.session_present} {reason_code}", flush=True)
        connections.append(flags.session_present)
        if trust_session and len(connections) > 1:
            return
        if resubscribe or not flags.session_present:
            client.subscribe("qualify/commands", qos=1)

    def on_message(_client, _userdata, message):
        print(f"received {message.topic}", flush=True)
        if not no_ack:
            received.set()

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(host, int(port), 60)
    client.loop_start()
    try:
        if not received.wait(TIMEOUT):
            print("no message", flush=True)
            sys.exit(1)
        # Let the PUBACK leave before the connection closes.
        client.disconnect()
    finally:
        client.loop_stop()


if __name__ == "__main__":
    main()
