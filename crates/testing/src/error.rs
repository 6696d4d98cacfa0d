//! [`Error`]: why a test server did not start or a device could not be registered or connected.
//! Each variant names the thing that failed (directory, listener, API call, file) and carries
//! enough to act on; none of them is a panic.

use std::path::PathBuf;

/// What went wrong in `tether-testing`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The temporary data directory could not be created.
    #[error("cannot create a temporary data directory for the test server: {0}; check TMPDIR")]
    DataDir(#[source] std::io::Error),
    /// A loopback listener could not be bound.
    #[error("cannot bind the test server's {what} listener on 127.0.0.1:0: {source}")]
    Bind {
        /// Which listener (`mqtts`, `api`, …).
        what: &'static str,
        /// The IO error.
        source: std::io::Error,
    },
    /// The server's thread could not be started.
    #[error("cannot start the test server's thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The server refused to start (its data directory, store, TLS or configuration).
    #[error("the test server did not start: {0}")]
    Start(#[source] server::ServerError),
    /// The server's thread ended without a report (it panicked).
    #[error("the test server's thread ended unexpectedly (a panic; see the test's output)")]
    Crashed,
    /// The API answered a call with an AWS error.
    #[error("{operation} failed with {kind} (HTTP {status}): {message}")]
    Api {
        /// The call, e.g. `POST /things/sensor-1`.
        operation: String,
        /// HTTP status.
        status: u16,
        /// AWS's exception name, e.g. `ResourceAlreadyExistsException`.
        kind: String,
        /// AWS's message.
        message: String,
    },
    /// A call did not get an answer it could read.
    #[error("{operation}: {reason}")]
    Http {
        /// The call.
        operation: String,
        /// What failed.
        reason: String,
    },
    /// A device's files could not be written or read.
    #[error("device file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A name cannot be a thing name (AWS allows `[a-zA-Z0-9:_-]{1,128}`).
    #[error(
        "{0:?} is not a valid thing name: use 1 to 128 letters, digits, ':', '_' or '-' \
         (AWS IoT's rule)"
    )]
    ThingName(String),
    /// The MQTT client could not connect or was refused.
    #[error("MQTT: {0}")]
    Mqtt(#[from] client::Error),
}

impl Error {
    /// AWS's exception name when the API refused a call (`ResourceNotFoundException`, …).
    pub fn aws_error_kind(&self) -> Option<&str> {
        match self {
            Error::Api { kind, .. } => Some(kind),
            _ => None,
        }
    }
}
