//! Broker durability: sessions, subscriptions, queues and retained messages across reopen,
//! expiry purge, group commit, and acknowledged writes surviving SIGKILL.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};

use super::*;

// ---------------------------------------------------------------- broker durability

fn session_record(id: &str, expiry: u32, disconnected_ms: Option<i64>) -> SessionRecord {
    SessionRecord {
        client_id: id.into(),
        protocol_level: 5,
        expiry_interval_s: expiry,
        disconnected_ms,
        will: Some(format!("will of {id}").into_bytes()),
    }
}

fn sub(id: &str, filter: &str, options: u8, sid: Option<u32>) -> WriteOp {
    WriteOp::AddSubscription(SubscriptionRecord {
        client_id: id.into(),
        filter: filter.into(),
        options,
        subscription_id: sid,
    })
}

fn enqueue(id: &str, seq: u64) -> WriteOp {
    WriteOp::Enqueue(QueuedMessage {
        client_id: id.into(),
        seq,
        message: vec![seq as u8; 3],
        packet_id: None,
    })
}

fn retained(topic: &str, expires_ms: Option<i64>) -> WriteOp {
    WriteOp::SetRetained(RetainedMessage {
        topic: topic.into(),
        message: topic.as_bytes().to_vec(),
        expires_ms,
        updated_ms: NOW,
    })
}

#[test]
fn sessions_subscriptions_queues_and_retained_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tether.db");
    {
        let mut s = Store::open(&path).unwrap();
        s.apply(&[
            WriteOp::UpsertSession(session_record("b", 3600, None)),
            WriteOp::UpsertSession(session_record("a", u32::MAX, Some(NOW - 10))),
            sub("a", "x/#", 1, Some(7)),
            sub("a", "a/b", 0, None),
            sub("a", "gone", 1, None),
            enqueue("a", 3),
            enqueue("a", 1),
            enqueue("a", 2),
            enqueue("b", 1),
            retained("r/1", None),
            retained("r/2", Some(NOW + 60_000)),
            retained("r/3", None),
        ])
        .unwrap();
        s.apply(&[
            WriteOp::RemoveSubscription {
                client_id: "a".into(),
                filter: "gone".into(),
            },
            WriteOp::Dequeue {
                client_id: "a".into(),
                seq: 1,
                packet_id: 42,
            },
            WriteOp::Ack {
                client_id: "a".into(),
                seq: 2,
            },
            WriteOp::ClearRetained {
                topic: "r/3".into(),
            },
            // Upserting a session keeps its subscriptions and queue.
            WriteOp::UpsertSession(session_record("a", u32::MAX, Some(NOW))),
        ])
        .unwrap();
    }
    let mut s = Store::open(&path).unwrap();
    let state = s.load_broker_state(NOW).unwrap();
    assert_eq!((state.expired_sessions, state.expired_retained), (0, 0));
    let a = &state.sessions[0];
    assert_eq!(a.session, session_record("a", u32::MAX, Some(NOW)));
    assert_eq!(
        a.subscriptions
            .iter()
            .map(|s| (s.filter.as_str(), s.options, s.subscription_id))
            .collect::<Vec<_>>(),
        vec![("a/b", 0, None), ("x/#", 1, Some(7))]
    );
    assert_eq!(
        a.queue
            .iter()
            .map(|m| (m.seq, m.packet_id, m.message.clone()))
            .collect::<Vec<_>>(),
        vec![(1, Some(42), vec![1; 3]), (3, None, vec![3; 3])]
    );
    assert_eq!(state.sessions[1].session.client_id, "b");
    assert_eq!(state.sessions[1].queue.len(), 1);
    assert_eq!(
        state
            .retained
            .iter()
            .map(|r| r.topic.as_str())
            .collect::<Vec<_>>(),
        vec!["r/1", "r/2"]
    );
    assert_eq!(
        s.retained("r/2").unwrap().unwrap().expires_ms,
        Some(NOW + 60_000)
    );
    assert_eq!(s.retained("r/3").unwrap(), None);
    let (topics, _) = all_pages(1, Order::Descending, |p| s.list_retained(p));
    assert_eq!(topics.len(), 2);
    assert_eq!(topics[0].topic, "r/2");

    // Deleting a session takes its subscriptions and queue with it.
    s.apply(&[WriteOp::DeleteSession {
        client_id: "a".into(),
    }])
    .unwrap();
    s.apply(&[WriteOp::UpsertSession(session_record("a", 10, None))])
        .unwrap();
    let state = s.load_broker_state(NOW).unwrap();
    assert!(state.sessions[0].subscriptions.is_empty() && state.sessions[0].queue.is_empty());
}

#[test]
fn a_batch_is_all_or_nothing() {
    let mut s = mem();
    let err = s
        .apply(&[
            WriteOp::UpsertSession(session_record("c", 60, None)),
            enqueue("nobody", 1),
        ])
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::NotFound {
            kind: ResourceKind::Session,
            ..
        }
    ));
    assert!(s.load_broker_state(NOW).unwrap().sessions.is_empty());
}

