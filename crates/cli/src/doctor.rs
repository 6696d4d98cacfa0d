//! `tether doctor`: the diagnosis subcommand group. Each subcommand runs a check from the
//! `doctor` crate and renders its findings as text or JSON, with exit codes scripts can rely
//! on ([`EXIT_CODES`]). The checks themselves live in the `doctor` crate, not here: `explain`
//! (device serial logs), `creds` (certificate, key and CA files), `probe` (connect like a device
//! stack would) and `recent` (the refusals `tether serve` recorded, read through the `refusals`
//! crate, with the doctor crate's advice per kind).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::doctor::probe::{ProbeOptions, ProbeReport, Protocol};
use ::doctor::{CredentialFile, CredsInput, Finding, Report, Severity};
use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};

/// The exit codes of `tether doctor`, as its `--help` prints them.
pub const EXIT_CODES: &str = "Exit codes: explain and probe exit 0 when nothing is wrong \
    and 1 when a problem was found (the findings say what); creds exits 1 when it found an \
    error and 0 otherwise, warnings included (they are shown; with --strict they exit 1 too); \
    recent exits 0 when it listed the recorded refusals (however many, none included). Every \
    subcommand exits 2 when it could not run: unreadable input, a directory that is not a \
    tether serve data directory, bad arguments.";

/// Exit code when a check could not run at all.
const COULD_NOT_RUN: u8 = 2;

/// Arguments of `tether doctor`.
#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
pub struct DoctorArgs {
    #[command(subcommand)]
    command: DoctorCommand,
}

#[derive(Debug, Subcommand)]
enum DoctorCommand {
    /// Explain a device's serial log: TLS alerts, library error codes, certificate records,
    /// and the most likely root cause with its fix.
    Explain(ExplainArgs),
    /// Check a device's CA file, certificate and key: formats and what each SDK expects, key
    /// match, chain, validity and device clocks, key type and size, signature, CA vs endpoint,
    /// and (with --data-dir) the certificate's registry status.
    Creds(CredsArgs),
    /// Connect like a device: DNS, TCP, TLS (optionally offering exactly what a device TLS
    /// stack offers), MQTT CONNECT and an optional round trip, each step timed, with a verdict.
    Probe(ProbeArgs),
    /// List what `tether serve` refused most recently (TLS handshakes, certificates, policy
    /// denials, limits, protocol violations), with explanations and fixes.
    Recent(RecentArgs),
}

#[derive(Debug, Args)]
struct CredsArgs {
    /// The root CA file the device trusts for the server (PEM or DER).
    #[arg(long, value_name = "FILE")]
    cafile: Option<PathBuf>,
    /// The device certificate (PEM or DER; intermediates may follow it).
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// The device private key (PKCS#1, PKCS#8 or SEC1; PEM or DER).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// The endpoint the device connects to, HOST[:PORT].
    #[arg(long, value_name = "HOST[:PORT]")]
    endpoint: Option<String>,
    /// The device TLS stack (see `doctor probe --profile`), to judge stack limits as errors.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// A `tether serve` data directory: check the certificate's registry status there.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print the findings as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Exit 1 on warnings too, not only on errors (for CI gates that want a spotless set).
    #[arg(long)]
    strict: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MqttVersion {
    #[value(name = "3.1.1")]
    V311,
    #[value(name = "5")]
    V5,
}

#[derive(Debug, Args)]
struct ProbeArgs {
    /// The endpoint, HOST:PORT (e.g. a1b2-ats.iot.eu-west-1.amazonaws.com:8883).
    #[arg(value_name = "HOST:PORT")]
    target: String,
    /// The root CA file the device trusts (PEM or DER).
    #[arg(long, value_name = "FILE")]
    cafile: PathBuf,
    /// The device certificate.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The device private key.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// MQTT client id [default: tether-doctor-<random>].
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Offer exactly what this device TLS stack offers: esp8266-nonos-axtls,
    /// esp8266-nonos-mbedtls, esp8266-arduino-axtls, esp8266-arduino-bearssl, esp-idf-mbedtls,
    /// wolfssl, wolfssl-tls13, embedded-tls, openssl-default.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Subscribe to this topic and publish to it (QoS 1) as a round trip.
    #[arg(long, value_name = "TOPIC")]
    topic: Option<String>,
    /// MQTT version of CONNECT.
    #[arg(long, value_enum, default_value = "3.1.1")]
    mqtt_version: MqttVersion,
    /// Seconds each network step may take.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    timeout: u64,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RecentArgs {
    /// The `tether serve` data directory [default: as tether serve finds it: $TETHER_DATA_DIR,
    /// else $XDG_DATA_HOME/tether, else ~/.local/share/tether].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// How many refusals to show, newest last.
    #[arg(long, value_name = "N", default_value_t = 20)]
    limit: usize,
    /// Print the findings as JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ExplainArgs {
    /// Log file to read; `-` (the default) reads standard input.
    #[arg(value_name = "FILE|-", default_value = "-")]
    file: PathBuf,
    /// Print the findings as JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs a `tether doctor` subcommand. A check that cannot run exits 2 ([`EXIT_CODES`]).
pub fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let ran = match args.command {
        DoctorCommand::Explain(args) => explain(&args),
        DoctorCommand::Creds(args) => creds(&args),
        DoctorCommand::Probe(args) => probe(&args),
        DoctorCommand::Recent(args) => recent(&args),
    };
    Ok(ran.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(COULD_NOT_RUN)
    }))
}

