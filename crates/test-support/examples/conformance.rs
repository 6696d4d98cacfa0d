//! Plays the broker conformance sequences against any broker on a plain TCP port and prints a
//! summary plus every failure, so tether's results can be compared with a peer's:
//!
//!     cargo run -p test-support --example conformance -- 127.0.0.1:1883 [SEQUENCES_DIR]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use test_support::conformance::load_dir;
use test_support::runner::{Pass, run_all};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next().and_then(|a| a.parse::<SocketAddr>().ok()) else {
        eprintln!("usage: conformance HOST:PORT [SEQUENCES_DIR]");
        return ExitCode::from(2);
    };
    let dir = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/mqtt-sequences")
    });
    let cases = match load_dir(&dir) {
        Ok(cases) => cases,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let results = run_all(addr, &cases, 16, Duration::from_secs(2));
    let (mut exact, mut equivalent, mut failed) = (0, 0, 0);
    for (case, result) in cases.iter().zip(&results) {
        match result {
            Ok(Pass::Exact) => exact += 1,
            Ok(Pass::Equivalent) => equivalent += 1,
            Err(failure) => {
                failed += 1;
                println!("FAIL {} :: {}: {failure}", case.file, case.full_name);
            }
        }
    }
    println!(
        "{} passed ({exact} exact, {equivalent} equivalent), {failed} failed",
        exact + equivalent
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
