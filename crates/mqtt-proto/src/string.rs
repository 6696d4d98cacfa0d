//! `MqttStr`: an MQTT UTF-8 string backed by shared bytes, so decoded topics and client ids are
//! slices of the receive buffer rather than copies. Validation happens once, at construction;
//! nothing downstream re-checks it. This module does not know about topics (see `topic`).

use core::borrow::Borrow;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

use bytes::Bytes;

/// Why a byte string is not a valid MQTT UTF-8 string ([MQTT-1.5.4]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StringError {
    /// The bytes are not well-formed UTF-8 (this includes encoded surrogates).
    #[error("[MQTT-1.5.4-1] string is not well-formed UTF-8")]
    InvalidUtf8,
    /// The string contains U+0000.
    #[error("[MQTT-1.5.4-2] string contains the null character U+0000")]
    NullCharacter,
    /// The string is longer than a two-byte length prefix can describe.
    #[error("[MQTT-1.5.4] string is {0} bytes long; MQTT strings hold at most 65535")]
    TooLong(usize),
}

/// A UTF-8 string that satisfies MQTT's rules: well-formed, no U+0000, at most 65,535 bytes.
///
/// Cloning is cheap (a reference count), and a string decoded from a packet shares the packet's
/// buffer.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct MqttStr(Bytes);

impl MqttStr {
    /// The empty string.
    pub const EMPTY: MqttStr = MqttStr(Bytes::new());

    /// Validates `bytes` and wraps them without copying.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, StringError> {
        validate(&bytes)?;
        Ok(MqttStr(bytes))
    }

    /// Validates and copies `s`.
    pub fn new(s: &str) -> Result<Self, StringError> {
        validate(s.as_bytes())?;
        Ok(MqttStr(Bytes::copy_from_slice(s.as_bytes())))
    }

    /// Validates a `'static` string without copying it.
    pub fn from_static(s: &'static str) -> Result<Self, StringError> {
        validate(s.as_bytes())?;
        Ok(MqttStr(Bytes::from_static(s.as_bytes())))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor runs `validate`, which checks that the bytes are UTF-8, and
        // `Bytes` is immutable, so the bytes are still UTF-8 here.
        #[allow(unsafe_code)]
        unsafe {
            core::str::from_utf8_unchecked(&self.0)
        }
    }

    /// The string's bytes, shared.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Gives back the underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The decoder's one-pass check for topics and identifiers: accepts `bytes` when they are a
    /// valid MQTT string that also holds no control character (U+0001..U+001F and
    /// U+007F..U+009F, the rule `codec::primitives::refuse_controls` applies to topics and
    /// identifiers), and says whether `+` or `#` occur. A refusal gives the bytes back and means
    /// only "not accepted by this check": the caller then runs [`MqttStr::from_bytes`] and the
    /// control-character check, which name the rule that failed. Whatever this accepts, those
    /// accept too.
    #[inline]
    pub(crate) fn from_clean_bytes(bytes: Bytes) -> Result<(Self, Wildcards), Bytes> {
        match scan_clean(&bytes) {
            Some(wildcards) => Ok((MqttStr(bytes), wildcards)),
            None => Err(bytes),
        }
    }
}

/// Whether a string checked by [`MqttStr::from_clean_bytes`] contains `+` or `#`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wildcards {
    /// Neither `+` nor `#` occurs.
    None,
    /// At least one `+` or `#` occurs.
    Some,
}

/// One pass over the bytes in blocks of 16 (which the compiler turns into vector compares):
/// printable ASCII without wildcards is the common case and settles it. Otherwise control bytes
/// (which include U+0000) refuse, and bytes above 0x7F cost a UTF-8 check and a look for the C1
/// controls U+0080..U+009F (encoded `C2 80`..`C2 9F`).
#[inline]
fn scan_clean(bytes: &[u8]) -> Option<Wildcards> {
    if bytes.len() > usize::from(u16::MAX) {
        return None;
    }
    let (unusual, wild) = classify(bytes);
    if unusual
        && (bytes.iter().any(|&b| b < 0x20 || b == 0x7F)
            || core::str::from_utf8(bytes).is_err()
            || bytes.windows(2).any(|w| matches!(w, [0xC2, 0x80..=0x9F])))
    {
        return None;
    }
    Some(if wild {
        Wildcards::Some
    } else {
        Wildcards::None
    })
}

/// Whether any byte is outside printable ASCII (0x20..=0x7E), and whether any is `+` or `#`.
/// Blocks may overlap: re-reading a byte does not change either answer.
#[inline]
fn classify(bytes: &[u8]) -> (bool, bool) {
    if let Some(last) = bytes.last_chunk::<16>() {
        let (blocks, _) = bytes.as_chunks::<16>();
        let (mut unusual, mut wild) = classify_block(last);
        for block in blocks {
            let (u, w) = classify_block(block);
            unusual |= u;
            wild |= w;
        }
        (unusual, wild)
    } else if let (Some(first), Some(last)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        let (fu, fw) = classify_block(first);
        let (lu, lw) = classify_block(last);
        (fu | lu, fw | lw)
    } else {
        bytes.iter().fold((false, false), |(u, w), &b| {
            (u | unusual(b), w | wildcard(b))
        })
    }
}

