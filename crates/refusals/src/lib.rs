//! The record of refused connections, shared by the process that writes it (`tether serve`:
//! every TLS handshake, client certificate, WebSocket signature or custom-authorizer answer it
//! refuses is appended as one JSON line to
//! `DATA_DIR/refusals.jsonl`) and the one that reads it (`tether doctor recent`, which explains
//! each kind). [`RefusalKind`] is the one vocabulary of why a connection was refused: the
//! handshake code, the metrics labels, the log and the doctor's advice all use it, so a new kind
//! cannot be recorded without advice (the doctor matches it exhaustively).
//!
//! The file is rotated to `refusals.jsonl.1` past 1 MiB. Writing is best effort: a full disk
//! must not stop the broker. This crate does not decide why a connection is refused, nor word
//! the advice; it keeps the record.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Size at which the log is rotated.
const ROTATE_AT: u64 = 1024 * 1024;

/// The file name inside the data directory.
pub const FILE_NAME: &str = "refusals.jsonl";

/// Why a connection was refused. The serialized form is the label used in the log, in
/// `/metrics` (`reason="…"`) and in `tether doctor recent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// The client spoke something other than TLS (usually plain MQTT) to a TLS listener.
    NotTls,
    /// The client did not finish its handshake in time.
    Timeout,
    /// No TLS version is shared with the listener's security policy.
    Version,
    /// The versions overlap but no cipher suite is shared.
    Cipher,
    /// The server name (SNI) was missing or not the one required.
    Sni,
    /// ALPN was required (port 443) and not offered as required.
    Alpn,
    /// Mutual TLS was required and the client sent no (usable) certificate.
    ClientCertificate,
    /// The client refused the server's certificate.
    ServerCertificateRejected,
    /// The client closed the connection during the handshake.
    Closed,
    /// The handshake failed for a reason without a specific kind.
    Other,
    /// The client certificate's id is not in the registry.
    NotRegistered,
    /// The client certificate is registered but not ACTIVE.
    NotActive,
    /// The registry could not be read to check the certificate.
    Registry,
    /// A request to the WebSocket endpoint that is not an MQTT WebSocket upgrade (another path, no `mqtt` subprotocol, or not HTTP).
    NotWebsocket,
    /// A WebSocket upgrade carried neither a SigV4 signature nor custom-authorizer credentials, and no default authorizer is set.
    MissingCredentials,
    /// A SigV4 signature (query string) lacks a part or cannot be read.
    SignatureIncomplete,
    /// A SigV4 signature is expired or dated too far from the server's clock (clock skew).
    SignatureExpired,
    /// A SigV4 signature does not match the one computed with the secret tether holds.
    SignatureMismatch,
    /// A SigV4 signature names an access key tether does not accept.
    UnknownAccessKey,
    /// A custom authorizer with token signing got no token (or no signature of it).
    AuthorizerTokenMissing,
    /// A custom authorizer's token signature does not verify with its token signing keys.
    AuthorizerTokenSignature,
    /// A custom authorizer's function answered `isAuthenticated: false`.
    AuthorizerDenied,
    /// A custom authorizer's function did not answer in time.
    AuthorizerTimeout,
    /// A custom authorizer could not be used: unknown or inactive, its function failed, or its answer is invalid.
    AuthorizerFailed,
    /// A kind this version does not know (written by a newer tether).
    #[serde(other)]
    Unknown,
}

impl RefusalKind {
    /// Every kind, in declaration order.
    pub const ALL: [RefusalKind; 25] = [
        RefusalKind::NotTls,
        RefusalKind::Timeout,
        RefusalKind::Version,
        RefusalKind::Cipher,
        RefusalKind::Sni,
        RefusalKind::Alpn,
        RefusalKind::ClientCertificate,
        RefusalKind::ServerCertificateRejected,
        RefusalKind::Closed,
        RefusalKind::Other,
        RefusalKind::NotRegistered,
        RefusalKind::NotActive,
        RefusalKind::Registry,
        RefusalKind::NotWebsocket,
        RefusalKind::MissingCredentials,
        RefusalKind::SignatureIncomplete,
        RefusalKind::SignatureExpired,
        RefusalKind::SignatureMismatch,
        RefusalKind::UnknownAccessKey,
        RefusalKind::AuthorizerTokenMissing,
        RefusalKind::AuthorizerTokenSignature,
        RefusalKind::AuthorizerDenied,
        RefusalKind::AuthorizerTimeout,
        RefusalKind::AuthorizerFailed,
        RefusalKind::Unknown,
    ];

