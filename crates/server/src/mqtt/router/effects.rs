//! Carrying out the broker's effects in order: deliveries to connection tasks (durable ones
//! written to the session's queue first), closes, persistence through the group-commit writer,
//! the publisher's acknowledgement, released after the commit when the step changed durable
//! state, and the refusal records of denials and limits, handed to the refusal writer's thread
//! (no file IO here). Decides nothing the broker has not decided.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use broker_core::{ConnId, Delivery, Denial, Effect, PersistOp};
use mqtt_proto::{MqttStr, QoS, ReasonCode};
use store::WriteOp;

use super::{Router, ToConn, storage};
use crate::auth::Principal;
use crate::mqtt::record;
use crate::persist;

impl Router {
    /// The principal of `conn`: a live connection's, or the one whose CONNECT is being decided.
    fn principal_of(&self, conn: ConnId) -> Option<Principal> {
        match (&self.connecting, self.conns.get(&conn)) {
            (_, Some(live)) => Some(live.principal.clone()),
            (Some((connecting, principal)), None) if *connecting == conn => Some(principal.clone()),
            _ => None,
        }
    }

    /// An authorization denial: recorded for `tether doctor recent` (and logged once written),
    /// except `iot:Receive`, which refuses a delivery rather than the client's own request and
    /// is only logged.
    fn record_denial(
        &mut self,
        conn: Option<ConnId>,
        client_id: &MqttStr,
        action: &'static str,
        denial: &Denial,
    ) {
        let principal = conn.and_then(|conn| self.principal_of(conn));
        match principal {
            Some(principal) if action != "iot:Receive" => {
                let (refusal, log) = record::denied(&principal, client_id, denial);
                self.refusals.record(refusal, Some(log));
            }
            _ => tracing::warn!("denied {action} to client {client_id:?}: {denial}"),
        }
    }

    /// A request refused for a limit of the profile: recorded, and logged once written.
    fn record_limit(
        &mut self,
        conn: ConnId,
        client_id: Option<&str>,
        limited: &record::Limited<'_>,
    ) {
        let Some(principal) = self.principal_of(conn) else {
            return;
        };
        let client_id = client_id
            .map(str::to_owned)
            .or_else(|| self.conns.get(&conn).map(|l| l.client_id.to_string()));
        let (refusal, log) = record::limited(&principal, client_id.as_deref(), limited);
        self.refusals.record(refusal, Some(log));
    }

    /// A connection closed for a protocol violation: recorded, and logged once written.
    pub(super) fn record_violation(
        &mut self,
        conn: ConnId,
        violation: &str,
        reason: Option<ReasonCode>,
    ) {
        let Some(live) = self.conns.get(&conn) else {
            return;
        };
        let client_id = live.client_id.to_string();
        let reason = reason.unwrap_or(ReasonCode::ProtocolError);
        let (refusal, log) =
            record::violation(&live.principal, Some(&client_id), violation, reason);
        self.refusals.record(refusal, Some(log));
    }

    /// For a QoS 1/2 delivery to a persistent session, queues its row for the writer and
    /// returns its sequence number.
    pub(super) fn track_durable(
        &mut self,
        conn: ConnId,
        delivery: &Delivery,
        writes: &mut Vec<WriteOp>,
    ) -> Option<u64> {
        if delivery.qos == QoS::AtMostOnce {
            return None;
        }
        let live = self.conns.get(&conn)?;
        let client_id = live.durable.then(|| live.client_id.to_string())?;
        let seq = self.next_live_seq;
        self.next_live_seq += 1;
        writes.push(WriteOp::Enqueue(store::QueuedMessage {
            client_id,
            seq,
            message: persist::encode_delivery(delivery),
            packet_id: None,
        }));
        Some(seq)
    }

    /// Carries out the broker's effects in order.
    pub(super) fn carry_out_effects(&mut self, done: Option<(ConnId, ToConn)>) {
        self.carry_out(done, false);
    }

