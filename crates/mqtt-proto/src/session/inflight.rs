//! QoS 1 and QoS 2 bookkeeping shared by the client and server sessions (§4.3, §4.4, §4.9):
//! [`Outgoing`] holds the publications this side sends (queued, awaiting PUBACK/PUBREC, awaiting
//! PUBCOMP) with their packet ids, the send window and resend order; [`Incoming`] holds the
//! packet ids of received publications until their flow ends. Neither builds or sends packets;
//! the session types decide what to do with the outcomes.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use crate::packet::Publish;
use crate::reason::ReasonCode;
use crate::session::packet_id::IdRing;
use crate::time::Instant;
use crate::types::{Delivery, PacketId, QoS};

/// Where one outgoing QoS 1/2 publication is in its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Waiting to be sent on this connection (new, or to be resent with DUP).
    Queued,
    /// Sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    AwaitAck,
    /// PUBREL sent; waiting for PUBCOMP.
    AwaitComp,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Send order: assigned when queued, and again when the flow moves to PUBREL, so that sorting
    /// by it gives the order of [MQTT-4.6.0-1] (PUBLISH) and [MQTT-4.6.0-4] (PUBREL).
    seq: u64,
    stage: Stage,
    qos: QoS,
    /// The publication with its full topic; dropped once PUBREC arrives. Kept in place: the
    /// ring never moves an entry once it is in, and reuses its buffer from message to message.
    publish: Option<Publish>,
    /// Whether it went out on some connection already (so a resend carries DUP).
    sent_before: bool,
    /// When its Message Expiry Interval ends (server side only): it is sent with what is left
    /// of the interval, and dropped unsent once this has passed ([MQTT-3.3.2-5]).
    expires_at: Option<Instant>,
}

/// What an acknowledgement of an outgoing publication means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckOutcome {
    /// The flow ended: PUBACK, PUBCOMP, or PUBREC with a failure code.
    Completed {
        /// QoS of the publication.
        qos: QoS,
    },
    /// PUBREC accepted: send PUBREL.
    SendPubRel,
    /// No flow holds this id.
    Unknown,
    /// A flow holds the id but does not expect this acknowledgement.
    Mismatch,
}

/// Outgoing QoS 1/2 publications of one side of a session, with its packet ids.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outgoing {
    /// Every id this side holds: the flows, and ids its owner holds bare for
    /// SUBSCRIBE/UNSUBSCRIBE ([`Outgoing::hold_id`]).
    entries: IdRing<Entry>,
    /// Ids of `Queued` entries in send order.
    queue: VecDeque<PacketId>,
    /// Publications dropped unsent because their expiry passed, not yet reported.
    expired: Vec<(PacketId, QoS)>,
    /// Entries in `AwaitAck` or `AwaitComp`: what the peer's Receive Maximum limits.
    inflight: usize,
    next_seq: u64,
}

impl Outgoing {
    /// Queues a QoS 1/2 publication under a fresh packet id. `None` when all ids are in use.
    pub(crate) fn push(&mut self, publish: Publish, qos: QoS) -> Option<PacketId> {
        self.push_expiring(publish, qos, None)
    }

    /// [`Outgoing::push`] for a publication whose Message Expiry Interval ends at `expires_at`.
    pub(crate) fn push_expiring(
        &mut self,
        mut publish: Publish,
        qos: QoS,
        expires_at: Option<Instant>,
    ) -> Option<PacketId> {
        let qos = if qos == QoS::AtMostOnce {
            QoS::AtLeastOnce
        } else {
            qos
        };
        publish.dup = false;
        let seq = self.bump_seq();
        let id = self.entries.insert(Entry {
            seq,
            stage: Stage::Queued,
            qos,
            publish: None,
            sent_before: false,
            expires_at,
        })?;
        publish.delivery = Delivery::new(qos, id);
        if let Some(entry) = self.entries.get_mut(id) {
            entry.publish = Some(publish);
        }
        self.queue.push_back(id);
        Some(id)
    }

