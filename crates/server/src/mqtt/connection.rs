//! One client connection after its transport is ready (TLS handshake done, or plain TCP): take
//! the CONNECT (`first_packet.rs`), ask the router, answer with CONNACK, then drive
//! `mqtt_proto`'s `ServerConnection` — bytes in, packets out, keep-alive — relaying publishes
//! and subscriptions to the router and its deliveries back. When the connection ends, for
//! whatever reason, the router hears how (so wills and sessions are handled) and gets the
//! in-flight state back. Nothing here decides policy; it moves packets and reports.

use std::cell::RefCell;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use broker_core::{ConnId, DisconnectKind, Limits};
use bytes::BytesMut;
use mqtt_proto::session::Message as SessionMessage;
use mqtt_proto::session::server::{DeliveryOutcome, ServerConfig, ServerConnection, ServerEvent};
use mqtt_proto::time::Instant;
use mqtt_proto::{ConnAck, Disconnect, ReasonCode, SubAck, UnsubAck};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

use super::router::{Command, ConnectReply, InFlightSeqs, ToConn};
use super::{first_packet, linger};
use crate::auth::Principal;
use crate::clock::Clock;
use crate::faults::{ConnectionFaults, Observed};
use crate::metrics::Metrics;

/// The largest read: one TLS record's plaintext (what one `SSL_read` returns at most).
const READ_CHUNK: usize = 16 * 1024;

/// A write buffer larger than this after a burst is given back rather than kept for the next.
/// Idle connections never come near it; below it, a subscriber that gets bursts (fan-out)
/// keeps its buffer instead of growing a new one from nothing for every burst, which took
/// 8 % of the broker's time in malloc and copies at 8 KiB.
const KEEP_TX_CAPACITY: usize = 64 * 1024;

thread_local! {
    /// One receive buffer per worker thread. A read hands what arrived to the session at once
    /// (it keeps partial packets itself), so an idle connection owns no receive buffer.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// Router messages applied at most per wake before the connection writes: large enough that
/// a busy subscriber's deliveries share records and sends, small enough that its reads and
/// keep-alive are not starved.
const ROUTER_BATCH: usize = 256;

/// Settings every connection shares.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// The broker's limits (CONNACK properties).
    pub limits: Limits,
    /// Largest packet accepted; larger ones are refused from their fixed header.
    pub max_packet_size: u32,
    /// QoS 1/2 publications a client may have unacknowledged (MQTT 5 Receive Maximum).
    pub receive_maximum: u16,
    /// How long a client may take to send CONNECT after the transport is up.
    pub connect_timeout: Duration,
    /// Fault plans per client, looked up once per CONNECT (here rather than in [`Shared`], so
    /// that a connection's own state does not grow by it).
    pub faults: crate::faults::Faults,
}

/// What every connection task needs from the server.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The router.
    pub router: mpsc::Sender<Command>,
    /// The broker clock.
    pub clock: Clock,
    /// Connection settings.
    pub settings: Arc<ConnectionSettings>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Where refusals are recorded (DATA_DIR/refusals.jsonl, written off this task).
    pub refusals: refusals::Recorder,
}

/// Serves one connection to its end.
pub async fn serve<S>(mut stream: S, conn: ConnId, principal: Principal, shared: Shared)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Two phases in two futures: whatever the CONNECT exchange needed (the CONNECT itself,
    // the router's reply, the read buffer) is gone before the long idle life of the
    // connection, whose state is what every connected device costs.
    // The CONNECT phase is boxed so that its state does not set the size of this future.
    let Some((live, faults)) = Box::pin(establish(&mut stream, conn, &principal, &shared)).await
    else {
        return;
    };
    // The loop is generic over how it writes, so a connection without a fault plan (every
    // connection unless a test set one) carries no trace of one: one branch here, per
    // connection, and none per packet. A connection with a plan runs boxed.
    match faults {
        None => run(stream, conn, live, &shared, Plain).await,
        Some(plan) => Box::pin(run(stream, conn, live, &shared, plan)).await,
    }
}

/// What a connection keeps once its CONNECT is answered.
struct Live {
    session_conn: ServerConnection,
    ending: Ending,
    from_router: mpsc::UnboundedReceiver<ToConn>,
}

