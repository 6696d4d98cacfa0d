//! End-to-end tests of `tether pub` and `tether sub`: the real binary against `tether serve`
//! (demo device, mutual TLS; plain TCP with --profile mqtt) and against a real mosquitto
//! broker that each test starts on free loopback ports with certificates made by `pki`, plus
//! interop with mosquitto_pub/mosquitto_sub and every failure message of issue 5 item 3.
//! Waits are for lines, exits or TCP readiness with deadlines, never sleeps.

use std::process::{Command, Stdio};

use crate::support::mosquitto::{Mosquitto, free_ports};
use crate::support::{
    Subscriber, run, start, stdout_stderr, strings, tether, tether_pub, tether_sub, with,
};

// ---------------------------------------------------------------------------------------------
// tether serve

#[test]
fn the_readme_command_works_against_tether_serve() {
    let (_dir, server) = start(&[]);
    let args = server.demo_tls_args();
    let mut sub = Subscriber::tether(&with(
        &args,
        &["-t", "topic/#", "-q", "1", "-i", "sub", "-v", "-W", "20"],
    ));
    // mosquitto_pub's classic first step, with `tether pub` in its place.
    let publish = tether_pub(
        &args,
        &[
            "-q",
            "1",
            "-d",
            "-t",
            "topic/test",
            "-i",
            "esp8266",
            "-m",
            "hello world",
        ],
    );
    let (out, err) = stdout_stderr(&publish);
    assert!(publish.status.success(), "{out}{err}");
    assert_eq!(
        out,
        "Client esp8266 sending CONNECT\n\
         Client esp8266 received CONNACK (0)\n\
         Client esp8266 sending PUBLISH (d0, q1, r0, m1, 'topic/test', ... (11 bytes))\n\
         Client esp8266 received PUBACK (Mid: 1, RC:0)\n\
         Client esp8266 sending DISCONNECT\n"
    );
    let got = sub.read_until("topic/test hello world");
    assert!(
        got.contains("received PUBLISH (d0, q1, r0, m1, 'topic/test'"),
        "{got}"
    );
}

#[test]
fn alpn_is_offered_on_request_for_the_port_443_listener() {
    let (_dir, server) = start(&["--mqtts-alpn", "127.0.0.1:0"]);
    let mut args = server.demo_tls_args();
    let last = args.len() - 1;
    args[last] = server.addr("mqtts-alpn").port().to_string();
    let with_alpn = tether_pub(&args, &["--alpn", "x-amzn-mqtt-ca", "-t", "t", "-m", "443"]);
    assert!(
        with_alpn.status.success(),
        "{:?}",
        stdout_stderr(&with_alpn)
    );
    // Without ALPN the broker closes the connection after the handshake: exit 7, as
    // mosquitto_pub's.
    let without = tether_pub(&args, &["-t", "t", "-m", "443"]);
    let (_, err) = stdout_stderr(&without);
    assert_eq!(without.status.code(), Some(7), "{err}");
    assert!(err.contains("--alpn x-amzn-mqtt-ca"), "{err}");
    let theirs = crate::support::mosquitto_pub(&args, &["-t", "t", "-m", "443"]);
    assert_eq!(theirs.status.code(), Some(7));
}

#[test]
fn qos_0_and_1_round_trip_on_both_versions_through_tether_serve() {
    let (_dir, server) = start(&[]);
    let args = server.demo_tls_args();
    for version in ["mqttv311", "mqttv5"] {
        for qos in ["0", "1"] {
            let topic = format!("rt/{version}/{qos}");
            let sub_id = format!("s-{version}-{qos}");
            let mut sub = Subscriber::tether(&with(
                &args,
                &[
                    "-V", version, "-t", &topic, "-q", qos, "-i", &sub_id, "-C", "1", "-F",
                    "%t %q %p", "-W", "20",
                ],
            ));
            let publish = tether_pub(
                &args,
                &["-V", version, "-t", &topic, "-q", qos, "-m", "payload"],
            );
            assert!(publish.status.success(), "{:?}", stdout_stderr(&publish));
            sub.read_until(&format!("{topic} {qos} payload"));
            let (code, _, err) = sub.finish();
            assert_eq!(code, Some(0), "{err}");
        }
    }
}

