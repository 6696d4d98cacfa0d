//! The `broker_sequence` fuzz driver, also replayed over its seed corpus by a test: decodes
//! arbitrary bytes into a sequence of broker inputs (connects, publishes, subscribes,
//! disconnects with unacknowledged deliveries, clock advances), runs it twice, and checks
//! invariants that must hold for any input. It asserts nothing about specific outcomes; the
//! simulations under `tests/` do that.
//!
//! Format: the first byte picks the profile (even: AWS, odd: MQTT); then each step is three
//! bytes `op a b`, `op % 8` selecting connect, publish, subscribe, unsubscribe, disconnect,
//! advance the clock, acknowledge the oldest outstanding delivery, or server publish.

use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::properties::{SubscribeProperties, WillProperties};
use mqtt_proto::time::Instant;
use mqtt_proto::{
    MqttStr, PacketId, Protocol, Publish, QoS, RetainHandling, Subscribe, SubscriptionOptions,
    TopicFilter, TopicName, Unsubscribe, Will,
};

use crate::broker::Broker;
use crate::config::{BrokerConfig, Profile};
use crate::connect::{ConnectRequest, DisconnectKind};
use crate::effect::{ConnId, Effect};
use crate::message::{Delivery, Message};

/// An invariant the broker broke while running a script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvariantViolation {
    /// A delivery went to a connection that does not own a session.
    #[error("script step {step}: delivery to connection {conn} which owns no session")]
    DeliveryToDetached {
        /// Step index.
        step: usize,
        /// Connection.
        conn: u64,
    },
    /// A delivery's QoS exceeds the message's or the profile's.
    #[error("script step {step}: delivered QoS {delivered} above message QoS or profile maximum")]
    QosTooHigh {
        /// Step index.
        step: usize,
        /// Delivered QoS.
        delivered: u8,
    },
    /// The connection count disagrees with the script's own bookkeeping.
    #[error("script step {step}: broker reports {reported} connections, script has {expected}")]
    ConnectionCount {
        /// Step index.
        step: usize,
        /// Broker's count.
        reported: usize,
        /// Script's count.
        expected: usize,
    },
    /// A message a service claimed for itself alone reached a subscriber.
    #[error("script step {step}: {topic} was delivered although a service claimed it alone")]
    ClaimedDelivered {
        /// Step index.
        step: usize,
        /// Its topic.
        topic: String,
    },
    /// Two runs of the same script produced different effects.
    #[error("the same script produced different effects on a second run")]
    Nondeterministic,
}

/// What a script run did, for corpus statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptSummary {
    /// Inputs applied.
    pub steps: usize,
    /// Effects produced.
    pub effects: usize,
}

/// Topics a service claims for itself alone in the fuzzed broker: never delivered.
const CLAIMED_ALONE: &str = "$SYS/";

/// Service routes of the fuzzed broker: one shared with subscribers, one exclusive.
fn fuzz_routes() -> Vec<crate::ServiceRoute> {
    [("a/+", true), ("$SYS/#", false)]
        .into_iter()
        .filter_map(|(filter, to_subscribers)| {
            Some(crate::ServiceRoute {
                filter: mqtt_proto::TopicFilter::new(filter).ok()?,
                service: crate::ServiceId(1),
                to_subscribers,
            })
        })
        .collect()
}

const TOPICS: [&str; 8] = [
    "a",
    "a/b",
    "a/b/c",
    "$SYS/x",
    "b",
    "a/",
    "$aws/rules/r/x",
    "c/d/e/f/g/h/i/j/k",
];
const FILTERS: [&str; 10] = [
    "a",
    "a/+",
    "a/#",
    "#",
    "+/b",
    "$SYS/#",
    "$share/g/a/#",
    "$share/h/+",
    "b",
    "+/+/+",
];
const EXPIRIES: [u32; 4] = [0, 10, 600, u32::MAX];
const CLIENTS: u8 = 4;

/// Runs the script in `data` twice and checks the invariants.
pub fn broker_sequence(data: &[u8]) -> Result<ScriptSummary, InvariantViolation> {
    let (first, summary) = run_once(data)?;
    let (second, _) = run_once(data)?;
    if first != second {
        return Err(InvariantViolation::Nondeterministic);
    }
    Ok(summary)
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = self.data.get(self.pos).copied();
        self.pos += 1;
        b
    }
}

/// A connection the script opened and has not yet disconnected.
struct Open {
    conn: ConnId,
    /// QoS > 0 deliveries not yet acknowledged by the script.
    unacked: Vec<Delivery>,
}

