//! `tether qualify` against reference devices that pass or fail its tests on purpose, all real
//! clients: mosquitto_pub with --cafile (checks the server's chain, host name and dates),
//! mosquitto_pub --insecure (skips the host name check only), the AWS IoT Device SDK v2
//! (awsiotsdk) and paho-mqtt with certificate checks turned off. Each run starts the endpoint on
//! 127.0.0.1 port 0, starts the device once per `qualify waiting` line, and asserts every
//! verdict line, the exit code and the JUnit, JSON and text reports (JUnit read by Python's
//! ElementTree, as a CI consumer reads it).

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::support::{Subscriber, lossy, tether, venv_bin};

mod qualification_list;
mod services;

/// A device: one connection attempt at `port`, given the demo device's files, started in the
/// background.
type Device<'a> = &'a dyn Fn(u16, &Path) -> Child;

/// The tests a device answers with one connection each.
const CONNECTION_TESTS: [&str; 5] = [
    "TLS_Connect",
    "TLS_Incorrect_Subject_Name_Server_Cert",
    "TLS_Unsecure_Server_Cert",
    "TLS_Expired_Server_Cert",
    "MQTT_Connect",
];

/// Runs `tether qualify` on a fresh data directory for its demo device with `tests`, starting
/// `device` for each test; returns the verdict lines, the exit code and the directory holding
/// `data` and `reports`.
fn qualify(tests: &[&str], device: Device<'_>) -> (Vec<(String, String)>, i32, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cert = data.join("devices/demo-device/certificate.pem.crt");
    let reports = dir.path().join("reports");
    let (verdicts, code) = qualify_in(&data, &cert, &reports, tests, "30", "2", device);
    (verdicts, code, dir)
}

/// Runs `tether qualify` on `data` for the device certificate `cert`, writing `reports`.
fn qualify_in(
    data: &Path,
    cert: &Path,
    reports: &Path,
    tests: &[&str],
    timeout: &str,
    handshake_timeout: &str,
    device: Device<'_>,
) -> (Vec<(String, String)>, i32) {
    let mut command = Command::new("stdbuf");
    command
        .args(["-oL"])
        .arg(tether())
        .arg("qualify")
        .arg("--data-dir")
        .arg(data)
        .arg("--device-cert")
        .arg(cert)
        .args(["--bind", "127.0.0.1", "--port", "0", "--timeout", timeout])
        // s2n (awsiotsdk) holds a refused handshake open without an alert for 10 s or more
        // ("blinding"): two seconds of silence already show it did not accept the certificate.
        .args(["--handshake-timeout", handshake_timeout])
        .arg("--report-dir")
        .arg(reports);
    for test in tests {
        command.args(["--test", test]);
    }
    let (mut endpoint, ready) = Subscriber::start_reading(command, "tether qualify ready");
    let port: u16 = ready
        .split_once(" port=")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in the ready line: {ready}"));
    let files = data.join("devices/demo-device");
    let mut verdicts = Vec::new();
    for _ in tests {
        let waiting = endpoint.read_until("qualify waiting test=");
        assert!(!waiting.contains("qualify verdict"), "{waiting}");
        let attempt = device(port, &files);
        let seen = endpoint.read_until("qualify verdict test=");
        // The verdict is in: a device still waiting for a CONNACK it will not get, or holding
        // a refused handshake open, is done with.
        let mut attempt = attempt;
        let _ = attempt.kill();
        let attempt = attempt.wait_with_output().unwrap();
        let line = seen.lines().last().unwrap();
        let (test, rest) = line
            .trim_start_matches("qualify verdict test=")
            .split_once(" outcome=")
            .unwrap();
        let outcome = rest.split(':').next().unwrap();
        eprintln!(
            "{line}\n  device: {}{}",
            lossy(&attempt.stdout),
            lossy(&attempt.stderr)
        );
        verdicts.push((test.to_owned(), outcome.to_owned()));
    }
    let (code, rest, err) = endpoint.finish();
    assert!(rest.contains("reports written to"), "{rest}\n{err}");
    (verdicts, code.unwrap())
}

