//! `tether pub` / `tether sub` side by side with mosquitto_pub / mosquitto_sub, where the README
//! promises the same flags, output and exit codes: each test runs both tools against the same
//! broker in the same situation and asserts they agree (and on the value mosquitto gives),
//! while tether's stderr still says why. The situations are those a new user meets first: an
//! unregistered or missing client certificate, plain MQTT on the TLS port, a publish or
//! subscription the policy forbids, a payload over AWS's limit, a revoked certificate, a
//! taken-over session, `--tls-version`, `-F %j`. Waits are for exits and lines, never sleeps.

use std::process::Output;

use test_support::process::Tether;

use crate::refusals::{create_narrow_policy, provision};
use crate::support::mosquitto::Mosquitto;
use crate::support::{
    DatedDevice, Subscriber, agree_racy, mosquitto_pub, mosquitto_sub, start, stdout_stderr,
    tether_pub, tether_sub, text, unix_now, with,
};

/// Both outputs' exit codes must be `code`; returns tether's stderr.
fn agree(ours: &Output, theirs: &Output, code: i32) -> String {
    let (_, err) = stdout_stderr(ours);
    assert_eq!(
        theirs.status.code(),
        Some(code),
        "mosquitto: {}",
        text(theirs)
    );
    assert_eq!(ours.status.code(), Some(code), "tether: {}", text(ours));
    err
}

/// tether serve with a device `narrow1` whose policy allows client id narrow1 and topics under
/// `ok/` only.
fn narrow_server(args: &[&str]) -> (tempfile::TempDir, Tether, Vec<String>) {
    let (dir, server) = start(args);
    create_narrow_policy(&server);
    let narrow = with(
        &provision(&server, "narrow1", Some("narrow")),
        &["-i", "narrow1"],
    );
    (dir, server, narrow)
}

#[test]
fn refused_connections_exit_as_mosquitto_does() {
    let (dir, server) = start(&[]);
    // An unregistered certificate: the broker closes the connection after the handshake.
    let now = unix_now();
    let stranger = DatedDevice::issue(
        &server,
        dir.path(),
        "stranger",
        false,
        (now - 60, now + 3600),
    );
    let args = stranger.args(&server);
    let msg = ["-t", "t", "-m", "m", "-q", "1"];
    let err = agree_racy(&tether_pub(&args, &msg), 7, 1, || {
        mosquitto_pub(&args, &msg)
    });
    assert!(
        err.contains("it may not accept this client's certificate"),
        "{err}"
    );
    let sub = ["-t", "t", "-W", "5"];
    agree_racy(&tether_sub(&args, &sub), 7, 1, || {
        mosquitto_sub(&args, &sub)
    });

    // No client certificate (TLS 1.3: the alert comes after the client's handshake).
    let demo = server.demo_tls_args();
    let no_cert: Vec<String> = demo[..2].iter().chain(&demo[6..]).cloned().collect();
    let err = agree_racy(&tether_pub(&no_cert, &msg), 7, 1, || {
        mosquitto_pub(&no_cert, &msg)
    });
    assert!(err.contains("TLS alert 116 certificate_required"), "{err}");
    assert!(err.contains("need --cert and --key"), "{err}");

    // Plain MQTT sent to the TLS port.
    let addr = server.addr("mqtts");
    let plain = crate::support::strings(&["-h", "127.0.0.1", "-p", &addr.port().to_string()]);
    let err = agree(&tether_pub(&plain, &msg), &mosquitto_pub(&plain, &msg), 7);
    assert!(
        err.contains("closed the connection before answering CONNECT"),
        "{err}"
    );
}

