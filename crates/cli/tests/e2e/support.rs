//! Helpers shared by the end-to-end tests: the built `tether` binary, `tether serve` on port-0
//! listeners, running the binary to completion, output as text, waiting for a line, the
//! mosquitto clients, and a real mosquitto broker (`support/mosquitto.rs`). They start, run and
//! read; what a test asserts stays in the test.

pub mod mosquitto;

use std::ffi::OsStr;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use test_support::process::Tether;

/// How long a test waits for a log line or a packet it expects.
pub const LOG_WAIT: Duration = Duration::from_secs(10);

/// The `tether` binary cargo built for these tests.
pub fn tether() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tether"))
}

/// Starts `tether serve ARGS…` on port-0 listeners with a fresh data directory, which lives as
/// long as the returned `TempDir`.
pub fn start(args: &[&str]) -> (tempfile::TempDir, Tether) {
    let dir = tempfile::tempdir().unwrap();
    let server = Tether::serve(tether(), dir.path(), args).unwrap();
    (dir, server)
}

/// Runs `tether ARGS…` to completion, with nothing on its standard input.
pub fn run(args: &[impl AsRef<OsStr>]) -> Output {
    Command::new(tether()).args(args).output().unwrap()
}

/// Runs `tether ARGS…` to completion with `stdin` as its standard input.
pub fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(tether())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// Bytes as text, invalid UTF-8 replaced.
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Standard output and standard error, each as text.
pub fn stdout_stderr(output: &Output) -> (String, String) {
    (lossy(&output.stdout), lossy(&output.stderr))
}

/// Standard output followed by standard error, as one text.
pub fn text(output: &Output) -> String {
    let (stdout, stderr) = stdout_stderr(output);
    stdout + &stderr
}

pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// Reads lines until one contains `needle`; returns everything read.
pub fn read_until(out: &mut impl BufRead, needle: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = out.read_line(&mut line).unwrap();
        assert!(n > 0, "stream ended before {needle:?}; got:\n{seen}");
        seen.push_str(&line);
        if line.contains(needle) {
            return seen;
        }
    }
}

/// Runs `mosquitto_pub ARGS… EXTRA…` to completion.
pub fn mosquitto_pub(args: &[String], extra: &[&str]) -> Output {
    Command::new("mosquitto_pub")
        .args(args)
        .args(extra)
        .output()
        .expect("mosquitto_pub is installed by scripts/setup")
}