#[test]
fn load_purges_what_expired_while_down() {
    let mut s = mem();
    s.apply(&[
        WriteOp::UpsertSession(session_record("old", 60, Some(NOW - 60_000))),
        WriteOp::UpsertSession(session_record("young", 60, Some(NOW - 59_999))),
        WriteOp::UpsertSession(session_record("online", 0, None)),
        sub("old", "t", 1, None),
        enqueue("old", 1),
        retained("stale", Some(NOW)),
        retained("fresh", Some(NOW + 1)),
    ])
    .unwrap();
    let state = s.load_broker_state(NOW).unwrap();
    assert_eq!((state.expired_sessions, state.expired_retained), (1, 1));
    let ids: Vec<_> = state
        .sessions
        .iter()
        .map(|p| p.session.client_id.as_str())
        .collect();
    assert_eq!(ids, vec!["online", "young"]);
    assert_eq!(state.retained.len(), 1);
}

// ---------------------------------------------------------------- group commit

#[test]
fn group_commit_coalesces_and_acknowledges_after_commit() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 250;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tether.db");
    let store = Store::open(&path).unwrap();
    let writer = store.writer().unwrap();
    // A separate connection: it sees a batch only once its transaction committed.
    let reader = Arc::new(Mutex::new(Store::open(&path).unwrap()));
    let (done_tx, done_rx) = channel::<(String, bool)>();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let handle = writer.handle();
            let done_tx = done_tx.clone();
            let reader = Arc::clone(&reader);
            scope.spawn(move || {
                for i in 0..PER_THREAD {
                    let topic = format!("t/{t}/{i}");
                    let done_tx = done_tx.clone();
                    let reader = Arc::clone(&reader);
                    handle.submit(vec![retained(&topic, None)], move |result| {
                        result.unwrap();
                        let visible = reader.lock().unwrap().retained(&topic).unwrap().is_some();
                        done_tx.send((topic, visible)).unwrap();
                    });
                }
            });
        }
    });
    drop(done_tx);
    let results: Vec<_> = done_rx.iter().take(THREADS * PER_THREAD).collect();
    assert_eq!(results.len(), THREADS * PER_THREAD, "every callback ran");
    let invisible: Vec<_> = results.iter().filter(|(_, v)| !v).collect();
    assert!(
        invisible.is_empty(),
        "callbacks before commit: {invisible:?}"
    );
    let unique: BTreeSet<_> = results.iter().map(|(t, _)| t).collect();
    assert_eq!(unique.len(), THREADS * PER_THREAD);
    let stats = writer.stats();
    eprintln!("group commit: {stats:?}");
    assert_eq!(stats.batches, (THREADS * PER_THREAD) as u64);
    assert_eq!(stats.failed_batches, 0);
    assert!(
        stats.transactions * 5 <= stats.batches,
        "expected far fewer transactions than batches: {stats:?}"
    );
    writer.shutdown().unwrap();
}

#[test]
fn an_idle_writer_commits_each_batch_without_waiting_for_more() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("tether.db")).unwrap();
    let writer = store.writer().unwrap();
    for i in 0..20 {
        let (tx, rx) = channel();
        writer.submit(vec![retained(&format!("q/{i}"), None)], move |r| {
            tx.send(r).unwrap()
        });
        rx.recv().unwrap().unwrap();
    }
    let stats = writer.stats();
    assert_eq!((stats.transactions, stats.batches), (20, 20));
}

#[test]
fn registry_writes_and_the_writer_share_the_file_without_busy_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tether.db");
    let mut store = Store::open(&path).unwrap();
    let writer = store.writer().unwrap();
    let handle = writer.handle();
    let (tx, rx) = channel();
    let pump = std::thread::spawn(move || {
        for i in 0..2000 {
            let tx = tx.clone();
            handle.submit(vec![retained(&format!("busy/{i}"), None)], move |r| {
                tx.send(r).unwrap()
            });
        }
    });
    // Read-then-write registry transactions interleave with the writer's commits.
    for i in 0..100u8 {
        let name = format!("dev{i}");
        store.create_thing(&new_thing(&name), [i; 16], NOW).unwrap();
        store
            .update_thing(&name, &ThingUpdate::default(), NOW)
            .unwrap();
    }
    pump.join().unwrap();
    let results: Vec<_> = rx.iter().take(2000).collect();
    assert!(results.iter().all(Result::is_ok));
    writer.shutdown().unwrap();
    assert_eq!(store.load_broker_state(NOW).unwrap().retained.len(), 2000);
}

