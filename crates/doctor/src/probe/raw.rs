//! The raw side of a probe: read the server's first answer to a device's exact ClientHello
//! bytes — a ServerHello (which version and suite it chose, or a TLS 1.3 HelloRetryRequest) or
//! an alert — and find plaintext handshake messages and alerts in recorded TLS records. Pure
//! parsing of peer bytes: it never panics and never indexes unchecked; the socket is the
//! caller's.

use tls::{Alert, CipherSuite, ProtocolVersion};

/// RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest.
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

const RECORD_ALERT: u8 = 21;
const RECORD_HANDSHAKE: u8 = 22;
const RECORD_CCS: u8 = 20;
const RECORD_APPLICATION: u8 = 23;
const HANDSHAKE_SERVER_HELLO: u8 = 2;
const EXTENSION_SUPPORTED_VERSIONS: u16 = 43;

/// What the server answered to a ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAnswer {
    /// More bytes are needed.
    Incomplete,
    /// The server accepted the offer and chose a version and suite.
    ServerHello {
        /// The negotiated version (supported_versions wins over legacy_version).
        version: ProtocolVersion,
        /// The chosen suite.
        suite: CipherSuite,
        /// True for a TLS 1.3 HelloRetryRequest (version and suite accepted; key share not).
        retry: bool,
    },
    /// The server sent an alert.
    Alert {
        /// 1 warning, 2 fatal.
        level: u8,
        /// Which alert.
        alert: Alert,
    },
    /// The bytes are not a TLS record, or not a well-formed ServerHello.
    Malformed(String),
}

/// Parses the first record(s) of a server's answer.
pub fn server_answer(bytes: &[u8]) -> ServerAnswer {
    let Some(record) = records(bytes).next() else {
        return if bytes.len() >= 5 && !is_record_header(bytes) {
            ServerAnswer::Malformed(format!(
                "the answer is not a TLS record (first bytes {})",
                hex(bytes.get(..8).unwrap_or(bytes))
            ))
        } else {
            ServerAnswer::Incomplete
        };
    };
    match record.kind {
        RECORD_ALERT => match record.payload {
            [level, code, ..] => ServerAnswer::Alert {
                level: *level,
                alert: Alert(*code),
            },
            _ => ServerAnswer::Malformed("an alert record shorter than 2 bytes".to_owned()),
        },
        RECORD_HANDSHAKE => server_hello(record.payload),
        other => ServerAnswer::Malformed(format!(
            "expected a ServerHello or an alert, got a TLS record of type {other}"
        )),
    }
}

fn server_hello(payload: &[u8]) -> ServerAnswer {
    let bad = |what: &str| ServerAnswer::Malformed(format!("malformed ServerHello: {what}"));
    let Some((&msg_type, rest)) = payload.split_first() else {
        return ServerAnswer::Incomplete;
    };
    if msg_type != HANDSHAKE_SERVER_HELLO {
        return ServerAnswer::Malformed(format!(
            "expected a ServerHello (handshake type 2), got handshake type {msg_type}"
        ));
    }
    let Some(len) = rest.get(..3).map(u24) else {
        return ServerAnswer::Incomplete;
    };
    let Some(body) = rest.get(3..3 + len) else {
        return ServerAnswer::Incomplete;
    };
    let mut r = Reader(body);
    let Some(legacy) = r.u16() else {
        return bad("no version");
    };
    let Some(random) = r.take(32) else {
        return bad("no random");
    };
    let Some(sid_len) = r.u8() else {
        return bad("no session id");
    };
    if r.take(usize::from(sid_len)).is_none() {
        return bad("session id too long");
    }
    let Some(suite) = r.u16() else {
        return bad("no cipher suite");
    };
    if r.u8().is_none() {
        return bad("no compression method");
    }
    let mut version = ProtocolVersion(legacy);
    if let Some(ext_len) = r.u16() {
        let mut exts = Reader(r.take(usize::from(ext_len)).unwrap_or_default());
        while let (Some(kind), Some(len)) = (exts.u16(), exts.u16()) {
            let Some(data) = exts.take(usize::from(len)) else {
                return bad("extension overruns the message");
            };
            if kind == EXTENSION_SUPPORTED_VERSIONS
                && let [hi, lo] = data
            {
                version = ProtocolVersion(u16::from_be_bytes([*hi, *lo]));
            }
        }
    }
    ServerAnswer::ServerHello {
        version,
        suite: CipherSuite(suite),
        retry: random == HELLO_RETRY_RANDOM,
    }
}

