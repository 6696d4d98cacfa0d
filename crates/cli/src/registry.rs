//! `tether registry export|import|push|pull`: a registry (things, types, groups, policies with
//! their versions, certificates and CAs by PEM, attachments, provisioning templates) moved as
//! a reviewable JSON bundle (crates/registry-bundle) between a local `tether serve` and any AWS IoT
//! control plane, read (`snapshot.rs`) and written (`sync.rs`) with AWS's own operations,
//! signed with SigV4. It never carries private keys (the API never returns them) and never
//! deletes what only the target has; docs/registry.md is the user's account of both.

mod snapshot;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use registry_bundle::Bundle;
use sync::{Change, Sync};

use crate::api_client::{ApiArgs, Client, Credentials};

/// Move a registry between tethers and AWS IoT Core: export, import, push, pull.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    #[command(subcommand)]
    command: RegistryCommand,
    #[command(flatten)]
    api: ApiArgs,
}

#[derive(Debug, Subcommand)]
enum RegistryCommand {
    /// Write the registry at --endpoint-url as a bundle (pretty JSON, sorted keys).
    Export {
        /// Write the bundle to this file instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Make the registry at --endpoint-url hold what a bundle holds (`-` for standard input).
    Import {
        /// The bundle file.
        file: PathBuf,
        /// Print the plan (create, update, unchanged per object) and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Make the registry at --endpoint-url (the remote) hold what the local tether holds.
    Push(SyncArgs),
    /// Make the local tether hold what the registry at --endpoint-url (the remote) holds.
    Pull(SyncArgs),
}

#[derive(Debug, Args)]
struct SyncArgs {
    /// The local tether's API, signed with the development credential.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:4580")]
    local_url: String,
    /// Print the plan (create, update, unchanged per object) and change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: RegistryArgs) -> Result<ExitCode> {
    match args.command {
        RegistryCommand::Export { output } => {
            let client = args.api.client()?;
            let (bundle, _) = snapshot::read(&client)?;
            let text = bundle.to_text()?;
            match output {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("--output {}: cannot write", path.display()))?,
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Import { file, dry_run } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
                    .context("cannot read the bundle from standard input")?
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("{}: cannot read the bundle", file.display()))?
            };
            let bundle = Bundle::parse(&text)
                .with_context(|| format!("{}: not a usable bundle", file.display()))?;
            apply(&bundle, &args.api.client()?, dry_run)
        }
        RegistryCommand::Push(sync) => {
            let (local, remote) = pair(&args.api, &sync, "push")?;
            let (bundle, _) = snapshot::read(&local)?;
            apply(&bundle, &remote, sync.dry_run)
        }
        RegistryCommand::Pull(sync) => {
            let (local, remote) = pair(&args.api, &sync, "pull")?;
            let (bundle, _) = snapshot::read(&remote)?;
            apply(&bundle, &local, sync.dry_run)
        }
    }
}

/// The local and remote clients of push and pull. The remote must be named: a default would
/// make it the local tether itself.
fn pair(api: &ApiArgs, sync: &SyncArgs, verb: &str) -> Result<(Client, Client)> {
    if api.endpoint_url.is_none() {
        bail!(
            "tether registry {verb} needs --endpoint-url URL: the remote registry (another \
             tether's api=http://… or an AWS IoT control plane)"
        );
    }
    let remote = api.client()?;
    let local = Client::new(&sync.local_url, api.endpoint().region)?
        .with_credentials(Credentials::development());
    if local.base() == remote.base() {
        bail!(
            "--endpoint-url and --local-url both name {}; {verb} needs two registries",
            local.base()
        );
    }
    Ok((local, remote))
}

/// Reads the target, walks the bundle over it and prints the plan (and, unless a dry run, what
/// was done). Exits 1 when an object is in conflict.
fn apply(bundle: &Bundle, target: &Client, dry_run: bool) -> Result<ExitCode> {
    let (have, arns) = snapshot::read(target)?;
    let mut walk = Sync::new(target, dry_run, have, arns);
    walk.run(bundle)?;
    for step in &walk.steps {
        println!("{step}");
    }
    let changes = walk
        .steps
        .iter()
        .filter(|s| matches!(s.change, Change::Create | Change::Update(_)))
        .count();
    let summary = sync::summary(&walk.steps);
    if dry_run {
        println!(
            "dry run against {}: {summary}; nothing was changed",
            target.base()
        );
    } else if changes == 0 {
        println!("nothing to do at {}: {summary}", target.base());
    } else {
        println!("done at {}: {summary}", target.base());
    }
    if walk
        .steps
        .iter()
        .any(|s| matches!(s.change, Change::Conflict(_)))
    {
        eprintln!(
            "error: some objects are in conflict (see the lines marked conflict); the rest was \
             {}",
            if dry_run { "planned" } else { "applied" }
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
