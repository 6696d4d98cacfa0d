//! What one bridge reports: its connection state and counters for `/metrics` (rendered here,
//! one labelled series per bridge), and its upstream's refusals as records in the refusal log,
//! in the vocabulary `tether doctor recent` explains (`upstream_tls`, `upstream_refused`,
//! `upstream_closed`, and `limit` for messages beyond the upstream's limits). An unreachable
//! upstream is not a refusal: it is counted and logged, not recorded.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use client::Error;
use mqtt_proto::ReasonCode;
use refusals::{Recorder, Refusal, RefusalKind};

use crate::metrics::Counter;

/// Why a message did not cross a bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The outbound queue was full (`queue-limit`); the oldest waiting message went.
    QueueFull,
    /// Beyond the upstream's limits (payload size, topic length or depth).
    Limit,
    /// The upstream refused it (a failure reason in PUBACK, or its connection closed each time
    /// it was sent).
    Refused,
    /// QoS 0 while the upstream was away (only QoS 1 is kept).
    Qos0Offline,
    /// It carried this bridge's own marker: it had already crossed (a loop).
    Loop,
    /// No topic line maps it (a stale subscription).
    NoRoute,
}

impl DropReason {
    /// Every reason, for the metrics.
    pub const ALL: [DropReason; 6] = [
        DropReason::QueueFull,
        DropReason::Limit,
        DropReason::Refused,
        DropReason::Qos0Offline,
        DropReason::Loop,
        DropReason::NoRoute,
    ];

    /// The metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::Limit => "limit",
            DropReason::Refused => "refused",
            DropReason::Qos0Offline => "qos0_offline",
            DropReason::Loop => "loop",
            DropReason::NoRoute => "no_route",
        }
    }
}

/// The live state of one bridge, shared by its task and `/metrics`.
#[derive(Debug)]
pub struct BridgeStatus {
    /// The bridge's name.
    pub name: String,
    /// The upstream's `host:port`.
    pub upstream: String,
    /// Its client id upstream.
    pub client_id: String,
    connected: AtomicBool,
    queued: AtomicI64,
    /// Connections the upstream accepted.
    pub connections: Counter,
    /// Connection attempts that failed (refused or unreachable).
    pub connect_failures: Counter,
    /// Refusals by the upstream (recorded for `tether doctor recent`).
    pub refusals: Counter,
    /// Messages that went upstream (acknowledged, for QoS 1).
    pub forwarded_out: Counter,
    /// Messages that came from upstream and were published here.
    pub forwarded_in: Counter,
    dropped: [Counter; DropReason::ALL.len()],
    last_record: Mutex<Option<(String, Instant)>>,
}

/// The same refusal is recorded again only after this long, so a bridge retrying every few
/// seconds does not fill the refusal log.
const RECORD_AGAIN_AFTER: Duration = Duration::from_secs(60);

impl BridgeStatus {
    pub(crate) fn new(name: &str, upstream: String, client_id: &str) -> BridgeStatus {
        BridgeStatus {
            name: name.to_owned(),
            upstream,
            client_id: client_id.to_owned(),
            connected: AtomicBool::new(false),
            queued: AtomicI64::new(0),
            connections: Counter::default(),
            connect_failures: Counter::default(),
            refusals: Counter::default(),
            forwarded_out: Counter::default(),
            forwarded_in: Counter::default(),
            dropped: Default::default(),
            last_record: Mutex::new(None),
        }
    }

