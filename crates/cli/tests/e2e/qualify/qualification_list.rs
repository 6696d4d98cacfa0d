//! The tests of Device Advisor's current qualification list added after the first ones, each with
//! a reference device that passes and one that fails on purpose: MQTT_Publish and MQTT_Subscribe
//! (mosquitto_pub, mosquitto_sub), TLS_Support_AWS_IoT_Cipher_Suites (paho with fixed TLS 1.2
//! suite lists, mosquitto_pub), TLS_Large_Size_Server_Cert and
//! TLS_Receive_Maximum_Size_Fragments (mosquitto, the AWS IoT Device SDK, a scripted device with
//! a 4 KB TLS buffer), MQTT_Persistent_Session_Happy_Case and MQTT_Expired_Persistent_Session
//! (paho with clean session 0) and MQTT_Client_Puback_Qos1 (mosquitto_sub, paho never
//! acknowledging). The helpers are the parent module's.

use std::path::Path;

use super::{
    device_did, junit, mosquitto, mosquitto_sub, mosquitto_sub_with, pairs, python, qualify_fresh,
    script,
};

#[test]
fn publish_and_subscribe_pass_for_devices_that_do_them_and_fail_for_those_that_do_not() {
    // mosquitto_pub publishes at QoS 1 (and never subscribes); mosquitto_sub subscribes at
    // QoS 1, takes the endpoint's message and acknowledges it (and never publishes).
    let attempts = std::cell::Cell::new(0);
    let device = |port, files: &Path| {
        attempts.set(attempts.get() + 1);
        match attempts.get() {
            1 => mosquitto(port, files, &["-i", "demo-device", "-q", "1"]),
            2 | 3 => mosquitto_sub_with(port, files, &["-C", "1"]),
            _ => mosquitto(port, files, &["-i", "demo-device", "-q", "1"]),
        }
    };
    let tests = [
        "MQTT_Publish",
        "MQTT_Publish",
        "MQTT_Subscribe",
        "MQTT_Subscribe",
    ];
    let (verdicts, code, report, dir) = qualify_fresh(&tests, "3", "2", &device);
    assert_eq!(
        verdicts,
        pairs(&[
            ("MQTT_Publish", "PASS"),
            ("MQTT_Publish", "FAIL"),
            ("MQTT_Subscribe", "PASS"),
            ("MQTT_Subscribe", "FAIL"),
        ])
    );
    assert_eq!(code, 1);
    assert_eq!(
        device_did(&report, 0),
        "published 5 bytes at QoS 1 on qualify/test"
    );
    assert!(
        device_did(&report, 1).contains("waiting for a PUBLISH"),
        "{report}"
    );
    assert!(
        device_did(&report, 2).starts_with(
            "subscribed, received the QoS 1 message on qualify/commands and acknowledged it"
        ),
        "{report}"
    );
    assert!(
        device_did(&report, 3).contains("did not finish the test within 3 s"),
        "{report}"
    );
    let fix = report["verdicts"][3]["fix"].as_str().unwrap();
    assert!(fix.contains("MQTT_Subscribe"), "{fix}");
    let (tests, failures, cases) = junit(&dir.path().join("reports"));
    assert_eq!((tests.as_str(), failures.as_str()), ("4", "2"));
    assert!(cases[0].1.is_empty() && !cases[1].1.is_empty(), "{cases:?}");
}

