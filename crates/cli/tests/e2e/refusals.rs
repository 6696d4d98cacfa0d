//! End-to-end tests of what a new user meets when tether serve says no: certificates outside
//! their validity period (refused at the handshake, a live connection closed when its
//! certificate expires), and every refusal kept for `tether doctor recent` and explained there.
//! Real clients (mosquitto_pub/sub, the AWS CLI) against the real binary; waits are for lines,
//! exits or log lines with deadlines.

use std::process::Command;

use test_support::process::Tether;

use crate::support::{
    DatedDevice, LOG_WAIT, Subscriber, aws, mosquitto_pub, start, stdout_stderr, tether,
    tether_pub, text, unix_now, with,
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
        .wait_for_log("the certificate expired while it was connected", LOG_WAIT)
        .unwrap();

    // A new connection with the expired certificate is refused at the handshake, by both
    // clients alike, and named as expired (not as unregistered).
    let refused = mosquitto_pub(&args, &["-t", "t", "-m", "m", "-q", "1"]);
    assert!(!refused.status.success(), "{}", text(&refused));
    let line = server.wait_for_log("expired at", LOG_WAIT).unwrap();
    assert!(line.contains(&short.id), "{line}");
    let ours = tether_pub(&args, &["-t", "t", "-m", "m", "-q", "1"]);
    let (_, err) = stdout_stderr(&ours);
    assert!(!ours.status.success(), "{err}");
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
        .map(|r| (r.kind.as_str(), r.certificate_id.as_deref()))
        .collect();
    let expired = ("certificate_expired", Some(short.id.as_str()));
    assert_eq!(
        kinds,
        [
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
