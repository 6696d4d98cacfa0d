//! End-to-end tests of `tether serve`: the real binary on port-0 listeners, driven by the real
//! mosquitto clients (Debian `mosquitto-clients`, installed by scripts/setup) and by raw TLS
//! sockets speaking scripted MQTT bytes. Every wait is for a line or a packet, never a sleep.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode, SslVersion};
use test_support::notation::parse as bytes;
use test_support::process::Tether;

use crate::support::{
    LOG_WAIT, demo_connector, demo_tls, mosquitto_pub, read_packet, read_until, start, subscriber,
    tether,
};

#[test]
fn the_demo_device_publishes_and_subscribes_with_mosquitto_clients() {
    let (_dir, server) = start(&[]);
    let args = server.demo_tls_args();
    let (mut sub, mut out) = subscriber(
        &args,
        &[
            "-q", "1", "-t", "topic/#", "-i", "demo-sub", "-C", "1", "-W", "20",
        ],
    );
    // The README's command, with the paths and port of this server.
    let publish = mosquitto_pub(
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
    let pub_log = String::from_utf8_lossy(&publish.stdout);
    assert!(publish.status.success(), "mosquitto_pub failed: {pub_log}");
    assert!(pub_log.contains("received PUBACK"), "{pub_log}");
    let got = read_until(&mut out, "hello world");
    assert!(got.contains("'topic/test'"), "{got}");
    assert!(sub.wait().unwrap().success());
}

#[test]
fn mqtt5_clients_round_trip_through_the_alpn_listener() {
    let (_dir, server) = start(&["--mqtts-alpn", "127.0.0.1:0"]);
    let addr = server.addr("mqtts-alpn");
    let mut args = server.demo_tls_args();
    args[9] = addr.port().to_string();
    let alpn = ["--tls-alpn", "x-amzn-mqtt-ca", "-V", "mqttv5"];
    let mut sub_extra = alpn.to_vec();
    sub_extra.extend([
        "-q", "1", "-t", "alpn/#", "-i", "alpn-sub", "-C", "1", "-W", "20",
    ]);
    let (mut sub, mut out) = subscriber(&args, &sub_extra);
    let mut pub_extra = alpn.to_vec();
    pub_extra.extend(["-q", "1", "-t", "alpn/x", "-i", "alpn-pub", "-m", "via 443"]);
    let publish = mosquitto_pub(&args, &pub_extra);
    assert!(
        publish.status.success(),
        "{}",
        String::from_utf8_lossy(&publish.stderr)
    );
    read_until(&mut out, "via 443");
    assert!(sub.wait().unwrap().success());

    // Without ALPN the same listener refuses, and says why.
    let refused = mosquitto_pub(&args, &["-t", "alpn/x", "-m", "no alpn", "-i", "no-alpn"]);
    assert!(!refused.status.success());
    let line = server.wait_for_log("x-amzn-mqtt-ca", LOG_WAIT).unwrap();
    assert!(line.contains("refused"), "{line}");
}

#[test]
fn a_tls_1_1_client_is_refused_with_the_policy_named() {
    let (_dir, server) = start(&[]);
    let mut builder = SslConnector::builder(SslMethod::tls_client()).unwrap();
    builder.set_verify(SslVerifyMode::NONE);
    builder
        .set_max_proto_version(Some(SslVersion::TLS1_1))
        .unwrap();
    builder
        .set_min_proto_version(Some(SslVersion::TLS1))
        .unwrap();
    // OpenSSL 3 only offers TLS 1.0/1.1 at security level 0.
    builder.set_cipher_list("DEFAULT:@SECLEVEL=0").unwrap();
    let tcp = TcpStream::connect(server.addr("mqtts")).unwrap();
    assert!(builder.build().connect("localhost", tcp).is_err());
    let line = server.wait_for_log("requires TLS 1.2", LOG_WAIT).unwrap();
    assert!(
        line.contains("IoTSecurityPolicy_TLS13_1_2_2022_10"),
        "{line}"
    );
    assert!(line.contains("client offered TLS 1.1"), "{line}");
}

#[test]
fn static_rsa_cbc_suites_that_esp8266_firmware_needs_are_accepted() {
    let (_dir, server) = start(&[]);
    let mut builder = demo_connector(&server);
    builder
        .set_max_proto_version(Some(SslVersion::TLS1_2))
        .unwrap();
    builder.set_cipher_list("AES128-SHA").unwrap();
    let tcp = TcpStream::connect(server.addr("mqtts")).unwrap();
    tcp.set_read_timeout(Some(LOG_WAIT)).unwrap();
    let mut tls = builder.build().connect("localhost", tcp).unwrap();
    assert_eq!(tls.ssl().current_cipher().unwrap().name(), "AES128-SHA");
    tls.write_all(&bytes("10 r15 s4 'MQTT' 04 02 k60 s3 'esp'").unwrap())
        .unwrap();
    assert_eq!(read_packet(&mut tls).unwrap(), [0x20, 0x02, 0x00, 0x00]);
}

#[test]
fn refusals_are_explained_in_the_log() {
    let (dir, server) = start(&[]);
    let addr = server.addr("mqtts");

    // No client certificate.
    let no_cert = mosquitto_pub(
        &[
            "--cafile".into(),
            server.demo_file("root-ca.pem").display().to_string(),
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            addr.port().to_string(),
        ],
        &["-t", "t", "-m", "m"],
    );
    assert!(!no_cert.status.success());
    server
        .wait_for_log("sent no certificate", LOG_WAIT)
        .unwrap();

    // A certificate the registry does not know.
    let ca = pki::CertificateAuthority::generate(
        "stranger CA",
        pki::KeyAlgorithm::EcP256,
        pki::Validity::days_from_now(1),
    )
    .unwrap();
    let key = pki::generate_key(pki::KeyAlgorithm::EcP256).unwrap();
    let cert = ca
        .issue_client("stranger", &key, pki::Validity::days_from_now(1))
        .unwrap();
    let cert_path = dir.path().join("stranger.crt");
    let key_path = dir.path().join("stranger.key");
    pki::write_public_file(&cert_path, &pki::certificate_pem(&cert).unwrap()).unwrap();
    pki::write_private_key(
        &key_path,
        &pki::private_key_pem(&key, pki::KeyFormat::Pkcs8).unwrap(),
    )
    .unwrap();
    let mut args = server.demo_tls_args();
    args[3] = cert_path.display().to_string();
    args[5] = key_path.display().to_string();
    let stranger = mosquitto_pub(&args, &["-t", "t", "-m", "m", "-i", "stranger"]);
    assert!(!stranger.status.success());
    let id = pki::CertificateId::of(&cert).unwrap();
    let line = server.wait_for_log("is not registered", LOG_WAIT).unwrap();
    assert!(line.contains(id.as_str()), "{line}");

    // Plain MQTT sent to the TLS port.
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(&bytes("10 r13 s4 'MQTT' 04 02 k60 s1 'p'").unwrap())
        .unwrap();
    let line = server.wait_for_log("plain MQTT", LOG_WAIT).unwrap();
    assert!(line.contains("TLS port"), "{line}");

    // The same refusals are kept for `tether doctor recent`.
    let recent = refusals::read_recent(dir.path(), 10).unwrap();
    let kinds: Vec<&str> = recent.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["client_certificate", "not_registered", "not_tls"],
        "{recent:#?}"
    );
    assert_eq!(recent[1].principal.as_deref(), Some(id.as_str()));
    assert!(
        recent[0]
            .offered
            .as_deref()
            .unwrap_or("")
            .contains("TLS 1.2"),
        "{recent:#?}"
    );

    let metrics = http_get(server.addr("api"), "/metrics");
    assert!(
        metrics.contains("tether_certificates_refused_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tether_tls_handshake_failures_total{reason=\"client_certificate\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tether_tls_handshake_failures_total{reason=\"not_tls\"} 1"),
        "{metrics}"
    );
}

