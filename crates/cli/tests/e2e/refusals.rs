//! End-to-end tests of what a new user meets when tether serve says no: certificates outside
//! their validity period (refused at the handshake, a live connection closed when its
//! certificate expires), and every refusal kept for `tether doctor recent` and explained there.
//! Real clients (mosquitto_pub/sub, the AWS CLI) against the real binary; waits are for lines,
//! exits or log lines with deadlines.

use std::io::Write;
use std::process::Command;

use test_support::notation::parse as bytes;
use test_support::process::Tether;

use crate::support::{
    DatedDevice, LOG_WAIT, Subscriber, aws, demo_tls, mosquitto_pub, read_packet, start,
    stdout_stderr, tether, tether_pub, text, unix_now, with,
};

/// Runs `tether doctor recent --data-dir DIR ARGS…`.
fn doctor_recent(server: &Tether, args: &[&str]) -> std::process::Output {
    Command::new(tether())
        .args(["doctor", "recent", "--data-dir"])
        .arg(server.data_dir())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn certificates_outside_their_validity_are_refused_at_the_handshake_and_explained() {
    let (dir, server) = start(&[]);
    // Registered while valid (the API refuses an expired certificate), expiring seconds later.
    let now = unix_now();
    let short = DatedDevice::issue(&server, dir.path(), "short", true, (now - 60, now + 12));
    let pem = format!("file://{}", short.cert.display());
    let registered = aws(
        &server,
        &[
            "iot",
            "register-certificate-without-ca",
            "--certificate-pem",
            &pem,
            "--status",
            "ACTIVE",
        ],
    );
    let arn = registered["certificateArn"].as_str().unwrap();
    aws(
        &server,
        &[
            "iot",
            "attach-policy",
            "--policy-name",
            "tether-dev-allow-all",
            "--target",
            arn,
        ],
    );
    let args = short.args(&server);
    // Connected while valid; closed when the certificate expires (MQTT 5 says why).
    let mut live = Subscriber::mosquitto(&with(&args, &["-V", "mqttv5", "-i", "short", "-t", "x"]));
    let seen = live.read_until("Received DISCONNECT");
    assert!(seen.contains("Received DISCONNECT (135)"), "{seen}");
    assert!(
        unix_now() >= now + 12,
        "closed at the certificate's notAfter, not before"
    );
    server
        .wait_for_log("certificate expired while it was connected", LOG_WAIT)
        .unwrap();

    // A new connection with the expired certificate is refused at the handshake, by both
    // clients alike, and named as expired (not as unregistered).
    let refused = mosquitto_pub(&args, &["-t", "t", "-m", "m", "-q", "1"]);
    assert!(!refused.status.success(), "{}", text(&refused));
    let line = server.wait_for_log("expired at", LOG_WAIT).unwrap();
    assert!(line.contains(&short.id), "{line}");
    let ours = tether_pub(&args, &["-t", "t", "-m", "m", "-q", "1"]);
    let (_, err) = stdout_stderr(&ours);
    // TLS 1.3: the alert arrives after the client's handshake; the connection is lost (7).
    assert_eq!(ours.status.code(), Some(7), "{err}");
    assert!(err.contains("TLS alert 45 certificate_expired"), "{err}");
    assert!(err.contains("device certificate really expired"), "{err}");

    // Unregistered certificates outside their validity are named for their dates too.
    let stale = DatedDevice::issue(
        &server,
        dir.path(),
        "stale",
        false,
        (now - 7200, now - 3600),
    );
    let early = DatedDevice::issue(
        &server,
        dir.path(),
        "early",
        false,
        (now + 3600, now + 7200),
    );
    for device in [&stale, &early] {
        let out = mosquitto_pub(&device.args(&server), &["-t", "t", "-m", "m"]);
        assert!(!out.status.success(), "{}", text(&out));
    }
    server
        .wait_for_log("is not valid before", LOG_WAIT)
        .unwrap();

    // Still refused after a restart: the clock decides at each connection.
    server.kill9();
    let server = Tether::serve(tether(), dir.path(), &[]).unwrap();
    let args = short.args(&server);
    let refused = mosquitto_pub(&args, &["-t", "t", "-m", "m"]);
    assert!(!refused.status.success());
    server.wait_for_log("expired at", LOG_WAIT).unwrap();

    let recent = refusals::read_recent(dir.path(), 20).unwrap();
    let kinds: Vec<(&str, Option<&str>)> = recent
        .iter()
        .map(|r| (r.kind.as_str(), r.principal.as_deref()))
        .collect();
    let expired = ("certificate_expired", Some(short.id.as_str()));
    assert_eq!(
        kinds,
        [
            // The live connection closed at notAfter, then new connections refused.
            expired,
            expired,
            expired,
            ("certificate_expired", Some(stale.id.as_str())),
            ("certificate_not_yet_valid", Some(early.id.as_str())),
            expired,
        ],
        "{recent:#?}"
    );
    let explained = doctor_recent(&server, &[]);
    let said = text(&explained);
    assert!(said.contains("certificate_expired"), "{said}");
    assert!(said.contains("give the device a new certificate"), "{said}");
    assert!(said.contains("certificate_not_yet_valid"), "{said}");
    assert!(!said.contains("not_registered"), "{said}");
}

/// A policy that pins the client id to the thing name and allows topics under `ok/` only.
const NARROW_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"iot:Connect",
   "Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"},
  {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],
   "Resource":"arn:aws:iot:us-east-1:123456789012:topic/ok/*"},
  {"Effect":"Allow","Action":"iot:Subscribe",
   "Resource":"arn:aws:iot:us-east-1:123456789012:topicfilter/ok/*"}]}"#;

