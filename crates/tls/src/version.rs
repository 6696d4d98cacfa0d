//! TLS protocol version numbers as they appear on the wire, with human names.
//! It does not decide which versions are acceptable; that is `policy`.

use std::fmt;

use serde::Serialize;

use crate::suite::is_grease;

/// A protocol version as two wire bytes (0x0303 = TLS 1.2). Ordered by number, which matches
/// protocol age for SSL 3.0 … TLS 1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ProtocolVersion(pub u16);

impl ProtocolVersion {
    /// SSL 2.0 (only ever seen in SSLv2-format hellos).
    pub const SSL2: ProtocolVersion = ProtocolVersion(0x0002);
    /// SSL 3.0.
    pub const SSL3: ProtocolVersion = ProtocolVersion(0x0300);
    /// TLS 1.0.
    pub const TLS10: ProtocolVersion = ProtocolVersion(0x0301);
    /// TLS 1.1.
    pub const TLS11: ProtocolVersion = ProtocolVersion(0x0302);
    /// TLS 1.2.
    pub const TLS12: ProtocolVersion = ProtocolVersion(0x0303);
    /// TLS 1.3.
    pub const TLS13: ProtocolVersion = ProtocolVersion(0x0304);

    /// The human name, e.g. "TLS 1.2", if this is a released version.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0002 => "SSL 2.0",
            0x0300 => "SSL 3.0",
            0x0301 => "TLS 1.0",
            0x0302 => "TLS 1.1",
            0x0303 => "TLS 1.2",
            0x0304 => "TLS 1.3",
            _ => return None,
        })
    }

    /// True for a GREASE value (RFC 8701).
    pub fn is_grease(self) -> bool {
        is_grease(self.0)
    }

    /// True for the versions a TLS stack can negotiate today (SSL 3.0 … TLS 1.3).
    pub fn is_known(self) -> bool {
        (0x0300..=0x0304).contains(&self.0)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None if self.is_grease() => write!(f, "GREASE(0x{:04x})", self.0),
            None if self.0 >> 8 == 0x7F => write!(f, "TLS 1.3 draft {}", self.0 & 0xFF),
            None => write!(f, "unknown version 0x{:04x}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_order() {
        assert_eq!(ProtocolVersion::TLS11.to_string(), "TLS 1.1");
        assert_eq!(ProtocolVersion(0x7F17).to_string(), "TLS 1.3 draft 23");
        assert_eq!(ProtocolVersion(0x2A2A).to_string(), "GREASE(0x2a2a)");
        assert_eq!(
            ProtocolVersion(0x0305).to_string(),
            "unknown version 0x0305"
        );
        assert!(ProtocolVersion::TLS11 < ProtocolVersion::TLS12);
        assert!(ProtocolVersion::SSL3.is_known());
        assert!(!ProtocolVersion::SSL2.is_known());
    }
}
