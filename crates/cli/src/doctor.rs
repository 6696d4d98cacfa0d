//! `tether doctor`: the diagnosis subcommand group. Each subcommand runs a check from the
//! `doctor` crate and renders its findings as text or JSON; the exit status is 0 only when
//! nothing is wrong. The checks themselves live in the `doctor` crate, not here. Today:
//! `doctor explain` (device serial logs); `creds`, `probe` and `recent` join this group.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use ::doctor::{Finding, Report};
use anyhow::Context;
use clap::{Args, Subcommand};

/// Arguments of `tether doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(subcommand)]
    command: DoctorCommand,
}

#[derive(Debug, Subcommand)]
enum DoctorCommand {
    /// Explain a device's serial log: TLS alerts, library error codes, certificate records,
    /// and the most likely root cause with its fix.
    Explain(ExplainArgs),
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

/// Runs a `tether doctor` subcommand.
pub fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        DoctorCommand::Explain(args) => explain(&args),
    }
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
        println!(
            "{}",
            serde_json::to_string_pretty(report).context("cannot encode the report as JSON")?
        );
    } else {
        print!("{}", render_text(report));
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The report as plain text: one block per finding, then the root cause.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        render_finding(&mut out, f, "");
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