/// Reads the CONNECT, asks the router, queues the CONNACK; returns the connection with its
/// client's fault plan, if one is set. None when the connection ends here.
async fn establish<S>(
    stream: &mut S,
    conn: ConnId,
    principal: &Principal,
    shared: &Shared,
) -> Option<(Live, Option<Box<ConnectionFaults>>)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let settings = Arc::clone(&shared.settings);
    let (connect, rx) =
        first_packet::receive_connect(stream, &settings, principal, &shared.refusals).await?;
    let protocol = connect.protocol;
    let faults = settings
        .faults
        .plan_for(connect.client_id.as_str(), principal.certificate_id())
        .map(Box::new);
    if let Some(reason) = faults.as_ref().and_then(|f| f.refuse_connect()) {
        tracing::info!(?principal, client_id = %connect.client_id, "CONNECT refused by a fault plan: {reason:?}");
        first_packet::refuse(stream, protocol, reason).await;
        return None;
    }
    let (to_conn, from_router) = mpsc::unbounded_channel();
    let (reply_tx, reply_rx) = oneshot::channel();
    let command = Command::Connect {
        conn,
        connect: Box::new(connect.clone()),
        principal: principal.clone(),
        to_conn,
        reply: reply_tx,
    };
    if shared.router.send(command).await.is_err() {
        return None;
    }
    let Ok(reply) = reply_rx.await else {
        return None;
    };
    let now = shared.clock.now();
    let (connected, session, inflight) = match reply {
        ConnectReply::Accepted {
            connected,
            session,
            inflight,
        } => (connected, session, inflight),
        ConnectReply::Refused(reason) => {
            tracing::info!(?principal, client_id = %connect.client_id, "CONNECT refused: {reason}");
            first_packet::refuse(stream, protocol, reason).await;
            return None;
        }
    };

    let mut session_conn = ServerConnection::new(&connect, session, ServerConfig::default(), now);
    let mut properties = connected.connack_properties(&settings.limits);
    properties.receive_maximum = Some(settings.receive_maximum);
    properties.maximum_packet_size = Some(settings.max_packet_size);
    let connack = ConnAck {
        session_present: connected.session_present,
        reason: ReasonCode::Success,
        properties,
    };
    if let Err(e) = session_conn.send_connack(connack) {
        // The session has closed; the loop below tells the router the connection ended.
        tracing::info!(?principal, client_id = %connected.client_id, "closing without CONNACK: {e}");
    }
    if let Some(faults) = &faults {
        faults.observe(|| {
            Some(Observed::Connected {
                client_id: connected.client_id.to_string(),
                clean_start: connect.clean_start,
                session_present: connected.session_present,
            })
        });
    }
    if !rx.is_empty() {
        session_conn.handle_bytes(&rx, now);
    }
    tracing::debug!(?principal, client_id = %connected.client_id, %protocol, "connected");

    let live = Live {
        session_conn,
        ending: Ending {
            inflight,
            ..Ending::default()
        },
        from_router,
    };
    Some((live, faults))
}

/// Drives an established connection to its end and tells the router how it ended.
async fn run<S, T>(mut stream: S, conn: ConnId, live: Live, shared: &Shared, mut transmit: T)
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: Transmit,
{
    let Live {
        mut session_conn,
        mut ending,
        mut from_router,
    } = live;
    // Buffers grow with traffic and start small: most device connections sit idle.
    let mut tx = BytesMut::new();
    loop {
        // The router hears what the client sent before the client reads the answers to it: a
        // client that has its PINGRESP (or any reply) may act on it at once, for instance
        // through another connection, and the router must by then hold what came before (a
        // retained PUBLISH that another connection's SUBSCRIBE must find cleared).
        let relayed = relay_events(&mut session_conn, conn, shared, &mut ending, &transmit).await;
        if transmit
            .flush(&mut stream, &mut session_conn, &mut tx)
            .await
            .is_err()
        {
            ending.kind.get_or_insert(DisconnectKind::Lost);
            session_conn.connection_lost(shared.clock.now());
            break;
        }
        if !relayed {
            break;
        }
        if session_conn.is_closed() {
            let _ = transmit
                .flush(&mut stream, &mut session_conn, &mut tx)
                .await;
            break;
        }
        let deadline = session_conn
            .poll_timeout()
            .map(|at| shared.clock.deadline(at));
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = std::future::poll_fn(|cx| poll_read_bytes(&mut stream, cx)) => match read {
                Ok(data) if !data.is_empty() => {
                    session_conn.handle_bytes(&data, shared.clock.now());
                }
                Ok(_) | Err(_) => {
                    ending.kind.get_or_insert(DisconnectKind::Lost);
                    session_conn.connection_lost(shared.clock.now());
                    break;
                }
            },
            message = from_router.recv() => match message {
                Some(message) => {
                    let now = shared.clock.now();
                    apply(&mut session_conn, message, &mut ending, now);
                    // Take whatever else the router has queued before writing, so a burst of
                    // deliveries or acknowledgements leaves in one TLS record and one send
                    // instead of one each.
                    for _ in 1..ROUTER_BATCH {
                        match from_router.try_recv() {
                            Ok(message) => apply(&mut session_conn, message, &mut ending, now),
                            Err(_) => break,
                        }
                    }
                }
                None => break,
            },
            () = timer => session_conn.handle_timeout(shared.clock.now()),
        }
    }
    transmit.observe(|| Some(Observed::Closed));
    let kind = ending.kind.unwrap_or(DisconnectKind::Lost);
    // The server ended it with a reason the client should be able to read (a DISCONNECT in
    // MQTT 5, the silent close of 3.1.1 alike): close without a reset.
    let reasoned = ending.server_reason.is_some() || kind == DisconnectKind::KeepAliveTimeout;
    let session = session_conn.into_session();
    let ended = Command::Disconnect {
        conn,
        kind,
        reason: ending.server_reason,
        violation: ending.violation,
        session_expiry: ending.session_expiry,
        session,
        inflight: ending.inflight,
    };
    // The router hears first, so that wills, takeovers and sessions do not wait for the
    // linger.
    to_router(&shared.router, ended).await;
    if reasoned {
        linger::close_gracefully(&mut stream).await;
    } else {
        let _ = stream.shutdown().await;
    }
}