fn mosquitto(port: u16, files: &Path, extra: &[&str]) -> Child {
    Command::new("mosquitto_pub")
        .args(["-h", "localhost", "-p", &port.to_string()])
        .arg("--cafile")
        .arg(files.join("root-ca.pem"))
        .arg("--cert")
        .arg(files.join("certificate.pem.crt"))
        .arg("--key")
        .arg(files.join("private.pem.key"))
        .args(["-t", "qualify/test", "-m", "hello"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn python(port: u16, files: &Path, client: &str, client_id: &str, extra: &[&str]) -> Child {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/qualify_device.py");
    Command::new(venv_bin().join("python"))
        .arg(script)
        .arg(client)
        .arg(format!("localhost:{port}"))
        .arg(files.join("certificate.pem.crt"))
        .arg(files.join("private.pem.key"))
        .arg(files.join("root-ca.pem"))
        .arg(client_id)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The JUnit report as Python's ElementTree reads it: (suite tests, suite failures, and per
/// testcase its name and failure message or "").
fn junit(reports: &Path) -> (String, String, Vec<(String, String)>) {
    let code = "import sys, json, xml.etree.ElementTree as ET\n\
        suite = ET.parse(sys.argv[1]).getroot().find('testsuite')\n\
        cases = [[c.get('name'), (c.find('failure').get('message') if c.find('failure') is not None else '')] for c in suite.findall('testcase')]\n\
        print(json.dumps([suite.get('tests'), suite.get('failures'), cases]))";
    let out = Command::new(venv_bin().join("python"))
        .args(["-c", code])
        .arg(reports.join("junit.xml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn json(reports: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(reports.join("report.json")).unwrap()).unwrap()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(t, o)| ((*t).to_owned(), (*o).to_owned()))
        .collect()
}

#[test]
fn list_prints_every_test_id() {
    let out = crate::support::run(&["qualify", "--list"]);
    assert!(out.status.success());
    let ids: Vec<String> = lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        [
            "TLS_Connect",
            "TLS_Incorrect_Subject_Name_Server_Cert",
            "TLS_Unsecure_Server_Cert",
            "TLS_Expired_Server_Cert",
            "TLS_Support_AWS_IoT_Cipher_Suites",
            "TLS_Receive_Maximum_Size_Fragments",
            "TLS_Large_Size_Server_Cert",
            "MQTT_Connect",
            "MQTT_Publish",
            "MQTT_Subscribe",
            "MQTT_Persistent_Session_Happy_Case",
            "MQTT_Expired_Persistent_Session",
            "MQTT_Client_Puback_Qos1",
            "MQTT_Publish_Retry_No_Puback",
            "MQTT_Subscribe_Retry_No_Suback",
            "MQTT_Connect_Exponential_Backoff_Retries",
            "MQTT_No_Ack_PingResp",
            "Shadow_Publish_Reported_State",
            "Shadow_Update_Reported_State",
            "Job_Execution"
        ]
    );
    let out = crate::support::run(&["qualify", "--list", "--suite", "aws-qualification"]);
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let ids: Vec<String> = lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        [
            "TLS_Connect",
            "TLS_Incorrect_Subject_Name_Server_Cert",
            "TLS_Unsecure_Server_Cert",
            "TLS_Support_AWS_IoT_Cipher_Suites",
            "TLS_Receive_Maximum_Size_Fragments",
            "TLS_Expired_Server_Cert",
            "TLS_Large_Size_Server_Cert",
            "MQTT_Connect",
            "MQTT_Subscribe",
            "MQTT_Publish",
            "MQTT_Connect_Exponential_Backoff_Retries"
        ]
    );
    let out = crate::support::run(&["qualify", "--list", "--suite", "dqp"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(lossy(&out.stderr).contains("aws-qualification"));
    let out = crate::support::run(&["qualify", "--device-cert", "x.pem", "--test", "TLS_Nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        lossy(&out.stderr).contains("tether qualify --list"),
        "{}",
        lossy(&out.stderr)
    );
}

#[test]
fn mosquitto_checking_names_passes_every_test() {
    let device = |port, files: &Path| mosquitto(port, files, &["-i", "demo-device"]);
    let (verdicts, code, dir) = qualify(&CONNECTION_TESTS, &device);
    assert_eq!(
        verdicts,
        pairs(&[
            ("TLS_Connect", "PASS"),
            ("TLS_Incorrect_Subject_Name_Server_Cert", "PASS"),
            ("TLS_Unsecure_Server_Cert", "PASS"),
            ("TLS_Expired_Server_Cert", "PASS"),
            ("MQTT_Connect", "PASS"),
        ])
    );
    assert_eq!(code, 0);
    let reports = dir.path().join("reports");
    let (tests, failures, cases) = junit(&reports);
    assert_eq!((tests.as_str(), failures.as_str()), ("5", "0"));
    assert!(
        cases.iter().all(|(_, failure)| failure.is_empty()),
        "{cases:?}"
    );
    assert_eq!(json(&reports)["passed"], true);
}

#[test]
fn mosquitto_insecure_fails_the_wrong_name_test_and_a_short_keep_alive_warns() {
    // --insecure skips only the host name check: the chain and dates are still verified.
    let device = |port, files: &Path| {
        mosquitto(
            port,
            files,
            &["--insecure", "-i", "not-the-thing", "-k", "5"],
        )
    };
    let tests = [
        "TLS_Incorrect_Subject_Name_Server_Cert",
        "TLS_Unsecure_Server_Cert",
        "MQTT_Connect",
    ];
    let (verdicts, code, dir) = qualify(&tests, &device);
    assert_eq!(
        verdicts,
        pairs(&[
            ("TLS_Incorrect_Subject_Name_Server_Cert", "FAIL"),
            ("TLS_Unsecure_Server_Cert", "PASS"),
            ("MQTT_Connect", "PASS_WITH_WARNINGS"),
        ])
    );
    assert_eq!(code, 1);
    let reports = dir.path().join("reports");
    let (total, failures, cases) = junit(&reports);
    assert_eq!((total.as_str(), failures.as_str()), ("3", "1"));
    assert_eq!(cases[0].0, "TLS_Incorrect_Subject_Name_Server_Cert");
    assert!(
        cases[0]
            .1
            .contains("accepted a server certificate for the wrong host name"),
        "{cases:?}"
    );
    assert!(cases[1].1.is_empty() && cases[2].1.is_empty(), "{cases:?}");
    let report = json(&reports);
    assert_eq!(report["passed"], false);
    assert_eq!(report["verdicts"][2]["outcome"], "PASS_WITH_WARNINGS");
    let summary = std::fs::read_to_string(reports.join("summary.txt")).unwrap();
    for needle in [
        "the device: accepted a server certificate for the wrong host name",
        "AWS expects: the device closes the connection when the server certificate's names",
        "fix: enable host name verification",
        "mosquitto without --insecure",
        "keep-alive 5 s is below AWS IoT's 30 s minimum",
        "use the thing name as the client id",
        "2 of 3 tests passed",
    ] {
        assert!(summary.contains(needle), "{needle:?} not in:\n{summary}");
    }
}

#[test]
fn awsiotsdk_passes_every_test() {
    let device = |port, files: &Path| python(port, files, "awsiotsdk", "demo-device", &[]);
    let (verdicts, code, _dir) = qualify(&CONNECTION_TESTS, &device);
    assert!(
        verdicts.iter().all(|(_, outcome)| outcome == "PASS"),
        "{verdicts:?}"
    );
    assert_eq!(verdicts.len(), 5);
    assert_eq!(code, 0);
}

#[test]
fn paho_without_certificate_checks_fails_the_untrusted_and_expired_tests() {
    let device = |port, files: &Path| python(port, files, "paho", "demo-device", &["--insecure"]);
    let tests = [
        "TLS_Connect",
        "TLS_Unsecure_Server_Cert",
        "TLS_Expired_Server_Cert",
    ];
    let (verdicts, code, dir) = qualify(&tests, &device);
    assert_eq!(
        verdicts,
        pairs(&[
            ("TLS_Connect", "PASS"),
            ("TLS_Unsecure_Server_Cert", "FAIL"),
            ("TLS_Expired_Server_Cert", "FAIL"),
        ])
    );
    assert_eq!(code, 1);
    let (_, failures, cases) = junit(&dir.path().join("reports"));
    assert_eq!(failures, "2");
    assert!(
        cases[1].1.contains("signed by a CA it was not given"),
        "{cases:?}"
    );
    assert!(
        cases[2].1.contains("an expired server certificate"),
        "{cases:?}"
    );
}

#[test]
fn a_policy_that_wants_the_thing_name_fails_another_client_id() {
    // A device registered through the API as AWS's guides register one: a thing, a certificate
    // and a policy that lets it connect only as its thing.
    let (dir, server) = crate::support::start(&[]);
    let thing = "qualify-sensor";
    crate::support::aws(&server, &["iot", "create-thing", "--thing-name", thing]);
    let keys = crate::support::aws(
        &server,
        &["iot", "create-keys-and-certificate", "--set-as-active"],
    );
    let files = dir.path().join("sensor");
    std::fs::create_dir_all(&files).unwrap();
    let pem = keys["certificatePem"].as_str().unwrap();
    std::fs::write(files.join("certificate.pem.crt"), pem).unwrap();
    let key = keys["keyPair"]["PrivateKey"].as_str().unwrap();
    std::fs::write(files.join("private.pem.key"), key).unwrap();
    std::fs::copy(dir.path().join("ca/root-ca.pem"), files.join("root-ca.pem")).unwrap();
    let arn = keys["certificateArn"].as_str().unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"}]}"#;
    crate::support::aws(
        &server,
        &[
            "iot",
            "create-policy",
            "--policy-name",
            "thing-only",
            "--policy-document",
            policy,
        ],
    );
    crate::support::aws(
        &server,
        &[
            "iot",
            "attach-policy",
            "--policy-name",
            "thing-only",
            "--target",
            arn,
        ],
    );
    crate::support::aws(
        &server,
        &[
            "iot",
            "attach-thing-principal",
            "--thing-name",
            thing,
            "--principal",
            arn,
        ],
    );
    // One server per data directory: serve stops before qualify takes the directory.
    drop(server);

    let attempts = std::cell::Cell::new(0);
    let device = |port, _: &Path| {
        attempts.set(attempts.get() + 1);
        let id = if attempts.get() == 1 {
            "not-the-thing"
        } else {
            thing
        };
        mosquitto(port, &files, &["-i", id])
    };
    let reports = dir.path().join("reports");
    let (verdicts, code) = qualify_in(
        dir.path(),
        &files.join("certificate.pem.crt"),
        &reports,
        &["MQTT_Connect", "MQTT_Connect"],
        "30",
        "2",
        &device,
    );
    assert_eq!(
        verdicts,
        pairs(&[("MQTT_Connect", "FAIL"), ("MQTT_Connect", "PASS")])
    );
    assert_eq!(code, 1);
    let report = json(&reports);
    let fix = report["verdicts"][0]["fix"].as_str().unwrap();
    assert!(
        fix.contains("connect with the thing name as the client id (qualify-sensor)"),
        "{fix}"
    );
    assert!(
        report["verdicts"][0]["device_did"]
            .as_str()
            .unwrap()
            .contains("client id \"not-the-thing\""),
        "{report}"
    );
}

fn retrying_publisher(port: u16, files: &Path, extra: &[&str]) -> Child {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/qualify_publish_retry.py");
    Command::new(venv_bin().join("python"))
        .arg(script)
        .arg(format!("localhost:{port}"))
        .arg(files.join("certificate.pem.crt"))
        .arg(files.join("private.pem.key"))
        .arg(files.join("root-ca.pem"))
        .arg("demo-device")
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_withheld_puback_needs_a_resend_with_dup_on_the_same_connection() {
    // Three devices, one attempt each: a publisher that re-sends with DUP, one that re-sends
    // without it, and mosquitto_pub -q 1, which waits for the PUBACK and never re-sends on the
    // same connection (libmosquitto re-sends only after a reconnect).
    let attempts = std::cell::Cell::new(0);
    let device = |port, files: &Path| {
        attempts.set(attempts.get() + 1);
        match attempts.get() {
            1 => retrying_publisher(port, files, &[]),
            2 => retrying_publisher(port, files, &["--no-dup"]),
            _ => mosquitto(port, files, &["-i", "demo-device", "-q", "1"]),
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let reports = dir.path().join("reports");
    let test = "MQTT_Publish_Retry_No_Puback";
    let (verdicts, code) = qualify_in(
        &data,
        &data.join("devices/demo-device/certificate.pem.crt"),
        &reports,
        &[test, test, test],
        "3",
        "2",
        &device,
    );
    assert_eq!(
        verdicts,
        pairs(&[(test, "PASS"), (test, "FAIL"), (test, "FAIL")])
    );
    assert_eq!(code, 1);
    let report = json(&reports);
    let did = |i: usize| {
        report["verdicts"][i]["device_did"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(
        did(0).starts_with("re-sent packet id 7 with DUP"),
        "{report}"
    );
    assert!(
        did(1).contains("without the DUP flag [MQTT-3.3.1-1]"),
        "{report}"
    );
    assert!(
        did(2).contains("did not finish the test within 3 s")
            && did(2).contains("packet id 1 at QoS 1"),
        "{report}"
    );
    let (_, failures, _) = junit(&reports);
    assert_eq!(failures, "2");
}

fn script(name: &str, port: u16, files: &Path, extra: &[&str]) -> Child {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/python")
        .join(name);
    Command::new(venv_bin().join("python"))
        .arg(script)
        .arg(format!("localhost:{port}"))
        .arg(files.join("certificate.pem.crt"))
        .arg(files.join("private.pem.key"))
        .arg(files.join("root-ca.pem"))
        .arg("demo-device")
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn mosquitto_sub(port: u16, files: &Path) -> Child {
    mosquitto_sub_with(port, files, &[])
}

fn mosquitto_sub_with(port: u16, files: &Path, extra: &[&str]) -> Child {
    Command::new("mosquitto_sub")
        .args(["-h", "localhost", "-p", &port.to_string()])
        .arg("--cafile")
        .arg(files.join("root-ca.pem"))
        .arg("--cert")
        .arg(files.join("certificate.pem.crt"))
        .arg("--key")
        .arg(files.join("private.pem.key"))
        .args(["-i", "demo-device", "-t", "qualify/commands", "-q", "1"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `tests` on a fresh data directory with a `timeout` and a `handshake_timeout`, starting
/// `device` for each; returns the verdicts, the exit code and the JSON report.
fn qualify_fresh(
    tests: &[&str],
    timeout: &str,
    handshake_timeout: &str,
    device: Device<'_>,
) -> (Vec<(String, String)>, i32, Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let reports = dir.path().join("reports");
    let (verdicts, code) = qualify_in(
        &data,
        &data.join("devices/demo-device/certificate.pem.crt"),
        &reports,
        tests,
        timeout,
        handshake_timeout,
        device,
    );
    let report = json(&reports);
    (verdicts, code, report, dir)
}

fn device_did(report: &Value, i: usize) -> String {
    report["verdicts"][i]["device_did"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn a_withheld_suback_needs_a_retry_with_the_same_packet_id() {
    // A subscriber that retries with the same packet id, one that retries with a new one, and
    // mosquitto_sub, which waits for the SUBACK and never re-sends the SUBSCRIBE.
    let attempts = std::cell::Cell::new(0);
    let device = |port, files: &Path| {
        attempts.set(attempts.get() + 1);
        match attempts.get() {
            1 => script("qualify_subscribe_retry.py", port, files, &[]),
            2 => script("qualify_subscribe_retry.py", port, files, &["--new-id"]),
            _ => mosquitto_sub(port, files),
        }
    };
    let test = "MQTT_Subscribe_Retry_No_Suback";
    let (verdicts, code, report, dir) = qualify_fresh(&[test, test, test], "3", "2", &device);
    assert_eq!(
        verdicts,
        pairs(&[(test, "PASS"), (test, "FAIL"), (test, "FAIL")])
    );
    assert_eq!(code, 1);
    assert!(
        device_did(&report, 0)
            .starts_with("retried the subscription to qualify/commands on the same connection")
            && device_did(&report, 0).ends_with("with packet id 9"),
        "{report}"
    );
    assert!(
        device_did(&report, 1).contains("with packet id 10, not the withheld packet id 9"),
        "{report}"
    );
    assert!(
        device_did(&report, 2).contains("did not finish the test within 3 s")
            && device_did(&report, 2).contains("to qualify/commands; its SUBACK is withheld"),
        "{report}"
    );
    let fix = report["verdicts"][2]["fix"].as_str().unwrap();
    assert!(fix.contains("re-send it with the same packet id"), "{fix}");
    let (_, failures, cases) = junit(&dir.path().join("reports"));
    assert_eq!(failures, "2");
    assert!(cases[0].1.is_empty(), "{cases:?}");
}

#[test]
fn connect_backoff_with_jitter_passes_and_strict_doubling_warns() {
    // The scripted client waits 0.3 s for a CONNACK, then 0.15 s × 2^n (jittered, seeded) before
    // it reconnects: about 5 s per run.
    let attempts = std::cell::Cell::new(0);
    let device = |port, files: &Path| {
        attempts.set(attempts.get() + 1);
        let extra: &[&str] = if attempts.get() == 1 {
            &[]
        } else {
            &["--no-jitter"]
        };
        script("qualify_backoff.py", port, files, extra)
    };
    let test = "MQTT_Connect_Exponential_Backoff_Retries";
    let (verdicts, code, report, _dir) = qualify_fresh(&[test, test], "30", "2", &device);
    assert_eq!(
        verdicts,
        pairs(&[(test, "PASS"), (test, "PASS_WITH_WARNINGS")])
    );
    assert_eq!(code, 0);
    assert!(
        device_did(&report, 0).ends_with("exponential back-off with jitter"),
        "{report}"
    );
    assert!(
        device_did(&report, 1).ends_with("exponential, but without jitter"),
        "{report}"
    );
    let fix = report["verdicts"][1]["fix"].as_str().unwrap();
    assert!(fix.contains("add random jitter"), "{fix}");
}

#[test]
fn a_fixed_reconnect_delay_fails_the_backoff_test() {
    // paho-mqtt reconnecting after a fixed 1 s (reconnect_delay_set with equal bounds). It does
    // not time out waiting for a CONNACK: the endpoint closes each withheld attempt after the
    // 1 s step timeout. About 11 s.
    let device = |port, files: &Path| {
        script(
            "qualify_backoff.py",
            port,
            files,
            &["--paho-fixed-delay", "1"],
        )
    };
    let test = "MQTT_Connect_Exponential_Backoff_Retries";
    let (verdicts, code, report, dir) = qualify_fresh(&[test], "20", "1", &device);
    assert_eq!(verdicts, pairs(&[(test, "FAIL")]));
    assert_eq!(code, 1);
    let did = device_did(&report, 0);
    assert!(
        did.contains("the delay does not grow exponentially"),
        "{did}"
    );
    // Five delays of about a second each.
    let delays: Vec<f64> = did
        .trim_start_matches("waited ")
        .split(" s between")
        .next()
        .unwrap()
        .split(", ")
        .map(|d| d.parse().unwrap())
        .collect();
    assert_eq!(delays.len(), 5, "{did}");
    assert!(delays.iter().all(|d| (0.8..1.6).contains(d)), "{did}");
    let (_, failures, cases) = junit(&dir.path().join("reports"));
    assert_eq!(failures, "1");
    assert!(cases[0].1.contains("does not grow"), "{cases:?}");
    let summary = std::fs::read_to_string(dir.path().join("reports/summary.txt")).unwrap();
    assert!(
        summary.contains("fix: wait longer after each failed connection attempt"),
        "{summary}"
    );
}

#[test]
fn mosquitto_sub_giving_up_after_a_lost_first_connection_fails_the_backoff_test() {
    // libmosquitto's client exits when its first connection is lost before CONNACK: it never
    // reconnects, and the test runs out of time.
    let test = "MQTT_Connect_Exponential_Backoff_Retries";
    let (verdicts, code, report, _dir) = qualify_fresh(&[test], "4", "1", &|port, files: &Path| {
        mosquitto_sub(port, files)
    });
    assert_eq!(verdicts, pairs(&[(test, "FAIL")]));
    assert_eq!(code, 1);
    let did = device_did(&report, 0);
    assert!(
        did.contains("did not finish the test within 4 s")
            && did.contains("CONNECT 1 of 5: CONNACK withheld"),
        "{did}"
    );
    assert!(
        report["verdicts"][0]["fix"]
            .as_str()
            .unwrap()
            .contains("doubling the delay up to a cap"),
        "{report}"
    );
}

#[test]
fn devices_that_close_on_a_missing_pingresp_pass_the_keep_alive_test() {
    // mosquitto_sub with libmosquitto's minimum keep-alive of 5 s pings after 5 s and closes
    // when no PINGRESP came 5 s later (about 11 s); the scripted client pings every second.
    let attempts = std::cell::Cell::new(0);
    let device = |port, files: &Path| {
        attempts.set(attempts.get() + 1);
        if attempts.get() == 1 {
            mosquitto_sub_with(port, files, &["-k", "5"])
        } else {
            script("qualify_keepalive.py", port, files, &[])
        }
    };
    let test = "MQTT_No_Ack_PingResp";
    let (verdicts, code, report, _dir) = qualify_fresh(&[test, test], "16", "2", &device);
    assert_eq!(verdicts, pairs(&[(test, "PASS"), (test, "PASS")]));
    assert_eq!(code, 0);
    for (i, keep_alive) in [(0, 5), (1, 1)] {
        let did = device_did(&report, i);
        assert!(
            did.starts_with("closed the connection")
                && did.contains("after its first unanswered PINGREQ")
                && did.contains(&format!("keep-alive {keep_alive} s)")),
            "{did}"
        );
    }
}

#[test]
fn a_device_that_keeps_pinging_without_pingresp_fails_the_keep_alive_test() {
    let device =
        |port, files: &Path| script("qualify_keepalive.py", port, files, &["--ignore-pingresp"]);
    let test = "MQTT_No_Ack_PingResp";
    let (verdicts, code, report, dir) = qualify_fresh(&[test], "4", "2", &device);
    assert_eq!(verdicts, pairs(&[(test, "FAIL")]));
    assert_eq!(code, 1);
    let did = device_did(&report, 0);
    assert!(
        did.contains("did not finish the test within 4 s") && did.contains("PINGRESP withheld"),
        "{did}"
    );
    let (_, failures, cases) = junit(&dir.path().join("reports"));
    assert_eq!(failures, "1");
    assert!(cases[0].1.contains("PINGRESP withheld"), "{cases:?}");
    let summary = std::fs::read_to_string(dir.path().join("reports/summary.txt")).unwrap();
    assert!(
        summary.contains("fix: close the connection and reconnect when no PINGRESP arrives"),
        "{summary}"
    );
}