#[test]
fn cipher_suites_are_judged_against_every_aws_policy() {
    // paho offering two recommended TLS 1.2 suites and nothing else; paho offering only
    // ChaCha20 suites, which no AWS IoT policy negotiates; mosquitto_pub with OpenSSL's
    // default list, which has recommended suites and some AWS does not support.
    let attempts = std::cell::Cell::new(0);
    let device = |port, files: &Path| {
        attempts.set(attempts.get() + 1);
        let ciphers = match attempts.get() {
            1 => "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
            2 => "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
            _ => return mosquitto(port, files, &["-i", "demo-device"]),
        };
        python(
            port,
            files,
            "paho",
            "demo-device",
            &["--tls12-ciphers", ciphers],
        )
    };
    let test = "TLS_Support_AWS_IoT_Cipher_Suites";
    let (verdicts, code, report, _dir) = qualify_fresh(&[test, test, test], "10", "2", &device);
    assert_eq!(
        verdicts,
        pairs(&[(test, "PASS"), (test, "FAIL"), (test, "PASS_WITH_WARNINGS")])
    );
    assert_eq!(code, 1);
    let did = device_did(&report, 0);
    assert!(
        did.starts_with("offered TLS 1.2/TLS 1.1/TLS 1.0 with 2 cipher suites")
            && did.contains("policies that refuse it: IoTSecurityPolicy_TLS13_1_3_2022_10"),
        "{did}"
    );
    let did = device_did(&report, 1);
    assert!(did.contains("policies that accept it: none"), "{did}");
    let fix = report["verdicts"][2]["fix"].as_str().unwrap();
    assert!(fix.contains("never negotiates"), "{fix}");
}

#[test]
fn a_large_certificate_and_a_full_record_need_a_16_kb_tls_buffer() {
    // mosquitto (OpenSSL) and the AWS IoT Device SDK take an 8 KB certificate; a scripted
    // device with a 4 KB TLS input buffer refuses it. mosquitto_sub and the scripted device
    // with a 16 KB buffer take a PUBLISH that fills a 16 KB record; with 4 KB it cannot.
    let attempts = std::cell::Cell::new(0);
    let device = |port, files: &Path| {
        attempts.set(attempts.get() + 1);
        match attempts.get() {
            1 => mosquitto(port, files, &["-i", "demo-device"]),
            2 => python(port, files, "awsiotsdk", "demo-device", &[]),
            3 => script("qualify_small_buffer.py", port, files, &[]),
            4 => mosquitto_sub_with(port, files, &["-C", "1", "-F", "%l bytes"]),
            5 => script(
                "qualify_small_buffer.py",
                port,
                files,
                &["--buffer", "16384"],
            ),
            _ => script("qualify_small_buffer.py", port, files, &[]),
        }
    };
    let (large, fragments) = (
        "TLS_Large_Size_Server_Cert",
        "TLS_Receive_Maximum_Size_Fragments",
    );
    let tests = [large, large, large, fragments, fragments, fragments];
    let (verdicts, code, report, _dir) = qualify_fresh(&tests, "10", "2", &device);
    assert_eq!(
        verdicts,
        pairs(&[
            (large, "PASS"),
            (large, "PASS"),
            (large, "FAIL"),
            (fragments, "PASS"),
            (fragments, "PASS"),
            (fragments, "FAIL"),
        ])
    );
    assert_eq!(code, 1);
    assert!(
        device_did(&report, 0).starts_with("completed the handshake with a server certificate of"),
        "{report}"
    );
    assert!(
        device_did(&report, 2).starts_with("refused a server certificate of 8 KB or more"),
        "{report}"
    );
    assert!(
        device_did(&report, 3).contains("a PUBLISH of 16384 bytes, one full TLS record,"),
        "{report}"
    );
    assert!(
        device_did(&report, 5).starts_with("closed the connection after a PUBLISH of 16384 bytes"),
        "{report}"
    );
    let fix = report["verdicts"][5]["fix"].as_str().unwrap();
    assert!(fix.contains("MBEDTLS_SSL_IN_CONTENT_LEN"), "{fix}");
}

