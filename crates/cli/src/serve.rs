//! `tether serve`: flags and an optional TOML config file into `server::ServerConfig`, bound
//! listeners, logging, signals, and the ready line. The ready line is the contract tests and
//! scripts wait for: exactly one stdout line `tether ready key=value…` once every listener
//! accepts; friendly instructions for a human follow it. `--ready-file` writes the same facts
//! as JSON just before that line (ready_file.rs); `--ephemeral` runs on a throwaway data
//! directory with port-0 listeners (ephemeral.rs); `--exit-with-parent` ends the server with
//! the process that started it (parent.rs).

mod bridges;
mod config_file;
mod ephemeral;
mod faults;
#[cfg(unix)]
mod parent;
mod ready_file;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use broker_core::Profile;
use clap::{Args, ValueEnum};
use serde::Deserialize;
use server::{Listeners, Ready, ServerConfig};

pub use config_file::{FileConfig, load_config};
use config_file::{HookConfig, authorizer_functions};

/// Where the data directory is when neither `--data-dir` nor `TETHER_DATA_DIR` says.
const DATA_DIR_HELP: &str = "Data directory (CA, certificates, devices, database). Default: \
    $TETHER_DATA_DIR, else $XDG_DATA_HOME/tether, else ~/.local/share/tether";

