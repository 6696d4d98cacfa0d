//! What `tether bench` reports: one [`Report`] per run, printed as a human summary or as JSON
//! (the input of bench/compare), and the progress line on stderr while a run goes. It measures
//! nothing itself; the scenarios fill the report in.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use client::{Protocol, QoS};
use serde::Serialize;

use super::stats::{self, Percentiles};
use super::{Plan, Progress};

/// The result of one run. Fields that do not apply to a scenario are left out of the JSON.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    pub protocol: &'static str,
    pub qos: u8,
    pub payload_bytes: usize,
    pub publishers: usize,
    pub subscribers: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_target: Option<u64>,
    /// Messages published (QoS 1/2: acknowledged by the broker).
    pub sent: u64,
    /// Deliveries the subscribers should have seen (sent × subscribers of each message).
    pub expected: u64,
    /// Distinct deliveries seen.
    pub received: u64,
    pub lost: u64,
    pub duplicates: u64,
    /// Seconds from the first publish to the last publisher's end (acknowledgements included).
    pub publish_seconds: f64,
    /// Messages published per second.
    pub publish_rate: f64,
    /// Deliveries per second, from the first publish to the last delivery.
    pub delivery_rate: f64,
    /// Send (intended send, with --rate) to delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<Percentiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect: Option<ConnectFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle: Option<IdleFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable: Option<DurableFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowFigures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provision: Option<ProvisionFigures>,
    pub generator: Generator,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker: Option<Broker>,
    /// The first few failures (connections refused, subscriptions denied, lost connections).
    pub errors: Vec<String>,
}

/// Connection storm figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConnectFigures {
    pub connections: usize,
    pub concurrency: usize,
    pub succeeded: u64,
    pub failed: u64,
    pub seconds: f64,
    /// Completed TCP + TLS + CONNECT/CONNACK per second.
    pub handshakes_per_s: f64,
    /// From the TCP connect to CONNACK.
    pub connack: Percentiles,
}

/// Idle connection figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IdleFigures {
    pub connections: usize,
    pub held: u64,
    pub held_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_rss_before_kib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_rss_held_kib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kib_per_connection: Option<f64>,
}

/// Offline-queue figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DurableFigures {
    /// Messages acknowledged per second while the subscriber was offline.
    pub in_rate: f64,
    /// Messages delivered per second after the subscriber came back.
    pub out_rate: f64,
    pub in_seconds: f64,
    pub out_seconds: f64,
    /// Whether the broker resumed the session (session present in CONNACK).
    pub session_present: bool,
}

/// Device Shadow figures: closed-loop shadow updates against plain QoS 1 round trips on the
/// same connections.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ShadowFigures {
    pub things: usize,
    pub seconds_per_phase: f64,
    /// Shadow updates whose delta came back.
    pub updates: u64,
    pub updates_per_s: f64,
    /// From sending the update to receiving its `update/delta`.
    pub update_to_delta: Percentiles,
    /// Plain QoS 1 publishes whose copy came back.
    pub publish_round_trips: u64,
    pub publish_round_trips_per_s: f64,
    pub publish_to_delivery: Percentiles,
    /// updates_per_s / publish_round_trips_per_s.
    pub ratio_to_publish: f64,
}

/// Fleet provisioning figures: devices provisioned by claim, each from its connection to its
/// RegisterThing answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProvisionFigures {
    pub devices: usize,
    pub concurrency: usize,
    pub provisioned: u64,
    pub failed: u64,
    pub seconds: f64,
    pub devices_per_s: f64,
    /// From the start of a device's connection to its RegisterThing answer.
    pub per_device: Percentiles,
}

/// The load generator's own cost: if cpu_percent approaches 100 × cores, the generator and
/// not the broker was the limit.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Generator {
    pub wall_seconds: f64,
    pub cpu_seconds: f64,
    pub cpu_percent: f64,
    pub cores: usize,
}

/// The broker's cost during the run, from /proc/<pid>.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Broker {
    pub pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_us_per_message: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_kib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hwm_kib: Option<u64>,
}

/// At most this many error messages are kept.
const MAX_ERRORS: usize = 10;

impl Report {
    /// A report with the plan's settings filled in.
    pub fn for_plan(plan: &Plan) -> Report {
        Report {
            scenario: plan.scenario.name(),
            protocol: match plan.protocol {
                Protocol::V5 => "mqttv5",
                _ => "mqttv311",
            },
            qos: match plan.qos {
                QoS::AtMostOnce => 0,
                QoS::AtLeastOnce => 1,
                QoS::ExactlyOnce => 2,
            },
            payload_bytes: plan.payload,
            publishers: plan.publishers,
            subscribers: plan.subscribers,
            rate_target: plan.rate,
            ..Report::default()
        }
    }

