//! Diagnoses for devices that cannot connect, as data: every check yields findings (severity,
//! what, why, fix) that the CLI renders as text or JSON. The device serial-log explainer
//! (`log`), credential checks (`creds`), endpoint probes that imitate a device's TLS stack
//! (`probe`) and advice for the refusals `tether serve` records (`recent`). It prints nothing;
//! only the probe opens sockets and only the registry check opens a file (the database).

pub mod creds;
pub mod finding;
pub mod log;
pub mod probe;
pub mod recent;

pub use creds::{CredentialFile, CredsInput, check_credentials};
pub use finding::{Finding, LineNote, Report, Severity};
pub use log::{Stack, explain_log};
pub use probe::{Outcome, ProbeOptions, ProbeReport, Step};
