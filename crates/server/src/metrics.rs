//! Counters and gauges for `/metrics`, in the Prometheus text format. Plain atomics: cheap on
//! the hot paths, read only when scraped. Refused TLS handshakes are counted per reason so an
//! operator sees at a glance that, say, every failure is `version`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use refusals::RefusalKind;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Raises the count to `total`, a count kept elsewhere (never lowers it).
    pub fn raise_to(&self, total: u64) {
        self.0.fetch_max(total, Ordering::Relaxed);
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Everything `tether serve` counts.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open network connections (any stage).
    pub connections_open: Gauge,
    /// CONNECTs the broker accepted.
    pub connections_accepted: Counter,
    /// CONNECTs the broker refused.
    pub connections_refused: Counter,
    /// Connections refused at the limit of `max_connections`.
    pub connections_over_limit: Counter,
    /// Certificates refused by the registry after the handshake.
    pub certificates_refused: Counter,
    /// PUBLISH packets received from clients.
    pub messages_received: Counter,
    /// Deliveries handed to connections.
    pub messages_delivered: Counter,
    /// QoS 1/2 messages dropped from full offline queues (`--max-queued-messages`).
    pub queued_dropped: Counter,
    /// Refused TLS handshakes by kind (indexed by `RefusalKind::index`).
    handshake_failures: KindCounters,
    /// The rules engine.
    pub rules: RuleMetrics,
    /// The bridges' states, set once they start.
    pub bridges: std::sync::OnceLock<Vec<std::sync::Arc<crate::bridge::BridgeStatus>>>,
}

/// One counter per refusal kind (more kinds than the 32 `Default` covers for arrays).
#[derive(Debug)]
struct KindCounters([Counter; RefusalKind::ALL.len()]);

impl Default for KindCounters {
    fn default() -> KindCounters {
        KindCounters(std::array::from_fn(|_| Counter::default()))
    }
}

/// The rules engine's counters.
#[derive(Debug, Default)]
pub struct RuleMetrics {
    /// Rules whose WHERE held for a message.
    pub fired: Counter,
    /// Firings of actions tether does not execute (DynamoDB, Kinesis, ..., unmapped lambda).
    pub actions_not_executed: Counter,
    /// Actions that failed (not executed ones included).
    pub action_failures: Counter,
    /// Messages no rule was evaluated for because of a republish loop.
    pub loops_stopped: Counter,
    /// Statements whose evaluation failed.
    pub evaluation_errors: Counter,
}

impl RuleMetrics {
    /// Adds what the engine counted in one batch.
    pub fn add(&self, counts: iot_services::rules::RuleCounts) {
        for (counter, n) in [
            (&self.fired, counts.fired),
            (&self.actions_not_executed, counts.not_executed),
            (&self.action_failures, counts.failed),
            (&self.loops_stopped, counts.loops_stopped),
            (&self.evaluation_errors, counts.evaluation_errors),
        ] {
            counter.0.fetch_add(n, Ordering::Relaxed);
        }
    }
}

impl Metrics {
    /// Counts one refused handshake.
    pub fn handshake_failed(&self, kind: RefusalKind) {
        if let Some(counter) = self.handshake_failures.0.get(kind.index()) {
            counter.inc();
        }
    }

    /// Refused handshakes of one kind so far.
    pub fn handshake_failures(&self, kind: RefusalKind) -> u64 {
        self.handshake_failures
            .0
            .get(kind.index())
            .map_or(0, Counter::get)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        metric(
            "tether_connections_open",
            "gauge",
            "Open network connections.",
            self.connections_open.get().to_string(),
        );
        metric(
            "tether_connections_accepted_total",
            "counter",
            "MQTT connections accepted.",
            self.connections_accepted.get().to_string(),
        );
        metric(
            "tether_connections_refused_total",
            "counter",
            "MQTT CONNECTs refused by the broker.",
            self.connections_refused.get().to_string(),
        );
        metric(
            "tether_connections_over_limit_total",
            "counter",
            "Connections closed because max_connections was reached.",
            self.connections_over_limit.get().to_string(),
        );
        metric(
            "tether_certificates_refused_total",
            "counter",
            "Client certificates refused by the registry (not registered or not ACTIVE).",
            self.certificates_refused.get().to_string(),
        );
        metric(
            "tether_messages_received_total",
            "counter",
            "PUBLISH packets received from clients.",
            self.messages_received.get().to_string(),
        );
        metric(
            "tether_messages_delivered_total",
            "counter",
            "Messages handed to connections for delivery.",
            self.messages_delivered.get().to_string(),
        );
        metric(
            "tether_queued_messages_dropped_total",
            "counter",
            "QoS 1/2 messages dropped, oldest first, from persistent sessions' queues that were \
             full (max-queued-messages).",
            self.queued_dropped.get().to_string(),
        );
        for (name, help, counter) in [
            (
                "tether_rules_fired_total",
                "Topic rules whose WHERE held for a message.",
                &self.rules.fired,
            ),
            (
                "tether_rules_actions_not_executed_total",
                "Rule actions tether does not execute locally (DynamoDB, Kinesis, S3, SQS, \
                 unmapped lambda...), reported to the errorAction as not executed.",
                &self.rules.actions_not_executed,
            ),
            (
                "tether_rules_action_failures_total",
                "Rule actions that failed, not executed ones included.",
                &self.rules.action_failures,
            ),
            (
                "tether_rules_loops_stopped_total",
                "Messages no rule was evaluated for because rules republished them in a loop.",
                &self.rules.loops_stopped,
            ),
            (
                "tether_rules_evaluation_errors_total",
                "Rule statements whose evaluation failed for a message.",
                &self.rules.evaluation_errors,
            ),
        ] {
            metric(name, "counter", help, counter.get().to_string());
        }
        let _ = writeln!(
            out,
            "# HELP tether_tls_handshake_failures_total Refused TLS handshakes by reason.\n\
             # TYPE tether_tls_handshake_failures_total counter"
        );
        for kind in RefusalKind::ALL {
            let count = self.handshake_failures(kind);
            if count > 0 {
                let _ = writeln!(
                    out,
                    "tether_tls_handshake_failures_total{{reason=\"{kind}\"}} {count}"
                );
            }
        }
        if let Some(bridges) = self.bridges.get() {
            crate::bridge::render_metrics(&mut out, bridges);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_labelled_failures() {
        let metrics = Metrics::default();
        metrics.messages_received.inc();
        metrics.handshake_failed(RefusalKind::Version);
        metrics.handshake_failed(RefusalKind::Version);
        let text = metrics.render();
        assert!(
            text.contains("tether_messages_received_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("tether_tls_handshake_failures_total{reason=\"version\"} 2\n"),
            "{text}"
        );
        assert_eq!(metrics.handshake_failures(RefusalKind::Version), 2);
    }
}
