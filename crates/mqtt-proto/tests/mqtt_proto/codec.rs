//! Integration tests of the MQTT codec through the public API: annotated hex fixtures for every
//! packet in both versions (`codec/fixtures.rs`), a malformed-input corpus asserting the exact
//! error (`codec/malformed.rs`), proptest round trips (`codec/roundtrip.rs`), incremental
//! decoding, size limits, and replay of the fuzz corpora. Session behaviour is tested in
//! `session.rs`.

/// Decodes `$hex` expecting the error `$pat`; also checks the message cites a spec rule.
macro_rules! rejects {
    ($protocol:expr, $hex:expr, $pat:pat) => {{
        let err = $crate::codec::reject($hex, $protocol);
        assert!(
            matches!(err, $pat),
            "{} under {} gave {err:?}",
            $hex,
            $protocol
        );
        let message = err.to_string();
        assert!(
            message.contains("[MQTT-"),
            "message cites no rule: {message}"
        );
        err
    }};
}

mod fixtures;
mod malformed;
mod malformed_packets;
mod roundtrip;

use bytes::{Bytes, BytesMut};
use mqtt_proto::codec::{self, Decoder, Frame, MAX_PACKET_SIZE, check_frame};
use mqtt_proto::{DecodeError, Packet, PacketId, Protocol};

/// Parses annotated hex: whitespace is ignored and `#` starts a comment running to the end of
/// the line.
pub fn hex(annotated: &str) -> Vec<u8> {
    let digits: String = annotated
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .flat_map(|part| part.chars().filter(|c| !c.is_whitespace()))
        .collect();
    hex::decode(&digits).unwrap_or_else(|e| panic!("bad hex fixture {digits:?}: {e}"))
}

/// Decodes one packet with a `Decoder`, asserting it consumed everything.
fn decode_whole(bytes: &[u8], protocol: Protocol) -> Result<Packet, DecodeError> {
    let mut decoder = Decoder::new(protocol, MAX_PACKET_SIZE);
    let mut buf = BytesMut::from(bytes);
    let packet = decoder
        .decode(&mut buf)?
        .expect("fixture is a complete packet");
    assert!(buf.is_empty(), "decoder left {} bytes", buf.len());
    Ok(packet)
}

/// The one fixture helper: `hex` decodes to `expected` (one-shot and through a `Decoder`, whole
/// and fed one byte at a time), and `expected` encodes back to exactly `hex`.
pub fn check(annotated: &str, expected: &Packet, protocol: Protocol) {
    let bytes = hex(annotated);
    check_decodes(&bytes, expected, protocol);
    let encoded = expected.to_bytes(protocol).expect("fixture packet encodes");
    assert_eq!(
        hex::encode(&encoded),
        hex::encode(&bytes),
        "{protocol} encoding of {expected:?} differs from the fixture"
    );
    assert_eq!(expected.encoded_len(protocol).unwrap(), bytes.len());
    let mut slice = vec![0u8; bytes.len()];
    assert_eq!(
        expected.encode_to_slice(protocol, &mut slice).unwrap(),
        bytes.len()
    );
    assert_eq!(slice, bytes);
}

/// `bytes` decodes to `expected` in every way the codec offers; used directly for
/// non-canonical inputs that do not re-encode byte for byte.
pub fn check_decodes(bytes: &[u8], expected: &Packet, protocol: Protocol) {
    let one_shot = codec::decode(Bytes::copy_from_slice(bytes), protocol);
    assert_eq!(
        one_shot.as_ref(),
        Ok(expected),
        "one-shot decode of {}",
        hex::encode(bytes)
    );
    assert_eq!(decode_whole(bytes, protocol).as_ref(), Ok(expected));
    assert_eq!(byte_by_byte(bytes, protocol).as_ref(), Ok(expected));
    match check_frame(bytes, MAX_PACKET_SIZE) {
        Ok(frame @ Frame::Complete { packet_type, .. }) => {
            assert_eq!(frame.total_len(), Some(bytes.len()));
            assert_eq!(packet_type, expected.packet_type());
        }
        other => panic!("check_frame on a whole fixture gave {other:?}"),
    }
}

/// Feeds `bytes` one at a time; the packet must appear exactly when the last byte arrives.
fn byte_by_byte(bytes: &[u8], protocol: Protocol) -> Result<Packet, DecodeError> {
    let mut decoder = Decoder::new(protocol, MAX_PACKET_SIZE);
    let mut buf = BytesMut::new();
    for (i, b) in bytes.iter().enumerate() {
        buf.extend_from_slice(&[*b]);
        if let Some(packet) = decoder.decode(&mut buf)? {
            assert_eq!(i + 1, bytes.len(), "packet completed early, at byte {i}");
            assert!(buf.is_empty());
            return Ok(packet);
        }
    }
    panic!("packet never completed")
}

/// Decodes annotated hex expecting an error, checking that one-shot decoding and the `Decoder`
/// agree on it.
pub fn reject(annotated: &str, protocol: Protocol) -> DecodeError {
    let bytes = hex(annotated);
    let one_shot = codec::decode(Bytes::copy_from_slice(&bytes), protocol)
        .expect_err("malformed fixture must not decode");
    let mut decoder = Decoder::new(protocol, MAX_PACKET_SIZE);
    let mut buf = BytesMut::from(&bytes[..]);
    match decoder.decode(&mut buf) {
        Err(e) => assert_eq!(e, one_shot),
        Ok(None) => assert!(matches!(one_shot, DecodeError::Truncated { .. })),
        Ok(Some(p)) => panic!("decoder accepted {p:?}"),
    }
    one_shot
}

