//! The connection scenarios of `tether bench`: `connect` (a storm of mutual-TLS connections,
//! C at a time), `idle` (hold N connections while the broker's memory is read from /proc), and
//! `durable` (QoS 1 into an offline persistent session, then drain it and check every message).
//! It does not start brokers; memory is read only when the caller names the broker's pid.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use bytes::BytesMut;
use client::{Client, Message, TopicName};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use super::flow::{self, rate};
use super::report::{ConnectFigures, DurableFigures, IdleFigures, Report};
use super::stats::{self, Clock, Latency, Receipts, Stamp};
use super::{Plan, Progress, Stop, Target};

/// Connections opened by [`open_many`].
struct Opened {
    clients: Vec<Client>,
    connack: Latency,
    failed: u64,
    elapsed: Duration,
    errors: Vec<String>,
}

/// Opens `plan.connections` connections, `plan.concurrency` at a time, timing each from the
/// TCP connect to CONNACK.
async fn open_many(plan: &Plan, target: &Target, progress: &Arc<Progress>) -> Opened {
    let next = Arc::new(AtomicUsize::new(0));
    let clients = Arc::new(Mutex::new(Vec::with_capacity(plan.connections)));
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..plan.concurrency.min(plan.connections) {
        let next = Arc::clone(&next);
        let clients = Arc::clone(&clients);
        let progress = Arc::clone(progress);
        let target = target.clone();
        let total = plan.connections;
        workers.spawn(async move {
            let mut connack = Latency::new();
            let mut failed = 0u64;
            let mut errors = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    break;
                }
                let began = Instant::now();
                match flow::connect(&target, "conn", index, false, &progress).await {
                    Ok(client) => {
                        connack.record(began.elapsed());
                        clients.lock().await.push(client);
                    }
                    Err(error) => {
                        failed += 1;
                        if errors.len() < 3 {
                            errors.push(format!("{error:#}"));
                        }
                    }
                }
            }
            (connack, failed, errors)
        });
    }
    let mut opened = Opened {
        clients: Vec::new(),
        connack: Latency::new(),
        failed: 0,
        elapsed: Duration::ZERO,
        errors: Vec::new(),
    };
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok((connack, failed, errors)) => {
                opened.connack.merge(&connack);
                opened.failed += failed;
                opened.errors.extend(errors);
            }
            Err(error) => opened
                .errors
                .push(format!("a connecting task failed: {error}")),
        }
    }
    opened.elapsed = start.elapsed();
    opened.clients = std::mem::take(&mut *clients.lock().await);
    opened
}

/// `connect`: the connection storm.
pub async fn connect(plan: &Plan, target: &Target, progress: &Arc<Progress>) -> Result<Report> {
    let mut report = Report::for_plan(plan);
    let opened = open_many(plan, target, progress).await;
    let succeeded = opened.clients.len() as u64;
    report.connect = Some(ConnectFigures {
        connections: plan.connections,
        concurrency: plan.concurrency,
        succeeded,
        failed: opened.failed,
        seconds: opened.elapsed.as_secs_f64(),
        handshakes_per_s: rate(
            succeeded,
            u64::try_from(opened.elapsed.as_nanos()).unwrap_or(u64::MAX),
        ),
        connack: opened.connack.summary(),
    });
    for error in opened.errors {
        report.error(error);
    }
    close_all(opened.clients).await;
    Ok(report)
}

/// `idle`: hold the connections for `plan.hold`, keeping them alive, and read the broker's
/// resident memory before and while they are held.
pub async fn idle(
    plan: &Plan,
    target: &Target,
    progress: &Arc<Progress>,
    broker_pid: Option<u32>,
) -> Result<Report> {
    let mut report = Report::for_plan(plan);
    let before = broker_pid.and_then(stats::memory_kib).map(|m| m.0);
    let opened = open_many(plan, target, progress).await;
    for error in opened.errors {
        report.error(error);
    }
    let held = opened.clients.len();
    // A harness holding connections while it measures something else waits for this line.
    eprintln!(
        "bench: holding {held} connections for {:.1} s",
        plan.hold.as_secs_f64()
    );
    let start = Instant::now();
    let mut holders = JoinSet::new();
    for mut client in opened.clients {
        let hold = plan.hold;
        holders.spawn(async move {
            let result = client.idle(hold).await;
            (client, result)
        });
    }
    let mut kept = Vec::with_capacity(held);
    let mut dropped = 0u64;
    while let Some(joined) = holders.join_next().await {
        match joined {
            Ok((client, Ok(()))) => kept.push(client),
            Ok((_, Err(error))) => {
                dropped += 1;
                report.error(format!("an idle connection was lost: {error}"));
            }
            Err(error) => report.error(format!("an idle task failed: {error}")),
        }
    }
    // Read while every connection is still open.
    let during = broker_pid.and_then(stats::memory_kib).map(|m| m.0);
    let held_seconds = start.elapsed().as_secs_f64();
    let still_held = kept.len();
    close_all(kept).await;
    report.connect = Some(ConnectFigures {
        connections: plan.connections,
        concurrency: plan.concurrency,
        succeeded: held as u64,
        failed: opened.failed + dropped,
        seconds: opened.elapsed.as_secs_f64(),
        handshakes_per_s: rate(
            held as u64,
            u64::try_from(opened.elapsed.as_nanos()).unwrap_or(u64::MAX),
        ),
        connack: opened.connack.summary(),
    });
    report.idle = Some(IdleFigures {
        connections: plan.connections,
        held: still_held as u64,
        held_seconds,
        broker_rss_before_kib: before,
        broker_rss_held_kib: during,
        kib_per_connection: match (before, during) {
            (Some(b), Some(d)) if still_held > 0 => Some((d as f64 - b as f64) / still_held as f64),
            _ => None,
        },
    });
    Ok(report)
}