/// What the connection task learns along the way: how it is ending, and which durable
/// deliveries are in flight.
#[derive(Debug, Default)]
struct Ending {
    kind: Option<DisconnectKind>,
    /// Why the server closed the connection, when it did.
    server_reason: Option<ReasonCode>,
    /// The protocol rule the client broke, when that is why.
    violation: Option<String>,
    session_expiry: Option<u32>,
    /// Durable sequence numbers of deliveries in flight, by packet id.
    inflight: InFlightSeqs,
    /// Durable deliveries finished (acknowledged, or too large to send) and not yet reported.
    finished: Vec<u64>,
}

impl Ending {
    /// The server is closing the connection for `reason` (the first reason wins).
    fn server_closes(&mut self, reason: ReasonCode) {
        self.kind.get_or_insert(DisconnectKind::ServerClose);
        self.server_reason.get_or_insert(reason);
    }
}

/// How a connection writes what its session sends: plainly, or shaped by a fault plan.
trait Transmit {
    /// Writes everything the session wants to send.
    fn flush<'a, S: AsyncWrite + Unpin>(
        &'a mut self,
        stream: &'a mut S,
        session: &'a mut ServerConnection,
        tx: &'a mut BytesMut,
    ) -> impl std::future::Future<Output = std::io::Result<()>> + 'a;

    /// Tells a fault plan's observer what the client did (nothing without a plan).
    fn observe(&self, _event: impl FnOnce() -> Option<Observed>) {}
}

/// Every connection without a fault plan: a zero-sized [`Transmit`].
struct Plain;

impl Transmit for Plain {
    fn flush<'a, S: AsyncWrite + Unpin>(
        &'a mut self,
        stream: &'a mut S,
        session: &'a mut ServerConnection,
        tx: &'a mut BytesMut,
    ) -> impl std::future::Future<Output = std::io::Result<()>> + 'a {
        flush(stream, session, tx)
    }
}

impl Transmit for Box<ConnectionFaults> {
    fn flush<'a, S: AsyncWrite + Unpin>(
        &'a mut self,
        stream: &'a mut S,
        session: &'a mut ServerConnection,
        tx: &'a mut BytesMut,
    ) -> impl std::future::Future<Output = std::io::Result<()>> + 'a {
        flush_faulty(stream, session, tx, self)
    }

    fn observe(&self, event: impl FnOnce() -> Option<Observed>) {
        ConnectionFaults::observe(self, event);
    }
}

/// Writes everything the session wants to send.
async fn flush<S: AsyncWrite + Unpin>(
    stream: &mut S,
    session: &mut ServerConnection,
    tx: &mut BytesMut,
) -> std::io::Result<()> {
    while session.poll_transmit(tx) {}
    if tx.is_empty() {
        return Ok(());
    }
    stream.write_all(tx).await?;
    if tx.capacity() > KEEP_TX_CAPACITY {
        *tx = BytesMut::new();
    } else {
        tx.clear();
    }
    stream.flush().await
}

