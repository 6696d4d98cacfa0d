//! Plays all broker conformance sequences (`shared/conformance/mqtt-sequences`, from the
//! Eclipse Mosquitto test suite) against the real `tether serve --profile mqtt` binary on
//! loopback ports. Every case passes except the deliberate differences listed in
//! `DEVIATIONS`, each with its reason; a listed case that starts to pass fails the test too, so
//! the list cannot rot. The sequence notation, loader and runner live in `test-support`; this
//! file only starts the server, splits the cases and judges the results.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use test_support::conformance::{Case, load_dir};
use test_support::runner::{Pass, run_all};

use crate::support::tether;

const SEQUENCES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/mqtt-sequences"
);

/// Worker threads for the cases that may run at once (the work is waiting on sockets).
const THREADS: usize = 8;
/// Per-read timeout: how long a case waits for a packet, or for a close it expects. Only a
/// failing case ever waits this long, so it is generous for a loaded machine.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server may take to print its ready line.
const STARTUP: Duration = Duration::from_secs(60);

// Why tether deliberately answers differently from the reference broker. Each reason cites
// the rule tether follows; where the specification leaves the choice open it says so.

const PROPERTY_NOT_ALLOWED: &str = "§2.2.2.2: a property the packet may not carry is answered 0x82 in every packet type, as \
     the reference does for CONNECT, wills, PUBLISH and the acknowledgements; it alone \
     answers 0x81 for SUBSCRIBE/UNSUBSCRIBE";
const NO_TOPIC_FILTER: &str = "[MQTT-3.8.3-2]/[MQTT-3.10.3-2]: a SUBSCRIBE/UNSUBSCRIBE without a topic filter is a \
     Protocol Error (0x82) in the specification's words; the reference answers 0x81";
const RETAIN_HANDLING_3: &str = "§3.8.3.1: Retain Handling 3 is a Protocol Error (0x82) in the specification's words; the \
     reference answers 0x81";
const PACKET_ID_0: &str = "[MQTT-2.2.1-3]: packet id 0 is answered 0x82 in every packet type, as the reference does \
     for PUBACK/PUBREC/PUBCOMP; it alone answers 0x81 for SUBSCRIBE/UNSUBSCRIBE";
const SERVER_ONLY_PACKET: &str = "§2.1.2 Table 2-1: a packet type only servers send is a Protocol Error (0x82) judged from \
     the first byte, as the reference judges AUTH; for these it checks the flags first (0x81)";
const INVALID_FLAGS: &str = "[MQTT-2.1.3-1]/[MQTT-3.6.1-1]: invalid fixed-header flags make a Malformed Packet \
     (0x81); the reference answers 0x82";
const EMPTY_TOPIC: &str = "§3.3.2.1: an empty topic name without a Topic Alias is a Protocol Error (0x82) in the \
     specification's words; the reference answers 0x81";
const EMPTY_RESPONSE_TOPIC: &str = "[MQTT-4.7.3-1]: an empty Response Topic is an invalid topic name, Malformed (0x81) like \
     every invalid topic name; the reference answers 0x82 for this one";
const CONNACK_BEFORE_CLOSE: &str = "[MQTT-3.1.4-1] and §4.13: a malformed MQTT 5 (level 5) CONNECT may get CONNACK 0x81 \
     before the close, and tether always tells the client why; the reference closes silently";
const ILL_FORMED_CLIENT_ID: &str = "[MQTT-1.5.4-1]/[MQTT-1.5.4-2]: ill-formed UTF-8 (U+0000, surrogates) makes a Malformed \
     Packet (0x81); 0x85 is for well-formed ids the server refuses, such as ids with control \
     characters";
const UNKNOWN_PACKET_ID: &str = "§3.6.2.1/§3.7.2.1: an unknown packet id in PUBREC/PUBREL is answered with 0x92 Packet \
     Identifier not found, the code the specification defines for it; the reference answers \
     Success";
const QOS2_RESEND: &str = "[MQTT-4.3.3-9]: until PUBREL every resend of the packet id must be answered with PUBREC; \
     the reference closes on the third copy";
const RETAINED_QOS2_ORDER: &str = "ARCHITECTURE.md invariant: a retained publish changes durable state, so its PUBREC waits \
     for the commit while its deliveries leave at once; the reference forwards QoS 2 messages \
     only at PUBREL";
