//! Bridges and the device gateway end to end: `tether serve` with a `[[bridge]]` table in front
//! of a second `tether serve` playing AWS IoT Core (TLS 1.2-only policy, its policies enforced)
//! and of the Debian mosquitto broker, with mosquitto's clients on both sides. Messages cross
//! both ways, once each (a `both` line does not loop); an upstream stopped and restarted mid-stream, with a `kill -9` of the gateway
//! during the outage, loses nothing the gateway acknowledged (message accounting); the state
//! shows in the ready line and `/metrics`; an upstream's refusal is explained by `tether doctor
//! recent`; a bad table stops the start with its name. A TLS 1.1-only client (an ESP8266 on
//! the NONOS SDK) that AWS refuses connects to the `--mqtts-legacy` listener only with
//! `--allow-legacy-tls`, and what it publishes reaches the upstream through the bridge.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use openssl::ssl::SslVersion;
use test_support::process::Tether;

use crate::support::mosquitto::Mosquitto;
use crate::support::{
    LOG_WAIT, demo_connector, mosquitto_pub, read_packet, run, start, tether, text,
};

/// A mosquitto_sub (-d, line-buffered) whose stdout lines arrive on a channel, so every wait
/// has a deadline.
struct Lines {
    child: Child,
    lines: Receiver<String>,
}

impl Lines {
    fn mosquitto_sub(args: &[String]) -> Lines {
        let mut child = Command::new("stdbuf")
            .args(["-oL", "mosquitto_sub"])
            .args(args)
            .arg("-d")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub is installed by scripts/setup");
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { child, lines }
    }

    fn next(&self, seen: &str) -> String {
        self.lines
            .recv_timeout(LOG_WAIT)
            .unwrap_or_else(|_| panic!("no line from mosquitto_sub in time; it printed:\n{seen}"))
    }

    /// Reads until a line contains `needle`.
    fn until(&self, needle: &str) {
        let mut seen = String::new();
        loop {
            let line = self.next(&seen);
            if line.contains(needle) {
                return;
            }
            seen.push_str(&line);
            seen.push('\n');
        }
    }