#[test]
fn what_the_policy_or_the_limits_refuse_exits_as_mosquitto_does() {
    let (dir, _server, narrow) = narrow_server(&[]);
    // MQTT 3.1.1: AWS closes the connection on a forbidden publish, and on a payload over
    // 128 KB.
    let forbidden = ["-t", "bad/p", "-m", "m", "-q", "1"];
    let err = agree(
        &tether_pub(&narrow, &forbidden),
        &mosquitto_pub(&narrow, &forbidden),
        7,
    );
    assert!(
        err.contains("a publish or subscription the policy does not allow"),
        "{err}"
    );
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![b'x'; 128 * 1024 + 100]).unwrap();
    let big = big.display().to_string();
    let oversize = ["-t", "ok/big", "-f", &big, "-q", "1"];
    let err = agree(
        &tether_pub(&narrow, &oversize),
        &mosquitto_pub(&narrow, &oversize),
        7,
    );
    assert!(err.contains("payloads over 128 KB"), "{err}");

    // MQTT 5: PUBACK 0x87 is a warning and exit 0 in both.
    let v5 = with(&narrow, &["-V", "mqttv5"]);
    let ours = tether_pub(&v5, &forbidden);
    let theirs = mosquitto_pub(&v5, &forbidden);
    let err = agree(&ours, &theirs, 0);
    let warning = "Warning: Publish 1 failed: Not authorized.";
    assert!(text(&theirs).contains(warning), "{}", text(&theirs));
    assert!(err.contains(warning), "{err}");
    assert!(err.contains("iot:Publish resources of the policy"), "{err}");

    // MQTT 5: a forbidden subscription gets SUBACK 0x87; both say so and exit 0.
    let sub = ["-t", "bad/s", "-W", "10"];
    let ours = tether_sub(&v5, &sub);
    let theirs = mosquitto_sub(&v5, &sub);
    let err = agree(&ours, &theirs, 0);
    assert!(text(&theirs).contains("All subscription requests were denied."));
    assert!(
        err.contains("All subscription requests were denied."),
        "{err}"
    );
    assert!(err.contains("0x87 Not authorized"), "{err}");

    // MQTT 3.1.1: AWS closes the connection instead of SUBACK; mosquitto_sub reconnects and
    // subscribes again until -W runs out (27), and so does tether sub, saying why once.
    let sub = ["-t", "bad/s", "-W", "3"];
    let ours = tether_sub(&narrow, &sub);
    let theirs = mosquitto_sub(&narrow, &sub);
    let err = agree(&ours, &theirs, 27);
    assert!(
        err.contains("the broker refused the subscription to bad/s"),
        "{err}"
    );
    assert!(err.contains("SUBACK 0x80"), "{err}");
    assert!(err.contains("iot:Subscribe on topicfilter/bad/s"), "{err}");
    assert!(err.ends_with("Timed out\n"), "{err}");
    assert!(!err.contains("call connect() first"), "{err}");
    // Without -W, where mosquitto_sub would retry forever, tether sub stops with the reason.
    let ours = tether_sub(&narrow, &["-t", "bad/s"]);
    assert_eq!(ours.status.code(), Some(7), "{}", text(&ours));

    // MQTT 5, a payload over 128 KB in a packet within the Maximum Packet Size: the server's
    // DISCONNECT 0x95, after which mosquitto_pub exits 4 ("not currently connected").
    let err = agree(
        &tether_pub(&v5, &oversize),
        &mosquitto_pub(&v5, &oversize),
        4,
    );
    assert!(err.contains("0x95 Packet too large"), "{err}");

    // What the client itself refuses to send under MQTT 5 (above the server's Maximum QoS or
    // Maximum Packet Size) is reported, and mosquitto_pub exits 0 for it.
    let huge = dir.path().join("huge.bin");
    std::fs::write(&huge, vec![b'x'; 140_000]).unwrap();
    let huge = huge.display().to_string();
    for extra in [
        ["-q", "2", "-t", "ok/q2", "-m", "m"],
        ["-q", "1", "-t", "ok/big", "-f", &huge],
    ] {
        let err = agree(&tether_pub(&v5, &extra), &mosquitto_pub(&v5, &extra), 0);
        assert!(err.contains("Error: PUBLISH"), "{err}");
    }
}

