//! The `tether` binary: parses the command line and hands each subcommand to its module.
//! It owns argument parsing, config files and output formatting; the work itself lives in the
//! library crates.

mod api_client;
mod bench;
mod device;
mod doctor;
mod flash;
mod pubsub;
mod rules;
mod serve;
mod shadow;

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
    /// Diagnose why a device cannot connect: device logs, credentials, probes, recent refusals.
    Doctor(doctor::DoctorArgs),
    /// Provision devices through the API of a running tether serve (things, certificates, policies).
    Device(device::DeviceArgs),
    /// Publish MQTT messages (mosquitto_pub's flags; -h is the host, --help the help).
    #[command(disable_help_flag = true)]
    Pub(pubsub::PubArgs),
    /// Subscribe and print MQTT messages (mosquitto_sub's flags; -h is the host).
    #[command(disable_help_flag = true)]
    Sub(pubsub::SubArgs),
    /// Read, change and follow Device Shadows through the API of a running tether serve.
    Shadow(shadow::ShadowArgs),
    /// Try IoT SQL statements locally; list and show the topic rules of a running tether serve.
    Rules(rules::RulesArgs),
    /// Measure a broker: connection storms, throughput, latency, idle memory, durable queues.
    Bench(bench::BenchArgs),
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
        Command::Device(args) => device::run(args),
        Command::Pub(args) => pubsub::run_pub(args),
        Command::Sub(args) => pubsub::run_sub(args),
        Command::Shadow(args) => shadow::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
