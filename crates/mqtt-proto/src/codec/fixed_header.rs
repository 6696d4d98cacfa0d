//! The fixed header (§2.1): packet type, the flag bits each type requires, and the remaining
//! length. [`check_frame`] sizes a packet from its first bytes so that oversized packets are
//! refused before their body is buffered. Packet bodies are not read here.

use bytes::BufMut;

use super::primitives::{VarintParse, parse_varint, put_varint, varint_len};
use crate::error::DecodeError;
use crate::packet::PacketType;

/// The largest possible packet: one type byte, four remaining-length bytes and 268,435,455
/// bytes of body. Pass it as `max_packet_size` for "no limit beyond the protocol's".
pub const MAX_PACKET_SIZE: u32 = 268_435_460;

/// What the start of a receive buffer says about the next packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// More bytes are needed: at least `needed` more (exact once the fixed header is complete,
    /// 1 while it is still being received).
    Incomplete {
        /// Minimum number of further bytes before the packet can be complete.
        needed: usize,
    },
    /// The whole packet is in the buffer: `header_len + remaining_len` bytes from its start.
    Complete {
        /// The packet type.
        packet_type: PacketType,
        /// The low four bits of the first byte.
        flags: u8,
        /// Length of the fixed header (2 to 5 bytes).
        header_len: usize,
        /// The remaining length: bytes of variable header and payload.
        remaining_len: usize,
    },
}

impl Frame {
    /// Length of the whole packet, when it is complete.
    pub fn total_len(&self) -> Option<usize> {
        match self {
            Frame::Incomplete { .. } => None,
            Frame::Complete {
                header_len,
                remaining_len,
                ..
            } => Some(header_len + remaining_len),
        }
    }

    /// True when the whole packet is buffered.
    pub fn is_complete(&self) -> bool {
        matches!(self, Frame::Complete { .. })
    }
}

/// Inspects the fixed header at the start of `buf`.
///
/// Refuses packet type 0, flag bits the packet type does not allow ([MQTT-2.1.3-1]; PUBLISH
/// and CONNECT flags are checked by [`super::decode`]), a remaining length longer than four bytes or not
/// minimally encoded, and any packet whose total size exceeds `max_packet_size` — all before the
/// body has arrived. Returns [`Frame::Complete`] only when the whole packet is in `buf`.
pub fn check_frame(buf: &[u8], max_packet_size: u32) -> Result<Frame, DecodeError> {
    let Some((&first, rest)) = buf.split_first() else {
        return Ok(Frame::Incomplete { needed: 2 });
    };
    let (packet_type, flags) = parse_first_byte(first)?;
    let (remaining_len, len_bytes) = match parse_varint(rest) {
        VarintParse::Value { value, len } => (value as usize, len),
        VarintParse::Incomplete => return Ok(Frame::Incomplete { needed: 1 }),
        VarintParse::Invalid if rest.len() >= 4 && rest.iter().take(4).all(|b| b & 0x80 != 0) => {
            return Err(DecodeError::RemainingLengthTooLong);
        }
        VarintParse::Invalid => {
            return Err(DecodeError::InvalidVarint {
                packet: packet_type,
                field: "remaining length",
            });
        }
    };
    let header_len = 1 + len_bytes;
    let total = header_len + remaining_len;
    if total as u64 > u64::from(max_packet_size) {
        return Err(DecodeError::PacketTooLarge {
            size: total as u64,
            max: max_packet_size,
        });
    }
    if buf.len() < total {
        return Ok(Frame::Incomplete {
            needed: total - buf.len(),
        });
    }
    Ok(Frame::Complete {
        packet_type,
        flags,
        header_len,
        remaining_len,
    })
}

/// Splits the first byte into a packet type and flags, checking the fixed flags of every type
/// except PUBLISH.
pub(crate) fn parse_first_byte(first: u8) -> Result<(PacketType, u8), DecodeError> {
    let packet_type =
        PacketType::from_u8(first >> 4).ok_or(DecodeError::ReservedPacketType { byte: first })?;
    let flags = first & 0x0F;
    match required_flags(packet_type) {
        Some(expected) if flags != expected => Err(DecodeError::InvalidFlags {
            packet: packet_type,
            flags,
            expected,
        }),
        _ => Ok((packet_type, flags)),
    }
}

/// The flags a packet type must carry (§2.1.3), or `None` where the body decides: PUBLISH, whose
/// flags are data, and CONNECT, whose check depends on the version it carries (`connect`).
pub(crate) fn required_flags(packet_type: PacketType) -> Option<u8> {
    match packet_type {
        PacketType::Publish | PacketType::Connect => None,
        PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => Some(0b0010),
        _ => Some(0),
    }
}

/// Length of a fixed header for a body of `remaining_len` bytes.
pub(crate) fn header_len(remaining_len: usize) -> usize {
    1 + varint_len(remaining_len)
}

/// Writes a fixed header. The caller has checked `remaining_len` against the maximum. The
/// one- and two-byte lengths of most packets are written with a single call.
#[inline]
pub(crate) fn put_fixed_header(out: &mut impl BufMut, first: u8, remaining_len: usize) {
    // Truncation is the point: each cast keeps the seven bits going into that byte.
    #[allow(clippy::cast_possible_truncation)]
    match remaining_len {
        0..=0x7F => out.put_u16(u16::from(first) << 8 | remaining_len as u16),
        0x80..=0x3FFF => {
            let low = (remaining_len & 0x7F) as u8 | 0x80;
            let high = (remaining_len >> 7) as u8;
            out.put_slice(&[first, low, high]);
        }
        _ => {
            out.put_u8(first);
            put_varint(out, remaining_len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_header_asks_for_more() {
        assert_eq!(check_frame(&[], 100), Ok(Frame::Incomplete { needed: 2 }));
        assert_eq!(
            check_frame(&[0x30], 100),
            Ok(Frame::Incomplete { needed: 1 })
        );
        assert_eq!(
            check_frame(&[0x30, 0x80], 1000),
            Ok(Frame::Incomplete { needed: 1 })
        );
        assert_eq!(
            check_frame(&[0x30, 0x05, 0, 0], 100),
            Ok(Frame::Incomplete { needed: 3 })
        );
    }

    #[test]
    fn complete_frame_reports_lengths() {
        let frame = check_frame(&[0xC0, 0x00, 0xFF], 100).unwrap();
        assert_eq!(
            frame,
            Frame::Complete {
                packet_type: PacketType::PingReq,
                flags: 0,
                header_len: 2,
                remaining_len: 0
            }
        );
        assert_eq!(frame.total_len(), Some(2));
    }

    #[test]
    fn five_byte_remaining_length_is_refused_before_the_fifth_byte() {
        assert_eq!(
            check_frame(&[0x30, 0x80, 0x80, 0x80, 0x80], MAX_PACKET_SIZE),
            Err(DecodeError::RemainingLengthTooLong)
        );
    }

    #[test]
    fn fixed_header_matches_the_general_varint_writer_at_every_boundary() {
        for len in [
            0usize,
            1,
            127,
            128,
            129,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            268_435_455,
        ] {
            let mut fast = alloc::vec::Vec::new();
            put_fixed_header(&mut fast, 0x32, len);
            let mut general = alloc::vec![0x32];
            put_varint(&mut general, len);
            assert_eq!(fast, general, "remaining length {len}");
            assert_eq!(fast.len(), header_len(len));
        }
    }
}