pub fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

#[test]
fn several_packets_in_one_buffer_split_in_order() {
    let mut buf = BytesMut::from(
        &hex("c000  # PINGREQ
              30 05 0001 61 78 79  # PUBLISH 'a' payload 'xy' (v3.1.1)
              e000  # DISCONNECT
              30")[..],
    );
    let mut decoder = Decoder::new(Protocol::V311, MAX_PACKET_SIZE);
    assert_eq!(decoder.decode(&mut buf).unwrap(), Some(Packet::PingReq));
    let Some(Packet::Publish(p)) = decoder.decode(&mut buf).unwrap() else {
        panic!()
    };
    assert_eq!((p.topic.as_str(), &p.payload[..]), ("a", &b"xy"[..]));
    assert!(matches!(
        decoder.decode(&mut buf).unwrap(),
        Some(Packet::Disconnect(_))
    ));
    assert_eq!(decoder.decode(&mut buf).unwrap(), None);
    assert_eq!(&buf[..], &[0x30], "the incomplete packet stays buffered");
}

#[test]
fn publish_payload_and_topic_share_the_receive_buffer() {
    let bytes = Bytes::from(hex("30 07 0003 612f62 6869  # PUBLISH 'a/b' 'hi'"));
    let range = bytes.as_ptr_range();
    let Packet::Publish(p) = codec::decode(bytes.clone(), Protocol::V311).unwrap() else {
        panic!()
    };
    assert!(range.contains(&p.payload.as_ptr()), "payload was copied");
    assert!(
        range.contains(&p.topic.as_mqtt_str().as_bytes().as_ptr()),
        "topic was copied"
    );
}

#[test]
fn decoder_switches_to_the_version_connect_asked_for() {
    let mut decoder = Decoder::new(Protocol::V311, MAX_PACKET_SIZE);
    let mut buf = BytesMut::from(&hex("10 0d 0004 4d515454 05 02 003c 00 0000")[..]);
    assert!(matches!(
        decoder.decode(&mut buf).unwrap(),
        Some(Packet::Connect(_))
    ));
    assert_eq!(decoder.protocol(), Protocol::V5);
    decoder.set_protocol(Protocol::V311);
    assert_eq!(decoder.protocol(), Protocol::V311);
}

#[test]
fn max_packet_size_is_enforced_from_the_fixed_header_alone() {
    // Only the first two bytes of a 200-byte PUBLISH have arrived.
    let head = hex("30 c6 01  # PUBLISH, remaining length 198");
    assert_eq!(
        check_frame(&head, 100),
        Err(DecodeError::PacketTooLarge {
            size: 201,
            max: 100
        })
    );
    let mut decoder = Decoder::new(Protocol::V5, 100);
    let mut buf = BytesMut::from(&head[..]);
    let err = decoder.decode(&mut buf).unwrap_err();
    assert_eq!(err.reason_code(), mqtt_proto::ReasonCode::PacketTooLarge);
    // Exactly at the limit is fine; the body is still awaited.
    assert_eq!(
        check_frame(&hex("30 62"), 100),
        Ok(Frame::Incomplete { needed: 98 })
    );
    assert_eq!(
        check_frame(&hex("30 63"), 100),
        Err(DecodeError::PacketTooLarge {
            size: 101,
            max: 100
        })
    );
}

#[test]
fn huge_remaining_length_is_refused_without_buffering() {
    // 268,435,455 bytes announced: refused by a 1 MiB limit with only 5 bytes received.
    let err = check_frame(&hex("30 ffffff7f"), 1 << 20).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::PacketTooLarge {
            size: 268_435_460,
            ..
        }
    ));
    // With no limit it is simply incomplete.
    assert_eq!(
        check_frame(&hex("30 ffffff7f"), MAX_PACKET_SIZE),
        Ok(Frame::Incomplete {
            needed: 268_435_455
        })
    );
}

#[test]
fn incremental_decoding_of_a_mixed_stream_one_byte_at_a_time() {
    let stream = hex(
        "82 08 0001 0003 612f62 01   # SUBSCRIBE id 1 'a/b' QoS 1 (v3.1.1)
         32 09 0003 612f62 0002 7a7a # PUBLISH QoS 1 id 2 'a/b' 'zz'
         62 02 0002                  # PUBREL id 2
         c0 00                       # PINGREQ",
    );
    let mut decoder = Decoder::new(Protocol::V311, MAX_PACKET_SIZE);
    let mut buf = BytesMut::new();
    let mut types = Vec::new();
    for b in stream {
        buf.extend_from_slice(&[b]);
        while let Some(p) = decoder.decode(&mut buf).unwrap() {
            types.push(p.packet_type());
        }
    }
    use mqtt_proto::PacketType::*;
    assert_eq!(types, [Subscribe, Publish, PubRel, PingReq]);
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/../../fuzz/corpus/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
        .map(|entry| {
            let path = entry.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "{dir} should hold a seed per packet type and version"
    );
    files
}

#[test]
fn fuzz_decode_corpus_replays_and_decodes_its_seeds() {
    let mut decoded = 0;
    for (_, data) in corpus("decode") {
        decoded += codec::fuzz::decode_stream(&data);
    }
    assert!(decoded > 0, "the seeds are valid packets; some must decode");
}

#[test]
fn fuzz_roundtrip_corpus_replays_without_mismatch() {
    for (path, data) in corpus("roundtrip") {
        if let Err(failure) = codec::fuzz::roundtrip(&data) {
            panic!("{path}: {failure}");
        }
    }
}
