//! The data representations of §1.5: bits, two- and four-byte integers, variable byte integers,
//! UTF-8 strings and binary data, read from a frame without copying and written to any
//! `BufMut`. This module knows nothing about packets beyond naming them in errors.

use bytes::{BufMut, Bytes};

use crate::error::{DecodeError, EncodeError};
use crate::packet::PacketType;
use crate::string::MqttStr;
use crate::topic::TopicName;

/// Largest value a variable byte integer can hold (four bytes).
pub const VARINT_MAX: u32 = 268_435_455;

/// A cursor over one packet body. Every read is bounds-checked and names the field it was
/// reading when the body is too short; slices share the frame's buffer.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
    pub(crate) packet: PacketType,
}

impl<'a> Reader<'a> {
    /// A reader over `buf[start..]`.
    #[inline]
    pub(crate) fn new(buf: &'a Bytes, start: usize, packet: PacketType) -> Self {
        Reader {
            buf,
            pos: start.min(buf.len()),
            end: buf.len(),
            packet,
        }
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.end
    }

    #[cold]
    fn truncated(&self, field: &'static str) -> DecodeError {
        DecodeError::Truncated {
            packet: self.packet,
            field,
        }
    }

    /// Takes the next `len` bytes as their own reader, leaving this one after them. Fails with
    /// `Truncated` when fewer remain.
    #[inline]
    pub(crate) fn split(
        &mut self,
        len: usize,
        field: &'static str,
    ) -> Result<Reader<'a>, DecodeError> {
        if len > self.remaining() {
            return Err(self.truncated(field));
        }
        let sub = Reader {
            buf: self.buf,
            pos: self.pos,
            end: self.pos + len,
            packet: self.packet,
        };
        self.pos += len;
        Ok(sub)
    }

    #[inline]
    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if len > self.remaining() {
            return Err(self.truncated(field));
        }
        let slice = self
            .buf
            .get(self.pos..self.pos + len)
            .ok_or_else(|| self.truncated(field))?;
        self.pos += len;
        Ok(slice)
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        match self.take(1, field)? {
            [b] => Ok(*b),
            _ => Err(self.truncated(field)),
        }
    }

    #[inline]
    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        match self.take(2, field)? {
            [a, b] => Ok(u16::from_be_bytes([*a, *b])),
            _ => Err(self.truncated(field)),
        }
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        match self.take(4, field)? {
            [a, b, c, d] => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
            _ => Err(self.truncated(field)),
        }
    }

    /// A variable byte integer (§1.5.5): at most four bytes, minimally encoded.
    pub(crate) fn varint(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        let rest = self.buf.get(self.pos..self.end).unwrap_or_default();
        match parse_varint(rest) {
            VarintParse::Value { value, len } => {
                self.pos += len;
                Ok(value)
            }
            VarintParse::Incomplete => Err(self.truncated(field)),
            VarintParse::Invalid => Err(DecodeError::InvalidVarint {
                packet: self.packet,
                field,
            }),
        }
    }

    /// `len` bytes as a shared slice of the frame.
    #[inline]
    pub(crate) fn bytes(&mut self, len: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        if len > self.remaining() {
            return Err(self.truncated(field));
        }
        let out = self.buf.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(out)
    }

    /// Binary data: a two-byte length and that many bytes.
    #[inline]
    pub(crate) fn binary(&mut self, field: &'static str) -> Result<Bytes, DecodeError> {
        let len = self.u16(field)?;
        self.bytes(usize::from(len), field)
    }

    /// A UTF-8 string (§1.5.4), validated once.
    pub(crate) fn string(&mut self, field: &'static str) -> Result<MqttStr, DecodeError> {
        let raw = self.binary(field)?;
        self.checked_string(raw, field)
    }

    /// Validates bytes already read as the string `field`.
    pub(crate) fn checked_string(
        &self,
        raw: Bytes,
        field: &'static str,
    ) -> Result<MqttStr, DecodeError> {
        MqttStr::from_bytes(raw).map_err(|source| DecodeError::InvalidString {
            packet: self.packet,
            field,
            source,
        })
    }

    /// A topic name: a string with no wildcards; empty is refused.
    pub(crate) fn topic_name(&mut self, field: &'static str) -> Result<TopicName, DecodeError> {
        let text = self.string(field)?;
        TopicName::from_mqtt_str(text).map_err(|source| DecodeError::InvalidTopicName {
            packet: self.packet,
            field,
            source,
        })
    }

    /// How many length-prefixed fields, each followed by `trailing` bytes, fill the rest of the
    /// body; counting stops at the first that does not fit. A capacity hint for lists that are
    /// read and checked afterwards, so that they are allocated once and at their exact size.
    pub(crate) fn count_fields(&self, trailing: usize) -> usize {
        let mut rest = self.buf.get(self.pos..self.end).unwrap_or_default();
        let mut count = 0;
        while let Some((len, after)) = rest.split_first_chunk::<2>() {
            let skip = usize::from(u16::from_be_bytes(*len)) + trailing;
            match after.get(skip..) {
                Some(next) => rest = next,
                None => break,
            }
            count += 1;
        }
        count
    }

    /// Everything left, shared.
    #[inline]
    pub(crate) fn rest(&mut self) -> Bytes {
        let out = self.buf.slice(self.pos..self.end.max(self.pos));
        self.pos = self.end;
        out
    }

    /// Fails when bytes remain.
    #[inline]
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(DecodeError::TrailingBytes {
                packet: self.packet,
                extra,
            }),
        }
    }
}