fn run_once(data: &[u8]) -> Result<(Vec<Effect>, ScriptSummary), InvariantViolation> {
    let mut cursor = Cursor { data, pos: 0 };
    let profile = if cursor.byte().unwrap_or(0).is_multiple_of(2) {
        Profile::Aws
    } else {
        Profile::Mqtt
    };
    let max_qos = if profile == Profile::Aws {
        QoS::AtLeastOnce
    } else {
        QoS::ExactlyOnce
    };
    let mut config = BrokerConfig::for_profile(profile);
    config.service_routes = fuzz_routes();
    let Ok(mut broker) = Broker::new(config) else {
        return Ok((Vec::new(), ScriptSummary::default()));
    };
    let mut now = Instant::from_secs(1);
    let mut open: Vec<Open> = Vec::new();
    let mut next_conn = 0u64;
    let mut all = Vec::new();
    let mut summary = ScriptSummary::default();

    while let Some(op) = cursor.byte() {
        let a = cursor.byte().unwrap_or(0);
        let b = cursor.byte().unwrap_or(0);
        let step = summary.steps;
        summary.steps += 1;
        let pick = |open: &Vec<Open>| -> Option<usize> {
            (!open.is_empty()).then(|| usize::from(a) % open.len())
        };
        match op % 8 {
            0 => {
                next_conn += 1;
                let conn = ConnId(next_conn);
                let client = a % CLIENTS;
                let protocol = if a & 0x10 != 0 {
                    Protocol::V5
                } else {
                    Protocol::V311
                };
                let will = topic(b >> 2).filter(|_| b & 0x20 != 0).map(|topic| Will {
                    topic,
                    payload: Bytes::from_static(b"will"),
                    qos: qos(b >> 6),
                    retain: b & 0x40 != 0,
                    properties: WillProperties {
                        will_delay_interval: (b & 0x80 != 0).then_some(5),
                        ..WillProperties::default()
                    },
                });
                let request = ConnectRequest {
                    client_id: MqttStr::try_from(format!("c{client}")).unwrap_or_default(),
                    protocol,
                    clean_start: b & 1 != 0,
                    keep_alive: 60,
                    session_expiry: EXPIRIES.get(usize::from(b >> 1) % 4).copied(),
                    will,
                    principal: (),
                };
                if let crate::ConnectOutcome::Accepted(_) =
                    broker.handle_connect(conn, request, now)
                {
                    open.push(Open {
                        conn,
                        unacked: Vec::new(),
                    });
                }
            }
            1 => {
                if let (Some(i), Some(topic)) = (pick(&open), topic(b >> 3)) {
                    let conn = open.get(i).map_or(ConnId(0), |o| o.conn);
                    let mut publish = Publish {
                        dup: false,
                        delivery: mqtt_proto::Delivery::new(qos(b), PacketId::MIN),
                        retain: b & 4 != 0,
                        topic,
                        properties: Default::default(),
                        payload: if b & 0x80 != 0 {
                            Bytes::new()
                        } else {
                            Bytes::from_static(b"p")
                        },
                    };
                    publish.properties.message_expiry_interval = (a & 0x80 != 0).then_some(3);
                    let outcome = broker.handle_publish(conn, publish, now);
                    if let crate::PublishOutcome::Disconnect(_) = outcome {
                        disconnect(&mut broker, &mut open, i, DisconnectKind::ServerClose, now);
                    }
                }
            }
            2 => {
                if let (Some(i), Some(filter)) = (pick(&open), filter(a >> 2)) {
                    let conn = open.get(i).map_or(ConnId(0), |o| o.conn);
                    let options = SubscriptionOptions {
                        qos: qos(b),
                        no_local: b & 0x04 != 0,
                        retain_as_published: b & 0x08 != 0,
                        retain_handling: match (b >> 4) % 3 {
                            0 => RetainHandling::SendAtSubscribe,
                            1 => RetainHandling::SendIfNew,
                            _ => RetainHandling::DoNotSend,
                        },
                    };
                    let subscribe = Subscribe {
                        packet_id: PacketId::MIN,
                        properties: SubscribeProperties {
                            subscription_identifier: (b & 0x40 != 0).then_some(u32::from(a) + 1),
                            ..Default::default()
                        },
                        filters: vec![(filter, options)],
                    };
                    if let crate::SubscribeOutcome::Disconnect(_) =
                        broker.handle_subscribe(conn, subscribe, now)
                    {
                        disconnect(&mut broker, &mut open, i, DisconnectKind::ServerClose, now);
                    }
                }
            }
            3 => {
                if let (Some(i), Some(filter)) = (pick(&open), filter(b)) {
                    let conn = open.get(i).map_or(ConnId(0), |o| o.conn);
                    let unsubscribe = Unsubscribe {
                        packet_id: PacketId::MIN,
                        properties: Default::default(),
                        filters: vec![filter],
                    };
                    broker.handle_unsubscribe(conn, unsubscribe, now);
                }
            }
            4 => {
                if let Some(i) = pick(&open) {
                    let kind = match b % 6 {
                        0 => DisconnectKind::Graceful,
                        1 => DisconnectKind::GracefulWithWill,
                        2 => DisconnectKind::Lost,
                        3 => DisconnectKind::KeepAliveTimeout,
                        4 => DisconnectKind::ServerClose,
                        _ => DisconnectKind::ServerCloseWithoutWill,
                    };
                    disconnect(&mut broker, &mut open, i, kind, now);
                }
            }
            5 => {
                now += Duration::from_secs(u64::from(a % 16));
                broker.handle_tick(now);
            }
            6 => {
                if let Some(i) = pick(&open) {
                    // The client acknowledges its oldest outstanding delivery.
                    if let Some(o) = open.get_mut(i)
                        && !o.unacked.is_empty()
                    {
                        o.unacked.remove(0);
                    }
                }
            }
            _ => {
                if let Some(topic) = topic(a) {
                    let message = Message::new(topic, Bytes::from_static(b"s"), qos(b), b & 4 != 0);
                    broker.handle_server_publish(message, now);
                }
            }
        }

        // Carry out the effects and check them. Connections the broker closes (takeover) end
        // like real tasks do: they hand back their unacknowledged deliveries.
        let mut closing: Vec<Open> = Vec::new();
        loop {
            let effects: Vec<Effect> = broker.drain_effects().collect();
            if effects.is_empty() && closing.is_empty() {
                break;
            }
            for effect in effects {
                match &effect {
                    Effect::Deliver { conn, delivery } => {
                        if delivery.message.topic.starts_with(CLAIMED_ALONE) {
                            let topic = delivery.message.topic.to_string();
                            return Err(InvariantViolation::ClaimedDelivered { step, topic });
                        }
                        if delivery.qos > delivery.message.qos || delivery.qos > max_qos {
                            let delivered = delivery.qos as u8;
                            return Err(InvariantViolation::QosTooHigh { step, delivered });
                        }
                        let Some(o) = open.iter_mut().find(|o| o.conn == *conn) else {
                            return Err(InvariantViolation::DeliveryToDetached {
                                step,
                                conn: conn.0,
                            });
                        };
                        if delivery.qos != QoS::AtMostOnce {
                            o.unacked.push(delivery.clone());
                        }
                    }
                    Effect::Close { conn, .. } => {
                        if let Some(i) = open.iter().position(|o| o.conn == *conn) {
                            closing.push(open.remove(i));
                        }
                    }
                    Effect::Persist(_)
                    | Effect::Denied { .. }
                    | Effect::Limited { .. }
                    | Effect::ToService { .. } => {}
                }
                all.push(effect);
            }
            for o in closing.drain(..) {
                broker.handle_disconnect(o.conn, DisconnectKind::ServerClose, None, o.unacked, now);
            }
        }

        for o in &open {
            if broker.client_id(o.conn).is_none() {
                return Err(InvariantViolation::DeliveryToDetached {
                    step,
                    conn: o.conn.0,
                });
            }
        }
        let reported = broker.stats().connections;
        if reported != open.len() {
            return Err(InvariantViolation::ConnectionCount {
                step,
                reported,
                expected: open.len(),
            });
        }
    }
    summary.effects = all.len();
    Ok((all, summary))
}

