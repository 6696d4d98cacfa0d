//! Lifecycle and registry events end to end: a `mosquitto_sub` on `$aws/events/#` sees what AWS
//! IoT Core publishes when clients connect and go — a clean disconnect (mosquitto_pub), a
//! keep-alive timeout, a takeover by a second connection with the same client id, a connection
//! that just drops, and the subscriptions a client makes — with AWS's fields and reasons; and,
//! once enabled with the AWS CLI, the registry's thing events.

use std::io::{BufRead, BufReader, Write};
use std::process::ChildStdout;

use serde_json::Value;
use test_support::notation::parse as bytes;

use crate::support::{aws, demo_tls, mosquitto_pub, read_packet, start, subscriber};

/// The next event the watcher printed (`-v`: a topic, a space, the payload), skipping its
/// `-d` packet lines.
fn next_event(out: &mut BufReader<ChildStdout>) -> (String, Value) {
    loop {
        let mut line = String::new();
        let n = out.read_line(&mut line).unwrap();
        assert!(n > 0, "the watcher ended before the next event");
        if let Some((topic, payload)) = line.trim_end().split_once(' ')
            && topic.starts_with("$aws/events/")
        {
            return (topic.to_owned(), serde_json::from_str(payload).unwrap());
        }
    }
}

/// Reads events until the one on `topic`; returns its JSON.
fn event(out: &mut BufReader<ChildStdout>, topic: &str) -> Value {
    let mut seen = Vec::new();
    loop {
        let (got, payload) = next_event(out);
        if got == topic {
            return payload;
        }
        seen.push(got);
        assert!(seen.len() < 100, "no event on {topic}; saw {seen:?}");
    }
}

/// A CONNECT (MQTT 3.1.1, clean session) with this client id and keep-alive.
fn connect(client_id: &str, keep_alive: u16) -> Vec<u8> {
    let remaining = 10 + 2 + client_id.len();
    bytes(&format!(
        "10 r{remaining} s4 'MQTT' 04 02 k{keep_alive} s{} '{client_id}'",
        client_id.len()
    ))
    .unwrap()
}

#[test]
fn lifecycle_events_reach_a_subscriber_with_awss_fields_and_reasons() {
    let (_dir, server) = start(&["--min-keep-alive", "1"]);
    let tls = server.demo_tls_args();
    let (_watcher, mut out) = subscriber(&tls, &["-i", "watcher", "-v", "-t", "$aws/events/#"]);
    let certificate_id = pki::CertificateId::of(
        &pki::load_certificate(
            &std::fs::read(server.demo_file("certificate.pem.crt")).unwrap(),
            "demo",
        )
        .unwrap()
        .certificate,
    )
    .unwrap();

    // A clean connect and disconnect.
    let published = mosquitto_pub(&tls, &["-i", "dev-a", "-t", "t", "-m", "m"]);
    assert!(published.status.success());
    let connected = event(&mut out, "$aws/events/presence/connected/dev-a");
    assert_eq!(connected["eventType"], "connected");
    assert_eq!(connected["clientId"], "dev-a");
    assert_eq!(connected["principalIdentifier"], certificate_id.as_str());
    assert_eq!(connected["ipAddress"], "127.0.0.1");
    assert_eq!(
        connected["sessionIdentifier"].as_str().unwrap().len(),
        32,
        "{connected}"
    );
    assert!(
        connected["timestamp"].as_i64().unwrap() > 1_700_000_000_000,
        "milliseconds"
    );
    let gone = event(&mut out, "$aws/events/presence/disconnected/dev-a");
    assert_eq!(gone["disconnectReason"], "CLIENT_INITIATED_DISCONNECT");
    assert_eq!(gone["clientInitiatedDisconnect"], true);
    assert_eq!(gone["versionNumber"], connected["versionNumber"]);
    assert_eq!(gone["sessionIdentifier"], connected["sessionIdentifier"]);
    assert!(gone.get("ipAddress").is_none(), "{gone}");

    // Subscriptions.
    let mut sub = demo_tls(&server);
    sub.write_all(&connect("dev-s", 60)).unwrap();
    assert_eq!(read_packet(&mut sub).unwrap()[0], 0x20);
    sub.write_all(&bytes("82 r14 m1 s3 'a/b' 01 s3 'c/#' 01").unwrap())
        .unwrap();
    let subscribed = event(&mut out, "$aws/events/subscriptions/subscribed/dev-s");
    assert_eq!(
        subscribed["topics"],
        serde_json::json!(["a/b", "c/#"]),
        "{subscribed}"
    );
    sub.write_all(&bytes("a2 r7 m3 s3 'a/b'").unwrap()).unwrap();
    let unsubscribed = event(&mut out, "$aws/events/subscriptions/unsubscribed/dev-s");
    assert_eq!(unsubscribed["topics"], serde_json::json!(["a/b"]));

    // A client that falls silent past 1.5 × its keep-alive.
    let mut silent = demo_tls(&server);
    silent.write_all(&connect("dev-k", 1)).unwrap();
    assert_eq!(read_packet(&mut silent).unwrap()[0], 0x20);
    let timed_out = event(&mut out, "$aws/events/presence/disconnected/dev-k");
    assert_eq!(timed_out["disconnectReason"], "MQTT_KEEP_ALIVE_TIMEOUT");
    assert_eq!(timed_out["clientInitiatedDisconnect"], false);

    // A second connection with the same client id takes over the first.
    let mut first = demo_tls(&server);
    first.write_all(&connect("dev-t", 60)).unwrap();
    assert_eq!(read_packet(&mut first).unwrap()[0], 0x20);
    let first_up = event(&mut out, "$aws/events/presence/connected/dev-t");
    let mut second = demo_tls(&server);
    second.write_all(&connect("dev-t", 60)).unwrap();
    assert_eq!(read_packet(&mut second).unwrap()[0], 0x20);
    let second_up = event(&mut out, "$aws/events/presence/connected/dev-t");
    let taken = event(&mut out, "$aws/events/presence/disconnected/dev-t");
    assert_eq!(taken["disconnectReason"], "DUPLICATE_CLIENTID");
    assert_eq!(taken["versionNumber"], first_up["versionNumber"]);
    assert_eq!(
        second_up["versionNumber"].as_u64().unwrap(),
        first_up["versionNumber"].as_u64().unwrap() + 1
    );

    // A connection that just drops.
    drop(second);
    let lost = event(&mut out, "$aws/events/presence/disconnected/dev-t");
    assert_eq!(lost["disconnectReason"], "CONNECTION_LOST");
    assert_eq!(lost["versionNumber"], second_up["versionNumber"]);
}

