//! Session takeover: a CONNECT whose client id has a live connection takes its session over
//! ([MQTT-3.1.4-3]). When the session is resumed, what the old connection had in flight (QoS 1/2
//! deliveries with their packet ids, QoS 2 flows in either direction) lives in that
//! connection's task, not in the broker, so the new connection's CONNACK waits until the old
//! task has ended and handed its session back: the new connection then resumes it whole, as if
//! the client had reconnected after a clean disconnect — same packet ids, DUP resends in the
//! original order, PUBRELs — and nothing in flight is lost or delivered twice under a new id.
//! The wait is bounded by [`TAKEOVER_WAIT`]; an old connection that has not ended by then (its
//! task stuck writing to a dead peer) gets its unacknowledged deliveries handed to the session's
//! owner as new DUP deliveries when it does end. What a takeover closes and publishes (DISCONNECT
//! 0x8E, the will) is broker-core's decision; this file only moves the in-flight state.

use std::sync::Arc;
use std::time::Duration;

use broker_core::{ConnId, Connected, Delivery};
use mqtt_proto::session::server::ServerSession;
use mqtt_proto::time::Instant;
use store::WriteOp;
use tokio::sync::oneshot;

use super::{ConnectReply, InFlightSeqs, Router};

/// How long a new connection's CONNACK waits for the connection it takes over to end. A task
/// that is not blocked ends within milliseconds of being told to close; one blocked writing to
/// a peer that stopped reading may not end for minutes, and the client waiting for its CONNACK
/// must not wait that long.
pub(super) const TAKEOVER_WAIT: Duration = Duration::from_secs(1);

/// A CONNECT accepted as a takeover, waiting for the old connection's session.
#[derive(Debug)]
pub(super) struct PendingTakeover {
    /// The new connection.
    pub(super) conn: ConnId,
    /// Its answer.
    pub(super) reply: oneshot::Sender<ConnectReply>,
    /// What its CONNACK says.
    pub(super) connected: Connected,
    /// When it stops waiting.
    pub(super) deadline: Instant,
}

impl Router {
    /// Holds the CONNACK of a connection that resumed the session of the live connection `old`
    /// until `old` has handed the session back (or [`TAKEOVER_WAIT`] has passed).
    pub(super) fn await_takeover(&mut self, old: ConnId, pending: PendingTakeover) {
        if let Some(earlier) = self.takeovers.insert(old, pending) {
            // A second takeover of the same old connection cannot happen (the first one
            // detached it); should it, the earlier one is answered with an empty session.
            self.answer_without_session(earlier);
        }
    }

    /// The old connection of a takeover ended: its session goes to the connection that took it
    /// over. `None` when `old` was not taken over this way, and the state is the caller's.
    pub(super) fn hand_over(
        &mut self,
        old: ConnId,
        session: ServerSession,
        inflight: InFlightSeqs,
    ) -> Option<(ServerSession, InFlightSeqs)> {
        let Some(pending) = self.takeovers.remove(&old) else {
            return Some((session, inflight));
        };
        tracing::debug!(
            "connection {} resumes the in-flight state of connection {} ({} deliveries)",
            pending.conn.0,
            old.0,
            session.pending_deliveries()
        );
        let _ = pending.reply.send(ConnectReply::Accepted {
            connected: pending.connected,
            session,
            inflight,
        });
        None
    }

    /// The earliest moment a waiting takeover stops waiting.
    pub(super) fn next_takeover_deadline(&self) -> Option<Instant> {
        self.takeovers.values().map(|p| p.deadline).min()
    }

    /// Answers the takeovers whose old connection did not end in time, with an empty
    /// in-flight state; the old connection's deliveries follow when it ends
    /// ([`Router::late_unacknowledged`]).
    pub(super) fn release_overdue_takeovers(&mut self, now: Instant) {
        let overdue: Vec<ConnId> = self
            .takeovers
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(old, _)| *old)
            .collect();
        for old in overdue {
            if let Some(pending) = self.takeovers.remove(&old) {
                tracing::warn!(
                    "connection {} took over the session of connection {}, which has not ended \
                     after {} ms: resuming without its in-flight deliveries, which follow when it \
                     ends",
                    pending.conn.0,
                    old.0,
                    TAKEOVER_WAIT.as_millis()
                );
                self.late_takeovers.insert(old);
                self.answer_without_session(pending);
            }
        }
    }

    /// The old connection of a takeover that stopped waiting has ended: its unacknowledged
    /// deliveries, as new deliveries with DUP for the broker to hand to the session's owner
    /// (or its queue), and the writes that drop their rows on disk, to submit after the new
    /// deliveries' own rows (the writer commits in order, so they are never both missing).
    pub(super) fn late_unacknowledged(
        &self,
        old: ConnId,
        mut session: ServerSession,
        inflight: &InFlightSeqs,
    ) -> (Vec<Delivery>, Vec<WriteOp>) {
        let now = self.clock.now();
        let durable_client = self
            .conns
            .get(&old)
            .and_then(|live| live.durable.then(|| live.client_id.to_string()));
        let mut acks = Vec::new();
        let mut deliveries = Vec::new();
        for (packet_id, _sent, publish) in session.take_unacknowledged() {
            if let (Some(client_id), Some(seq)) = (&durable_client, inflight.get(&packet_id.get()))
            {
                acks.push(WriteOp::Ack {
                    client_id: client_id.clone(),
                    seq: *seq,
                });
            }
            deliveries.push(delivery_of(publish, now));
        }
        (deliveries, acks)
    }

    fn answer_without_session(&mut self, pending: PendingTakeover) {
        let _ = pending.reply.send(ConnectReply::Accepted {
            connected: pending.connected,
            session: ServerSession::default(),
            inflight: InFlightSeqs::default(),
        });
    }
}

/// A PUBLISH a connection had in flight, as a broker delivery again (DUP set).
fn delivery_of(publish: mqtt_proto::Publish, now: Instant) -> Delivery {
    let qos = publish.delivery.qos();
    let mut properties = publish.properties;
    let subscription_ids = std::mem::take(&mut properties.subscription_identifiers);
    let expires_at = properties
        .message_expiry_interval
        .map(|secs| now + Duration::from_secs(u64::from(secs)));
    let mut message =
        broker_core::Message::new(publish.topic, publish.payload, qos, publish.retain);
    message.properties = properties;
    message.expires_at = expires_at;
    Delivery {
        message: Arc::new(message),
        qos,
        retain: publish.retain,
        subscription_ids,
        dup: true,
    }
}
