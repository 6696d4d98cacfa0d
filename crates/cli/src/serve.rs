//! `tether serve`: flags and an optional TOML config file into `server::ServerConfig`, bound
//! listeners, logging, signals, and the ready line. The ready line is the contract tests and
//! scripts wait for: exactly one stdout line `tether ready key=value…` once every listener
//! accepts; friendly instructions for a human follow it. `--ready-file` writes the same facts
//! as JSON just before that line (ready_file.rs); `--ephemeral` runs on a throwaway data
//! directory with port-0 listeners (ephemeral.rs); `--exit-with-parent` ends the server with
//! the process that started it (parent.rs).

mod bridges;
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
enum ProfileArg {
    Aws,
    Mqtt,
}

/// The config file: the same settings as the flags, with the same names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    data_dir: Option<PathBuf>,
    mqtts: Option<SocketAddr>,
    mqtt: Option<SocketAddr>,
    #[serde(alias = "mqtts-alpn")]
    https_443: Option<SocketAddr>,
    wss: Option<SocketAddr>,
    mqtts_legacy: Option<SocketAddr>,
    allow_legacy_tls: Option<bool>,
    api: Option<SocketAddr>,
    profile: Option<ProfileArg>,
    tls_policy: Option<String>,
    #[serde(default)]
    hostnames: Vec<String>,
    max_connections: Option<usize>,
    max_packet_size: Option<u32>,
    max_queued_messages: Option<usize>,
    region: Option<String>,
    account_id: Option<String>,
    #[serde(default)]
    api_credentials: Vec<String>,
    min_keep_alive: Option<u16>,
    max_keep_alive: Option<u16>,
    #[serde(default)]
    refused_filters: Vec<String>,
    jobs_minute: Option<u16>,
    thing_type_delete_delay: Option<u64>,
    ownership_token_lifetime: Option<u64>,
    provisioning_claim_lifetime: Option<u64>,
    /// `[[provisioning-hook]]`: the local stand-ins of pre-provisioning hook Lambdas.
    #[serde(default)]
    provisioning_hook: Vec<HookConfig>,
    authorizer_timeout_ms: Option<u64>,
    /// IAM-style policies of API credentials (config file only).
    #[serde(default)]
    iam_policies: Vec<IamPolicyEntry>,
    /// What answers for custom authorizers' functions (config file only).
    #[serde(default)]
    authorizer_functions: Vec<AuthorizerFunctionEntry>,
    /// `[rules]`: the rules engine's local settings.
    #[serde(default)]
    rules: RulesFile,
    /// `[[bridge]]`: bridges to upstream brokers (config file only).
    #[serde(default)]
    bridge: Vec<bridges::BridgeFile>,
    /// `[[listener]]`: device gateway listeners with their own TLS policy (config file only).
    #[serde(default)]
    listener: Vec<bridges::ListenerFile>,
    /// `[[fault]]`: misbehaviour of the broker towards chosen clients (config file only).
    #[serde(default)]
    fault: Vec<faults::FaultFile>,
}

/// `[[iam-policies]]`: the IAM policy of one access key, for MQTT over WebSockets with SigV4.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct IamPolicyEntry {
    access_key: String,
    /// The policy document, JSON text.
    policy: String,
    /// A Cognito-style identity id whose attached IoT policies must allow too.
    identity_id: Option<String>,
}

/// `[[authorizer-functions]]`: a URL or a command answering for a Lambda function ARN (or name).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AuthorizerFunctionEntry {
    function: String,
    url: Option<String>,
    command: Option<Vec<String>>,
}

/// One `[[provisioning-hook]]`: the Lambda ARN templates name, and a URL or a command.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct HookConfig {
    target_arn: String,
    url: Option<String>,
    command: Option<Vec<String>>,
}

/// `[rules]` of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RulesFile {
    /// `[rules.lambda]`: function name (or ARN) = { url = "..." } or { command = [...] }.
    #[serde(default)]
    lambda: std::collections::BTreeMap<String, LambdaFile>,
}

/// Where one function runs locally.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LambdaFile {
    url: Option<String>,
    command: Option<Vec<String>>,
}

impl HookConfig {
    fn hook(self) -> Result<server::ProvisioningHook> {
        let target = match (self.url, self.command) {
            (Some(url), None) => server::HookTarget::Url(url),
            (None, Some(command)) if !command.is_empty() => server::HookTarget::Command(command),
            _ => bail!(
                "[[provisioning-hook]] {}: give either url = \"http://...\" or command = \
                 [\"program\", \"arg\"...]",
                self.target_arn
            ),
        };
        Ok(server::ProvisioningHook {
            target_arn: self.target_arn,
            target,
        })
    }
}