#[test]
fn aws_profile_rules_over_mutual_tls() {
    let (_dir, server) = start(&[]);
    let mut tls = demo_tls(&server);
    // MQTT 5 CONNECT: the CONNACK advertises AWS's limits (Maximum QoS 1, Topic Alias Maximum 8,
    // no subscription identifiers) and clamps keep-alive 10 to 30.
    tls.write_all(&bytes("10 r14 s4 'MQTT' 05 02 k10 00 s1 'a'").unwrap())
        .unwrap();
    let connack = read_packet(&mut tls).unwrap();
    let Ok(mqtt_proto::Packet::ConnAck(ack)) =
        mqtt_proto::codec::decode(bytes::Bytes::from(connack), mqtt_proto::Protocol::V5)
    else {
        panic!("expected CONNACK");
    };
    assert_eq!(ack.reason, mqtt_proto::ReasonCode::Success);
    assert_eq!(ack.properties.maximum_qos, Some(1));
    assert_eq!(ack.properties.topic_alias_maximum, Some(8));
    assert_eq!(
        ack.properties.subscription_identifiers_available,
        Some(false)
    );
    assert_eq!(ack.properties.server_keep_alive, Some(30));

    // QoS 1 publish to a topic with 8 slashes: PUBACK 0x90 Topic Name invalid.
    tls.write_all(&bytes("32 r22 s17 'a/b/c/d/e/f/g/h/i' m7 00").unwrap())
        .unwrap();
    assert_eq!(
        read_packet(&mut tls).unwrap(),
        bytes("40 r3 m7 90").unwrap()
    );
    // Seven slashes are fine.
    tls.write_all(&bytes("32 r20 s15 'a/b/c/d/e/f/g/h' m8 00").unwrap())
        .unwrap();
    assert_eq!(read_packet(&mut tls).unwrap(), bytes("40 r2 m8").unwrap());
    // A subscription identifier is not supported by AWS: DISCONNECT 0xA1.
    tls.write_all(&bytes("82 r9 m1 02 0B 01 s1 'x' 01").unwrap())
        .unwrap();
    assert_eq!(read_packet(&mut tls).unwrap(), bytes("E0 r1 A1").unwrap());
    assert_eq!(read_packet(&mut tls), None);

    // MQTT 3.1.1: QoS 2 is not supported by AWS, so the connection is closed.
    let mut tls = demo_tls(&server);
    tls.write_all(&bytes("10 r13 s4 'MQTT' 04 02 k60 s1 'b'").unwrap())
        .unwrap();
    assert_eq!(read_packet(&mut tls).unwrap(), [0x20, 0x02, 0x00, 0x00]);
    tls.write_all(&bytes("34 r6 s1 'q' m1 'x'").unwrap())
        .unwrap();
    assert_eq!(read_packet(&mut tls), None);
}

