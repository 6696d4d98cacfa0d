//! End-to-end tests of `tether doctor explain`: the real binary on log fixtures from the
//! doctor crate, as a file and on standard input, in text and JSON, checking exit statuses.

// A test binary: its helper fails loudly like the tests do.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn fixture(name: &str) -> String {
    format!(
        "{}/../doctor/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn tether(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

#[test]
fn forum_log_as_text() {
    let out = tether(
        &["doctor", "explain", &fixture("nonos_libssl_forum.log")],
        None,
    );
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
    let out = tether(&["doctor", "explain", "-", "--json"], Some(&log));
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
    let out = tether(&["doctor", "explain", &fixture("clean.log")], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("no TLS or connection messages")
    );
    let out = tether(&["doctor", "explain", "/nonexistent/device.log"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cannot read log file /nonexistent/device.log"),
        "{err}"
    );
}
