//! ESP8266 NONOS libssl's loader traces: `the file is a PEM file.` and `the file is not a PEM
//! file.`, printed once per credential it loads. Espressif's axTLS port (`ssl_obj_load` in its
//! loader, found through the code index) looks for `-----BEGIN` in the bytes it loads: with it,
//! it prints the first line and decodes PEM; without it, the second, and parses the bytes as
//! DER. The SDK's v2.x tools write DER records, so "not a PEM file" is the normal, harmless
//! line — users read it as the cause of a failure, which is why it is explained here. Record
//! names and lengths are `cert_record`'s.

use super::Observation;
use crate::finding::{Finding, Severity};

/// The observation for a PEM/DER loader trace, if the line is one.
pub(crate) fn recognise(line: &str) -> Option<Observation> {
    let lower = line.trim_end_matches('.').trim().to_ascii_lowercase();
    let finding = match lower.as_str() {
        "the file is not a pem file" => Finding::new(
            Severity::Info,
            format!("libssl read a credential stored as DER: `{line}`"),
            "harmless: libssl looks for `-----BEGIN` in each credential it loads; without it, it prints this line and parses the bytes as DER, which is what the SDK's v2.x tools (make_cacert.py, make_cert.py via openssl -outform DER) write to flash. It is not an error and not the cause of a failed handshake; the record trace before it names the credential and its length",
            "",
        ),
        "the file is a pem file" => Finding::new(
            Severity::Info,
            format!("libssl read a credential stored as PEM text: `{line}`"),
            "libssl found `-----BEGIN` and decodes the PEM text (the SDK's v3.x tools write PEM records); harmless, though DER records are smaller",
            "",
        ),
        _ => return None,
    };
    Some(Observation {
        finding,
        fact: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_lines_are_harmless_information() {
        let not = recognise("the file is not a PEM file.").unwrap();
        assert_eq!(not.finding.severity, Severity::Info);
        assert!(not.finding.why.starts_with("harmless"));
        assert!(not.fact.is_none());
        assert!(recognise("the file is a PEM file.").is_some());
        assert!(recognise("the file is broken").is_none());
    }
}
