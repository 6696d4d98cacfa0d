//! The record of refusals, shared by the process that writes it (`tether serve`: every TLS
//! handshake, client certificate, WebSocket signature, custom-authorizer answer, policy
//! decision, limit or protocol rule that refuses a client is appended as one compact JSON line
//! to `DATA_DIR/refusals.jsonl`) and the one that reads it (`tether doctor recent`, which
//! explains each kind). [`RefusalKind`] is the one vocabulary of why: the handshake code, the
//! metrics labels, the log and the doctor's advice all use it, so a new kind cannot be recorded
//! without advice (the doctor matches it exhaustively).
//!
//! Writing happens on a thread of its own ([`Recorder`]): the broker's router and connection
//! tasks hand a record over a bounded channel and never wait on the disk; the thread appends
//! it, then logs its line, so whoever reads a log line finds the record. The file is rotated to
//! `refusals.jsonl.1` past 1 MiB. Writing is best effort: a full disk or a full channel must
//! not stop the broker. This crate does not decide why a client is refused, nor word the
//! advice; it keeps the record.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

use serde::{Deserialize, Serialize};

/// Size at which the log is rotated.
const ROTATE_AT: u64 = 1024 * 1024;

/// The file name inside the data directory.
pub const FILE_NAME: &str = "refusals.jsonl";

/// Why a connection was refused. The serialized form is the label used in the log, in
/// `/metrics` (`reason="…"`) and in `tether doctor recent`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
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
    /// The client certificate's notAfter has passed (refused at the TLS handshake, registered
    /// or not), or it expired while connected.
    CertificateExpired,
    /// The client certificate's notBefore is still to come.
    CertificateNotYetValid,
    /// The registry could not be read to check the certificate.
    Registry,
    /// An attached AWS IoT policy refused a CONNECT, PUBLISH or SUBSCRIBE: an explicit Deny,
    /// or no Allow statement matched.
    Policy,
    /// The certificate has no policy attached, so nothing is allowed.
    NoPolicy,
    /// A limit of the broker's profile refused it (payload or packet size, QoS, topic length
    /// or levels, client id, subscriptions...).
    Limit,
    /// The client broke the MQTT protocol (a malformed packet, no CONNECT in time...).
    Protocol,
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
    /// A bridge's upstream broker (AWS IoT Core, mosquitto...) failed the TLS handshake with
    /// the bridge, or the bridge did not trust the upstream's certificate.
    UpstreamTls,
    /// A bridge's upstream broker refused the bridge's CONNECT (CONNACK with a failure code) or
    /// disconnected it with a reason.
    UpstreamRefused,
    /// A bridge's upstream broker closed the connection without a word: before CONNACK, after a
    /// SUBSCRIBE, or after a PUBLISH. AWS IoT Core refuses this way an unregistered or inactive
    /// certificate and, over MQTT 3.1.1, what the policy does not allow.
    UpstreamClosed,
    /// A kind this version does not know (written by a newer tether).
    #[default]
    #[serde(other)]
    Unknown,
}

impl RefusalKind {
    /// Every kind, in declaration order.
    pub const ALL: [RefusalKind; 34] = [
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
        RefusalKind::CertificateExpired,
        RefusalKind::CertificateNotYetValid,
        RefusalKind::Registry,
        RefusalKind::Policy,
        RefusalKind::NoPolicy,
        RefusalKind::Limit,
        RefusalKind::Protocol,
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
        RefusalKind::UpstreamTls,
        RefusalKind::UpstreamRefused,
        RefusalKind::UpstreamClosed,
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
            RefusalKind::CertificateExpired => "certificate_expired",
            RefusalKind::CertificateNotYetValid => "certificate_not_yet_valid",
            RefusalKind::Registry => "registry",
            RefusalKind::Policy => "policy",
            RefusalKind::NoPolicy => "no_policy",
            RefusalKind::Limit => "limit",
            RefusalKind::Protocol => "protocol",
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
            RefusalKind::UpstreamTls => "upstream_tls",
            RefusalKind::UpstreamRefused => "upstream_refused",
            RefusalKind::UpstreamClosed => "upstream_closed",
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

/// One refusal. Fields that do not apply are left out of the JSON line, so a record stays a few
/// hundred bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Refusal {
    /// When, RFC 3339 UTC.
    pub time: String,
    /// The client's address.
    pub peer: String,
    /// Which listener (`mqtts`, `mqtts-alpn`, `https-443`, `wss`, `mqtt`, `mqtts-legacy`), or
    /// `bridge NAME` for a refusal of a bridge by its upstream broker.
    pub listener: String,
    /// Why, as a kind.
    pub kind: RefusalKind,
    /// Why, in words, with what to change.
    pub reason: String,
    /// What the client offered in its ClientHello: versions, the number of suites, SNI and
    /// ALPN; the suites themselves only when they decided (kind `cipher`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered: Option<String>,
    /// Whether the client sent a certificate, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<bool>,
    /// Who: a device's certificate id (its AWS IoT principal), or `anonymous` on the plain
    /// listener. Older records call it `certificate_id`.
    #[serde(
        default,
        alias = "certificate_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub principal: Option<String>,
    /// The MQTT client id, once the CONNECT named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// What was refused: an AWS IoT action (`iot:Publish`...) or an MQTT packet (`PUBLISH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// On what: an ARN, a topic or topic filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// What decided: the policy statement, or the limit and its value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
}

/// Appends refusals to the data directory's log, synchronously. [`Recorder`] is what a server
/// uses; this is its writing half (and what tests use directly).
#[derive(Debug)]
pub struct RefusalLog {
    path: PathBuf,
}

impl RefusalLog {
    /// The log of `data_dir`.
    pub fn new(data_dir: &Path) -> RefusalLog {
        RefusalLog {
            path: data_dir.join(FILE_NAME),
        }
    }