/// One TLS record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Content type.
    pub kind: u8,
    /// Payload (possibly encrypted).
    pub payload: &'a [u8],
}

/// The complete records at the start of `bytes`, stopping at the first incomplete or non-TLS one.
pub fn records(bytes: &[u8]) -> impl Iterator<Item = Record<'_>> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if !is_record_header(rest) {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([*rest.get(3)?, *rest.get(4)?]));
        let payload = rest.get(5..5 + len)?;
        let kind = *rest.first()?;
        rest = rest.get(5 + len..).unwrap_or_default();
        Some(Record { kind, payload })
    })
}

fn is_record_header(bytes: &[u8]) -> bool {
    matches!(bytes, [20..=23, 3, 0..=4, _, _, ..])
}

/// The first plaintext alert in recorded bytes (alerts after encryption starts are not visible).
pub fn plaintext_alert(bytes: &[u8]) -> Option<Alert> {
    records(bytes)
        .take_while(|r| r.kind != RECORD_CCS && r.kind != RECORD_APPLICATION)
        .find(|r| r.kind == RECORD_ALERT)
        .and_then(|r| r.payload.get(1).map(|c| Alert(*c)))
}

/// Handshake message types sent in plaintext (before ChangeCipherSpec): in TLS 1.2 the whole
/// server flight (ServerHello 2, Certificate 11, ServerKeyExchange 12, CertificateRequest 13,
/// ServerHelloDone 14); in TLS 1.3 only the ServerHello.
pub fn plaintext_handshake_types(bytes: &[u8]) -> Vec<u8> {
    let stream: Vec<u8> = records(bytes)
        .take_while(|r| r.kind != RECORD_CCS && r.kind != RECORD_APPLICATION)
        .filter(|r| r.kind == RECORD_HANDSHAKE)
        .flat_map(|r| r.payload.iter().copied())
        .collect();
    let mut types = Vec::new();
    let mut rest = stream.as_slice();
    while let (Some(&kind), Some(len)) = (rest.first(), rest.get(1..4).map(u24)) {
        types.push(kind);
        rest = rest.get(4 + len..).unwrap_or_default();
    }
    types
}

/// Encrypted handshake records a TLS 1.3 client wrote: (count, total bytes). One small record
/// is Finished alone; a Certificate (even an empty one) adds records or bytes.
pub fn encrypted_records(bytes: &[u8]) -> (usize, usize) {
    records(bytes)
        .filter(|r| r.kind == RECORD_APPLICATION)
        .fold((0, 0), |(n, total), r| (n + 1, total + r.payload.len() + 5))
}