    /// Whether the upstream connection is up.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub(crate) fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
    }

    /// Outbound messages held (waiting or in flight).
    pub fn queued(&self) -> i64 {
        self.queued.load(Ordering::Relaxed)
    }

    pub(crate) fn set_queued(&self, queued: usize) {
        self.queued
            .store(i64::try_from(queued).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// Counts a message that did not cross.
    pub(crate) fn dropped(&self, reason: DropReason) {
        if let Some(counter) = self.dropped.get(reason as usize) {
            counter.inc();
        }
    }

    /// Messages dropped for `reason` so far.
    pub fn dropped_count(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason as usize).map_or(0, Counter::get)
    }

    /// Records a refusal by the upstream for `tether doctor recent` (the same one at most once a
    /// minute) and counts it.
    pub(crate) fn record(&self, recorder: &Recorder, refusal: UpstreamRefusal) {
        self.refusals.inc();
        let key = format!("{:?} {}", refusal.kind, refusal.reason);
        let now = Instant::now();
        if let Ok(mut last) = self.last_record.lock() {
            if let Some((previous, at)) = last.as_ref()
                && *previous == key
                && now.duration_since(*at) < RECORD_AGAIN_AFTER
            {
                return;
            }
            *last = Some((key, now));
        }
        let log = format!(
            "bridge {}: {} refused the bridge ({}): {}",
            self.name, self.upstream, refusal.kind, refusal.reason
        );
        let record = Refusal {
            time: crate::mqtt::now_rfc3339(),
            peer: self.upstream.clone(),
            listener: format!("bridge {}", self.name),
            kind: refusal.kind,
            reason: refusal.reason,
            principal: Some(format!("bridge {}", self.name)),
            client_id: Some(self.client_id.clone()),
            action: refusal.action,
            resource: refusal.resource,
            decided_by: refusal.decided_by,
            ..Refusal::default()
        };
        recorder.record(record, Some(log));
    }
}

/// A refusal by the upstream, before it becomes a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UpstreamRefusal {
    pub(crate) kind: RefusalKind,
    pub(crate) reason: String,
    pub(crate) action: Option<String>,
    pub(crate) resource: Option<String>,
    pub(crate) decided_by: Option<String>,
}

/// What a failed connection (or command) says about the upstream's will: a refusal, or `None`
/// when the upstream was merely unreachable or went away.
pub(crate) fn refusal_of(error: &Error) -> Option<UpstreamRefusal> {
    let refusal = |kind, decided_by: Option<String>| UpstreamRefusal {
        kind,
        reason: error.to_string(),
        action: None,
        resource: None,
        decided_by,
    };
    match error {
        Error::TlsAlert { alert, .. } => Some(refusal(
            RefusalKind::UpstreamTls,
            Some(format!("TLS alert {alert}")),
        )),
        Error::UntrustedServer(_) => Some(refusal(
            RefusalKind::UpstreamTls,
            Some("the bridge's cafile".to_owned()),
        )),
        Error::Tls { .. } | Error::TlsSetup(_) => Some(refusal(RefusalKind::UpstreamTls, None)),
        Error::WebSocket { .. } => Some(refusal(RefusalKind::UpstreamRefused, None)),
        Error::Refused { reason, .. } => Some(UpstreamRefusal {
            action: Some("CONNECT".to_owned()),
            ..refusal(
                RefusalKind::UpstreamRefused,
                Some(format!("CONNACK {reason}")),
            )
        }),
        Error::DisconnectedByServer { reason, .. } if *reason != ReasonCode::ServerShuttingDown => {
            Some(refusal(
                RefusalKind::UpstreamRefused,
                Some(format!("DISCONNECT {reason}")),
            ))
        }
        Error::Closed { during, .. } if *during == "before answering CONNECT" => {
            Some(UpstreamRefusal {
                action: Some("CONNECT".to_owned()),
                ..refusal(RefusalKind::UpstreamClosed, None)
            })
        }
        Error::SubscribeUnanswered { filters, .. } => Some(UpstreamRefusal {
            action: Some("SUBSCRIBE".to_owned()),
            resource: Some(filters.join(", ")),
            ..refusal(RefusalKind::UpstreamClosed, None)
        }),
        Error::SubscribeRefused { filter, reason, .. } => Some(UpstreamRefusal {
            action: Some("SUBSCRIBE".to_owned()),
            resource: Some(filter.clone()),
            ..refusal(
                RefusalKind::UpstreamRefused,
                Some(format!("SUBACK {reason}")),
            )
        }),
        _ => None,
    }
}

