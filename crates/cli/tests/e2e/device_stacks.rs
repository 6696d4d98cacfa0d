//! The device-stack matrix: small clients built from the TLS libraries devices run — BearSSL,
//! mbed TLS and wolfSSL compiled here with `cc` from `tests/device-stacks/`, tlslite-ng playing
//! ESP8266 NONOS libssl from `tests/python/nonos_axtls.py` — each configured as a real device
//! configures it, connect with mutual TLS to `tether serve` under every AWS security policy and
//! send an MQTT CONNECT and a QoS 1 PUBLISH (packets encoded with tether's codec). Every cell's
//! real outcome must equal what `tether doctor probe --profile …` predicts for that stack and
//! policy, and what AWS's documented policy table (`tls::policy::POLICIES`, contract §2.1)
//! says of the ClientHello the real client sent; each client's ClientHello is first captured
//! and compared with its profile. The matrix is written to `docs/device-stacks.md`, which
//! must match (rewrite it with `TETHER_WRITE_DEVICE_STACKS=1`, see the failure message).

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::properties::{ConnectProperties, PublishProperties};
use mqtt_proto::{
    Connect, Delivery, MqttStr, Packet, PacketId, Protocol, Publish, QoS, ReasonCode, TopicName,
};
use serde_json::Value;
use test_support::process::Tether;
use tls::policy::POLICIES;
use tls::{CipherSuite, ClientHello, DeviceProfile, ProtocolVersion, SecurityPolicy};

use crate::support::{api_url, run, tether, venv_bin};

/// The device's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Rsa2048,
    P256,
}

impl Key {
    /// The device (thing and client id) holding a key of this type.
    fn device(self) -> &'static str {
        match self {
            Key::Rsa2048 => "stack-rsa",
            Key::P256 => "stack-p256",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Key::Rsa2048 => "RSA-2048",
            Key::P256 => "P-256",
        }
    }
}