/// Ends open connection `i` with `kind`, handing back its unacknowledged deliveries.
fn disconnect(
    broker: &mut Broker,
    open: &mut Vec<Open>,
    i: usize,
    kind: DisconnectKind,
    now: Instant,
) {
    if i < open.len() {
        let o = open.remove(i);
        broker.handle_disconnect(o.conn, kind, None, o.unacked, now);
    }
}

fn qos(bits: u8) -> QoS {
    QoS::from_u8(bits % 3).unwrap_or_default()
}

fn topic(index: u8) -> Option<TopicName> {
    let text = TOPICS.get(usize::from(index) % TOPICS.len())?;
    TopicName::new(text).ok()
}

fn filter(index: u8) -> Option<TopicFilter> {
    let text = FILTERS.get(usize::from(index) % FILTERS.len())?;
    TopicFilter::new(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_entries_are_valid() {
        for t in TOPICS {
            assert!(TopicName::new(t).is_ok(), "{t}");
        }
        for f in FILTERS {
            assert!(TopicFilter::new(f).is_ok(), "{f}");
        }
    }

    #[test]
    fn scripts_run_under_both_profiles() {
        // connect c0 (v5, persistent), subscribe a/#, connect c1, publish a/b QoS 1, lose c0,
        // publish again, advance, reconnect c0.
        let script = [
            1u8, 0, 0x10, 0x04, 2, 0, 0x09, 0, 0x01, 0x00, 1, 1, 0x09, 4, 0, 2, 1, 1, 0x09, 5, 3,
            0, 0, 0x10, 0x04,
        ];
        let summary = broker_sequence(&script).unwrap();
        assert!(summary.effects > 0);
        let mut aws = script;
        aws[0] = 0;
        broker_sequence(&aws).unwrap();
        broker_sequence(&[]).unwrap();
    }
}
