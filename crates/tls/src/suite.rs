//! TLS cipher suite identifiers with their IANA and OpenSSL names, GREASE and signalling values.
//! It names the suites devices and AWS IoT policies actually use; it does not decide which suites
//! are acceptable (that is `policy`) and it is not a complete copy of the IANA registry.

use std::fmt;

use serde::Serialize;

/// A cipher suite as it travels on the wire (two bytes, big-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CipherSuite(pub u16);

/// How a suite establishes keys; used to explain why a device and a policy share nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyExchange {
    /// TLS 1.3 suites: key exchange is negotiated separately (key_share).
    Tls13,
    /// Static RSA key transport (no forward secrecy).
    Rsa,
    /// Finite-field Diffie-Hellman with an RSA certificate.
    DheRsa,
    /// Elliptic-curve Diffie-Hellman with an RSA certificate.
    EcdheRsa,
    /// Elliptic-curve Diffie-Hellman with an ECDSA certificate.
    EcdheEcdsa,
    /// Pre-shared key.
    Psk,
    /// Not a real suite: a signalling value (SCSV) or GREASE.
    Signal,
}

struct Entry {
    id: u16,
    iana: &'static str,
    openssl: &'static str,
    kx: KeyExchange,
}

const fn e(id: u16, iana: &'static str, openssl: &'static str, kx: KeyExchange) -> Entry {
    Entry {
        id,
        iana,
        openssl,
        kx,
    }
}

use KeyExchange::{DheRsa, EcdheEcdsa, EcdheRsa, Psk, Rsa, Signal, Tls13};