/// [`classify`] for one block, without early exits so that it becomes a few vector compares.
#[inline(always)]
fn classify_block<const N: usize>(block: &[u8; N]) -> (bool, bool) {
    let (mut u, mut w) = (false, false);
    for &b in block {
        u |= unusual(b);
        w |= wildcard(b);
    }
    (u, w)
}

/// Outside printable ASCII: below 0x20, 0x7F, or above.
#[inline(always)]
fn unusual(b: u8) -> bool {
    b.wrapping_sub(0x20) >= 0x5F
}

#[inline(always)]
fn wildcard(b: u8) -> bool {
    b == b'+' || b == b'#'
}

fn validate(bytes: &[u8]) -> Result<(), StringError> {
    if bytes.len() > usize::from(u16::MAX) {
        return Err(StringError::TooLong(bytes.len()));
    }
    if core::str::from_utf8(bytes).is_err() {
        return Err(StringError::InvalidUtf8);
    }
    if bytes.contains(&0) {
        return Err(StringError::NullCharacter);
    }
    Ok(())
}

impl Deref for MqttStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for MqttStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for MqttStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

// Hash as `str` does, so that `Borrow<str>` lookups in hash maps agree with `MqttStr` keys.
impl Hash for MqttStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq<str> for MqttStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MqttStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl TryFrom<&str> for MqttStr {
    type Error = StringError;
    fn try_from(s: &str) -> Result<Self, StringError> {
        MqttStr::new(s)
    }
}

impl TryFrom<alloc::string::String> for MqttStr {
    type Error = StringError;
    fn try_from(s: alloc::string::String) -> Result<Self, StringError> {
        MqttStr::from_bytes(Bytes::from(s.into_bytes()))
    }
}

impl fmt::Debug for MqttStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MqttStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_and_multibyte_text() {
        assert_eq!(MqttStr::new("a/b").unwrap().as_str(), "a/b");
        assert_eq!(MqttStr::new("température").unwrap().len(), 12);
    }

    #[test]
    fn rejects_null_invalid_utf8_and_overlong() {
        assert_eq!(MqttStr::new("a\0b"), Err(StringError::NullCharacter));
        let surrogate = Bytes::from_static(&[0xED, 0xA0, 0x80]);
        assert_eq!(
            MqttStr::from_bytes(surrogate),
            Err(StringError::InvalidUtf8)
        );
        let long = alloc::string::String::from_utf8(alloc::vec![b'x'; 65_536]).unwrap();
        assert_eq!(MqttStr::new(&long), Err(StringError::TooLong(65_536)));
    }

    #[test]
    fn hashes_like_str_for_borrowed_lookups() {
        let mut set = std::collections::HashSet::new();
        set.insert(MqttStr::new("dev/1").unwrap());
        assert!(set.contains("dev/1"));
    }

    #[test]
    fn classify_sees_a_special_byte_at_every_position_and_length() {
        // Covers the three block strategies (under 8, 8 to 15, 16 and more bytes) and the
        // overlapping last block.
        for len in 1..=40 {
            for pos in 0..len {
                for special in [0x00, 0x1F, 0x7F, 0x80, 0xFF, b'+', b'#'] {
                    let mut bytes = alloc::vec![b'a'; len];
                    bytes[pos] = special;
                    let wild = special == b'+' || special == b'#';
                    assert_eq!(
                        classify(&bytes),
                        (!wild, wild),
                        "byte {special:#04x} at {pos} of {len}"
                    );
                }
            }
            assert_eq!(classify(&alloc::vec![b' '; len]), (false, false));
            assert_eq!(classify(&alloc::vec![b'~'; len]), (false, false));
        }
        assert_eq!(classify(b""), (false, false));
    }

    #[test]
    fn clean_scan_accepts_multibyte_text_and_refuses_c1_controls() {
        let ok = |s: &[u8]| MqttStr::from_clean_bytes(Bytes::copy_from_slice(s)).is_ok();
        assert!(ok("température/€/+".as_bytes()));
        assert!(ok(b"plain/ascii/topic"));
        assert!(!ok(b"a\x00b"));
        assert!(!ok(b"tab\there"));
        assert!(!ok(b"del\x7f"));
        assert!(!ok("c1\u{85}".as_bytes()));
        assert!(!ok(&[b'a', 0xED, 0xA0, 0x80]));
        // U+00A0 is C2 A0: a lead byte 0xC2 that is not a C1 control.
        assert!(ok("nbsp\u{a0}".as_bytes()));
    }
}
