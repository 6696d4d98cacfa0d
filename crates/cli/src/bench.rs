//! `tether bench`: an MQTT load generator for comparing brokers over mutual TLS. This file owns
//! the command line, the per-scenario defaults (the plan) and the runtime; the scenarios live
//! in `bench/flow.rs` (fan-in, fan-out, p2p), `bench/sessions.rs` (connect, idle, durable),
//! `bench/shadow.rs`, `bench/provision.rs` (fleet provisioning by claim), the
//! numbers in `bench/stats.rs` and the output in `bench/report.rs`. It does not start brokers
//! (bench/compare does) and changes nothing on the broker it measures.

mod flow;
mod provision;
mod report;
mod sessions;
mod shadow;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use client::{ClientConfig, ConnectOptions, Identity, MqttStr, Protocol, QoS, TlsOptions, Trust};

use report::Report;
use stats::{Clock, STAMP_LEN};

/// Measure a broker: connection storms, throughput and latency, idle connections, durable queues.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    scenario: Scenario,
    /// Broker host; a name, not an IP literal, so that SNI works with every broker.
    #[arg(long, default_value = "localhost")]
    host: String,
    /// Broker port [default: 8883 with TLS, 1883 without].
    #[arg(short = 'p', long)]
    port: Option<u16>,
    /// CA certificates (PEM) that sign the broker's certificate.
    #[arg(long, value_name = "FILE")]
    cafile: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// Private key of --cert (PEM).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Use a tether data directory's root CA and demo device instead of --cafile/--cert/--key.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["cafile", "cert", "key"])]
    data_dir: Option<PathBuf>,
    /// Key-exchange groups the generator offers, colon-separated. The default is what device
    /// TLS stacks (mbedTLS, wolfSSL) offer; `openssl-default` offers OpenSSL's own list,
    /// whose post-quantum X25519MLKEM768 costs both sides more per handshake.
    #[arg(
        long = "tls-groups",
        value_name = "GROUPS",
        default_value = "X25519:P-256:P-384"
    )]
    tls_groups: String,
    /// MQTT version: mqttv311 or mqttv5.
    #[arg(short = 'V', long = "protocol-version", default_value = "mqttv311", value_parser = parse_protocol)]
    protocol: Protocol,
    /// QoS of the published messages and of the subscriptions.
    #[arg(short = 'q', long, default_value = "1", value_parser = parse_qos)]
    qos: QoS,
    /// Payload bytes (at least 16: send time, publisher and sequence number).
    #[arg(short = 's', long = "payload", default_value_t = 64)]
    payload: usize,
    /// Total publish rate in messages per second, spread over the publishers (open loop: the
    /// intended send time goes into the payload). Without it publishers send as fast as
    /// their in-flight window allows.
    #[arg(long, value_name = "MSGS_PER_S")]
    rate: Option<u64>,
    /// Publish for this many seconds (flow scenarios), or hold connections this long (idle).
    #[arg(short = 'd', long, value_name = "SECS")]
    duration: Option<f64>,
    /// Publish this many messages in total (instead of --duration).
    #[arg(short = 'n', long, value_name = "N", conflicts_with = "duration")]
    count: Option<u64>,
    /// Publishers (fan-in; fan-out has one).
    #[arg(long, value_name = "P")]
    publishers: Option<usize>,
    /// Subscribers (fan-out; fan-in has one).
    #[arg(long, value_name = "S")]
    subscribers: Option<usize>,
    /// Publisher/subscriber pairs (p2p).
    #[arg(long, value_name = "N")]
    pairs: Option<usize>,
    /// Connections to open (connect, idle).
    #[arg(short = 'c', long, value_name = "N")]
    connections: Option<usize>,
    /// Connections opened at the same time (connect, idle).
    #[arg(long, value_name = "C", default_value_t = 8)]
    concurrency: usize,
    /// Local address to connect from; repeat it to spread the connections over several
    /// (client i uses address i mod n). One source address reaches one broker port through at
    /// most the system's ephemeral port range (about 28,000 by default): beyond that, give
    /// several loopback addresses, e.g. `--bind-address 127.0.0.2 --bind-address 127.0.0.3`.
    #[arg(long = "bind-address", value_name = "IP")]
    bind_addresses: Vec<std::net::IpAddr>,
    /// Unacknowledged QoS 1/2 messages each publisher keeps in flight.
    #[arg(long, value_name = "N", default_value_t = 100)]
    window: usize,
    /// Keep-alive in seconds (never 0: some brokers refuse it).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    keepalive: u16,
    /// After publishing ends, how long subscribers wait without progress for the rest.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    drain_timeout: f64,
    /// Pid of the broker: its CPU time and memory from /proc go into the report.
    #[arg(long, value_name = "PID")]
    broker_pid: Option<u32>,
    /// The fleet provisioning template the provision scenario registers devices with: enabled,
    /// naming the thing from its `SerialNumber` parameter.
    #[arg(long, value_name = "NAME", default_value = "bench-provision")]
    template: String,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Do not print the progress line on stderr.
    #[arg(long)]
    quiet: bool,
}