/// The suites we can name. OpenSSL names for TLS 1.3 suites equal the IANA names.
const SUITES: &[Entry] = &[
    e(
        0x1301,
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
        Tls13,
    ),
    e(
        0x1302,
        "TLS_AES_256_GCM_SHA384",
        "TLS_AES_256_GCM_SHA384",
        Tls13,
    ),
    e(
        0x1303,
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_CHACHA20_POLY1305_SHA256",
        Tls13,
    ),
    e(
        0x1304,
        "TLS_AES_128_CCM_SHA256",
        "TLS_AES_128_CCM_SHA256",
        Tls13,
    ),
    e(
        0x1305,
        "TLS_AES_128_CCM_8_SHA256",
        "TLS_AES_128_CCM_8_SHA256",
        Tls13,
    ),
    e(0x0001, "TLS_RSA_WITH_NULL_MD5", "NULL-MD5", Rsa),
    e(0x0002, "TLS_RSA_WITH_NULL_SHA", "NULL-SHA", Rsa),
    e(0x0004, "TLS_RSA_WITH_RC4_128_MD5", "RC4-MD5", Rsa),
    e(0x0005, "TLS_RSA_WITH_RC4_128_SHA", "RC4-SHA", Rsa),
    e(0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA", Rsa),
    e(
        0x0016,
        "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "DHE-RSA-DES-CBC3-SHA",
        DheRsa,
    ),
    e(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA", Rsa),
    e(
        0x0033,
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        "DHE-RSA-AES128-SHA",
        DheRsa,
    ),
    e(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA", Rsa),
    e(
        0x0039,
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        "DHE-RSA-AES256-SHA",
        DheRsa,
    ),
    e(0x003B, "TLS_RSA_WITH_NULL_SHA256", "NULL-SHA256", Rsa),
    e(
        0x003C,
        "TLS_RSA_WITH_AES_128_CBC_SHA256",
        "AES128-SHA256",
        Rsa,
    ),
    e(
        0x003D,
        "TLS_RSA_WITH_AES_256_CBC_SHA256",
        "AES256-SHA256",
        Rsa,
    ),
    e(
        0x0067,
        "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
        "DHE-RSA-AES128-SHA256",
        DheRsa,
    ),
    e(
        0x006B,
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
        "DHE-RSA-AES256-SHA256",
        DheRsa,
    ),
    e(
        0x008C,
        "TLS_PSK_WITH_AES_128_CBC_SHA",
        "PSK-AES128-CBC-SHA",
        Psk,
    ),
    e(
        0x008D,
        "TLS_PSK_WITH_AES_256_CBC_SHA",
        "PSK-AES256-CBC-SHA",
        Psk,
    ),
    e(
        0x009C,
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "AES128-GCM-SHA256",
        Rsa,
    ),
    e(
        0x009D,
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        "AES256-GCM-SHA384",
        Rsa,
    ),
    e(
        0x009E,
        "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        "DHE-RSA-AES128-GCM-SHA256",
        DheRsa,
    ),
    e(
        0x009F,
        "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        "DHE-RSA-AES256-GCM-SHA384",
        DheRsa,
    ),
    e(
        0x00A8,
        "TLS_PSK_WITH_AES_128_GCM_SHA256",
        "PSK-AES128-GCM-SHA256",
        Psk,
    ),
    e(
        0x00AE,
        "TLS_PSK_WITH_AES_128_CBC_SHA256",
        "PSK-AES128-CBC-SHA256",
        Psk,
    ),
    e(
        0x00FF,
        "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        Signal,
    ),
    e(0x5600, "TLS_FALLBACK_SCSV", "TLS_FALLBACK_SCSV", Signal),
    e(
        0xC007,
        "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
        "ECDHE-ECDSA-RC4-SHA",
        EcdheEcdsa,
    ),
    e(
        0xC008,
        "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
        "ECDHE-ECDSA-DES-CBC3-SHA",
        EcdheEcdsa,
    ),
    e(
        0xC009,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        "ECDHE-ECDSA-AES128-SHA",
        EcdheEcdsa,
    ),
    e(
        0xC00A,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        "ECDHE-ECDSA-AES256-SHA",
        EcdheEcdsa,
    ),
    e(
        0xC011,
        "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        "ECDHE-RSA-RC4-SHA",
        EcdheRsa,
    ),
    e(
        0xC012,
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "ECDHE-RSA-DES-CBC3-SHA",
        EcdheRsa,
    ),
    e(
        0xC013,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "ECDHE-RSA-AES128-SHA",
        EcdheRsa,
    ),
    e(
        0xC014,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "ECDHE-RSA-AES256-SHA",
        EcdheRsa,
    ),
    e(
        0xC023,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        "ECDHE-ECDSA-AES128-SHA256",
        EcdheEcdsa,
    ),
    e(
        0xC024,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        "ECDHE-ECDSA-AES256-SHA384",
        EcdheEcdsa,
    ),
    e(
        0xC027,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        "ECDHE-RSA-AES128-SHA256",
        EcdheRsa,
    ),
    e(
        0xC028,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        "ECDHE-RSA-AES256-SHA384",
        EcdheRsa,
    ),
    e(
        0xC02B,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        EcdheEcdsa,
    ),
    e(
        0xC02C,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        EcdheEcdsa,
    ),
    e(
        0xC02F,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        EcdheRsa,
    ),
    e(
        0xC030,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        EcdheRsa,
    ),
    e(0xC09C, "TLS_RSA_WITH_AES_128_CCM", "AES128-CCM", Rsa),
    e(0xC09D, "TLS_RSA_WITH_AES_256_CCM", "AES256-CCM", Rsa),
    e(0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8", "AES128-CCM8", Rsa),
    e(
        0xC0AC,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
        "ECDHE-ECDSA-AES128-CCM",
        EcdheEcdsa,
    ),
    e(
        0xC0AE,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
        "ECDHE-ECDSA-AES128-CCM8",
        EcdheEcdsa,
    ),
    e(
        0xCCA8,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-RSA-CHACHA20-POLY1305",
        EcdheRsa,
    ),
    e(
        0xCCA9,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        EcdheEcdsa,
    ),
    e(
        0xCCAA,
        "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "DHE-RSA-CHACHA20-POLY1305",
        DheRsa,
    ),
];

/// True for the RFC 8701 GREASE values (0x0A0A, 0x1A1A, … 0xFAFA), used for suites, groups,
/// versions and extension types alike.
pub fn is_grease(value: u16) -> bool {
    let [hi, lo] = value.to_be_bytes();
    hi == lo && lo & 0x0F == 0x0A
}

impl CipherSuite {
    fn entry(self) -> Option<&'static Entry> {
        SUITES.iter().find(|s| s.id == self.0)
    }

    /// Looks a suite up by its OpenSSL or IANA name (case-insensitive).
    pub fn from_name(name: &str) -> Option<CipherSuite> {
        SUITES
            .iter()
            .find(|s| s.openssl.eq_ignore_ascii_case(name) || s.iana.eq_ignore_ascii_case(name))
            .map(|s| CipherSuite(s.id))
    }

    /// The IANA registry name, if this suite is one we know.
    pub fn iana_name(self) -> Option<&'static str> {
        self.entry().map(|s| s.iana)
    }

    /// The OpenSSL name (what `openssl ciphers` prints), if this suite is one we know.
    pub fn openssl_name(self) -> Option<&'static str> {
        self.entry().map(|s| s.openssl)
    }

    /// True for a GREASE value (RFC 8701).
    pub fn is_grease(self) -> bool {
        is_grease(self.0)
    }

    /// True for a signalling value that is not a real suite (SCSV or GREASE).
    pub fn is_signal(self) -> bool {
        self.is_grease() || self.key_exchange() == Some(KeyExchange::Signal)
    }

    /// True for a TLS 1.3 suite (0x13xx).
    pub fn is_tls13(self) -> bool {
        self.0 >> 8 == 0x13
    }

    /// How the suite establishes keys, if known.
    pub fn key_exchange(self) -> Option<KeyExchange> {
        if self.is_grease() {
            return Some(KeyExchange::Signal);
        }
        self.entry().map(|s| s.kx)
    }
}

impl fmt::Display for CipherSuite {
    /// Prints the OpenSSL name, `GREASE(0x0a0a)` or the hex value of an unknown suite.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_grease() {
            write!(f, "GREASE(0x{:04x})", self.0)
        } else if let Some(name) = self.openssl_name() {
            f.write_str(name)
        } else {
            write!(f, "0x{:04x}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_both_ways() {
        let s = CipherSuite(0x002F);
        assert_eq!(s.openssl_name(), Some("AES128-SHA"));
        assert_eq!(s.iana_name(), Some("TLS_RSA_WITH_AES_128_CBC_SHA"));
        assert_eq!(CipherSuite::from_name("aes128-sha"), Some(s));
        assert_eq!(
            CipherSuite::from_name("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            Some(CipherSuite(0xC02F))
        );
        assert!(CipherSuite(0x1301).is_tls13());
        assert_eq!(CipherSuite(0x1234).to_string(), "0x1234");
    }

    #[test]
    fn grease_values() {
        for hi in 0..16u16 {
            let v = (hi << 12) | 0x0A00 | (hi << 4) | 0x0A;
            assert!(is_grease(v), "{v:04x}");
        }
        assert!(!is_grease(0x0A0B));
        assert!(!is_grease(0x1A0A));
        assert_eq!(CipherSuite(0x3A3A).to_string(), "GREASE(0x3a3a)");
        assert!(CipherSuite(0x00FF).is_signal());
    }

    #[test]
    fn table_has_no_duplicates() {
        for (i, a) in SUITES.iter().enumerate() {
            for b in SUITES.iter().skip(i + 1) {
                assert_ne!(a.id, b.id);
                assert_ne!(a.openssl, b.openssl);
            }
        }
    }
}
