//! `tether man`: manual pages in roff, generated from the clap definition that parses the
//! command line: tether(1) on standard output, or with `--out-dir` one page per subcommand as
//! well (tether-serve(1), tether-device(1), …), ready for `man -l` or a package's man1
//! directory. It documents what the flags' help says and nothing more.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

/// Print tether(1), or write tether.1 and tether-SUBCOMMAND.1 into a directory.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write tether.1 and one page per subcommand into DIR instead of printing tether(1).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

pub fn run(args: ManArgs, command: clap::Command) -> Result<ExitCode> {
    let command = command.version(crate::VERSION);
    match args.out_dir {
        None => {
            clap_mangen::Man::new(command)
                .render(&mut std::io::stdout())
                .context("cannot write the manual page to standard output")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| {
                format!("cannot create {}; choose another --out-dir", dir.display())
            })?;
            for page in pages(command) {
                write_page(&dir, page)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// tether(1) and, for each subcommand, a page named `tether-NAME` (its usage line says
/// `tether NAME`, as typed).
fn pages(command: clap::Command) -> Vec<clap::Command> {
    let mut command = command;
    command.build();
    let mut pages = vec![command.clone()];
    for sub in command.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let name = format!("{}-{}", command.get_name(), sub.get_name());
        let bin_name = format!("{} {}", command.get_name(), sub.get_name());
        pages.push(
            sub.clone()
                .name(name)
                .bin_name(bin_name)
                .version(crate::VERSION),
        );
    }
    pages
}

fn write_page(dir: &Path, page: clap::Command) -> Result<()> {
    let path = dir.join(format!("{}.1", page.get_name()));
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .with_context(|| format!("cannot render {}", path.display()))?;
    std::fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))
}
