//! Group commit: a thread that owns its own connection, takes batches of [`WriteOp`]s from a
//! channel and commits every batch that is waiting in ONE transaction (one fsync), then calls
//! each batch's completion. The broker sends PUBACK from the completion, so an acknowledgement
//! always follows the commit, and under load many acknowledgements share one fsync. It does not
//! read (the [`crate::Store`] connection reads concurrently, WAL allows it) and does not retry.
//! When the filesystem is full it says so ([`WriterHandle::disk_full`]) until a
//! [`WriteOp::Probe`] finds [`PROBE_BYTES`] free again, and commits whatever fits meanwhile:
//! nothing needs restarting.
//!
//! Call order: [`Store::writer`](crate::Store::writer) → any number of [`WriterHandle::submit`]
//! from any thread → [`Writer::shutdown`] (or drop), which commits everything submitted before it
//! and joins the thread.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};

use crate::error::StoreError;
use crate::schema::{self, Durability};
use crate::sessions::{WriteOp, apply_ops};
use crate::transaction::Tx;

/// The free space a [`WriteOp::Probe`] must find (by writing and removing a file of this
/// size beside the database) before the filesystem stops counting as full: a commit can grow
/// the WAL by a few megabytes, and a filesystem with a few free pages would otherwise flap
/// between full and not.
pub const PROBE_BYTES: usize = 2 << 20;

/// Upper bound on batches per transaction, so one commit's latency and memory stay bounded.
const MAX_BATCHES_PER_COMMIT: usize = 4096;

/// What the writer has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed.
    pub transactions: u64,
    /// Batches committed (each batch is one `submit`).
    pub batches: u64,
    /// Batches that failed (their own error, or a failed commit).
    pub failed_batches: u64,
    /// Batches that failed because the filesystem was full.
    pub disk_full_batches: u64,
}

#[derive(Debug, Default)]
struct Counters {
    transactions: AtomicU64,
    batches: AtomicU64,
    failed_batches: AtomicU64,
    disk_full_batches: AtomicU64,
    /// A batch failed for want of space, and no probe has found room since.
    disk_full: AtomicBool,
}

impl Counters {
    /// Records that `count` batches failed with `err`.
    fn failed(&self, count: u64, err: &StoreError) {
        self.failed_batches.fetch_add(count, Ordering::AcqRel);
        if err.is_disk_full() {
            self.disk_full_batches.fetch_add(count, Ordering::AcqRel);
            self.disk_full.store(true, Ordering::Release);
        }
    }
}

type Callback = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A batch's completion. Runs exactly once: with the batch's outcome, or with `WriterClosed`
/// when the batch is dropped unprocessed (submitted after shutdown).
struct Completion {
    callback: Option<Callback>,
    label: Arc<str>,
}

impl Completion {
    fn complete(mut self, result: Result<(), StoreError>) {
        if let Some(cb) = self.callback.take() {
            cb(result);
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some(cb) = self.callback.take() {
            cb(Err(StoreError::WriterClosed {
                path: self.label.to_string(),
            }));
        }
    }
}

struct Batch {
    ops: Vec<WriteOp>,
    done: Completion,
}

enum Message {
    Batch(Batch),
    Shutdown,
}

/// A cloneable sender of batches to the writer thread.
#[derive(Clone)]
pub struct WriterHandle {
    sender: mpsc::Sender<Message>,
    counters: Arc<Counters>,
    label: Arc<str>,
}

impl std::fmt::Debug for WriterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterHandle")
            .field("database", &self.label)
            .finish_non_exhaustive()
    }
}

impl WriterHandle {
    /// Queues `ops` to be applied atomically. `done` runs on the writer thread after the
    /// transaction holding the batch committed (`Ok`), or with the error that stopped it; it
    /// should be quick (send a message, not do I/O) because the next commit waits for it.
    /// After shutdown, `done` runs at once with [`StoreError::WriterClosed`].
    pub fn submit(
        &self,
        ops: Vec<WriteOp>,
        done: impl FnOnce(Result<(), StoreError>) + Send + 'static,
    ) {
        let batch = Batch {
            ops,
            done: Completion {
                callback: Some(Box::new(done)),
                label: Arc::clone(&self.label),
            },
        };
        // On a closed channel the message comes back and is dropped here, which runs the
        // completion with `WriterClosed`.
        let _ = self.sender.send(Message::Batch(batch));
    }

    /// Counters so far.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            transactions: self.counters.transactions.load(Ordering::Acquire),
            batches: self.counters.batches.load(Ordering::Acquire),
            failed_batches: self.counters.failed_batches.load(Ordering::Acquire),
            disk_full_batches: self.counters.disk_full_batches.load(Ordering::Acquire),
        }
    }

    /// The database file this writer writes.
    pub fn database(&self) -> &str {
        &self.label
    }

    /// Whether the database's filesystem is full: set by a batch refused with
    /// [`StoreError::is_disk_full`], cleared by a [`WriteOp::Probe`] that found
    /// [`PROBE_BYTES`] free and wrote a page. Callers refuse new durable work while it holds
    /// and send a probe now and then to find out when space is back.
    pub fn disk_full(&self) -> bool {
        self.counters.disk_full.load(Ordering::Acquire)
    }
}

