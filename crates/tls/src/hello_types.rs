//! Small wire-value newtypes carried in a ClientHello — extension types, named groups,
//! signature schemes, max_fragment_length codes — with names for the common values.
//! It holds no parsing logic (that is `client_hello`) and names only values devices send.

use std::fmt;

use serde::Serialize;

use crate::suite::is_grease;

/// An extension type number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ExtensionType(pub u16);

impl ExtensionType {
    /// server_name (RFC 6066).
    pub const SERVER_NAME: ExtensionType = ExtensionType(0);
    /// max_fragment_length (RFC 6066).
    pub const MAX_FRAGMENT_LENGTH: ExtensionType = ExtensionType(1);
    /// supported_groups (RFC 8422 / 8446).
    pub const SUPPORTED_GROUPS: ExtensionType = ExtensionType(10);
    /// ec_point_formats (RFC 8422).
    pub const EC_POINT_FORMATS: ExtensionType = ExtensionType(11);
    /// signature_algorithms (RFC 5246 / 8446).
    pub const SIGNATURE_ALGORITHMS: ExtensionType = ExtensionType(13);
    /// application_layer_protocol_negotiation (RFC 7301).
    pub const ALPN: ExtensionType = ExtensionType(16);
    /// extended_master_secret (RFC 7627).
    pub const EXTENDED_MASTER_SECRET: ExtensionType = ExtensionType(23);
    /// session_ticket (RFC 5077).
    pub const SESSION_TICKET: ExtensionType = ExtensionType(35);
    /// supported_versions (RFC 8446).
    pub const SUPPORTED_VERSIONS: ExtensionType = ExtensionType(43);
    /// psk_key_exchange_modes (RFC 8446).
    pub const PSK_KEY_EXCHANGE_MODES: ExtensionType = ExtensionType(45);
    /// key_share (RFC 8446).
    pub const KEY_SHARE: ExtensionType = ExtensionType(51);
    /// renegotiation_info (RFC 5746).
    pub const RENEGOTIATION_INFO: ExtensionType = ExtensionType(0xFF01);

    /// The registry name of a common extension.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "server_name",
            1 => "max_fragment_length",
            5 => "status_request",
            10 => "supported_groups",
            11 => "ec_point_formats",
            13 => "signature_algorithms",
            16 => "application_layer_protocol_negotiation",
            18 => "signed_certificate_timestamp",
            21 => "padding",
            22 => "encrypt_then_mac",
            23 => "extended_master_secret",
            27 => "compress_certificate",
            28 => "record_size_limit",
            35 => "session_ticket",
            41 => "pre_shared_key",
            42 => "early_data",
            43 => "supported_versions",
            44 => "cookie",
            45 => "psk_key_exchange_modes",
            49 => "post_handshake_auth",
            50 => "signature_algorithms_cert",
            51 => "key_share",
            0xFE0D => "encrypted_client_hello",
            0xFF01 => "renegotiation_info",
            _ => return None,
        })
    }
}

impl fmt::Display for ExtensionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({})", self.0),
            None if is_grease(self.0) => write!(f, "GREASE(0x{:04x})", self.0),
            None => write!(f, "unknown ({})", self.0),
        }
    }
}

/// A supported_groups entry (elliptic curve or finite-field group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct NamedGroup(pub u16);

impl NamedGroup {
    /// secp256r1 (P-256).
    pub const SECP256R1: NamedGroup = NamedGroup(23);
    /// secp384r1 (P-384).
    pub const SECP384R1: NamedGroup = NamedGroup(24);
    /// secp521r1 (P-521).
    pub const SECP521R1: NamedGroup = NamedGroup(25);
    /// x25519.
    pub const X25519: NamedGroup = NamedGroup(29);

    /// The registry name of a common group.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            21 => "secp224r1",
            23 => "secp256r1",
            24 => "secp384r1",
            25 => "secp521r1",
            29 => "x25519",
            30 => "x448",
            256 => "ffdhe2048",
            257 => "ffdhe3072",
            258 => "ffdhe4096",
            259 => "ffdhe6144",
            260 => "ffdhe8192",
            0x11EC => "X25519MLKEM768",
            _ => return None,
        })
    }
}

impl fmt::Display for NamedGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None if is_grease(self.0) => write!(f, "GREASE(0x{:04x})", self.0),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

/// A signature_algorithms entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct SignatureScheme(pub u16);

impl SignatureScheme {
    /// The registry name of a common scheme (TLS 1.2 hash/signature pairs use the TLS 1.3 names
    /// where they coincide).
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0201 => "rsa_pkcs1_sha1",
            0x0203 => "ecdsa_sha1",
            0x0301 => "rsa_pkcs1_sha224",
            0x0303 => "ecdsa_sha224",
            0x0401 => "rsa_pkcs1_sha256",
            0x0403 => "ecdsa_secp256r1_sha256",
            0x0501 => "rsa_pkcs1_sha384",
            0x0503 => "ecdsa_secp384r1_sha384",
            0x0601 => "rsa_pkcs1_sha512",
            0x0603 => "ecdsa_secp521r1_sha512",
            0x0804 => "rsa_pss_rsae_sha256",
            0x0805 => "rsa_pss_rsae_sha384",
            0x0806 => "rsa_pss_rsae_sha512",
            0x0807 => "ed25519",
            0x0808 => "ed448",
            0x0809 => "rsa_pss_pss_sha256",
            0x080A => "rsa_pss_pss_sha384",
            0x080B => "rsa_pss_pss_sha512",
            _ => return None,
        })
    }
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:04x}", self.0),
        }
    }
}

/// A max_fragment_length request code (RFC 6066 §4): 1 = 512 … 4 = 4096 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct MaxFragmentLength(pub u8);

impl MaxFragmentLength {
    /// The code requesting `bytes` (512, 1024, 2048 or 4096).
    pub fn from_bytes(bytes: u16) -> Option<MaxFragmentLength> {
        match bytes {
            512 => Some(MaxFragmentLength(1)),
            1024 => Some(MaxFragmentLength(2)),
            2048 => Some(MaxFragmentLength(3)),
            4096 => Some(MaxFragmentLength(4)),
            _ => None,
        }
    }

    /// The requested record size, or None for a code RFC 6066 does not define.
    pub fn bytes(self) -> Option<u16> {
        match self.0 {
            1 => Some(512),
            2 => Some(1024),
            3 => Some(2048),
            4 => Some(4096),
            _ => None,
        }
    }
}

impl fmt::Display for MaxFragmentLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.bytes() {
            Some(b) => write!(f, "{b} bytes"),
            None => write!(f, "invalid code {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names() {
        assert_eq!(ExtensionType(0).to_string(), "server_name (0)");
        assert_eq!(ExtensionType(0x1A1A).to_string(), "GREASE(0x1a1a)");
        assert_eq!(NamedGroup::X25519.to_string(), "x25519");
        assert_eq!(SignatureScheme(0x0401).to_string(), "rsa_pkcs1_sha256");
        assert_eq!(MaxFragmentLength(4).to_string(), "4096 bytes");
        assert_eq!(MaxFragmentLength(9).to_string(), "invalid code 9");
        assert_eq!(
            MaxFragmentLength::from_bytes(2048),
            Some(MaxFragmentLength(3))
        );
    }
}