    /// Carries out the broker's effects in order. `done` is the publisher's acknowledgement:
    /// sent after the writer commits when this step changed durable state (or an earlier
    /// acknowledgement of the same connection still waits for it), else at once: after the
    /// step's deliveries, or ahead of them with `ack_first` (a QoS 2 PUBREC). A client
    /// subscribed to its own topic so sees what the reference broker shows it: its copy, then
    /// PUBACK at QoS 1; PUBREC, then its copy at QoS 2 (that broker forwards at PUBREL).
    /// A SUBACK that waits for the writer takes the retained messages its SUBSCRIBE brought
    /// with it, so they still follow it; when the write fails they are dropped and the SUBACK
    /// refuses every filter (`storage.rs`).
    pub(super) fn carry_out(&mut self, done: Option<(ConnId, ToConn)>, ack_first: bool) {
        let mut ops: Vec<PersistOp> = Vec::new();
        let mut live_writes: Vec<WriteOp> = Vec::new();
        let mut outgoing: Vec<(ConnId, ToConn)> = Vec::new();
        let effects: Vec<Effect> = self.broker.drain_effects().collect();
        self.metrics
            .queued_dropped
            .raise_to(self.broker.queue_dropped());
        for effect in effects {
            match effect {
                Effect::Deliver { conn, delivery } => {
                    self.metrics.messages_delivered.inc();
                    let seq = self.track_durable(conn, &delivery, &mut live_writes);
                    outgoing.push((conn, ToConn::Deliver(delivery, seq)));
                }
                Effect::Close { conn, reason } => outgoing.push((conn, ToConn::Close(reason))),
                Effect::Persist(PersistOp::SessionDeleted { client_id }) => {
                    self.parked.remove(&client_id);
                    ops.push(PersistOp::SessionDeleted { client_id });
                }
                Effect::Persist(op) => ops.push(op),
                Effect::ToService {
                    service,
                    from,
                    message,
                } => self.hand_to_service(service, from, message),
                Effect::Denied {
                    conn,
                    client_id,
                    action,
                    denial,
                    ..
                } => self.record_denial(conn, &client_id, action, &denial),
                Effect::Limited {
                    conn,
                    client_id,
                    packet,
                    resource,
                    limit,
                    reason,
                } => {
                    let limited = record::Limited {
                        packet,
                        resource: &resource,
                        limit: &limit,
                        reason,
                    };
                    self.record_limit(conn, client_id.as_deref(), &limited);
                }
            }
        }
        let publisher = done.as_ref().map(|(conn, _)| *conn);
        let mut reply = done.and_then(|(conn, message)| {
            self.conns.get(&conn).map(|live| {
                (
                    live.to_conn.clone(),
                    Arc::clone(&live.pending_acks),
                    message,
                )
            })
        });
        let ack_now = ops.is_empty()
            && live_writes.is_empty()
            && reply
                .as_ref()
                .is_some_and(|(_, pending, _)| pending.load(Ordering::Acquire) == 0);
        if ack_now
            && ack_first
            && let (Some((to_conn, _, message)), Some(publisher)) = (reply.take(), publisher)
        {
            let (own, others): (Vec<_>, Vec<_>) = outgoing
                .into_iter()
                .partition(|(conn, _)| *conn == publisher);
            outgoing = others;
            let own = own.into_iter().map(|(_, message)| message).collect();
            let _ = to_conn.send(with_behind(message, own));
        }
        let mut behind_ack = Vec::new();
        if let (Some((_, _, ToConn::SubAck { .. })), Some(subscriber)) = (&reply, publisher) {
            let (own, others): (Vec<_>, Vec<_>) = outgoing
                .into_iter()
                .partition(|(conn, _)| *conn == subscriber);
            outgoing = others;
            behind_ack = own.into_iter().map(|(_, message)| message).collect();
        }
        for (conn, message) in outgoing {
            self.send(conn, message);
        }
        if ack_now && let Some((to_conn, _, message)) = reply.take() {
            let _ = to_conn.send(with_behind(message, behind_ack));
            behind_ack = Vec::new();
        }
        // Nothing to write and nothing to acknowledge behind the writer.
        if ops.is_empty() && live_writes.is_empty() && reply.is_none() {
            return;
        }
        let mut writes = persist::write_ops(ops, &self.clock, self.live_floor);
        writes.append(&mut live_writes);
        if let Some((_, pending, _)) = &reply {
            pending.fetch_add(1, Ordering::AcqRel);
        }
        storage::submit(&self.writer, &self.disk, writes, move |result| {
            let Some((to_conn, pending, mut message)) = reply else {
                if let Err(e) = result {
                    storage::failed("could not persist broker state", &e);
                }
                return;
            };
            if let Err(e) = &result {
                refuse(&mut message, e);
                behind_ack.clear();
            }
            // Sent before the count drops, so a later acknowledgement the router releases at
            // once cannot overtake this one.
            let _ = to_conn.send(with_behind(message, behind_ack));
            pending.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// An acknowledgement whose write failed: PUBACK/PUBREC and every filter of a SUBACK carry
/// the refusal instead (a 3.1.1 connection then closes rather than acknowledge).
fn refuse(message: &mut ToConn, error: &store::StoreError) {
    let refusal = storage::refusal(error);
    match message {
        ToConn::PublishDone { reason, .. } => {
            storage::failed("could not persist a publish; refusing it", error);
            *reason = refusal;
        }
        ToConn::SubAck { reasons, .. } => {
            storage::failed("could not persist a subscription; refusing it", error);
            for reason in reasons.iter_mut() {
                *reason = refusal;
            }
        }
        _ => storage::failed("could not persist broker state", error),
    }
}

/// The acknowledgement, followed by what must not overtake it.
fn with_behind(message: ToConn, behind: Vec<ToConn>) -> ToConn {
    if behind.is_empty() {
        message
    } else {
        let mut batch = Vec::with_capacity(behind.len() + 1);
        batch.push(message);
        batch.extend(behind);
        ToConn::Batch(batch)
    }
}
