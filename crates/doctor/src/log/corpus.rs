//! The corpus of real device logs (`tests/corpus/*.log`): each found in a public bug report or
//! forum thread through the search tools' indexes and kept exactly as found, listed here with
//! its source, the verdict the explainer must reach and the root cause the thread established
//! (in our words). Every case also checks that no line is skipped: each non-empty line is a
//! finding, a context note, or listed as not understood.

use std::collections::BTreeSet;

use super::*;

/// One log of the corpus.
struct Case {
    /// File name in tests/corpus, without `.log`.
    file: &'static str,
    /// Where the log was found.
    url: &'static str,
    /// What the root cause's `what` must contain.
    verdict: &'static str,
    /// What actually went wrong, per the thread (or, where the thread did not settle it, what
    /// the log shows).
    cause: &'static str,
}

const CASES: &[Case] = &[
    Case {
        file: "arduino-4826-axtls-alert40",
        url: "https://github.com/esp8266/Arduino/issues/4826",
        verdict: "fatal alert 40 handshake_failure",
        cause: "a local HTTPS server refused the ClientHello of the ESP8266 Arduino core 2.4 (axTLS) with handshake_failure: they shared no version or suite",
    },
    Case {
        file: "rtos-461-buffer",
        url: "https://github.com/espressif/ESP8266_RTOS_SDK/issues/461",
        verdict: "receive buffer is smaller",
        cause: "mbedTLS's input buffer was smaller than AWS IoT's records; raising the TLS maximum input content length to 16384 fixed it",
    },
    Case {
        file: "idf-5002-unacceptable-key",
        url: "https://github.com/espressif/esp-idf/issues/5002",
        verdict: "does not verify against the CA",
        cause: "the broker's certificate is signed with a key the device's mbedTLS verification profile refuses, so the chain fails verification",
    },
    Case {
        file: "scargo-282-wrong-root",
        url: "https://github.com/Spyro-Soft/scargo/issues/282",
        verdict: "does not verify against the CA",
        cause: "the device still carried the old root after the service moved to another root CA",
    },
    Case {
        file: "idf-5757-cn-mismatch",
        url: "https://github.com/espressif/esp-idf/issues/5757",
        verdict: "does not name the host",
        cause: "the broker's certificate does not carry the name the client connected with",
    },
    Case {
        file: "esp-mqtt-79-self-signed",
        url: "https://github.com/espressif/esp-mqtt/issues/79",
        verdict: "does not verify against the CA",
        cause: "the broker's self-signed certificate could not be validated against the configured CA",
    },
    Case {
        file: "azure-central-5-verify",
        url: "https://github.com/microsoft/azure-iot-central-esp32-sample/issues/5",
        verdict: "does not verify against the CA",
        cause: "after the service's root migration the sample's root no longer verified its chain (esp_tls_stack_err 9984 is -0x2700)",
    },
    Case {
        file: "esp-aws-iot-26-reset",
        url: "https://github.com/espressif/esp-aws-iot/issues/26",
        verdict: "closed the connection",
        cause: "the server reset the connection right after the ClientHello, before any certificate was exchanged",
    },
    Case {
        file: "esp-aws-iot-7-mpi-alloc",
        url: "https://github.com/espressif/esp-aws-iot/issues/7",
        verdict: "ran out of memory",
        cause: "the ECDH computation failed with MPI_ALLOC_FAILED: not enough heap for the handshake",
    },
    Case {
        file: "idf-5493-timeout",
        url: "https://github.com/espressif/esp-idf/issues/5493",
        verdict: "timed out",
        cause: "the handshake with the AWS IoT endpoint timed out (SSL_TIMEOUT)",
    },
    Case {
        file: "embedded-c-1898-alert70",
        url: "https://github.com/aws/aws-iot-device-sdk-embedded-C/issues/1898",
        verdict: "fatal alert 70 protocol_version",
        cause: "the endpoint answered the ESP32's TLS 1.2 handshake with protocol_version; the thread does not establish why",
    },
    Case {
        file: "bg96-9-qmtopen",
        url: "https://github.com/johncobb/catm1_bg96/issues/9",
        verdict: "could not be opened",
        cause: "the BG96 could not open the TLS connection to AWS IoT (+QMTOPEN -1) after a rejected cipher-suite command in its SSL context setup",
    },
    Case {
        file: "idf-17963-conn-eof",
        url: "https://github.com/espressif/esp-idf/issues/17963",
        verdict: "closed the connection",
        cause: "after fleet provisioning AWS closed the connection during the handshake: it refuses a certificate that is not ACTIVE or has no policy",
    },
    Case {
        file: "idf-5374-conn-eof",
        url: "https://github.com/espressif/esp-idf/issues/5374",
        verdict: "closed the connection",
        cause: "the broker closed the connection during the mutual-TLS handshake: it refused the client's certificate",
    },
    Case {
        file: "freertos-40-handshake-29312",
        url: "https://github.com/aws/amazon-freertos/issues/40",
        verdict: "closed the connection",
        cause: "handshake error -29312 is -0x7280 (CONN_EOF): AWS IoT closed the connection",
    },
    Case {
        file: "esp-aws-iot-79-read-7880",
        url: "https://github.com/espressif/esp-aws-iot/issues/79",
        verdict: "closed the connection",
        cause: "AWS sent close_notify after the handshake (-0x7880): it closes a client whose policy does not allow its CONNECT",
    },
    Case {
        file: "rtos-482-not-signed",
        url: "https://github.com/espressif/ESP8266_RTOS_SDK/issues/482",
        verdict: "does not verify against the CA",
        cause: "the device trusted the VeriSign root while the ATS endpoint chains to Amazon Root CA 1",
    },
    Case {
        file: "arduino-esp32-8384-x509",
        url: "https://github.com/espressif/arduino-esp32/issues/8384",
        verdict: "does not verify against the CA",
        cause: "the ESP32 Arduino ssl_client could not verify the server's chain with the configured root (-9984 is -0x2700)",
    },
    Case {
        file: "microocpp-85-x509",
        url: "https://github.com/matth-x/MicroOcpp/issues/85",
        verdict: "does not verify against the CA",
        cause: "the server's chain did not verify against the configured root (or the clock or host name did not fit)",
    },
    Case {
        file: "arduino-esp32-5710-alert",
        url: "https://github.com/espressif/arduino-esp32/issues/5710",
        verdict: "fatal alert, but the log does not say which",
        cause: "the peer sent a fatal alert on an established connection (-30592 is -0x7780); the log does not name it",
    },
    Case {
        file: "ameba-18-x509",
        url: "https://github.com/Ameba8195/Arduino/issues/18",
        verdict: "does not verify against the CA",
        cause: "the root on the RTL8195 did not verify AWS's chain: its top certificate was not signed by a trusted CA",
    },
    Case {
        file: "embedded-c-46-verify",
        url: "https://github.com/aws/aws-iot-device-sdk-embedded-C/issues/46",
        verdict: "does not verify against the CA",
        cause: "the AWS IoT Device SDK could not verify the server certificate with the configured root",
    },
    Case {
        file: "sslclientesp32-14-connect",
        url: "https://github.com/alkonosst/SSLClientESP32/issues/14",
        verdict: "could not be opened",
        cause: "the TCP connection through the SIM7020C modem to the AWS endpoint failed before any TLS",
    },
    Case {
        file: "ruuvi-473-no-verification",
        url: "https://github.com/ruuvi/ruuvi.gateway_esp.c/issues/473",
        verdict: "cannot verify the server",
        cause: "the firmware gave esp-tls no CA, no bundle and no skip flag, so esp-tls refused to connect",
    },
    Case {
        file: "embedded-c-981-x509",
        url: "https://github.com/aws/aws-iot-device-sdk-embedded-C/issues/981",
        verdict: "does not verify against the CA",
        cause: "Amazon Root CA 1 alone did not verify the endpoint's chain on that system; the cross-signed root did",
    },
    Case {
        file: "techoverflow-esp-tls-8008",
        url: "https://techoverflow.net/page/21/",
        verdict: "closed the connection",
        cause: "esp-tls 0x8008: the server closed an established connection with a FIN",
    },
    Case {
        file: "rainmaker-198-dns",
        url: "https://github.com/espressif/esp-rainmaker/issues/198",
        verdict: "could not be opened",
        cause: "the AWS IoT endpoint's name did not resolve on the device's network (getaddrinfo 202)",
    },
    Case {
        file: "freertos-esp32-23-arn-host",
        url: "https://github.com/FreeRTOS/iot-reference-esp32/issues/23",
        verdict: "could not be opened",
        cause: "the endpoint was configured as a thing ARN instead of the ATS host name, so the lookup failed",
    },
    Case {
        file: "embedded-c-116-unknown-host",
        url: "https://github.com/aws/aws-iot-device-sdk-embedded-C/issues/116",
        verdict: "could not be opened",
        cause: "mbedtls_net_connect returned NET_UNKNOWN_HOST: the endpoint did not resolve",
    },
    Case {
        file: "esp-at-432-clock",
        url: "https://github.com/espressif/esp-at/issues/432",
        verdict: "clock is not set",
        cause: "the first connection ran before SNTP had set the clock, so the certificate seemed to start in the future",
    },
    Case {
        file: "websockets-474-bearssl-clock",
        url: "https://github.com/Links2004/arduinoWebSockets/issues/474",
        verdict: "clock is not set",
        cause: "BearSSL judged the server certificate out of date because the device clock was not set before connecting",
    },
    Case {
        file: "embedded-c-1513-x509",
        url: "https://github.com/aws/aws-iot-device-sdk-embedded-C/issues/1513",
        verdict: "does not verify against the CA",
        cause: "the CA file did not verify the endpoint's chain; the device sent alert 46 and stopped",
    },
    Case {
        file: "sslclient-27-clock",
        url: "https://github.com/OPEnSLab-OSU/SSLClient/issues/27",
        verdict: "clock is not set",
        cause: "SSLClient (BearSSL) was given a wrong verification time, so valid certificates looked out of date",
    },
];

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