/// The program that plays the device: a C client (by library) or the tlslite-ng script.
#[derive(Debug, Clone, Copy)]
enum Client {
    C(&'static str),
    Tlslite,
}

/// One row: a device stack, the library that plays it, its configuration (which is also its
/// `doctor probe` profile) and its key.
struct Row {
    stack: &'static str,
    library: &'static str,
    client: Client,
    config: &'static str,
    key: Key,
}

const ROWS: &[Row] = &[
    Row {
        stack: "ESP8266 NONOS SDK libssl (axTLS 1.4.9)",
        library: "tlslite-ng 0.8, restricted to libssl's offer",
        client: Client::Tlslite,
        config: "esp8266-nonos-axtls",
        key: Key::Rsa2048,
    },
    Row {
        stack: "ESP8266 NONOS SDK mbedTLS (espconn)",
        library: "mbed TLS 2.28",
        client: Client::C("mbedtls"),
        config: "esp8266-nonos-mbedtls",
        key: Key::Rsa2048,
    },
    Row {
        stack: "ESP8266 Arduino core BearSSL",
        library: "BearSSL 0.6",
        client: Client::C("bearssl"),
        config: "esp8266-arduino-bearssl",
        key: Key::Rsa2048,
    },
    Row {
        stack: "ESP8266 Arduino core BearSSL",
        library: "BearSSL 0.6",
        client: Client::C("bearssl"),
        config: "esp8266-arduino-bearssl",
        key: Key::P256,
    },
    Row {
        stack: "ESP-IDF esp-tls (mbedTLS)",
        library: "mbed TLS 2.28",
        client: Client::C("mbedtls"),
        config: "esp-idf-mbedtls",
        key: Key::P256,
    },
    Row {
        stack: "wolfSSL (RTOS SDKs, ESP-TLS)",
        library: "wolfSSL 5.5",
        client: Client::C("wolfssl"),
        config: "wolfssl",
        key: Key::P256,
    },
    Row {
        stack: "wolfSSL, TLS 1.3-only build",
        library: "wolfSSL 5.5",
        client: Client::C("wolfssl"),
        config: "wolfssl-tls13",
        key: Key::Rsa2048,
    },
];

/// The C clients and the libraries each links.
const C_CLIENTS: &[(&str, &[&str])] = &[
    ("bearssl", &["-lbearssl"]),
    ("mbedtls", &["-lmbedtls", "-lmbedx509", "-lmbedcrypto"]),
    ("wolfssl", &["-lwolfssl"]),
];

/// The host name devices connect to: sent as SNI by the stacks that send it, and named in
/// tether serve's certificate.
const HOST: &str = "localhost";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Compiles the C clients with `cc` into the test's scratch directory, all at once.
fn build_clients() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("device-stacks");
    std::fs::create_dir_all(&dir).unwrap();
    let builds: Vec<_> = C_CLIENTS
        .iter()
        .map(|(name, libs)| {
            let source = repo().join(format!("tests/device-stacks/{name}_client.c"));
            let out = dir.join(format!("{name}_client"));
            let child = Command::new("cc")
                .args(["-O1", "-Wall", "-o"])
                .arg(&out)
                .arg(&source)
                .args(*libs)
                .stderr(Stdio::piped())
                .spawn()
                .expect("cc runs (scripts/setup installs gcc)");
            (name, child)
        })
        .collect();
    for (name, child) in builds {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "cc could not build tests/device-stacks/{name}_client.c (scripts/setup installs the \
             Debian packages libbearssl-dev, libmbedtls-dev, libwolfssl-dev):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// The device's files: CA, certificate, key.
fn files(data_dir: &Path, key: Key) -> [String; 3] {
    let dir = data_dir.join("devices").join(key.device());
    ["root-ca.pem", "certificate.pem.crt", "private.pem.key"]
        .map(|name| dir.join(name).display().to_string())
}

/// Runs a row's client against `port`, sending `packets`.
fn run_client(
    row: &Row,
    clients: &Path,
    data_dir: &Path,
    port: u16,
    packets: &[Vec<u8>],
) -> Output {
    let mut command = match row.client {
        Client::C(library) => {
            let mut c = Command::new(clients.join(format!("{library}_client")));
            c.arg(row.config);
            c
        }
        Client::Tlslite => {
            let mut c = Command::new(venv_bin().join("python"));
            c.arg(repo().join("tests/python/nonos_axtls.py"));
            c
        }
    };
    command.args(["127.0.0.1".to_owned(), port.to_string()]);
    if matches!(row.client, Client::C(_)) {
        command.arg(HOST);
    }
    command.args(files(data_dir, row.key));
    command.args(
        packets
            .iter()
            .map(|p| p.iter().map(|b| format!("{b:02x}")).collect::<String>()),
    );
    command.stdin(Stdio::null()).output().unwrap()
}

/// Runs a row's client against a listener of our own and returns the ClientHello it sent.
fn captured_hello(row: &Row, clients: &Path, data_dir: &Path) -> ClientHello {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (clients, data_dir) = (clients.to_owned(), data_dir.to_owned());
    let config = row.config;
    let client = std::thread::spawn(move || {
        let row = ROWS.iter().find(|r| r.config == config).unwrap();
        let out = run_client(row, &clients, &data_dir, port, &[]);
        // Should the client fail before connecting, this unblocks the accept below.
        let _ = TcpStream::connect(("127.0.0.1", port));
        out
    });
    let (mut stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = Vec::new();
    let hello = loop {
        match tls::parse_client_hello(&buf) {
            Ok(tls::Progress::Complete { hello, .. }) => break *hello,
            Ok(tls::Progress::Incomplete { .. }) => {}
            Err(e) => panic!("{}: its ClientHello does not parse: {e}", row.config),
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "{}: closed before a whole ClientHello", row.config);
        buf.extend_from_slice(&chunk[..n]);
    };
    drop(stream);
    client.join().unwrap();
    hello
}

/// The suites of `suites` that some AWS policy names for the given versions.
fn aws_relevant(
    suites: impl Iterator<Item = CipherSuite>,
    tls13: bool,
    tls12: bool,
) -> BTreeSet<u16> {
    suites
        .filter(|s| {
            s.openssl_name().is_some_and(|name| {
                POLICIES.iter().any(|p| {
                    (tls13 && p.tls13_suites.contains(&name))
                        || (tls12 && p.tls12_suites.contains(&name))
                })
            })
        })
        .map(|s| s.0)
        .collect()
}

/// The profile must offer what the real stack offered: versions, SNI, max_fragment_length,
/// and every suite any AWS policy names; its other suites must be in the real offer too.
fn assert_profile_matches(row: &Row, hello: &ClientHello, profile: &DeviceProfile) {
    let label = format!("{} ({} key)", row.config, row.key.name());
    // A hello without supported_versions shows only its highest version (its lowest is the
    // client's secret); one with the extension lists every version.
    assert_eq!(
        hello.max_version(),
        profile.max_version,
        "{label}: the highest version offered"
    );
    if !hello.supported_versions.is_empty() {
        for v in [
            ProtocolVersion::TLS10,
            ProtocolVersion::TLS11,
            ProtocolVersion::TLS12,
            ProtocolVersion::TLS13,
        ] {
            assert_eq!(
                hello.offers(v),
                profile.versions().contains(&v),
                "{label}: whether {v} is offered"
            );
        }
    }
    assert_eq!(
        hello.server_name.is_some(),
        profile.sends_sni,
        "{label}: SNI"
    );
    assert_eq!(
        hello.max_fragment_length.and_then(|m| m.bytes()),
        profile.max_fragment_length,
        "{label}: max_fragment_length"
    );
    let tls13 = hello.offers(ProtocolVersion::TLS13);
    let tls12 = hello.offers(ProtocolVersion::TLS12);
    let profile_suites = profile.cipher_suites.iter().map(|s| CipherSuite(*s));
    assert_eq!(
        aws_relevant(hello.real_suites(), tls13, tls12),
        aws_relevant(profile_suites.clone(), tls13, tls12),
        "{label}: the suites AWS's policies name"
    );
    let real: BTreeSet<u16> = hello.cipher_suites.iter().map(|s| s.0).collect();
    for s in profile_suites {
        assert!(
            real.contains(&s.0),
            "{label}: the profile offers {s}, the stack does not"
        );
    }
}

/// What AWS's documented table says of this hello under `policy` on port 8883: it connects when
/// a version and a suite for that version are shared; otherwise the hello is refused with 40.
fn aws_table(hello: &ClientHello, policy: &SecurityPolicy) -> Option<u8> {
    let shared = [ProtocolVersion::TLS13, ProtocolVersion::TLS12]
        .into_iter()
        .filter(|v| hello.offers(*v) && policy.allows_version(*v))
        .any(|v| {
            let allowed = if v == ProtocolVersion::TLS13 {
                policy.tls13_suites.to_vec()
            } else {
                policy.tls12_suites_on(8883)
            };
            hello
                .real_suites()
                .filter(|s| s.is_tls13() == (v == ProtocolVersion::TLS13))
                .any(|s| s.openssl_name().is_some_and(|n| allowed.contains(&n)))
        });
    (!shared).then_some(40)
}

/// One cell: connects (with what), or refused (with the alert, when one arrived).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cell {
    Connects(String),
    Refused(Option<u8>),
}

impl Cell {
    fn alert(&self) -> Option<Option<u8>> {
        match self {
            Cell::Connects(_) => None,
            Cell::Refused(alert) => Some(*alert),
        }
    }

    fn text(&self) -> String {
        match self {
            Cell::Connects(how) => format!("connects ({how})"),
            Cell::Refused(Some(a)) => format!("refused: alert {}", tls::Alert(*a)),
            Cell::Refused(None) => "refused without an alert".to_owned(),
        }
    }
}

/// CONNECT and a QoS 1 PUBLISH, encoded with tether's codec.
fn packets(device: &str, config: &str) -> Vec<Vec<u8>> {
    let connect = Packet::Connect(Box::new(Connect {
        protocol: Protocol::V311,
        clean_start: true,
        keep_alive: 60,
        client_id: MqttStr::new(device).unwrap(),
        will: None,
        username: None,
        password: None,
        properties: ConnectProperties::default(),
    }));
    let publish = Packet::Publish(Publish {
        dup: false,
        delivery: Delivery::new(QoS::AtLeastOnce, PacketId::new(1).unwrap()),
        retain: false,
        topic: TopicName::new(&format!("devices/{device}/matrix")).unwrap(),
        properties: PublishProperties::default(),
        payload: Bytes::from(format!("hello from {config}")),
    });
    [connect, publish]
        .iter()
        .map(|p| {
            let mut out = Vec::new();
            p.encode(Protocol::V311, &mut out).unwrap();
            out
        })
        .collect()
}

/// The real client's outcome: connects only when the handshake completed, CONNACK accepted
/// and the PUBLISH was acknowledged.
fn real_outcome(row: &Row, clients: &Path, server: &Tether) -> (Cell, String) {
    let port = server.addr("mqtts").port();
    let out = run_client(
        row,
        clients,
        server.data_dir(),
        port,
        &packets(row.key.device(), row.config),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let detail = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{}: {detail}", row.config);
    let v: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{}: not one JSON line ({e}): {detail}", row.config));
    let cell = match v["handshake"].as_str() {
        Some("ok") => {
            let decoded: Vec<Packet> = v["received"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    let hex = h.as_str().unwrap();
                    let raw: Vec<u8> = (0..hex.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                        .collect();
                    mqtt_proto::codec::decode(Bytes::from(raw), Protocol::V311).unwrap()
                })
                .collect();
            let accepted = matches!(decoded.first(), Some(Packet::ConnAck(a)) if a.reason == ReasonCode::Success);
            let acked = matches!(decoded.get(1), Some(Packet::PubAck(a)) if a.packet_id.get() == 1);
            if accepted && acked {
                let suite = v["suite"]
                    .as_str()
                    .and_then(|s| u16::from_str_radix(s.trim_start_matches("0x"), 16).ok())
                    .map(CipherSuite)
                    .unwrap();
                let version = v["version"].as_str().unwrap().replace("TLSv", "TLS ");
                Cell::Connects(format!("{version}, {suite}"))
            } else {
                Cell::Refused(None)
            }
        }
        Some("alert") => Cell::Refused(v["alert"].as_u64().map(|a| a as u8)),
        _ => Cell::Refused(None),
    };
    (cell, detail)
}

/// `tether doctor probe --profile CONFIG` with the row's device: its outcome, and the report.
fn predicted(row: &Row, server: &Tether) -> (Option<Option<u8>>, String) {
    let port = server.addr("mqtts").port();
    let [ca, cert, key] = files(server.data_dir(), row.key);
    let device = row.key.device();
    let out = run(&[
        "doctor",
        "probe",
        &format!("{HOST}:{port}"),
        "--profile",
        row.config,
        "--cafile",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
        "--client-id",
        device,
        "--topic",
        &format!("devices/{device}/probe"),
        "--json",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let report: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: probe JSON ({e}): {text}", row.config));
    let outcome = &report["outcome"];
    let refused = match outcome["result"].as_str() {
        Some("connects" | "hello_accepted") => None,
        Some("refused") => Some(outcome["alert"].as_u64().map(|a| a as u8)),
        other => panic!("{}: unknown probe outcome {other:?}: {text}", row.config),
    };
    (refused, text)
}

/// The policy name without AWS's prefix, for the table's head.
fn short(policy: &SecurityPolicy) -> &'static str {
    policy
        .name
        .strip_prefix("IoTSecurityPolicy_")
        .unwrap_or(policy.name)
}

fn offer_text(hello: &ClientHello) -> String {
    // Without supported_versions a hello shows only its highest version.
    let versions = if hello.supported_versions.is_empty() {
        format!("up to {}", hello.max_version())
    } else {
        [ProtocolVersion::TLS12, ProtocolVersion::TLS13]
            .into_iter()
            .filter(|v| hello.offers(*v))
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{versions}; {} suites; {}; {}",
        hello.real_suites().count(),
        if hello.server_name.is_some() {
            "SNI"
        } else {
            "no SNI"
        },
        hello
            .max_fragment_length
            .and_then(|m| m.bytes())
            .map_or("no max_fragment_length".to_owned(), |b| {
                format!("max_fragment_length {b}")
            })
    )
}

/// The page: how it was made, the matrix, and what each stack offered.
fn page(hellos: &[ClientHello], cells: &[Vec<Cell>]) -> String {
    let mut out = String::from(
        "# Device TLS stacks against tether serve\n\n\
         Generated by `crates/cli/tests/e2e/device_stacks.rs`; do not edit by hand (rewrite it \
         with `TETHER_WRITE_DEVICE_STACKS=1 cargo nextest run -p tether -E \
         'test(device_stack_matrix)'`).\n\n\
         Each row is a small client built from the TLS library a device runs, configured as \
         that device configures it (`tests/device-stacks/*.c`, compiled with `cc` against \
         Debian's libraries; `tests/python/nonos_axtls.py` for ESP8266 NONOS libssl, whose \
         library is closed, played by tlslite-ng restricted to exactly its offer). Each cell is \
         what happened when that client connected with mutual TLS, its CA certificate, \
         certificate and key in RAM, to `tether serve --tls-policy POLICY` (the policy names \
         below without their `IoTSecurityPolicy_` prefix) and sent an MQTT CONNECT and a QoS 1 \
         PUBLISH: it connects when CONNACK accepted the client and PUBACK acknowledged the \
         message. For every cell the test checked that `tether doctor probe --profile PROFILE` \
         predicted the same outcome, and that AWS's documented policy table (port 8883) says \
         the same of the ClientHello the client sent. Refusals carry the alert `tether serve` \
         sent, as AWS IoT Core sends it (docs/aws-differences.md, TLS alerts).\n\n",
    );
    out.push_str("| Device stack | Played by | Key | Profile |");
    for p in POLICIES {
        out.push_str(&format!(" {} |", short(p)));
    }
    out.push_str("\n|---|---|---|---|");
    for _ in POLICIES {
        out.push_str("---|");
    }
    out.push('\n');
    for (row, cells) in ROWS.iter().zip(cells) {
        out.push_str(&format!(
            "| {} | {} | {} | `{}` |",
            row.stack,
            row.library,
            row.key.name(),
            row.config
        ));
        for cell in cells {
            out.push_str(&format!(" {} |", cell.text()));
        }
        out.push('\n');
    }
    out.push_str(
        "\nWhat each client offered in its ClientHello, captured by the test and compared with \
         its profile (versions, SNI, max_fragment_length and every suite an AWS policy names \
         must agree):\n\n| Device stack | Key | Offer |\n|---|---|---|\n",
    );
    for (row, hello) in ROWS.iter().zip(hellos) {
        out.push_str(&format!(
            "| {} (`{}`) | {} | {} |\n",
            row.stack,
            row.config,
            row.key.name(),
            offer_text(hello)
        ));
    }
    out.push_str(
        "\nThe stacks that request max_fragment_length keep a 16 KB receive buffer, as these \
         devices do by default: `tether serve` (OpenSSL) honours the request and AWS IoT Core \
         ignores it (contract §2.4), so their outcome is the same on both.\n",
    );
    out
}

#[test]
fn device_stack_matrix() {
    let clients = build_clients();
    let dir = tempfile::tempdir().unwrap();
    let start = |policy: &SecurityPolicy| {
        Tether::serve(tether(), dir.path(), &["--tls-policy", policy.name]).unwrap()
    };

    // The two devices, issued by the first server and kept in the data directory.
    let first = start(&POLICIES[0]);
    for (key, key_type) in [(Key::Rsa2048, "rsa2048"), (Key::P256, "ec-p256")] {
        let out = run(&[
            "device",
            "create",
            key.device(),
            "--key-type",
            key_type,
            "--policy",
            "tether-dev-allow-all",
            "--endpoint-url",
            &api_url(&first),
            "--data-dir",
            dir.path().to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(first);

    // What each real client offers, against its profile.
    let hellos: Vec<ClientHello> = ROWS
        .iter()
        .map(|row| {
            let hello = captured_hello(row, &clients, dir.path());
            assert_profile_matches(row, &hello, DeviceProfile::by_name(row.config).unwrap());
            hello
        })
        .collect();

    let mut cells: Vec<Vec<Cell>> = ROWS.iter().map(|_| Vec::new()).collect();
    let mut wrong = Vec::new();
    for policy in POLICIES {
        let server = start(policy);
        for ((row, hello), row_cells) in ROWS.iter().zip(&hellos).zip(&mut cells) {
            let (real, detail) = real_outcome(row, &clients, &server);
            let (probe, report) = predicted(row, &server);
            let table = aws_table(hello, policy);
            let label = format!(
                "{} ({}) under {}",
                row.config,
                row.key.name(),
                short(policy)
            );
            if probe != real.alert() {
                wrong.push(format!(
                    "{label}: the real client {} but doctor probe predicted {probe:?}\n  \
                     client: {detail}\n  probe: {report}",
                    real.text()
                ));
            }
            if real.alert() != table.map(Some) {
                wrong.push(format!(
                    "{label}: the real client {} but AWS's table says {}\n  client: {detail}",
                    real.text(),
                    table.map_or("connects".to_owned(), |a| format!("refused with alert {a}"))
                ));
            }
            row_cells.push(real);
        }
        drop(server);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    let page = page(&hellos, &cells);
    let path = repo().join("docs/device-stacks.md");
    if std::env::var_os("TETHER_WRITE_DEVICE_STACKS").is_some() {
        std::fs::write(&path, &page).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == page,
        "docs/device-stacks.md is stale: rewrite it with\n  TETHER_WRITE_DEVICE_STACKS=1 cargo \
         nextest run -p tether -E 'test(device_stack_matrix)'\nand commit the result; the \
         matrix now reads:\n{page}"
    );
}