fn profile(name: Option<&str>) -> anyhow::Result<Option<&'static tls::DeviceProfile>> {
    name.map(tls::DeviceProfile::by_name)
        .transpose()
        .map_err(anyhow::Error::msg)
}

fn credential(path: &Path) -> anyhow::Result<CredentialFile> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read {}; give a readable file", path.display()))?;
    Ok(CredentialFile::new(path.display().to_string(), bytes))
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn creds(args: &CredsArgs) -> anyhow::Result<ExitCode> {
    let input = CredsInput {
        ca: args.cafile.as_deref().map(credential).transpose()?,
        certificate: credential(&args.cert)?,
        key: args.key.as_deref().map(credential).transpose()?,
        endpoint: args.endpoint.clone(),
        profile: profile(args.profile.as_deref())?,
        data_dir: args.data_dir.clone(),
        now: now_unix(),
    };
    let report = ::doctor::check_credentials(&input);
    print_report(&report, args.json)?;
    // A warning is something to know, not a set that fails: a certificate made a minute ago
    // works. Only errors fail, unless --strict asks for a spotless set.
    let failed = if args.strict {
        !report.is_clean()
    } else {
        report.worst() == Some(Severity::Error)
    };
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Splits `HOST:PORT` (`[v6]:PORT` for IPv6).
fn host_port(target: &str) -> anyhow::Result<(String, u16)> {
    let (host, port) = match target.strip_prefix('[') {
        Some(rest) => rest
            .split_once("]:")
            .map(|(h, p)| (h.to_owned(), p))
            .with_context(|| format!("{target}: write an IPv6 endpoint as [ADDRESS]:PORT"))?,
        None => target
            .rsplit_once(':')
            .map(|(h, p)| (h.to_owned(), p))
            .with_context(|| {
                format!("{target}: give the endpoint as HOST:PORT, e.g. localhost:8883")
            })?,
    };
    let port = port
        .parse()
        .with_context(|| format!("{target}: the port {port:?} is not a number from 0 to 65535"))?;
    if host.is_empty() {
        bail!("{target}: the host is empty; give HOST:PORT");
    }
    Ok((host, port))
}

fn probe(args: &ProbeArgs) -> anyhow::Result<ExitCode> {
    let (host, port) = host_port(&args.target)?;
    let ca_name = args.cafile.display().to_string();
    let ca_bytes = pki::read_file(&args.cafile)?;
    let (roots, _) = pki::load_certificate_chain(&ca_bytes, &ca_name)?;
    let identity = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            let cert_name = cert.display().to_string();
            let (mut chain, _) = pki::load_certificate_chain(&pki::read_file(cert)?, &cert_name)?;
            let key = pki::load_private_key(&pki::read_file(key)?, &key.display().to_string())?;
            if chain.is_empty() {
                bail!("{cert_name} holds no certificate");
            }
            let certificate = chain.remove(0);
            Some(tls::context::Identity {
                certificate,
                chain,
                key: key.key,
            })
        }
        _ => None,
    };
    let client_id = args
        .client_id
        .clone()
        .unwrap_or_else(::doctor::probe::default_client_id);
    let options = ProbeOptions {
        host,
        port,
        ca_name,
        roots,
        identity,
        client_id,
        profile: profile(args.profile.as_deref())?,
        topic: args.topic.clone(),
        protocol: match args.mqtt_version {
            MqttVersion::V311 => Protocol::V311,
            MqttVersion::V5 => Protocol::V5,
        },
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let report = ::doctor::probe::run(&options);
    if args.json {
        emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report).context("cannot encode the report as JSON")?
        ));
    } else {
        emit(&render_probe(&report));
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A probe as text: one line per step with its time, then the verdict.
pub fn render_probe(report: &ProbeReport) -> String {
    let mut out = format!(
        "probe {}{} ({})\n\n",
        report.target,
        report
            .profile
            .map_or_else(String::new, |p| format!(" as {p}")),
        report.mode
    );
    for step in &report.steps {
        out.push_str(&format!("{:<18} {:>6} ms  ", step.step, step.elapsed_ms));
        render_finding(&mut out, &step.finding, "");
    }
    out.push_str("Verdict:\n");
    render_finding(&mut out, &report.verdict, "  ");
    out
}

fn recent(args: &RecentArgs) -> anyhow::Result<ExitCode> {
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => crate::serve::default_data_dir()?,
    };
    check_data_dir(&data_dir)?;
    let refusals = refusals::read_recent(&data_dir, args.limit).with_context(|| {
        format!(
            "cannot read the refusal log in {}; give the data directory of tether serve",
            data_dir.display()
        )
    })?;
    let mut report = Report::default();
    for r in &refusals {
        report.findings.push(explain_refusal(r));
    }
    if refusals.is_empty() {
        report.findings.push(Finding::new(
            Severity::Info,
            format!(
                "no refusals recorded in {}",
                data_dir.join(refusals::FILE_NAME).display()
            ),
            "tether serve records there every refused TLS handshake and certificate, policy \
             denial, limit and protocol violation",
            "",
        ));
    }
    // Listing old refusals is not a failure: the exit code says whether the list could be read.
    print_report(&report, args.json)?;
    Ok(ExitCode::SUCCESS)
}

