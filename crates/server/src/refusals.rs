//! The record of refused connections: every TLS handshake or certificate the server refused is
//! appended as one JSON line to `DATA_DIR/refusals.jsonl`, so `tether doctor recent` can explain
//! the latest failures after the fact. The file is rotated to `refusals.jsonl.1` past 1 MiB.
//! Writing is best effort: a full disk must not stop the broker.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Size at which the log is rotated.
const ROTATE_AT: u64 = 1024 * 1024;

/// The file name inside the data directory.
pub const FILE_NAME: &str = "refusals.jsonl";

/// One refused connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// When, RFC 3339 UTC.
    pub time: String,
    /// The client's address.
    pub peer: String,
    /// Which listener (`mqtts`, `mqtts-alpn`).
    pub listener: String,
    /// Short label: `version`, `cipher`, `client_certificate`, `not_registered`, ...
    pub kind: String,
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

/// Now as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    pki::rfc3339(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(kind: &str) -> Refusal {
        Refusal {
            time: now_rfc3339(),
            peer: "127.0.0.1:5000".into(),
            listener: "mqtts".into(),
            kind: kind.into(),
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
        for kind in ["a", "b", "c"] {
            log.record(&refusal(kind));
        }
        let recent = read_recent(dir.path(), 2).unwrap();
        assert_eq!(
            recent.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
            ["b", "c"]
        );
    }

    #[test]
    fn a_missing_log_is_empty_and_garbage_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_recent(dir.path(), 10).unwrap().is_empty());
        std::fs::write(dir.path().join(FILE_NAME), "not json\n").unwrap();
        RefusalLog::new(dir.path()).record(&refusal("x"));
        assert_eq!(read_recent(dir.path(), 10).unwrap().len(), 1);
    }
}
