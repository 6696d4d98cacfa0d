//! The version-aware MQTT codec: framing ([`check_frame`]), one-shot [`decode`] of a complete
//! frame, the incremental [`Decoder`] over a receive buffer, and `Packet::encode*`. Decoding is
//! zero-copy (strings, topics and payloads are slices of the frame) and strict: every rule a
//! decoder can check is checked and reported as a [`DecodeError`] citing the rule. This module
//! keeps no connection state: topic aliases, packet-id bookkeeping and flow control are the
//! session's.
//!
//! Encoding writes to any [`bytes::BufMut`] (`BytesMut`, `Vec<u8>`, `&mut [u8]`); the packet's
//! size is computed once and checked against the buffer before a byte is written, so a fixed
//! buffer that is too small yields [`EncodeError::BufferTooSmall`] instead of a panic. MQTT 3.1.1
//! has no properties: encoding for it leaves properties out, but refuses what would change the
//! meaning (a failure reason code in an acknowledgement, AUTH, an alias-only topic).

mod ack;
mod auth;
mod connect;
mod disconnect;
mod fixed_header;
#[doc(hidden)]
pub mod fuzz;
mod primitives;
mod properties;
mod publish;
mod subscribe;

use bytes::{BufMut, Bytes, BytesMut};

pub use fixed_header::{Frame, MAX_PACKET_SIZE, check_frame};
pub use primitives::VARINT_MAX;

use crate::error::{DecodeError, EncodeError};
use crate::packet::{Packet, PacketType, Publish};
use crate::types::Protocol;
use primitives::Reader;

/// Decodes exactly one complete packet.
///
/// `frame` must hold the whole packet and nothing else (a longer buffer is refused with
/// [`DecodeError::TrailingBytes`]). Strings, topics and payloads in the result are slices of
/// `frame`. CONNECT is decoded according to its own protocol name and level, whatever
/// `protocol` says; every other packet according to `protocol`. No size limit is applied here;
/// use [`check_frame`] or [`Decoder`] for that.
pub fn decode(frame: Bytes, protocol: Protocol) -> Result<Packet, DecodeError> {
    match check_frame(&frame, MAX_PACKET_SIZE)? {
        Frame::Complete {
            packet_type,
            flags,
            header_len,
            remaining_len,
        } => {
            let extra = frame.len() - header_len - remaining_len;
            if extra > 0 {
                return Err(DecodeError::TrailingBytes {
                    packet: packet_type,
                    extra,
                });
            }
            decode_frame(frame, packet_type, flags, header_len, protocol)
        }
        Frame::Incomplete { .. } => {
            let packet = match frame.first() {
                Some(first) => fixed_header::parse_first_byte(*first)?.0,
                None => return Err(DecodeError::EmptyFrame),
            };
            let header_done = matches!(
                primitives::parse_varint(frame.get(1..).unwrap_or_default()),
                primitives::VarintParse::Value { .. }
            );
            let field = if header_done {
                "packet body"
            } else {
                "remaining length"
            };
            Err(DecodeError::Truncated { packet, field })
        }
    }
}

/// Decodes a frame whose fixed header has been parsed and checked, taking the frame over so
/// that a PUBLISH payload can be the frame itself rather than another slice of it.
#[inline]
fn decode_frame(
    frame: Bytes,
    packet_type: PacketType,
    flags: u8,
    header_len: usize,
    protocol: Protocol,
) -> Result<Packet, DecodeError> {
    if packet_type == PacketType::Publish
        && let Some(plain) = publish::plain(&frame, header_len, flags, protocol)
    {
        return Ok(publish::assemble(plain, flags, frame));
    }
    decode_body(&frame, packet_type, flags, header_len, protocol, |p| p)
}

