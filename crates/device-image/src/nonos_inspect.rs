//! Reading ESP8266 NONOS certificate images or flash dumps back: walks the records from the
//! start, identifies each payload (DER/PEM, certificate or PKCS#1/PKCS#8/SEC1 key), summarises
//! certificates, checks key/certificate match, and warns about what devices trip over
//! (PKCS#8 keys, EC keys, records spilling past their 4 KiB sector, garbage after the last
//! record, truncation, ASN.1 length disagreeing with the record length). Never panics on any
//! input. Building images lives in `esp8266_nonos`.

use std::fmt::{self, Write as _};

use pki::{
    CertificateSummary, Encoding, KeyDescription, KeyFormat, ObjectKind, PKey, Private, X509,
};

use crate::esp8266_nonos::{HEADER_LEN, NAME_FIELD_LEN};
use crate::flash_map::SECTOR_SIZE;

/// What a record's payload turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordContent {
    Certificate {
        encoding: Encoding,
        summary: Box<CertificateSummary>,
    },
    PrivateKey {
        encoding: Encoding,
        format: KeyFormat,
        key: KeyDescription,
    },
    /// Anything else, with the reason it could not be read.
    Unreadable { reason: String },
}

/// One record found in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInfo {
    /// Byte offset of the record header from the start of the input.
    pub offset: usize,
    pub name: String,
    /// Payload length from the header.
    pub length: usize,
    pub content: RecordContent,
}

/// Something in the image a device is likely to trip over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageWarning {
    /// A PKCS#8 key where NONOS tools write PKCS#1 (libssl's PKCS#8 support is unverified).
    Pkcs8Key { record: String },
    /// An EC key or certificate: NONOS TLS stacks have no ECC.
    EcKey { record: String, key: String },
    /// A record running past the end of the 4 KiB sector it starts in.
    SpillsPastSector {
        record: String,
        offset: usize,
        end: usize,
    },
    /// The DER inside the payload claims a different length than the record header.
    LengthMismatch {
        record: String,
        der_len: usize,
        record_len: usize,
    },
    /// A name that fills all 32 bytes, leaving no NUL terminator.
    NameNotTerminated { offset: usize },
    /// Bytes that are neither a record nor erased flash (0xFF).
    TrailingGarbage { offset: usize, count: usize },
    /// The input ends in the middle of a record.
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// A client image lacks `certificate` or `private_key`.
    MissingRecord { name: &'static str },
    /// The `private_key` record does not belong to the `certificate` record.
    KeyMismatch,
    /// No record at all: the sector is erased or holds something else.
    NoRecords,
}

impl fmt::Display for ImageWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pkcs8Key { record } => write!(
                f,
                "record '{record}' holds a PKCS#8 key (BEGIN PRIVATE KEY); NONOS tools write PKCS#1 (BEGIN RSA PRIVATE KEY) and libssl may not read PKCS#8 — convert with `openssl rsa -traditional`"
            ),
            Self::EcKey { record, key } => write!(
                f,
                "record '{record}' holds an {key} key; ESP8266 NONOS TLS has no elliptic-curve support"
            ),
            Self::SpillsPastSector { record, offset, end } => write!(
                f,
                "record '{record}' starts at 0x{offset:X} and ends at 0x{:X}, past the end of its 4 KiB sector; readers limited to one sector (NodeMCU) will see it cut off",
                end.saturating_sub(1)
            ),
            Self::LengthMismatch {
                record,
                der_len,
                record_len,
            } => write!(
                f,
                "record '{record}' is {record_len} bytes but its DER content says {der_len}; the image was built from a damaged or concatenated file"
            ),
            Self::NameNotTerminated { offset } => write!(
                f,
                "the record name at 0x{offset:X} fills all 32 bytes and has no NUL terminator"
            ),
            Self::TrailingGarbage { offset, count } => write!(
                f,
                "{count} byte(s) at 0x{offset:X} after the last record are not erased flash (0xFF); erase the sector before writing the image"
            ),
            Self::Truncated {
                offset,
                needed,
                available,
            } => write!(
                f,
                "the record at 0x{offset:X} needs {needed} bytes but only {available} remain; the image or dump is truncated"
            ),
            Self::MissingRecord { name } => write!(
                f,
                "no '{name}' record; a client image needs both 'certificate' and 'private_key'"
            ),
            Self::KeyMismatch => f.write_str(
                "the 'private_key' record does not match the 'certificate' record (different public keys); the TLS handshake will fail at CertificateVerify",
            ),
            Self::NoRecords => f.write_str(
                "no records found: the data starts with erased flash (0xFF) or is not a NONOS certificate image",
            ),
        }
    }
}

/// Everything [`inspect`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageReport {
    pub records: Vec<RecordInfo>,
    pub warnings: Vec<ImageWarning>,
    /// Offset just past the last record.
    pub end: usize,
    /// `Some(true/false)` when both a `certificate` and a `private_key` record could be read.
    pub key_matches_certificate: Option<bool>,
}