/// Run a local AWS IoT Core: MQTT 3.1.1/5 on mutual TLS with a registry and AWS's rules.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[arg(long, value_name = "DIR", help = DATA_DIR_HELP)]
    data_dir: Option<PathBuf>,
    /// Mutual-TLS MQTT listener (AWS port 8883). Port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    mqtts: Option<SocketAddr>,
    /// Plain MQTT over TCP (off unless given; anonymous clients only with --profile mqtt).
    #[arg(long, value_name = "ADDR")]
    mqtt: Option<SocketAddr>,
    /// One port that serves what AWS IoT serves on 443, chosen by ALPN: MQTT over mutual TLS
    /// (x-amzn-mqtt-ca), MQTT with a custom authorizer (mqtt), HTTPS (x-amzn-http-ca), and
    /// without ALPN MQTT over WebSockets on /mqtt and the API. --mqtts-alpn is another name.
    #[arg(long = "https-443", visible_alias = "mqtts-alpn", value_name = "ADDR")]
    mqtts_alpn: Option<SocketAddr>,
    /// A mutual-TLS device gateway listener with its own TLS policy (the global one unless
    /// --allow-legacy-tls; more with [[listener]] tables in the config file).
    #[arg(long, value_name = "ADDR")]
    mqtts_legacy: Option<SocketAddr>,
    /// Allow TLS 1.0 and 1.1 (and their CBC suites) on the --mqtts-legacy listener, for
    /// devices that cannot do TLS 1.2 (ESP8266 NONOS): weak, so tether warns at start. The
    /// global --tls-policy is not changed.
    #[arg(long, requires = "mqtts_legacy")]
    allow_legacy_tls: bool,
    /// MQTT over WebSockets (wss://ADDR/mqtt, SigV4 or a custom authorizer) and the API over
    /// TLS with the server certificate from the local CA. Port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    wss: Option<SocketAddr>,
    /// Milliseconds a custom authorizer's function may take to answer, instead of AWS IoT's
    /// 5000: lets tests see a timeout sooner (a local setting, not AWS's).
    #[arg(long, value_name = "MS")]
    authorizer_timeout_ms: Option<u64>,
    /// HTTP listener for /metrics and the API [default: 127.0.0.1:4580].
    #[arg(long, value_name = "ADDR")]
    api: Option<SocketAddr>,
    /// Do not start the HTTP listener.
    #[arg(long)]
    no_api: bool,
    /// Test hook for fault injection: shift the broker's wall clock by the number of seconds
    /// in FILE (re-read every 200 ms), not the host's.
    #[arg(long, value_name = "FILE", hide = true)]
    clock_offset_file: Option<PathBuf>,
    /// What an acknowledged message survives: `power-loss` fsyncs every commit before the
    /// PUBACK (the default); `process-crash` skips the fsync and still survives `kill -9`, for
    /// CI and benchmarks [default: power-loss; process-crash with --ephemeral].
    #[arg(long, value_enum)]
    durability: Option<DurabilityArg>,
    /// `aws`: AWS IoT Core's rules and limits. `mqtt`: a complete MQTT 3.1.1/5 broker.
    #[arg(long, value_enum)]
    profile: Option<ProfileArg>,
    /// AWS IoT TLS security policy of the mutual-TLS listeners
    /// [default: IoTSecurityPolicy_TLS13_1_2_2022_10].
    #[arg(long, value_name = "NAME")]
    tls_policy: Option<String>,
    /// Extra host name or IP address the server certificates must cover (repeatable).
    #[arg(long = "hostname", value_name = "NAME")]
    hostnames: Vec<String>,
    /// Refuse connections beyond this many.
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Largest MQTT packet accepted, in bytes [default: 135168 for aws, 16 MiB for mqtt].
    #[arg(long, value_name = "BYTES")]
    max_packet_size: Option<u32>,
    /// QoS 1/2 messages kept per offline persistent session; beyond it the oldest is dropped
    /// (and counted) [default: 100000].
    #[arg(long, value_name = "N")]
    max_queued_messages: Option<usize>,
    /// AWS region in ARNs and endpoint names [default: us-east-1].
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// AWS account id in ARNs [default: 123456789012].
    #[arg(long, value_name = "ID")]
    account_id: Option<String>,
    /// API credential ACCESS_KEY:SECRET accepted in SigV4 signatures (repeatable). Without
    /// any, only the development credential test:test works, and only on a loopback --api.
    #[arg(long = "api-credential", value_name = "KEY:SECRET")]
    api_credentials: Vec<String>,
    /// Lowest keep-alive granted, in seconds, instead of AWS IoT's 30: lets tests of a
    /// device's reconnection notice a silent client sooner (a local setting, not AWS's).
    #[arg(long, value_name = "SECONDS")]
    min_keep_alive: Option<u16>,
    /// Profile mqtt: the longest keep-alive granted, in seconds, like mosquitto's
    /// max_keepalive. MQTT 5 clients asking for more, or for none, are told this value (Server
    /// Keep Alive); MQTT 3.1.1 clients are refused (CONNACK 2).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u16).range(1..))]
    max_keep_alive: Option<u16>,
    /// Profile mqtt: a topic filter no client may subscribe to (repeatable). A requested
    /// filter it matches gets SUBACK 0x87 Not authorized (MQTT 3.1.1: 0x80).
    #[arg(long = "refused-filter", value_name = "FILTER")]
    refused_filters: Vec<String>,
    /// How many seconds a minute lasts for AWS IoT Jobs timers (in-progress and step
    /// timeouts) and rollout rates, instead of 60: lets tests see a job execution time out in
    /// seconds (a local setting, not AWS's).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u16).range(1..=60))]
    jobs_minute: Option<u16>,
    /// Seconds after its deprecation before a thing type may be deleted, instead of AWS IoT's
    /// 300: lets tests delete a type at once (a local setting, not AWS's).
    #[arg(long, value_name = "SECONDS")]
    thing_type_delete_delay: Option<u64>,
    /// Seconds a fleet provisioning certificate ownership token lasts, instead of AWS IoT's
    /// 3600: lets tests see an unused certificate deleted (a local setting, not AWS's).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    ownership_token_lifetime: Option<u64>,
    /// Seconds a CreateProvisioningClaim certificate lasts, instead of AWS IoT's 300: lets
    /// tests see a claim expire (a local setting, not AWS's).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=300))]
    provisioning_claim_lifetime: Option<u64>,
    /// TOML file with any of the settings above (flags win).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve from a fresh data directory in $TMPDIR, removed at exit (unless --keep), with
    /// every listener on a free loopback port unless a flag names an address: for test suites
    /// and CI.
    #[arg(long, conflicts_with = "data_dir")]
    ephemeral: bool,
    /// With --ephemeral: leave the data directory in place at exit.
    #[arg(long, requires = "ephemeral")]
    keep: bool,
    /// Once ready, write a JSON record of the endpoints, API URL and credentials, root CA,
    /// demo device files, data directory and pid to FILE (mode 0600; removed at exit).
    #[arg(long, value_name = "FILE")]
    ready_file: Option<PathBuf>,
    /// Shut down cleanly when the process that started tether exits (noticed within 200 ms),
    /// so a crashed test run leaves no server behind.
    #[arg(long)]
    exit_with_parent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ProfileArg {
    Aws,
    Mqtt,
}

/// `--durability` and the config file's `durability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum DurabilityArg {
    PowerLoss,
    ProcessCrash,
}

