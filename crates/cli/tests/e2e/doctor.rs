//! End-to-end tests of `tether doctor`: `explain` on log fixtures from the doctor crate (file
//! and standard input, text and JSON), and `probe`, `creds` and `recent` against a real
//! `tether serve` on port 0 under different TLS policies, checking exit statuses. No network
//! beyond 127.0.0.1, no sleeps: the server's ready line and log lines are the synchronisation.

use std::time::Duration;

use test_support::process::Tether;

use crate::support::mosquitto::Mosquitto;
use crate::support::{run, run_with_stdin, start};

fn fixture(name: &str) -> String {
    format!(
        "{}/../doctor/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn forum_log_as_text() {
    let out = run(&["doctor", "explain", &fixture("nonos_libssl_forum.log")]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("line 18: the server sent fatal alert 40 handshake_failure"),
        "{text}"
    );
    assert!(text.contains("Most likely root cause:"), "{text}");
    assert!(text.contains("requires TLS 1.2"), "{text}");
    assert!(
        text.contains("fix: link NONOS mbedTLS instead of libssl"),
        "{text}"
    );
}

#[test]
fn forum_log_as_json_on_stdin() {
    let log = std::fs::read(fixture("nonos_libssl_forum.log")).unwrap();
    let out = run_with_stdin(&["doctor", "explain", "-", "--json"], &log);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rc = &v["root_cause"];
    assert_eq!(rc["severity"], "error");
    assert!(
        rc["what"]
            .as_str()
            .unwrap()
            .contains("fatal alert 40 handshake_failure")
    );
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings[0]["line"], 16);
    assert_eq!(findings[0]["severity"], "info");
    assert!(
        findings
            .iter()
            .all(|f| f["why"].is_string() && f["fix"].is_string())
    );
}

