//! Unit tests of the ClientHello parser: annotated hex fixtures, builder round trips, split
//! records fed byte by byte, non-TLS openings, malformed fields, and the fuzz corpus replay.

use super::*;
use crate::hello_builder::HelloSpec;

/// Parses hex (whitespace and `#` comments ignored) into bytes.
fn hex(s: &str) -> Vec<u8> {
    let digits: String = s
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.chars())
        .filter(|c| c.is_ascii_hexdigit())
        .collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

fn complete(bytes: &[u8]) -> (ClientHello, usize) {
    match parse(bytes).unwrap() {
        Progress::Complete { hello, consumed } => (*hello, consumed),
        Progress::Incomplete { needed } => panic!("incomplete, needs {needed}"),
    }
}

fn check_err(bytes: &[u8], expected: &str) {
    let err = parse(bytes).unwrap_err().to_string();
    assert!(err.contains(expected), "error {err:?} lacks {expected:?}");
}

/// What ESP8266 NONOS libssl (axTLS 1.4.9) sends: TLS 1.1, four suites, no extensions.
const AXTLS_HELLO: &str = "
    16 03 01 00 33          # handshake record, TLS 1.0 header, 51 bytes
    01 00 00 2f             # client_hello, 47 bytes
    03 02                   # legacy_version TLS 1.1
    00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f
    10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f   # random
    00                      # session id: empty
    00 08 00 2f 00 35 00 05 00 04   # AES128-SHA AES256-SHA RC4-SHA RC4-MD5
    01 00                   # compression: null
";

#[test]
fn axtls_hello_field_by_field() {
    let bytes = hex(AXTLS_HELLO);
    let (h, consumed) = complete(&bytes);
    assert_eq!(consumed, bytes.len());
    assert_eq!(h.record_version, ProtocolVersion::TLS10);
    assert_eq!(h.legacy_version, ProtocolVersion::TLS11);
    assert_eq!(h.max_version(), ProtocolVersion::TLS11);
    assert!(h.offers(ProtocolVersion::TLS10));
    assert!(!h.offers(ProtocolVersion::TLS12));
    let names: Vec<_> = h.cipher_suites.iter().map(|s| s.to_string()).collect();
    assert_eq!(names, ["AES128-SHA", "AES256-SHA", "RC4-SHA", "RC4-MD5"]);
    assert_eq!(h.compression_methods, [0]);
    assert!(h.extensions.is_empty());
    assert_eq!(h.server_name, None);
    assert_eq!(h.random[31], 0x1f);
    assert_eq!(h.records, 1);
}

fn rich_spec() -> HelloSpec {
    HelloSpec {
        cipher_suites: vec![0x3A3A, 0x1301, 0xC02F, 0x002F, 0x00FF],
        server_name: Some("abc-ats.iot.eu-west-1.amazonaws.com".into()),
        max_fragment_length: MaxFragmentLength::from_bytes(2048),
        supported_groups: vec![0x2A2A, 29, 23],
        ec_point_formats: true,
        signature_algorithms: vec![0x0403, 0x0804, 0x0401],
        alpn: vec!["x-amzn-mqtt-ca".into(), "mqtt".into()],
        session_ticket: true,
        supported_versions: vec![
            ProtocolVersion(0x4A4A),
            ProtocolVersion::TLS13,
            ProtocolVersion::TLS12,
        ],
        psk_dhe_ke: true,
        key_share: Some((23, Vec::new())),
        session_id: vec![7; 32],
        ..HelloSpec::default()
    }
}

#[test]
fn rich_hello_round_trips() {
    let bytes = rich_spec().encode();
    let (h, consumed) = complete(&bytes);
    assert_eq!(consumed, bytes.len());
    assert_eq!(
        h.server_name.as_deref(),
        Some("abc-ats.iot.eu-west-1.amazonaws.com")
    );
    assert_eq!(h.alpn, ["x-amzn-mqtt-ca", "mqtt"]);
    assert_eq!(h.max_fragment_length.and_then(|m| m.bytes()), Some(2048));
    assert_eq!(h.session_ticket, Some(0));
    assert_eq!(h.max_version(), ProtocolVersion::TLS13);
    assert!(h.offers(ProtocolVersion::TLS12));
    assert!(!h.offers(ProtocolVersion::TLS11));
    assert!(h.cipher_suites[0].is_grease());
    let real: Vec<_> = h.real_suites().map(|s| s.0).collect();
    assert_eq!(real, [0x1301, 0xC02F, 0x002F]);
    assert_eq!(h.supported_groups.len(), 3);
    assert_eq!(h.signature_algorithms.len(), 3);
    assert_eq!(h.session_id.len(), 32);
    assert!(h.has_extension(ExtensionType::KEY_SHARE));
}