/// Decodes the body of a frame whose fixed header has been parsed and checked, and hands the
/// packet to `wrap` (`Some` for [`Decoder`], nothing for [`decode`]).
///
/// The per-type decoders return their own, mostly small, structs; each arm builds the `Packet`
/// and its caller's result in one expression. Inlined into the caller, the packet is written
/// once, straight into the caller's return value, instead of being copied whole (it is a few
/// hundred bytes) through a shared temporary and each intermediate `Result`.
#[inline(always)]
fn decode_body<T>(
    frame: &Bytes,
    packet_type: PacketType,
    flags: u8,
    header_len: usize,
    protocol: Protocol,
    wrap: impl FnOnce(Packet) -> T,
) -> Result<T, DecodeError> {
    let mut r = Reader::new(frame, header_len, packet_type);
    macro_rules! finish {
        ($variant:ident, $decoded:expr) => {{
            let decoded = $decoded?;
            r.finish()?;
            Ok(wrap(Packet::$variant(decoded)))
        }};
    }
    match packet_type {
        PacketType::Publish => finish!(Publish, publish::decode(&mut r, flags, protocol)),
        PacketType::Connect => finish!(Connect, connect::decode_connect(&mut r, flags)),
        PacketType::ConnAck => finish!(ConnAck, connect::decode_connack(&mut r, protocol)),
        PacketType::PubAck => finish!(PubAck, ack::decode(&mut r, packet_type, protocol)),
        PacketType::PubRec => finish!(PubRec, ack::decode(&mut r, packet_type, protocol)),
        PacketType::PubRel => finish!(PubRel, ack::decode(&mut r, packet_type, protocol)),
        PacketType::PubComp => finish!(PubComp, ack::decode(&mut r, packet_type, protocol)),
        PacketType::Subscribe => {
            finish!(Subscribe, subscribe::decode_subscribe(&mut r, protocol))
        }
        PacketType::SubAck => finish!(SubAck, subscribe::decode_suback(&mut r, protocol)),
        PacketType::Unsubscribe => {
            finish!(Unsubscribe, subscribe::decode_unsubscribe(&mut r, protocol))
        }
        PacketType::UnsubAck => finish!(UnsubAck, subscribe::decode_unsuback(&mut r, protocol)),
        PacketType::PingReq | PacketType::PingResp => {
            r.finish()?;
            Ok(wrap(if packet_type == PacketType::PingReq {
                Packet::PingReq
            } else {
                Packet::PingResp
            }))
        }
        PacketType::Disconnect => finish!(Disconnect, disconnect::decode(&mut r, protocol)),
        PacketType::Auth => finish!(Auth, auth::decode(&mut r, protocol)),
    }
}

/// Splits packets off a receive buffer as they complete.
///
/// Call [`Decoder::decode`] after appending received bytes, and again while it returns a packet.
/// Each packet's bytes are split off the buffer and frozen without copying, so decoded payloads
/// share the allocation. Packets larger than `max_packet_size` are refused from their fixed
/// header, before their body is buffered. After a successful CONNECT the decoder switches to
/// the version that CONNECT asked for.
#[derive(Debug, Clone)]
pub struct Decoder {
    protocol: Protocol,
    max_packet_size: u32,
}

impl Decoder {
    /// A decoder for `protocol` refusing packets larger than `max_packet_size` bytes in total
    /// ([`MAX_PACKET_SIZE`] for no limit beyond the protocol's).
    pub fn new(protocol: Protocol, max_packet_size: u32) -> Self {
        Decoder {
            protocol,
            max_packet_size,
        }
    }

