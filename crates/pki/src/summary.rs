//! Read-only facts about a certificate or key that users and diagnoses need: names, serial,
//! validity, key type and size, signature algorithm, CA flag, SANs, extended key usage, and the
//! key-matches-certificate check. It does not verify chains or judge validity against a clock.

use std::fmt;
use std::net::IpAddr;

use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKeyRef, Private};
use openssl::x509::{X509NameRef, X509Ref};

use crate::der;
use crate::error::{Result, crypto};
use crate::id::CertificateId;

/// The kind and size of a public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyDescription {
    Rsa {
        bits: u32,
    },
    /// `curve` is the NIST name where one exists (`P-256`), else OpenSSL's short name.
    Ec {
        curve: String,
    },
    Ed25519,
    Ed448,
    Other(String),
}

impl KeyDescription {
    /// True for RSA keys, the only kind constrained stacks such as ESP8266 NONOS can use.
    pub fn is_rsa(&self) -> bool {
        matches!(self, Self::Rsa { .. })
    }
}

impl fmt::Display for KeyDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "RSA-{bits}"),
            Self::Ec { curve } => write!(f, "EC {curve}"),
            Self::Ed25519 => f.write_str("Ed25519"),
            Self::Ed448 => f.write_str("Ed448"),
            Self::Other(name) => f.write_str(name),
        }
    }
}

/// One subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectAltName {
    Dns(String),
    Ip(IpAddr),
    Email(String),
    Uri(String),
}

impl fmt::Display for SubjectAltName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(name) => write!(f, "DNS:{name}"),
            Self::Ip(ip) => write!(f, "IP:{ip}"),
            Self::Email(mail) => write!(f, "email:{mail}"),
            Self::Uri(uri) => write!(f, "URI:{uri}"),
        }
    }
}

/// Everything `tether` shows about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    /// Subject as `C=US, O=…, CN=…`, in certificate order (as `openssl x509 -subject` prints).
    pub subject: String,
    pub issuer: String,
    /// Serial number, lowercase hex without separators.
    pub serial: String,
    /// Validity start in seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// Validity start as RFC 3339 UTC text, e.g. `2024-01-31T12:00:00Z`.
    pub not_before_rfc3339: String,
    pub not_after_rfc3339: String,
    pub key: KeyDescription,
    /// OpenSSL's long name, e.g. `sha256WithRSAEncryption`, `ecdsa-with-SHA256`.
    pub signature_algorithm: String,
    /// Basic constraints `cA` flag.
    pub is_ca: bool,
    pub subject_alt_names: Vec<SubjectAltName>,
    /// Extended key usages by name (`serverAuth`, `clientAuth`) or dotted OID.
    pub extended_key_usage: Vec<String>,
    /// AWS certificate id (SHA-256 of the DER).
    pub id: CertificateId,
    /// Size of the DER encoding in bytes.
    pub der_len: usize,
}

impl CertificateSummary {
    /// True when the issuer and subject are the same name (a root or a self-signed leaf).
    pub fn is_self_issued(&self) -> bool {
        self.subject == self.issuer
    }
}

/// Summarises a certificate.
pub fn summarize(cert: &X509Ref) -> Result<CertificateSummary> {
    let der_bytes = cert
        .to_der()
        .map_err(crypto("encoding a certificate as DER"))?;
    let serial = cert
        .serial_number()
        .to_bn()
        .and_then(|bn| bn.to_hex_str().map(|s| s.to_ascii_lowercase()))
        .map_err(crypto("reading the certificate serial number"))?;
    let not_before = unix_seconds(cert.not_before())?;
    let not_after = unix_seconds(cert.not_after())?;
    let public_key = cert
        .public_key()
        .map_err(crypto("reading the certificate's public key"))?;
    let extensions = der::certificate_extensions(&der_bytes);
    Ok(CertificateSummary {
        subject: name_text(cert.subject_name()),
        issuer: name_text(cert.issuer_name()),
        serial,
        not_before,
        not_after,
        not_before_rfc3339: rfc3339(not_before),
        not_after_rfc3339: rfc3339(not_after),
        key: describe_key(&public_key),
        signature_algorithm: cert
            .signature_algorithm()
            .object()
            .nid()
            .long_name()
            .map(str::to_owned)
            .unwrap_or_else(|_| cert.signature_algorithm().object().to_string()),
        is_ca: basic_constraints_ca(&extensions),
        subject_alt_names: subject_alt_names(cert),
        extended_key_usage: extended_key_usage(&extensions),
        id: CertificateId::from_der(&der_bytes),
        der_len: der_bytes.len(),
    })
}

/// Describes a public (or private) key's type and size.
pub fn describe_key<T: HasPublic>(key: &PKeyRef<T>) -> KeyDescription {
    match key.id() {
        Id::RSA => KeyDescription::Rsa { bits: key.bits() },
        Id::EC => {
            let curve = key
                .ec_key()
                .ok()
                .and_then(|ec| ec.group().curve_name())
                .map(curve_text)
                .unwrap_or_else(|| "(unnamed curve)".to_owned());
            KeyDescription::Ec { curve }
        }
        Id::ED25519 => KeyDescription::Ed25519,
        Id::ED448 => KeyDescription::Ed448,
        other => KeyDescription::Other(format!("key type {}", other.as_raw())),
    }
}

