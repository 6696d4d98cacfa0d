//! Diagnoses for devices that cannot connect, as data: every check yields findings (severity,
//! what, why, fix) that the CLI renders as text or JSON. Today: the device serial-log explainer.
//! It prints nothing and reads no files itself — callers pass bytes in.

pub mod finding;
pub mod log;

pub use finding::{Finding, Report, Severity};
pub use log::{Stack, explain_log};