/// The scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Open N mutual-TLS connections, C at a time: handshakes/s and CONNACK latency.
    Connect,
    /// P publishers to one subscriber on `bench/in/<p>` with filter `bench/in/+`.
    FanIn,
    /// One publisher to S subscribers of the same topic.
    FanOut,
    /// N publisher/subscriber pairs, each on its own topic.
    P2p,
    /// Hold N connections for --duration seconds (the broker's memory via --broker-pid).
    Idle,
    /// QoS 1 into an offline persistent session, then drain it: rates in and out, loss.
    Durable,
    /// N things (-c, default 1000) update their own Device Shadow in a closed loop: updates/s
    /// and update→delta latency, against plain QoS 1 round trips on the same connections.
    Shadow,
    /// Provision N devices by claim (-c, default 1000), C at a time (--concurrency): each
    /// connects with the claim certificate, CreateCertificateFromCsr (P-256) and RegisterThing
    /// (--template): devices provisioned per second.
    Provision,
}

impl Scenario {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Connect => "connect",
            Scenario::FanIn => "fan-in",
            Scenario::FanOut => "fan-out",
            Scenario::P2p => "p2p",
            Scenario::Idle => "idle",
            Scenario::Durable => "durable",
            Scenario::Shadow => "shadow",
            Scenario::Provision => "provision",
        }
    }
}

/// When publishing stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// After this many messages in total.
    Count(u64),
    /// After this long.
    After(Duration),
}

/// The options with every per-scenario default resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub scenario: Scenario,
    pub qos: QoS,
    pub protocol: Protocol,
    pub payload: usize,
    pub rate: Option<u64>,
    pub stop: Stop,
    pub publishers: usize,
    pub subscribers: usize,
    pub connections: usize,
    pub concurrency: usize,
    pub window: usize,
    pub hold: Duration,
    pub drain_timeout: Duration,
}