    /// Takes the next queued publication if fewer than `limit` are in flight, marks it sent and
    /// returns it to be encoded (with DUP set when it is a resend). A publication with an
    /// expiry carries what is left of its interval at `now` ([`seconds_left`], [MQTT-3.3.2-6]); one whose expiry passed before it was ever sent is dropped instead
    /// ([MQTT-3.3.2-5]) and reported by [`Outgoing::take_expired`]. A resend keeps going
    /// whatever its expiry: its delivery has started.
    pub(crate) fn next_sendable(&mut self, limit: usize, now: Instant) -> Option<&Publish> {
        let id = loop {
            if self.inflight >= limit {
                return None;
            }
            let id = self.queue.pop_front()?;
            let Some(entry) = self.entries.get(id) else {
                continue;
            };
            if entry.stage != Stage::Queued || entry.publish.is_none() {
                continue;
            }
            if !entry.sent_before && entry.expires_at.is_some_and(|at| now >= at) {
                // Already off the queue: remove the entry and free its id directly.
                let qos = entry.qos;
                self.entries.discard(id);
                self.expired.push((id, qos));
                continue;
            }
            break id;
        };
        let entry = self.entries.get_mut(id)?;
        let expires_at = entry.expires_at;
        let publish = entry.publish.as_mut()?;
        if let Some(at) = expires_at {
            publish.properties.message_expiry_interval = Some(seconds_left(at, now));
        }
        publish.dup = entry.sent_before;
        entry.sent_before = true;
        entry.stage = Stage::AwaitAck;
        self.inflight = self.inflight.saturating_add(1);
        Some(publish)
    }

    /// Drops the flow of `id` whatever its stage and frees the id. False if unknown.
    pub(crate) fn abandon(&mut self, id: PacketId) -> bool {
        let Some(entry) = self.entries.get(id) else {
            return false;
        };
        match entry.stage {
            Stage::Queued => self.queue.retain(|queued| *queued != id),
            Stage::AwaitAck | Stage::AwaitComp => {
                self.inflight = self.inflight.saturating_sub(1);
            }
        }
        self.entries.discard(id)
    }

    /// Removes the flow of `id` from the ring, the send queue and the window.
    fn remove(&mut self, id: PacketId) -> Option<Entry> {
        let entry = self.entries.remove(id)?;
        match entry.stage {
            Stage::Queued => self.queue.retain(|queued| *queued != id),
            Stage::AwaitAck | Stage::AwaitComp => {
                self.inflight = self.inflight.saturating_sub(1);
            }
        }
        Some(entry)
    }

    /// Holds a fresh packet id for the owner's own use (SUBSCRIBE, UNSUBSCRIBE) until
    /// [`Outgoing::release_id`]. `None` when all ids are in use.
    pub(crate) fn hold_id(&mut self) -> Option<PacketId> {
        self.entries.hold()
    }

    /// Frees an id taken with [`Outgoing::hold_id`].
    pub(crate) fn release_id(&mut self, id: PacketId) {
        self.entries.release(id);
    }

    /// PUBACK received.
    pub(crate) fn on_puback(&mut self, id: PacketId) -> AckOutcome {
        match self.entries.get(id) {
            // Not sent on this connection (yet): nothing to acknowledge.
            None => AckOutcome::Unknown,
            Some(entry) if entry.stage == Stage::Queued => AckOutcome::Unknown,
            Some(entry) if entry.qos != QoS::AtLeastOnce => AckOutcome::Mismatch,
            Some(_) => {
                self.abandon(id);
                AckOutcome::Completed {
                    qos: QoS::AtLeastOnce,
                }
            }
        }
    }

    /// PUBREC received with `reason`.
    pub(crate) fn on_pubrec(&mut self, id: PacketId, reason: ReasonCode) -> AckOutcome {
        let next_seq = self.next_seq;
        let Some(entry) = self.entries.get_mut(id) else {
            return AckOutcome::Unknown;
        };
        match (entry.stage, entry.qos) {
            // Not sent on this connection (yet): a PUBREC cannot answer it.
            (Stage::Queued, _) => AckOutcome::Unknown,
            (_, QoS::AtMostOnce | QoS::AtLeastOnce) => AckOutcome::Mismatch,
            // A repeated PUBREC: answer it with PUBREL again.
            (Stage::AwaitComp, QoS::ExactlyOnce) => AckOutcome::SendPubRel,
            (Stage::AwaitAck, QoS::ExactlyOnce) if reason.is_error() => {
                self.abandon(id);
                AckOutcome::Completed {
                    qos: QoS::ExactlyOnce,
                }
            }
            (Stage::AwaitAck, QoS::ExactlyOnce) => {
                entry.stage = Stage::AwaitComp;
                entry.publish = None;
                entry.seq = next_seq;
                self.next_seq = next_seq.wrapping_add(1);
                AckOutcome::SendPubRel
            }
        }
    }

    /// PUBCOMP received.
    pub(crate) fn on_pubcomp(&mut self, id: PacketId) -> AckOutcome {
        match self.entries.get(id) {
            None => AckOutcome::Unknown,
            Some(entry) if entry.stage != Stage::AwaitComp => AckOutcome::Mismatch,
            Some(_) => {
                self.abandon(id);
                AckOutcome::Completed {
                    qos: QoS::ExactlyOnce,
                }
            }
        }
    }

