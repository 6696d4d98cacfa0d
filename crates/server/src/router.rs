//! The router task: the one owner of `broker_core::Broker`. Connection tasks (and, later, the
//! HTTP control plane) send it typed commands; it answers on each connection's own channel and
//! hands durable changes to the store's group-commit writer. A publisher's PUBACK/PUBREC is
//! released only from the writer's completion when the publish changed durable state, so an
//! acknowledged message for a persistent session is on disk first. No lock is shared with the
//! connection tasks: everything crosses a channel.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use broker_core::{
    Broker, ConnId, ConnectOutcome, ConnectRequest, Connected, Delivery, DisconnectKind, Effect,
    PersistOp, PublishOutcome, StoredSession, SubscribeOutcome, UnsubscribeOutcome,
};
use mqtt_proto::session::server::ServerSession;
use mqtt_proto::{Connect, MqttStr, PacketId, Publish, QoS, ReasonCode, Subscribe, Unsubscribe};
use store::{WriteOp, WriterHandle};
use tokio::sync::{mpsc, oneshot};

use crate::auth::{Principal, ServerAuthorizer};
use crate::metrics::Metrics;
use crate::persist::{self, Clock};

/// Durable sequence numbers of in-flight deliveries, by packet id.
pub type InFlightSeqs = HashMap<u16, u64>;

/// Sequence numbers of deliveries written for live connections start here, above any number
/// broker-core gives the messages it queues for offline sessions. Each run starts its counter
/// from the wall clock, so numbers never repeat across restarts and the rows of an earlier run
/// sort below this run's `live_floor`.
const LIVE_SEQ_BASE: u64 = 1 << 62;

/// What a connection task receives from the router.
#[derive(Debug)]
pub enum ToConn {
    /// Send this message to the client. With a sequence number, the delivery is on disk (in the
    /// session's queue) until the client acknowledges it: report that with `Command::Acked`.
    Deliver(Delivery, Option<u64>),
    /// The client's QoS 1/2 PUBLISH is handled (durable where it must be): send PUBACK/PUBREC.
    PublishDone {
        /// The client's packet id.
        packet_id: PacketId,
        /// The reason to acknowledge with.
        reason: ReasonCode,
    },
    /// Answer a SUBSCRIBE.
    SubAck {
        /// The SUBSCRIBE's packet id.
        packet_id: PacketId,
        /// One code per filter.
        reasons: Vec<ReasonCode>,
    },
    /// Answer an UNSUBSCRIBE.
    UnsubAck {
        /// The UNSUBSCRIBE's packet id.
        packet_id: PacketId,
        /// One code per filter.
        reasons: Vec<ReasonCode>,
    },
    /// Close the connection (MQTT 5: DISCONNECT with this reason first).
    Close(ReasonCode),
    /// Several of the above, applied in order before the connection reads its socket again:
    /// a PUBREC with the publisher's own copies, so a PUBREL it answers with cannot get its
    /// PUBCOMP out ahead of them.
    Batch(Vec<ToConn>),
}

/// The router's answer to a CONNECT.
// Sent once per connection through a oneshot channel: boxing the large variant would buy
// nothing but an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ConnectReply {
    /// Accepted: send CONNACK Success; `session` holds in-flight state to resume.
    Accepted {
        /// What the broker granted.
        connected: Connected,
        /// In-flight state of the resumed session (empty for a new one).
        session: ServerSession,
        /// Durable sequence numbers of the resumed session's in-flight deliveries, by packet id.
        inflight: InFlightSeqs,
    },
    /// Refused: send CONNACK with this reason and close.
    Refused(ReasonCode),
}

