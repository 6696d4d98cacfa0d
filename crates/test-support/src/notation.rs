//! The packet notation of the conformance sequences: space-separated tokens, each bare hex bytes
//! (`30`, `746F70`), a prefixed decimal number (`rN` remaining length and `vN` variable-byte
//! integer, deliberately allowing out-of-range values; `iN` one byte; `HN`, `kN`, `mN`, `sN` two
//! bytes big-endian; `LN` four bytes big-endian), or `'text'` in single quotes (UTF-8, may hold
//! spaces). This module only turns notation into bytes; it knows nothing of MQTT semantics.

/// Why a notation string could not be turned into bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotationError {
    /// A quoted text has no closing quote.
    #[error("unterminated quoted text starting at byte {0}")]
    UnterminatedText(usize),
    /// A token is neither hex bytes nor a known prefix with a number.
    #[error("token {0:?} is neither hex bytes nor one of rN vN iN HN kN mN sN LN")]
    BadToken(String),
    /// The number does not fit the token's width.
    #[error("token {0:?}: the number does not fit in its field")]
    OutOfRange(String),
}

/// Converts notation to bytes.
pub fn parse(notation: &str) -> Result<Vec<u8>, NotationError> {
    let mut out = Vec::new();
    let mut rest = notation;
    let mut offset = 0;
    loop {
        let trimmed = rest.trim_start();
        offset += rest.len() - trimmed.len();
        rest = trimmed;
        if rest.is_empty() {
            return Ok(out);
        }
        if let Some(text) = rest.strip_prefix('\'') {
            let end = text
                .find('\'')
                .ok_or(NotationError::UnterminatedText(offset))?;
            out.extend_from_slice(text.get(..end).unwrap_or_default().as_bytes());
            let consumed = end + 2;
            rest = rest.get(consumed..).unwrap_or_default();
            offset += consumed;
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let token = rest.get(..end).unwrap_or_default();
        token_bytes(token, &mut out)?;
        rest = rest.get(end..).unwrap_or_default();
        offset += end;
    }
}

fn token_bytes(token: &str, out: &mut Vec<u8>) -> Result<(), NotationError> {
    let bad = || NotationError::BadToken(token.to_owned());
    let range = || NotationError::OutOfRange(token.to_owned());
    let mut chars = token.chars();
    let prefix = chars.next().ok_or_else(bad)?;
    let number = chars.as_str();
    if matches!(prefix, 'r' | 'v' | 'i' | 'H' | 'k' | 'm' | 's' | 'L') {
        let value: u64 = number.parse().map_err(|_| bad())?;
        match prefix {
            'r' | 'v' => push_varint(value, out),
            'i' => out.push(u8::try_from(value).map_err(|_| range())?),
            'L' => out.extend_from_slice(&u32::try_from(value).map_err(|_| range())?.to_be_bytes()),
            _ => out.extend_from_slice(&u16::try_from(value).map_err(|_| range())?.to_be_bytes()),
        }
        return Ok(());
    }
    if !token.len().is_multiple_of(2) {
        return Err(bad());
    }
    for pair in token.as_bytes().chunks(2) {
        let text = core::str::from_utf8(pair).map_err(|_| bad())?;
        out.push(u8::from_str_radix(text, 16).map_err(|_| bad())?);
    }
    Ok(())
}

/// MQTT variable-byte integer encoding without the 4-byte limit, so tests can send malformed
/// lengths.
fn push_varint(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if value == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_with_text_and_numbers() {
        assert_eq!(
            parse("30 r14 s5 'topic' 'payload'").unwrap(),
            b"\x30\x0e\x00\x05topicpayload"
        );
    }

    #[test]
    fn every_prefix() {
        assert_eq!(
            parse("i7 H258 k10 m1 s0 L1").unwrap(),
            [7, 1, 2, 0, 10, 0, 1, 0, 0, 0, 0, 0, 1]
        );
        assert_eq!(parse("v321").unwrap(), [0xC1, 0x02]);
        assert_eq!(parse("r268435456").unwrap(), [0x80, 0x80, 0x80, 0x80, 0x01]);
        assert_eq!(parse("746F70 00").unwrap(), b"top\0");
        assert_eq!(parse("'a b'").unwrap(), b"a b");
    }

    #[test]
    fn errors_name_the_token() {
        assert_eq!(parse("30 zz"), Err(NotationError::BadToken("zz".into())));
        assert_eq!(parse("i256"), Err(NotationError::OutOfRange("i256".into())));
        assert_eq!(parse("'open"), Err(NotationError::UnterminatedText(0)));
        assert_eq!(parse("303"), Err(NotationError::BadToken("303".into())));
    }
}