    /// The connection ended: publications awaiting PUBACK/PUBREC go back to the queue, to be
    /// resent with DUP in their original order; PUBREL flows stay as they are.
    pub(crate) fn pause(&mut self) {
        for (_, entry) in self.entries.iter_mut() {
            if entry.stage == Stage::AwaitAck {
                entry.stage = Stage::Queued;
                self.inflight = self.inflight.saturating_sub(1);
            }
        }
        let mut queued: Vec<(u64, PacketId)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.stage == Stage::Queued)
            .map(|(id, e)| (e.seq, id))
            .collect();
        queued.sort_unstable();
        self.queue = queued.into_iter().map(|(_, id)| id).collect();
    }

    /// Packet ids awaiting PUBCOMP, in the order their PUBRECs arrived: the PUBRELs to resend
    /// when a session resumes ([MQTT-4.4.0-1]).
    pub(crate) fn releases(&self) -> Vec<PacketId> {
        let mut out: Vec<(u64, PacketId)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.stage == Stage::AwaitComp)
            .map(|(id, e)| (e.seq, id))
            .collect();
        out.sort_unstable();
        out.into_iter().map(|(_, id)| id).collect()
    }

    /// The peer lost the session. Flows that reached it (sent at least once) cannot go on:
    /// they are removed and returned in send order with their stage. Messages never sent stay
    /// queued: they are simply new messages for the new session.
    pub(crate) fn forget_started(&mut self) -> Vec<(PacketId, Stage)> {
        let mut started: Vec<(u64, PacketId, Stage)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.sent_before || e.stage != Stage::Queued)
            .map(|(id, e)| (e.seq, id, e.stage))
            .collect();
        started.sort_unstable_by_key(|(seq, ..)| *seq);
        for (_, id, _) in &started {
            self.abandon(*id);
        }
        started
            .into_iter()
            .map(|(_, id, stage)| (id, stage))
            .collect()
    }

    /// The peer lost the session; publish the started flows again as new messages instead.
    /// Messages awaiting PUBACK/PUBREC keep their id and place in the queue but go out without
    /// DUP; flows past PUBREC are finished (the peer took ownership at PUBREC) and their ids
    /// returned.
    pub(crate) fn restart_started(&mut self) -> Vec<PacketId> {
        let mut finished: Vec<(u64, PacketId)> = Vec::new();
        for (id, entry) in self.entries.iter_mut() {
            match entry.stage {
                Stage::AwaitComp => finished.push((entry.seq, id)),
                Stage::Queued | Stage::AwaitAck => entry.sent_before = false,
            }
        }
        finished.sort_unstable();
        for (_, id) in &finished {
            self.abandon(*id);
        }
        finished.into_iter().map(|(_, id)| id).collect()
    }

    /// Removes and returns the publications the peer has not taken ownership of (queued, or
    /// sent and awaiting PUBACK/PUBREC), in send order, with the id each held and whether it
    /// was sent before. Flows past PUBREC stay: the peer owns those messages.
    pub(crate) fn take_unowned(&mut self) -> Vec<(PacketId, bool, Publish)> {
        let mut taken: Vec<(u64, PacketId)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.stage != Stage::AwaitComp && e.publish.is_some())
            .map(|(id, e)| (e.seq, id))
            .collect();
        taken.sort_unstable();
        let mut out = Vec::with_capacity(taken.len());
        for (_, id) in taken {
            let Some(entry) = self.remove(id) else {
                continue;
            };
            let sent_before = entry.sent_before || entry.stage == Stage::AwaitAck;
            if let Some(publish) = entry.publish {
                out.push((id, sent_before, publish));
            }
        }
        out
    }

    /// The publications dropped unsent because their expiry passed, since the last call.
    pub(crate) fn take_expired(&mut self) -> Vec<(PacketId, QoS)> {
        core::mem::take(&mut self.expired)
    }

    /// Publications sent and not yet completed (what Receive Maximum limits).
    pub(crate) fn inflight(&self) -> usize {
        self.inflight
    }

    /// Publications waiting to be sent.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// All QoS 1/2 flows held, in any stage.
    pub(crate) fn len(&self) -> usize {
        self.entries.values()
    }

    fn bump_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        seq
    }
}

/// Where a received QoS 1/2 publication is in its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InState {
    /// Handed to the application; its PUBACK/PUBREC waits for [`Incoming::ack`]. `here` is
    /// false once the connection it arrived on ended: an acknowledgement on a new connection
    /// waits until the sender resends the PUBLISH.
    Unacked { qos: QoS, here: bool },
    /// PUBREC sent; waiting for PUBREL.
    AwaitRel,
}