#[test]
fn a_persistent_session_is_resumed_without_subscribing_again() {
    // paho with clean session 0 that subscribes only when the session is not present passes;
    // the same client subscribing on every connection fails, and mosquitto_sub (clean session
    // 1) fails at once.
    let attempts = std::cell::Cell::new(0);
    let device = |port, files: &Path| {
        attempts.set(attempts.get() + 1);
        match attempts.get() {
            1 => script("qualify_persistent.py", port, files, &[]),
            2 => script("qualify_persistent.py", port, files, &["--resubscribe"]),
            _ => mosquitto_sub(port, files),
        }
    };
    let test = "MQTT_Persistent_Session_Happy_Case";
    let (verdicts, code, report, _dir) = qualify_fresh(&[test, test, test], "15", "2", &device);
    assert_eq!(
        verdicts,
        pairs(&[(test, "PASS"), (test, "FAIL"), (test, "FAIL")])
    );
    assert_eq!(code, 1);
    assert!(
        device_did(&report, 0)
            .starts_with("resumed its session (clean session 0, session present 1)"),
        "{report}"
    );
    assert!(
        device_did(&report, 1).contains("subscribed again to qualify/commands"),
        "{report}"
    );
    assert_eq!(
        device_did(&report, 2),
        "connected with clean session 1, so there is no session to resume"
    );
    let fix = report["verdicts"][2]["fix"].as_str().unwrap();
    assert!(fix.contains("session present"), "{fix}");
}

#[test]
fn an_expired_session_needs_a_new_subscription() {
    // paho with clean session 0 subscribing whenever the session is not present passes; the same
    // client trusting its session (subscribing on its first connection only) fails.
    let attempts = std::cell::Cell::new(0);
    let device = |port, files: &Path| {
        attempts.set(attempts.get() + 1);
        match attempts.get() {
            1 => script("qualify_persistent.py", port, files, &[]),
            _ => script("qualify_persistent.py", port, files, &["--trust-session"]),
        }
    };
    let test = "MQTT_Expired_Persistent_Session";
    let (verdicts, code, report, dir) = qualify_fresh(&[test, test], "6", "2", &device);
    assert_eq!(verdicts, pairs(&[(test, "PASS"), (test, "FAIL")]));
    assert_eq!(code, 1);
    assert_eq!(
        device_did(&report, 0),
        "reconnected with clean session 0 and, told session present 0, subscribed again to \
         qualify/commands"
    );
    let fix = report["verdicts"][1]["fix"].as_str().unwrap();
    assert!(
        fix.contains("when CONNACK says session present 0, subscribe again"),
        "{fix}"
    );
    let (_, failures, cases) = junit(&dir.path().join("reports"));
    assert_eq!(failures, "1");
    assert!(cases[1].1.contains("session present 0"), "{:?}", cases[1]);
}

#[test]
fn a_qos_1_message_needs_a_puback() {
    // mosquitto_sub at QoS 1 acknowledges; at QoS 0 there is nothing to acknowledge, and paho
    // with manual acknowledgements never given does not acknowledge.
    let attempts = std::cell::Cell::new(0);
    let device = |port, files: &Path| {
        attempts.set(attempts.get() + 1);
        match attempts.get() {
            1 => mosquitto_sub_with(port, files, &["-C", "1"]),
            2 => mosquitto_sub_with(port, files, &["-C", "1", "-q", "0"]),
            _ => script("qualify_persistent.py", port, files, &["--no-ack"]),
        }
    };
    let test = "MQTT_Client_Puback_Qos1";
    let (verdicts, code, report, _dir) = qualify_fresh(&[test, test, test], "4", "2", &device);
    assert_eq!(
        verdicts,
        pairs(&[(test, "PASS"), (test, "FAIL"), (test, "FAIL")])
    );
    assert_eq!(code, 1);
    assert!(
        device_did(&report, 0).contains("acknowledged it (packet id 1)"),
        "{report}"
    );
    assert!(
        device_did(&report, 1).starts_with("subscribed to qualify/commands at QoS 0"),
        "{report}"
    );
    assert!(
        device_did(&report, 2).starts_with("did not finish the test within 4 s"),
        "{report}"
    );
    let fix = report["verdicts"][2]["fix"].as_str().unwrap();
    assert!(fix.contains("send PUBACK"), "{fix}");
}