#[test]
fn hello_split_across_records_and_fed_byte_by_byte() {
    let spec = HelloSpec {
        max_record_len: 7,
        ..rich_spec()
    };
    let bytes = spec.encode();
    let (h, consumed) = complete(&bytes);
    assert!(h.records > 10);
    assert_eq!(consumed, bytes.len());
    let whole = complete(&rich_spec().encode()).0;
    assert_eq!(h.alpn, whole.alpn);
    for end in 0..bytes.len() {
        match parse(&bytes[..end]).unwrap() {
            Progress::Incomplete { needed } => {
                assert!(needed >= 1);
                assert!(end + needed <= bytes.len(), "over-asks at {end}");
            }
            Progress::Complete { .. } => panic!("complete too early at {end}"),
        }
    }
}

#[test]
fn trailing_application_data_is_not_consumed() {
    let mut bytes = hex(AXTLS_HELLO);
    let len = bytes.len();
    bytes.extend_from_slice(&[0x17, 3, 3, 0, 1, 0]);
    assert_eq!(complete(&bytes).1, len);
}

#[test]
fn recognises_what_is_not_tls() {
    let cases: &[(&[u8], NotTls)] = &[
        (
            &[0x10, 0x12, 0x00, 0x04, b'M', b'Q', b'T', b'T'],
            NotTls::PlainMqtt,
        ),
        (b"GET / HTTP/1.1\r\n", NotTls::Http),
        (b"POST /topics", NotTls::Http),
        (
            &[0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15],
            NotTls::Sslv2Hello {
                version: Some(ProtocolVersion::TLS10),
            },
        ),
        (&[0x80, 0x2e, 0x01], NotTls::Sslv2Hello { version: None }),
        (b"\x00\x00", NotTls::Other { first_byte: 0 }),
        (b"SSH-2.0", NotTls::Other { first_byte: b'S' }),
    ];
    for (bytes, expected) in cases {
        assert_eq!(
            parse(bytes),
            Err(ClientHelloError::NotTls(*expected)),
            "{bytes:02x?}"
        );
    }
    check_err(&[0x10, 0x12], "plain MQTT");
    check_err(&[0x15, 3, 3, 0, 2, 2, 40], "content type 21 (alert)");
}

#[test]
fn malformed_inputs_name_the_field() {
    let good = hex(AXTLS_HELLO);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (hex("16 02 01 00 01 01"), "record version 0x0201"),
        (hex("16 03 01 40 01"), "exceeds the 16384-byte"),
        (hex("16 03 01 00 00"), "zero-length handshake record"),
        (
            hex("16 03 01 00 04 02 00 00 00"),
            "type 2 is not client_hello",
        ),
        (
            hex("16 03 01 00 04 01 ff ff ff"),
            "client_hello declares 16777215",
        ),
        (
            hex("16 03 01 00 06 01 00 00 01 03 00"),
            "1 bytes follow the client_hello",
        ),
        (
            hex("16 03 01 00 06 01 00 00 02 03 03"),
            "random needs 32 bytes",
        ),
        (
            {
                let mut b = good.clone();
                b[45] = 0x07; // cipher_suites length odd
                b
            },
            "cipher_suites: cipher_suites has odd length 7",
        ),
        (
            {
                let mut b = good.clone();
                b[43] = 0x21; // session id length 33
                b
            },
            "session_id",
        ),
    ];
    for (bytes, expected) in cases {
        check_err(&bytes, expected);
    }
    // Bytes after the hello inside the same record.
    let mut extra = good.clone();
    extra[4] += 1;
    extra.push(0);
    check_err(&extra, "1 bytes follow the client_hello");
}

#[test]
fn duplicate_and_bad_extensions_are_refused() {
    let dup = HelloSpec {
        extended_master_secret: true,
        extra_extensions: vec![(23, Vec::new())],
        ..rich_spec()
    };
    check_err(
        &dup.encode(),
        "extended_master_secret (23) appears more than once",
    );
    let bad_versions = HelloSpec {
        cipher_suites: vec![0x1301],
        extra_extensions: vec![(43, vec![3, 3, 4, 3])],
        ..HelloSpec::default()
    };
    check_err(
        &bad_versions.encode(),
        "supported_versions: versions has odd length 3",
    );
    let bad_alpn = HelloSpec {
        cipher_suites: vec![0x002F],
        alpn: vec![String::new()],
        ..HelloSpec::default()
    };
    check_err(&bad_alpn.encode(), "empty protocol name");
    let bad_sni = HelloSpec {
        cipher_suites: vec![0x002F],
        server_name: Some("bad name".into()),
        ..HelloSpec::default()
    };
    check_err(&bad_sni.encode(), "extension server_name");
}

#[test]
fn fuzz_corpus_replays_without_panic() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/client_hello"
    );
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let _ = parse(&bytes);
        seen += 1;
    }
    assert!(seen > 0, "no corpus files in {dir}");
}