/// The server's settings from the flags and the config file (a flag wins over the file),
/// checked; what it uses of `args` and `file` is taken out of them.
fn configure(
    args: &mut ServeArgs,
    file: &mut FileConfig,
    data_dir: PathBuf,
) -> Result<ServerConfig> {
    let mut config = ServerConfig::new(data_dir);
    config.profile = match args.profile.or(file.profile).unwrap_or(ProfileArg::Aws) {
        ProfileArg::Aws => Profile::Aws,
        ProfileArg::Mqtt => Profile::Mqtt,
    };
    if let Some(name) = args.tls_policy.take().or(file.tls_policy.take()) {
        config.tls_policy = tls::SecurityPolicy::by_name(&name).map_err(anyhow::Error::msg)?;
    }
    config.hostnames = if args.hostnames.is_empty() {
        std::mem::take(&mut file.hostnames)
    } else {
        std::mem::take(&mut args.hostnames)
    };
    if let Some(max) = args.max_connections.or(file.max_connections) {
        config.max_connections = max;
    }
    config.max_packet_size = args.max_packet_size.or(file.max_packet_size);
    config.min_keep_alive = args.min_keep_alive.or(file.min_keep_alive);
    config.max_keep_alive = args.max_keep_alive.or(file.max_keep_alive);
    if config.max_keep_alive == Some(0) {
        bail!("max-keep-alive 0: give the longest keep-alive to grant, 1 to 65535 seconds");
    }
    let refused = if args.refused_filters.is_empty() {
        std::mem::take(&mut file.refused_filters)
    } else {
        std::mem::take(&mut args.refused_filters)
    };
    for filter in refused {
        let parsed = client::TopicFilter::new(&filter).map_err(|e| {
            anyhow::anyhow!("refused filter {filter:?} is not a valid MQTT topic filter: {e}")
        })?;
        config.refused_filters.push(parsed);
    }
    if let Some(seconds) = args.jobs_minute.or(file.jobs_minute) {
        if !(1..=60).contains(&seconds) {
            bail!("jobs-minute {seconds}: give 1 to 60 seconds");
        }
        config.jobs_minute = Some(Duration::from_secs(u64::from(seconds)));
    }
    if let Some(seconds) = args
        .thing_type_delete_delay
        .or(file.thing_type_delete_delay)
    {
        config.thing_type_delete_delay = std::time::Duration::from_secs(seconds);
    }
    if let Some(seconds) = args
        .ownership_token_lifetime
        .or(file.ownership_token_lifetime)
    {
        config.ownership_token_lifetime = Duration::from_secs(seconds.clamp(1, 3600));
    }
    if let Some(seconds) = args
        .provisioning_claim_lifetime
        .or(file.provisioning_claim_lifetime)
    {
        config.provisioning_claim_lifetime = Duration::from_secs(seconds.clamp(1, 300));
    }
    config.provisioning_hooks = std::mem::take(&mut file.provisioning_hook)
        .into_iter()
        .map(HookConfig::hook)
        .collect::<Result<_>>()?;
    if let Some(max) = args.max_queued_messages.or(file.max_queued_messages) {
        config.max_queued_per_session = max;
    }
    config.clock_offset_file = args.clock_offset_file.clone();
    // A throwaway data directory is deleted at exit: surviving power loss buys it nothing.
    let durability_default = if args.ephemeral {
        DurabilityArg::ProcessCrash
    } else {
        DurabilityArg::PowerLoss
    };
    config.durability = match args
        .durability
        .or(file.durability)
        .unwrap_or(durability_default)
    {
        DurabilityArg::PowerLoss => server::Durability::PowerLoss,
        DurabilityArg::ProcessCrash => server::Durability::ProcessCrash,
    };
    configure_api(args, file, &mut config)?;
    let base = args
        .config
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."))
        .to_owned();
    config.bridges = std::mem::take(&mut file.bridge)
        .into_iter()
        .map(|bridge| bridge.bridge(&base))
        .collect::<Result<_>>()?;
    config.faults = faults::faults(std::mem::take(&mut file.fault))?;
    Ok(config)
}

/// The control plane's part of [`configure`]: region, account, API credentials, IAM-style
/// policies and custom authorizers' functions, and the rules engine's Lambda targets.
fn configure_api(
    args: &mut ServeArgs,
    file: &mut FileConfig,
    config: &mut ServerConfig,
) -> Result<()> {
    if let Some(region) = args.region.take().or(file.region.take()) {
        config.region = region;
    }
    if let Some(account) = args.account_id.take().or(file.account_id.take()) {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--account-id {account:?}: an AWS account id is 12 digits");
        }
        config.account_id = account;
    }
    config.rules = std::mem::take(&mut file.rules).settings()?;
    let credentials = if args.api_credentials.is_empty() {
        std::mem::take(&mut file.api_credentials)
    } else {
        std::mem::take(&mut args.api_credentials)
    };
    for credential in credentials {
        let Some((key, secret)) = credential.split_once(':') else {
            bail!("--api-credential {credential:?}: write it as ACCESS_KEY:SECRET");
        };
        config
            .api_credentials
            .push((key.to_owned(), secret.to_owned()));
    }

    if let Some(ms) = args.authorizer_timeout_ms.or(file.authorizer_timeout_ms) {
        config.authorizer_timeout = Duration::from_millis(ms.max(1));
    }
    config.credential_policies = std::mem::take(&mut file.iam_policies)
        .into_iter()
        .map(|entry| server::CredentialPolicyConfig {
            access_key_id: entry.access_key,
            policy: entry.policy,
            identity_id: entry.identity_id,
        })
        .collect();
    config.authorizer_functions =
        authorizer_functions(std::mem::take(&mut file.authorizer_functions))?;
    Ok(())
}