/// Appends every bridge's series to a Prometheus text exposition.
pub(crate) fn render(out: &mut String, bridges: &[std::sync::Arc<BridgeStatus>]) {
    if bridges.is_empty() {
        return;
    }
    let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in rows {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    };
    let label = |b: &BridgeStatus| format!("bridge=\"{}\"", b.name);
    family(
        "tether_bridge_connected",
        "gauge",
        "Whether the bridge is connected to its upstream broker (1) or not (0).",
        bridges
            .iter()
            .map(|b| {
                (
                    format!("{},upstream=\"{}\"", label(b), b.upstream),
                    u8::from(b.connected()).to_string(),
                )
            })
            .collect(),
    );
    family(
        "tether_bridge_queued",
        "gauge",
        "Outbound messages the bridge holds (waiting for the upstream or in flight).",
        bridges
            .iter()
            .map(|b| (label(b), b.queued().to_string()))
            .collect(),
    );
    family(
        "tether_bridge_messages_total",
        "counter",
        "Messages the bridge carried, by direction.",
        bridges
            .iter()
            .flat_map(|b| {
                [
                    (
                        format!("{},direction=\"out\"", label(b)),
                        b.forwarded_out.get().to_string(),
                    ),
                    (
                        format!("{},direction=\"in\"", label(b)),
                        b.forwarded_in.get().to_string(),
                    ),
                ]
            })
            .collect(),
    );
    family(
        "tether_bridge_dropped_total",
        "counter",
        "Messages that did not cross the bridge, by reason.",
        bridges
            .iter()
            .flat_map(|b| {
                DropReason::ALL.map(|reason| {
                    (
                        format!("{},reason=\"{}\"", label(b), reason.as_str()),
                        b.dropped_count(reason).to_string(),
                    )
                })
            })
            .collect(),
    );
    for (name, help, value) in [
        (
            "tether_bridge_connections_total",
            "Connections the upstream accepted.",
            (|b: &BridgeStatus| b.connections.get()) as fn(&BridgeStatus) -> u64,
        ),
        (
            "tether_bridge_connect_failures_total",
            "Connection attempts that failed (refused or unreachable).",
            |b: &BridgeStatus| b.connect_failures.get(),
        ),
        (
            "tether_bridge_refusals_total",
            "Refusals by the upstream (see tether doctor recent).",
            |b: &BridgeStatus| b.refusals.get(),
        ),
    ] {
        family(
            name,
            "counter",
            help,
            bridges
                .iter()
                .map(|b| (label(b), value(b).to_string()))
                .collect(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_apart_from_an_unreachable_upstream() {
        let refused = Error::Refused {
            protocol: mqtt_proto::Protocol::V5,
            reason: ReasonCode::NotAuthorized,
            reason_string: None,
        };
        let r = refusal_of(&refused).unwrap();
        assert_eq!(r.kind, RefusalKind::UpstreamRefused);
        assert_eq!(r.decided_by.as_deref(), Some("CONNACK 0x87 Not authorized"));
        let closed = Error::Closed {
            host: "h".into(),
            port: 1,
            during: "before answering CONNECT",
            hint: None,
        };
        assert_eq!(
            refusal_of(&closed).unwrap().kind,
            RefusalKind::UpstreamClosed
        );
        let lost = Error::Closed {
            host: "h".into(),
            port: 1,
            during: "unexpectedly",
            hint: None,
        };
        assert!(refusal_of(&lost).is_none());
        let down = Error::Connect {
            host: "h".into(),
            port: 1,
            detail: "connection refused".into(),
        };
        assert!(refusal_of(&down).is_none());
        let shutdown = Error::DisconnectedByServer {
            reason: ReasonCode::ServerShuttingDown,
            reason_string: None,
        };
        assert!(refusal_of(&shutdown).is_none());
    }

    #[test]
    fn series_carry_the_bridge_name() {
        let status = std::sync::Arc::new(BridgeStatus::new("aws", "h:8883".into(), "gw"));
        status.set_connected(true);
        status.dropped(DropReason::Limit);
        status.forwarded_out.inc();
        let mut out = String::new();
        render(&mut out, &[status]);
        assert!(out.contains("tether_bridge_connected{bridge=\"aws\",upstream=\"h:8883\"} 1"));
        assert!(out.contains("tether_bridge_dropped_total{bridge=\"aws\",reason=\"limit\"} 1"));
        assert!(out.contains("tether_bridge_messages_total{bridge=\"aws\",direction=\"out\"} 1"));
        let mut none = String::new();
        render(&mut none, &[]);
        assert!(none.is_empty());
    }
}
