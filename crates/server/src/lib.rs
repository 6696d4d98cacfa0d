//! The `tether serve` runtime: data-dir bootstrap (local CA, server certificates, demo device),
//! listeners, TLS handshakes with explained refusals, per-connection tasks, the router task that
//! owns `broker_core`, the registry watcher, and `/metrics`. This is the only crate that opens
//! listening sockets — and it does not even bind them: the caller passes bound listeners
//! (port 0 works) and a shutdown future, and learns the addresses from [`Ready`]. Command-line
//! and config-file parsing belong to the CLI; this crate takes plain structs.

pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod connection;
pub mod handshake;
mod http;
pub mod metrics;
pub mod persist;
pub mod refusals;
pub mod rewind;
pub mod router;
mod runtime;

pub use runtime::{Listeners, Ready, ServerConfig, ServerError, run};