#[test]
fn clean_log_exits_zero_and_missing_file_fails() {
    let out = run(&["doctor", "explain", &fixture("clean.log")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("no TLS or connection messages")
    );
    // A check that cannot run exits 2, apart from 1 (it ran and found a problem).
    let out = run(&["doctor", "explain", "/nonexistent/device.log"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cannot read log file /nonexistent/device.log"),
        "{err}"
    );
}

/// `tether doctor probe` against the server's mutual-TLS listener with the demo device.
fn probe(server: &Tether, extra: &[&str]) -> (Option<i32>, String) {
    let addr = server.addr("mqtts").to_string();
    let ca = server.demo_file("root-ca.pem");
    let cert = server.demo_file("certificate.pem.crt");
    let key = server.demo_file("private.pem.key");
    let mut args = vec![
        "doctor",
        "probe",
        addr.as_str(),
        "--cafile",
        ca.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn axtls_is_refused_with_the_forum_explanation_and_mbedtls_connects() {
    let (dir, server) = start(&[]);

    // The TLS 1.1-only NONOS libssl offer, replayed byte for byte.
    let (code, json) = probe(&server, &["--profile", "esp8266-nonos-axtls", "--json"]);
    assert_eq!(code, Some(1), "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["mode"], "raw-client-hello");
    let verdict = &report["verdict"];
    let what = verdict["what"].as_str().unwrap();
    assert!(
        what.starts_with(
            "ESP8266 NONOS libssl (axTLS 1.4.9) cannot speak TLS 1.2, so the server refused its ClientHello with fatal alert 40 handshake_failure"
        ),
        "{what}"
    );
    assert!(what.contains("requires TLS 1.2"), "{what}");
    assert!(verdict["fix"].as_str().unwrap().contains("-lmbedtls"));

    // The same explanation as `doctor explain` gives for the forum log, alert 40 included.
    let log = std::fs::read(fixture("nonos_libssl_forum.log")).unwrap();
    let out = run_with_stdin(&["doctor", "explain", "-", "--json"], &log);
    let explained: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = &explained["root_cause"];
    assert_eq!(root["what"], verdict["what"]);
    assert_eq!(root["fix"], verdict["fix"]);
    let policy = "every AWS IoT security policy requires TLS 1.2 or TLS 1.3";
    assert!(root["why"].as_str().unwrap().contains(policy));
    assert!(verdict["why"].as_str().unwrap().contains(policy));

    // NONOS mbedTLS (TLS 1.2, static-RSA CBC suites, no SNI) connects and round-trips.
    let (code, text) = probe(
        &server,
        &[
            "--profile",
            "esp8266-nonos-mbedtls",
            "--topic",
            "doctor/probe",
        ],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("handshake complete: TLSv1.2 with AES"),
        "{text}"
    );
    assert!(
        text.contains("no SNI (this stack never sends it)"),
        "{text}"
    );
    assert!(
        text.contains("the server asked for a client certificate"),
        "{text}"
    );
    assert!(text.contains("received the message back"), "{text}");
    assert!(
        text.contains("esp8266-nonos-mbedtls will connect"),
        "{text}"
    );

    // The refusal the axTLS probe provoked is in `doctor recent`, with advice for its kind.
    server
        .wait_for_log("refused", Duration::from_secs(10))
        .unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let out = run(&["doctor", "recent", "--data-dir", data_dir]);
    let text = String::from_utf8(out.stdout).unwrap();
    // Listing past refusals is what was asked: exit 0.
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("refused (version): client offered TLS 1.1 at most"),
        "{text}"
    );
    // The offer is kept compact: versions and how many suites, not each suite.
    assert!(text.contains("the client offered TLS 1.1"), "{text}");
    assert!(text.contains(" suites; "), "{text}");
    assert!(!text.contains("RC4-MD5"), "{text}");
    assert!(
        text.contains("fix: give the device a TLS 1.2 stack"),
        "{text}"
    );
    let out = run(&[
        "doctor",
        "recent",
        "--data-dir",
        data_dir,
        "--json",
        "--limit",
        "1",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 1);
}

#[test]
fn a_tls_1_3_only_policy_refuses_every_tls_1_2_device() {
    let (_dir, server) = start(&["--tls-policy", "IoTSecurityPolicy_TLS13_1_3_2022_10"]);
    let (code, text) = probe(&server, &["--profile", "esp8266-nonos-mbedtls"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("fatal alert 40 handshake_failure in answer to the ClientHello"),
        "{text}"
    );
    assert!(text.contains("the endpoint allows TLS 1.3 only"), "{text}");
    assert!(
        text.contains("IoTSecurityPolicy_TLS13_1_2_2022_10"),
        "{text}"
    );
    let (code, text) = probe(&server, &["--profile", "esp-idf-mbedtls"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("esp-idf-mbedtls offers TLS 1.2 at most"),
        "{text}"
    );
    // A TLS 1.3 stack is fine there.
    let (code, text) = probe(&server, &["--profile", "embedded-tls"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("TLSv1.3 with TLS_AES_128_GCM_SHA256"),
        "{text}"
    );
}

#[test]
fn probe_without_a_client_certificate_and_creds_of_the_demo_device() {
    let (dir, server) = start(&[]);
    let addr = server.addr("mqtts").to_string();
    let ca = server.demo_file("root-ca.pem");
    let out = run(&["doctor", "probe", &addr, "--cafile", ca.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("the server asked for a client certificate, and none was given"),
        "{text}"
    );
    // The refusal arrives as alert 116, or is lost with the closed connection (TLS 1.3 timing).
    assert!(
        text.contains("alert 116 certificate_required")
            || text.contains("pass the device certificate and key"),
        "{text}"
    );

    let cert = server.demo_file("certificate.pem.crt");
    let key = server.demo_file("private.pem.key");
    let out = run(&[
        "doctor",
        "creds",
        "--cafile",
        ca.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--endpoint",
        &addr,
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let whats: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["what"].as_str().unwrap())
        .collect();
    let has = |needle: &str| whats.iter().any(|w| w.contains(needle));
    assert!(has("PEM PKCS#1 RSA-2048 private key"), "{whats:#?}");
    assert!(has("the certificate chains to"), "{whats:#?}");
    assert!(has("is registered and ACTIVE"), "{whats:#?}");
    assert!(has("attached policies:"), "{whats:#?}");
    // A set issued a minute ago works: its recent notBefore is fine, and the CA's recent start
    // is named as mattering only to devices that check dates before setting their clock.
    assert!(has("notBefore"), "{whats:#?}");
    assert!(has("is recent, which is fine"), "{whats:#?}");
    let clock = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["what"]
                .as_str()
                .unwrap()
                .contains("the newest CA certificate starts at")
        })
        .unwrap();
    assert_eq!(clock["severity"], "info", "{clock}");
    assert!(
        clock["why"]
            .as_str()
            .unwrap()
            .contains("before its clock is set"),
        "{clock}"
    );
    assert_eq!(out.status.code(), Some(0), "{v:#}");

    // Only errors fail, unless --strict; a stack that checks dates turns the clock into a warning.
    let creds = |extra: &[&str]| {
        let mut args = vec![
            "doctor",
            "creds",
            "--cafile",
            ca.to_str().unwrap(),
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let out = creds(&["--profile", "esp8266-arduino-bearssl"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("esp8266-arduino-bearssl checks certificate dates"),
        "{text}"
    );
    assert!(text.contains("warning"), "{text}");
    assert_eq!(out.status.code(), Some(0), "{text}");
    let out = creds(&["--profile", "esp8266-arduino-bearssl", "--strict"]);
    assert_eq!(out.status.code(), Some(1));
    let out = creds(&["--strict"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    // An error fails with or without --strict: a key that belongs to another certificate.
    let other = dir.path().join("ca/root-ca.key");
    let out = run(&[
        "doctor",
        "creds",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        other.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn recent_on_a_quiet_data_dir_and_bad_arguments() {
    let (dir, server) = start(&[]);
    let out = run(&[
        "doctor",
        "recent",
        "--data-dir",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("no refusals recorded")
    );
    drop(server);
    // A directory that is not a data directory (a typo, an empty one) is refused, not answered
    // with "no refusals".
    let empty = tempfile::tempdir().unwrap();
    for dir in [
        empty.path().to_owned(),
        empty.path().join("no-such-dir"),
        dir.path().join("devices"),
    ] {
        let out = run(&["doctor", "recent", "--data-dir", dir.to_str().unwrap()]);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(dir.to_str().unwrap()), "{err}");
        assert!(err.contains("data directory"), "{err}");
    }
    let out = run(&["doctor", "probe", "nohost", "--cafile", "/nonexistent.pem"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("HOST:PORT"));
    let out = run(&[
        "doctor",
        "probe",
        "localhost:1",
        "--cafile",
        "/nonexistent.pem",
        "--profile",
        "esp32",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("/nonexistent.pem")
    );
}

#[test]
fn probe_against_the_debian_mosquitto_broker_with_tls() {
    let broker = Mosquitto::start();
    let addr = format!("localhost:{}", broker.tls);
    let (ca, cert, key) = (
        broker.file("ca.pem"),
        broker.file("client.pem"),
        broker.file("client.key"),
    );
    let out = run(&[
        "doctor",
        "probe",
        &addr,
        "--cafile",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
        "--topic",
        "doctor/probe",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("handshake complete"), "{text}");
    assert!(text.contains("accepted (CONNACK success"), "{text}");

    // Without a client certificate mosquitto (require_certificate true) refuses, and the probe
    // says what to pass.
    let out = run(&["doctor", "probe", &addr, "--cafile", &ca]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("--cert"), "{text}");
}

#[test]
fn recent_honours_tether_data_dir_like_serve_and_documents_its_exit_codes() {
    let (dir, server) = start(&[]);
    // A refusal to list: plain MQTT sent to the TLS port.
    let mut tcp = std::net::TcpStream::connect(server.addr("mqtts")).unwrap();
    std::io::Write::write_all(&mut tcp, b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00").unwrap();
    server
        .wait_for_log("plain MQTT", Duration::from_secs(10))
        .unwrap();
    let out = std::process::Command::new(crate::support::tether())
        .args(["doctor", "recent"])
        .env("TETHER_DATA_DIR", dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("refused (not_tls)"), "{text}");
    let help = run(&["doctor", "--help"]);
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(text.contains("Exit codes:"), "{text}");
    assert!(text.contains("exits 2 when it"), "{text}");
}

/// The log of issue 22, line by line: the PEM lines are harmless information, each record is
/// named for what it holds, the progress lines are context, and nothing is left unexplained.
#[test]
fn the_nonos_log_of_issue_22_is_explained_line_by_line() {
    let out = run(&["doctor", "explain", &fixture("nonos_libssl_issue22.log")]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("line 5: libssl read a credential stored as DER"),
        "{text}"
    );
    assert!(text.contains("why: harmless"), "{text}");
    assert!(
        text.contains("line 7: client certificate record (the device's own certificate"),
        "{text}"
    );
    assert!(
        !text.contains("CA certificate record (the root the device trusts, CA image) certificate"),
        "{text}"
    );
    assert!(
        text.contains("Context:\n  line 1: TCP: Connect to domain"),
        "{text}"
    );
    assert!(!text.contains("Not understood"), "{text}");

    // A line no rule knows is listed, not skipped.
    let out = run_with_stdin(
        &["doctor", "explain", "-", "--json"],
        b"client handshake start.\nsomething nobody explained\nError: SSL error 40\n",
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["not_understood"][0]["line"], 2, "{v:#}");
    assert_eq!(v["not_understood"][0]["text"], "something nobody explained");
    assert_eq!(v["context"][0]["line"], 1, "{v:#}");
}