#[test]
fn shutdown_commits_everything_submitted_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tether.db");
    let mut store = Store::open(&path).unwrap();
    let writer = store.writer().unwrap();
    let acked = Arc::new(Mutex::new(0usize));
    for i in 0..200 {
        let acked = Arc::clone(&acked);
        writer.submit(vec![retained(&format!("s/{i}"), None)], move |r| {
            r.unwrap();
            *acked.lock().unwrap() += 1;
        });
    }
    writer.shutdown().unwrap();
    assert_eq!(*acked.lock().unwrap(), 200);
    assert_eq!(store.load_broker_state(NOW).unwrap().retained.len(), 200);
}

// ---------------------------------------------------------------- kill -9

const CRASH_CHILD_ENV: &str = "TETHER_STORE_CRASH_CHILD_DB";
const CRASH_DURABILITY_ENV: &str = "TETHER_STORE_CRASH_DURABILITY";
const CRASH_CLIENT: &str = "crash-client";
/// This test's libtest name, for re-running only it in the child.
const CRASH_TEST_NAME: &str = "broker::acknowledged_writes_survive_sigkill";

/// Run as the child: enqueue messages through the group-commit writer forever and print
/// `ack <seq>` once each commit is acknowledged. The parent kills it with SIGKILL.
fn crash_child(path: &str, durability: Durability) {
    let mut store = Store::open_with(path, StoreOptions { durability }).unwrap();
    store
        .apply(&[WriteOp::UpsertSession(session_record(
            CRASH_CLIENT,
            u32::MAX,
            None,
        ))])
        .unwrap();
    let writer = store.writer().unwrap();
    let (window_tx, window_rx) = channel::<()>();
    for seq in 0..1_000_000u64 {
        let window_tx = window_tx.clone();
        writer.submit(vec![enqueue(CRASH_CLIENT, seq)], move |result| {
            result.unwrap();
            let mut out = std::io::stdout().lock();
            // A closed pipe means the parent is gone; nothing left to report to.
            let _ = writeln!(out, "ack {seq}").and_then(|()| out.flush());
            let _ = window_tx.send(());
        });
        // Keep at most 64 batches in flight so the child's memory stays flat.
        if seq >= 64 {
            window_rx.recv().unwrap();
        }
    }
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Ok(path) = std::env::var(CRASH_CHILD_ENV) {
        let durability = match std::env::var(CRASH_DURABILITY_ENV).as_deref() {
            Ok("normal") => Durability::ProcessCrash,
            _ => Durability::PowerLoss,
        };
        crash_child(&path, durability);
        return;
    }
    // Both levels promise to survive a process kill; only FULL also promises power loss.
    for durability in ["full", "normal"] {
        kill_child_and_check(durability);
    }
}

fn kill_child_and_check(durability: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            CRASH_TEST_NAME,
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD_ENV, &path)
        .env(CRASH_DURABILITY_ENV, durability)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = BTreeSet::new();
    while acked.len() < 300 {
        let line = lines
            .next()
            .expect("child exited before 300 acknowledgements")
            .unwrap();
        if let Some(seq) = line.strip_prefix("ack ") {
            acked.insert(seq.parse::<u64>().unwrap());
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    // Acknowledgements printed before the kill landed count too.
    for line in lines {
        if let Some(seq) = line.unwrap().strip_prefix("ack ") {
            acked.insert(seq.parse::<u64>().unwrap());
        }
    }
    child.wait().unwrap();

    let mut store = Store::open(&path).unwrap();
    let state = store.load_broker_state(NOW).unwrap();
    let session = state
        .sessions
        .iter()
        .find(|s| s.session.client_id == CRASH_CLIENT)
        .unwrap();
    let stored: BTreeSet<u64> = session.queue.iter().map(|m| m.seq).collect();
    eprintln!(
        "kill -9 ({durability}): {} acknowledged, {} stored",
        acked.len(),
        stored.len()
    );
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but lost after kill -9: {lost:?}"
    );
    // Batches commit in submission order, so what survived is a prefix.
    let n = stored.len() as u64;
    assert_eq!(stored, (0..n).collect::<BTreeSet<_>>());
    assert!(
        session
            .queue
            .iter()
            .all(|m| m.message == vec![m.seq as u8; 3])
    );
}

#[test]
fn clear_queue_removes_that_sessions_messages_below_the_bound() {
    let mut s = Store::open_in_memory().unwrap();
    s.apply(&[
        WriteOp::UpsertSession(session_record("a", 3600, None)),
        WriteOp::UpsertSession(session_record("b", 3600, None)),
        enqueue("a", 1),
        enqueue("a", 2),
        enqueue("a", 100),
        enqueue("b", 1),
    ])
    .unwrap();
    s.apply(&[WriteOp::ClearQueue {
        client_id: "a".into(),
        below_seq: 100,
    }])
    .unwrap();
    let state = s.load_broker_state(NOW).unwrap();
    let queued: Vec<(&str, usize)> = state
        .sessions
        .iter()
        .map(|p| (p.session.client_id.as_str(), p.queue.len()))
        .collect();
    assert_eq!(queued, vec![("a", 1), ("b", 1)]);
}
