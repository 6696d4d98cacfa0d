//! ESP8266 NONOS libssl certificate-record trace lines such as `TLS.ca_x509.cer 4d7` (record
//! name, then the payload length in hex, printed with `%s %x`): which record it is, its length,
//! and whether that length is plausible for what the record should hold. It cannot see the
//! bytes, so it judges sizes only; `device-image` checks real flash dumps.

use crate::finding::{Finding, Severity};

/// A recognised trace line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTrace {
    /// The record name, e.g. `TLS.ca_x509.cer`, `certificate`, `private_key`.
    pub name: String,
    /// The payload length the SDK read from the record header.
    pub length: u32,
}

/// DER sizes of roots a device talking to AWS IoT is likely to carry.
const KNOWN_ROOTS: &[(u32, &str)] = &[
    (
        1239,
        "VeriSign Class 3 Public Primary Certification Authority - G5 (legacy iot:Data endpoints)",
    ),
    (837, "Amazon Root CA 1 (RSA 2048, ATS endpoints)"),
    (
        442,
        "Amazon Root CA 3 (ECC P-256, ATS endpoints; unusable without ECC support)",
    ),
];

/// Recognises `NAME HEX` where NAME looks like a credential record.
pub fn parse(line: &str) -> Option<RecordTrace> {
    let mut words = line.split_whitespace();
    let name = words.next()?;
    let hex = words.next()?;
    if words.next().is_some() || hex.len() > 4 {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let credential = [".cer", ".crt", ".der", ".pem", ".key"]
        .iter()
        .any(|ext| lower.ends_with(ext))
        || lower.starts_with("certificate")
        || lower.starts_with("private_key");
    if !credential || name.len() > 40 {
        return None;
    }
    let length = u32::from_str_radix(hex, 16).ok()?;
    Some(RecordTrace {
        name: name.to_owned(),
        length,
    })
}

/// What a record holds, judged from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A root the device trusts (the CA image, `esp_ca_cert.bin`: `TLS.ca_x509.cer`).
    Ca,
    /// The device's own certificate (the client image: record `certificate`).
    ClientCertificate,
    /// The device's private key (the client image: record `private_key`).
    PrivateKey,
}

/// The role of a record by its name. The SDK's tools name the client image's records exactly
/// `certificate` and `private_key` (the reader matches those prefixes), and the CA image's
/// record after its file, `TLS.ca_x509.cer`; "certificate" itself contains the letters "ca",
/// so a CA is recognised by "ca" as a word of the name, not as letters inside one.
pub fn role(name: &str) -> Role {
    let lower = name.to_ascii_lowercase();
    if lower.contains("key") {
        return Role::PrivateKey;
    }
    let ca_word = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == "ca" || w == "cacert" || w == "root" || w.starts_with("rootca"));
    if ca_word || lower.starts_with("ca_") || lower.contains("ca_x509") {
        Role::Ca
    } else {
        Role::ClientCertificate
    }
}