const DOLLAR_TOPICS: &str = "reference-broker implementation choice: it refuses publishes into its own $SYS tree and \
     to $share/ topic names (0x87); tether keeps no $SYS tree and §4.7.2 only says SHOULD";

/// Every sequence tether deliberately fails, by full name ("group" + " " + test name), with
/// the reason. Grouped by reason; counts in the comments.
const DEVIATIONS: &[(&str, &str)] = &[
    // property not allowed (47)
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with payload-format-indicator (byte)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with request-problem-information (byte)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with maximum-qos (byte)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with retain-available (byte)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with wildcard-subscription-available (byte)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with subscription-identifier-available (byte)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with shared-subscription-available (byte)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with message-expiry-interval (four byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with session-expiry-interval (four byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with will-delay-interval (four byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with maximum-packet-size (four byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with content-type (UTF-8 string)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with response-topic (UTF-8 string)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with assigned-client-identifier (UTF-8 string)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with authentication-method (UTF-8 string)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with response-information (UTF-8 string)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with server-reference (UTF-8 string)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with correlation-data (binary data)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with authentication-data (binary data)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with server-keep-alive (two byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with receive-maximum (two byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with topic-alias-maximum (two byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   SUBSCRIBE DISALLOWED PROPERTIES 82 with topic-alias (two byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with payload-format-indicator (byte)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with request-problem-information (byte)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with maximum-qos (byte)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with retain-available (byte)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with wildcard-subscription-available (byte)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with subscription-identifier-available (byte)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with shared-subscription-available (byte)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with message-expiry-interval (four byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with session-expiry-interval (four byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with will-delay-interval (four byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with maximum-packet-size (four byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with content-type (UTF-8 string)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with response-topic (UTF-8 string)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with assigned-client-identifier (UTF-8 string)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with authentication-method (UTF-8 string)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with response-information (UTF-8 string)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with server-reference (UTF-8 string)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with correlation-data (binary data)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with authentication-data (binary data)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with subscription-identifier (variable byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with server-keep-alive (two byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with receive-maximum (two byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with topic-alias-maximum (two byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    (
        "v5.0   UNSUBSCRIBE DISALLOWED PROPERTIES A2 with topic-alias (two byte integer)",
        PROPERTY_NOT_ALLOWED,
    ),
    // no topic filter (3)
    (
        "v5.0   SUBSCRIBE 82 QoS 3 [MQTT-3-8.3-2] (no topic or qos)",
        NO_TOPIC_FILTER,
    ),
    ("v5.0   SUBSCRIBE 82 short 3", NO_TOPIC_FILTER),
    (
        "v5.0   UNSUBSCRIBE A2 short 3 [MQTT-3.10.3-2]",
        NO_TOPIC_FILTER,
    ),
    // retain handling 3 (1)
    (
        "v5.0   SUBSCRIBE 82 QoS 0 retain handling=3 0x30 [MQTT-3-8.3-4]",
        RETAIN_HANDLING_3,
    ),
    // packet id 0 (2)
    ("v5.0   SUBSCRIBE 82 mid 0", PACKET_ID_0),
    ("v5.0   UNSUBSCRIBE A2 zero mid", PACKET_ID_0),
    // server only packet (12)
    ("v5.0   PINGRESP D1", SERVER_ONLY_PACKET),
    ("v5.0   PINGRESP D2", SERVER_ONLY_PACKET),
    ("v5.0   PINGRESP D4", SERVER_ONLY_PACKET),
    ("v5.0   PINGRESP D8", SERVER_ONLY_PACKET),
    ("v5.0   SUBACK 91", SERVER_ONLY_PACKET),
    ("v5.0   SUBACK 92", SERVER_ONLY_PACKET),
    ("v5.0   SUBACK 94", SERVER_ONLY_PACKET),
    ("v5.0   SUBACK 98", SERVER_ONLY_PACKET),
    ("v5.0   UNSUBACK B1", SERVER_ONLY_PACKET),
    ("v5.0   UNSUBACK B2", SERVER_ONLY_PACKET),
    ("v5.0   UNSUBACK B4", SERVER_ONLY_PACKET),
    ("v5.0   UNSUBACK B8", SERVER_ONLY_PACKET),
    // invalid flags (8)
    ("v5.0   DISCONNECT E1 [MQTT-3.14.1-1]", INVALID_FLAGS),
    ("v5.0   DISCONNECT E2 [MQTT-3.14.1-1]", INVALID_FLAGS),
    ("v5.0   DISCONNECT E4 [MQTT-3.14.1-1]", INVALID_FLAGS),
    ("v5.0   DISCONNECT E8 [MQTT-3.14.1-1]", INVALID_FLAGS),
    ("v5.0   PUBREL 63 unsolicited", INVALID_FLAGS),
    ("v5.0   PUBREL 64 unsolicited", INVALID_FLAGS),
    ("v5.0   PUBREL 66 unsolicited", INVALID_FLAGS),
    ("v5.0   PUBREL 6A unsolicited", INVALID_FLAGS),
    // empty topic (1)
    ("v5.0   PUBLISH 30 topic 0", EMPTY_TOPIC),
    // empty response topic (1)
    (
        "v5.0   WILL ALLOWED PROPERTIES response-topic (UTF-8 string) empty",
        EMPTY_RESPONSE_TOPIC,
    ),
    // connack before close (12)
    (
        "v3.1.1 CONNECT 10 incorrect command flags",
        CONNACK_BEFORE_CLOSE,
    ),
    ("v3.1.1 CONNECT 10 missing keepalive", CONNACK_BEFORE_CLOSE),
    (
        "v5.0   CONNECT 10 Will flag 1 Will Qos 3 [MQTT-3.1.2-14]",
        CONNACK_BEFORE_CLOSE,
    ),
    ("v5.0   CONNECT 10 [MQTT-3.1.2-17]", CONNACK_BEFORE_CLOSE),
    (
        "v5.0   CONNECT 10 Username with 0x0000",
        CONNACK_BEFORE_CLOSE,
    ),
    (
        "v5.0   CONNECT 10 Username with 0xD800",
        CONNACK_BEFORE_CLOSE,
    ),
    (
        "v5.0   CONNECT 10 Username with 0x0001",
        CONNACK_BEFORE_CLOSE,
    ),
    (
        "v5.0   CONNECT 10 Username with 0x001F",
        CONNACK_BEFORE_CLOSE,
    ),
    (
        "v5.0   CONNECT 10 Username with 0x007F",
        CONNACK_BEFORE_CLOSE,
    ),
    (
        "v5.0   CONNECT 10 Username with 0x009F",
        CONNACK_BEFORE_CLOSE,
    ),
    (
        "v5.0   CONNECT 10 Username with 0xFFFF",
        CONNACK_BEFORE_CLOSE,
    ),
    ("v5.0   CONNECT 10 [MQTT-3.1.2-19]", CONNACK_BEFORE_CLOSE),
    // ill formed client id (3)
    (
        "v5.0   CONNECT 10 Client ID with 0x0000",
        ILL_FORMED_CLIENT_ID,
    ),
    (
        "v5.0   CONNECT 10 Client ID with U+D800",
        ILL_FORMED_CLIENT_ID,
    ),
    (
        "v5.0   CONNECT 10 Client ID with U+FFFF",
        ILL_FORMED_CLIENT_ID,
    ),
    // unknown packet id (22)
    ("v5.0   PUBREC 50 unsolicited len=2", UNKNOWN_PACKET_ID),
    ("v5.0   PUBREC 50 unsolicited len=3", UNKNOWN_PACKET_ID),
    ("v5.0   PUBREC 50 unsolicited len=4 ok", UNKNOWN_PACKET_ID),
    (
        "v5.0   PUBREC ALLOWED PROPERTIES 50 with reason-string property",
        UNKNOWN_PACKET_ID,
    ),
    (
        "v5.0   PUBREC ALLOWED PROPERTIES 50 with reason-string property empty",
        UNKNOWN_PACKET_ID,
    ),
    (
        "v5.0   PUBREC ALLOWED PROPERTIES 50 with user-property",
        UNKNOWN_PACKET_ID,
    ),
    (
        "v5.0   PUBREC ALLOWED PROPERTIES 50 with 2*user-property",
        UNKNOWN_PACKET_ID,
    ),
    (
        "v5.0   PUBREC ALLOWED PROPERTIES 50 with user-property empty key",
        UNKNOWN_PACKET_ID,
    ),
    (
        "v5.0   PUBREC ALLOWED PROPERTIES 50 with user-property empty value",
        UNKNOWN_PACKET_ID,
    ),
    (
        "v5.0   PUBREC ALLOWED PROPERTIES 50 with user-property empty key,value",
        UNKNOWN_PACKET_ID,
    ),
    ("v5.0   PUBREL 62 unsolicited len=2", UNKNOWN_PACKET_ID),
    ("v5.0   PUBREL 62 unsolicited len=3", UNKNOWN_PACKET_ID),
    ("v5.0   PUBREL 62 unsolicited len=3 fail", UNKNOWN_PACKET_ID),
    ("v5.0   PUBREL 62 unsolicited len=4 ok", UNKNOWN_PACKET_ID),
    (
        "v5.0   PUBREL 62 unsolicited len=4 rc=fail",
        UNKNOWN_PACKET_ID,
    ),
    (
        "v5.0   PUBREL ALLOWED PROPERTIES 62 with reason-string property",
        UNKNOWN_PACKET_ID,
    ),
    (
        "v5.0   PUBREL ALLOWED PROPERTIES 62 with reason-string property empty",
        UNKNOWN_PACKET_ID,
    ),
    (
        "v5.0   PUBREL ALLOWED PROPERTIES 62 with user-property",
        UNKNOWN_PACKET_ID,
    ),
    (
        "v5.0   PUBREL ALLOWED PROPERTIES 62 with 2*user-property",
        UNKNOWN_PACKET_ID,
    ),
    (
        "v5.0   PUBREL ALLOWED PROPERTIES 62 with user-property empty key",
        UNKNOWN_PACKET_ID,
    ),
    (
        "v5.0   PUBREL ALLOWED PROPERTIES 62 with user-property empty value",
        UNKNOWN_PACKET_ID,
    ),
    (
        "v5.0   PUBREL ALLOWED PROPERTIES 62 with user-property empty key,value",
        UNKNOWN_PACKET_ID,
    ),
    // qos2 resend (2)
    ("v3.1.1 PUBLISH 34 QoS 2 Dup flow*3", QOS2_RESEND),
    ("v5.0   PUBLISH 34 QoS 2 Dup flow*3", QOS2_RESEND),
    // retained qos2 order (2)
    (
        "v3.1.1 OTHER subpub retain as normal qos2",
        RETAINED_QOS2_ORDER,
    ),
    (
        "v5.0   OTHER subpub retain as normal qos2",
        RETAINED_QOS2_ORDER,
    ),
    // dollar topics (3)
    (
        "v5.0   PUBLISH PUBLISH with $ topic - uptime",
        DOLLAR_TOPICS,
    ),
    (
        "v5.0   PUBLISH PUBLISH with $ topic - connection",
        DOLLAR_TOPICS,
    ),
    ("v5.0   PUBLISH PUBLISH with $ topic - share", DOLLAR_TOPICS),
];

/// The server under test; killed when dropped, whatever happened.
struct Server {
    child: Child,
    mqtt: SocketAddr,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `tether serve --profile mqtt` on port 0, with `extra` arguments, and waits for
    /// its ready line.
    fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("serve.log");
        let data_dir = dir.path().join("data");
        let mut child = Command::new(tether())
            .arg("serve")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--profile", "mqtt", "--no-api"])
            .args(["--mqtts", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = mpsc::channel();
        // Reads the ready line, then keeps draining stdout so the server never blocks on it.
        std::thread::spawn(move || {
            let mut ready = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("tether ready")
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(line);
                }
            }
        });
        let mut server = Server {
            child,
            mqtt: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            _dir: dir,
        };
        let line = match ready_rx.recv_timeout(STARTUP) {
            Ok(line) => line,
            Err(e) => panic!(
                "tether serve never became ready ({e}):\n{}",
                server.log_tail()
            ),
        };
        server.mqtt = line
            .split_whitespace()
            .find_map(|field| field.strip_prefix("mqtt="))
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no mqtt=ADDR in the ready line {line:?}"));
        server
    }

    /// The end of the server's log, for failure messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let skip = lines.len().saturating_sub(30);
        lines
            .iter()
            .skip(skip)
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tether_passes_the_broker_conformance_sequences() {
    let started = Instant::now();
    let cases = load_dir(Path::new(SEQUENCES)).unwrap();
    assert_eq!(
        cases.len(),
        1826,
        "the sequence set changed; review DEVIATIONS"
    );

    let deviations = deviation_table(&cases);
    let (listed, expected_pass): (Vec<Case>, Vec<Case>) = cases
        .into_iter()
        .partition(|case| deviations.contains_key(case.full_name.as_str()));

    let server = Server::start(&[]);
    // The listed cases run last: some stop half way and leave retained messages or sessions
    // behind, which must not reach the cases expected to pass.
    let passing = run_all(server.mqtt, &expected_pass, THREADS, READ_TIMEOUT);
    let deviating = run_all(server.mqtt, &listed, THREADS, READ_TIMEOUT);

    let mut problems = Vec::new();
    let (mut exact, mut equivalent) = (0, 0);
    for (case, result) in expected_pass.iter().zip(&passing) {
        match result {
            Ok(Pass::Exact) => exact += 1,
            Ok(Pass::Equivalent) => equivalent += 1,
            Err(failure) => problems.push(format!("FAIL {}: {}", describe(case), failure)),
        }
    }
    for (case, result) in listed.iter().zip(&deviating) {
        if result.is_ok() {
            problems.push(format!(
                "PASSES {} although DEVIATIONS lists it ({}); remove it from the list",
                describe(case),
                deviations
                    .get(case.full_name.as_str())
                    .copied()
                    .unwrap_or_default()
            ));
        }
    }
    let groups: HashSet<&str> = deviations.values().copied().collect();
    println!(
        "conformance: {} sequences in {:.1} s: {} passed ({exact} exact, {equivalent} \
         equivalent), {} deliberate differences in {} groups, {} unexpected",
        expected_pass.len() + listed.len(),
        started.elapsed().as_secs_f64(),
        exact + equivalent,
        listed.len(),
        groups.len(),
        problems.len()
    );
    assert!(
        problems.is_empty(),
        "{} conformance problem(s):\n{}\n--- server log tail ---\n{}",
        problems.len(),
        problems.join("\n"),
        server.log_tail()
    );
}

/// tether's own sequences (`conformance/tether.json`, in the same notation plus `wait` and
/// `repeat`): the MQTT 5 behaviours an outside interoperability suite found missing — Message
/// Expiry reduced by the time a message waited, No Local with a SUBSCRIBE not waited for, the
/// DISCONNECT a client still writing must be able to read, a maximum keep-alive and refused
/// filters from the config file (`conformance/tether.toml`). Every one must pass.
#[test]
fn tether_passes_its_own_sequences() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/conformance");
    let text = std::fs::read_to_string(dir.join("tether.json")).unwrap();
    let cases = test_support::conformance::load_str("tether.json", &text).unwrap();
    let config = dir.join("tether.toml");
    let server = Server::start(&["--config", config.to_str().unwrap()]);
    let results = run_all(server.mqtt, &cases, THREADS, READ_TIMEOUT);
    let problems: Vec<String> = cases
        .iter()
        .zip(&results)
        .filter_map(|(case, result)| {
            result
                .as_ref()
                .err()
                .map(|failure| format!("FAIL {}: {failure}", describe(case)))
        })
        .collect();
    assert!(cases.len() >= 12, "{} cases", cases.len());
    assert!(
        problems.is_empty(),
        "{} of tether's own sequences failed:\n{}\n--- server log tail ---\n{}",
        problems.len(),
        problems.join("\n"),
        server.log_tail()
    );
}

/// `DEVIATIONS` as a map, checked against the cases: no entry twice, every entry names a case.
fn deviation_table(cases: &[Case]) -> HashMap<&'static str, &'static str> {
    let names: HashSet<&str> = cases.iter().map(|c| c.full_name.as_str()).collect();
    let mut table = HashMap::new();
    for &(name, why) in DEVIATIONS {
        assert!(names.contains(name), "DEVIATIONS names no case: {name:?}");
        assert!(
            table.insert(name, why).is_none(),
            "DEVIATIONS lists {name:?} twice"
        );
    }
    table
}

fn describe(case: &Case) -> String {
    format!("{} :: {}", case.file, case.full_name)
}
