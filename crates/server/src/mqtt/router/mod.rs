//! The router task: the one owner of `broker_core::Broker`. Connection tasks, the registry
//! watcher, the HTTP API and the services worker send it typed [`Command`]s; it answers on each
//! connection's own channel and hands durable changes to the store's group-commit writer
//! (`effects.rs`). A publisher's PUBACK/PUBREC is released only from the writer's completion
//! when the publish changed durable state, so an acknowledged message for a persistent session
//! is on disk first. No lock is shared with the connection tasks: everything crosses a channel.
//! It does no IO of its own and never waits on the store.

mod aws;
mod effects;
mod expiry;
mod messages;
mod order;
mod storage;
mod takeover;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use broker_core::{
    Broker, ConnId, ConnectOutcome, ConnectRequest, DisconnectKind, PublishOutcome,
    SubscribeOutcome, UnsubscribeOutcome,
};
use mqtt_proto::session::server::ServerSession;
use mqtt_proto::{Connect, MqttStr, Publish, QoS, ReasonCode, Subscribe, Unsubscribe};
use store::{WriteOp, WriterHandle};
use tokio::sync::{mpsc, oneshot};

use crate::auth::{DevicePolicies, Principal, ServerAuthorizer};
use crate::clock::Clock;
use crate::metrics::Metrics;
use iot_services::lifecycle::Ticket;

pub(crate) use aws::Aws;
pub(crate) use messages::{Command, ConnectReply, InFlightSeqs, ToConn};

/// A connection the broker accepted.
struct Live {
    to_conn: mpsc::UnboundedSender<ToConn>,
    principal: Principal,
    client_id: MqttStr,
    /// Its lifecycle events' session identifier and version (profile `aws`).
    ticket: Option<Ticket>,
    /// Acknowledgements waiting for the writer: while there are any, later ones queue behind
    /// them so PUBACKs leave in PUBLISH order ([MQTT-4.6.0-2]).
    pending_acks: Arc<AtomicUsize>,
    /// A persistent session: QoS 1/2 deliveries are kept on disk until acknowledged, so an
    /// acknowledged publish survives a crash even while in flight.
    durable: bool,
    /// When its client certificate expires (devices), as kept in `Router::expiries`.
    expires: Option<mqtt_proto::time::Instant>,
}

/// The router's state.
pub(crate) struct Router {
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
    /// The AWS IoT services (profile `aws`).
    aws: Option<Aws>,
    /// Live device connections by the moment their certificate expires (`expiry.rs`).
    expiries: BTreeSet<(mqtt_proto::time::Instant, ConnId)>,
    /// The refusal record's writer (its own thread: the router never writes the file).
    refusals: refusals::Recorder,
    /// The connection whose CONNECT is being decided, for records of its refusal.
    connecting: Option<(ConnId, Principal)>,
    /// CONNECTs that took over a live session, by the connection they took it from, waiting
    /// for its in-flight state (`takeover.rs`).
    takeovers: HashMap<ConnId, takeover::PendingTakeover>,
    /// Taken-over connections that had not ended when their takeover stopped waiting.
    late_takeovers: HashSet<ConnId>,
    /// Whether the operator was told the data directory's filesystem is full (`storage.rs`).
    disk: Arc<storage::DiskWatch>,
    /// The last write tried while it was full.
    last_probe: Option<mqtt_proto::time::Instant>,
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
    /// A router around `broker` (already holding the restored state), persisting through
    /// `writer`; live deliveries are numbered from `live_floor` (see `persist::restore`). With
    /// `aws`, lifecycle events are published and claimed publishes go to the services.
    pub(crate) fn new(
        broker: Broker<ServerAuthorizer>,
        clock: Clock,
        writer: WriterHandle,
        metrics: Arc<Metrics>,
        live_floor: u64,
        aws: Option<Aws>,
        refusals: refusals::Recorder,
    ) -> Router {
        Router {
            broker,
            clock,
            writer,
            conns: foldhash::HashMap::default(),
            parked: HashMap::new(),
            next_live_seq: live_floor,
            live_floor,
            metrics,
            aws,
            expiries: BTreeSet::new(),
            refusals,
            connecting: None,
            takeovers: HashMap::new(),
            late_takeovers: HashSet::new(),
            disk: Arc::default(),
            last_probe: None,
            shutting_down: false,
        }
    }

