//! `[[fault]]` tables of `tether serve`: the real broker misbehaving towards chosen clients
//! while it routes for real, seen by mosquitto_pub/mosquitto_sub. A refused CONNECT and a
//! connection dropped mid-CONNACK end those clients with an error while another client of the
//! same server is served; a withheld SUBACK still subscribes (the retained message arrives); a
//! withheld PUBACK still delivers the message (a subscriber gets it, the publisher keeps waiting).

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