/// The group-commit writer: owns the thread. Dropping it shuts down like [`Writer::shutdown`].
#[derive(Debug)]
pub struct Writer {
    handle: WriterHandle,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Opens a second connection to `path` (migrating if needed) and starts the thread.
    pub(crate) fn start(path: &Path, durability: Durability) -> Result<Writer, StoreError> {
        let label: Arc<str> = Arc::from(path.display().to_string());
        let conn = schema::open_connection(Some(path), &label, durability)?;
        let (sender, receiver) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let thread = std::thread::Builder::new()
            .name("tether-store-writer".into())
            .spawn({
                let counters = Arc::clone(&counters);
                let label = Arc::clone(&label);
                move || run(conn, &label, &receiver, &counters)
            })
            .map_err(|e| StoreError::WriterStart {
                path: label.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Writer {
            handle: WriterHandle {
                sender,
                counters,
                label,
            },
            thread: Some(thread),
        })
    }

    /// A handle for other threads.
    pub fn handle(&self) -> WriterHandle {
        self.handle.clone()
    }

    /// See [`WriterHandle::submit`].
    pub fn submit(
        &self,
        ops: Vec<WriteOp>,
        done: impl FnOnce(Result<(), StoreError>) + Send + 'static,
    ) {
        self.handle.submit(ops, done);
    }

    /// Counters so far.
    pub fn stats(&self) -> WriterStats {
        self.handle.stats()
    }

    /// Commits everything submitted so far, stops the thread and waits for it.
    pub fn shutdown(mut self) -> Result<(), StoreError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), StoreError> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let _ = self.handle.sender.send(Message::Shutdown);
        thread.join().map_err(|_| StoreError::WriterClosed {
            path: self.handle.label.to_string(),
        })
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The writer thread: wait for one message, take every other one already queued, commit them
/// together, repeat.
fn run(mut conn: Connection, label: &str, receiver: &mpsc::Receiver<Message>, counters: &Counters) {
    let mut group = Vec::new();
    loop {
        let mut stop = match receiver.recv() {
            Ok(Message::Batch(b)) => {
                group.push(b);
                false
            }
            Ok(Message::Shutdown) | Err(_) => true,
        };
        while !stop && group.len() < MAX_BATCHES_PER_COMMIT {
            match receiver.try_recv() {
                Ok(Message::Batch(b)) => group.push(b),
                Ok(Message::Shutdown) => stop = true,
                Err(_) => break,
            }
        }
        if !group.is_empty() {
            commit_group(&mut conn, label, std::mem::take(&mut group), counters);
        }
        if stop {
            break;
        }
    }
    // Batches still in the channel are dropped with the receiver; their completions report
    // `WriterClosed`.
}

/// Applies each batch inside its own savepoint (a failing batch is rolled back alone and gets
/// its error), commits once, then runs the completions.
fn commit_group(conn: &mut Connection, label: &str, group: Vec<Batch>, counters: &Counters) {
    let count = u64::try_from(group.len()).unwrap_or(u64::MAX);
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let err = StoreError::sqlite(label, "begin group commit", e);
            counters.failed(count, &err);
            for b in group {
                b.done.complete(Err(err.clone()));
            }
            return;
        }
    };
    let group_tx = Tx::new(&tx, label);
    let mut outcomes = Vec::with_capacity(group.len());
    let mut probed = false;
    // SQLITE_FULL may roll back the whole transaction, not just the statement: the batches
    // after it would then run outside any transaction, so they are not tried, and every batch
    // of the group gets the disk-full error.
    let mut full: Option<StoreError> = None;
    for batch in group {
        let probe = batch.ops.iter().any(|op| matches!(op, WriteOp::Probe));
        let result = match &full {
            Some(err) => Err(err.clone()),
            None if probe => probe_space(label).and_then(|()| {
                group_tx.savepoint("batch", |sp| apply_ops(sp, sp.label(), &batch.ops))
            }),
            None => group_tx.savepoint("batch", |sp| apply_ops(sp, sp.label(), &batch.ops)),
        };
        if let Err(err) = &result
            && err.is_disk_full()
        {
            full = Some(err.clone());
        }
        probed |= probe && result.is_ok();
        outcomes.push((batch.done, result));
    }
    if let Some(err) = full {
        drop(tx);
        counters.failed(count, &err);
        for (done, _) in outcomes {
            done.complete(Err(err.clone()));
        }
        return;
    }
    match tx.commit() {
        Ok(()) => {
            counters.transactions.fetch_add(1, Ordering::AcqRel);
            for (_, result) in &outcomes {
                match result {
                    Ok(()) => {
                        counters.batches.fetch_add(1, Ordering::AcqRel);
                    }
                    Err(e) => counters.failed(1, e),
                }
            }
            if probed {
                counters.disk_full.store(false, Ordering::Release);
            }
            for (done, result) in outcomes {
                done.complete(result);
            }
        }
        Err(e) => {
            let err = StoreError::sqlite(label, "commit group", e);
            counters.failed(count, &err);
            for (done, _) in outcomes {
                done.complete(Err(err.clone()));
            }
        }
    }
}