#[test]
fn sigterm_sends_mqtt5_clients_server_shutting_down() {
    let (_dir, server) = start(&["--profile", "mqtt", "--mqtt", "127.0.0.1:0"]);
    let mut tcp = TcpStream::connect(server.addr("mqtt")).unwrap();
    tcp.set_read_timeout(Some(LOG_WAIT)).unwrap();
    tcp.write_all(&bytes("10 r14 s4 'MQTT' 05 02 k60 00 s1 'z'").unwrap())
        .unwrap();
    let connack = read_packet(&mut tcp).unwrap();
    assert_eq!(&connack[..4], &[0x20, connack[1], 0x00, 0x00]);
    let status = server.terminate().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(read_packet(&mut tcp).unwrap(), bytes("E0 r1 8B").unwrap());
}

#[test]
fn sigterm_ends_the_server_promptly_with_and_without_the_api() {
    // Without an API listener nothing took the services worker's link for HTTP; a link left
    // over once kept the worker, and so the shutdown, waiting forever.
    for args in [&["--no-api"][..], &[][..]] {
        let (_dir, server) = start(args);
        let status = server
            .terminate_within(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("tether serve {args:?}: {e}"));
        assert!(status.success(), "{args:?}: {status:?}");
    }
}

#[test]
fn revoking_a_certificate_cuts_its_live_connection() {
    let (dir, server) = start(&[]);
    let args = server.demo_tls_args();
    let (mut sub, mut out) = subscriber(&args, &["-q", "1", "-t", "x", "-i", "victim"]);
    let mut store = store::Store::open(dir.path().join("tether.db")).unwrap();
    let id = pki::CertificateId::of(
        &pki::load_certificate(
            &std::fs::read(server.demo_file("certificate.pem.crt")).unwrap(),
            "demo",
        )
        .unwrap()
        .certificate,
    )
    .unwrap();
    store
        .update_certificate_status(id.as_str(), store::CertificateStatus::Revoked, 0)
        .unwrap();
    let line = server
        .wait_for_log("closing the connections of certificate", LOG_WAIT)
        .unwrap();
    assert!(line.contains("is REVOKED"), "{line}");
    // mosquitto_sub sees the connection go and tries to reconnect; the new handshake is refused.
    let line = server
        .wait_for_log("refused: certificate", LOG_WAIT)
        .unwrap();
    assert!(line.contains("is REVOKED"), "{line}");
    let _ = sub.kill();
    let _ = sub.wait();
    let mut rest = String::new();
    let _ = out.read_to_string(&mut rest);
}

