//! What the CLI definition generates, checked by the programs that read it: bash completes
//! subcommands and flags from `tether completions bash`, groff renders `tether man` pages
//! without complaint, and `tether --version` names the commit git reports.

use std::path::Path;
use std::process::Command;

use crate::support::{run, text};

/// What bash offers after typing `words` (the last one partial) with tether's completions.
fn bash_completes(script: &Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let program = format!(
        "source '{}'; COMP_WORDS=({line}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
         _tether tether '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        words.len() - 1,
        words.last().unwrap(),
        words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["-c", &program])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_flags_from_the_generated_script() {
    let out = run(&["completions", "bash"]);
    assert!(out.status.success(), "{}", text(&out));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("tether.bash");
    std::fs::write(&script, &out.stdout).unwrap();

    let subcommands = bash_completes(&script, &["tether", "se"]);
    assert_eq!(subcommands, ["serve"]);
    let flags = bash_completes(&script, &["tether", "serve", "--eph"]);
    assert_eq!(flags, ["--ephemeral"]);
    let all = bash_completes(&script, &["tether", ""]);
    for sub in ["serve", "device", "doctor", "completions", "man"] {
        assert!(all.iter().any(|w| w == sub), "{sub} missing from {all:?}");
    }
}

#[test]
fn zsh_and_fish_scripts_name_the_subcommands_and_flags() {
    let zsh = text(&run(&["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef tether"), "{zsh}");
    assert!(zsh.contains("--exit-with-parent"));
    let fish = text(&run(&["completions", "fish"]));
    assert!(fish.contains("complete -c tether"), "{fish}");
    assert!(fish.contains("-l ready-file"));
    let out = run(&["completions", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn man_pages_render_with_groff_and_cover_every_subcommand() {
    let out = run(&["man"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH tether 1"));

    let dir = tempfile::tempdir().unwrap();
    let out = run(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    for page in [
        "tether",
        "tether-serve",
        "tether-device",
        "tether-pub",
        "tether-man",
    ] {
        let path = dir.path().join(format!("{page}.1"));
        let rendered = Command::new("groff")
            // -P-cbou: plain text, no overstriking for bold and underline.
            .args(["-man", "-Tutf8", "-ww", "-P-c", "-P-b", "-P-o", "-P-u"])
            .arg(&path)
            .output()
            .expect("groff renders man pages");
        let (page_text, warnings) = crate::support::stdout_stderr(&rendered);
        assert!(
            rendered.status.success() && warnings.is_empty(),
            "{page}: {warnings}"
        );
        if page == "tether-serve" {
            assert!(page_text.contains("--ephemeral"), "{page_text}");
            // groff justifies the synopsis, so the spaces between words vary with its length.
            let words = page_text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(words.contains("tether serve"), "usage says how it is typed");
        }
    }
}

#[test]
fn version_names_the_git_revision_it_was_built_from() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        version.starts_with(concat!("tether ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    let git = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    match git {
        Ok(out) if out.status.success() => {
            let revision = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            assert!(version.ends_with(&format!("(git {revision})")), "{version}");
        }
        // No git here: the package version alone.
        _ => assert_eq!(version, concat!("tether ", env!("CARGO_PKG_VERSION"))),
    }
}