/// A request to the router.
#[derive(Debug)]
pub enum Command {
    /// A client sent CONNECT on connection `conn`.
    Connect {
        /// The connection.
        conn: ConnId,
        /// The decoded CONNECT.
        connect: Box<Connect>,
        /// Who the client is.
        principal: Principal,
        /// Where to send deliveries and answers.
        to_conn: mpsc::UnboundedSender<ToConn>,
        /// The answer.
        reply: oneshot::Sender<ConnectReply>,
    },
    /// A client published.
    Publish {
        /// The connection.
        conn: ConnId,
        /// The message (topic alias resolved).
        publish: Publish,
    },
    /// A client subscribed.
    Subscribe {
        /// The connection.
        conn: ConnId,
        /// The request.
        subscribe: Subscribe,
    },
    /// A client unsubscribed.
    Unsubscribe {
        /// The connection.
        conn: ConnId,
        /// The request.
        unsubscribe: Unsubscribe,
    },
    /// A connection ended.
    Disconnect {
        /// The connection.
        conn: ConnId,
        /// How it ended.
        kind: DisconnectKind,
        /// MQTT 5 DISCONNECT's new session expiry, if any.
        session_expiry: Option<u32>,
        /// In-flight state to keep for a persistent session.
        session: ServerSession,
        /// Durable sequence numbers of its in-flight deliveries, by packet id.
        inflight: InFlightSeqs,
    },
    /// A durable delivery (`ToConn::Deliver` with a sequence number) was acknowledged by the
    /// client, or will never be sent (too large for the client): drop it from disk.
    Acked {
        /// The connection.
        conn: ConnId,
        /// The delivery's sequence number.
        seq: u64,
    },
    /// The certificate ids of live connections, for the registry watcher.
    LiveCertificates {
        /// The answer.
        reply: oneshot::Sender<Vec<(ConnId, String)>>,
    },
    /// Install what the registry attaches to a certificate (its policies): sent before the
    /// CONNECT of a device using it, and again whenever the registry changes.
    SetPolicies {
        /// The certificate id.
        certificate_id: String,
        /// Its policies and things.
        policies: Arc<crate::auth::DevicePolicies>,
    },
    /// Close these connections (certificate no longer ACTIVE, administrative action).
    CloseConnections {
        /// Which.
        conns: Vec<ConnId>,
        /// MQTT 5 DISCONNECT reason.
        reason: ReasonCode,
    },
    /// A message the server itself publishes (the HTTP data plane). `reply` answers with the
    /// number of deliveries once the message is routed and its durable changes are committed.
    ServerPublish {
        /// The message.
        message: broker_core::Message,
        /// The answer.
        reply: oneshot::Sender<usize>,
    },
    /// Close every connection and stop once they are gone.
    Shutdown,
}

struct Live {
    to_conn: mpsc::UnboundedSender<ToConn>,
    principal: Principal,
    /// Acknowledgements waiting for the writer: while there are any, later ones queue behind
    /// them so PUBACKs leave in PUBLISH order ([MQTT-4.6.0-2]).
    pending_acks: Arc<AtomicUsize>,
    /// For a persistent session: its client id, and QoS 1/2 deliveries are kept on disk until
    /// acknowledged, so an acknowledged publish survives a crash even while in flight.
    durable: Option<MqttStr>,
}

/// The router's state.
pub struct Router {
    broker: Broker<ServerAuthorizer>,
    clock: Clock,
    writer: WriterHandle,
    /// By connection number (ours, so hashed with foldhash: looked up for every delivery).
    conns: foldhash::HashMap<ConnId, Live>,
    /// In-flight state of offline persistent sessions, by client id.
    parked: HashMap<MqttStr, (ServerSession, InFlightSeqs)>,
    /// The next sequence number for a durable live delivery.
    next_live_seq: u64,
    /// The first number of this run: queue rows below it are from earlier runs or from
    /// broker-core's offline queue, and go when the queue is handed to a connection.
    live_floor: u64,
    metrics: Arc<Metrics>,
    shutting_down: bool,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("connections", &self.conns.len())
            .field("parked_sessions", &self.parked.len())
            .field("shutting_down", &self.shutting_down)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A router around `broker`, persisting through `writer`.
    pub fn new(
        broker: Broker<ServerAuthorizer>,
        clock: Clock,
        writer: WriterHandle,
        metrics: Arc<Metrics>,
    ) -> Router {
        Router {
            broker,
            clock,
            writer,
            conns: foldhash::HashMap::default(),
            parked: HashMap::new(),
            next_live_seq: 0,
            live_floor: 0,
            metrics,
            shutting_down: false,
        }
    }

