//! The `tether` binary: parses the command line and hands each subcommand to its module.
//! It owns argument parsing, config files and output formatting; the work itself lives in the
//! library crates.

mod doctor;
mod flash;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Connect IoT devices to AWS IoT Core or any MQTT broker over mutual TLS.
#[derive(Debug, Parser)]
#[command(name = "tether", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a local AWS IoT Core: MQTT on mutual TLS with a device registry.
    Serve(serve::ServeArgs),
    /// Turn device credentials into what a device flashes or compiles in; check flash placement.
    Flash(flash::FlashArgs),
    /// Diagnose why a device cannot connect (device logs now; credentials and probes to come).
    Doctor(doctor::DoctorArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Flash(args) => flash::run(args),
        Command::Doctor(args) => doctor::run(args),
    }
}
