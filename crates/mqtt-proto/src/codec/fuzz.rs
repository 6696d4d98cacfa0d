//! Entry points shared by the cargo-fuzz targets (`fuzz/fuzz_targets/{decode,roundtrip}.rs`) and
//! the tests that replay their corpora, so both exercise exactly the same code. They report
//! problems as values; deciding to abort is the fuzz target's business.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::fmt;

use bytes::{Bytes, BytesMut};

use super::{Decoder, MAX_PACKET_SIZE, decode};
use crate::packet::Packet;
use crate::types::Protocol;

/// The versions every input is tried with.
pub const PROTOCOLS: [Protocol; 3] = [Protocol::V31, Protocol::V311, Protocol::V5];

/// Feeds `data` through a [`Decoder`] for each version, in two ways: all at once, and split into
/// two pieces at a point derived from the data. Returns how many packets decoded in total. Must
/// never panic, whatever the input.
pub fn decode_stream(data: &[u8]) -> usize {
    let mut decoded = 0;
    for protocol in PROTOCOLS {
        decoded += drain(protocol, &[data]);
        let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
        let (a, b) = data.split_at(split);
        decoded += drain(protocol, &[a, b]);
    }
    decoded
}

fn drain(protocol: Protocol, chunks: &[&[u8]]) -> usize {
    let mut decoder = Decoder::new(protocol, 1 << 16);
    let mut buf = BytesMut::new();
    let mut decoded = 0;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Ok(Some(_)) = decoder.decode(&mut buf) {
            decoded += 1;
        }
    }
    decoded
}

/// A packet that decoded but did not survive encode → decode unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundTripFailure {
    /// The version used.
    pub protocol: Protocol,
    /// The packet first decoded.
    pub packet: Box<Packet>,
    /// What went wrong.
    pub detail: String,
}

impl fmt::Display for RoundTripFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} round trip of {:?} failed: {}",
            self.protocol, self.packet, self.detail
        )
    }
}

/// For each version: decodes `data` as one frame; when that succeeds, encodes the packet,
/// checks the announced length, decodes the bytes again and compares. Returns the first
/// mismatch.
pub fn roundtrip(data: &[u8]) -> Result<(), RoundTripFailure> {
    let frame = Bytes::copy_from_slice(data);
    for protocol in PROTOCOLS {
        let Ok(packet) = decode(frame.clone(), protocol) else {
            continue;
        };
        let fail = |detail: String| RoundTripFailure {
            protocol,
            packet: Box::new(packet.clone()),
            detail,
        };
        let bytes = packet
            .to_bytes(protocol)
            .map_err(|e| fail(format!("encode: {e}")))?;
        let announced = packet
            .encoded_len(protocol)
            .map_err(|e| fail(format!("length: {e}")))?;
        if announced != bytes.len() {
            return Err(fail(format!(
                "encoded_len {announced} but wrote {}",
                bytes.len()
            )));
        }
        let mut decoder = Decoder::new(protocol, MAX_PACKET_SIZE);
        let mut buf = BytesMut::from(bytes.as_ref());
        match decoder.decode(&mut buf) {
            Ok(Some(again)) if again == packet && buf.is_empty() => {}
            Ok(Some(again)) => return Err(fail(format!("decoded again as {again:?}"))),
            Ok(None) => return Err(fail(String::from("re-encoded bytes are incomplete"))),
            Err(e) => return Err(fail(format!("re-encoded bytes do not decode: {e}"))),
        }
    }
    Ok(())
}