#[test]
fn acknowledged_messages_for_offline_sessions_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let server = Tether::serve(tether(), dir.path(), &[]).unwrap();
    let args = server.demo_tls_args();
    // A persistent session (-c) subscribes, then goes away.
    let (mut sub, _) = subscriber(
        &args,
        &["-c", "-q", "1", "-t", "durable/#", "-i", "keeper", "-E"],
    );
    assert!(sub.wait().unwrap().success());

    // 50 QoS 1 messages, each acknowledged by the broker.
    let lines: String = (0..50).map(|i| format!("message {i}\n")).collect();
    let mut publisher = Command::new("mosquitto_pub")
        .args(&args)
        .args(["-q", "1", "-t", "durable/x", "-i", "producer", "-l", "-d"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    publisher
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let output = publisher.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stdout);
    assert_eq!(log.matches("received PUBACK").count(), 50, "{log}");

    // No goodbye: SIGKILL, then start again on the same data directory.
    server.kill9();
    let server = Tether::serve(tether(), dir.path(), &[]).unwrap();
    let args = server.demo_tls_args();
    let resumed = Command::new("mosquitto_sub")
        .args(&args)
        .args([
            "-c",
            "-q",
            "1",
            "-t",
            "durable/#",
            "-i",
            "keeper",
            "-C",
            "50",
            "-W",
            "20",
        ])
        .output()
        .unwrap();
    let received = String::from_utf8_lossy(&resumed.stdout);
    for i in 0..50 {
        assert!(
            received.contains(&format!("message {i}\n")),
            "message {i} lost:\n{received}"
        );
    }
}

#[test]
fn a_second_serve_on_the_same_data_directory_refuses_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let first = Tether::serve(tether(), dir.path(), &[]).unwrap();
    let second = Command::new(tether())
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--mqtts", "127.0.0.1:0", "--api", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(second.stdout.is_empty(), "no ready line from the second");
    assert!(err.contains(&format!("pid {}", first.pid())), "{err}");
    assert!(err.contains("--data-dir"), "{err}");
    // The first is unharmed, and the lock goes with its process: after SIGKILL a new server
    // starts on the directory (acknowledged_messages_for_offline_sessions_survive_sigkill
    // relies on that too).
    let args = first.demo_tls_args();
    let publish = mosquitto_pub(&args, &["-t", "still/here", "-m", "x", "-q", "1"]);
    assert!(publish.status.success());
    first.kill9();
    let again = Tether::serve(tether(), dir.path(), &[]).unwrap();
    drop(again);
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(LOG_WAIT)).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn attached_policies_decide_what_a_device_may_do() {
    let (dir, server) = start(&[]);
    // A second device, registered directly in the registry, with a policy that allows
    // connecting as itself and publishing under allowed/ only.
    let ca = pki::CertificateAuthority::generate(
        "fleet CA",
        pki::KeyAlgorithm::Rsa2048,
        pki::Validity::days_from_now(1),
    )
    .unwrap();
    let key = pki::generate_key(pki::KeyAlgorithm::Rsa2048).unwrap();
    let cert = ca
        .issue_client("sensor-1", &key, pki::Validity::days_from_now(1))
        .unwrap();
    let id = pki::CertificateId::of(&cert).unwrap();
    let cert_path = dir.path().join("sensor.crt");
    let key_path = dir.path().join("sensor.key");
    pki::write_public_file(&cert_path, &pki::certificate_pem(&cert).unwrap()).unwrap();
    pki::write_private_key(
        &key_path,
        &pki::private_key_pem(&key, pki::KeyFormat::Pkcs1).unwrap(),
    )
    .unwrap();
    let mut store = store::Store::open(dir.path().join("tether.db")).unwrap();
    store
        .register_certificate(
            &store::NewCertificate {
                id: id.as_str().to_owned(),
                pem: String::from_utf8(pki::certificate_pem(&cert).unwrap()).unwrap(),
                status: store::CertificateStatus::Active,
                ca_certificate_id: None,
                mode: store::CertificateMode::Default,
                owned_by: "123456789012".to_owned(),
                not_before_ms: 0,
                not_after_ms: i64::MAX,
            },
            0,
        )
        .unwrap();
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/sensor-1"},
        {"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/allowed/*"}]}"#;
    store.create_policy("sensor-policy", policy, 0).unwrap();
    store
        .attach_policy(
            "sensor-policy",
            &format!("arn:aws:iot:us-east-1:123456789012:cert/{id}"),
        )
        .unwrap();

    let mut args = server.demo_tls_args();
    args[3] = cert_path.display().to_string();
    args[5] = key_path.display().to_string();
    let ok = mosquitto_pub(
        &args,
        &["-q", "1", "-t", "allowed/x", "-m", "m", "-i", "sensor-1"],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // Another client id is not allowed to connect: CONNACK 5 (not authorized).
    let wrong_id = mosquitto_pub(&args, &["-t", "allowed/x", "-m", "m", "-i", "sensor-2"]);
    assert!(!wrong_id.status.success());
    let line = server
        .wait_for_log(
            "denied iot:Connect on arn:aws:iot:us-east-1:123456789012:client/sensor-2",
            LOG_WAIT,
        )
        .unwrap();
    assert!(line.contains("IMPLICIT_DENY"), "{line}");

    // MQTT 5: PUBACK 0x87 Not authorized, and the log names the policies consulted.
    let v5 = mosquitto_pub(
        &args,
        &[
            "-V",
            "mqttv5",
            "-q",
            "1",
            "-d",
            "-t",
            "forbidden/x",
            "-m",
            "m",
            "-i",
            "sensor-1",
        ],
    );
    let out = String::from_utf8_lossy(&v5.stdout);
    assert!(out.contains("received PUBACK (Mid: 1, RC:135)"), "{out}");
    let line = server
        .wait_for_log(
            "denied iot:Publish on arn:aws:iot:us-east-1:123456789012:topic/forbidden/x",
            LOG_WAIT,
        )
        .unwrap();
    assert!(line.contains("sensor-policy"), "{line}");

    // MQTT 3.1.1: AWS closes the connection.
    let v3 = mosquitto_pub(
        &args,
        &["-q", "1", "-t", "forbidden/y", "-m", "m", "-i", "sensor-1"],
    );
    assert!(
        !v3.status.success(),
        "the broker must close a 3.1.1 connection on a denied publish"
    );
}

