//! Tests of the log explainer on the fixtures in tests/fixtures (one per message family),
//! including the forum case of device-side research §0, hostile input and the fuzz corpus.

use super::*;
use crate::finding::Severity;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn root(name: &str) -> Finding {
    explain_log(&fixture(name)).root_cause.unwrap()
}

fn all_text(report: &Report) -> String {
    report
        .findings
        .iter()
        .chain(&report.root_cause)
        .map(|f| format!("{} | {} | {}", f.what, f.why, f.fix))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn forum_case_names_alert_40_and_the_tls12_requirement() {
    let text = fixture("nonos_libssl_forum.log");
    assert_eq!(
        Stack::detect(&String::from_utf8_lossy(&text)),
        Stack::NonosLibssl
    );
    let report = explain_log(&text);
    let rc = report.root_cause.clone().unwrap();
    assert_eq!(rc.severity, Severity::Error);
    assert!(
        rc.what.contains("fatal alert 40 handshake_failure"),
        "{}",
        rc.what
    );
    assert!(
        rc.what.contains("client offered TLS 1.1 at most; policy IoTSecurityPolicy_TLS13_1_2_2022_10 requires TLS 1.2"),
        "{}",
        rc.what
    );
    assert!(
        rc.why.contains("CA record trace shows the CA was found"),
        "{}",
        rc.why
    );
    assert!(rc.fix.contains("-lmbedtls"));
    assert!(
        rc.fix
            .contains("espconn_secure_set_size(ESPCONN_CLIENT, 8192)")
    );
    // Line-level findings: the CA record, the alert text, the alert number, the symptom, the loop.
    let lines: Vec<usize> = report.findings.iter().filter_map(|f| f.line).collect();
    assert_eq!(lines, [16, 17, 18, 19, 20]);
    let ca = &report.findings[0];
    assert_eq!(ca.severity, Severity::Info);
    assert!(
        ca.what
            .contains("TLS.ca_x509.cer has length 0x4d7 = 1239 bytes")
    );
    assert!(
        ca.why
            .contains("VeriSign Class 3 Public Primary Certification Authority - G5")
    );
    assert!(
        report.findings[2]
            .what
            .contains("the server sent fatal alert 40 handshake_failure")
    );
    assert!(!report.is_clean());
}

#[test]
fn each_message_family_is_recognised() {
    // (fixture, expected stack, text the root cause must contain, text some finding must contain)
    let cases = [
        (
            "nonos_mbedtls_buffer.log",
            Stack::NonosMbedtls,
            "receive buffer is smaller",
            "-0x7200 SSL_INVALID_RECORD",
        ),
        (
            "nonos_mbedtls_alert.log",
            Stack::NonosMbedtls,
            "fatal alert 42 bad_certificate",
            "-0x7780 SSL_FATAL_ALERT_MESSAGE",
        ),
        (
            "esp_idf_wrong_ca.log",
            Stack::EspIdf,
            "does not verify against the CA",
            "esp-tls error 0x801A ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED",
        ),
        (
            "esp_idf_clock.log",
            Stack::EspIdf,
            "clock is not set",
            "-0x2700 X509_CERT_VERIFY_FAILED",
        ),
        (
            "bearssl_alert.log",
            Stack::BearSsl,
            "fatal alert 40 handshake_failure",
            "BearSSL error 296 = 256 + 40",
        ),
        (
            "bearssl_x509.log",
            Stack::BearSsl,
            "does not verify against the CA",
            "BearSSL error 40 BR_ERR_X509_EXTRA_ELEMENT",
        ),
        (
            "espconn_mem.log",
            Stack::Unknown,
            "ran out of memory",
            "espconn error -1 ESPCONN_MEM",
        ),
        (
            "axtls_clock.log",
            Stack::Unknown,
            "clock is not set",
            "X509_VFY_ERROR_NOT_YET_VALID",
        ),
    ];
    for (name, stack, cause, finding) in cases {
        let bytes = fixture(name);
        assert_eq!(
            Stack::detect(&String::from_utf8_lossy(&bytes)),
            stack,
            "{name}"
        );
        let report = explain_log(&bytes);
        let rc = report.root_cause.clone().unwrap();
        assert!(
            rc.what.contains(cause),
            "{name}: root cause {:?} lacks {cause:?}",
            rc.what
        );
        assert!(!rc.fix.is_empty(), "{name}: no fix");
        assert!(
            all_text(&report).contains(finding),
            "{name}: no finding with {finding:?}:\n{}",
            all_text(&report)
        );
        assert!(!report.is_clean(), "{name}");
    }
}

#[test]
fn stack_specific_fixes() {
    assert!(
        root("nonos_mbedtls_buffer.log")
            .fix
            .contains("espconn_secure_set_size(ESPCONN_CLIENT, 8192)")
    );
    assert!(
        root("esp_idf_wrong_ca.log")
            .fix
            .contains("Amazon Root CA 1")
    );
    assert!(root("esp_idf_clock.log").fix.contains("SNTP"));
}

#[test]
fn bearssl_40_is_not_an_alert_but_axtls_40_is() {
    let bear = explain_log(b"[BSSL] Couldn't connect. Error = 40\n");
    assert!(!all_text(&bear).contains("handshake_failure"));
    let ax = explain_log(b"Error: SSL error 40\n");
    assert!(all_text(&ax).contains("handshake_failure"));
}

#[test]
fn clean_and_empty_logs() {
    let clean = explain_log(&fixture("clean.log"));
    assert!(clean.findings.is_empty());
    assert!(clean.is_clean());
    assert!(
        clean
            .root_cause
            .unwrap()
            .what
            .contains("no TLS or connection messages")
    );
    let ca_only = explain_log(b"TLS.ca_x509.cer 35d\n");
    assert!(ca_only.is_clean());
    assert!(
        ca_only
            .root_cause
            .unwrap()
            .what
            .contains("nothing in this log shows a failed")
    );
    assert!(explain_log(b"").is_clean());
}

#[test]
fn hostile_input_does_not_panic() {
    let mut junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    junk.extend_from_slice("Reason:[-0x".as_bytes());
    junk.extend_from_slice(
        "\nSSL error 99999999999999999999\n-0x\n-0xFFFFFFFF\nespconn -99999999999\n".as_bytes(),
    );
    junk.extend_from_slice(
        "got an alert message, type: [2:\n(\n)\nBSSL error = 4294967296\né".as_bytes(),
    );
    let _ = explain_log(&junk);
    let _ = explain_log("ééé SSL error 40 ééé".repeat(100).as_bytes());
}

#[test]
fn fuzz_corpus_replays_without_panic() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/corpus/device_log");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let _ = explain_log(&bytes);
        seen += 1;
    }
    assert!(seen > 0, "no corpus files in {dir}");
}