/// Binds every listener the flags and the config file ask for (a flag wins over the file):
/// 127.0.0.1:8883 for MQTT over TLS and 127.0.0.1:4580 for the API unless told otherwise,
/// any free port for both with `--ephemeral`.
fn listeners(args: &ServeArgs, file: &mut FileConfig, ephemeral: bool) -> Result<Listeners> {
    let (default_mqtts, default_api): (SocketAddr, SocketAddr) = if ephemeral {
        (ephemeral::ANY_PORT, ephemeral::ANY_PORT)
    } else {
        (([127, 0, 0, 1], 8883).into(), ([127, 0, 0, 1], 4580).into())
    };
    Ok(Listeners {
        mqtts: Some(bind(
            args.mqtts.or(file.mqtts).unwrap_or(default_mqtts),
            "--mqtts",
        )?),
        mqtts_alpn: args
            .mqtts_alpn
            .or(file.https_443)
            .map(|a| bind(a, "--https-443"))
            .transpose()?,
        wss: args
            .wss
            .or(file.wss)
            .map(|a| bind(a, "--wss"))
            .transpose()?,
        mqtt: args
            .mqtt
            .or(file.mqtt)
            .map(|a| bind(a, "--mqtt"))
            .transpose()?,
        http: if args.no_api {
            None
        } else {
            Some(bind(args.api.or(file.api).unwrap_or(default_api), "--api")?)
        },
        mqtts_legacy: bridges::legacy_listeners(
            args.mqtts_legacy.or(file.mqtts_legacy),
            args.allow_legacy_tls || file.allow_legacy_tls.unwrap_or(false),
            std::mem::take(&mut file.listener),
        )?,
    })
}

pub fn run(mut args: ServeArgs) -> Result<ExitCode> {
    // Read first, so that the window in which a dying parent goes unnoticed is as short as it
    // can be.
    let parent = watch_parent(args.exit_with_parent)?;
    let mut file = match &args.config {
        Some(path) => load_config(path)?,
        None => FileConfig::default(),
    };
    let ephemeral = args
        .ephemeral
        .then(|| ephemeral::EphemeralDir::create(args.keep))
        .transpose()?;
    let data_dir = match (&ephemeral, args.data_dir.take().or(file.data_dir.take())) {
        (Some(dir), _) => dir.path().to_owned(),
        (None, Some(dir)) => dir,
        (None, None) => default_data_dir()?,
    };
    let config = configure(&mut args, &mut file, data_dir)?;
    let listeners = listeners(&args, &mut file, ephemeral.is_some())?;

    init_logging();
    let settings = ready_file::Settings::of(&config, ephemeral.is_some());
    let announcer = ready_file::Announcer::new(args.ready_file, settings);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tether")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let signals = shutdown_signal().context("cannot install the SIGINT/SIGTERM handlers")?;
        let shutdown = async {
            tokio::select! {
                () = signals => {},
                () = parent_exited(parent) => {},
                () = announcer.failed() => {},
            }
        };
        let on_ready = |ready: &Ready| {
            announcer.announce(ready);
            print_ready(ready);
        };
        server::run(config, listeners, on_ready, shutdown)
            .await
            .map_err(anyhow::Error::from)
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    announcer.finish()?;
    drop(ephemeral);
    Ok(ExitCode::SUCCESS)
}

#[cfg(unix)]
type Parent = parent::Parent;
#[cfg(not(unix))]
type Parent = std::convert::Infallible;

/// The parent to watch for `--exit-with-parent`.
fn watch_parent(exit_with_parent: bool) -> Result<Option<Parent>> {
    if !exit_with_parent {
        return Ok(None);
    }
    #[cfg(unix)]
    return Ok(Some(parent::Parent::current()));
    #[cfg(not(unix))]
    bail!("--exit-with-parent works on Unix only; stop the server with Ctrl-C instead")
}

