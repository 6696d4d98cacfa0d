//! The message-flow scenarios of `tether bench`: fan-in (P publishers → 1 subscriber), fan-out
//! (1 → S) and p2p (N pairs). Subscribers connect and subscribe first; publishers then send
//! stamped payloads, open loop with --rate (the intended send time is stamped, so a slow broker
//! cannot hide its queueing; only the generator's own timer lateness is not counted, see
//! `publish`) or as fast as their in-flight window allows; subscribers record
//! latency and check every (publisher, sequence) pair. It does not start or configure brokers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::BytesMut;
use client::{Client, Message, QoS, SubscriptionOptions, TopicFilter, TopicName};
use tokio::task::JoinSet;

use super::report::Report;
use super::stats::{Clock, Latency, Receipts, Stamp};
use super::{Plan, Progress, Scenario, Stop, Target};

/// What publishers tell subscribers: how many messages each sent, and that they are done.
#[derive(Debug)]
struct Tally {
    sent: Vec<AtomicU64>,
    done: AtomicBool,
}

/// What one subscriber saw.
#[derive(Debug, Default)]
struct Seen {
    receipts: Receipts,
    latency: Latency,
    expected: u64,
    last_ns: u64,
}

/// Runs fan-in, fan-out or p2p.
pub async fn run(
    plan: &Plan,
    target: &Target,
    progress: &Arc<Progress>,
    clock: Clock,
) -> Result<Report> {
    let mut report = Report::for_plan(plan);
    let prefix = format!("bench/{}", target.run_id);
    let publisher_topic = |i: usize| match plan.scenario {
        Scenario::FanIn => format!("{prefix}/in/{i}"),
        Scenario::P2p => format!("{prefix}/p2p/{i}"),
        _ => format!("{prefix}/out"),
    };
    let subscriber_filter = |i: usize| match plan.scenario {
        Scenario::FanIn => format!("{prefix}/in/+"),
        Scenario::P2p => format!("{prefix}/p2p/{i}"),
        _ => format!("{prefix}/out"),
    };
    // Which publishers each subscriber hears.
    let sources = |i: usize| -> Vec<usize> {
        match plan.scenario {
            Scenario::P2p => vec![i],
            _ => (0..plan.publishers).collect(),
        }
    };

    let tally = Arc::new(Tally {
        sent: (0..plan.publishers).map(|_| AtomicU64::new(0)).collect(),
        done: AtomicBool::new(false),
    });

    let mut subscribers = Vec::with_capacity(plan.subscribers);
    for i in 0..plan.subscribers {
        let client = connect(target, "sub", i, false, progress).await?;
        let client = subscribe(client, &subscriber_filter(i), plan.qos).await?;
        subscribers.push(client);
    }
    let mut publishers = Vec::with_capacity(plan.publishers);
    for i in 0..plan.publishers {
        publishers.push(connect(target, "pub", i, false, progress).await?);
    }

    let start_ns = clock.now_ns();
    let mut sub_tasks = JoinSet::new();
    for (i, client) in subscribers.into_iter().enumerate() {
        let tally = Arc::clone(&tally);
        let progress = Arc::clone(progress);
        let sources = sources(i);
        let drain = plan.drain_timeout;
        sub_tasks.spawn(async move {
            receive(client, &sources, &tally, &progress, clock, drain)
                .await
                .with_context(|| format!("subscriber {i}"))
        });
    }
    let mut pub_tasks = JoinSet::new();
    for (i, client) in publishers.into_iter().enumerate() {
        let topic = TopicName::new(&publisher_topic(i))
            .map_err(|e| anyhow!("bench topic is not valid: {e}"))?;
        let job = PublishJob {
            index: i,
            topic,
            qos: plan.qos,
            payload: plan.payload,
            quota: share(plan.stop, plan.publishers, i),
            interval_ns: plan.rate.map(|rate| {
                let per_publisher = (rate as f64 / plan.publishers as f64).max(1e-9);
                (1e9 / per_publisher) as u64
            }),
            window: plan.window,
            start_ns,
        };
        let tally = Arc::clone(&tally);
        let progress = Arc::clone(progress);
        pub_tasks.spawn(async move {
            publish(client, job, &tally, &progress, clock)
                .await
                .with_context(|| format!("publisher {i}"))
        });
    }

    let mut end_ns = start_ns;
    while let Some(joined) = pub_tasks.join_next().await {
        match joined {
            Ok(Ok(finished_ns)) => end_ns = end_ns.max(finished_ns),
            Ok(Err(error)) => report.error(format!("{error:#}")),
            Err(error) => report.error(format!("a publisher task failed: {error}")),
        }
    }
    tally.done.store(true, Ordering::Release);
    report.sent = tally.sent.iter().map(|s| s.load(Ordering::Acquire)).sum();
    report.publish_seconds = ns_to_s(end_ns.saturating_sub(start_ns));
    report.publish_rate = rate(report.sent, end_ns.saturating_sub(start_ns));

    let mut latency = Latency::new();
    let mut last_ns = start_ns;
    while let Some(joined) = sub_tasks.join_next().await {
        match joined {
            Ok(Ok(seen)) => {
                report.expected += seen.expected;
                report.received += seen.receipts.unique();
                report.duplicates += seen.receipts.duplicates();
                if seen.receipts.foreign() > 0 {
                    report.error(format!(
                        "{} received payloads were not bench messages (another client publishing on the bench topics?)",
                        seen.receipts.foreign()
                    ));
                }
                latency.merge(&seen.latency);
                last_ns = last_ns.max(seen.last_ns);
            }
            Ok(Err(error)) => report.error(format!("{error:#}")),
            Err(error) => report.error(format!("a subscriber task failed: {error}")),
        }
    }
    report.lost = report.expected.saturating_sub(report.received);
    report.delivery_rate = rate(report.received, last_ns.saturating_sub(start_ns));
    report.latency = Some(latency.summary());
    Ok(report)
}

