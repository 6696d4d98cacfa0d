//! `[[fault]]` tables of `tether serve`: the real broker misbehaving towards chosen clients
//! while it routes for real, seen by mosquitto_pub/mosquitto_sub. A refused CONNECT and a
//! connection dropped mid-CONNACK end those clients with an error while another client of the
//! same server is served; a withheld SUBACK still subscribes (the retained message arrives); a
//! withheld PUBACK still delivers the message (a subscriber gets it, the publisher keeps waiting).
//! Peer addresses on the loopback network (mosquitto_pub -A) are presented alternate server
//! certificates: mosquitto_pub refuses the wrong-name, expired and untrusted ones (its alerts in
//! the refusal log), takes the large one, and with --insecure takes the wrong-name one only.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{lossy, mosquitto_pub, mosquitto_sub, start, with};

const FAULTS: &str = r#"
[[fault]]
client-id = "refused"
refuse-connack = 136

[[fault]]
client-id = "dropped"
drop-after-bytes = 2

[[fault]]
client-id = "nosuback"
withhold = ["SUBACK"]

[[fault]]
client-id = "nopuback"
withhold = ["puback"]
"#;

fn faulty_server() -> (
    tempfile::TempDir,
    tempfile::TempDir,
    test_support::process::Tether,
) {
    let config = tempfile::tempdir().unwrap();
    let path = config.path().join("faults.toml");
    std::fs::write(&path, FAULTS).unwrap();
    let (dir, server) = start(&["--config", path.to_str().unwrap()]);
    (config, dir, server)
}

#[test]
fn refused_and_dropped_clients_fail_while_others_are_served() {
    let (_config, _dir, server) = faulty_server();
    let args = server.demo_tls_args();
    let refused = mosquitto_pub(&with(&args, &["-i", "refused"]), &["-t", "f/x", "-m", "1"]);
    let err = lossy(&refused.stderr);
    assert!(!refused.status.success(), "{err}");
    assert!(err.contains("unavailable"), "CONNACK return code 3: {err}");

    let dropped = mosquitto_pub(&with(&args, &["-i", "dropped"]), &["-t", "f/x", "-m", "1"]);
    assert!(
        !dropped.status.success(),
        "two bytes of CONNACK, then the connection is gone: {}",
        lossy(&dropped.stderr)
    );

    let fine = mosquitto_pub(&with(&args, &["-i", "fine"]), &["-t", "f/x", "-m", "1"]);
    assert!(fine.status.success(), "{}", lossy(&fine.stderr));
}

#[test]
fn withheld_acknowledgements_do_not_stop_routing() {
    let (_config, _dir, server) = faulty_server();
    let args = server.demo_tls_args();
    let retained = mosquitto_pub(
        &with(&args, &["-i", "setup"]),
        &["-t", "f/retained", "-m", "kept", "-r", "-q", "1"],
    );
    assert!(retained.status.success(), "{}", lossy(&retained.stderr));
    let subscribed = mosquitto_sub(
        &with(&args, &["-i", "nosuback"]),
        &["-t", "f/retained", "-C", "1", "-W", "10"],
    );
    assert_eq!(
        lossy(&subscribed.stdout).trim(),
        "kept",
        "the SUBSCRIBE took effect though its SUBACK was withheld: {}",
        lossy(&subscribed.stderr)
    );

    let mut publisher = Command::new("mosquitto_pub")
        .args(with(&args, &["-i", "nopuback"]))
        .args(["-t", "f/live", "-m", "unacked", "-r", "-q", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let delivered = mosquitto_sub(
        &with(&args, &["-i", "watcher"]),
        &["-t", "f/live", "-C", "1", "-W", "10"],
    );
    assert_eq!(lossy(&delivered.stdout).trim(), "unacked");
    // mosquitto_pub exits once its PUBACK comes; it has not, so it still waits.
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        assert!(
            publisher.try_wait().unwrap().is_none(),
            "mosquitto_pub finished: it got a PUBACK that the plan withholds"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    publisher.kill().unwrap();
    publisher.wait().unwrap();
}

/// Alternate server certificates by peer address: loopback addresses stand for four devices.
const CERTIFICATES: &str = r#"
[[fault]]
peer = "127.0.0.2"
server-certificate = "wrong-name"

[[fault]]
peer = "127.0.0.3"
server-certificate = "expired"

[[fault]]
peer = "127.0.0.4"
server-certificate = "untrusted"

[[fault]]
peer = "127.0.0.5"
server-certificate = "large"
"#;

#[test]
fn peers_are_presented_the_alternate_server_certificate_their_table_names() {
    let config = tempfile::tempdir().unwrap();
    let path = config.path().join("certificates.toml");
    std::fs::write(&path, CERTIFICATES).unwrap();
    let (_dir, server) = start(&["--config", path.to_str().unwrap()]);
    let args = server.demo_tls_args();
    let publish = |from: &str, extra: &[&str]| {
        let mut extra = extra.to_vec();
        extra.extend(["-A", from, "-i", "alt", "-t", "f/alt", "-m", "1"]);
        mosquitto_pub(&args, &extra)
    };
    // Checked in full, mosquitto_pub refuses each alternate but the large one.
    for (from, what) in [
        ("127.0.0.2", "the wrong name"),
        ("127.0.0.3", "an expired certificate"),
        ("127.0.0.4", "an untrusted CA"),
    ] {
        let out = publish(from, &[]);
        let err = lossy(&out.stderr);
        assert!(!out.status.success(), "{from} accepted {what}: {err}");
        assert!(
            err.contains("certificate verify failed") || err.contains("TLS"),
            "{from}: {err}"
        );
    }
    let large = publish("127.0.0.5", &[]);
    assert!(large.status.success(), "{}", lossy(&large.stderr));
    // --insecure skips the name check only: the wrong-name certificate is taken, the expired
    // and the untrusted ones are not.
    let insecure = publish("127.0.0.2", &["--insecure"]);
    assert!(insecure.status.success(), "{}", lossy(&insecure.stderr));
    for from in ["127.0.0.3", "127.0.0.4"] {
        let out = publish(from, &["--insecure"]);
        assert!(!out.status.success(), "{from}: {}", lossy(&out.stderr));
    }
    // Other addresses get the real certificate.
    let real = publish("127.0.0.1", &[]);
    assert!(real.status.success(), "{}", lossy(&real.stderr));
    // The server's refusal log shows why each client refused: the alert it sent.
    let log = server.data_dir().join("refusals.jsonl");
    let deadline = Instant::now() + Duration::from_secs(10);
    let reasons = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let reasons: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| {
                let peer = v["peer"].as_str().unwrap_or("").to_owned();
                let ip = peer
                    .rsplit_once(':')
                    .map_or(peer.clone(), |(ip, _)| ip.to_owned());
                (ip, v["reason"].as_str().unwrap_or("").to_owned())
            })
            .collect();
        if reasons.len() >= 5 || Instant::now() > deadline {
            break reasons;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let said = |ip: &str, what: &str| {
        reasons
            .iter()
            .filter(|(from, _)| from == ip)
            .all(|(_, reason)| reason.contains(what))
    };
    assert!(said("127.0.0.3", "certificate expired"), "{reasons:?}");
    assert!(said("127.0.0.4", "unknown_ca"), "{reasons:?}");
    assert_eq!(
        reasons.iter().filter(|(ip, _)| ip == "127.0.0.2").count(),
        1,
        "{reasons:?}"
    );
    assert!(
        !reasons
            .iter()
            .any(|(ip, _)| ip == "127.0.0.5" || ip == "127.0.0.1"),
        "{reasons:?}"
    );
}