#[test]
fn qos_2_round_trips_on_the_mqtt_profile_over_plain_tcp() {
    let (_dir, server) = start(&["--profile", "mqtt", "--mqtt", "127.0.0.1:0"]);
    let addr = server.addr("mqtt");
    let base = strings(&["-h", "127.0.0.1", "-p", &addr.port().to_string()]);
    for version in ["311", "5"] {
        let topic = format!("q2/{version}");
        let mut sub = Subscriber::tether(&with(
            &base,
            &[
                "-V", version, "-t", &topic, "-q", "2", "-C", "1", "-v", "-W", "20",
            ],
        ));
        let publish = tether_pub(
            &base,
            &[
                "-V",
                version,
                "-t",
                &topic,
                "-q",
                "2",
                "-m",
                "exactly once",
                "-d",
            ],
        );
        let (out, err) = stdout_stderr(&publish);
        assert!(publish.status.success(), "{out}{err}");
        assert!(out.contains("received PUBREC (Mid: 1)"), "{out}");
        assert!(out.contains("sending PUBREL (m1)"), "{out}");
        assert!(out.contains("received PUBCOMP (Mid: 1, RC:0)"), "{out}");
        let got = sub.read_until(&format!("{topic} exactly once"));
        assert!(got.contains("sending PUBREC (m1, rc0)"), "{got}");
        let (code, rest, err) = sub.finish();
        assert_eq!(code, Some(0), "{err}");
        // The flow is finished before the subscriber leaves.
        assert!(rest.contains("sending PUBCOMP (m1)"), "{rest}");
    }
}

#[test]
fn the_aws_profile_refusal_of_qos_2_is_explained() {
    let (_dir, server) = start(&[]);
    let args = server.demo_tls_args();
    // MQTT 5: the client does not send it; exit 0 with the reason, as mosquitto_pub.
    let v5_args = ["-V", "mqttv5", "-t", "t", "-q", "2", "-m", "x"];
    let v5 = tether_pub(&args, &v5_args);
    let (_, err) = stdout_stderr(&v5);
    assert_eq!(v5.status.code(), Some(0));
    assert!(err.contains("exceeds the server's Maximum QoS 1"), "{err}");
    let theirs = crate::support::mosquitto_pub(&args, &v5_args);
    assert_eq!(theirs.status.code(), Some(0));
    // MQTT 3.1.1: the broker closes the connection; exit 7, as mosquitto_pub.
    let v3_args = ["-t", "t", "-q", "2", "-m", "x"];
    let v3 = tether_pub(&args, &v3_args);
    let (_, err) = stdout_stderr(&v3);
    assert_eq!(v3.status.code(), Some(7));
    assert!(err.contains("closed the connection unexpectedly"), "{err}");
    assert!(err.contains("on QoS 2"), "{err}");
    let theirs = crate::support::mosquitto_pub(&args, &v3_args);
    assert_eq!(theirs.status.code(), Some(7));
}

#[test]
fn mosquitto_clients_and_tether_interoperate_through_tether_serve() {
    let (_dir, server) = start(&[]);
    let args = server.demo_tls_args();
    // mosquitto_pub → tether sub
    let mut sub = Subscriber::tether(&with(
        &args,
        &[
            "-t",
            "interop/#",
            "-q",
            "1",
            "-i",
            "t-sub",
            "-C",
            "1",
            "-v",
            "-W",
            "20",
        ],
    ));
    let publish = Command::new("mosquitto_pub")
        .args(&args)
        .args([
            "-q",
            "1",
            "-t",
            "interop/a",
            "-i",
            "m-pub",
            "-m",
            "from mosquitto",
        ])
        .output()
        .unwrap();
    assert!(publish.status.success(), "{:?}", stdout_stderr(&publish));
    sub.read_until("interop/a from mosquitto");
    assert_eq!(sub.finish().0, Some(0));
    // tether pub → mosquitto_sub
    let mut sub = Subscriber::mosquitto(&with(
        &args,
        &[
            "-t",
            "interop/#",
            "-q",
            "1",
            "-i",
            "m-sub",
            "-C",
            "1",
            "-v",
            "-W",
            "20",
        ],
    ));
    let publish = tether_pub(
        &args,
        &[
            "-q",
            "1",
            "-t",
            "interop/b",
            "-i",
            "t-pub",
            "-m",
            "from tether",
        ],
    );
    assert!(publish.status.success(), "{:?}", stdout_stderr(&publish));
    sub.read_until("interop/b from tether");
}

