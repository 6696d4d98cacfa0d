//! `tether completions SHELL`: the completion script for bash, zsh, fish, elvish or PowerShell,
//! generated from the same clap definition that parses the command line, so it cannot drift
//! from the flags. It prints the script; installing it is the shell's business (see the help).

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use clap_complete::Shell;

/// Print a completion script for SHELL on standard output.
#[derive(Debug, Args)]
#[command(after_help = "Install, for example:\n  \
    bash: tether completions bash > ~/.local/share/bash-completion/completions/tether\n  \
    zsh:  tether completions zsh > ~/.zfunc/_tether   (with fpath+=~/.zfunc before compinit)\n  \
    fish: tether completions fish > ~/.config/fish/completions/tether.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(args: CompletionsArgs, mut command: clap::Command) -> Result<ExitCode> {
    let name = command.get_name().to_owned();
    // Generated into memory first: the generator panics on a failed write (a closed pipe),
    // where an error message is due.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&script)
        .and_then(|()| stdout.flush())
        .context("cannot write the completion script to standard output")?;
    Ok(ExitCode::SUCCESS)
}
