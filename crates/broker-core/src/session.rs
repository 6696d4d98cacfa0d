//! One session's state as the broker keeps it: owner connection, expiry, subscriptions, the
//! pending will, and the bounded offline queue. Lifecycle decisions (takeover, resume, expiry)
//! are made by the broker in `broker.rs`; this file only keeps the data consistent and reports
//! queue changes as effects.

use std::collections::{BTreeMap, VecDeque};

use mqtt_proto::time::Instant;
use mqtt_proto::{MqttStr, Protocol, QoS, TopicFilter};

use crate::effect::{ConnId, Effect, PersistOp};
use crate::index::SubEntry;
use crate::message::{Delivery, Message};

/// A will waiting for its connection to end (or, once triggered, for its delay to pass).
#[derive(Debug, Clone)]
pub(crate) struct PendingWill {
    /// The will as a message; its expiry deadline is set when it is published.
    pub(crate) message: Message,
    /// MQTT 5 Will Delay Interval in seconds.
    pub(crate) delay: u32,
}

/// A queued delivery with its position.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub(crate) seq: u64,
    pub(crate) delivery: Delivery,
}

#[derive(Debug)]
pub(crate) struct Session<P> {
    pub(crate) client_id: MqttStr,
    /// The connection that owns the session now, if any.
    pub(crate) conn: Option<ConnId>,
    pub(crate) protocol: Protocol,
    pub(crate) principal: P,
    /// Seconds the session outlives its connection; 0 = not persistent, `u32::MAX` = forever.
    pub(crate) expiry_interval: u32,
    pub(crate) subscriptions: BTreeMap<TopicFilter, SubEntry>,
    pub(crate) queue: VecDeque<Queued>,
    pub(crate) next_seq: u64,
    /// The current (or last) connection's will.
    pub(crate) will: Option<PendingWill>,
    /// When a triggered, delayed will is due.
    pub(crate) will_at: Option<Instant>,
    /// When the offline session ends.
    pub(crate) expires_at: Option<Instant>,
    /// Earliest expiry among queued messages.
    pub(crate) queue_check_at: Option<Instant>,
}

/// What happened to the queue when a delivery was offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// Queued.
    Queued,
    /// Queued after dropping the oldest message.
    QueuedDroppingOldest,
    /// Not queued (QoS 0, or already expired).
    Skipped,
}

impl<P> Session<P> {
    pub(crate) fn new(client_id: MqttStr, protocol: Protocol, principal: P) -> Self {
        Session {
            client_id,
            conn: None,
            protocol,
            principal,
            expiry_interval: 0,
            subscriptions: BTreeMap::new(),
            queue: VecDeque::new(),
            next_seq: 0,
            will: None,
            will_at: None,
            expires_at: None,
            queue_check_at: None,
        }
    }

    /// A persistent session: it outlives its connection and its changes are persisted.
    pub(crate) fn durable(&self) -> bool {
        self.expiry_interval > 0
    }

    /// Queues `delivery` for this offline session, dropping the oldest entry when `max` is
    /// reached. Only QoS > 0 is queued (AWS and the MQTT spec's usual choice: QoS 0 is not
    /// stored for offline clients).
    pub(crate) fn enqueue(
        &mut self,
        delivery: Delivery,
        max: usize,
        now: Instant,
        effects: &mut VecDeque<Effect>,
    ) -> Enqueued {
        if delivery.qos == QoS::AtMostOnce || delivery.message.is_expired(now) {
            return Enqueued::Skipped;
        }
        let mut outcome = Enqueued::Queued;
        while self.queue.len() >= max {
            let Some(oldest) = self.queue.pop_front() else {
                break;
            };
            effects.push_back(Effect::Persist(PersistOp::MessageDequeued {
                client_id: self.client_id.clone(),
                seq: oldest.seq,
            }));
            outcome = Enqueued::QueuedDroppingOldest;
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        if let Some(at) = delivery.message.expires_at {
            self.queue_check_at = Some(self.queue_check_at.map_or(at, |c| c.min(at)));
        }
        effects.push_back(Effect::Persist(PersistOp::MessageQueued {
            client_id: self.client_id.clone(),
            seq,
            delivery: delivery.clone(),
        }));
        self.queue.push_back(Queued { seq, delivery });
        outcome
    }

    /// Removes expired queued messages, reporting each; returns how many and recomputes the
    /// next check.
    pub(crate) fn purge_expired(&mut self, now: Instant, effects: &mut VecDeque<Effect>) -> u64 {
        let mut purged = 0;
        let client_id = &self.client_id;
        self.queue.retain(|q| {
            if q.delivery.message.is_expired(now) {
                effects.push_back(Effect::Persist(PersistOp::MessageDequeued {
                    client_id: client_id.clone(),
                    seq: q.seq,
                }));
                purged += 1;
                false
            } else {
                true
            }
        });
        self.queue_check_at = self
            .queue
            .iter()
            .filter_map(|q| q.delivery.message.expires_at)
            .min();
        purged
    }
}