/// The config file's authorizer functions as the server takes them.
fn authorizer_functions(
    entries: Vec<AuthorizerFunctionEntry>,
) -> Result<Vec<server::AuthorizerFunctionConfig>> {
    entries
        .into_iter()
        .map(|entry| {
            let target = match (entry.url, entry.command) {
                (Some(url), None) => server::AuthorizerTarget::Url(url),
                (None, Some(command)) if !command.is_empty() => {
                    server::AuthorizerTarget::Command(command)
                }
                _ => bail!(
                    "authorizer-functions entry {:?}: give exactly one of url = \"http://…\" or \
                     command = [\"program\", \"arg\", …]",
                    entry.function
                ),
            };
            Ok(server::AuthorizerFunctionConfig {
                function: entry.function,
                target,
            })
        })
        .collect()
}

impl RulesFile {
    /// The server's settings; a function mapped to both or neither of url and command is an
    /// error naming it.
    fn settings(self) -> Result<server::RulesSettings> {
        let mut settings = server::RulesSettings::default();
        for (name, target) in self.lambda {
            let target = match (target.url, target.command) {
                (Some(url), None) if url.starts_with("http://") || url.starts_with("https://") => {
                    server::LambdaTarget::Url(url)
                }
                (None, Some(command)) if !command.is_empty() => {
                    server::LambdaTarget::Command(command)
                }
                _ => bail!(
                    "[rules.lambda] {name}: give either url = \"http://...\" or command = \
                     [\"program\", \"arg\"...], not both or neither"
                ),
            };
            settings.lambda.push((name, target));
        }
        Ok(settings)
    }
}