impl Plan {
    /// Checks the options and fills in the defaults of the scenario.
    pub fn from_args(args: &BenchArgs) -> Result<Plan> {
        if args.payload < STAMP_LEN {
            bail!(
                "--payload {} is too small: every bench message carries a {STAMP_LEN}-byte stamp (send time, publisher, sequence); use --payload {STAMP_LEN} or more",
                args.payload
            );
        }
        if args.keepalive == 0 {
            bail!("--keepalive 0 is refused by some brokers (rumqttd); use 1 or more seconds");
        }
        if args.rate == Some(0) {
            bail!("--rate 0 would publish nothing; leave it out to publish as fast as possible");
        }
        let seconds = |value: f64, flag: &str| {
            Duration::try_from_secs_f64(value)
                .with_context(|| format!("{flag} {value} is not a number of seconds"))
        };
        let duration = args
            .duration
            .map(|d| seconds(d, "--duration"))
            .transpose()?;
        let scenario = args.scenario;
        let (publishers, subscribers) = match scenario {
            Scenario::FanIn => (args.publishers.unwrap_or(8), 1),
            Scenario::FanOut => (1, args.subscribers.unwrap_or(50)),
            Scenario::P2p => {
                let pairs = args.pairs.unwrap_or(20);
                (pairs, pairs)
            }
            Scenario::Durable => (1, 1),
            Scenario::Connect | Scenario::Idle | Scenario::Shadow | Scenario::Provision => (0, 0),
        };
        if matches!(scenario, Scenario::FanIn | Scenario::FanOut | Scenario::P2p)
            && (publishers == 0 || subscribers == 0)
        {
            bail!(
                "{} needs at least one publisher and one subscriber",
                scenario.name()
            );
        }
        let stop = match (args.count, duration, scenario) {
            (Some(0), _, _) => bail!("--count 0 would publish nothing"),
            (Some(n), _, _) => Stop::Count(n),
            (
                None,
                Some(d),
                Scenario::FanIn | Scenario::FanOut | Scenario::P2p | Scenario::Shadow,
            ) => Stop::After(d),
            (None, _, Scenario::Durable) => Stop::Count(10_000),
            (None, _, _) => Stop::After(Duration::from_secs(10)),
        };
        let connections = args.connections.unwrap_or(match scenario {
            Scenario::Idle => 2_000,
            Scenario::Shadow | Scenario::Provision => 1_000,
            _ => 500,
        });
        if matches!(
            scenario,
            Scenario::Connect | Scenario::Idle | Scenario::Shadow | Scenario::Provision
        ) && connections == 0
        {
            bail!("--connections 0 would measure nothing");
        }
        Ok(Plan {
            scenario,
            qos: args.qos,
            protocol: args.protocol,
            payload: args.payload,
            rate: args.rate,
            stop,
            publishers,
            subscribers,
            connections,
            concurrency: args.concurrency.max(1),
            window: args.window.max(1),
            hold: match scenario {
                Scenario::Idle => duration.unwrap_or(Duration::from_secs(10)),
                _ => Duration::ZERO,
            },
            drain_timeout: seconds(args.drain_timeout, "--drain-timeout")?,
        })
    }
}

/// Where and how to connect; clients differ only in their client id.
#[derive(Debug, Clone)]
pub struct Target {
    base: ConnectOptions,
    /// `--bind-address`: local addresses the clients connect from, in turn.
    bind_addresses: Vec<std::net::IpAddr>,
    /// Makes client ids of this run unique, so sessions of an earlier run do not interfere.
    run_id: String,
}