#[test]
fn server_disconnects_and_revocations_exit_as_mosquitto_does() {
    let (_dir, server, narrow) = narrow_server(&[]);
    // MQTT 5: a session taken over gets DISCONNECT 0x8E; mosquitto_sub exits 0, as does
    // tether sub after saying why.
    let v5 = with(&narrow, &["-V", "mqttv5", "-t", "ok/x"]);
    for tool in ["tether", "mosquitto"] {
        let sub = if tool == "tether" {
            Subscriber::tether(&v5)
        } else {
            Subscriber::mosquitto(&v5)
        };
        let twin = mosquitto_pub(&narrow, &["-V", "mqttv5", "-t", "ok/y", "-m", "m"]);
        assert!(twin.status.success(), "{}", text(&twin));
        let (code, _, err) = sub.finish();
        assert_eq!(code, Some(0), "{tool}: {err}");
        if tool == "tether" {
            assert!(err.contains("0x8E Session taken over"), "{err}");
        }
    }

    // A certificate revoked while connected: the broker closes the connection (MQTT 5:
    // DISCONNECT 0x87). mosquitto_sub exits 0 after a DISCONNECT; after a silent close (3.1.1)
    // it reconnects, is refused, and exits 7. tether sub does the same and names revocation.
    let mut subs = Vec::new();
    for (tool, version) in [
        ("tether", "mqttv5"),
        ("mosquitto", "mqttv5"),
        ("tether", "mqttv311"),
        ("mosquitto", "mqttv311"),
    ] {
        // Distinct client ids would be refused by the narrow policy: use the demo device's
        // allow-all certificate, revoked below.
        let args = with(
            &server.demo_tls_args(),
            &["-V", version, "-t", "x", "-i", &format!("{tool}-{version}")],
        );
        let sub = if tool == "tether" {
            Subscriber::tether(&args)
        } else {
            Subscriber::mosquitto(&args)
        };
        subs.push((tool, version, sub));
    }
    let id = pki::CertificateId::of(
        &pki::load_certificate(
            &std::fs::read(server.demo_file("certificate.pem.crt")).unwrap(),
            "demo",
        )
        .unwrap()
        .certificate,
    )
    .unwrap();
    let revoked = crate::support::aws(
        &server,
        &[
            "iot",
            "update-certificate",
            "--certificate-id",
            id.as_str(),
            "--new-status",
            "REVOKED",
        ],
    );
    assert!(revoked.is_object());
    for (tool, version, sub) in subs {
        let (code, _, err) = sub.finish();
        let expected = if version == "mqttv5" { 0 } else { 7 };
        assert_eq!(code, Some(expected), "{tool} {version}: {err}");
        if tool == "tether" {
            assert!(err.contains("revoked"), "{version}: {err}");
        }
    }
}

#[test]
fn tls_version_is_a_minimum_and_bad_values_are_refused_alike() {
    let (_dir, server) = start(&[]);
    let args = server.demo_tls_args();
    let msg = ["-t", "t", "-m", "m"];
    for version in ["tlsv1.1", "tlsv1.2", "tlsv1.3"] {
        // tether serve allows TLS 1.2 and 1.3: each is at or below what is negotiated.
        let extra = with(&crate::support::strings(&msg), &["--tls-version", version]);
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        agree(&tether_pub(&args, &extra), &mosquitto_pub(&args, &extra), 0);
    }
    let extra = ["-t", "t", "-m", "m", "--tls-version", "tlsv1"];
    agree(&tether_pub(&args, &extra), &mosquitto_pub(&args, &extra), 1);
    // An unknown flag is a usage error, exit 1, in both.
    let extra = ["-t", "t", "-m", "m", "--no-such-flag"];
    agree(&tether_pub(&args, &extra), &mosquitto_pub(&args, &extra), 1);
}