    /// Runs until shutdown completes or every command sender is gone.
    pub(crate) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            let next = [
                self.broker.next_deadline(),
                self.next_expiry(),
                self.next_takeover_deadline(),
                storage::next_probe(&self.writer, self.last_probe, self.clock.now()),
            ]
            .into_iter()
            .flatten()
            .min();
            let deadline = next.map(|at| self.clock.deadline(at));
            let tick = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command @ Command::Publish { .. }) if self.aws.is_none() => {
                        // Profile mqtt: apply the subscriptions read with this PUBLISH first
                        // (`order.rs`), as a single-threaded broker would.
                        let batch = order::gather(command, &mut commands).await;
                        for command in order::subscriptions_first(batch) {
                            self.handle(command);
                        }
                    }
                    Some(command) => self.handle(command),
                    None => break,
                },
                () = tick => {
                    let now = self.clock.now();
                    self.release_overdue_takeovers(now);
                    self.close_expired(now);
                    self.broker.handle_tick(now);
                    self.carry_out_effects(None);
                    self.probe(now);
                }
            }
            if self.shutting_down && self.conns.is_empty() {
                break;
            }
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Connect {
                conn,
                connect,
                principal,
                to_conn,
                reply,
            } => self.connect(conn, *connect, principal, to_conn, reply),
            Command::Publish { conn, publish } => self.publish(conn, publish),
            Command::Subscribe { conn, subscribe } => self.subscribe(conn, subscribe),
            Command::Unsubscribe { conn, unsubscribe } => self.unsubscribe(conn, unsubscribe),
            Command::Disconnect {
                conn,
                kind,
                session_expiry,
                session,
                inflight,
                reason,
                violation,
            } => {
                if let Some(violation) = violation {
                    self.record_violation(conn, &violation, reason);
                }
                self.disconnect(conn, (kind, reason), session_expiry, session, inflight);
            }
            Command::Acked { conn, seq } => self.acked(conn, seq),
            Command::LiveCertificates { reply } => self.live_certificates(reply),
            Command::SetPolicies {
                certificate_id,
                policies,
            } => self.set_policies(&certificate_id, policies),
            Command::SetIdentityPolicies { key, policies } => self
                .broker
                .authorizer_mut()
                .set_identity_policies(&key, policies),
            Command::ForgetIdentity { key } => self.broker.authorizer_mut().forget_identity(&key),
            Command::CloseConnections { conns, reason } => {
                for conn in conns {
                    self.send(conn, ToConn::Close(reason));
                }
            }
            Command::ServerPublish { message, reply } => self.server_publish(message, reply),
            Command::ServiceOutput(output) => self.service_output(output),
            Command::SetServiceRoutes(routes) => self.broker.set_service_routes(routes),
            Command::Sessions { reply } => {
                let _ = reply.send(self.broker.sessions());
            }
            Command::Kick { client_id, reply } => {
                let closed = self
                    .broker
                    .close_client(&client_id, ReasonCode::AdministrativeAction);
                self.carry_out_effects(None);
                let _ = reply.send(closed);
            }
            Command::DeleteConnection {
                client_id,
                clean_session,
                prevent_will,
                reply,
            } => {
                let closed = self
                    .broker
                    .delete_connection(&client_id, clean_session, prevent_will);
                self.carry_out_effects(None);
                let _ = reply.send(closed);
            }
            Command::Shutdown => self.shutdown(),
        }
    }

    /// A client sent CONNECT: the broker decides; the reply carries a resumed session's
    /// in-flight state.
    fn connect(
        &mut self,
        conn: ConnId,
        connect: Connect,
        principal: Principal,
        to_conn: mpsc::UnboundedSender<ToConn>,
        reply: oneshot::Sender<ConnectReply>,
    ) {
        if self.shutting_down {
            let _ = reply.send(ConnectReply::Refused(ReasonCode::ServerUnavailable));
            return;
        }
        let client_id = connect.client_id.clone();
        // The live connection this CONNECT would take over, if any.
        let previous = self.broker.connection_of(&client_id);
        let request = ConnectRequest::from_connect(connect, principal.clone());
        if self.refuses_new_session(&request) {
            self.metrics.connections_refused.inc();
            let _ = reply.send(ConnectReply::Refused(storage::DISK_FULL));
            return;
        }
        self.connecting = Some((conn, principal.clone()));
        match self.broker.handle_connect(conn, request, self.clock.now()) {
            ConnectOutcome::Accepted(connected) => {
                let parked = self.parked.remove(&connected.client_id);
                let (session, inflight) = match parked {
                    Some(parked) if connected.session_present => parked,
                    _ => Default::default(),
                };
                let client_id = connected.client_id.clone();
                let resumed = connected.session_present;
                self.metrics.connections_accepted.inc();
                // The CONNACK must precede queued deliveries: the task sends it as soon as it
                // has this reply, before reading its channel.
                let durable = connected.session_expiry > 0;
                match previous.filter(|old| resumed && *old != conn) {
                    // A resumed session whose in-flight state is still with the connection
                    // taken over: the reply waits for it (`takeover.rs`).
                    Some(old) => self.await_takeover(
                        old,
                        takeover::PendingTakeover {
                            conn,
                            reply,
                            connected,
                            deadline: self.clock.now() + takeover::TAKEOVER_WAIT,
                        },
                    ),
                    None => {
                        let _ = reply.send(ConnectReply::Accepted {
                            connected,
                            session,
                            inflight,
                        });
                    }
                }
                let ticket = self.announce_connected(&principal, &client_id, resumed);
                let expires = self.track_expiry(conn, &principal);
                self.conns.insert(
                    conn,
                    Live {
                        to_conn,
                        principal,
                        client_id,
                        ticket,
                        pending_acks: Arc::default(),
                        durable,
                        expires,
                    },
                );
            }
            ConnectOutcome::Refused(reason) => {
                self.metrics.connections_refused.inc();
                let _ = reply.send(ConnectReply::Refused(reason));
                if reason == ReasonCode::NotAuthorized {
                    self.announce_connect_failed(&principal, &client_id);
                }
            }
        }
        self.carry_out_effects(None);
        self.connecting = None;
    }

    /// A client published: route it, then acknowledge (after the commit when it changed
    /// durable state).
    fn publish(&mut self, conn: ConnId, publish: Publish) {
        let ack = publish.delivery.packet_id();
        let exactly_once = publish.delivery.qos() == QoS::ExactlyOnce;
        self.metrics.messages_received.inc();
        let reason = match self.broker.handle_publish(conn, publish, self.clock.now()) {
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

    /// A client subscribed. A persistent session's SUBACK leaves after the subscription is on
    /// disk, with the retained messages it brings behind it; while the disk is full, a
    /// persistent session's SUBSCRIBE is refused whole (`storage.rs`).
    fn subscribe(&mut self, conn: ConnId, subscribe: Subscribe) {
        let packet_id = subscribe.packet_id;
        if self.writer.disk_full() && self.conns.get(&conn).is_some_and(|live| live.durable) {
            let reasons = vec![storage::DISK_FULL; subscribe.filters.len()];
            self.send(conn, ToConn::SubAck { packet_id, reasons });
            return;
        }
        let filters = self.event_filters(subscribe.filters.iter().map(|(filter, _)| filter));
        match self
            .broker
            .handle_subscribe(conn, subscribe, self.clock.now())
        {
            SubscribeOutcome::SubAck(reasons) => {
                self.announce_subscriptions(conn, true, filters, &reasons);
                self.carry_out(Some((conn, ToConn::SubAck { packet_id, reasons })), true);
            }
            SubscribeOutcome::Disconnect(reason) => {
                self.send(conn, ToConn::Close(reason));
                self.carry_out_effects(None);
            }
        }
    }

    /// While the disk is full, a CONNECT that would create a persistent session is refused
    /// (an existing one may resume: its client can then drain its queue).
    fn refuses_new_session(&self, request: &ConnectRequest<Principal>) -> bool {
        let persistent = if request.protocol.is_v5() {
            request.session_expiry.unwrap_or(0) > 0
        } else {
            !request.clean_start
        };
        persistent
            && self.writer.disk_full()
            && (request.clean_start || self.broker.session_state(&request.client_id).is_none())
    }

    /// While the disk is full, one small write a second finds out when space is back.
    fn probe(&mut self, now: mqtt_proto::time::Instant) {
        match storage::next_probe(&self.writer, self.last_probe, now) {
            Some(due) if due <= now => {
                self.last_probe = Some(now);
                storage::submit(&self.writer, &self.disk, vec![WriteOp::Probe], |_| {});
            }
            Some(_) => {}
            None => self.last_probe = None,
        }
    }

    fn unsubscribe(&mut self, conn: ConnId, unsubscribe: Unsubscribe) {
        let packet_id = unsubscribe.packet_id;
        let filters = self.event_filters(unsubscribe.filters.iter());
        let answer = match self
            .broker
            .handle_unsubscribe(conn, unsubscribe, self.clock.now())
        {
            UnsubscribeOutcome::UnsubAck(reasons) => {
                self.announce_subscriptions(conn, false, filters, &reasons);
                ToConn::UnsubAck { packet_id, reasons }
            }
            UnsubscribeOutcome::Disconnect(reason) => ToConn::Close(reason),
        };
        self.send(conn, answer);
        self.carry_out_effects(None);
    }

    /// A connection ended: the broker handles the will and the session; in-flight state of a
    /// persistent session is parked until its client returns.
    fn disconnect(
        &mut self,
        conn: ConnId,
        (kind, reason): (DisconnectKind, Option<ReasonCode>),
        session_expiry: Option<u32>,
        session: ServerSession,
        inflight: InFlightSeqs,
    ) {
        let client_id = self.broker.client_id(conn).cloned();
        // A connection taken over hands its in-flight state to the one that took it over.
        let (mut unacked, mut drop_rows) = (Vec::new(), Vec::new());
        let (session, inflight) = if self.late_takeovers.remove(&conn) {
            (unacked, drop_rows) = self.late_unacknowledged(conn, session, &inflight);
            Default::default()
        } else {
            self.hand_over(conn, session, inflight).unwrap_or_default()
        };
        let live = self.conns.remove(&conn);
        if let Some(live) = &live {
            self.untrack_expiry(conn, live.expires);
        }
        self.broker
            .handle_disconnect(conn, kind, session_expiry, unacked, self.clock.now());
        if let Some(client_id) = client_id
            && self.broker.session_state(&client_id) == Some(false)
            && (session.pending_deliveries() > 0 || session.pending_received() > 0)
        {
            self.parked.insert(client_id, (session, inflight));
        }
        if let Some(Live {
            principal,
            client_id,
            ticket: Some(ticket),
            ..
        }) = live
        {
            self.announce_disconnected(&principal, &client_id, ticket, kind, reason);
        }
        self.carry_out_effects(None);
        if !drop_rows.is_empty() {
            storage::submit(&self.writer, &self.disk, drop_rows, |result| {
                if let Err(e) = result {
                    storage::failed("could not drop handed-over deliveries from disk", &e);
                }
            });
        }
    }

    /// A durable delivery was acknowledged (or will never be sent): drop it from disk.
    fn acked(&mut self, conn: ConnId, seq: u64) {
        let Some(client_id) = self
            .conns
            .get(&conn)
            .and_then(|l| l.durable.then_some(&l.client_id))
        else {
            return;
        };
        let ack = WriteOp::Ack {
            client_id: client_id.to_string(),
            seq,
        };
        storage::submit(&self.writer, &self.disk, vec![ack], |result| {
            if let Err(e) = result {
                storage::failed("could not drop an acknowledged delivery", &e);
            }
        });
    }

    fn live_certificates(&self, reply: oneshot::Sender<Vec<(ConnId, String)>>) {
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

    fn set_policies(&mut self, certificate_id: &str, policies: Arc<DevicePolicies>) {
        self.broker
            .authorizer_mut()
            .set_policies(certificate_id, policies);
    }

    /// A message the server publishes itself; the reply comes once its durable changes are
    /// committed.
    fn server_publish(&mut self, message: broker_core::Message, reply: oneshot::Sender<usize>) {
        let delivered = self.broker.handle_server_publish(message, self.clock.now());
        self.carry_out_effects(None);
        // The writer commits in order: this empty batch completes after the publish's.
        self.writer.submit(Vec::new(), move |_| {
            let _ = reply.send(delivered);
        });
    }

    /// Close every connection; `run` ends once they are gone.
    fn shutdown(&mut self) {
        self.shutting_down = true;
        for live in self.conns.values() {
            let _ = live
                .to_conn
                .send(ToConn::Close(ReasonCode::ServerShuttingDown));
        }
    }

    fn send(&self, conn: ConnId, message: ToConn) {
        if let Some(live) = self.conns.get(&conn) {
            // A closed channel means the task is ending; its Disconnect command follows.
            let _ = live.to_conn.send(message);
        }
    }
}