/// `tether device create NAME [--policy P]` against `server`; the device's connection flags.
pub fn provision(server: &Tether, name: &str, policy: Option<&str>) -> Vec<String> {
    let mut command = Command::new(tether());
    command
        .args(["device", "--endpoint-url", &crate::support::api_url(server)])
        .args(["--data-dir", &server.data_dir().display().to_string()])
        .args(["create", name]);
    if let Some(policy) = policy {
        command.args(["--policy", policy]);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let files = server.data_dir().join("devices").join(name);
    let file = |f: &str| files.join(f).display().to_string();
    let addr = server.addr("mqtts");
    vec![
        "--cafile".into(),
        file("root-ca.pem"),
        "--cert".into(),
        file("certificate.pem.crt"),
        "--key".into(),
        file("private.pem.key"),
        "-h".into(),
        addr.ip().to_string(),
        "-p".into(),
        addr.port().to_string(),
    ]
}

/// Creates the narrow policy on `server`.
pub fn create_narrow_policy(server: &Tether) {
    aws(
        server,
        &[
            "iot",
            "create-policy",
            "--policy-name",
            "narrow",
            "--policy-document",
            NARROW_POLICY,
        ],
    );
}

#[test]
fn policy_denials_and_limits_are_recorded_compactly_and_explained() {
    let (dir, server) = start(&[]);
    create_narrow_policy(&server);
    let narrow = provision(&server, "narrow1", Some("narrow"));
    let bare = provision(&server, "bare1", None);

    // A client id the policy does not allow: CONNACK 5.
    let out = mosquitto_pub(&narrow, &["-i", "other", "-t", "ok/x", "-m", "m"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    server.wait_for_log("client/other", LOG_WAIT).unwrap();
    // No policy attached at all.
    let out = mosquitto_pub(&bare, &["-i", "bare1", "-t", "ok/x", "-m", "m"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    server.wait_for_log("client/bare1", LOG_WAIT).unwrap();
    // A forbidden publish (MQTT 3.1.1: the connection is closed).
    let out = mosquitto_pub(
        &narrow,
        &["-i", "narrow1", "-t", "bad/p", "-m", "m", "-q", "1"],
    );
    assert!(!out.status.success(), "{}", text(&out));
    server.wait_for_log("topic/bad/p", LOG_WAIT).unwrap();
    // A forbidden subscribe (MQTT 5: SUBACK 0x87).
    let out = Command::new("mosquitto_sub")
        .args(&narrow)
        .args(["-V", "mqttv5", "-i", "narrow1", "-t", "bad/s", "-W", "10"])
        .output()
        .unwrap();
    assert!(
        text(&out).contains("All subscription requests were denied"),
        "{}",
        text(&out)
    );
    server.wait_for_log("topicfilter/bad/s", LOG_WAIT).unwrap();
    // A 3.1.1 PUBLISH over the 128 KB payload limit (the packet itself is within 132 KB).
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![b'x'; 128 * 1024 + 100]).unwrap();
    let big = big.display().to_string();
    let out = mosquitto_pub(
        &narrow,
        &["-i", "narrow1", "-t", "ok/big", "-f", &big, "-q", "1"],
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    server
        .wait_for_log("the maximum payload of 131072 bytes", LOG_WAIT)
        .unwrap();
    // A protocol violation closes the connection, and is recorded with the client id.
    let mut raw = demo_tls(&server);
    raw.write_all(&bytes("10 r15 s4 'MQTT' 04 02 k60 s3 'raw'").unwrap())
        .unwrap();
    assert_eq!(read_packet(&mut raw).unwrap(), [0x20, 2, 0, 0]);
    raw.write_all(&[0xF0, 0x00]).unwrap();
    assert!(read_packet(&mut raw).is_none(), "closed");
    server
        .wait_for_log("closed the connection of client \"raw\"", LOG_WAIT)
        .unwrap();

    let recent = refusals::read_recent(dir.path(), 50).unwrap();
    let find = |kind: &str, resource_end: &str| {
        recent
            .iter()
            .find(|r| {
                r.kind.as_str() == kind
                    && r.resource
                        .as_deref()
                        .unwrap_or_default()
                        .ends_with(resource_end)
            })
            .unwrap_or_else(|| panic!("no {kind} record for {resource_end}: {recent:#?}"))
    };
    let connect = find("policy", "client/other");
    assert_eq!(connect.action.as_deref(), Some("iot:Connect"));
    assert_eq!(connect.client_id.as_deref(), Some("other"));
    assert!(connect.principal.as_deref().is_some_and(|p| p.len() == 64));
    assert!(
        connect
            .decided_by
            .as_deref()
            .unwrap()
            .contains("no statement of the attached policies (narrow)"),
        "{connect:#?}"
    );
    let nopolicy = find("no_policy", "client/bare1");
    assert!(
        nopolicy
            .decided_by
            .as_deref()
            .unwrap()
            .contains("no policy is attached")
    );
    let publish = find("policy", "topic/bad/p");
    assert_eq!(publish.action.as_deref(), Some("iot:Publish"));
    assert_eq!(publish.client_id.as_deref(), Some("narrow1"));
    let subscribe = find("policy", "topicfilter/bad/s");
    assert_eq!(subscribe.action.as_deref(), Some("iot:Subscribe"));
    let payload = find("limit", "ok/big");
    assert_eq!(payload.action.as_deref(), Some("PUBLISH"));
    assert_eq!(payload.client_id.as_deref(), Some("narrow1"));
    assert!(
        payload
            .decided_by
            .as_deref()
            .unwrap()
            .contains("(aws profile)"),
        "{payload:#?}"
    );
    let violation = recent
        .iter()
        .find(|r| r.kind.as_str() == "protocol")
        .unwrap_or_else(|| panic!("{recent:#?}"));
    assert_eq!(violation.client_id.as_deref(), Some("raw"));
    assert!(violation.decided_by.is_some(), "{violation:#?}");

    // Each record stays small: no list of the client's cipher suites in every line.
    let log = std::fs::read_to_string(dir.path().join(refusals::FILE_NAME)).unwrap();
    for line in log.lines() {
        assert!(line.len() < 700, "{} bytes: {line}", line.len());
    }

    // And each is explained by `tether doctor recent`.
    let out = doctor_recent(&server, &["--limit", "50"]);
    let said = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{said}");
    for needle in [
        "refused (policy)",
        "refused (no_policy)",
        "refused (limit)",
        "refused (protocol)",
        "iot:Connect on arn:aws:iot:us-east-1:123456789012:client/other",
        "decided by IMPLICIT_DENY",
        "client id \"narrow1\"",
        "attach a policy to the certificate",
        "stay within the limit",
    ] {
        assert!(said.contains(needle), "{needle:?} missing from:\n{said}");
    }
}

/// The case this project started from: an ESP8266 on NONOS libssl (TLS 1.1 at most, RSA-CBC and
/// RC4 suites, no extensions), played by tlslite-ng restricted to that offer. AWS IoT Core
/// answers its ClientHello with fatal alert 40 (the device logs `Error: SSL error 40`), and so
/// must `tether serve`, under every policy; the server's explanation stays the version refusal.
#[test]
fn the_nonos_libssl_hello_gets_alert_40_as_from_aws() {
    for policy in tls::policy::POLICIES {
        let (_dir, server) = start(&["--tls-policy", policy.name]);
        let addr = server.addr("mqtts");
        let file = |name: &str| server.demo_file(name).display().to_string();
        let out = Command::new(crate::support::venv_bin().join("python"))
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../tests/python/nonos_axtls.py"
            ))
            .args([addr.ip().to_string(), addr.port().to_string()])
            .args([
                file("root-ca.pem"),
                file("certificate.pem.crt"),
                file("private.pem.key"),
            ])
            .output()
            .unwrap();
        let (stdout, stderr) = stdout_stderr(&out);
        assert!(out.status.success(), "{stdout}{stderr}");
        let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(result["handshake"], "alert", "{}: {stdout}", policy.name);
        assert_eq!(result["alert"], 40, "{}: {stdout}", policy.name);
        let line = server.wait_for_log("refused", LOG_WAIT).unwrap();
        let required = if policy.min_version == tls::ProtocolVersion::TLS13 {
            "TLS 1.3"
        } else {
            "TLS 1.2"
        };
        assert!(
            line.contains(&format!(
                "client offered TLS 1.1 at most; policy {} requires {required} (alert 40 \
                 handshake_failure)",
                policy.name
            )),
            "{line}"
        );
        assert!(
            line.contains("client offered TLS 1.1/TLS 1.0 with suites AES128-SHA, AES256-SHA, RC4-SHA, RC4-MD5; no SNI; no ALPN"),
            "{line}"
        );
    }
}