/// Refuses a directory that is not (yet) a `tether serve` data directory, so that a mistyped
/// path is not answered with "no refusals".
fn check_data_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        bail!(
            "{} is not a directory; give the data directory of tether serve (--data-dir, or \
             TETHER_DATA_DIR as for tether serve; its ready line prints data-dir=…)",
            dir.display()
        );
    }
    let marks = ["tether.db", "ca/root-ca.pem"];
    if !marks.iter().any(|mark| dir.join(mark).exists()) {
        bail!(
            "{} is not a tether serve data directory: it has neither tether.db nor \
             ca/root-ca.pem; give the directory tether serve runs with (its ready line prints \
             data-dir=…)",
            dir.display()
        );
    }
    Ok(())
}

/// One recorded refusal as a finding: what happened, who and what it concerned, the advice.
fn explain_refusal(r: &refusals::Refusal) -> Finding {
    let advice = ::doctor::recent::advice(r.kind);
    let mut why = advice.why.to_owned();
    let mut facts = Vec::new();
    if let Some(principal) = &r.principal {
        facts.push(if principal.len() == 64 {
            format!("certificate {principal}")
        } else {
            format!("principal {principal}")
        });
    }
    if let Some(client_id) = &r.client_id {
        facts.push(format!("client id {client_id:?}"));
    }
    match (&r.action, &r.resource) {
        (Some(action), Some(resource)) => facts.push(format!("{action} on {resource}")),
        (Some(action), None) => facts.push(action.clone()),
        (None, Some(resource)) => facts.push(format!("on {resource}")),
        (None, None) => {}
    }
    if let Some(decided_by) = &r.decided_by {
        facts.push(format!("decided by {decided_by}"));
    }
    if let Some(offered) = &r.offered {
        facts.push(format!("the client offered {offered}"));
    }
    match r.client_certificate {
        Some(true) => facts.push("it sent a client certificate".to_owned()),
        Some(false) => facts.push("it sent no client certificate".to_owned()),
        None => {}
    }
    if !facts.is_empty() {
        why.push_str(". Here: ");
        why.push_str(&facts.join("; "));
    }
    let place = if r.listener.is_empty() {
        r.peer.clone()
    } else {
        format!("{} on {}", r.peer, r.listener)
    };
    Finding::new(
        Severity::Error,
        format!("{} {place} refused ({}): {}", r.time, r.kind, r.reason),
        why,
        advice.fix,
    )
}

fn explain(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let bytes = read_input(&args.file)?;
    let report = ::doctor::explain_log(&bytes);
    print_report(&report, args.json)
}

/// Reads a file, or standard input for `-`.
fn read_input(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read the log from standard input")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| {
            format!(
                "cannot read log file {}; give a readable file or - for standard input",
                path.display()
            )
        })
    }
}

/// Prints a report as text or JSON and returns the exit status: 0 only when nothing is wrong.
pub fn print_report(report: &Report, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(report).context("cannot encode the report as JSON")?
        ));
    } else {
        emit(&render_text(report));
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Writes to standard output; a closed pipe (`| head`) is not an error worth a panic.
fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// The report as plain text: one block per finding, then the context lines and the lines no
/// rule explains (a log's), then the root cause.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        render_finding(&mut out, f, "");
    }
    if !report.context.is_empty() {
        out.push_str("Context:\n");
        for note in &report.context {
            out.push_str(&format!(
                "  line {}: {} — {}\n",
                note.line, note.text, note.meaning
            ));
        }
        out.push('\n');
    }
    if !report.not_understood.is_empty() {
        out.push_str("Not understood (no rule explains these lines):\n");
        for note in &report.not_understood {
            out.push_str(&format!("  line {}: {}\n", note.line, note.text));
        }
        out.push('\n');
    }
    if let Some(rc) = &report.root_cause {
        out.push_str("Most likely root cause:\n");
        render_finding(&mut out, rc, "  ");
    }
    out
}

fn render_finding(out: &mut String, f: &Finding, indent: &str) {
    let line = f.line.map_or(String::new(), |l| format!("line {l}: "));
    out.push_str(&format!(
        "{indent}{:<7} {line}{}\n",
        f.severity.as_str(),
        f.what
    ));
    if !f.why.is_empty() {
        out.push_str(&format!("{indent}        why: {}\n", f.why));
    }
    if !f.fix.is_empty() {
        out.push_str(&format!("{indent}        fix: {}\n", f.fix));
    }
    out.push('\n');
}
