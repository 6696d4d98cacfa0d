"""An ESP8266 on NONOS SDK libssl (Espressif's closed axTLS 1.4.9 build, linked with -lssl),
played by tlslite-ng restricted to exactly what that library offers.

Driven by crates/cli/tests/e2e/refusals.rs and crates/cli/tests/e2e/device_stacks.rs:

    python nonos_axtls.py HOST PORT CA_PEM CERT_PEM KEY_PEM [MQTT_PACKET_HEX ...]

What the device offers, from the SDK's libssl headers (third_party/include/ssl: ssl_version.h
AXTLS_VERSION "1.4.9", SSL_PROTOCOL_VERSION_MAX 0x32 = TLS 1.1; ssl_tls1.h its four suites) and
its client API (no extension argument, so no SNI, no max_fragment_length, no ALPN): TLS 1.0 and
1.1, the suites AES128-SHA, AES256-SHA, RC4-SHA, RC4-MD5 in that order, static RSA key exchange
only, no extension at all. Its credentials come from flash records, read into RAM; the client
certificate and key here are RSA-2048, the only key type libssl has.

After the handshake, each MQTT packet given in hex (the test encodes them with tether's own
codec) is sent and one packet is read back. Prints one JSON line: {"stack", "handshake": "ok" |
"alert" | "error", "alert" (the fatal alert the server sent), "error", "version", "suite",
"received": [hex of each packet read]}. Exits 0 whenever it ran, 2 on bad arguments.
"""

import json
import socket
import sys

from tlslite.api import HandshakeSettings, TLSConnection, X509, X509CertChain, parsePEMKey
from tlslite.constants import CipherSuite
from tlslite.messages import ClientHello
from tlslite.errors import TLSAbruptCloseError, TLSLocalAlert, TLSRemoteAlert

STACK = "esp8266-nonos-axtls"
# libssl's suites, in the order its ssl_tls1.h lists them.
SUITES = [
    CipherSuite.TLS_RSA_WITH_AES_128_CBC_SHA,
    CipherSuite.TLS_RSA_WITH_AES_256_CBC_SHA,
    CipherSuite.TLS_RSA_WITH_RC4_128_SHA,
    CipherSuite.TLS_RSA_WITH_RC4_128_MD5,
]


def settings():
    """tlslite-ng narrowed to libssl: TLS 1.0-1.1, RSA key exchange, no extensions."""
    s = HandshakeSettings()
    s.minVersion = (3, 1)
    s.maxVersion = (3, 2)
    s.versions = [(3, 2), (3, 1)]
    s.cipherNames = ["aes128", "aes256", "rc4"]
    s.macNames = ["sha", "md5"]
    s.keyExchangeNames = ["rsa"]
    s.useExtendedMasterSecret = False
    s.useEncryptThenMAC = False
    s.usePaddingExtension = False
    s.use_heartbeat_extension = False
    s.record_size_limit = None
    s.certificate_compression_send = []
    s.certificate_compression_receive = []
    return s


def read_packet(conn):
    """One MQTT packet: fixed header, remaining length, body."""
    head = conn.read(1, 1)
    if not head:
        return None
    packet = bytearray(head)
    length, shift = 0, 0
    while True:
        b = conn.read(1, 1)
        if not b:
            return None
        packet += b
        length |= (b[0] & 0x7F) << shift
        shift += 7
        if not b[0] & 0x80:
            break
    while len(packet) < 1 + (shift // 7) + length:
        chunk = conn.read(1 + (shift // 7) + length - len(packet))
        if not chunk:
            return None
        packet += chunk
    return bytes(packet)


def main(argv):
    if len(argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    host, port, ca_path, cert_path, key_path = argv[1:6]
    packets = [bytes.fromhex(h) for h in argv[6:]]
    # Credentials live in RAM, as the SDK reads them from flash into memory.
    with open(ca_path) as f:
        ca = X509()
        ca.parse(f.read())
    with open(cert_path) as f:
        chain = X509CertChain()
        chain.parsePemList(f.read())
    with open(key_path) as f:
        key = parsePEMKey(f.read(), private=True)
    result = {"stack": STACK, "received": []}
    sock = socket.create_connection((host, int(port)), timeout=20)
    conn = TLSConnection(sock)
    # tlslite adds the renegotiation SCSV and a session_ticket extension to every hello;
    # libssl sends neither, so its hello carries exactly libssl's suites and no extensions.
    original = ClientHello.create

    def libssl_hello(self, version, random, session_id, cipher_suites, *args, **kwargs):
        kwargs["extensions"] = None
        suites = [c for c in SUITES if c in cipher_suites]
        return original(self, version, random, session_id, suites, *args, **kwargs)

    ClientHello.create = libssl_hello
    try:
        conn.handshakeClientCert(chain, key, settings=settings())
    except TLSRemoteAlert as alert:
        result.update(handshake="alert", alert=alert.description, error=str(alert))
    except (TLSLocalAlert, TLSAbruptCloseError, OSError) as err:
        result.update(handshake="error", error=f"{type(err).__name__}: {err}")
    else:
        result.update(
            handshake="ok",
            version="TLS1.%d" % (conn.version[1] - 1),
            suite="0x%04X" % conn.session.cipherSuite,
        )
        # libssl verifies the server's chain against the CA record; a handshake that gets this
        # far must have been signed by that CA.
        server_issuer = conn.session.serverCertChain.x509List[-1].issuer
        if server_issuer != ca.subject:
            result.update(handshake="error", error="the server's chain is not issued by the CA")
        else:
            for packet in packets:
                conn.write(packet)
                answer = read_packet(conn)
                if answer is None:
                    break
                result["received"].append(answer.hex())
    finally:
        ClientHello.create = original
        sock.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