    /// Reloads persistent state saved by an earlier run.
    pub fn restore(&mut self, state: store::BrokerState) {
        let now = self.clock.now();
        let newest = state
            .sessions
            .iter()
            .flat_map(|s| s.queue.iter().map(|m| m.seq))
            .max()
            .unwrap_or(0);
        let from_clock = u64::try_from(self.clock.wall_ms()).unwrap_or(0) << 12;
        self.live_floor = (LIVE_SEQ_BASE + from_clock).max(newest.saturating_add(1));
        self.next_live_seq = self.live_floor;
        for retained in state.retained {
            let expires_at = retained.expires_ms.map(|ms| self.clock.instant_of(ms));
            let what = format!("retained topic {:?}", retained.topic);
            match persist::decode_delivery(&retained.message, &what, expires_at) {
                Ok(delivery) => self.broker.restore_retained(delivery.message, now),
                Err(e) => tracing::warn!("{e}"),
            }
        }
        for stored in state.sessions {
            let Ok(client_id) = MqttStr::new(&stored.session.client_id) else {
                continue;
            };
            let protocol = match stored.session.protocol_level {
                5 => mqtt_proto::Protocol::V5,
                3 => mqtt_proto::Protocol::V31,
                _ => mqtt_proto::Protocol::V311,
            };
            let subscriptions = stored
                .subscriptions
                .iter()
                .filter_map(|s| {
                    let filter = persist::filter(&s.filter)?;
                    Some((
                        filter,
                        persist::options_from_byte(s.options),
                        s.subscription_id,
                    ))
                })
                .collect();
            let queued = stored
                .queue
                .iter()
                .filter_map(|m| {
                    let what = format!("queue of {} #{}", stored.session.client_id, m.seq);
                    persist::decode_delivery(&m.message, &what, None)
                        .map_err(|e| tracing::warn!("{e}"))
                        .ok()
                })
                .collect();
            self.broker.restore_session(
                StoredSession {
                    client_id,
                    expiry_interval: stored.session.expiry_interval_s,
                    protocol,
                    principal: Principal::new(crate::auth::Identity::Restored),
                    subscriptions,
                    queued,
                },
                now,
            );
        }
    }

