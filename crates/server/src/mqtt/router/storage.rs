//! The data directory's filesystem filling up, as the router meets it: every write still goes
//! to the group-commit writer, which says when one failed for want of space
//! (`WriterHandle::disk_full`); this file turns that into one log line when it starts and one
//! when it ends, the reason a refusal carries, the refusal of new durable work while it lasts,
//! and a probe write every second that finds out when space is back. It never acknowledges:
//! `effects.rs` releases acknowledgements from the writer's completions.
//!
//! The reason is MQTT 5's 0x97 Quota exceeded (§3.4.2.1 lists it for PUBACK: "an
//! implementation or administrative imposed limit has been exceeded"; §3.9.3 for SUBACK,
//! §3.2.2.2 for CONNACK). MQTT 3.1.1 has no such code: its CONNACK says 3 (server
//! unavailable), its SUBACK 0x80 (failure), and a PUBLISH is refused by closing the connection
//! without PUBACK (`connection.rs`), as AWS IoT Core closes a 3.1.1 connection whose PUBLISH
//! it refuses, so the client keeps the message and sends it again after reconnecting.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mqtt_proto::ReasonCode;
use mqtt_proto::time::Instant;
use store::{StoreError, WriteOp, WriterHandle};

/// How often the router tries a write while the filesystem is full.
pub(super) const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The reason a client is given for work refused because the disk is full.
pub(super) const DISK_FULL: ReasonCode = ReasonCode::QuotaExceeded;

/// Whether the operator has been told the filesystem is full (shared with the writer's
/// completions, which run on its thread).
#[derive(Debug, Default)]
pub(super) struct DiskWatch {
    told: AtomicBool,
}

impl DiskWatch {
    /// After a write completed: logs the start or the end of a full filesystem once each.
    pub(super) fn check(&self, writer: &WriterHandle, result: &Result<(), StoreError>) {
        let full = writer.disk_full();
        if full && !self.told.swap(true, Ordering::AcqRel) {
            let database = writer.database();
            let dir = Path::new(database)
                .parent()
                .map_or_else(|| database.to_owned(), |d| d.display().to_string());
            let why = result.as_ref().err().map_or_else(
                || "database or disk is full".to_owned(),
                ToString::to_string,
            );
            tracing::error!(
                "the filesystem of data directory {dir} is full ({why}); until space is freed \
                 tether refuses what it cannot store (new persistent sessions, their \
                 subscriptions, QoS 1/2 publishes they would queue: MQTT 5 reason 0x97 Quota \
                 exceeded, MQTT 3.1.1 CONNACK 3, SUBACK 0x80, or the connection closed without \
                 PUBACK so the client sends again) and serves the rest; free space there \
                 (df -h {dir}): tether resumes by itself within a second, no restart needed"
            );
        } else if !full && self.told.swap(false, Ordering::AcqRel) {
            tracing::warn!(
                "database {} can be written again: tether accepts persistent work again",
                writer.database()
            );
        }
    }
}

/// Hands `ops` to the writer; the completion first reports a full filesystem (or its end),
/// then runs `done`.
pub(super) fn submit(
    writer: &WriterHandle,
    watch: &Arc<DiskWatch>,
    ops: Vec<WriteOp>,
    done: impl FnOnce(Result<(), StoreError>) + Send + 'static,
) {
    let (handle, watch) = (writer.clone(), Arc::clone(watch));
    writer.submit(ops, move |result| {
        watch.check(&handle, &result);
        done(result);
    });
}

/// Logs a failed write: as an error, except for want of space, which `DiskWatch` has
/// reported once for all of them (a line per refused message would flood the log).
pub(super) fn failed(what: &str, error: &StoreError) {
    if error.is_disk_full() {
        tracing::debug!("{what}: {error}");
    } else {
        tracing::error!("{what}: {error}");
    }
}

/// The reason an acknowledgement carries when its write failed: 0x97 when the disk was full,
/// else 0x83 Implementation specific error.
pub(super) fn refusal(error: &StoreError) -> ReasonCode {
    if error.is_disk_full() {
        DISK_FULL
    } else {
        ReasonCode::ImplementationSpecificError
    }
}

/// When the next probe is due while the filesystem is full (`None` while it is not).
pub(super) fn next_probe(
    writer: &WriterHandle,
    last: Option<Instant>,
    now: Instant,
) -> Option<Instant> {
    writer
        .disk_full()
        .then(|| last.map_or(now, |at| at + PROBE_EVERY))
}
