//! The `shadow` scenario of `tether bench`: N things, each its own mutual-TLS connection as a
//! device would be, update their own classic shadow in a closed loop (update desired, wait for
//! the `update/delta` it causes, update again) — shadow updates per second and update→delta
//! latency. The same connections first run the same closed loop with plain QoS 1 publishes to a
//! topic of their own (publish, wait for the copy), so the report gives the cost of a shadow
//! update as a ratio to a plain publish on the same run. One request in flight per thing keeps
//! every device within AWS's 10 in-flight shadow requests. It needs a broker with AWS IoT's
//! Device Shadow service (tether serve; no peer broker has one).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use client::{Client, Message, QoS, TopicName};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::flow::{connect, rate, subscribe};
use super::report::{Report, ShadowFigures};
use super::stats::{Clock, Latency};
use super::{Plan, Progress, Stop, Target};

/// What one thing measured in one phase.
#[derive(Debug, Default)]
struct Loop {
    done: u64,
    latency: Latency,
}

/// Runs the plain-publish phase, then the shadow phase, on the same connections.
pub async fn run(
    plan: &Plan,
    target: &Target,
    progress: &Arc<Progress>,
    clock: Clock,
) -> Result<Report> {
    let mut report = Report::for_plan(plan);
    let phase = match plan.stop {
        Stop::After(duration) => duration / 2,
        Stop::Count(_) => bail!("the shadow scenario runs for a duration (-d SECS), not a count"),
    };
    let things = plan.connections;
    let mut clients = Vec::with_capacity(things);
    for i in 0..things {
        let thing = thing_name(target, i);
        let client = connect(target, "thing", i, false, progress).await?;
        let client = subscribe(
            client,
            &format!("{}/update/delta", prefix(&thing)),
            QoS::AtLeastOnce,
        )
        .await?;
        let client = subscribe(client, &echo_topic(&thing), QoS::AtLeastOnce).await?;
        clients.push(client);
    }

    let (clients, baseline, baseline_s) =
        phase_on_all(clients, target, progress, clock, phase, Kind::Publish).await?;
    let (clients, shadow, shadow_s) =
        phase_on_all(clients, target, progress, clock, phase, Kind::Shadow).await?;
    for client in clients {
        let _ = client.disconnect().await;
    }
    let baseline_rate = per_second(baseline.done, baseline_s);
    let shadow_rate = per_second(shadow.done, shadow_s);
    report.sent = shadow.done;
    report.expected = shadow.done;
    report.received = shadow.done;
    report.delivery_rate = shadow_rate;
    report.latency = Some(shadow.latency.summary());
    report.shadow = Some(ShadowFigures {
        things,
        seconds_per_phase: phase.as_secs_f64(),
        updates: shadow.done,
        updates_per_s: shadow_rate,
        update_to_delta: shadow.latency.summary(),
        publish_round_trips: baseline.done,
        publish_round_trips_per_s: baseline_rate,
        publish_to_delivery: baseline.latency.summary(),
        ratio_to_publish: if baseline_rate > 0.0 {
            shadow_rate / baseline_rate
        } else {
            0.0
        },
    });
    Ok(report)
}

/// Which closed loop a phase runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A QoS 1 publish to the thing's own topic, and its copy back.
    Publish,
    /// A shadow update of desired state, and the delta it causes.
    Shadow,
}

/// Runs one phase on every connection at once; returns the connections, the sum of what they
/// measured and the phase's length in seconds.
async fn phase_on_all(
    clients: Vec<Client>,
    target: &Target,
    progress: &Arc<Progress>,
    clock: Clock,
    length: Duration,
    kind: Kind,
) -> Result<(Vec<Client>, Loop, f64)> {
    let start = Instant::now();
    let deadline = start + length;
    let mut tasks = JoinSet::new();
    for (i, client) in clients.into_iter().enumerate() {
        let thing = thing_name(target, i);
        let progress = Arc::clone(progress);
        tasks.spawn(async move {
            let result = closed_loop(client, &thing, kind, deadline, clock, &progress).await;
            (i, result)
        });
    }
    let mut total = Loop {
        latency: Latency::new(),
        ..Loop::default()
    };
    let mut back = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.context("a bench thing task failed")?;
        let (client, measured) = result.with_context(|| format!("thing {i}"))?;
        total.done += measured.done;
        total.latency.merge(&measured.latency);
        back.push((i, client));
    }
    back.sort_by_key(|(i, _)| *i);
    let seconds = start.elapsed().as_secs_f64();
    Ok((back.into_iter().map(|(_, c)| c).collect(), total, seconds))
}

/// One thing's loop until `deadline`: send, wait for the answer, record the latency.
async fn closed_loop(
    mut client: Client,
    thing: &str,
    kind: Kind,
    deadline: Instant,
    clock: Clock,
    progress: &Progress,
) -> Result<(Client, Loop)> {
    let (topic, expect) = match kind {
        Kind::Publish => (echo_topic(thing), echo_topic(thing)),
        Kind::Shadow => (
            format!("{}/update", prefix(thing)),
            format!("{}/update/delta", prefix(thing)),
        ),
    };
    let topic = TopicName::new(&topic).map_err(|e| anyhow!("bench topic {topic}: {e}"))?;
    let mut measured = Loop {
        latency: Latency::new(),
        ..Loop::default()
    };
    let mut seq: u64 = 0;
    while Instant::now() < deadline {
        let sent_ns = clock.now_ns();
        let payload = json!({"state": {"desired": {"n": seq, "t": sent_ns}}}).to_string();
        let message = Message::new(topic.clone(), QoS::AtLeastOnce, Bytes::from(payload));
        client.publish(message).await?;
        Progress::add(&progress.sent, 1);
        loop {
            let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(5);
            let got = tokio::time::timeout(left, client.recv())
                .await
                .map_err(|_| anyhow!("no answer on {expect} within 5 s of the phase's end"))??;
            if got.topic.as_str() != expect {
                continue;
            }
            let body: Value = serde_json::from_slice(&got.payload)
                .with_context(|| format!("the answer on {expect} is not JSON"))?;
            // The echo carries the request as sent; the delta, the desired state it left.
            let pointer = match kind {
                Kind::Publish => "/state/desired",
                Kind::Shadow => "/state",
            };
            let field = |name: &str| {
                body.pointer(&format!("{pointer}/{name}"))
                    .and_then(Value::as_u64)
            };
            if field("n") != Some(seq) {
                continue;
            }
            let sent = field("t").unwrap_or(sent_ns);
            measured
                .latency
                .record(Duration::from_nanos(clock.now_ns().saturating_sub(sent)));
            break;
        }
        measured.done += 1;
        Progress::add(&progress.received, 1);
        seq += 1;
    }
    Ok((client, measured))
}

fn thing_name(target: &Target, index: usize) -> String {
    format!("bench-{}-thing-{index}", target.run_id)
}

fn prefix(thing: &str) -> String {
    format!("$aws/things/{thing}/shadow")
}

fn echo_topic(thing: &str) -> String {
    format!("bench/{thing}/echo")
}

fn per_second(events: u64, seconds: f64) -> f64 {
    let ns = (seconds * 1e9) as u64;
    rate(events, ns)
}