    /// The version packets are decoded as.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Changes the version (a client does this once CONNACK arrives for its CONNECT).
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
    }

    /// The size limit in force.
    pub fn max_packet_size(&self) -> u32 {
        self.max_packet_size
    }

    /// Changes the size limit (e.g. after negotiating Maximum Packet Size).
    pub fn set_max_packet_size(&mut self, max_packet_size: u32) {
        self.max_packet_size = max_packet_size;
    }

    /// Decodes the next packet at the front of `buf`, or returns `Ok(None)` when it is not
    /// complete yet. On an error the connection must be closed; the offending packet may already
    /// have been split off `buf`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        let Frame::Complete {
            packet_type,
            flags,
            header_len,
            remaining_len,
        } = check_frame(buf, self.max_packet_size)?
        else {
            return Ok(None);
        };
        let frame = buf.split_to(header_len + remaining_len).freeze();
        // The hot path, spelled out here so that the packet is written straight into the
        // returned value instead of being moved through intermediate results.
        if packet_type == PacketType::Publish
            && let Some(plain) = publish::plain(&frame, header_len, flags, self.protocol)
        {
            return Ok(Some(publish::assemble(plain, flags, frame)));
        }
        if packet_type == PacketType::Connect {
            let packet = decode_frame(frame, packet_type, flags, header_len, self.protocol)?;
            if let Packet::Connect(connect) = &packet {
                self.protocol = connect.protocol;
            }
            return Ok(Some(packet));
        }
        decode_body(&frame, packet_type, flags, header_len, self.protocol, Some)
    }
}

/// Sizes computed once per encode: the remaining length, and the property block lengths the
/// writer needs again.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Lengths {
    /// Remaining length (variable header + payload).
    pub(crate) body: usize,
    /// Length of the packet's property block, without its prefix.
    pub(crate) props: usize,
    /// Length of the will property block in CONNECT, without its prefix.
    pub(crate) will_props: usize,
}

/// Checks the remaining length and the room in `out`, then writes the fixed header and lets
/// `body` write the rest. Nothing is written when an error is returned.
#[inline(always)]
fn write_frame<B: BufMut>(
    out: &mut B,
    packet: PacketType,
    first: u8,
    l: &Lengths,
    body: impl FnOnce(&mut B),
) -> Result<(), EncodeError> {
    check_room(out, packet, l)?;
    fixed_header::put_fixed_header(out, first, l.body);
    body(out);
    Ok(())
}

/// Refuses a remaining length beyond the protocol's maximum and a packet `out` has no room for.
#[inline(always)]
fn check_room(out: &impl BufMut, packet: PacketType, l: &Lengths) -> Result<(), EncodeError> {
    if l.body > VARINT_MAX as usize {
        return Err(EncodeError::PacketTooLarge {
            packet,
            len: l.body,
        });
    }
    let needed = fixed_header::header_len(l.body) + l.body;
    if out.remaining_mut() < needed {
        return Err(EncodeError::BufferTooSmall {
            needed,
            available: out.remaining_mut(),
        });
    }
    Ok(())
}

impl Publish {
    /// Bytes this PUBLISH takes on the wire for `protocol`, as [`Packet::encoded_len`] without
    /// wrapping it in a [`Packet`].
    pub fn encoded_len(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        let l = publish::len(self, protocol)?;
        if l.body > VARINT_MAX as usize {
            return Err(EncodeError::PacketTooLarge {
                packet: PacketType::Publish,
                len: l.body,
            });
        }
        Ok(fixed_header::header_len(l.body) + l.body)
    }

    /// Writes this PUBLISH, as [`Packet::encode`] without wrapping it in a [`Packet`] (a
    /// sender keeping the message for a resend encodes it in place).
    pub fn encode(&self, protocol: Protocol, out: &mut impl BufMut) -> Result<(), EncodeError> {
        let l = publish::len(self, protocol)?;
        check_room(out, PacketType::Publish, &l)?;
        publish::put_packet(out, self, protocol, &l);
        Ok(())
    }
}

