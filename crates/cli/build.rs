//! Names the git revision `tether --version` reports: `TETHER_VERSION` is the package version
//! followed by the commit it was built from (`0.1.0 (git 1a2b3c4d5e6f)`), or the package
//! version alone when the source is not a git checkout or git is missing (a source tarball, a
//! vendored copy). `TETHER_GIT_REVISION` in the environment overrides what git says, for
//! packagers who build outside the repository. It does not mark uncommitted changes: a build
//! script cannot see every file edit without rerunning on each build.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TETHER_GIT_REVISION");
    let version = env("CARGO_PKG_VERSION").unwrap_or_default();
    let revision = env("TETHER_GIT_REVISION")
        .filter(|r| !r.is_empty())
        .or_else(git_revision);
    let full = match revision {
        Some(revision) => format!("{version} (git {revision})"),
        None => version,
    };
    println!("cargo:rustc-env=TETHER_VERSION={full}");
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The abbreviated commit of HEAD, and rerun triggers for the files that change with it.
fn git_revision() -> Option<String> {
    let dir = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let revision = git(&dir, &["rev-parse", "--short=12", "HEAD"])?;
    // HEAD lives in the worktree's git directory; the branch it names and packed-refs in the
    // common one. A new commit changes one of them.
    if let Some(git_dir) = git(&dir, &["rev-parse", "--absolute-git-dir"]) {
        rerun_if_changed(&Path::new(&git_dir).join("HEAD"));
    }
    if let Some(common) = git(&dir, &["rev-parse", "--git-common-dir"]) {
        let common = dir.join(common);
        rerun_if_changed(&common.join("packed-refs"));
        if let Some(branch) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
            rerun_if_changed(&common.join(branch));
        }
    }
    Some(revision)
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A missing file would make cargo rerun the script on every build, so only existing ones.
fn rerun_if_changed(path: &Path) {
    if !path.exists() {
        return;
    }
    println!("cargo:rerun-if-changed={}", path.display());
}