impl Target {
    fn from_args(args: &BenchArgs) -> Result<Target> {
        let (cafile, cert, key) = match &args.data_dir {
            Some(dir) => {
                let device = dir.join("devices/demo-device");
                (
                    Some(dir.join("ca/root-ca.pem")),
                    Some(device.join("certificate.pem.crt")),
                    Some(device.join("private.pem.key")),
                )
            }
            None => (args.cafile.clone(), args.cert.clone(), args.key.clone()),
        };
        let tls = match (cafile, cert, key) {
            (None, None, None) => None,
            (Some(ca), cert, key) => {
                let identity = match (cert, key) {
                    (Some(cert), Some(key)) => Some(load_identity(&cert, &key)?),
                    (None, None) => None,
                    _ => bail!("--cert and --key go together; give both or neither"),
                };
                let ca_pem = std::fs::read(&ca)
                    .with_context(|| format!("cannot read the CA file {}", ca.display()))?;
                Some(TlsOptions {
                    trust: Trust::CaPem(ca_pem),
                    trust_label: Some(format!("--cafile {}", ca.display())),
                    identity,
                    groups: (args.tls_groups != "openssl-default").then(|| args.tls_groups.clone()),
                    ..TlsOptions::default()
                })
            }
            (None, _, _) => bail!("--cert/--key need --cafile (the CA that signed the broker)"),
        };
        let port = args.port.unwrap_or(if tls.is_some() { 8883 } else { 1883 });
        let base = ConnectOptions {
            host: args.host.clone(),
            port,
            tls,
            websocket: None,
            mqtt: ClientConfig {
                protocol: args.protocol,
                keep_alive: args.keepalive,
                ..ClientConfig::default()
            },
            connect_timeout: Duration::from_secs(30),
            bind_address: None,
            reconnect: None,
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Ok(Target {
            base,
            bind_addresses: args.bind_addresses.clone(),
            run_id: format!("{:x}{:05x}", std::process::id(), nanos >> 12),
        })
    }

    /// Options for the client `role`-`index`; `persistent` keeps its session when it leaves.
    pub fn options(&self, role: &str, index: usize, persistent: bool) -> Result<ConnectOptions> {
        let mut options = self.base.clone();
        if !self.bind_addresses.is_empty() {
            options.bind_address = self
                .bind_addresses
                .get(index % self.bind_addresses.len())
                .copied();
        }
        let id = format!("bench-{}-{role}-{index}", self.run_id);
        options.mqtt.client_id =
            MqttStr::new(&id).map_err(|e| anyhow::anyhow!("client id {id:?} is not valid: {e}"))?;
        options.mqtt.clean_start = !persistent;
        if persistent && options.mqtt.protocol.is_v5() {
            options.mqtt.session_expiry_interval = Some(3600);
        }
        Ok(options)
    }

    /// "host:port".
    pub fn address(&self) -> String {
        format!("{}:{}", self.base.host, self.base.port)
    }
}

/// The client certificate and key, checked as `tether pub` checks `--cert`/`--key`.
fn load_identity(cert: &std::path::Path, key: &std::path::Path) -> Result<Identity> {
    let mut notes = Vec::new();
    let identity =
        crate::pubsub::load_identity(cert, key, &mut notes).map_err(|e| anyhow::anyhow!("{e}"))?;
    for note in notes {
        eprintln!("{note}");
    }
    Ok(identity)
}

/// Counters shared by the tasks of a run, read by the progress line.
#[derive(Debug, Default)]
pub struct Progress {
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub connected: AtomicU64,
    pub failed: AtomicU64,
}

impl Progress {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Runs `tether bench`.
pub fn run(args: BenchArgs) -> Result<ExitCode> {
    let plan = Plan::from_args(&args)?;
    let target = Target::from_args(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let progress = Arc::new(Progress::default());
    let clock = Clock::start();
    let cpu_before = stats::cpu_time(None);
    let broker_before = args.broker_pid.and_then(|pid| stats::cpu_time(Some(pid)));
    let ticker = (!args.quiet).then(|| report::spawn_progress(&runtime, &plan, &progress));
    let outcome = runtime.block_on(async {
        match plan.scenario {
            Scenario::Connect => sessions::connect(&plan, &target, &progress).await,
            Scenario::Idle => sessions::idle(&plan, &target, &progress, args.broker_pid).await,
            Scenario::Durable => sessions::durable(&plan, &target, &progress, clock).await,
            Scenario::Shadow => shadow::run(&plan, &target, &progress, clock).await,
            Scenario::Provision => provision::run(&plan, &target, &progress, &args.template).await,
            Scenario::FanIn | Scenario::FanOut | Scenario::P2p => {
                flow::run(&plan, &target, &progress, clock).await
            }
        }
    });
    if let Some(ticker) = ticker {
        ticker.abort();
        report::clear_progress_line();
    }
    let mut report: Report = outcome?;
    let wall = Duration::from_nanos(clock.now_ns());
    report.set_generator(wall, cpu_before, stats::cpu_time(None));
    if let Some(pid) = args.broker_pid {
        report.set_broker(pid, broker_before, stats::cpu_time(Some(pid)));
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.human(&target.address()));
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn parse_protocol(text: &str) -> Result<Protocol, String> {
    match text {
        "mqttv311" | "311" => Ok(Protocol::V311),
        "mqttv5" | "5" => Ok(Protocol::V5),
        _ => Err("expected mqttv311 or mqttv5".to_owned()),
    }
}

fn parse_qos(text: &str) -> Result<QoS, String> {
    text.parse::<u8>()
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| "expected 0, 1 or 2".to_owned())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn plan(args: &[&str]) -> Result<Plan> {
        let cli = Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Plan::from_args(&cli.bench)
    }

    #[test]
    fn bind_addresses_are_taken_in_turn() {
        let cli = Cli::try_parse_from([
            "bench",
            "idle",
            "--bind-address",
            "127.0.0.2",
            "--bind-address",
            "127.0.0.3",
        ])
        .unwrap();
        let target = Target::from_args(&cli.bench).unwrap();
        let from = |i| target.options("conn", i, false).unwrap().bind_address;
        let two: std::net::IpAddr = "127.0.0.2".parse().unwrap();
        let three: std::net::IpAddr = "127.0.0.3".parse().unwrap();
        assert_eq!(
            (from(0), from(1), from(2)),
            (Some(two), Some(three), Some(two))
        );
        let none = Cli::try_parse_from(["bench", "idle"]).unwrap();
        let target = Target::from_args(&none.bench).unwrap();
        assert_eq!(target.options("conn", 5, false).unwrap().bind_address, None);
    }

    #[test]
    fn scenario_defaults_follow_the_quick_matrix() {
        let fan_in = plan(&["fan-in"]).unwrap();
        assert_eq!((fan_in.publishers, fan_in.subscribers), (8, 1));
        assert_eq!(fan_in.qos, QoS::AtLeastOnce);
        assert_eq!(fan_in.payload, 64);
        assert_eq!(fan_in.stop, Stop::After(Duration::from_secs(10)));
        let fan_out = plan(&["fan-out"]).unwrap();
        assert_eq!((fan_out.publishers, fan_out.subscribers), (1, 50));
        let p2p = plan(&["p2p", "--pairs", "3"]).unwrap();
        assert_eq!((p2p.publishers, p2p.subscribers), (3, 3));
        assert_eq!(plan(&["idle"]).unwrap().connections, 2_000);
        assert_eq!(plan(&["connect"]).unwrap().connections, 500);
        assert_eq!(plan(&["durable"]).unwrap().stop, Stop::Count(10_000));
    }

    #[test]
    fn flags_override_defaults() {
        let p = plan(&[
            "fan-in",
            "--publishers",
            "2",
            "-n",
            "200",
            "-q",
            "0",
            "-s",
            "1024",
            "--rate",
            "5000",
            "-V",
            "mqttv5",
        ])
        .unwrap();
        assert_eq!(p.publishers, 2);
        assert_eq!(p.stop, Stop::Count(200));
        assert_eq!(p.qos, QoS::AtMostOnce);
        assert_eq!(p.payload, 1024);
        assert_eq!(p.rate, Some(5000));
        assert_eq!(p.protocol, Protocol::V5);
        let idle = plan(&["idle", "-c", "10", "-d", "2.5"]).unwrap();
        assert_eq!(idle.connections, 10);
        assert_eq!(idle.hold, Duration::from_millis(2500));
        let timed = plan(&["fan-out", "-d", "5"]).unwrap();
        assert_eq!(timed.stop, Stop::After(Duration::from_secs(5)));
    }

    #[test]
    fn nonsense_is_refused_with_the_flag_named() {
        let small = plan(&["fan-in", "-s", "8"]).unwrap_err().to_string();
        assert!(small.contains("--payload 8"), "{small}");
        assert!(plan(&["fan-in", "--keepalive", "0"]).is_err());
        assert!(plan(&["fan-in", "--rate", "0"]).is_err());
        assert!(plan(&["fan-in", "--publishers", "0"]).is_err());
        assert!(plan(&["fan-in", "-n", "0"]).is_err());
        assert!(plan(&["connect", "-c", "0"]).is_err());
        assert!(plan(&["fan-in", "-q", "3"]).is_err());
        assert!(plan(&["fan-in", "-V", "mqttv31"]).is_err());
        assert!(plan(&["fan-in", "-n", "5", "-d", "5"]).is_err());
        assert!(plan(&["fan-in", "-d", "-1"]).is_err());
        assert!(plan(&["fan-in", "--data-dir", "/x", "--cafile", "/y"]).is_err());
    }

    #[test]
    fn data_dir_names_the_demo_device_files() {
        let cli =
            Cli::try_parse_from(["bench", "connect", "--data-dir", "/nonexistent/dir"]).unwrap();
        let error = Target::from_args(&cli.bench).unwrap_err().to_string();
        assert!(
            error.contains("/nonexistent/dir/devices/demo-device/certificate.pem.crt"),
            "{error}"
        );
    }
}