    /// Keeps an error message (the first few only).
    pub fn error(&mut self, message: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(message);
        }
    }

    /// Whether the run went as it should: no errors, no failed connections, and no loss for
    /// QoS 1/2 (QoS 0 may drop by definition; its loss is reported, not failed).
    pub fn ok(&self) -> bool {
        let connections_ok = self.connect.as_ref().is_none_or(|c| c.failed == 0);
        self.errors.is_empty() && connections_ok && (self.qos == 0 || self.lost == 0)
    }

    /// Fills in the generator's CPU use.
    pub fn set_generator(
        &mut self,
        wall: Duration,
        before: Option<Duration>,
        after: Option<Duration>,
    ) {
        let cpu = match (before, after) {
            (Some(b), Some(a)) => a.saturating_sub(b).as_secs_f64(),
            _ => 0.0,
        };
        let wall_seconds = wall.as_secs_f64();
        self.generator = Generator {
            wall_seconds,
            cpu_seconds: cpu,
            cpu_percent: if wall_seconds > 0.0 {
                100.0 * cpu / wall_seconds
            } else {
                0.0
            },
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
    }

    /// Fills in the broker's CPU time during the run and its memory now.
    pub fn set_broker(&mut self, pid: u32, before: Option<Duration>, after: Option<Duration>) {
        let cpu_seconds = match (before, after) {
            (Some(b), Some(a)) => Some(a.saturating_sub(b).as_secs_f64()),
            _ => None,
        };
        let operations = match self.scenario {
            "connect" => self.connect.as_ref().map_or(0, |c| c.succeeded),
            _ => self.received,
        };
        let memory = stats::memory_kib(pid);
        self.broker = Some(Broker {
            pid,
            cpu_seconds,
            cpu_us_per_message: cpu_seconds
                .filter(|_| operations > 0)
                .map(|s| s * 1e6 / operations as f64),
            rss_kib: memory.map(|m| m.0),
            hwm_kib: memory.map(|m| m.1),
        });
    }

    /// The human summary.
    pub fn human(&self, address: &str) -> String {
        let mut out = format!(
            "tether bench {} against {address}: {} QoS {} payload {} B\n",
            self.scenario, self.protocol, self.qos, self.payload_bytes
        );
        if let Some(c) = &self.connect {
            out.push_str(&format!(
                "  connections   {} ok, {} failed, concurrency {}, {:.2} s\n  handshakes    {:.0}/s\n  CONNACK       {}\n",
                c.succeeded,
                c.failed,
                c.concurrency,
                c.seconds,
                c.handshakes_per_s,
                latency_line(&c.connack)
            ));
        }
        if let Some(i) = &self.idle {
            out.push_str(&format!(
                "  idle          {} of {} connections held {:.1} s\n",
                i.held, i.connections, i.held_seconds
            ));
            if let (Some(before), Some(held)) = (i.broker_rss_before_kib, i.broker_rss_held_kib) {
                out.push_str(&format!(
                    "  broker RSS    {before} KiB before, {held} KiB held ({:.2} KiB per connection)\n",
                    i.kib_per_connection.unwrap_or(0.0)
                ));
            }
        }
        if self.publishers > 0 {
            out.push_str(&format!(
                "  clients       {} publishers, {} subscribers\n  published     {} in {:.2} s ({:.0}/s)\n  delivered     {} of {} ({:.0}/s), lost {}, duplicates {}\n",
                self.publishers,
                self.subscribers,
                self.sent,
                self.publish_seconds,
                self.publish_rate,
                self.received,
                self.expected,
                self.delivery_rate,
                self.lost,
                self.duplicates
            ));
        }
        if let Some(d) = &self.durable {
            out.push_str(&format!(
                "  durable       in {:.0}/s ({:.2} s), out {:.0}/s ({:.2} s), session present {}\n",
                d.in_rate, d.in_seconds, d.out_rate, d.out_seconds, d.session_present
            ));
        }
        if let Some(s) = &self.shadow {
            out.push_str(&format!(
                "  shadow        {} things, {:.0} updates/s (update→delta {})\n  \
                 plain QoS 1   {:.0} round trips/s (publish→delivery {})\n  \
                 ratio         {:.2} of a plain publish\n",
                s.things,
                s.updates_per_s,
                latency_line(&s.update_to_delta),
                s.publish_round_trips_per_s,
                latency_line(&s.publish_to_delivery),
                s.ratio_to_publish
            ));
        } else if let Some(p) = &self.provision {
            out.push_str(&format!(
                "  provision     {}/{} devices in {:.2} s, {:.1} devices/s, {} at a time \
                 (per device {})\n",
                p.provisioned,
                p.devices,
                p.seconds,
                p.devices_per_s,
                p.concurrency,
                latency_line(&p.per_device)
            ));
        } else if let Some(latency) = &self.latency {
            out.push_str(&format!("  latency       {}\n", latency_line(latency)));
        }
        let g = &self.generator;
        out.push_str(&format!(
            "  generator     {:.2} s CPU in {:.2} s ({:.0} % of one core, {} cores){}\n",
            g.cpu_seconds,
            g.wall_seconds,
            g.cpu_percent,
            g.cores,
            if g.cpu_percent > 80.0 * g.cores as f64 {
                " - the generator may have been the bottleneck"
            } else {
                ""
            }
        ));
        if let Some(b) = &self.broker {
            out.push_str(&format!(
                "  broker        pid {}: {:.2} s CPU{}, RSS {} KiB, peak {} KiB\n",
                b.pid,
                b.cpu_seconds.unwrap_or(0.0),
                b.cpu_us_per_message
                    .map(|us| format!(" ({us:.1} µs per operation)"))
                    .unwrap_or_default(),
                b.rss_kib.unwrap_or(0),
                b.hwm_kib.unwrap_or(0)
            ));
        }
        for error in &self.errors {
            out.push_str(&format!("  error: {error}\n"));
        }
        out
    }
}