    /// The label: `not_tls`, `version`, `not_registered`, …
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalKind::NotTls => "not_tls",
            RefusalKind::Timeout => "timeout",
            RefusalKind::Version => "version",
            RefusalKind::Cipher => "cipher",
            RefusalKind::Sni => "sni",
            RefusalKind::Alpn => "alpn",
            RefusalKind::ClientCertificate => "client_certificate",
            RefusalKind::ServerCertificateRejected => "server_certificate_rejected",
            RefusalKind::Closed => "closed",
            RefusalKind::Other => "other",
            RefusalKind::NotRegistered => "not_registered",
            RefusalKind::NotActive => "not_active",
            RefusalKind::Registry => "registry",
            RefusalKind::NotWebsocket => "not_websocket",
            RefusalKind::MissingCredentials => "missing_credentials",
            RefusalKind::SignatureIncomplete => "signature_incomplete",
            RefusalKind::SignatureExpired => "signature_expired",
            RefusalKind::SignatureMismatch => "signature_mismatch",
            RefusalKind::UnknownAccessKey => "unknown_access_key",
            RefusalKind::AuthorizerTokenMissing => "authorizer_token_missing",
            RefusalKind::AuthorizerTokenSignature => "authorizer_token_signature",
            RefusalKind::AuthorizerDenied => "authorizer_denied",
            RefusalKind::AuthorizerTimeout => "authorizer_timeout",
            RefusalKind::AuthorizerFailed => "authorizer_failed",
            RefusalKind::Unknown => "unknown",
        }
    }

    /// Its position in [`RefusalKind::ALL`] (for per-kind counters).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RefusalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refused connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// When, RFC 3339 UTC.
    pub time: String,
    /// The client's address.
    pub peer: String,
    /// Which listener (`mqtts`, `mqtts-alpn`, `https-443`, `wss`).
    pub listener: String,
    /// Why, as a kind.
    pub kind: RefusalKind,
    /// Why, in words, with what to change.
    pub reason: String,
    /// What the client offered (TLS versions, suites, SNI, ALPN), when its hello arrived.
    pub offered: Option<String>,
    /// Whether the client sent a certificate, when known.
    pub client_certificate: Option<bool>,
    /// The client certificate's id, when the refusal concerns it.
    pub certificate_id: Option<String>,
}

/// Appends refusals to the data directory's log.
#[derive(Debug)]
pub struct RefusalLog {
    path: PathBuf,
    lock: Mutex<()>,
}

impl RefusalLog {
    /// The log of `data_dir`.
    pub fn new(data_dir: &Path) -> RefusalLog {
        RefusalLog {
            path: data_dir.join(FILE_NAME),
            lock: Mutex::new(()),
        }
    }

    /// Appends one refusal (best effort; failures are logged, not returned).
    pub fn record(&self, refusal: &Refusal) {
        let Ok(_guard) = self.lock.lock() else { return };
        let Ok(mut line) = serde_json::to_string(refusal) else {
            return;
        };
        line.push('\n');
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() > ROTATE_AT) {
            let _ = std::fs::rename(&self.path, self.path.with_extension("jsonl.1"));
        }
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut file| file.write_all(line.as_bytes()));
        if let Err(e) = written {
            tracing::warn!("cannot append to {}: {e}", self.path.display());
        }
    }
}

/// Reads the most recent `limit` refusals of a data directory, oldest first. Lines that do not
/// parse are skipped.
pub fn read_recent(data_dir: &Path, limit: usize) -> std::io::Result<Vec<Refusal>> {
    let mut all = Vec::new();
    for path in [
        data_dir.join(format!("{FILE_NAME}.1")),
        data_dir.join(FILE_NAME),
    ] {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                all.extend(
                    text.lines()
                        .filter_map(|line| serde_json::from_str(line).ok()),
                );
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let skip = all.len().saturating_sub(limit);
    Ok(all.into_iter().skip(skip).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(kind: RefusalKind) -> Refusal {
        Refusal {
            time: "2026-01-01T00:00:00Z".into(),
            peer: "127.0.0.1:5000".into(),
            listener: "mqtts".into(),
            kind,
            reason: "client offered TLS 1.1 at most".into(),
            offered: Some("TLS 1.1 with suites AES128-SHA".into()),
            client_certificate: Some(false),
            certificate_id: None,
        }
    }

    #[test]
    fn records_read_back_newest_last_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let log = RefusalLog::new(dir.path());
        for kind in [RefusalKind::Version, RefusalKind::Cipher, RefusalKind::Sni] {
            log.record(&refusal(kind));
        }
        let recent = read_recent(dir.path(), 2).unwrap();
        assert_eq!(
            recent.iter().map(|r| r.kind).collect::<Vec<_>>(),
            [RefusalKind::Cipher, RefusalKind::Sni]
        );
    }

    #[test]
    fn a_missing_log_is_empty_and_garbage_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_recent(dir.path(), 10).unwrap().is_empty());
        std::fs::write(dir.path().join(FILE_NAME), "not json\n").unwrap();
        RefusalLog::new(dir.path()).record(&refusal(RefusalKind::Timeout));
        assert_eq!(read_recent(dir.path(), 10).unwrap().len(), 1);
    }

    #[test]
    fn labels_are_the_serialized_form_and_unknown_kinds_still_read() {
        for kind in RefusalKind::ALL {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(RefusalKind::ALL[kind.index()], kind);
        }
        let newer: RefusalKind = serde_json::from_str("\"quantum_mismatch\"").unwrap();
        assert_eq!(newer, RefusalKind::Unknown);
    }
}