    /// Runs until shutdown completes or every command sender is gone.
    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            let deadline = self
                .broker
                .next_deadline()
                .map(|at| self.clock.deadline(at));
            let tick = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.handle(command),
                    None => break,
                },
                () = tick => {
                    let now = self.clock.now();
                    self.broker.handle_tick(now);
                    self.carry_out_effects(None);
                }
            }
            if self.shutting_down && self.conns.is_empty() {
                break;
            }
        }
    }

    fn handle(&mut self, command: Command) {
        let now = self.clock.now();
        match command {
            Command::Connect {
                conn,
                connect,
                principal,
                to_conn,
                reply,
            } => {
                if self.shutting_down {
                    let _ = reply.send(ConnectReply::Refused(ReasonCode::ServerUnavailable));
                    return;
                }
                let request = ConnectRequest::from_connect(*connect, principal.clone());
                match self.broker.handle_connect(conn, request, now) {
                    ConnectOutcome::Accepted(connected) => {
                        let (session, inflight) = if connected.session_present {
                            self.parked.remove(&connected.client_id).unwrap_or_default()
                        } else {
                            self.parked.remove(&connected.client_id);
                            Default::default()
                        };
                        let durable =
                            (connected.session_expiry > 0).then(|| connected.client_id.clone());
                        self.conns.insert(
                            conn,
                            Live {
                                to_conn,
                                principal,
                                pending_acks: Arc::default(),
                                durable,
                            },
                        );
                        self.metrics.connections_accepted.inc();
                        // The CONNACK must precede queued deliveries: the task sends it as
                        // soon as it has this reply, before reading its channel.
                        let _ = reply.send(ConnectReply::Accepted {
                            connected,
                            session,
                            inflight,
                        });
                        self.carry_out_effects(None);
                    }
                    ConnectOutcome::Refused(reason) => {
                        self.metrics.connections_refused.inc();
                        let _ = reply.send(ConnectReply::Refused(reason));
                        self.carry_out_effects(None);
                    }
                }
            }
            Command::Publish { conn, publish } => {
                let ack = publish.delivery.packet_id();
                let exactly_once = publish.delivery.qos() == QoS::ExactlyOnce;
                self.metrics.messages_received.inc();
                let reason = match self.broker.handle_publish(conn, publish, now) {
                    PublishOutcome::Accepted(reason) | PublishOutcome::Refused(reason) => reason,
                    PublishOutcome::Disconnect(reason) => {
                        self.send(conn, ToConn::Close(reason));
                        self.carry_out_effects(None);
                        return;
                    }
                };
                let done = ack.map(|packet_id| (conn, ToConn::PublishDone { packet_id, reason }));
                self.carry_out(done, exactly_once);
            }
            Command::Subscribe { conn, subscribe } => {
                let packet_id = subscribe.packet_id;
                match self.broker.handle_subscribe(conn, subscribe, now) {
                    SubscribeOutcome::SubAck(reasons) => {
                        self.send(conn, ToConn::SubAck { packet_id, reasons })
                    }
                    SubscribeOutcome::Disconnect(reason) => self.send(conn, ToConn::Close(reason)),
                }
                self.carry_out_effects(None);
            }
            Command::Unsubscribe { conn, unsubscribe } => {
                let packet_id = unsubscribe.packet_id;
                match self.broker.handle_unsubscribe(conn, unsubscribe, now) {
                    UnsubscribeOutcome::UnsubAck(reasons) => {
                        self.send(conn, ToConn::UnsubAck { packet_id, reasons })
                    }
                    UnsubscribeOutcome::Disconnect(reason) => {
                        self.send(conn, ToConn::Close(reason))
                    }
                }
                self.carry_out_effects(None);
            }
            Command::Disconnect {
                conn,
                kind,
                session_expiry,
                session,
                inflight,
            } => {
                let client_id = self.broker.client_id(conn).cloned();
                self.conns.remove(&conn);
                self.broker
                    .handle_disconnect(conn, kind, session_expiry, Vec::new(), now);
                if let Some(client_id) = client_id
                    && self.broker.session_state(&client_id) == Some(false)
                    && (session.pending_deliveries() > 0 || session.pending_received() > 0)
                {
                    self.parked.insert(client_id, (session, inflight));
                }
                self.carry_out_effects(None);
            }
            Command::Acked { conn, seq } => {
                if let Some(client_id) = self.conns.get(&conn).and_then(|l| l.durable.clone()) {
                    let ack = WriteOp::Ack {
                        client_id: client_id.to_string(),
                        seq,
                    };
                    self.writer.submit(vec![ack], |result| {
                        if let Err(e) = result {
                            tracing::error!("could not drop an acknowledged delivery: {e}");
                        }
                    });
                }
            }
            Command::LiveCertificates { reply } => {
                let live = self
                    .conns
                    .iter()
                    .filter_map(|(conn, live)| {
                        live.principal
                            .certificate_id()
                            .map(|id| (*conn, id.to_owned()))
                    })
                    .collect();
                let _ = reply.send(live);
            }
            Command::SetPolicies {
                certificate_id,
                policies,
            } => {
                self.broker
                    .authorizer_mut()
                    .set_policies(&certificate_id, policies);
            }
            Command::CloseConnections { conns, reason } => {
                for conn in conns {
                    self.send(conn, ToConn::Close(reason));
                }
            }
            Command::ServerPublish { message, reply } => {
                let delivered = self.broker.handle_server_publish(message, now);
                self.carry_out_effects(None);
                // The writer commits in order: this empty batch completes after the publish's.
                self.writer.submit(Vec::new(), move |_| {
                    let _ = reply.send(delivered);
                });
            }
            Command::Shutdown => {
                self.shutting_down = true;
                for live in self.conns.values() {
                    let _ = live
                        .to_conn
                        .send(ToConn::Close(ReasonCode::ServerShuttingDown));
                }
            }
        }
    }

    /// For a QoS 1/2 delivery to a persistent session, queues its row for the writer and
    /// returns its sequence number.
    fn track_durable(
        &mut self,
        conn: ConnId,
        delivery: &Delivery,
        writes: &mut Vec<WriteOp>,
    ) -> Option<u64> {
        if delivery.qos == QoS::AtMostOnce {
            return None;
        }
        let client_id = self.conns.get(&conn)?.durable.as_ref()?.to_string();
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

    fn send(&self, conn: ConnId, message: ToConn) {
        if let Some(live) = self.conns.get(&conn) {
            // A closed channel means the task is ending; its Disconnect command follows.
            let _ = live.to_conn.send(message);
        }
    }

    /// Carries out the broker's effects in order.
    fn carry_out_effects(&mut self, done: Option<(ConnId, ToConn)>) {
        self.carry_out(done, false);
    }

    /// Carries out the broker's effects in order. `done` is the publisher's acknowledgement:
    /// sent after the writer commits when this step changed durable state (or an earlier
    /// acknowledgement of the same connection still waits for it), else at once: after the
    /// step's deliveries, or ahead of them with `ack_first` (a QoS 2 PUBREC). A client
    /// subscribed to its own topic so sees what the reference broker shows it: its copy, then
    /// PUBACK at QoS 1; PUBREC, then its copy at QoS 2 (that broker forwards at PUBREL).
    fn carry_out(&mut self, done: Option<(ConnId, ToConn)>, ack_first: bool) {
        let mut ops: Vec<PersistOp> = Vec::new();
        let mut live_writes: Vec<WriteOp> = Vec::new();
        let mut outgoing: Vec<(ConnId, ToConn)> = Vec::new();
        let effects: Vec<Effect> = self.broker.drain_effects().collect();
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
                Effect::Denied {
                    client_id,
                    action,
                    resource,
                    explanation,
                } => {
                    tracing::warn!(
                        "denied {action} on {resource} to client {client_id:?}: {explanation}"
                    );
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
            let mut batch = vec![message];
            batch.extend(own.into_iter().map(|(_, message)| message));
            let _ = to_conn.send(ToConn::Batch(batch));
        }
        for (conn, message) in outgoing {
            self.send(conn, message);
        }
        if ack_now && let Some((to_conn, _, message)) = reply.take() {
            let _ = to_conn.send(message);
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
        self.writer.submit(writes, move |result| {
            let Some((to_conn, pending, mut message)) = reply else {
                if let Err(e) = result {
                    tracing::error!("could not persist broker state: {e}");
                }
                return;
            };
            if let Err(e) = result {
                tracing::error!("could not persist a publish; refusing it: {e}");
                if let ToConn::PublishDone { reason, .. } = &mut message {
                    *reason = ReasonCode::ImplementationSpecificError;
                }
            }
            // Sent before the count drops, so a later acknowledgement the router releases at
            // once cannot overtake this one.
            let _ = to_conn.send(message);
            pending.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use broker_core::{BrokerConfig, Profile};
    use bytes::Bytes;
    use mqtt_proto::{Packet, Protocol};

    use super::*;
    use crate::auth::Identity;

    fn packet(bytes: &[u8]) -> Packet {
        mqtt_proto::codec::decode(Bytes::copy_from_slice(bytes), Protocol::V311).unwrap()
    }

    /// Connection 1 publishes the PUBLISH encoded in `bytes`.
    fn publish(router: &mut Router, bytes: &[u8]) {
        let Packet::Publish(publish) = packet(bytes) else {
            panic!("not a PUBLISH")
        };
        router.handle(Command::Publish {
            conn: ConnId(1),
            publish,
        });
    }

    /// A router over a fresh store, with client `c` connected (MQTT 3.1.1, clean session) and
    /// subscribed to `t` at QoS 1.
    fn router_with_subscriber(
        dir: &std::path::Path,
    ) -> (Router, store::Writer, mpsc::UnboundedReceiver<ToConn>) {
        let store = store::Store::open(dir.join("broker.db")).unwrap();
        let writer = store.writer().unwrap();
        let broker = Broker::with_authorizer(
            BrokerConfig::for_profile(Profile::Mqtt),
            ServerAuthorizer::new(true, "us-east-1", "123456789012"),
        )
        .unwrap();
        let mut router = Router::new(
            broker,
            Clock::start(),
            writer.handle(),
            Arc::new(Metrics::default()),
        );
        let Packet::Connect(connect) = packet(b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01c")
        else {
            panic!("not a CONNECT")
        };
        let (to_conn, mut from_router) = mpsc::unbounded_channel();
        let (reply, answer) = oneshot::channel();
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        router.handle(Command::Connect {
            conn: ConnId(1),
            connect,
            principal: Principal::new(Identity::Anonymous { peer }),
            to_conn,
            reply,
        });
        assert!(matches!(
            answer.blocking_recv(),
            Ok(ConnectReply::Accepted { .. })
        ));
        let Packet::Subscribe(subscribe) = packet(b"\x82\x06\x00\x01\x00\x01t\x01") else {
            panic!("not a SUBSCRIBE")
        };
        router.handle(Command::Subscribe {
            conn: ConnId(1),
            subscribe,
        });
        assert!(matches!(
            from_router.blocking_recv(),
            Some(ToConn::SubAck { .. })
        ));
        (router, writer, from_router)
    }

    #[test]
    fn pubrec_precedes_and_puback_follows_the_publishers_own_copy() {
        let dir = tempfile::tempdir().unwrap();
        let (mut router, _writer, mut from_router) = router_with_subscriber(dir.path());
        // QoS 2, nothing to write: PUBREC first, in one batch with the copy so that the
        // client's PUBREL cannot be answered in between.
        publish(&mut router, b"\x34\x06\x00\x01t\x00\x02x");
        let Some(ToConn::Batch(batch)) = from_router.blocking_recv() else {
            panic!("expected one batch")
        };
        assert!(matches!(
            batch.as_slice(),
            [ToConn::PublishDone { .. }, ToConn::Deliver(..)]
        ));
        // QoS 1: the copy first, then PUBACK.
        publish(&mut router, b"\x32\x06\x00\x01t\x00\x03x");
        assert!(matches!(
            from_router.blocking_recv(),
            Some(ToConn::Deliver(..))
        ));
        assert!(matches!(
            from_router.blocking_recv(),
            Some(ToConn::PublishDone { .. })
        ));
    }

    #[test]
    fn puback_of_a_retained_publish_waits_for_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let (mut router, _writer, mut from_router) = router_with_subscriber(dir.path());
        // Retained: durable state changed, so even at QoS 2 the copy goes out first and the
        // PUBREC only after the commit.
        publish(&mut router, b"\x35\x06\x00\x01t\x00\x02x");
        assert!(matches!(
            from_router.blocking_recv(),
            Some(ToConn::Deliver(..))
        ));
        assert!(matches!(
            from_router.blocking_recv(),
            Some(ToConn::PublishDone {
                reason: ReasonCode::Success,
                ..
            })
        ));
    }
}