/// True when `key` is the private half of the certificate's public key.
pub fn key_matches_certificate(key: &PKeyRef<Private>, cert: &X509Ref) -> bool {
    cert.public_key()
        .map(|public| key.public_eq(&public))
        .unwrap_or(false)
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC (`YYYY-MM-DDTHH:MM:SSZ`).
pub fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A certificate's validity period as Unix seconds `(not_before, not_after)`, without the
/// rest of a summary.
pub fn validity_period(cert: &X509Ref) -> Result<(i64, i64)> {
    Ok((
        unix_seconds(cert.not_before())?,
        unix_seconds(cert.not_after())?,
    ))
}

fn unix_seconds(time: &Asn1TimeRef) -> Result<i64> {
    let epoch = Asn1Time::from_unix(0).map_err(crypto("building the Unix epoch time"))?;
    let diff = epoch
        .diff(time)
        .map_err(crypto("reading a certificate validity date"))?;
    Ok(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

fn name_text(name: &X509NameRef) -> String {
    name.entries()
        .map(|entry| {
            let field = entry
                .object()
                .nid()
                .short_name()
                .map(str::to_owned)
                .unwrap_or_else(|_| entry.object().to_string());
            let value = entry
                .data()
                .to_string()
                .unwrap_or_else(|_| "(unreadable)".to_owned());
            format!("{field}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn curve_text(nid: Nid) -> String {
    match nid {
        Nid::X9_62_PRIME256V1 => "P-256".to_owned(),
        Nid::SECP384R1 => "P-384".to_owned(),
        Nid::SECP521R1 => "P-521".to_owned(),
        other => other.short_name().unwrap_or("(unknown curve)").to_owned(),
    }
}

fn subject_alt_names(cert: &X509Ref) -> Vec<SubjectAltName> {
    let Some(names) = cert.subject_alt_names() else {
        return Vec::new();
    };
    names
        .iter()
        .filter_map(|name| {
            if let Some(dns) = name.dnsname() {
                Some(SubjectAltName::Dns(dns.to_owned()))
            } else if let Some(ip) = name.ipaddress() {
                ip_from_bytes(ip).map(SubjectAltName::Ip)
            } else if let Some(mail) = name.email() {
                Some(SubjectAltName::Email(mail.to_owned()))
            } else {
                name.uri().map(|uri| SubjectAltName::Uri(uri.to_owned()))
            }
        })
        .collect()
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from)
}

/// OID 2.5.29.19 (basicConstraints).
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1D, 0x13];
/// OID 2.5.29.37 (extKeyUsage).
const OID_EXT_KEY_USAGE: &[u8] = &[0x55, 0x1D, 0x25];

fn basic_constraints_ca(extensions: &[(&[u8], &[u8])]) -> bool {
    let Some((_, value)) = extensions
        .iter()
        .find(|(oid, _)| *oid == OID_BASIC_CONSTRAINTS)
    else {
        return false;
    };
    let Some((seq, _)) = der::read_tlv(value) else {
        return false;
    };
    der::read_tlv(seq.content)
        .filter(|(flag, _)| flag.tag == der::TAG_BOOLEAN)
        .is_some_and(|(flag, _)| flag.content.iter().any(|b| *b != 0))
}

fn extended_key_usage(extensions: &[(&[u8], &[u8])]) -> Vec<String> {
    let Some((_, value)) = extensions.iter().find(|(oid, _)| *oid == OID_EXT_KEY_USAGE) else {
        return Vec::new();
    };
    let Some((seq, _)) = der::read_tlv(value) else {
        return Vec::new();
    };
    der::children(seq.content)
        .unwrap_or_default()
        .iter()
        .filter(|t| t.tag == der::TAG_OID)
        .map(|t| {
            let dotted = der::oid_text(t.content);
            match dotted.as_str() {
                "1.3.6.1.5.5.7.3.1" => "serverAuth".to_owned(),
                "1.3.6.1.5.5.7.3.2" => "clientAuth".to_owned(),
                "1.3.6.1.5.5.7.3.3" => "codeSigning".to_owned(),
                "1.3.6.1.5.5.7.3.4" => "emailProtection".to_owned(),
                "1.3.6.1.5.5.7.3.8" => "timeStamping".to_owned(),
                "1.3.6.1.5.5.7.3.9" => "OCSPSigning".to_owned(),
                _ => dotted,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_706_702_400), "2024-01-31T12:00:00Z");
        assert_eq!(rfc3339(2_147_483_647), "2038-01-19T03:14:07Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn ip_from_bytes_handles_both_families_and_junk() {
        assert_eq!(
            ip_from_bytes(&[127, 0, 0, 1]),
            Some(IpAddr::from([127, 0, 0, 1]))
        );
        assert!(ip_from_bytes(&[0; 16]).is_some());
        assert_eq!(ip_from_bytes(&[1, 2, 3]), None);
    }
}