fn u24(b: &[u8]) -> usize {
    b.iter().fold(0usize, |acc, x| (acc << 8) | usize::from(*x))
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let head = self.0.get(..n)?;
        self.0 = self.0.get(n..).unwrap_or_default();
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).and_then(|b| b.first().copied())
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2)
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .map(u16::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TLS 1.2 ServerHello choosing AES128-SHA, with renegotiation_info.
    fn server_hello_12() -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend([0x11; 32]); // random
        body.push(0); // no session id
        body.extend([0x00, 0x2F]); // AES128-SHA
        body.push(0); // null compression
        body.extend([0x00, 0x05, 0xFF, 0x01, 0x00, 0x01, 0x00]); // renegotiation_info
        let mut msg = vec![2, 0, 0, u8::try_from(body.len()).unwrap()];
        msg.extend(body);
        let mut rec = vec![22, 3, 3, 0, u8::try_from(msg.len()).unwrap()];
        rec.extend(msg);
        rec
    }

    #[test]
    fn server_hello_version_and_suite() {
        let bytes = server_hello_12();
        assert_eq!(
            server_answer(&bytes),
            ServerAnswer::ServerHello {
                version: ProtocolVersion::TLS12,
                suite: CipherSuite(0x002F),
                retry: false
            }
        );
        for cut in 0..bytes.len() {
            assert_eq!(
                server_answer(&bytes[..cut]),
                ServerAnswer::Incomplete,
                "cut {cut}"
            );
        }
        assert_eq!(plaintext_handshake_types(&bytes), vec![2]);
    }

    #[test]
    fn hello_retry_request_with_supported_versions() {
        let mut body = vec![0x03, 0x03];
        body.extend(HELLO_RETRY_RANDOM);
        body.push(0);
        body.extend([0x13, 0x01]);
        body.push(0);
        body.extend([0x00, 0x06, 0x00, 0x2B, 0x00, 0x02, 0x03, 0x04]);
        let mut msg = vec![2, 0, 0, u8::try_from(body.len()).unwrap()];
        msg.extend(body);
        let mut rec = vec![22, 3, 3, 0, u8::try_from(msg.len()).unwrap()];
        rec.extend(msg);
        assert_eq!(
            server_answer(&rec),
            ServerAnswer::ServerHello {
                version: ProtocolVersion::TLS13,
                suite: CipherSuite(0x1301),
                retry: true
            }
        );
    }

    #[test]
    fn alerts_and_garbage() {
        // OpenSSL's answer to a TLS 1.1 hello under a TLS 1.2+ policy.
        let alert = [21, 3, 2, 0, 2, 2, 70];
        assert_eq!(
            server_answer(&alert),
            ServerAnswer::Alert {
                level: 2,
                alert: Alert::PROTOCOL_VERSION
            }
        );
        assert_eq!(plaintext_alert(&alert), Some(Alert(70)));
        assert!(matches!(
            server_answer(b"HTTP/1.1 400 Bad Request\r\n"),
            ServerAnswer::Malformed(m) if m.contains("not a TLS record")
        ));
        assert!(matches!(
            server_answer(&[22, 3, 3, 0, 4, 11, 0, 0, 0]),
            ServerAnswer::Malformed(m) if m.contains("handshake type 11")
        ));
        assert!(matches!(
            server_answer(&[21, 3, 3, 0, 1, 2]),
            ServerAnswer::Malformed(_)
        ));
        assert!(matches!(
            server_answer(&[22, 3, 3, 0, 6, 2, 0, 0, 2, 3, 3]),
            ServerAnswer::Malformed(m) if m.contains("no random")
        ));
    }

    #[test]
    fn tls12_flight_shows_certificate_request_and_13_client_flight_counts() {
        let mut flight = server_hello_12();
        // Certificate (empty list), CertificateRequest (minimal), ServerHelloDone in one record.
        let msgs = [11u8, 0, 0, 3, 0, 0, 0, 13, 0, 0, 4, 1, 1, 0, 0, 14, 0, 0, 0];
        flight.extend([22, 3, 3, 0, u8::try_from(msgs.len()).unwrap()]);
        flight.extend(msgs);
        flight.extend([20, 3, 3, 0, 1, 1]);
        flight.extend([22, 3, 3, 0, 2, 99, 99]); // encrypted Finished: not parsed
        assert_eq!(plaintext_handshake_types(&flight), vec![2, 11, 13, 14]);
        let written = [
            22, 3, 1, 0, 1, 0, 20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 3, 1, 2, 3, 23, 3, 3, 0, 1, 9,
        ];
        assert_eq!(encrypted_records(&written), (2, 14));
    }

    #[test]
    fn fuzz_corpus_replays() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fuzz/corpus/server_answer"
        );
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let _ = server_answer(&bytes);
            let framed: usize = records(&bytes).map(|r| r.payload.len() + 5).sum();
            assert!(framed <= bytes.len());
            seen += 1;
        }
        assert!(seen >= 5, "corpus files in {dir}: {seen}");
        let alert = std::fs::read(format!("{dir}/alert_70_protocol_version")).unwrap();
        assert!(matches!(
            server_answer(&alert),
            ServerAnswer::Alert {
                alert: Alert(70),
                ..
            }
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x1234_5678u32;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    if i < 3 {
                        [22, 3, 3][i]
                    } else {
                        (seed >> 16) as u8
                    }
                })
                .collect();
            let _ = server_answer(&bytes);
            let _ = plaintext_handshake_types(&bytes);
            let _ = plaintext_alert(&bytes);
            let (_, total) = encrypted_records(&bytes);
            let framed: usize = records(&bytes).map(|r| r.payload.len() + 5).sum();
            assert!(total <= framed && framed <= bytes.len(), "len {len}");
        }
    }
}