fn latency_line(p: &Percentiles) -> String {
    format!(
        "p50 {} p99 {} p99.9 {} max {} ({} samples)",
        micros(p.p50_us),
        micros(p.p99_us),
        micros(p.p999_us),
        micros(p.max_us),
        p.count
    )
}

/// Microseconds in a readable unit.
pub fn micros(us: u64) -> String {
    if us >= 10_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else if us >= 1_000 {
        format!("{:.2} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}

/// Starts the progress line: rewritten in place on a terminal, one line every 5 s otherwise.
pub fn spawn_progress(
    runtime: &tokio::runtime::Runtime,
    plan: &Plan,
    progress: &Arc<Progress>,
) -> tokio::task::JoinHandle<()> {
    let progress = Arc::clone(progress);
    let name = plan.scenario.name();
    let terminal = std::io::stderr().is_terminal();
    runtime.spawn(async move {
        let start = Instant::now();
        let every = if terminal {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(5)
        };
        let mut ticker = tokio::time::interval(every);
        ticker.tick().await;
        let (mut last_sent, mut last_received) = (0, 0);
        loop {
            ticker.tick().await;
            let sent = progress.sent.load(Ordering::Relaxed);
            let received = progress.received.load(Ordering::Relaxed);
            let per_s = |now: u64, last: u64| (now - last.min(now)) as f64 / every.as_secs_f64();
            let line = format!(
                "[{name}] {:5.1} s  connected {}  failed {}  sent {} ({:.0}/s)  received {} ({:.0}/s)",
                start.elapsed().as_secs_f64(),
                progress.connected.load(Ordering::Relaxed),
                progress.failed.load(Ordering::Relaxed),
                sent,
                per_s(sent, last_sent),
                received,
                per_s(received, last_received),
            );
            (last_sent, last_received) = (sent, received);
            let mut err = std::io::stderr().lock();
            let _ = if terminal {
                write!(err, "\r{line}\x1b[K")
            } else {
                writeln!(err, "{line}")
            };
            let _ = err.flush();
        }
    })
}

/// Ends the progress line on a terminal.
pub fn clear_progress_line() {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_fails_qos1_but_not_qos0() {
        let mut report = Report {
            qos: 1,
            lost: 3,
            ..Report::default()
        };
        assert!(!report.ok());
        report.qos = 0;
        assert!(report.ok());
        report.error("connection lost".to_owned());
        assert!(!report.ok());
    }

    #[test]
    fn broker_cost_is_per_delivered_message() {
        let mut report = Report {
            scenario: "fan-in",
            received: 1_000,
            ..Report::default()
        };
        report.set_broker(
            std::process::id(),
            Some(Duration::from_millis(100)),
            Some(Duration::from_millis(600)),
        );
        let broker = report.broker.unwrap();
        assert!((broker.cpu_us_per_message.unwrap() - 500.0).abs() < 1e-6);
        assert!(broker.rss_kib.unwrap() > 0);
    }

    #[test]
    fn units_and_summary() {
        assert_eq!(micros(999), "999 µs");
        assert_eq!(micros(1_500), "1.50 ms");
        assert_eq!(micros(25_000), "25.0 ms");
        let report = Report {
            scenario: "fan-in",
            publishers: 2,
            subscribers: 1,
            sent: 200,
            expected: 200,
            received: 200,
            ..Report::default()
        };
        let text = report.human("localhost:8883");
        assert!(text.contains("delivered     200 of 200"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["received"], 200);
        assert!(json.get("connect").is_none());
    }
}