/// What a received PUBLISH is, given the flows already open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// A new publication; now tracked as unacknowledged.
    New,
    /// The id is already in a flow: do not deliver again. `resend_pubrec` when the PUBREC was
    /// already sent (so it is sent again).
    Duplicate {
        /// Answer with PUBREC again.
        resend_pubrec: bool,
    },
}

/// What a PUBREL means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Release {
    /// The flow ended; answer PUBCOMP.
    Complete,
    /// No flow for this id; answer PUBCOMP with Packet Identifier not found.
    NotFound,
    /// The flow exists but PUBREC was never sent.
    NotAcknowledged,
}

/// Received QoS 1/2 publications whose flow is open.
#[derive(Debug, Clone, Default)]
pub(crate) struct Incoming {
    pending: BTreeMap<PacketId, InState>,
}

impl Incoming {
    /// Records a received PUBLISH with QoS > 0.
    pub(crate) fn on_publish(&mut self, id: PacketId, qos: QoS) -> Arrival {
        match self.pending.get_mut(&id) {
            Some(InState::AwaitRel) if qos == QoS::ExactlyOnce => Arrival::Duplicate {
                resend_pubrec: true,
            },
            Some(InState::Unacked { here, .. }) => {
                // The acknowledgement, when it comes, answers this PUBLISH.
                *here = true;
                Arrival::Duplicate {
                    resend_pubrec: false,
                }
            }
            // A QoS 1 PUBLISH reusing the id of a QoS 2 flow waiting for PUBREL: the sender
            // finished that flow from its side; treat the id as a new message.
            Some(InState::AwaitRel) | None => {
                self.pending
                    .insert(id, InState::Unacked { qos, here: true });
                Arrival::New
            }
        }
    }

    /// The application acknowledges `id`. Returns the QoS whose acknowledgement (PUBACK or
    /// PUBREC) is due and whether to send it now (false when the PUBLISH arrived on an earlier
    /// connection and was not resent yet: its resend is answered instead), or `None` if no
    /// unacknowledged publication has this id.
    pub(crate) fn ack(&mut self, id: PacketId, reason: ReasonCode) -> Option<(QoS, bool)> {
        let Some(InState::Unacked { qos, here }) = self.pending.get(&id).copied() else {
            return None;
        };
        if qos == QoS::ExactlyOnce && !reason.is_error() {
            self.pending.insert(id, InState::AwaitRel);
        } else {
            self.pending.remove(&id);
        }
        Some((qos, here))
    }

    /// PUBREL received.
    pub(crate) fn on_pubrel(&mut self, id: PacketId) -> Release {
        match self.pending.get(&id) {
            None => Release::NotFound,
            Some(InState::Unacked { qos, .. }) if *qos != QoS::ExactlyOnce => Release::NotFound,
            Some(InState::Unacked { .. }) => Release::NotAcknowledged,
            Some(InState::AwaitRel) => {
                self.pending.remove(&id);
                Release::Complete
            }
        }
    }

    /// The connection ended. Unacknowledged QoS 1 publications are forgotten (the sender
    /// resends them and they are delivered again, as at-least-once allows); QoS 2 ids stay, so a
    /// resent PUBLISH is not delivered twice.
    pub(crate) fn pause(&mut self) {
        self.pending.retain(|_, state| match state {
            InState::Unacked {
                qos: QoS::AtLeastOnce | QoS::AtMostOnce,
                ..
            } => false,
            InState::Unacked { here, .. } => {
                *here = false;
                true
            }
            InState::AwaitRel => true,
        });
    }

    /// Forgets everything (the session ended).
    pub(crate) fn clear(&mut self) {
        self.pending.clear();
    }

    /// Open flows: what this side's Receive Maximum limits.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether any flow holds `id`.
    pub(crate) fn contains(&self, id: PacketId) -> bool {
        self.pending.contains_key(&id)
    }
}