/// Completes when the watched parent exits; never without `--exit-with-parent`.
async fn parent_exited(parent: Option<Parent>) {
    match parent {
        #[cfg(unix)]
        Some(parent) => parent.exited().await,
        #[cfg(not(unix))]
        Some(never) => match never {},
        None => std::future::pending().await,
    }
}

fn bind(addr: SocketAddr, flag: &str) -> Result<TcpListener> {
    TcpListener::bind(addr).with_context(|| {
        format!(
            "cannot listen on {addr} ({flag}): is another broker running there? Pick another \
             address, e.g. {flag} 127.0.0.1:0 for any free port"
        )
    })
}

/// The data directory when no flag names one: `$TETHER_DATA_DIR`, else
/// `$XDG_DATA_HOME/tether`, else `~/.local/share/tether`.
pub fn default_data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("TETHER_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return Ok(PathBuf::from(dir).join("tether"));
    }
    match std::env::var_os("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/tether")),
        None => bail!("no data directory: pass --data-dir DIR or set TETHER_DATA_DIR"),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A log line that cannot be written (stderr closed because the process reading it is
        // gone, as under --exit-with-parent) is dropped; reporting it on stderr would panic.
        .log_internal_errors(false)
        .try_init();
}

/// Registers SIGINT and SIGTERM handlers now — before the ready line is printed, so a signal
/// sent right after it is never lost to the default action — and returns the future that
/// completes when either arrives.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// The ready line, then instructions for a human.
fn print_ready(ready: &Ready) {
    let mut line = String::from("tether ready");
    for (key, addr) in [
        ("mqtts", ready.mqtts),
        ("mqtts-alpn", ready.mqtts_alpn),
        ("https-443", ready.mqtts_alpn),
        ("wss", ready.wss),
        ("mqtt", ready.mqtt),
    ] {
        if let Some(addr) = addr {
            line.push_str(&format!(" {key}={addr}"));
        }
    }
    if !ready.mqtts_legacy.is_empty() {
        let addrs: Vec<String> = ready.mqtts_legacy.iter().map(ToString::to_string).collect();
        line.push_str(&format!(" mqtts-legacy={}", addrs.join(",")));
    }
    if let Some(addr) = ready.http {
        line.push_str(&format!(" api=http://{addr}"));
    }
    for bridge in &ready.bridges {
        line.push_str(&format!(" bridge-{}={}", bridge.name, bridge.upstream));
    }
    line.push_str(&format!(" data-dir={}", ready.data_dir.display()));
    println!("{line}");

    let device = &ready.demo_device;
    println!();
    if ready.first_start {
        println!(
            "First start: created a local CA and the demo device in {}",
            ready.data_dir.display()
        );
    }
    println!("Root CA (give it to devices):  {}", ready.ca_path.display());
    println!("Demo device (registered, ACTIVE):");
    println!("  certificate  {}", device.certificate.display());
    println!("  private key  {}", device.private_key.display());
    println!("  root CA      {}", device.root_ca.display());
    if let Some(addr) = ready.http {
        // On loopback it opens directly; elsewhere it asks for an API access key and secret.
        let host = if addr.ip().is_unspecified() {
            format!("localhost:{}", addr.port())
        } else {
            addr.to_string()
        };
        println!("Web console:  http://{host}/console/");
    }
    if let Some(addr) = ready.mqtts {
        let host = if addr.ip().is_unspecified() {
            "localhost".to_owned()
        } else {
            addr.ip().to_string()
        };
        println!();
        println!("Try it:");
        println!(
            "  mosquitto_sub --cafile {} --cert {} --key {} -h {host} -p {} -q 1 -d -t 'topic/#' -i demo-sub",
            device.root_ca.display(),
            device.certificate.display(),
            device.private_key.display(),
            addr.port()
        );
        println!(
            "  mosquitto_pub --cafile {} --cert {} --key {} -h {host} -p {} -q 1 -d -t topic/test -i esp8266 -m \"hello world\"",
            device.root_ca.display(),
            device.certificate.display(),
            device.private_key.display(),
            addr.port()
        );
    }
    for bridge in &ready.bridges {
        println!(
            "Bridge {} to {} as client {}: connecting ({} queued); its state is \
             tether_bridge_connected in /metrics",
            bridge.name,
            bridge.upstream,
            bridge.client_id,
            bridge.queued()
        );
    }
    if ready.restored_sessions > 0 {
        println!(
            "Restored {} persistent session(s) from disk.",
            ready.restored_sessions
        );
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}