#[test]
fn format_j_and_json_print_mosquittos_objects() {
    let broker = Mosquitto::start();
    let args = broker.plain_args();
    let sub = with(&args, &["-t", "j/#", "-C", "3", "-F", "%j", "-W", "20"]);
    let mut ours = Subscriber::tether(&sub);
    let mut theirs = Subscriber::mosquitto(&sub);
    let mut json_sub = Subscriber::tether(&with(
        &args,
        &["-t", "j/#", "-C", "3", "--json", "-W", "20"],
    ));
    for (topic, payload) in [
        ("j/a", "{\"t\":21.5}"),
        ("j/b", "quote \" and \\ and tab\t"),
    ] {
        let out = mosquitto_pub(&args, &["-t", topic, "-m", payload, "-q", "1"]);
        assert!(out.status.success());
    }
    let out = mosquitto_pub(&args, &["-t", "j/c", "-n", "-q", "1"]);
    assert!(out.status.success());
    let lines = |sub: &mut Subscriber| -> Vec<String> {
        (0..3)
            .map(|_| sub.read_until("\"tst\"").lines().last().unwrap().to_owned())
            .collect()
    };
    let (ours, theirs, json) = (lines(&mut ours), lines(&mut theirs), lines(&mut json_sub));
    // Byte for byte the same, but for the time stamp.
    let strip = |line: &str| {
        let (tst, rest) = line.split_once("\",\"topic\"").unwrap();
        // {"tst":"2026-01-31T12:00:00.123456Z+0000
        assert_eq!(
            tst.len(),
            "{\"tst\":\"2026-01-31T12:00:00.123456Z+0000".len(),
            "{line}"
        );
        assert!(tst.ends_with("Z+0000"), "{line}");
        rest.to_owned()
    };
    for ((ours, theirs), json) in ours.iter().zip(&theirs).zip(&json) {
        assert_eq!(strip(ours), strip(theirs));
        assert_eq!(strip(json), strip(theirs));
    }
    assert!(theirs[2].ends_with("\"payload\":null}"), "{}", theirs[2]);
}

#[test]
fn the_mqtt_profile_refuses_forbidden_publishes_as_mosquitto_does() {
    // tether serve --profile mqtt with a device whose policy allows topics under ok/ only,
    // and mosquitto with an ACL allowing ok/# only: the same answers to the same publishes.
    let (_dir, server, narrow) = narrow_server(&["--profile", "mqtt"]);
    let broker = Mosquitto::start();
    let acl = crate::support::strings(&["-h", "127.0.0.1", "-p", &broker.acl.to_string()]);
    // Watchers allowed to read everything: the demo device, and mosquitto's listener without
    // an ACL (one broker behind both listeners).
    let watchers = [server.demo_tls_args(), broker.plain_args()];
    for ((name, base), watcher) in [("tether serve", narrow), ("mosquitto", acl)]
        .into_iter()
        .zip(watchers)
    {
        let mut watcher = Subscriber::mosquitto(&with(
            &watcher,
            &[
                "-t", "bad/#", "-t", "ok/#", "-v", "-i", "watcher", "-W", "20",
            ],
        ));
        // MQTT 5: PUBACK 0x87; MQTT 3.1.1: PUBACK 0 and the message dropped ([MQTT-3.3.5-2]).
        for (version, rc) in [("mqttv5", "RC:135"), ("mqttv311", "RC:0")] {
            let extra = [
                "-V", version, "-q", "1", "-d", "-t", "bad/x", "-m", "dropped",
            ];
            let ours = tether_pub(&base, &extra);
            let theirs = mosquitto_pub(&base, &extra);
            agree(&ours, &theirs, 0);
            let puback = format!("received PUBACK (Mid: 1, {rc})");
            assert!(
                text(&theirs).contains(&puback),
                "{name} {version}: {}",
                text(&theirs)
            );
            assert!(
                text(&ours).contains(&puback),
                "{name} {version}: {}",
                text(&ours)
            );
        }
        // The watcher (allowed to read everything it may subscribe to) got none of them.
        let ok = mosquitto_pub(&base, &["-t", "ok/marker", "-m", "marker", "-q", "1"]);
        assert!(ok.status.success(), "{}", text(&ok));
        let seen = watcher.read_until("ok/marker");
        assert!(!seen.contains("dropped"), "{name}: {seen}");
    }
}