/// Judges a trace: which record, decimal length, plausibility.
pub fn assess(trace: &RecordTrace) -> Finding {
    let RecordTrace { name, length } = trace;
    let record_role = role(name);
    let is_key = record_role == Role::PrivateKey;
    let role_text = match record_role {
        Role::PrivateKey => "private key record (the device's key, client image)",
        Role::Ca => "CA certificate record (the root the device trusts, CA image)",
        Role::ClientCertificate => {
            "client certificate record (the device's own certificate, client image)"
        }
    };
    let what = format!("{role_text} {name} has length 0x{length:x} = {length} bytes");
    if *length == 0xFFFF {
        return Finding::new(
            Severity::Error,
            what,
            "0xFFFF is erased flash: there is no record at the sector the firmware reads",
            "flash the certificate image to the sector number the firmware passes to espconn_secure_ca_enable / espconn_secure_cert_req_enable (sector × 4096 = byte address)",
        );
    }
    if is_key {
        let kind = match length {
            600..=612 => Some("an RSA-1024 PKCS#1 DER key (AWS refuses RSA keys under 2048 bits)"),
            1188..=1194 => Some("an RSA-2048 PKCS#1 DER key"),
            1215..=1219 => Some(
                "an RSA-2048 PKCS#8 DER key (libssl expects PKCS#1; convert with `openssl rsa -traditional`)",
            ),
            1600..=1710 => Some("an RSA-2048 key in PEM text"),
            _ => None,
        };
        return match kind {
            Some(kind) => Finding::new(
                if kind.contains("PKCS#8") || kind.contains("1024") {
                    Severity::Warning
                } else {
                    Severity::Info
                },
                what,
                format!("the length matches {kind}; the record was found and read"),
                "",
            ),
            None => Finding::new(
                Severity::Warning,
                what,
                "the length does not match a usual RSA-2048 key (≈1191 bytes DER PKCS#1, ≈1675 bytes PEM)",
                "check that the record holds the device's private key in PKCS#1 DER",
            ),
        };
    }
    if record_role == Role::ClientCertificate {
        return match length {
            300..=2600 => Finding::new(
                Severity::Info,
                what,
                format!(
                    "a plausible size for the device's certificate in DER ({}); the record was found and read, and it is the certificate the device presents, not a CA",
                    if (850..=870).contains(length) {
                        "861 bytes or so is the size of an AWS IoT device certificate"
                    } else {
                        "AWS IoT device certificates are about 860 bytes"
                    }
                ),
                "",
            ),
            2601..=4096 => Finding::new(
                Severity::Info,
                what,
                "larger than one DER certificate: PEM text, or the certificate followed by its chain",
                "",
            ),
            _ => Finding::new(
                Severity::Warning,
                what,
                "not a plausible size for a device certificate: wrong sector, truncated image or wrong record",
                "regenerate the client image from the device certificate and key and flash it to the sector the firmware reads",
            ),
        };
    }
    if let Some((_, root)) = KNOWN_ROOTS.iter().find(|(size, _)| size == length) {
        return Finding::new(
            Severity::Info,
            what,
            format!(
                "a plausible DER certificate; {length} bytes is exactly the DER size of {root}, so the record was found and parsed"
            ),
            "",
        );
    }
    match length {
        300..=2600 => Finding::new(
            Severity::Info,
            what,
            "a plausible size for one DER certificate (AWS device certificates are ≈860 bytes DER, roots 440–1400); the record was found",
            "",
        ),
        2601..=4096 => Finding::new(
            Severity::Info,
            what,
            "larger than one DER certificate: PEM text or a bundle of several certificates",
            "",
        ),
        0..=299 => Finding::new(
            Severity::Warning,
            what,
            "too small for any X.509 certificate: wrong sector, truncated image or wrong record",
            "regenerate the image from the certificate file and flash it to the sector the firmware reads",
        ),
        _ => Finding::new(
            Severity::Warning,
            what,
            "larger than a 4 KB flash sector: the record header is probably garbage (wrong sector)",
            "flash the certificate image to the sector the firmware reads and check nothing else overwrites it",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_trace_lines() {
        let t = parse("TLS.ca_x509.cer 4d7").unwrap();
        assert_eq!((t.name.as_str(), t.length), ("TLS.ca_x509.cer", 1239));
        assert_eq!(parse("certificate 35d").unwrap().length, 861);
        assert!(parse("TLS.ca_x509.cer 4d7 extra").is_none());
        assert!(parse("hello 4d7").is_none());
        assert!(parse("private_key zz").is_none());
    }

    #[test]
    fn judges_sizes() {
        let g5 = assess(&parse("TLS.ca_x509.cer 4d7").unwrap());
        assert_eq!(g5.severity, Severity::Info);
        assert!(g5.why.contains("G5"));
        assert!(g5.what.contains("CA certificate record"));
        let client = assess(&parse("certificate 35d").unwrap());
        assert!(
            client.what.starts_with("client certificate record"),
            "{}",
            client.what
        );
        assert!(!client.what.contains("CA certificate"));
        assert!(client.why.contains("AWS IoT device certificate"));
        assert_eq!(role("TLS.ca_x509.cer"), Role::Ca);
        assert_eq!(role("certificate"), Role::ClientCertificate);
        assert_eq!(role("private_key"), Role::PrivateKey);
        assert_eq!(
            assess(&parse("TLS.ca_x509.cer ffff").unwrap()).severity,
            Severity::Error
        );
        assert_eq!(
            assess(&parse("TLS.ca_x509.cer 20").unwrap()).severity,
            Severity::Warning
        );
        assert_eq!(
            assess(&parse("private_key 4a7").unwrap()).severity,
            Severity::Info
        );
        assert_eq!(
            assess(&parse("private_key 4c2").unwrap()).severity,
            Severity::Warning
        );
        assert_eq!(
            assess(&parse("certificate 35d").unwrap()).severity,
            Severity::Info
        );
    }
}