/// Reads and checks a config file.
pub fn load_config(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| {
        format!(
            "config file {} is not valid (see docs/tether.example.toml)",
            path.display()
        )
    })
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    // Read first, so that the window in which a dying parent goes unnoticed is as short as it
    // can be.
    let parent = watch_parent(args.exit_with_parent)?;
    let file = match &args.config {
        Some(path) => load_config(path)?,
        None => FileConfig::default(),
    };
    let ephemeral = args
        .ephemeral
        .then(|| ephemeral::EphemeralDir::create(args.keep))
        .transpose()?;
    let data_dir = match (&ephemeral, args.data_dir.or(file.data_dir)) {
        (Some(dir), _) => dir.path().to_owned(),
        (None, Some(dir)) => dir,
        (None, None) => default_data_dir()?,
    };
    let mut config = ServerConfig::new(data_dir);
    config.profile = match args.profile.or(file.profile).unwrap_or(ProfileArg::Aws) {
        ProfileArg::Aws => Profile::Aws,
        ProfileArg::Mqtt => Profile::Mqtt,
    };
    if let Some(name) = args.tls_policy.or(file.tls_policy) {
        config.tls_policy = tls::SecurityPolicy::by_name(&name).map_err(anyhow::Error::msg)?;
    }
    config.hostnames = if args.hostnames.is_empty() {
        file.hostnames
    } else {
        args.hostnames
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
        file.refused_filters
    } else {
        args.refused_filters
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
    config.provisioning_hooks = file
        .provisioning_hook
        .into_iter()
        .map(HookConfig::hook)
        .collect::<Result<_>>()?;
    if let Some(max) = args.max_queued_messages.or(file.max_queued_messages) {
        config.max_queued_per_session = max;
    }
    config.clock_offset_file = args.clock_offset_file.clone();
    if let Some(region) = args.region.or(file.region) {
        config.region = region;
    }
    if let Some(account) = args.account_id.or(file.account_id) {
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--account-id {account:?}: an AWS account id is 12 digits");
        }
        config.account_id = account;
    }
    config.rules = file.rules.settings()?;
    let credentials = if args.api_credentials.is_empty() {
        file.api_credentials
    } else {
        args.api_credentials
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
    config.credential_policies = file
        .iam_policies
        .into_iter()
        .map(|entry| server::CredentialPolicyConfig {
            access_key_id: entry.access_key,
            policy: entry.policy,
            identity_id: entry.identity_id,
        })
        .collect();
    config.authorizer_functions = authorizer_functions(file.authorizer_functions)?;
    let base = args
        .config
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."))
        .to_owned();
    config.bridges = file
        .bridge
        .into_iter()
        .map(|bridge| bridge.bridge(&base))
        .collect::<Result<_>>()?;
    config.faults = faults::faults(file.fault)?;

    let (default_mqtts, default_api): (SocketAddr, SocketAddr) = if ephemeral.is_some() {
        (ephemeral::ANY_PORT, ephemeral::ANY_PORT)
    } else {
        (([127, 0, 0, 1], 8883).into(), ([127, 0, 0, 1], 4580).into())
    };
    let listeners = Listeners {
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
            file.listener,
        )?,
    };

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_config_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tether.example.toml");
        let config = load_config(&path).unwrap();
        assert_eq!(config.profile, Some(ProfileArg::Aws));
        assert!(config.mqtts.is_some());
    }

    #[test]
    fn the_example_mqtt_profile_keys_parse_once_uncommented() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tether.example.toml");
        let example = std::fs::read_to_string(path).unwrap();
        let keys: String = example
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.starts_with("max-keep-alive =") || l.starts_with("refused-filters ="))
            .map(|l| format!("{l}\n"))
            .collect();
        let file: FileConfig = toml::from_str(&keys).unwrap();
        assert_eq!(file.max_keep_alive, Some(3600));
        assert_eq!(file.refused_filters, ["test/nosubscribe"]);
    }

    #[test]
    fn the_example_fault_table_parses_once_uncommented() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tether.example.toml");
        let example = std::fs::read_to_string(path).unwrap();
        // Each commented `[[fault]]` table, up to the next blank line.
        let table: String = example
            .match_indices("# [[fault]]")
            .flat_map(|(start, _)| {
                example[start..]
                    .lines()
                    .take_while(|l| !l.trim().is_empty())
                    .filter_map(|l| l.strip_prefix("# "))
                    .map(|l| format!("{l}\n"))
            })
            .collect();
        let file: FileConfig = toml::from_str(&table).unwrap();
        assert_eq!(file.fault.len(), 2);
        faults::faults(file.fault).unwrap();
    }

    #[test]
    fn the_example_hooks_parse_once_uncommented() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tether.example.toml");
        let example = std::fs::read_to_string(path).unwrap();
        // The commented `[[provisioning-hook]]` tables, each up to the next blank line.
        let mut hooks = String::new();
        let mut inside = false;
        for line in example.lines() {
            let text = line.strip_prefix("# ");
            if text == Some("[[provisioning-hook]]") {
                inside = true;
            } else if line.trim().is_empty() {
                inside = false;
            }
            if let (true, Some(text)) = (inside, text) {
                hooks.push_str(text);
                hooks.push('\n');
            }
        }
        let file: FileConfig = toml::from_str(&hooks).unwrap();
        let hooks: Vec<server::ProvisioningHook> = file
            .provisioning_hook
            .into_iter()
            .map(|h| h.hook().unwrap())
            .collect();
        assert_eq!(hooks.len(), 2, "{hooks:?}");
        assert!(matches!(hooks[0].target, server::HookTarget::Url(_)));
        assert!(matches!(hooks[1].target, server::HookTarget::Command(_)));
        let neither: FileConfig =
            toml::from_str("[[provisioning-hook]]\ntarget-arn = \"arn:x\"\n").unwrap();
        let err = format!(
            "{:#}",
            neither
                .provisioning_hook
                .into_iter()
                .next()
                .unwrap()
                .hook()
                .unwrap_err()
        );
        assert!(err.contains("arn:x") && err.contains("url"), "{err}");
    }

    #[test]
    fn websocket_and_authorizer_settings_are_read_from_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ws.toml");
        std::fs::write(
            &path,
            r#"mqtts-alpn = "127.0.0.1:8443"
wss = "127.0.0.1:8444"
authorizer-timeout-ms = 250
[[iam-policies]]
access-key = "AKIA1"
policy = '{"Version":"2012-10-17","Statement":[]}'
identity-id = "us-east-1:abc"
[[authorizer-functions]]
function = "a"
url = "http://127.0.0.1:9/"
[[authorizer-functions]]
function = "b"
command = ["auth", "--json"]
"#,
        )
        .unwrap();
        let config = load_config(&path).unwrap();
        assert_eq!(config.https_443, Some("127.0.0.1:8443".parse().unwrap()));
        assert_eq!(
            config.iam_policies[0].identity_id.as_deref(),
            Some("us-east-1:abc")
        );
        let functions = authorizer_functions(config.authorizer_functions).unwrap();
        assert_eq!(
            functions[1].target,
            server::AuthorizerTarget::Command(vec!["auth".into(), "--json".into()])
        );
        let both = vec![AuthorizerFunctionEntry {
            function: "c".into(),
            url: Some("http://x".into()),
            command: Some(vec!["y".into()]),
        }];
        let e = authorizer_functions(both).unwrap_err().to_string();
        assert!(e.contains("exactly one of url"), "{e}");
    }

    #[test]
    fn lambda_targets_are_read_from_the_rules_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        std::fs::write(
            &path,
            "[rules.lambda]\nf = { url = \"http://127.0.0.1:9/\" }\ng = { command = [\"sh\", \"x\"] }\n",
        )
        .unwrap();
        let settings = load_config(&path).unwrap().rules.settings().unwrap();
        assert_eq!(
            settings.lambda,
            [
                (
                    "f".to_owned(),
                    server::LambdaTarget::Url("http://127.0.0.1:9/".into())
                ),
                (
                    "g".to_owned(),
                    server::LambdaTarget::Command(vec!["sh".into(), "x".into()])
                ),
            ]
        );
        std::fs::write(&path, "[rules.lambda]\nf = { }\n").unwrap();
        let e = load_config(&path).unwrap().rules.settings().unwrap_err();
        assert!(e.to_string().contains("[rules.lambda] f"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused_with_the_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "profile = \"aws\"\nmqtts-port = 8883\n").unwrap();
        let err = format!("{:#}", load_config(&path).unwrap_err());
        assert!(err.contains("bad.toml"), "{err}");
        assert!(err.contains("mqtts-port"), "{err}");
    }
}
