//! `tether qualify`: the command line of the qualification endpoint (server::qualify): test
//! selection, the listener, the ready and progress lines, and the report files. It prints one
//! `tether qualify ready port=… ` line once the endpoint accepts, a `qualify waiting test=ID`
//! line when each test starts and a `qualify verdict test=ID outcome=…` line when it ends; the
//! exit code is 0 when no test failed, 1 otherwise. The tests themselves live in the library.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use server::qualify::{self, Event, Outcome, QualifyConfig, TestId};

/// Run AWS IoT Device Advisor's qualification tests locally against a device.
#[derive(Debug, Args)]
pub struct QualifyArgs {
    /// The certificate of the device under test (registered with tether serve's registry).
    #[arg(long, value_name = "FILE", required_unless_present = "list")]
    device_cert: Option<PathBuf>,
    /// Run only this test (repeatable; Device Advisor's id, e.g. TLS_Connect). Default: all.
    #[arg(long = "test", value_name = "ID", conflicts_with = "suite")]
    tests: Vec<String>,
    /// Run a suite: aws-qualification (Device Advisor's qualification list, as far as tether
    /// runs it) or all [default: all].
    #[arg(long, value_name = "SUITE")]
    suite: Option<String>,
    /// Print the test ids (of --suite, else all), one a line, with what each checks, and exit.
    #[arg(long)]
    list: bool,
    /// Write junit.xml, report.json and summary.txt into DIR.
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// Address the endpoint listens on [default: 0.0.0.0, for devices on the network].
    #[arg(long, value_name = "IP", default_value = "0.0.0.0")]
    bind: IpAddr,
    /// Port the endpoint listens on (AWS IoT's 8883; 0 picks a free port).
    #[arg(long, value_name = "PORT", default_value_t = 8883)]
    port: u16,
    /// Seconds each test waits for the device (Device Advisor's EXECUTION_TIMEOUT).
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    timeout: u64,
    /// Seconds one attempt's TLS handshake, or its CONNECT, may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    handshake_timeout: u64,
    #[arg(
        long,
        value_name = "DIR",
        help = "Data directory of tether serve (CA, certificates, \
        registry). Default: as tether serve"
    )]
    data_dir: Option<PathBuf>,
    /// Extra host name or IP address the server certificates must cover, as serve --hostname.
    #[arg(long = "hostname", value_name = "NAME")]
    hostnames: Vec<String>,
}

pub fn run(args: QualifyArgs) -> Result<ExitCode> {
    let suite = match &args.suite {
        Some(name) => TestId::suite(name)?,
        None => TestId::ALL.to_vec(),
    };
    if args.list {
        for test in &suite {
            println!("{:<40} {}", test.id(), test.summary());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(device_cert) = args.device_cert else {
        anyhow::bail!("--device-cert FILE is required: the certificate of the device under test");
    };
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => crate::serve::default_data_dir()?,
    };
    let mut config = QualifyConfig::new(data_dir, device_cert);
    config.tests = suite;
    if !args.tests.is_empty() {
        config.tests = args
            .tests
            .iter()
            .map(|t| TestId::parse(t))
            .collect::<Result<_, _>>()?;
    }
    config.hostnames = args.hostnames;
    config.test_timeout = Duration::from_secs(args.timeout);
    config.handshake_timeout = Duration::from_secs(args.handshake_timeout);
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = TcpListener::bind(addr).with_context(|| {
        format!("cannot listen on {addr}: is tether serve running there? Pick another --port (0 for any free port)")
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let verdicts = runtime.block_on(qualify::run(&config, listener, print_event))?;
    println!();
    print!("{}", qualify::text_summary(&verdicts));
    if let Some(dir) = args.report_dir {
        write_reports(&dir, &verdicts)?;
        println!("reports written to {}", dir.display());
    }
    let failed = verdicts.iter().any(|v| v.outcome == Outcome::Fail);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Progress lines: machine-readable first words, then words for a human.
fn print_event(event: Event<'_>) {
    match event {
        Event::Ready {
            addr,
            ca_path,
            certificate_id,
        } => {
            println!(
                "tether qualify ready port={} addr={addr} device={certificate_id}",
                addr.port()
            );
            println!(
                "Point the device at port {} of this machine with the root CA {}; it will be asked to connect once per test.",
                addr.port(),
                ca_path.display()
            );
        }
        Event::Waiting(test) => {
            println!("qualify waiting test={}: {}", test.id(), test.summary());
        }
        Event::Progress(test, line) => println!("qualify progress test={}: {line}", test.id()),
        Event::Verdict(v) => {
            println!(
                "qualify verdict test={} outcome={}: the device {}",
                v.test.id(),
                v.outcome.as_str(),
                v.device_did
            );
            if let Some(fix) = &v.fix {
                println!("  fix: {fix}");
            }
        }
    }
}

fn write_reports(dir: &std::path::Path, verdicts: &[qualify::Verdict]) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the report directory {}", dir.display()))?;
    for (name, text) in [
        ("junit.xml", qualify::junit_xml(verdicts)),
        ("report.json", qualify::json_report(verdicts)),
        ("summary.txt", qualify::text_summary(verdicts)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .with_context(|| format!("cannot write {}: check --report-dir", path.display()))?;
    }
    Ok(())
}