#[test]
fn every_corpus_log_gets_its_verdict_and_no_line_is_skipped() {
    assert!(CASES.len() >= 30, "the corpus must hold at least 30 logs");
    let mut wrong = Vec::new();
    for case in CASES {
        assert!(
            case.url.starts_with("https://"),
            "{}: source URL",
            case.file
        );
        assert!(!case.cause.is_empty(), "{}: root cause", case.file);
        let path = corpus_dir().join(format!("{}.log", case.file));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let report = explain_log(&bytes);
        let root = report
            .root_cause
            .clone()
            .unwrap_or_else(|| Finding::new(crate::finding::Severity::Info, "(none)", "", ""));
        if !root.what.contains(case.verdict) {
            wrong.push(format!(
                "{} ({}): expected a root cause with {:?}, got {:?}",
                case.file, case.url, case.verdict, root.what
            ));
        }
        // Every non-empty line is accounted for, once as a finding's line or as a note.
        let text = String::from_utf8_lossy(&bytes);
        let expected: BTreeSet<usize> = text
            .split('\n')
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, _)| i + 1)
            .collect();
        let mut seen: BTreeSet<usize> = report.findings.iter().filter_map(|f| f.line).collect();
        for note in report.context.iter().chain(&report.not_understood) {
            assert!(
                seen.insert(note.line),
                "{}: line {} twice",
                case.file,
                note.line
            );
        }
        assert_eq!(seen, expected, "{}: lines not accounted for", case.file);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_corpus_file_is_a_case() {
    let listed: BTreeSet<String> = CASES.iter().map(|c| format!("{}.log", c.file)).collect();
    let present: BTreeSet<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, present);
}