/// Connects one bench client.
pub async fn connect(
    target: &Target,
    role: &str,
    index: usize,
    persistent: bool,
    progress: &Progress,
) -> Result<Client> {
    let options = target.options(role, index, persistent)?;
    match Client::connect(options).await {
        Ok(client) => {
            Progress::add(&progress.connected, 1);
            Ok(client)
        }
        Err(error) => {
            Progress::add(&progress.failed, 1);
            Err(anyhow!("{role} {index} could not connect: {error}"))
        }
    }
}

/// Subscribes and checks the SUBACK.
pub async fn subscribe(mut client: Client, filter: &str, qos: QoS) -> Result<Client> {
    let parsed =
        TopicFilter::new(filter).map_err(|e| anyhow!("bench filter {filter} is not valid: {e}"))?;
    let suback = client
        .subscribe(vec![(parsed, SubscriptionOptions::with_qos(qos))])
        .await
        .with_context(|| format!("subscribing to {filter}"))?;
    if let Some(reason) = suback.reasons.iter().find(|r| r.is_error()) {
        bail!("the broker refused the subscription to {filter}: {reason:?}");
    }
    Ok(client)
}

/// One publisher's assignment.
#[derive(Debug)]
struct PublishJob {
    index: usize,
    topic: TopicName,
    qos: QoS,
    payload: usize,
    /// Messages to send, or `None` to send until the deadline.
    quota: Quota,
    /// Nanoseconds between intended sends (open loop), or as fast as possible.
    interval_ns: Option<u64>,
    window: usize,
    start_ns: u64,
}

/// How much one publisher sends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Quota {
    Messages(u64),
    Until(Duration),
}

/// Splits the stop condition between publishers: counts as evenly as possible.
fn share(stop: Stop, publishers: usize, index: usize) -> Quota {
    match stop {
        Stop::After(duration) => Quota::Until(duration),
        Stop::Count(total) => {
            let n = publishers.max(1) as u64;
            let extra = u64::from((index as u64) < total % n);
            Quota::Messages(total / n + extra)
        }
    }
}

