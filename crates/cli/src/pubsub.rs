//! `tether pub` and `tether sub`: mosquitto_pub/mosquitto_sub-compatible clients on the
//! `client` crate. This module runs them on a single-threaded runtime, prints failures as
//! `Error: …` and turns them into mosquitto's exit codes; flags, output and packet logs live in
//! the submodules. It does not implement MQTT or TLS.

mod connection;
mod format;
mod publish;
mod subscribe;
mod trace;

use std::future::Future;
use std::process::ExitCode;

use anyhow::Context;

pub use connection::{device_connection, load_identity};
pub use publish::PubArgs;
pub use subscribe::SubArgs;

use connection::Failure;

/// Runs `tether pub`.
pub fn run_pub(args: PubArgs) -> anyhow::Result<ExitCode> {
    block_on(publish::run(args))
}

/// Runs `tether sub`.
pub fn run_sub(args: SubArgs) -> anyhow::Result<ExitCode> {
    block_on(subscribe::run(args))
}

/// One connection needs no worker threads; a current-thread runtime also starts fastest.
fn block_on(work: impl Future<Output = Result<(), Failure>>) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("Error: {failure}");
            }
            ExitCode::from(failure.code)
        }
    })
}