/// Walks a NONOS certificate image or a dump of its flash sectors.
pub fn inspect(bytes: &[u8]) -> ImageReport {
    let mut report = ImageReport::default();
    let mut cert_for_match: Option<X509> = None;
    let mut key_for_match: Option<PKey<Private>> = None;
    let mut offset = 0usize;
    // Set when the walk stops on something other than erased flash or the end of the input.
    let mut stopped_early = false;
    while let Some(rest) = bytes.get(offset..).filter(|r| !r.is_empty()) {
        let (Some(name_field), Some(len_field)) = (
            rest.get(..NAME_FIELD_LEN),
            rest.get(NAME_FIELD_LEN..HEADER_LEN),
        ) else {
            if !rest.iter().all(|b| *b == 0xFF) {
                stopped_early = true;
                report.warnings.push(ImageWarning::Truncated {
                    offset,
                    needed: HEADER_LEN,
                    available: rest.len(),
                });
            }
            break;
        };
        let length = usize::from(u16::from_le_bytes([
            len_field.first().copied().unwrap_or(0xFF),
            len_field.get(1).copied().unwrap_or(0xFF),
        ]));
        if length == 0xFFFF {
            break;
        }
        let name_len = name_field
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(NAME_FIELD_LEN);
        let name_bytes = name_field.get(..name_len).unwrap_or_default();
        if name_bytes.is_empty() || !name_bytes.iter().all(u8::is_ascii_graphic) {
            stopped_early = true;
            let count = rest
                .iter()
                .take(SECTOR_SIZE)
                .filter(|b| **b != 0xFF)
                .count();
            report
                .warnings
                .push(ImageWarning::TrailingGarbage { offset, count });
            break;
        }
        if name_len == NAME_FIELD_LEN {
            report
                .warnings
                .push(ImageWarning::NameNotTerminated { offset });
        }
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        let Some(payload) = rest.get(HEADER_LEN..HEADER_LEN + length) else {
            stopped_early = true;
            report.warnings.push(ImageWarning::Truncated {
                offset,
                needed: HEADER_LEN + length,
                available: rest.len(),
            });
            break;
        };
        let end = offset + HEADER_LEN + length;
        if offset / SECTOR_SIZE != (end - 1) / SECTOR_SIZE {
            report.warnings.push(ImageWarning::SpillsPastSector {
                record: name.clone(),
                offset,
                end,
            });
        }
        let content = classify(&name, payload, &mut report.warnings);
        match &content {
            RecordContent::Certificate { .. }
                if name.starts_with("certificate") && cert_for_match.is_none() =>
            {
                cert_for_match = pki::load_certificate(payload, &name)
                    .ok()
                    .map(|c| c.certificate);
            }
            RecordContent::PrivateKey { .. }
                if name.starts_with("private_key") && key_for_match.is_none() =>
            {
                key_for_match = pki::load_private_key(payload, &name).ok().map(|k| k.key);
            }
            _ => {}
        }
        report.records.push(RecordInfo {
            offset,
            name,
            length,
            content,
        });
        offset = end;
    }
    report.end = offset;
    if !stopped_early {
        check_trailing(bytes, offset, &mut report.warnings);
    }
    client_checks(&mut report, cert_for_match.as_ref(), key_for_match.as_ref());
    if report.records.is_empty() && report.warnings.is_empty() {
        report.warnings.push(ImageWarning::NoRecords);
    }
    report
}

fn classify(name: &str, payload: &[u8], warnings: &mut Vec<ImageWarning>) -> RecordContent {
    let Some(identified) = pki::identify(payload) else {
        return RecordContent::Unreadable {
            reason: "neither a PEM block nor DER".to_owned(),
        };
    };
    if identified.encoding == Encoding::Der
        && let Some(der_len) = pki::der_claimed_len(payload)
        && der_len != payload.len()
    {
        warnings.push(ImageWarning::LengthMismatch {
            record: name.to_owned(),
            der_len,
            record_len: payload.len(),
        });
    }
    match identified.kind {
        ObjectKind::Certificate => match pki::load_certificate(payload, name)
            .and_then(|c| pki::summarize(&c.certificate))
        {
            Ok(summary) => {
                if !summary.key.is_rsa() {
                    warnings.push(ImageWarning::EcKey {
                        record: name.to_owned(),
                        key: summary.key.to_string(),
                    });
                }
                RecordContent::Certificate {
                    encoding: identified.encoding,
                    summary: Box::new(summary),
                }
            }
            Err(err) => RecordContent::Unreadable {
                reason: err.to_string(),
            },
        },
        ObjectKind::PrivateKey(_) => match pki::load_private_key(payload, name) {
            Ok(loaded) => {
                let key = pki::describe_key(&loaded.key);
                if loaded.format == KeyFormat::Pkcs8 {
                    warnings.push(ImageWarning::Pkcs8Key {
                        record: name.to_owned(),
                    });
                }
                if !key.is_rsa() {
                    warnings.push(ImageWarning::EcKey {
                        record: name.to_owned(),
                        key: key.to_string(),
                    });
                }
                RecordContent::PrivateKey {
                    encoding: loaded.encoding,
                    format: loaded.format,
                    key,
                }
            }
            Err(err) => RecordContent::Unreadable {
                reason: err.to_string(),
            },
        },
        other => RecordContent::Unreadable {
            reason: format!("holds {other}, not a certificate or private key"),
        },
    }
}