#[test]
fn registry_events_are_off_until_enabled_then_follow_every_thing_change() {
    let (_dir, server) = start(&[]);
    let tls = server.demo_tls_args();
    let (_watcher, mut out) = subscriber(
        &tls,
        &["-i", "registry-watcher", "-v", "-t", "$aws/events/thing/#"],
    );
    let described = aws(&server, &["iot", "describe-event-configurations"]);
    assert_eq!(
        described["eventConfigurations"]["THING"]["Enabled"], false,
        "{described}"
    );
    // Off: this thing makes no event.
    aws(&server, &["iot", "create-thing", "--thing-name", "quiet"]);
    aws(
        &server,
        &[
            "iot",
            "update-event-configurations",
            "--event-configurations",
            r#"{"THING":{"Enabled":true}}"#,
        ],
    );
    let described = aws(&server, &["iot", "describe-event-configurations"]);
    assert_eq!(described["eventConfigurations"]["THING"]["Enabled"], true);
    assert_eq!(described["eventConfigurations"]["JOB"]["Enabled"], false);

    let created = aws(&server, &["iot", "create-thing", "--thing-name", "lamp"]);
    let (topic, event_created) = next_event(&mut out);
    assert_eq!(
        topic, "$aws/events/thing/lamp/created",
        "no event while THING was off"
    );
    assert_eq!(event_created["eventType"], "THING_EVENT");
    assert_eq!(event_created["operation"], "CREATED");
    assert_eq!(event_created["thingId"], created["thingId"]);
    assert_eq!(event_created["versionNumber"], 1);
    assert_eq!(event_created["accountId"], "123456789012");
    assert!(event_created["thingTypeName"].is_null());
    aws(
        &server,
        &[
            "iot",
            "update-thing",
            "--thing-name",
            "lamp",
            "--attribute-payload",
            r#"{"attributes":{"room":"kitchen"}}"#,
        ],
    );
    let updated = event(&mut out, "$aws/events/thing/lamp/updated");
    assert_eq!(updated["versionNumber"], 2);
    assert_eq!(
        updated["attributes"],
        serde_json::json!({"room": "kitchen"})
    );
    aws(&server, &["iot", "delete-thing", "--thing-name", "lamp"]);
    let deleted = event(&mut out, "$aws/events/thing/lamp/deleted");
    assert_eq!(deleted["operation"], "DELETED");
    assert_ne!(deleted["eventId"], updated["eventId"]);
}