impl Packet {
    #[inline]
    fn lengths(&self, protocol: Protocol) -> Result<Lengths, EncodeError> {
        let l = match self {
            Packet::Connect(c) => connect::connect_len(c)?,
            Packet::ConnAck(c) => connect::connack_len(c, protocol)?,
            Packet::Publish(p) => publish::len(p, protocol)?,
            Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
                ack::len(self.packet_type(), a, protocol)?
            }
            Packet::Subscribe(s) => subscribe::subscribe_len(s, protocol)?,
            Packet::SubAck(s) => subscribe::suback_len(s, protocol)?,
            Packet::Unsubscribe(u) => subscribe::unsubscribe_len(u, protocol)?,
            Packet::UnsubAck(u) => subscribe::unsuback_len(u, protocol)?,
            Packet::PingReq | Packet::PingResp => Lengths::default(),
            Packet::Disconnect(d) => disconnect::len(d, protocol)?,
            Packet::Auth(a) => auth::len(a, protocol)?,
        };
        if l.body > VARINT_MAX as usize {
            return Err(EncodeError::PacketTooLarge {
                packet: self.packet_type(),
                len: l.body,
            });
        }
        Ok(l)
    }

    #[inline]
    fn first_byte(&self) -> u8 {
        match self {
            Packet::Publish(p) => publish::first_byte(p),
            other => {
                let t = other.packet_type();
                (t as u8) << 4 | fixed_header::required_flags(t).unwrap_or(0)
            }
        }
    }

    /// Bytes this packet takes on the wire for `protocol` (CONNECT uses its own version).
    pub fn encoded_len(&self, protocol: Protocol) -> Result<usize, EncodeError> {
        if let Packet::Publish(p) = self {
            return p.encoded_len(protocol);
        }
        let l = self.lengths(protocol)?;
        Ok(fixed_header::header_len(l.body) + l.body)
    }

    /// Writes the packet for `protocol` (CONNECT uses its own version) to `out`.
    ///
    /// Nothing is written when an error is returned; `out` must have room for
    /// [`Packet::encoded_len`] bytes (growable buffers always do).
    pub fn encode(&self, protocol: Protocol, out: &mut impl BufMut) -> Result<(), EncodeError> {
        // The hot packets are dispatched once, with sizing and writing inlined together; the
        // rest go through the general path.
        match self {
            Packet::Publish(p) => p.encode(protocol, out),
            Packet::Subscribe(s) => {
                let l = subscribe::subscribe_len(s, protocol)?;
                let first = self.first_byte();
                write_frame(out, PacketType::Subscribe, first, &l, |out| {
                    subscribe::put_subscribe(out, s, protocol, &l);
                })
            }
            _ => self.encode_general(protocol, out),
        }
    }

    fn encode_general(&self, protocol: Protocol, out: &mut impl BufMut) -> Result<(), EncodeError> {
        let l = self.lengths(protocol)?;
        write_frame(
            out,
            self.packet_type(),
            self.first_byte(),
            &l,
            |out| match self {
                Packet::Connect(c) => connect::put_connect(out, c, &l),
                Packet::ConnAck(c) => connect::put_connack(out, c, protocol, &l),
                Packet::Publish(p) => publish::put(out, p, protocol, &l),
                Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
                    ack::put(out, a, &l);
                }
                Packet::Subscribe(s) => subscribe::put_subscribe(out, s, protocol, &l),
                Packet::SubAck(s) => subscribe::put_suback(out, s, protocol, &l),
                Packet::Unsubscribe(u) => subscribe::put_unsubscribe(out, u, protocol, &l),
                Packet::UnsubAck(u) => subscribe::put_unsuback(out, u, protocol, &l),
                Packet::PingReq | Packet::PingResp => {}
                Packet::Disconnect(d) => disconnect::put(out, d, &l),
                Packet::Auth(a) => auth::put(out, a, &l),
            },
        )
    }

    /// Writes the packet into the front of `out` and returns how many bytes it took.
    pub fn encode_to_slice(
        &self,
        protocol: Protocol,
        out: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let available = out.len();
        let mut cursor = out;
        self.encode(protocol, &mut cursor)?;
        Ok(available - cursor.len())
    }

    /// Encodes into a new buffer of exactly the packet's size.
    pub fn to_bytes(&self, protocol: Protocol) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::with_capacity(self.encoded_len(protocol)?);
        self.encode(protocol, &mut out)?;
        Ok(out.freeze())
    }
}