/// `durable`: subscribe with a persistent session, leave, publish `count` QoS 1 messages,
/// come back and drain.
pub async fn durable(
    plan: &Plan,
    target: &Target,
    progress: &Arc<Progress>,
    clock: Clock,
) -> Result<Report> {
    let mut report = Report::for_plan(plan);
    let count = match plan.stop {
        Stop::Count(n) => n,
        Stop::After(_) => 10_000,
    };
    let topic_text = format!("bench/{}/durable", target.run_id);
    let topic =
        TopicName::new(&topic_text).map_err(|e| anyhow!("bench topic is not valid: {e}"))?;

    // 1. The persistent subscriber subscribes and leaves.
    let subscriber = flow::connect(target, "durable-sub", 0, true, progress).await?;
    let subscriber = flow::subscribe(subscriber, &topic_text, plan.qos).await?;
    subscriber.disconnect().await?;

    // 2. Publish into the offline session.
    let mut publisher = flow::connect(target, "durable-pub", 0, false, progress).await?;
    let mut buffer = BytesMut::with_capacity(64 * 1024);
    let in_start = Instant::now();
    for seq in 0..u32::try_from(count).map_err(|_| anyhow!("--count {count} is too large"))? {
        Stamp {
            sent_ns: clock.now_ns(),
            publisher: 0,
            seq,
        }
        .encode_into(plan.payload, &mut buffer);
        let payload = buffer.split().freeze();
        if buffer.capacity() < plan.payload {
            buffer.reserve(64 * 1024);
        }
        publisher.start_publish(Message::new(topic.clone(), plan.qos, payload))?;
        Progress::add(&progress.sent, 1);
        publisher.wait_pending_below(plan.window).await?;
    }
    publisher.flush().await?;
    let in_elapsed = in_start.elapsed();
    let _ = publisher.disconnect().await;
    report.sent = count;
    report.expected = count;
    report.publish_seconds = in_elapsed.as_secs_f64();
    report.publish_rate = count as f64 / in_elapsed.as_secs_f64().max(1e-9);

    // 3. Come back and drain.
    let out_start = Instant::now();
    let mut subscriber = flow::connect(target, "durable-sub", 0, true, progress).await?;
    let session_present = subscriber.connack().is_some_and(|c| c.session_present);
    let mut receipts = Receipts::default();
    let mut last = out_start;
    while receipts.unique() < count {
        match tokio::time::timeout(plan.drain_timeout, subscriber.recv()).await {
            Ok(Ok(message)) => {
                receipts.note(Stamp::decode(&message.payload));
                last = Instant::now();
                Progress::add(&progress.received, 1);
            }
            Ok(Err(error)) => {
                report.error(format!(
                    "the returning subscriber lost its connection: {error}"
                ));
                break;
            }
            Err(_) => break,
        }
    }
    let out_elapsed = last.saturating_duration_since(out_start);
    // Leave with a clean session so the broker keeps nothing from this run.
    let _ = subscriber.disconnect().await;
    if let Ok(cleanup) = target.options("durable-sub", 0, false)
        && let Ok(client) = Client::connect(cleanup).await
    {
        let _ = client.disconnect().await;
    }
    report.received = receipts.unique();
    report.duplicates = receipts.duplicates();
    report.lost = count.saturating_sub(report.received);
    report.delivery_rate = report.received as f64 / out_elapsed.as_secs_f64().max(1e-9);
    report.durable = Some(DurableFigures {
        in_rate: report.publish_rate,
        out_rate: report.delivery_rate,
        in_seconds: in_elapsed.as_secs_f64(),
        out_seconds: out_elapsed.as_secs_f64(),
        session_present,
    });
    Ok(report)
}

/// Disconnects every client, a few hundred at a time.
async fn close_all(clients: Vec<Client>) {
    let mut closing = JoinSet::new();
    for client in clients {
        closing.spawn(async move {
            let _ = client.disconnect().await;
        });
        if closing.len() >= 256 {
            closing.join_next().await;
        }
    }
    while closing.join_next().await.is_some() {}
}