/// [`flush`] under a fault plan: withheld packets left out, a delay waited, the connection
/// dropped (an error, so the loop ends as for a lost connection) past the byte limit.
async fn flush_faulty<S: AsyncWrite + Unpin>(
    stream: &mut S,
    session: &mut ServerConnection,
    tx: &mut BytesMut,
    faults: &mut ConnectionFaults,
) -> std::io::Result<()> {
    {
        while session.poll_transmit(tx) {}
        if tx.is_empty() {
            return Ok(());
        }
        let shaped = faults.shape(tx);
        if let Some(wait) = shaped.wait {
            tokio::time::sleep(wait).await;
        }
        let written = stream.write_all(tx).await;
        tx.clear();
        written?;
        stream.flush().await?;
        if shaped.drop {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "a fault plan's byte limit was reached",
            ));
        }
        Ok(())
    }
}

/// Reads what the stream has into the worker's scratch buffer and returns a copy of exactly
/// that much; empty at end of stream.
fn poll_read_bytes<S: AsyncRead + Unpin>(
    stream: &mut S,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<Vec<u8>>> {
    SCRATCH.with_borrow_mut(|scratch| {
        let mut buf = ReadBuf::new(scratch);
        match Pin::new(stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().to_vec())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
}

/// Passes the session's events to the router. False when the router is gone.
async fn relay_events(
    session: &mut ServerConnection,
    conn: ConnId,
    shared: &Shared,
    ending: &mut Ending,
    transmit: &impl Transmit,
) -> bool {
    loop {
        let wait = match relay_ready(session, conn, &shared.router, ending, transmit) {
            Relay::Done => return true,
            Relay::Closed => return false,
            Relay::Full(command) => wait_for_room(&shared.router, command),
        };
        if !wait.await {
            return false;
        }
    }
}

/// How far [`relay_ready`] got. Short-lived and returned by value: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Relay {
    /// Every event is with the router.
    Done,
    /// The router is gone.
    Closed,
    /// The router's queue is full; this command is next, the rest wait in the session.
    Full(Command),
}

/// Hands the router everything that fits in its queue now.
fn relay_ready(
    session: &mut ServerConnection,
    conn: ConnId,
    router: &mpsc::Sender<Command>,
    ending: &mut Ending,
    transmit: &impl Transmit,
) -> Relay {
    let send = |command| match router.try_send(command) {
        Ok(()) => None,
        Err(TrySendError::Full(command)) => Some(Relay::Full(command)),
        Err(TrySendError::Closed(_)) => Some(Relay::Closed),
    };
    while let Some(seq) = ending.finished.pop() {
        if let Some(stop) = send(Command::Acked { conn, seq }) {
            return stop;
        }
    }
    while let Some(event) = session.poll_event() {
        // Told as the router is handed the packet, in the same step: whatever an observer
        // makes the broker do next reaches the router after it.
        transmit.observe(|| observed(&event));
        let command = match event {
            ServerEvent::Publish(publish) => Command::Publish { conn, publish },
            ServerEvent::Subscribe(subscribe) => Command::Subscribe { conn, subscribe },
            ServerEvent::Unsubscribe(unsubscribe) => Command::Unsubscribe { conn, unsubscribe },
            ServerEvent::Delivered { packet_id, .. } | ServerEvent::Expired { packet_id, .. } => {
                match ending.inflight.remove(&packet_id.get()) {
                    Some(seq) => Command::Acked { conn, seq },
                    None => continue,
                }
            }
            ServerEvent::Disconnected { reason, properties } => {
                ending.kind = Some(if reason == ReasonCode::DisconnectWithWill {
                    DisconnectKind::GracefulWithWill
                } else {
                    DisconnectKind::Graceful
                });
                ending.session_expiry = properties.session_expiry_interval;
                continue;
            }
            ServerEvent::Auth(_) => {
                // Enhanced authentication is not offered (no method accepted at CONNECT).
                let _ = session.disconnect(Disconnect::new(ReasonCode::ProtocolError));
                ending.server_closes(ReasonCode::ProtocolError);
                continue;
            }
            ServerEvent::KeepAliveExpired => {
                ending.kind = Some(DisconnectKind::KeepAliveTimeout);
                continue;
            }
            ServerEvent::ProtocolError(violation) => {
                // Recorded by the router when this connection's end reaches it.
                ending.server_closes(violation.reason_code());
                ending
                    .violation
                    .get_or_insert_with(|| violation.to_string());
                continue;
            }
        };
        if let Some(stop) = send(command) {
            return stop;
        }
    }
    Relay::Done
}

/// What an observer is told of a session event, if anything.
fn observed(event: &ServerEvent) -> Option<Observed> {
    Some(match event {
        ServerEvent::Publish(publish) => Observed::Publish {
            topic: publish.topic.as_str().to_owned(),
            qos: match publish.delivery {
                mqtt_proto::Delivery::AtMostOnce => 0,
                mqtt_proto::Delivery::AtLeastOnce(_) => 1,
                mqtt_proto::Delivery::ExactlyOnce(_) => 2,
            },
            payload: publish.payload.to_vec(),
        },
        ServerEvent::Subscribe(subscribe) => Observed::Subscribe {
            filters: subscribe
                .filters
                .iter()
                .map(|(f, _)| f.as_str().to_owned())
                .collect(),
            packet_id: subscribe.packet_id.get(),
        },
        ServerEvent::Delivered { packet_id, .. } => Observed::Delivered {
            packet_id: packet_id.get(),
        },
        ServerEvent::Disconnected { .. } => Observed::Disconnected,
        _ => return None,
    })
}

/// Waits for room in the router's queue and sends `command`. Boxed: the wait is rare, and its
/// state (with the command in it) would otherwise take room in every connection's future.
fn wait_for_room(
    router: &mpsc::Sender<Command>,
    command: Command,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + '_>> {
    Box::pin(async move { router.send(command).await.is_ok() })
}

/// Sends `command` to the router, waiting for room if its queue is full.
async fn to_router(router: &mpsc::Sender<Command>, command: Command) -> bool {
    let wait = match router.try_send(command) {
        Ok(()) => return true,
        Err(TrySendError::Closed(_)) => return false,
        Err(TrySendError::Full(command)) => wait_for_room(router, command),
    };
    wait.await
}

/// Applies one message from the router to the session.
fn apply(session: &mut ServerConnection, message: ToConn, ending: &mut Ending, now: Instant) {
    let result = match message {
        ToConn::Deliver(delivery, seq) => {
            let mut properties = delivery.message.properties.clone();
            properties.subscription_identifiers = delivery.subscription_ids;
            let message = SessionMessage {
                topic: delivery.message.topic.clone(),
                qos: delivery.qos,
                retain: delivery.retain,
                payload: delivery.message.payload.clone(),
                properties,
            };
            // The session sends what is left of the expiry interval when the message leaves,
            // which may be later than now (a full Receive Maximum window).
            let expires_at = delivery.message.expires_at;
            session
                .deliver(message, expires_at, now)
                .map(|outcome| match (outcome, seq) {
                    (DeliveryOutcome::Accepted(packet_id), Some(seq)) => {
                        ending.inflight.insert(packet_id.get(), seq);
                    }
                    (DeliveryOutcome::TooLarge { .. }, Some(seq)) => ending.finished.push(seq),
                    _ => {}
                })
        }
        ToConn::PublishDone { packet_id, reason } => {
            if reason.is_error() && !session.protocol().is_v5() {
                // MQTT 3.1.1 cannot refuse a PUBLISH in its PUBACK: close instead.
                ending.server_closes(reason);
                session.disconnect(Disconnect::new(reason))
            } else {
                session.ack_publish(packet_id, reason)
            }
        }
        ToConn::SubAck { packet_id, reasons } => session.suback(SubAck {
            packet_id,
            properties: Default::default(),
            reasons,
        }),
        ToConn::UnsubAck { packet_id, reasons } => session.unsuback(UnsubAck {
            packet_id,
            properties: Default::default(),
            reasons,
        }),
        ToConn::Close(reason) => {
            ending.server_closes(reason);
            session.disconnect(Disconnect::new(reason))
        }
        ToConn::Batch(messages) => {
            for message in messages {
                apply(session, message, ending, now);
            }
            Ok(())
        }
    };
    if let Err(e) = result {
        tracing::debug!("session refused a router message: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commands_wait_for_room_in_the_routers_queue() {
        let (router, mut queue) = mpsc::channel(1);
        let acked = |seq| Command::Acked {
            conn: ConnId(7),
            seq,
        };
        assert!(to_router(&router, acked(1)).await, "room: sent at once");
        let waiting = tokio::spawn({
            let router = router.clone();
            async move { to_router(&router, acked(2)).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "a full queue makes the sender wait");
        for want in [1, 2] {
            match queue.recv().await {
                Some(Command::Acked { seq, .. }) => assert_eq!(seq, want),
                other => panic!("expected Acked {want}, got {other:?}"),
            }
        }
        assert!(waiting.await.unwrap());
        drop(queue);
        assert!(
            !to_router(&router, acked(3)).await,
            "a closed router refuses"
        );
    }
}