    /// The next `topic payload` line (with -v) whose topic starts with `prefix`.
    fn message(&self, prefix: &str) -> String {
        let mut seen = String::new();
        loop {
            let line = self.next(&seen);
            if line.starts_with(prefix) {
                return line;
            }
            seen.push_str(&line);
            seen.push('\n');
        }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `text` as `tether.toml` in a new directory and returns both.
fn config_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tether.toml");
    std::fs::write(&file, text).unwrap();
    let file = file.display().to_string();
    (dir, file)
}

/// `GET /metrics` on the server's API listener.
fn metrics(server: &Tether) -> String {
    let mut tcp = TcpStream::connect(server.addr("api")).unwrap();
    tcp.set_read_timeout(Some(LOG_WAIT)).unwrap();
    write!(
        tcp,
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    response
}

/// Polls `/metrics` until the line `series value` is there (the bridge's task updates its
/// state on its own schedule); panics with the last exposition after 10 s.
fn wait_metric(server: &Tether, series: &str, value: &str) {
    let want = format!("{series} {value}");
    let deadline = Instant::now() + LOG_WAIT;
    loop {
        let text = metrics(server);
        if text.lines().any(|l| l == want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {want:?} in /metrics:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Publishes the numbers of `range` on `topic`, one QoS 1 message each, through the gateway
/// with mosquitto_pub -l; it exits 0 only once the gateway has acknowledged every one.
fn publish_numbers(gateway: &Tether, topic: &str, range: std::ops::Range<u32>) {
    let mut child = Command::new("mosquitto_pub")
        .args(gateway.demo_tls_args())
        .args(["-i", "sensor-1", "-q", "1", "-t", topic, "-l"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mosquitto_pub is installed by scripts/setup");
    let mut stdin = child.stdin.take().unwrap();
    for n in range {
        writeln!(stdin, "{n}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "mosquitto_pub -l: {}", text(&out));
}

#[test]
fn a_device_on_the_gateway_reaches_a_second_tether_playing_aws_iot_core_both_ways() {
    let (_upstream_dir, upstream) = start(&["--tls-policy", "IoTSecurityPolicy_TLS12_1_2_2022_10"]);
    let port = upstream.addr("mqtts").port();
    let file = |name: &str| upstream.demo_file(name).display().to_string();
    // The three files AWS IoT gives a thing, as the bridge's identity upstream.
    let (_config_dir, config) = config_file(&format!(
        "[[bridge]]\nname = \"aws\"\naddress = \"localhost:{port}\"\nclient-id = \"site-1-gateway\"\n\
         cafile = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n\
         topics = [\n  {{ pattern = \"telemetry/#\", direction = \"out\", qos = 1, remote-prefix = \"site-1/\" }},\n  \
         {{ pattern = \"cmd/#\", direction = \"in\", qos = 1, remote-prefix = \"site-1/\" }},\n]\n",
        file("root-ca.pem"),
        file("certificate.pem.crt"),
        file("private.pem.key"),
    ));
    let (_gateway_dir, gateway) = start(&["--config", &config]);
    assert_eq!(
        gateway.ready_value("bridge-aws"),
        Some(format!("localhost:{port}").as_str())
    );
    gateway
        .wait_for_log(
            "bridge aws: subscribed upstream to 1 inbound filter(s)",
            LOG_WAIT,
        )
        .unwrap();

    let mut cloud = upstream.demo_tls_args();
    cloud.extend(
        [
            "-i",
            "cloud-app",
            "-q",
            "1",
            "-v",
            "-t",
            "site-1/telemetry/#",
        ]
        .map(String::from),
    );
    let cloud = Lines::mosquitto_sub(&cloud);
    cloud.until("received SUBACK");
    let mut device = gateway.demo_tls_args();
    device.extend(["-i", "device-2", "-q", "1", "-v", "-t", "cmd/#"].map(String::from));
    let device = Lines::mosquitto_sub(&device);
    device.until("received SUBACK");

    let mut sensor = gateway.demo_tls_args();
    sensor.extend(["-i", "sensor-1"].map(String::from));
    let out = mosquitto_pub(&sensor, &["-q", "1", "-t", "telemetry/temp", "-m", "21.5"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(cloud.message("site-1/"), "site-1/telemetry/temp 21.5");

    let mut operator = upstream.demo_tls_args();
    operator.extend(["-i", "cloud-operator"].map(String::from));
    let out = mosquitto_pub(
        &operator,
        &["-q", "1", "-t", "site-1/cmd/reboot", "-m", "now"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(device.message("cmd/"), "cmd/reboot now");

    let upstream_label = format!("upstream=\"localhost:{port}\"");
    wait_metric(
        &gateway,
        &format!("tether_bridge_connected{{bridge=\"aws\",{upstream_label}}}"),
        "1",
    );
    wait_metric(
        &gateway,
        "tether_bridge_messages_total{bridge=\"aws\",direction=\"out\"}",
        "1",
    );
    wait_metric(
        &gateway,
        "tether_bridge_messages_total{bridge=\"aws\",direction=\"in\"}",
        "1",
    );
    wait_metric(&gateway, "tether_bridge_queued{bridge=\"aws\"}", "0");

    // Paced to AWS IoT Core's 100 publishes per second per connection (excess is silently
    // discarded there): a burst of 250 goes up a second's worth at once, then 100 a second, so
    // the last arrives no sooner than 1.5 s after the first.
    let started = Instant::now();
    publish_numbers(&gateway, "telemetry/n", 0..250);
    for n in 0..250 {
        assert_eq!(cloud.message("site-1/"), format!("site-1/telemetry/n {n}"));
    }
    let elapsed = started.elapsed();
    println!(
        "250 messages crossed in {:.2} s ({:.0}/s)",
        elapsed.as_secs_f64(),
        250.0 / elapsed.as_secs_f64()
    );
    assert!(elapsed >= Duration::from_millis(1400), "{elapsed:?}");
    wait_metric(
        &gateway,
        "tether_bridge_messages_total{bridge=\"aws\",direction=\"out\"}",
        "251",
    );
    // A stop is prompt with a bridge connected, and clean.
    assert!(gateway.terminate().unwrap().success());
}

#[test]
fn a_bridge_over_websockets_signs_with_sigv4_from_the_environment() {
    let (_upstream_dir, upstream) = start(&["--wss", "127.0.0.1:0"]);
    let port = upstream.addr("wss").port();
    let file = |name: &str| upstream.demo_file(name).display().to_string();
    // AWS IoT Core's wss endpoint: the upstream's CA, no client certificate, SigV4 with the
    // credentials in tether serve's environment (the documented development credential here).
    let (_config_dir, config) = config_file(&format!(
        "[[bridge]]\nname = \"aws-wss\"\naddress = \"localhost:{port}\"\n\
         client-id = \"site-2-gateway\"\ntransport = \"wss\"\ncafile = \"{}\"\n\
         topics = [\n  {{ pattern = \"telemetry/#\", direction = \"out\", qos = 1, remote-prefix = \"site-2/\" }},\n  \
         {{ pattern = \"cmd/#\", direction = \"in\", qos = 1, remote-prefix = \"site-2/\" }},\n]\n",
        file("root-ca.pem"),
    ));
    let gateway_dir = tempfile::tempdir().unwrap();
    let credentials = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let gateway = Tether::serve_with_env(
        tether(),
        gateway_dir.path(),
        &["--config", &config],
        &credentials,
    )
    .unwrap();
    gateway
        .wait_for_log(
            "bridge aws-wss: subscribed upstream to 1 inbound filter(s)",
            LOG_WAIT,
        )
        .unwrap();

    let mut cloud = upstream.demo_tls_args();
    cloud.extend(["-i", "cloud-app", "-q", "1", "-v", "-t", "site-2/#"].map(String::from));
    let cloud = Lines::mosquitto_sub(&cloud);
    cloud.until("received SUBACK");
    let mut device = gateway.demo_tls_args();
    device.extend(["-i", "device-7", "-q", "1", "-v", "-t", "cmd/#"].map(String::from));
    let device = Lines::mosquitto_sub(&device);
    device.until("received SUBACK");

    let mut sensor = gateway.demo_tls_args();
    sensor.extend(["-i", "sensor-7"].map(String::from));
    let out = mosquitto_pub(&sensor, &["-q", "1", "-t", "telemetry/rh", "-m", "40"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(cloud.message("site-2/"), "site-2/telemetry/rh 40");

    let mut operator = upstream.demo_tls_args();
    operator.extend(["-i", "cloud-operator"].map(String::from));
    let out = mosquitto_pub(&operator, &["-q", "1", "-t", "site-2/cmd/fan", "-m", "on"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(device.message("cmd/"), "cmd/fan on");
    // Through the upstream's WebSocket listener (which admits SigV4, not client certificates).
    assert_ne!(port, upstream.addr("mqtts").port());
    assert_eq!(
        gateway.ready_value("bridge-aws-wss"),
        Some(format!("localhost:{port}").as_str())
    );

    // The signature is checked: a gateway with the wrong secret is refused upstream.
    drop(gateway);
    let wrong_dir = tempfile::tempdir().unwrap();
    let wrong = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
        ("AWS_REGION", "us-east-1"),
    ];
    let _wrong =
        Tether::serve_with_env(tether(), wrong_dir.path(), &["--config", &config], &wrong).unwrap();
    let line = upstream
        .wait_for_log("(signature_mismatch)", LOG_WAIT)
        .unwrap();
    assert!(line.contains("InvalidSignatureException"), "{line}");
}

#[test]
fn a_bridge_over_websockets_without_credentials_stops_the_start_naming_them() {
    let (_upstream_dir, upstream) = start(&["--wss", "127.0.0.1:0"]);
    let port = upstream.addr("wss").port();
    let ca = upstream.demo_file("root-ca.pem").display().to_string();
    let (_config_dir, config) = config_file(&format!(
        "[[bridge]]\nname = \"aws-wss\"\naddress = \"localhost:{port}\"\n\
         client-id = \"site-2-gateway\"\ntransport = \"wss\"\ncafile = \"{ca}\"\n\
         topics = [{{ pattern = \"telemetry/#\", direction = \"out\", qos = 1 }}]\n",
    ));
    let gateway_dir = tempfile::tempdir().unwrap();
    let out = Command::new(tether())
        .args(["serve", "--data-dir"])
        .arg(gateway_dir.path())
        .args(["--mqtts", "127.0.0.1:0", "--no-api", "--config", &config])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("[[bridge]] aws-wss") && said.contains("AWS_ACCESS_KEY_ID"),
        "{said}"
    );
}

#[test]
fn an_upstream_restart_and_a_kill_9_of_the_gateway_during_the_outage_lose_nothing() {
    let mut broker = Mosquitto::start();
    let tls = broker.tls;
    let (_config_dir, config) = config_file(&format!(
        "[[bridge]]\nname = \"mosq\"\naddress = \"localhost:{tls}\"\nclient-id = \"gw-1\"\n\
         limits = \"none\"\nreconnect-delay-ms = 50\nreconnect-delay-max-ms = 400\n\
         cafile = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n\
         topics = [{{ pattern = \"site/#\", direction = \"out\", remote-prefix = \"factory/7/\" }}]\n",
        broker.file("ca.pem"),
        broker.file("client.pem"),
        broker.file("client.key"),
    ));
    let data = tempfile::tempdir().unwrap();
    let args = ["--config", config.as_str()];
    let gateway = Tether::serve(tether(), data.path(), &args).unwrap();
    gateway
        .wait_for_log("bridge mosq: subscribed upstream", LOG_WAIT)
        .unwrap();
    // The accountant: a persistent QoS 1 session on the upstream, so what arrives while it is
    // away waits for it there (mosquitto saves sessions across its own restart).
    let mut accountant = broker.plain_args();
    accountant.extend(
        [
            "-c",
            "-i",
            "accountant",
            "-q",
            "1",
            "-v",
            "-t",
            "factory/7/#",
        ]
        .map(String::from),
    );
    let mut received: Vec<u32> = Vec::new();
    let number = |line: String| -> u32 {
        let payload = line
            .strip_prefix("factory/7/site/n ")
            .unwrap_or_else(|| panic!("{line}"));
        payload.parse().unwrap()
    };

    let first = Lines::mosquitto_sub(&accountant);
    first.until("received SUBACK");
    publish_numbers(&gateway, "site/n", 0..20);
    for _ in 0..20 {
        received.push(number(first.message("factory/7/")));
    }
    drop(first);

    // The upstream goes away mid-stream; the gateway acknowledges what devices publish and
    // keeps it, in the store.
    broker.stop();
    publish_numbers(&gateway, "site/n", 20..40);
    let connected =
        format!("tether_bridge_connected{{bridge=\"mosq\",upstream=\"localhost:{tls}\"}}");
    wait_metric(&gateway, &connected, "0");
    wait_metric(&gateway, "tether_bridge_queued{bridge=\"mosq\"}", "20");
    // And the gateway dies without a chance to flush anything.
    gateway.kill9();
    let gateway = Tether::serve(tether(), data.path(), &args).unwrap();
    wait_metric(&gateway, "tether_bridge_queued{bridge=\"mosq\"}", "20");

    broker.restart();
    gateway
        .wait_for_log("bridge mosq: subscribed upstream", LOG_WAIT)
        .unwrap();
    publish_numbers(&gateway, "site/n", 40..60);
    wait_metric(&gateway, "tether_bridge_queued{bridge=\"mosq\"}", "0");
    wait_metric(&gateway, &connected, "1");

    let second = Lines::mosquitto_sub(&accountant);
    let mut distinct: BTreeSet<u32> = received.iter().copied().collect();
    while distinct.len() < 60 {
        let n = number(second.message("factory/7/"));
        received.push(n);
        distinct.insert(n);
    }
    let expected: BTreeSet<u32> = (0..60).collect();
    let lost: Vec<u32> = expected.difference(&distinct).copied().collect();
    assert!(lost.is_empty(), "lost {lost:?}; received {received:?}");
    // In order: each message's first arrival comes after every earlier number's first.
    let mut firsts = Vec::new();
    for n in &received {
        if !firsts.contains(n) {
            firsts.push(*n);
        }
    }
    assert_eq!(firsts, (0..60).collect::<Vec<_>>(), "received {received:?}");
    let duplicates = received.len() - distinct.len();
    println!("accounting: 60 published, 60 received, 0 lost, {duplicates} duplicate(s)");
}

#[test]
fn a_both_ways_line_to_mosquitto_carries_each_message_once_without_looping() {
    let broker = Mosquitto::start();
    let (_config_dir, config) = config_file(&format!(
        "[[bridge]]\nname = \"mosq\"\naddress = \"127.0.0.1:{}\"\nclient-id = \"gw-both\"\n\
         transport = \"tcp\"\nlimits = \"none\"\n\
         topics = [{{ pattern = \"chat/#\", direction = \"both\" }}]\n",
        broker.plain
    ));
    let (_dir, gateway) = start(&["--config", &config]);
    gateway
        .wait_for_log(
            "bridge mosq: subscribed upstream to 1 inbound filter(s)",
            LOG_WAIT,
        )
        .unwrap();
    let mut remote = broker.plain_args();
    remote.extend(["-i", "remote-app", "-q", "1", "-v", "-t", "chat/#"].map(String::from));
    let remote = Lines::mosquitto_sub(&remote);
    remote.until("received SUBACK");
    let mut local = gateway.demo_tls_args();
    local.extend(["-i", "local-app", "-q", "1", "-v", "-t", "chat/#"].map(String::from));
    let local = Lines::mosquitto_sub(&local);
    local.until("received SUBACK");
    let mut device = gateway.demo_tls_args();
    device.extend(["-i", "device-1"].map(String::from));
    let mut cloud = broker.plain_args();
    cloud.extend(["-i", "cloud-1"].map(String::from));

    let out = mosquitto_pub(&device, &["-q", "1", "-t", "chat/a", "-m", "from-site"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(local.message("chat/"), "chat/a from-site");
    assert_eq!(remote.message("chat/"), "chat/a from-site");
    let out = mosquitto_pub(&cloud, &["-q", "1", "-t", "chat/b", "-m", "from-cloud"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(remote.message("chat/"), "chat/b from-cloud");
    assert_eq!(local.message("chat/"), "chat/b from-cloud");
    // A sentinel from the site, published once the cloud's message is here: had that message
    // gone back up (a loop), it would reach mosquitto before the sentinel; had the site's come
    // back down, the local subscriber would see it again before the sentinel.
    let out = mosquitto_pub(&device, &["-q", "1", "-t", "chat/end", "-m", "sentinel"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(remote.message("chat/"), "chat/end sentinel");
    assert_eq!(local.message("chat/"), "chat/end sentinel");
    wait_metric(
        &gateway,
        "tether_bridge_messages_total{bridge=\"mosq\",direction=\"out\"}",
        "2",
    );
    wait_metric(
        &gateway,
        "tether_bridge_messages_total{bridge=\"mosq\",direction=\"in\"}",
        "1",
    );
}

#[test]
fn an_upstream_refusal_is_recorded_and_explained_by_doctor_recent() {
    let broker = Mosquitto::start();
    let (_config_dir, config) = config_file(&format!(
        "[[bridge]]\nname = \"locked\"\naddress = \"127.0.0.1:{}\"\nclient-id = \"gw-1\"\n\
         transport = \"tcp\"\nprotocol = \"3.1.1\"\nlimits = \"none\"\n\
         topics = [{{ pattern = \"site/#\", direction = \"out\" }}]\n",
        broker.refuse
    ));
    let (_dir, gateway) = start(&["--config", &config]);
    gateway
        .wait_for_log("bridge locked: 127.0.0.1", LOG_WAIT)
        .unwrap();
    // Counted before it is recorded, and it is retried: one or more.
    let exposition = metrics(&gateway);
    let refusals: u64 = exposition
        .lines()
        .find_map(|l| l.strip_prefix("tether_bridge_refusals_total{bridge=\"locked\"} "))
        .unwrap_or_else(|| panic!("{exposition}"))
        .parse()
        .unwrap();
    assert!(refusals >= 1, "{exposition}");
    let out = Command::new(tether())
        .args(["doctor", "recent", "--data-dir"])
        .arg(gateway.data_dir())
        .output()
        .unwrap();
    let explained = text(&out);
    assert!(explained.contains("bridge locked"), "{explained}");
    assert!(
        explained.contains("refused the bridge's CONNECT"),
        "{explained}"
    );
}

#[test]
fn a_bridge_that_cannot_work_stops_the_start_naming_its_table() {
    let (_config_dir, config) = config_file(
        "[[bridge]]\nname = \"loop\"\naddress = \"127.0.0.1:1883\"\nclient-id = \"gw\"\n\
         transport = \"tcp\"\nprotocol = \"3.1.1\"\n\
         topics = [{ pattern = \"chat/#\", direction = \"both\" }]\n",
    );
    let data = tempfile::tempdir().unwrap();
    let out = run(&[
        "serve",
        "--data-dir",
        &data.path().display().to_string(),
        "--config",
        &config,
    ]);
    assert!(!out.status.success());
    let message = text(&out);
    assert!(
        message.contains("bridge loop") && message.contains("protocol = \"5\""),
        "{message}"
    );
}

/// A TLS 1.1-only client (OpenSSL with TLS 1.1 as its maximum and AES128-SHA, what an ESP8266
/// on the NONOS SDK offers) with the demo device's credentials of `server`, connected to `addr`:
/// it sends an MQTT 3.1.1 CONNECT and returns the stream and the CONNACK, or the handshake error.
fn tls11_connect(
    server: &Tether,
    addr: std::net::SocketAddr,
) -> Result<(openssl::ssl::SslStream<TcpStream>, Vec<u8>), String> {
    let mut builder = demo_connector(server);
    builder.set_security_level(0);
    builder
        .set_min_proto_version(Some(SslVersion::TLS1_1))
        .unwrap();
    builder
        .set_max_proto_version(Some(SslVersion::TLS1_1))
        .unwrap();
    builder.set_cipher_list("AES128-SHA").unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(LOG_WAIT)).unwrap();
    let mut tls = builder
        .build()
        .connect("localhost", tcp)
        .map_err(|e| e.to_string())?;
    assert_eq!(tls.ssl().version_str(), "TLSv1.1");
    // Clean session, keep-alive 60, client id "esp8266-1".
    let id = b"esp8266-1";
    let mut connect = vec![0x10, (10 + 2 + id.len()) as u8, 0, 4];
    connect.extend(b"MQTT");
    connect.extend([4, 0x02, 0, 60, 0, id.len() as u8]);
    connect.extend(id);
    tls.write_all(&connect).unwrap();
    let connack = read_packet(&mut tls).ok_or_else(|| "closed before CONNACK".to_owned())?;
    Ok((tls, connack))
}

#[test]
fn an_esp8266_speaking_tls_1_1_reaches_aws_iot_core_through_the_legacy_gateway() {
    // "AWS IoT Core": TLS 1.2 only, as every AWS endpoint.
    let (_upstream_dir, upstream) = start(&["--tls-policy", "IoTSecurityPolicy_TLS12_1_2_2022_10"]);
    let port = upstream.addr("mqtts").port();
    let file = |name: &str| upstream.demo_file(name).display().to_string();
    let (_config_dir, config) = config_file(&format!(
        "[[bridge]]\nname = \"aws\"\naddress = \"localhost:{port}\"\nclient-id = \"site-1-gateway\"\n\
         cafile = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n\
         topics = [{{ pattern = \"telemetry/#\", direction = \"out\", remote-prefix = \"site-1/\" }}]\n",
        file("root-ca.pem"),
        file("certificate.pem.crt"),
        file("private.pem.key"),
    ));
    let (_dir, gateway) = start(&[
        "--config",
        &config,
        "--mqtts-legacy",
        "127.0.0.1:0",
        "--allow-legacy-tls",
    ]);
    gateway
        .wait_for_log("allows TLS 1.0 and 1.1", LOG_WAIT)
        .unwrap();
    gateway
        .wait_for_log("bridge aws: subscribed upstream", LOG_WAIT)
        .unwrap();
    // AWS IoT Core (and the gateway's own mutual-TLS listener) refuse the device.
    let refused = tls11_connect(&upstream, upstream.addr("mqtts")).unwrap_err();
    assert!(refused.contains("alert"), "{refused}");
    let refused = tls11_connect(&gateway, gateway.addr("mqtts")).unwrap_err();
    assert!(refused.contains("alert"), "{refused}");

    let mut cloud = upstream.demo_tls_args();
    cloud.extend(["-i", "cloud-app", "-q", "1", "-v", "-t", "site-1/#"].map(String::from));
    let cloud = Lines::mosquitto_sub(&cloud);
    cloud.until("received SUBACK");
    let (mut device, connack) = tls11_connect(&gateway, gateway.addr("mqtts-legacy")).unwrap();
    assert_eq!(connack, [0x20, 2, 0, 0]);
    // PUBLISH QoS 1, packet id 1, on telemetry/esp: "on".
    let topic = b"telemetry/esp";
    let mut publish = vec![0x32, (2 + topic.len() + 2 + 2) as u8, 0, topic.len() as u8];
    publish.extend(topic);
    publish.extend([0, 1]);
    publish.extend(b"on");
    device.write_all(&publish).unwrap();
    assert_eq!(read_packet(&mut device).unwrap(), [0x40, 2, 0, 1]);
    assert_eq!(cloud.message("site-1/"), "site-1/telemetry/esp on");
}

#[test]
fn the_legacy_listener_refuses_tls_1_1_without_allow_legacy_tls() {
    let (_dir, strict) = start(&["--mqtts-legacy", "127.0.0.1:0"]);
    let refused = tls11_connect(&strict, strict.addr("mqtts-legacy")).unwrap_err();
    assert!(refused.contains("alert"), "{refused}");
    assert!(
        !strict
            .logs()
            .iter()
            .any(|l| l.contains("allows TLS 1.0 and 1.1")),
        "{:?}",
        strict.logs()
    );
}
