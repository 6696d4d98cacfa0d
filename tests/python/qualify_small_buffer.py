"""A reference device for `tether qualify` with a small TLS input buffer, as an mbedTLS build with
MBEDTLS_SSL_IN_CONTENT_LEN 4096 (or an Arduino WiFiClientSecure with a 4 KB receive buffer) has.

Driven by crates/cli/tests/e2e/qualify.rs:

    python qualify_small_buffer.py HOST:PORT CERT KEY CA CLIENT_ID [--buffer BYTES]

It runs TLS through Python's ssl module on memory BIOs and reads the network itself, one TLS
record at a time: a record whose body is longer than BUFFER bytes (default 4096) plus the 256
bytes of expansion a TLS library allows for the MAC and padding is refused, as such a library
refuses it, by closing the connection. Otherwise it connects (MQTT 3.1.1, clean session),
subscribes to qualify/commands at QoS 1, acknowledges the first PUBLISH, prints `received N
bytes` and exits 0. It checks the server's chain and host name. With --buffer 16384 it is a
well-behaved device.
"""

import socket
import ssl
import struct
import sys

EXPANSION = 256
TIMEOUT = 20


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the endpoint closed the connection")
        data += chunk
    return data


class SmallBufferTls:
    def __init__(self, host, port, cert, key, ca, limit):
        context = ssl.create_default_context(cafile=ca)
        context.load_cert_chain(cert, key)
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname=host)
        self.limit = limit

    def flush(self):
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def read_record(self):
        header = recv_exact(self.sock, 5)
        length = struct.unpack(">H", header[3:5])[0]
        if length > self.limit + EXPANSION:
            print(
                f"refused: a TLS record of {length} bytes does not fit the {self.limit}-byte buffer",
                flush=True,
            )
            self.sock.close()
            sys.exit(1)
        self.incoming.write(header + recv_exact(self.sock, length))

    def handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                self.read_record()

    def write(self, data):
        self.tls.write(data)
        self.flush()

    def read(self, n):
        """Exactly n bytes of plaintext."""
        data = b""
        while len(data) < n:
            try:
                data += self.tls.read(n - len(data))
            except ssl.SSLWantReadError:
                self.read_record()
        return data


def mqtt_string(text):
    raw = text.encode()
    return struct.pack(">H", len(raw)) + raw


def packet(first, body):
    length, encoded = len(body), b""
    while True:
        byte, length = length % 128, length // 128
        encoded += bytes([byte | (0x80 if length else 0)])
        if not length:
            return bytes([first]) + encoded + body


def read_packet(tls):
    first = tls.read(1)[0]
    length, shift = 0, 0
    while True:
        byte = tls.read(1)[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return first, tls.read(length)


def main():
    address, cert, key, ca, client_id = sys.argv[1:6]
    rest = sys.argv[6:]
    limit = int(rest[rest.index("--buffer") + 1]) if "--buffer" in rest else 4096
    host, port = address.rsplit(":", 1)
    try:
        tls = SmallBufferTls(host, int(port), cert, key, ca, limit)
        tls.handshake()
        connect = mqtt_string("MQTT") + bytes([4, 0x02]) + struct.pack(">H", 60)
        tls.write(packet(0x10, connect + mqtt_string(client_id)))
        first, body = read_packet(tls)
        if first >> 4 != 2 or body[1] != 0:
            raise RuntimeError(f"no accepting CONNACK: {first:#x} {body!r}")
        subscribe = struct.pack(">H", 1) + mqtt_string("qualify/commands") + bytes([1])
        tls.write(packet(0x82, subscribe))
        while True:
            first, body = read_packet(tls)
            if first >> 4 == 3:
                break
        topic_len = struct.unpack(">H", body[0:2])[0]
        if (first >> 1) & 3:
            packet_id = body[2 + topic_len : 4 + topic_len]
            tls.write(packet(0x40, packet_id))
        tls.write(bytes([0xE0, 0x00]))
        print(f"received {len(body)} bytes", flush=True)
    except (OSError, ssl.SSLError, RuntimeError) as e:
        print(f"refused: {type(e).__name__}: {e}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