    /// Appends one refusal (best effort; failures are logged, not returned).
    pub fn record(&self, refusal: &Refusal) {
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

/// Records waiting for the writer thread; beyond this many, new ones are dropped (and counted)
/// rather than making the broker wait.
const QUEUE: usize = 4096;

/// A record and the log line to emit once it is written.
type Entry = (Refusal, Option<String>);

/// Hands refusals to a writer thread of their own. Cheap to clone; never blocks. The thread
/// ends when the last clone is dropped, after writing what it was given.
#[derive(Debug, Clone)]
pub struct Recorder {
    sender: Option<SyncSender<Entry>>,
    dropped: Arc<AtomicU64>,
}

impl Recorder {
    /// Starts the writer thread for `data_dir`'s log.
    pub fn start(data_dir: &Path) -> std::io::Result<Recorder> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE);
        let log = RefusalLog::new(data_dir);
        std::thread::Builder::new()
            .name("refusal-log".to_owned())
            .spawn(move || write_all(&log, &receiver))?;
        Ok(Recorder {
            sender: Some(sender),
            dropped: Arc::default(),
        })
    }

    /// A recorder that keeps nothing (for tests of code that records).
    pub fn discard() -> Recorder {
        Recorder {
            sender: None,
            dropped: Arc::default(),
        }
    }

    /// Queues a refusal; `log` is written to the server's log (warn level) after the record.
    pub fn record(&self, refusal: Refusal, log: Option<String>) {
        let Some(sender) = &self.sender else { return };
        match sender.try_send((refusal, log)) {
            Ok(()) => {}
            Err(TrySendError::Full((refusal, _))) => {
                if self.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(
                        "refusals arrive faster than {FILE_NAME} is written; not recording some \
                         (first dropped: {} {})",
                        refusal.kind,
                        refusal.reason
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// How many refusals were not recorded because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

fn write_all(log: &RefusalLog, receiver: &Receiver<Entry>) {
    for (refusal, line) in receiver {
        log.record(&refusal);
        if let Some(line) = line {
            tracing::warn!("{line}");
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
            offered: Some("TLS 1.1 with 1 suite".into()),
            client_certificate: Some(false),
            ..Refusal::default()
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

    #[test]
    fn records_leave_out_what_does_not_apply_and_old_records_still_read() {
        let policy = Refusal {
            kind: RefusalKind::Policy,
            principal: Some("3e3b8a2d46".into()),
            client_id: Some("dev".into()),
            action: Some("iot:Publish".into()),
            resource: Some("arn:aws:iot:us-east-1:123456789012:topic/a".into()),
            decided_by: Some("no statement allows it".into()),
            ..refusal(RefusalKind::Policy)
        };
        let line = serde_json::to_string(&Refusal {
            offered: None,
            client_certificate: None,
            ..policy.clone()
        })
        .unwrap();
        assert!(
            !line.contains("\"offered\"") && !line.contains("null"),
            "{line}"
        );
        assert!(line.len() < 400, "{} bytes: {line}", line.len());
        let old = r#"{"time":"t","peer":"p","listener":"mqtts","kind":"not_registered",
            "reason":"r","offered":null,"client_certificate":true,"certificate_id":"abc"}"#;
        let read: Refusal = serde_json::from_str(old).unwrap();
        assert_eq!(read.principal.as_deref(), Some("abc"));
        assert_eq!(read.kind, RefusalKind::NotRegistered);
    }

    #[test]
    fn the_recorder_writes_on_its_own_thread_and_ends_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::start(dir.path()).unwrap();
        for kind in [RefusalKind::Limit, RefusalKind::Protocol] {
            recorder
                .clone()
                .record(refusal(kind), Some(format!("{kind} refused")));
        }
        drop(recorder);
        // Dropping the last sender ends the thread after it wrote everything; poll the file
        // with a deadline rather than sleeping a fixed time.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let recent = read_recent(dir.path(), 10).unwrap();
            if recent.len() == 2 {
                assert_eq!(recent[0].kind, RefusalKind::Limit);
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{recent:?}");
            std::thread::yield_now();
        }
        Recorder::discard().record(refusal(RefusalKind::Other), None);
    }
}