// ---------------------------------------------------------------------------------------------
// A real mosquitto broker

#[test]
fn every_qos_round_trips_on_both_versions_through_mosquitto_with_mutual_tls() {
    let broker = Mosquitto::start();
    let args = broker.tls_args();
    for version in ["mqttv311", "mqttv5"] {
        for qos in ["0", "1", "2"] {
            let topic = format!("m/{version}/{qos}");
            let mut sub = Subscriber::tether(&with(
                &args,
                &[
                    "-V", version, "-t", &topic, "-q", qos, "-C", "1", "-F", "%q %p", "-W", "20",
                ],
            ));
            let publish = tether_pub(&args, &["-V", version, "-t", &topic, "-q", qos, "-m", "m"]);
            assert!(publish.status.success(), "{:?}", stdout_stderr(&publish));
            sub.read_until(&format!("{qos} m"));
            assert_eq!(sub.finish().0, Some(0));
        }
    }
}

#[test]
fn mosquitto_clients_and_tether_interoperate_through_mosquitto() {
    let broker = Mosquitto::start();
    let args = broker.tls_args();
    let mut sub = Subscriber::mosquitto(&with(
        &args,
        &[
            "-t", "i/#", "-q", "2", "-C", "2", "-v", "-W", "20", "-V", "mqttv5",
        ],
    ));
    let lines = "line one\nline two\n";
    let mut publisher = Command::new(tether())
        .arg("pub")
        .args(&args)
        .args(["-t", "i/lines", "-q", "2", "-l"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut publisher.stdin.take().unwrap(), lines.as_bytes()).unwrap();
    assert!(publisher.wait().unwrap().success());
    sub.read_until("i/lines line one");
    sub.read_until("i/lines line two");

    let mut sub = Subscriber::tether(&with(
        &args,
        &["-t", "i/#", "-q", "1", "-C", "1", "--json", "-W", "20"],
    ));
    let publish = Command::new("mosquitto_pub")
        .args(&args)
        .args(["-t", "i/json", "-q", "1", "-m", "{\"t\":21.5}"])
        .output()
        .unwrap();
    assert!(publish.status.success(), "{:?}", stdout_stderr(&publish));
    let line = sub.read_until("\"payloadlen\"");
    let value: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    assert_eq!(value["topic"], "i/json");
    assert_eq!(value["qos"], 1);
    assert_eq!(value["payload"], "{\"t\":21.5}");
}

#[test]
fn retained_messages_and_their_flags() {
    let broker = Mosquitto::start();
    let args = broker.plain_args();
    for (topic, payload) in [("r/1", "one"), ("r/2", "two")] {
        let publish = tether_pub(&args, &["-t", topic, "-m", payload, "-r", "-q", "1"]);
        assert!(publish.status.success(), "{:?}", stdout_stderr(&publish));
    }
    // -R hides stale messages; -W ends the wait with mosquitto's exit code 27.
    let fresh = tether_sub(&args, &["-t", "r/#", "-R", "-W", "1"]);
    let (out, err) = stdout_stderr(&fresh);
    assert_eq!(fresh.status.code(), Some(27), "{out}{err}");
    assert_eq!(out, "");
    assert!(err.contains("Timed out"), "{err}");
    // -T filters one topic out; %r shows the retain flag.
    let filtered = tether_sub(
        &args,
        &[
            "-t",
            "r/#",
            "-T",
            "r/1",
            "-C",
            "1",
            "-F",
            "%t=%p r%r",
            "-W",
            "10",
        ],
    );
    assert_eq!(stdout_stderr(&filtered).0, "r/2=two r1\n");
    // --remove-retained clears them while printing them.
    let removed = tether_sub(
        &args,
        &["-t", "r/#", "--remove-retained", "-C", "2", "-W", "10"],
    );
    assert_eq!(stdout_stderr(&removed).0, "one\ntwo\n");
    let gone = tether_sub(&args, &["-t", "r/#", "-W", "1"]);
    assert_eq!(gone.status.code(), Some(27));
    assert_eq!(stdout_stderr(&gone).0, "");
}

#[test]
fn a_will_is_published_when_the_client_vanishes() {
    let broker = Mosquitto::start();
    let args = broker.plain_args();
    let mut watcher = Subscriber::tether(&with(
        &args,
        &["-t", "wills/#", "-v", "-W", "20", "-C", "1"],
    ));
    let victim = Subscriber::tether(&with(
        &args,
        &[
            "-t",
            "nothing",
            "-i",
            "victim",
            "--will-topic",
            "wills/victim",
            "--will-payload",
            "gone",
            "--will-qos",
            "1",
            "-W",
            "20",
        ],
    ));
    drop(victim); // SIGKILL: no DISCONNECT, so the broker publishes the will.
    watcher.read_until("wills/victim gone");
}

#[test]
fn failures_are_explained_in_words() {
    let broker = Mosquitto::start();
    let tls = broker.tls_args();
    let replace = |flag: &str, value: &str| {
        let mut args = tls.clone();
        let at = args.iter().position(|a| a == flag).unwrap();
        args[at + 1] = value.to_owned();
        args
    };
    let fails = |args: &[String], code: i32, needles: &[&str]| {
        let output = tether_pub(args, &["-t", "t", "-m", "x"]);
        let (out, err) = stdout_stderr(&output);
        assert_eq!(output.status.code(), Some(code), "{out}{err}");
        for needle in needles {
            assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
        }
    };
    // Files, checked before connecting.
    fails(
        &replace("--cafile", "/nonexistent/ca.pem"),
        1,
        &["--cafile /nonexistent/ca.pem: the file does not exist"],
    );
    fails(
        &replace("--key", &broker.file("other.key")),
        1,
        &[
            "does not belong to --cert",
            "EC P-256",
            "Use the key that was created with this certificate",
        ],
    );
    fails(
        &replace("--cert", &broker.file("client.key")),
        1,
        &["expected a certificate, found a private key"],
    );
    // DER where mosquitto wants PEM: accepted, with a note.
    let der = tether_pub(
        &{
            let mut args = replace("--cert", &broker.file("client.der"));
            let at = args.iter().position(|a| a == "--key").unwrap();
            args[at + 1] = broker.file("client.key.der");
            args
        },
        &["-t", "t", "-m", "x"],
    );
    let (_, err) = stdout_stderr(&der);
    assert!(der.status.success(), "{err}");
    assert!(
        err.contains("holds the certificate in DER (binary) form"),
        "{err}"
    );
    assert!(
        err.contains("holds the private key in DER (binary) form"),
        "{err}"
    );
    // TLS alerts from mosquitto when no client certificate is sent: right after the handshake
    // in TLS 1.3, so the connection is lost: 7, as mosquitto_pub's code (compat.rs runs both
    // side by side).
    let no_cert: Vec<String> = tls[..2].iter().chain(&tls[6..]).cloned().collect();
    fails(
        &no_cert,
        7,
        &[
            "TLS alert 116 certificate_required",
            "need --cert and --key",
        ],
    );
    // --tls-version is the lowest version (mosquitto's meaning): tlsv1.2 still negotiates
    // TLS 1.3 with this broker.
    fails(
        &with(&no_cert, &["--tls-version", "tlsv1.2"]),
        7,
        &[
            "TLS alert 116 certificate_required (the server required a client certificate and got none (TLS 1.3))",
        ],
    );
    // The server's certificate is not trusted: which CA file, who issued it. mosquitto_pub
    // mostly fails to connect (1) for both of these, and exits 8 when its handshake finishes
    // in its network loop instead (see `agree_racy`).
    let other = broker.file("other-ca.pem");
    for args in [replace("--cafile", &other), replace("-h", "127.0.0.1")] {
        crate::support::agree_racy(&tether_pub(&args, &["-t", "t", "-m", "x"]), 1, 8, || {
            crate::support::mosquitto_pub(&args, &["-t", "t", "-m", "x"])
        });
    }
    fails(
        &replace("--cafile", &other),
        1,
        &[
            "is not trusted",
            "issued by \"CN=pubsub test CA\"",
            &format!("--cafile {other}"),
        ],
    );
    // The certificate does not name 127.0.0.1; --insecure skips only that check.
    fails(
        &replace("-h", "127.0.0.1"),
        1,
        &[
            "is not trusted",
            "DNS:localhost, not 127.0.0.1",
            "--insecure",
        ],
    );
    let insecure = tether_pub(
        &with(&replace("-h", "127.0.0.1"), &["--insecure"]),
        &["-t", "t", "-m", "x"],
    );
    assert!(insecure.status.success(), "{:?}", stdout_stderr(&insecure));
    // CONNACK refusals exit with the code, as mosquitto does.
    let refuse = strings(&["-h", "127.0.0.1", "-p", &broker.refuse.to_string()]);
    fails(&refuse, 5, &["CONNACK return code 5 (not authorised)"]);
    fails(
        &with(&refuse, &["-V", "5"]),
        135,
        &["CONNACK reason 0x87 Not authorized"],
    );
    // DNS and TCP failures name host and port.
    fails(
        &strings(&["-h", "no-such-host.invalid"]),
        1,
        &["cannot resolve the host name no-such-host.invalid (port 1883)"],
    );
    let closed = free_ports()[0].to_string();
    fails(
        &strings(&["-h", "127.0.0.1", "-p", &closed]),
        1,
        &[
            &format!("cannot connect to 127.0.0.1:{closed}"),
            "nothing is listening",
        ],
    );
}

#[test]
fn a_server_disconnect_is_explained() {
    // tether serve tells an MQTT 5 client why (0x8E); mosquitto 2.0 just closes the socket.
    let (_dir, server) = start(&[]);
    let args = server.demo_tls_args();
    let sub = Subscriber::tether(&with(
        &args,
        &["-V", "mqttv5", "-i", "twin", "-t", "x", "-W", "20"],
    ));
    let twin = tether_pub(&args, &["-V", "mqttv5", "-i", "twin", "-t", "y", "-m", "m"]);
    assert!(twin.status.success(), "{:?}", stdout_stderr(&twin));
    // mosquitto_sub exits 0 after the server's DISCONNECT (compat.rs runs both side by side).
    let (code, _, err) = sub.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("the server disconnected this client: 0x8E Session taken over"),
        "{err}"
    );
    assert!(err.contains("same client id"), "{err}");

    // MQTT 3.1.1 has no reason to give; the message says what it usually is. Without -W
    // (mosquitto_sub would reconnect forever) tether sub stops: the connection was lost, 7.
    let broker = Mosquitto::start();
    let plain = broker.plain_args();
    let sub = Subscriber::tether(&with(&plain, &["-i", "twin", "-t", "x"]));
    let twin = tether_pub(&plain, &["-i", "twin", "-t", "y", "-m", "m"]);
    assert!(twin.status.success(), "{:?}", stdout_stderr(&twin));
    let (code, _, err) = sub.finish();
    assert_eq!(code, Some(7), "{err}");
    assert!(err.contains("closed the connection unexpectedly"), "{err}");
    assert!(err.contains("same client id (-i)"), "{err}");
}

#[test]
fn flags_are_checked_like_mosquitto() {
    let missing = run(&strings(&["pub", "-t", "t"]));
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stdout_stderr(&missing)
            .1
            .contains("Both topic and message must be supplied")
    );
    let no_id = run(&strings(&["pub", "-t", "t", "-m", "x", "-c"]));
    assert!(
        stdout_stderr(&no_id)
            .1
            .contains("You must provide a client id")
    );
    let help = run(&strings(&["sub", "--help"]));
    assert!(help.status.success());
    assert!(stdout_stderr(&help).0.contains("-h, --host"));
}