#[test]
fn a_delivery_in_flight_to_a_live_persistent_session_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let server = Tether::serve(tether(), dir.path(), &[]).unwrap();
    // A raw MQTT 3.1.1 subscriber with a persistent session that never acknowledges.
    let mut sub = demo_tls(&server);
    sub.write_all(&bytes("10 r20 s4 'MQTT' 04 00 k60 s8 'inflight'").unwrap())
        .unwrap();
    assert_eq!(read_packet(&mut sub).unwrap(), [0x20, 0x02, 0x00, 0x00]);
    sub.write_all(&bytes("82 r13 m1 s8 'inflight' 01").unwrap())
        .unwrap();
    assert_eq!(
        read_packet(&mut sub).unwrap(),
        bytes("90 r3 m1 01").unwrap()
    );

    let args = server.demo_tls_args();
    let publish = mosquitto_pub(
        &args,
        &["-q", "1", "-d", "-t", "inflight", "-m", "precious"],
    );
    let log = String::from_utf8_lossy(&publish.stdout);
    assert!(log.contains("received PUBACK"), "{log}");
    let delivered = read_packet(&mut sub).unwrap();
    assert_eq!(
        delivered[0] & 0xF6,
        0x32,
        "a QoS 1 PUBLISH: {delivered:02X?}"
    );
    assert!(delivered.ends_with(b"precious"));

    // Crash with the delivery unacknowledged, restart, resume: it comes again.
    server.kill9();
    let server = Tether::serve(tether(), dir.path(), &[]).unwrap();
    let mut sub = demo_tls(&server);
    sub.write_all(&bytes("10 r20 s4 'MQTT' 04 00 k60 s8 'inflight'").unwrap())
        .unwrap();
    assert_eq!(
        read_packet(&mut sub).unwrap(),
        [0x20, 0x02, 0x01, 0x00],
        "session present"
    );
    let again = read_packet(&mut sub).unwrap();
    assert!(again.ends_with(b"precious"), "{again:02X?}");
    // Acknowledged now: after another restart nothing is left to send.
    let id = u16::from_be_bytes([again[12], again[13]]);
    sub.write_all(&[0x40, 0x02, (id >> 8) as u8, id as u8])
        .unwrap();
    sub.write_all(&[0xE0, 0x00]).unwrap();
    assert_eq!(read_packet(&mut sub), None);
    server.terminate().unwrap();
    let server = Tether::serve(tether(), dir.path(), &[]).unwrap();
    let mut sub = demo_tls(&server);
    sub.get_ref()
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    sub.write_all(&bytes("10 r20 s4 'MQTT' 04 00 k60 s8 'inflight'").unwrap())
        .unwrap();
    assert_eq!(read_packet(&mut sub).unwrap(), [0x20, 0x02, 0x01, 0x00]);
    assert_eq!(
        read_packet(&mut sub),
        None,
        "the acknowledged delivery must not come back"
    );
}
