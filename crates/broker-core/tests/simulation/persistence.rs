//! Persist effects: which state changes are reported, and that applying them to a store and
//! restoring from it rebuilds the persistent state (a broker restart).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::*;
use broker_core::{Message, StoredSession};

/// A store that applies `PersistOp`s the way `store` will, in memory.
#[derive(Debug, Default)]
struct MemStore {
    sessions: BTreeMap<String, (u32, Protocol)>,
    subscriptions: BTreeMap<(String, String), (TopicFilter, SubscriptionOptions, Option<u32>)>,
    queued: BTreeMap<(String, u64), Delivery>,
    retained: BTreeMap<String, Arc<Message>>,
}

impl MemStore {
    fn apply(&mut self, effects: &[Effect]) {
        for op in persist_ops(effects) {
            match op {
                PersistOp::SessionUpserted {
                    client_id,
                    expiry_interval,
                    protocol,
                } => {
                    self.sessions
                        .insert(client_id.to_string(), (expiry_interval, protocol));
                }
                PersistOp::SessionDeleted { client_id } => {
                    let id = client_id.to_string();
                    self.sessions.remove(&id);
                    self.subscriptions.retain(|(c, _), _| *c != id);
                    self.queued.retain(|(c, _), _| *c != id);
                }
                PersistOp::SubscriptionAdded {
                    client_id,
                    filter,
                    options,
                    subscription_id,
                } => {
                    self.subscriptions.insert(
                        (client_id.to_string(), filter.to_string()),
                        (filter, options, subscription_id),
                    );
                }
                PersistOp::SubscriptionRemoved { client_id, filter } => {
                    self.subscriptions
                        .remove(&(client_id.to_string(), filter.to_string()));
                }
                PersistOp::RetainedSet(message) => {
                    self.retained.insert(message.topic.to_string(), message);
                }
                PersistOp::RetainedCleared { topic } => {
                    self.retained.remove(topic.as_str());
                }
                PersistOp::MessageQueued {
                    client_id,
                    seq,
                    delivery,
                } => {
                    self.queued.insert((client_id.to_string(), seq), delivery);
                }
                PersistOp::MessageDequeued { client_id, seq } => {
                    self.queued.remove(&(client_id.to_string(), seq));
                }
                PersistOp::QueueCleared { client_id } => {
                    let id = client_id.to_string();
                    self.queued.retain(|(c, _), _| *c != id);
                }
            }
        }
    }

    fn restore(&self, sim: &mut Sim) {
        for (id, (expiry, protocol)) in &self.sessions {
            let subscriptions = self
                .subscriptions
                .iter()
                .filter(|((c, _), _)| c == id)
                .map(|(_, v)| v.clone())
                .collect();
            let queued = self
                .queued
                .iter()
                .filter(|((c, _), _)| c == id)
                .map(|(_, d)| d.clone())
                .collect();
            let stored = StoredSession {
                client_id: MqttStr::new(id).unwrap(),
                expiry_interval: *expiry,
                protocol: *protocol,
                principal: (),
                subscriptions,
                queued,
            };
            sim.broker.restore_session(stored, sim.now);
        }
        for message in self.retained.values() {
            sim.broker.restore_retained(Arc::clone(message), sim.now);
        }
    }
}

#[test]
fn persistent_sessions_report_their_changes_in_order() {
    let mut sim = Sim::mqtt();
    let (s, _) = sim.connect_v5("dev", true, 600);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    sim.disconnect(s, DisconnectKind::Graceful);
    let (p, _) = sim.connect("p", Protocol::V311, true);
    sim.publish(p, "t", b"m", QoS::AtLeastOnce, false);
    sim.connect_v5("dev", false, 600);
    let kinds: Vec<&str> = persist_ops(&sim.effects())
        .iter()
        .map(|op| match op {
            PersistOp::SessionUpserted { .. } => "upsert",
            PersistOp::SubscriptionAdded { .. } => "sub",
            PersistOp::MessageQueued { .. } => "queued",
            PersistOp::QueueCleared { .. } => "cleared",
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(kinds, vec!["upsert", "sub", "queued", "upsert", "cleared"]);
}

#[test]
fn applying_persist_ops_and_restoring_rebuilds_the_broker() {
    let mut store = MemStore::default();
    let mut first = Sim::mqtt();
    let (s, _) = first.connect_v5("dev", true, 3600);
    first.subscribe(s, &[("cmd/#", QoS::AtLeastOnce)]);
    first.unsubscribe(s, &["never"]);
    first.subscribe(s, &[("gone", QoS::AtLeastOnce)]);
    first.unsubscribe(s, &["gone"]);
    first.disconnect(s, DisconnectKind::Graceful);
    let (p, _) = first.connect("p", Protocol::V311, true);
    first.publish(p, "cmd/reboot", b"now", QoS::AtLeastOnce, false);
    first.publish(p, "status", b"up", QoS::AtMostOnce, true);
    first.publish(p, "cleared", b"x", QoS::AtMostOnce, true);
    first.publish(p, "cleared", b"", QoS::AtMostOnce, true);
    let (t, _) = first.connect("temp", Protocol::V311, true);
    first.subscribe(t, &[("cmd/#", QoS::AtLeastOnce)]);
    store.apply(&first.effects());
    assert_eq!(store.sessions.len(), 1, "clean sessions are not stored");
    assert_eq!(store.subscriptions.len(), 1);
    assert_eq!(store.retained.len(), 1);

    // Restart.
    let mut second = Sim::mqtt();
    store.restore(&mut second);
    assert_eq!(second.effects(), Vec::new(), "restoring persists nothing");
    let (dev, connected) = second.connect_v5("dev", false, 3600);
    assert!(connected.session_present);
    let got = second.deliveries();
    assert_eq!(topics_for(&got, dev), vec!["cmd/reboot"]);
    let (p, _) = second.connect("p", Protocol::V311, true);
    second.publish(p, "cmd/x", b"", QoS::AtLeastOnce, false);
    assert_eq!(topics_for(&second.deliveries(), dev), vec!["cmd/x"]);
    let (s, _) = second.connect("s", Protocol::V311, true);
    second.subscribe(s, &[("#", QoS::AtMostOnce)]);
    assert_eq!(topics_for(&second.deliveries(), s), vec!["status"]);
}

#[test]
fn restored_sessions_expire_from_the_restore_time() {
    let mut sim = Sim::mqtt();
    let stored = StoredSession {
        client_id: MqttStr::new("dev").unwrap(),
        expiry_interval: 50,
        protocol: Protocol::V5,
        principal: (),
        subscriptions: vec![(
            TopicFilter::new("t").unwrap(),
            SubscriptionOptions::with_qos(QoS::AtLeastOnce),
            None,
        )],
        queued: Vec::new(),
    };
    sim.broker.restore_session(stored, sim.now);
    assert_eq!(sim.broker.stats().subscriptions, 1);
    sim.advance(50);
    assert_eq!(sim.broker.session_state("dev"), None);
    assert_eq!(sim.broker.stats().subscriptions, 0);
}