/// Non-0xFF bytes between the end of the records and the end of that sector.
fn check_trailing(bytes: &[u8], end: usize, warnings: &mut Vec<ImageWarning>) {
    let sector_end = end.div_ceil(SECTOR_SIZE).max(1) * SECTOR_SIZE;
    let tail = bytes
        .get(end..sector_end.min(bytes.len()))
        .unwrap_or_default();
    if let Some(first) = tail.iter().position(|b| *b != 0xFF) {
        let count = tail.iter().filter(|b| **b != 0xFF).count();
        warnings.push(ImageWarning::TrailingGarbage {
            offset: end + first,
            count,
        });
    }
}

fn client_checks(report: &mut ImageReport, cert: Option<&X509>, key: Option<&PKey<Private>>) {
    let has = |prefix: &str| report.records.iter().any(|r| r.name.starts_with(prefix));
    let has_cert = has("certificate");
    let has_key = has("private_key");
    if has_key && !has_cert {
        report.warnings.push(ImageWarning::MissingRecord {
            name: "certificate",
        });
    }
    if has_cert && !has_key {
        report.warnings.push(ImageWarning::MissingRecord {
            name: "private_key",
        });
    }
    if let (Some(cert), Some(key)) = (cert, key) {
        let matches = pki::key_matches_certificate(key, cert);
        report.key_matches_certificate = Some(matches);
        if !matches {
            report.warnings.push(ImageWarning::KeyMismatch);
        }
    }
}

impl fmt::Display for ImageReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "{} record(s), {} bytes used:",
            self.records.len(),
            self.end
        );
        for record in &self.records {
            let _ = writeln!(
                text,
                "  0x{:04X}  {:<20} {:>5} bytes  {}",
                record.offset,
                record.name,
                record.length,
                content_text(&record.content)
            );
            if let RecordContent::Certificate { summary, .. } = &record.content {
                let _ = writeln!(text, "          subject   {}", summary.subject);
                let _ = writeln!(text, "          issuer    {}", summary.issuer);
                let _ = writeln!(
                    text,
                    "          valid     {} .. {}",
                    summary.not_before_rfc3339, summary.not_after_rfc3339
                );
                let _ = writeln!(
                    text,
                    "          key       {}, signed {}{}",
                    summary.key,
                    summary.signature_algorithm,
                    if summary.is_ca { ", CA" } else { "" }
                );
                let _ = writeln!(text, "          id        {}", summary.id);
            }
        }
        match self.key_matches_certificate {
            Some(true) => {
                let _ = writeln!(text, "private_key matches certificate: yes");
            }
            Some(false) => {
                let _ = writeln!(text, "private_key matches certificate: NO");
            }
            None => {}
        }
        for warning in &self.warnings {
            let _ = writeln!(text, "warning: {warning}");
        }
        f.write_str(&text)
    }
}

fn content_text(content: &RecordContent) -> String {
    match content {
        RecordContent::Certificate { encoding, .. } => format!("{encoding} certificate"),
        RecordContent::PrivateKey {
            encoding,
            format,
            key,
        } => format!("{encoding} {format} private key ({key})"),
        RecordContent::Unreadable { reason } => format!("unreadable: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::esp8266_nonos::encode_record;

    #[test]
    fn erased_flash_has_no_records() {
        let report = inspect(&[0xFF; 4096]);
        assert!(report.records.is_empty());
        assert_eq!(report.warnings, vec![ImageWarning::NoRecords]);
        assert_eq!(inspect(&[]).warnings, vec![ImageWarning::NoRecords]);
    }

    #[test]
    fn truncated_payload_is_reported() {
        let mut image = Vec::new();
        encode_record("certificate", &[0x30; 100], &mut image).unwrap();
        image.truncate(80);
        let report = inspect(&image);
        assert_eq!(
            report.warnings,
            vec![ImageWarning::Truncated {
                offset: 0,
                needed: 134,
                available: 80
            }]
        );
    }

    #[test]
    fn garbage_after_records_is_reported() {
        let mut image = Vec::new();
        encode_record("x", b"hello", &mut image).unwrap();
        image.extend_from_slice(&[0xFF; 40]);
        image.push(0x12);
        let report = inspect(&image);
        assert_eq!(report.records.len(), 1);
        assert!(matches!(
            report.records[0].content,
            RecordContent::Unreadable { .. }
        ));
        assert!(
            report
                .warnings
                .iter()
                .any(|w| matches!(w, ImageWarning::TrailingGarbage { count: 1, .. })),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn header_of_garbage_stops_the_walk() {
        let mut data = vec![0x01; 34];
        data.extend_from_slice(&[0xFF; 10]);
        let report = inspect(&data);
        assert!(report.records.is_empty());
        assert_eq!(
            report.warnings,
            vec![ImageWarning::TrailingGarbage {
                offset: 0,
                count: 34
            }]
        );
    }
}
