//! The `tether` binary: parses the command line and hands each subcommand to its module.
//! It owns argument parsing, config files and output formatting; the work itself lives in the
//! library crates.

mod api_client;
mod bench;
mod completions;
mod device;
mod doctor;
mod flash;
mod jobs;
mod man;
mod provision;
mod pubsub;
mod qualify;
mod registry;
mod rules;
mod serve;
mod shadow;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// The version `tether --version` prints: the package version and the git revision it was
/// built from (build.rs), e.g. `0.1.0 (git 1a2b3c4d5e6f)`.
pub const VERSION: &str = env!("TETHER_VERSION");

/// Connect IoT devices to AWS IoT Core or any MQTT broker over mutual TLS.
#[derive(Debug, Parser)]
#[command(name = "tether", version = VERSION, about, long_about = None)]
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
    /// Create, list, show, cancel and watch AWS IoT Jobs through the API of a running tether serve.
    Jobs(jobs::JobsArgs),
    /// Drive fleet provisioning through a running tether serve: templates, claims, devices.
    Provision(provision::ProvisionArgs),
    /// Publish MQTT messages (mosquitto_pub's flags; -h is the host, --help the help).
    #[command(disable_help_flag = true)]
    Pub(pubsub::PubArgs),
    /// Subscribe and print MQTT messages (mosquitto_sub's flags; -h is the host).
    #[command(disable_help_flag = true)]
    Sub(pubsub::SubArgs),
    /// Run AWS IoT Device Advisor's qualification tests locally against a device.
    Qualify(qualify::QualifyArgs),
    /// Move a registry between tethers and AWS IoT Core: export, import, push, pull.
    Registry(registry::RegistryArgs),
    /// Read, change and follow Device Shadows through the API of a running tether serve.
    Shadow(shadow::ShadowArgs),
    /// Try IoT SQL statements locally; list and show the topic rules of a running tether serve.
    Rules(rules::RulesArgs),
    /// Measure a broker: connection storms, throughput, latency, idle memory, durable queues.
    Bench(bench::BenchArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the manual page tether(1), or write one page per subcommand into a directory.
    Man(man::ManArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(usage_exit_code(&error));
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The exit code of a command line that does not parse: clap's 2, except for `tether pub` and
/// `tether sub`, which exit 1 like mosquitto_pub and mosquitto_sub; 0 for --help and
/// --version.
fn usage_exit_code(error: &clap::Error) -> u8 {
    let code = u8::try_from(error.exit_code()).unwrap_or(2);
    match std::env::args().nth(1).as_deref() {
        Some("pub" | "sub") if code != 0 => 1,
        _ => code,
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Flash(args) => flash::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Device(args) => device::run(args),
        Command::Jobs(args) => jobs::run(args),
        Command::Provision(args) => provision::run(args),
        Command::Pub(args) => pubsub::run_pub(args),
        Command::Sub(args) => pubsub::run_sub(args),
        Command::Qualify(args) => qualify::run(args),
        Command::Registry(args) => registry::run(args),
        Command::Shadow(args) => shadow::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Completions(args) => completions::run(args, Cli::command()),
        Command::Man(args) => man::run(args, Cli::command()),
    }
}
