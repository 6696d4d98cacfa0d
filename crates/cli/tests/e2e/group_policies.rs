//! Policies attached to a thing group, enforced by the broker end to end: a device connected with
//! `mosquitto_pub` (MQTT 5, so a refused publish is a PUBACK with reason code 135 and the
//! connection stays) gains a permission when a policy is attached to the parent group of its
//! thing's group, and loses it when the thing leaves the group, each within the registry
//! watcher's polling; a `mosquitto_sub` of the demo device sees what the group policy let
//! through.

use std::io::{BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{LOG_WAIT, aws, read_until, start, subscriber};

const GROUP_ARN: &str = "arn:aws:iot:us-east-1:123456789012:thinggroup/";

/// `mosquitto_pub -l` over MQTT 5: one connection that publishes a QoS 1 message per line
/// written to it and prints each PUBACK's reason code.
struct LinePublisher {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl LinePublisher {
    fn start(args: &[String]) -> LinePublisher {
        let mut child = Command::new("stdbuf")
            .args(["-oL", "mosquitto_pub"])
            .args(args)
            .args(["-V", "mqttv5", "-q", "1", "-d", "-l"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_pub is installed by scripts/setup");
        let input = child.stdin.take().unwrap();
        let mut output = BufReader::new(child.stdout.take().unwrap());
        read_until(&mut output, "received CONNACK (0)");
        LinePublisher {
            child,
            input,
            output,
        }
    }

    /// Publishes `line`; the PUBACK's reason code (0 accepted, 135 not authorized).
    fn publish(&mut self, line: &str) -> u8 {
        writeln!(self.input, "{line}").unwrap();
        self.input.flush().unwrap();
        let seen = read_until(&mut self.output, "received PUBACK");
        let last = seen.lines().last().unwrap();
        let code = last
            .split("RC:")
            .nth(1)
            .and_then(|rest| rest.trim_end_matches(')').parse().ok());
        code.unwrap_or_else(|| panic!("no reason code in {last:?}"))
    }

    /// Publishes until a PUBACK carries `code` (the registry watcher applies changes within
    /// about half a second); how long that took. Fails after ten seconds.
    fn until(&mut self, code: u8) -> Duration {
        let start = Instant::now();
        let mut n = 0;
        loop {
            n += 1;
            if self.publish(&format!("attempt {n}")) == code {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no PUBACK with reason code {code} after {n} publishes"
            );
            // Paces the attempts; the deadline above is what bounds the wait.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for LinePublisher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_thing_group_policy_reaches_a_connected_device_and_leaves_with_its_membership() {
    let (dir, server) = start(&[]);
    let keys = aws(
        &server,
        &["iot", "create-keys-and-certificate", "--set-as-active"],
    );
    let cert_arn = keys["certificateArn"].as_str().unwrap();
    let cert = dir.path().join("sensor.cert.pem");
    let key = dir.path().join("sensor.private.key");
    std::fs::write(&cert, keys["certificatePem"].as_str().unwrap()).unwrap();
    std::fs::write(&key, keys["keyPair"]["PrivateKey"].as_str().unwrap()).unwrap();
    aws(
        &server,
        &["iot", "create-thing", "--thing-name", "sensor-7"],
    );
    aws(
        &server,
        &[
            "iot",
            "attach-thing-principal",
            "--thing-name",
            "sensor-7",
            "--principal",
            cert_arn,
        ],
    );
    // The certificate itself may only connect.
    let connect_only = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#;
    aws(
        &server,
        &[
            "iot",
            "create-policy",
            "--policy-name",
            "connect-only",
            "--policy-document",
            connect_only,
        ],
    );
    aws(
        &server,
        &[
            "iot",
            "attach-policy",
            "--policy-name",
            "connect-only",
            "--target",
            cert_arn,
        ],
    );
    // The fleet's policy goes on the parent group; the thing joins a child group.
    let fleet_publish = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/fleet/${iot:Connection.Thing.ThingName}"}]}"#;
    aws(
        &server,
        &[
            "iot",
            "create-policy",
            "--policy-name",
            "fleet-publish",
            "--policy-document",
            fleet_publish,
        ],
    );
    aws(
        &server,
        &["iot", "create-thing-group", "--thing-group-name", "fleet"],
    );
    aws(
        &server,
        &[
            "iot",
            "create-thing-group",
            "--thing-group-name",
            "fleet-eu",
            "--parent-group-name",
            "fleet",
        ],
    );
    aws(
        &server,
        &[
            "iot",
            "add-thing-to-thing-group",
            "--thing-name",
            "sensor-7",
            "--thing-group-name",
            "fleet-eu",
        ],
    );

    let tls = server.demo_tls_args();
    let (_watcher, mut delivered) = subscriber(&tls, &["-i", "fleet-watcher", "-t", "fleet/#"]);
    let addr = server.addr("mqtts");
    let mut device = LinePublisher::start(&[
        "--cafile".to_owned(),
        server.demo_file("root-ca.pem").display().to_string(),
        "--cert".to_owned(),
        cert.display().to_string(),
        "--key".to_owned(),
        key.display().to_string(),
        "-h".to_owned(),
        addr.ip().to_string(),
        "-p".to_owned(),
        addr.port().to_string(),
        "-i".to_owned(),
        "sensor-7".to_owned(),
        "-t".to_owned(),
        "fleet/sensor-7".to_owned(),
    ]);
    assert_eq!(
        device.publish("before"),
        135,
        "no policy grants iot:Publish yet"
    );
    let denied = server.wait_for_log("fleet/sensor-7", LOG_WAIT).unwrap();
    assert!(denied.contains("connect-only"), "{denied}");

    // Measured from when the API call returns: the change is committed by then.
    aws(
        &server,
        &[
            "iot",
            "attach-policy",
            "--policy-name",
            "fleet-publish",
            "--target",
            &format!("{GROUP_ARN}fleet"),
        ],
    );
    let gained = device.until(0);
    eprintln!("the group's policy reached the live connection after {gained:?}");
    read_until(&mut delivered, "attempt");
    assert!(
        gained < Duration::from_secs(2),
        "the policy took {gained:?} to reach the connection"
    );

    aws(
        &server,
        &[
            "iot",
            "remove-thing-from-thing-group",
            "--thing-name",
            "sensor-7",
            "--thing-group-name",
            "fleet-eu",
        ],
    );
    let lost = device.until(135);
    eprintln!("leaving the group took the permission away after {lost:?}");
    assert!(
        lost < Duration::from_secs(2),
        "the permission outlived the membership by {lost:?}"
    );
}