/// Writes and removes a file of [`PROBE_BYTES`] beside the database `label` names: whether
/// the filesystem has that much room.
fn probe_space(label: &str) -> Result<(), StoreError> {
    use std::io::Write;
    let path = format!("{label}.space-probe");
    let written = std::fs::File::create(&path).and_then(|mut file| {
        file.write_all(&vec![0; PROBE_BYTES])?;
        file.sync_all()
    });
    let _ = std::fs::remove_file(&path);
    written.map_err(|e| StoreError::NoSpace {
        path: label.to_owned(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SessionRecord, Store, SubscriptionRecord};
    use std::sync::mpsc::channel;

    fn session(id: &str) -> WriteOp {
        WriteOp::UpsertSession(SessionRecord {
            client_id: id.into(),
            protocol_level: 4,
            expiry_interval_s: 3600,
            disconnected_ms: None,
            will: None,
        })
    }

    #[test]
    fn a_failing_batch_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("t.db")).unwrap();
        let writer = store.writer().unwrap();
        let (tx, rx) = channel();
        // Hold the group together: both batches are queued before the thread can wake, or
        // they commit separately; either way each gets its own outcome.
        let bad = vec![
            session("ok-part-of-bad"),
            WriteOp::AddSubscription(SubscriptionRecord {
                client_id: "nobody".into(),
                filter: "a/b".into(),
                options: 1,
                subscription_id: None,
            }),
        ];
        let t1 = tx.clone();
        writer.submit(bad, move |r| t1.send(("bad", r)).unwrap());
        writer.submit(vec![session("good")], move |r| {
            tx.send(("good", r)).unwrap()
        });
        let mut results: Vec<_> = rx.iter().take(2).collect();
        results.sort_by_key(|(n, _)| *n);
        assert!(matches!(
            &results[0],
            ("bad", Err(StoreError::NotFound { .. }))
        ));
        assert!(matches!(&results[1], ("good", Ok(()))));
        writer.shutdown().unwrap();
        let state = store.load_broker_state(0).unwrap();
        let ids: Vec<_> = state
            .sessions
            .iter()
            .map(|s| s.session.client_id.as_str())
            .collect();
        assert_eq!(
            ids,
            vec!["good"],
            "the bad batch's first op must be rolled back too"
        );
    }

    /// One batch through `commit_group` on `conn`; its outcome.
    fn commit_one(
        conn: &mut Connection,
        counters: &Counters,
        ops: Vec<WriteOp>,
    ) -> Result<(), StoreError> {
        let (tx, rx) = channel();
        let label: Arc<str> = Arc::from("t.db");
        let batch = Batch {
            ops,
            done: Completion {
                callback: Some(Box::new(move |r| tx.send(r).unwrap())),
                label: Arc::clone(&label),
            },
        };
        commit_group(conn, &label, vec![batch], counters);
        rx.recv().unwrap()
    }

    #[test]
    fn a_full_disk_is_reported_and_forgotten_once_a_write_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let _store = Store::open(&path).unwrap();
        let mut conn = schema::open_connection(Some(&path), "t.db", Durability::PowerLoss).unwrap();
        // The database may not grow: SQLite answers as it does on a full filesystem.
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        let max: i64 = conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(max, pages);
        let counters = Counters::default();
        let big = WriteOp::SetRetained(crate::RetainedMessage {
            topic: "a/b".into(),
            message: vec![7; 256 * 1024],
            expires_ms: None,
            updated_ms: 0,
        });
        let err = commit_one(&mut conn, &counters, vec![big]).unwrap_err();
        assert!(err.is_disk_full(), "{err}");
        assert!(counters.disk_full.load(Ordering::Acquire));
        assert_eq!(counters.disk_full_batches.load(Ordering::Acquire), 1);
        // An empty batch writes nothing, so it says nothing about space.
        commit_one(&mut conn, &counters, Vec::new()).unwrap();
        assert!(counters.disk_full.load(Ordering::Acquire));
        // A write that fits is committed, but the filesystem still counts as full.
        commit_one(&mut conn, &counters, vec![session("fits")]).unwrap();
        assert!(counters.disk_full.load(Ordering::Acquire));
        // The probe finds room beside the file and rewrites a page it has: space is back.
        commit_one(&mut conn, &counters, vec![WriteOp::Probe]).unwrap();
        assert!(!counters.disk_full.load(Ordering::Acquire));
        assert!(!path.with_extension("db.space-probe").exists());
    }

    #[test]
    fn submit_after_shutdown_reports_writer_closed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("t.db")).unwrap();
        let writer = store.writer().unwrap();
        let handle = writer.handle();
        writer.shutdown().unwrap();
        let (tx, rx) = channel();
        handle.submit(vec![session("late")], move |r| tx.send(r).unwrap());
        assert!(matches!(
            rx.recv().unwrap(),
            Err(StoreError::WriterClosed { .. })
        ));
    }
}