/// What is left of a Message Expiry Interval ending at `at`, as sent at `now` ([MQTT-3.3.2-6]):
/// whole seconds rounded down, but at least 1, since a message not yet expired is still worth
/// delivering and an interval of 0 would read as already over (a message forwarded at once
/// with an interval of 1 s leaves with 1, as it came).
pub(crate) fn seconds_left(at: Instant, now: Instant) -> u32 {
    let left = at.saturating_duration_since(now).as_secs().max(1);
    u32::try_from(left).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic::TopicName;
    use bytes::Bytes;

    fn publish(topic: &str) -> Publish {
        Publish {
            dup: false,
            delivery: Delivery::AtMostOnce,
            retain: false,
            topic: TopicName::new(topic).unwrap(),
            properties: Default::default(),
            payload: Bytes::from_static(b"x"),
        }
    }

    #[test]
    fn window_limits_what_is_in_flight_and_acks_open_it() {
        let mut out = Outgoing::default();
        let a = out.push(publish("a"), QoS::AtLeastOnce).unwrap();
        let b = out.push(publish("b"), QoS::ExactlyOnce).unwrap();
        assert_eq!(
            out.next_sendable(1, Instant::ZERO).unwrap().topic.as_str(),
            "a"
        );
        assert!(out.next_sendable(1, Instant::ZERO).is_none());
        assert_eq!(out.on_puback(b), AckOutcome::Unknown, "b was never sent");
        assert_eq!(
            out.on_puback(a),
            AckOutcome::Completed {
                qos: QoS::AtLeastOnce
            }
        );
        let sent = out.next_sendable(1, Instant::ZERO).cloned().unwrap();
        assert_eq!(sent.delivery, Delivery::ExactlyOnce(b));
        assert_eq!(out.on_puback(b), AckOutcome::Mismatch);
        assert_eq!(
            out.on_pubrec(b, ReasonCode::Success),
            AckOutcome::SendPubRel
        );
        assert_eq!(
            out.on_pubrec(b, ReasonCode::Success),
            AckOutcome::SendPubRel
        );
        assert_eq!(out.inflight(), 1);
        assert_eq!(
            out.on_pubcomp(b),
            AckOutcome::Completed {
                qos: QoS::ExactlyOnce
            }
        );
        assert_eq!(out.len(), 0);
        assert_eq!(out.entries.len(), 0);
    }

    #[test]
    fn pause_requeues_unacknowledged_publishes_in_order_with_dup() {
        let mut out = Outgoing::default();
        let a = out.push(publish("a"), QoS::AtLeastOnce).unwrap();
        let b = out.push(publish("b"), QoS::ExactlyOnce).unwrap();
        let c = out.push(publish("c"), QoS::ExactlyOnce).unwrap();
        for _ in 0..3 {
            out.next_sendable(10, Instant::ZERO).unwrap();
        }
        assert_eq!(
            out.on_pubrec(c, ReasonCode::Success),
            AckOutcome::SendPubRel
        );
        out.pause();
        assert_eq!(out.inflight(), 1);
        assert_eq!(out.releases(), alloc::vec![c]);
        let first = out.next_sendable(10, Instant::ZERO).cloned().unwrap();
        let second = out.next_sendable(10, Instant::ZERO).cloned().unwrap();
        assert_eq!((first.delivery.packet_id(), first.dup), (Some(a), true));
        assert_eq!((second.delivery.packet_id(), second.dup), (Some(b), true));
    }

    #[test]
    fn pubrec_with_failure_ends_the_flow() {
        let mut out = Outgoing::default();
        let a = out.push(publish("a"), QoS::ExactlyOnce).unwrap();
        out.next_sendable(5, Instant::ZERO).unwrap();
        let outcome = out.on_pubrec(a, ReasonCode::QuotaExceeded);
        assert_eq!(
            outcome,
            AckOutcome::Completed {
                qos: QoS::ExactlyOnce
            }
        );
        assert_eq!(out.inflight(), 0);
        assert_eq!(out.on_pubcomp(a), AckOutcome::Unknown);
    }

    #[test]
    fn incoming_qos2_is_delivered_once_until_released() {
        let mut inc = Incoming::default();
        let id = PacketId::new(7).unwrap();
        assert_eq!(inc.on_publish(id, QoS::ExactlyOnce), Arrival::New);
        assert_eq!(
            inc.on_publish(id, QoS::ExactlyOnce),
            Arrival::Duplicate {
                resend_pubrec: false
            }
        );
        assert_eq!(inc.on_pubrel(id), Release::NotAcknowledged);
        assert_eq!(
            inc.ack(id, ReasonCode::Success),
            Some((QoS::ExactlyOnce, true))
        );
        assert_eq!(inc.ack(id, ReasonCode::Success), None);
        assert_eq!(
            inc.on_publish(id, QoS::ExactlyOnce),
            Arrival::Duplicate {
                resend_pubrec: true
            }
        );
        inc.pause();
        assert_eq!(inc.len(), 1, "QoS 2 state survives the connection");
        assert_eq!(inc.on_pubrel(id), Release::Complete);
        assert_eq!(inc.on_pubrel(id), Release::NotFound);
    }
}