/// Publishes until the quota is used up, then waits for every acknowledgement. Returns the
/// time the last acknowledgement arrived.
async fn publish(
    mut client: Client,
    job: PublishJob,
    tally: &Tally,
    progress: &Progress,
    clock: Clock,
) -> Result<u64> {
    let publisher = u32::try_from(job.index).context("too many publishers")?;
    let mut buffer = BytesMut::with_capacity(64 * 1024);
    let deadline = match job.quota {
        Quota::Until(duration) => Some(clock.instant(job.start_ns) + duration),
        Quota::Messages(_) => None,
    };
    let mut seq: u32 = 0;
    // When the pacing timer last released this publisher. The timer has a resolution of about
    // a millisecond, so it wakes up to that much after a slot: messages due before the wake-up
    // are stamped with it, since that delay is the generator's. Anything else that makes a
    // message late (a full in-flight window: the broker is slow) keeps its intended time.
    let mut woke_ns: u64 = 0;
    loop {
        if let Quota::Messages(n) = job.quota
            && u64::from(seq) >= n
        {
            break;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        let sent_ns = match job.interval_ns {
            Some(interval) => {
                let due = job
                    .start_ns
                    .saturating_add(interval.saturating_mul(u64::from(seq)));
                let due_at = clock.instant(due);
                if due_at > now {
                    // Keep acknowledgements flowing while waiting for the next slot.
                    let wait = due_at - now;
                    let wait =
                        deadline.map_or(wait, |d| wait.min(d.saturating_duration_since(now)));
                    client.idle(wait).await?;
                    woke_ns = clock.now_ns();
                    continue;
                }
                due.max(woke_ns)
            }
            None => clock.ns_at(now),
        };
        Stamp {
            sent_ns,
            publisher,
            seq,
        }
        .encode_into(job.payload, &mut buffer);
        let payload = buffer.split().freeze();
        if buffer.capacity() < job.payload {
            buffer.reserve(64 * 1024);
        }
        client.start_publish(Message::new(job.topic.clone(), job.qos, payload))?;
        seq = seq.checked_add(1).context("more than 4 billion messages")?;
        Progress::add(&progress.sent, 1);
        client.wait_pending_below(job.window).await?;
        if seq.is_multiple_of(64) {
            // QoS 0 never waits for the broker; let the other tasks on this thread run.
            tokio::task::yield_now().await;
        }
    }
    client.flush().await?;
    let finished = clock.now_ns();
    if let Some(slot) = tally.sent.get(job.index) {
        slot.store(u64::from(seq), Ordering::Release);
    }
    // Every message is acknowledged (QoS 1/2) or written (QoS 0); the subscribers need nothing more.
    let _ = client.disconnect().await;
    Ok(finished)
}

/// Receives until every message of its sources arrived, or nothing came for `drain` after the
/// publishers finished.
async fn receive(
    mut client: Client,
    sources: &[usize],
    tally: &Tally,
    progress: &Progress,
    clock: Clock,
    drain: Duration,
) -> Result<Seen> {
    let mut seen = Seen::default();
    let mut last_progress = Instant::now();
    let mut done_at: Option<Instant> = None;
    let poll = Duration::from_millis(100);
    loop {
        match tokio::time::timeout(poll, client.recv()).await {
            Ok(Ok(message)) => {
                let now = clock.now_ns();
                let stamp = Stamp::decode(&message.payload);
                if let Some(stamp) = stamp {
                    seen.latency
                        .record(Duration::from_nanos(now.saturating_sub(stamp.sent_ns)));
                }
                seen.receipts.note(stamp);
                seen.last_ns = now;
                last_progress = Instant::now();
                Progress::add(&progress.received, 1);
            }
            Ok(Err(error)) => return Err(error.into()),
            Err(_) => {}
        }
        if tally.done.load(Ordering::Acquire) {
            let done = *done_at.get_or_insert_with(Instant::now);
            seen.expected = sources
                .iter()
                .filter_map(|i| tally.sent.get(*i))
                .map(|s| s.load(Ordering::Acquire))
                .sum();
            if seen.receipts.unique() >= seen.expected {
                break;
            }
            if last_progress.max(done).elapsed() > drain {
                break;
            }
        }
    }
    let _ = client.disconnect().await;
    Ok(seen)
}

fn ns_to_s(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// Events per second over `ns` nanoseconds (0 when no time passed).
pub fn rate(events: u64, ns: u64) -> f64 {
    if ns == 0 {
        0.0
    } else {
        events as f64 * 1e9 / ns as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_split_evenly_between_publishers() {
        let shares: Vec<Quota> = (0..3).map(|i| share(Stop::Count(200), 3, i)).collect();
        assert_eq!(
            shares,
            vec![
                Quota::Messages(67),
                Quota::Messages(67),
                Quota::Messages(66)
            ]
        );
        let d = Duration::from_secs(5);
        assert_eq!(share(Stop::After(d), 8, 7), Quota::Until(d));
    }

    #[test]
    fn rates_per_second() {
        assert_eq!(rate(1_000, 500_000_000), 2_000.0);
        assert_eq!(rate(5, 0), 0.0);
    }
}