#[test]
fn the_issue_22_log_is_explained_line_by_line() {
    let path = format!(
        "{}/tests/fixtures/nonos_libssl_issue22.log",
        env!("CARGO_MANIFEST_DIR")
    );
    let report = explain_log(&std::fs::read(path).unwrap());
    assert!(
        report.not_understood.is_empty(),
        "{:#?}",
        report.not_understood
    );
    let at = |line: usize| {
        report
            .findings
            .iter()
            .find(|f| f.line == Some(line))
            .unwrap_or_else(|| panic!("no finding on line {line}"))
    };
    for line in [5, 8, 9] {
        assert_eq!(at(line).severity, crate::finding::Severity::Info);
        assert!(at(line).why.starts_with("harmless"), "{}", at(line).why);
    }
    assert!(at(4).what.starts_with("CA certificate record"));
    assert!(at(6).what.starts_with("private key record"));
    assert!(at(7).what.starts_with("client certificate record"));
    assert!(!at(7).what.contains("CA certificate"));
    let context: Vec<usize> = report.context.iter().map(|n| n.line).collect();
    assert_eq!(context, [1, 2, 3, 10]);
    let root = report.root_cause.unwrap();
    assert!(
        root.what.contains("fatal alert 40 handshake_failure"),
        "{}",
        root.what
    );
    assert!(root.what.contains("requires TLS 1.2"), "{}", root.what);
}