/// Refuses the control characters U+0001..U+001F and U+007F..U+009F in a topic name, topic
/// filter, client identifier or user name. §1.5.4 says senders SHOULD NOT send them and
/// receivers MAY treat them as malformed; tether does so in every protocol version, as the
/// Mosquitto reference broker does, so that no identifier or topic can hide characters a log
/// line or terminal would interpret. Other strings (properties, passwords, payloads) keep them.
pub(crate) fn refuse_controls(
    packet: PacketType,
    field: &'static str,
    text: &str,
) -> Result<(), DecodeError> {
    let mut prev = 0u8;
    for &b in text.as_bytes() {
        // U+0080..U+009F are encoded as C2 80..C2 9F; 0xC2 is only ever a lead byte.
        if b < 0x20 || b == 0x7F || (prev == 0xC2 && (0x80..=0x9F).contains(&b)) {
            return Err(DecodeError::ControlCharacter {
                packet,
                field,
                code_point: u32::from(b),
            });
        }
        prev = b;
    }
    Ok(())
}

/// Outcome of reading a variable byte integer from the front of a slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintParse {
    /// The value and how many bytes it took.
    Value { value: u32, len: usize },
    /// The slice ends before the last byte (continuation bit still set).
    Incomplete,
    /// A fifth byte would be needed, or the encoding is not minimal.
    Invalid,
}

/// Reads a variable byte integer. A trailing zero byte after a continuation (e.g. `80 00`) is
/// a non-minimal encoding and is refused ([MQTT-1.5.5-1] says the minimum number of bytes MUST
/// be used).
pub(crate) fn parse_varint(buf: &[u8]) -> VarintParse {
    let mut value: u32 = 0;
    for (i, byte) in buf.iter().take(4).enumerate() {
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && *byte == 0 {
                return VarintParse::Invalid;
            }
            return VarintParse::Value { value, len: i + 1 };
        }
    }
    if buf.len() >= 4 {
        VarintParse::Invalid
    } else {
        VarintParse::Incomplete
    }
}

/// Bytes a variable byte integer of `value` takes (values above the maximum count as 4; the
/// writer refuses them separately).
pub(crate) fn varint_len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes a variable byte integer. The caller has checked `value <= VARINT_MAX`.
#[inline]
pub(crate) fn put_varint(out: &mut impl BufMut, value: usize) {
    let mut value = value;
    loop {
        // Truncation is the point: the low seven bits go out in each byte.
        #[allow(clippy::cast_possible_truncation)]
        let mut byte = (value & 0x7F) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if value == 0 {
            break;
        }
    }
}

/// Checks a length-prefixed field and returns the bytes it takes on the wire (2 + len).
#[inline]
pub(crate) fn field_len(
    packet: PacketType,
    field: &'static str,
    len: usize,
) -> Result<usize, EncodeError> {
    if len > usize::from(u16::MAX) {
        return Err(EncodeError::FieldTooLong { packet, field, len });
    }
    Ok(2 + len)
}

/// Writes a two-byte length and the bytes. Lengths were checked by [`field_len`].
#[inline]
pub(crate) fn put_binary(out: &mut impl BufMut, data: &[u8]) {
    // Checked by `field_len` during length computation.
    #[allow(clippy::cast_possible_truncation)]
    out.put_u16(data.len() as u16);
    out.put_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_boundaries_round_trip() {
        for value in [
            0usize,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            268_435_455,
        ] {
            let mut out = alloc::vec::Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out.len(), varint_len(value));
            assert_eq!(
                parse_varint(&out),
                VarintParse::Value {
                    value: value as u32,
                    len: out.len()
                }
            );
        }
    }

    #[test]
    fn varint_refuses_five_bytes_and_non_minimal_forms() {
        assert_eq!(
            parse_varint(&[0x80, 0x80, 0x80, 0x80, 0x01]),
            VarintParse::Invalid
        );
        assert_eq!(parse_varint(&[0x80, 0x00]), VarintParse::Invalid);
        assert_eq!(parse_varint(&[0xFF, 0x80, 0x00]), VarintParse::Invalid);
        assert_eq!(parse_varint(&[0x80, 0x80]), VarintParse::Incomplete);
        assert_eq!(parse_varint(&[]), VarintParse::Incomplete);
    }

    #[test]
    fn reader_names_the_truncated_field() {
        let buf = Bytes::from_static(&[0x00, 0x05, b'a']);
        let mut r = Reader::new(&buf, 0, PacketType::Publish);
        assert_eq!(
            r.string("topic name"),
            Err(DecodeError::Truncated {
                packet: PacketType::Publish,
                field: "topic name"
            })
        );
    }
}
