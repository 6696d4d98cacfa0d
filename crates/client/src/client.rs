//! The async shell around `mqtt_proto`'s sans-IO [`ClientSession`]: one owner drives the socket,
//! the session's timers and the queues of received messages and acknowledgements, and
//! reconnects with backoff when asked to. There is no background task: every `async` method
//! drives the connection while it waits, so keep-alive runs whenever the caller waits on the
//! client (use [`Client::idle`] to wait without a command). It does not parse command lines or
//! print; observers see packets for `-d` style logs.

use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use mqtt_proto::properties::{ConnAckProperties, SubscribeProperties, UnsubscribeProperties};
use mqtt_proto::session::AbandonReason;
use mqtt_proto::session::client::Event;
use mqtt_proto::{
    ClientSession, Decoder, Disconnect, MAX_PACKET_SIZE, Message, Packet, PacketId, PacketType,
    Publish, ReasonCode, SubAck, SubscriptionOptions, TopicFilter, UnsubAck,
};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Sleep;

use crate::error::Error;
use crate::options::{ConnectOptions, Jitter, Reconnect};
use crate::transport::{Connector, Stream};

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;
/// How long `disconnect` waits for DISCONNECT to leave.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(5);
/// Acknowledgements nobody waits for (re-subscriptions) are kept at most this many.
const MAX_UNCLAIMED_ACKS: usize = 16;

/// Which way a packet went, for observers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// This client sent it.
    Sent,
    /// The server sent it.
    Received,
}

/// Sees every packet sent and received (as decoded from the wire), e.g. to print `-d` logs.
/// Setting one costs a second decode of all traffic; without one nothing is decoded twice.
pub type Observer = Box<dyn FnMut(Direction, &Packet) + Send>;

/// What the server said in its CONNACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// Whether the server resumed an earlier session.
    pub session_present: bool,
    /// CONNACK properties (MQTT 5): limits, assigned client id, server keep-alive.
    pub properties: ConnAckProperties,
}

/// How an outgoing QoS 1/2 flow ended.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Completion {
    packet_id: Option<PacketId>,
    outcome: Result<ReasonCode, AbandonReason>,
}

/// What one round of IO produced.
enum Io {
    Read(usize),
    Wrote,
    Timer,
    Eof,
    Failed(std::io::Error),
}

/// An MQTT connection.
///
/// ```no_run
/// # async fn demo() -> Result<(), client::Error> {
/// use client::{Client, ConnectOptions, Message, QoS, TopicName};
/// let mut client = Client::connect(ConnectOptions::default()).await?;
/// let topic = TopicName::new("sensors/1").expect("valid topic");
/// client.publish(Message::new(topic, QoS::AtLeastOnce, "21.5")).await?;
/// client.disconnect().await
/// # }
/// ```
pub struct Client {
    session: ClientSession,
    connector: Connector,
    stream: Option<Stream>,
    reconnect: Option<Reconnect>,
    jitter: Jitter,
    epoch: tokio::time::Instant,
    timer: Pin<Box<Sleep>>,
    scratch: Box<[u8]>,
    tx: BytesMut,
    /// A write failed; the next read may still explain why (a TLS alert sent before the
    /// server closed), so the error waits for it.
    write_error: Option<std::io::Error>,
    /// Set by an event that ended the connection; handled by the next `step`.
    failure: Option<Error>,
    /// CONNACK of the current connection (None while connecting).
    connected: Option<Connected>,
    has_connected: bool,
    incoming: VecDeque<Publish>,
    completions: VecDeque<Completion>,
    acks: VecDeque<Event>,
    abandoned_requests: Vec<PacketId>,
    subscriptions: Vec<(TopicFilter, SubscriptionOptions)>,
    observer: Option<Observer>,
    trace_in: Decoder,
    trace_out: Decoder,
    trace_rx: BytesMut,
    trace_tx: BytesMut,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.connector.host)
            .field("port", &self.connector.port)
            .field("state", &self.session.state())
            .field("inflight", &self.session.inflight())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects and waits for the server's CONNACK. A refusal is an [`Error::Refused`].
    pub async fn connect(options: ConnectOptions) -> Result<Client, Error> {
        Client::connect_observed(options, None).await
    }

    /// Like [`Client::connect`], with an observer that sees every packet from CONNECT on.
    pub async fn connect_observed(
        options: ConnectOptions,
        observer: Option<Observer>,
    ) -> Result<Client, Error> {
        let connector = Connector::new(&options)?;
        let protocol = options.mqtt.protocol;
        let epoch = tokio::time::Instant::now();
        let mut client = Client {
            session: ClientSession::new(options.mqtt),
            connector,
            stream: None,
            reconnect: options.reconnect,
            jitter: Jitter::new(),
            epoch,
            timer: Box::pin(tokio::time::sleep_until(
                epoch + Duration::from_secs(86_400),
            )),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            tx: BytesMut::with_capacity(READ_CHUNK),
            write_error: None,
            failure: None,
            connected: None,
            has_connected: false,
            incoming: VecDeque::new(),
            completions: VecDeque::new(),
            acks: VecDeque::new(),
            abandoned_requests: Vec::new(),
            subscriptions: Vec::new(),
            observer,
            trace_in: Decoder::new(protocol, MAX_PACKET_SIZE),
            trace_out: Decoder::new(protocol, MAX_PACKET_SIZE),
            trace_rx: BytesMut::new(),
            trace_tx: BytesMut::new(),
        };
        client.open_session().await?;
        Ok(client)
    }

    /// The CONNACK of the current connection.
    pub fn connack(&self) -> Option<&Connected> {
        self.connected.as_ref()
    }

    /// The client id in use: the one the server assigned (MQTT 5), else the configured one.
    pub fn client_id(&self) -> &str {
        self.connected
            .as_ref()
            .and_then(|c| c.properties.assigned_client_identifier.as_ref())
            .map_or(self.session.config().client_id.as_str(), |id| id.as_str())
    }

    /// The underlying session (limits, in-flight counts).
    pub fn session(&self) -> &ClientSession {
        &self.session
    }

    /// Publishes and waits until the flow completes: PUBACK for QoS 1, PUBCOMP for QoS 2, the
    /// bytes handed to the socket for QoS 0. A failure reason from the server is an error.
    pub async fn publish(&mut self, message: Message) -> Result<(), Error> {
        match self.start_publish(message)? {
            None => self.flush_writes().await,
            Some(id) => loop {
                if let Some(index) = self
                    .completions
                    .iter()
                    .position(|c| c.packet_id == Some(id))
                    && let Some(completion) = self.completions.remove(index)
                {
                    return completion_result(completion);
                }
                self.step().await?;
            },
        }
    }

    /// Queues a message without waiting; returns its packet id (QoS 1/2). Pair with
    /// [`Client::wait_pending_below`] or [`Client::flush`] to learn how the flows ended.
    pub fn start_publish(&mut self, message: Message) -> Result<Option<PacketId>, Error> {
        let id = self.session.publish(message)?;
        self.pump();
        Ok(id)
    }

    /// Unfinished outgoing QoS 1/2 messages (in flight or waiting for a window slot).
    pub fn pending(&self) -> usize {
        self.session.inflight() + self.session.queued()
    }

    /// Drives the connection until fewer than `limit` QoS 1/2 messages are unfinished and the
    /// send buffer is below 64 KiB; reports the first refused message since the last call.
    pub async fn wait_pending_below(&mut self, limit: usize) -> Result<(), Error> {
        while self.pending() >= limit.max(1) || self.tx.len() > 64 * 1024 {
            self.step().await?;
        }
        self.take_failures()
    }

    /// How the outgoing QoS 1/2 flows ended since the last call, in the order they ended: the
    /// packet id (as [`Client::start_publish`] returned it) with `Ok` for a success reason, an
    /// [`Error::PublishRefused`] for a failure reason, or an [`Error::PublishAbandoned`]. For a
    /// caller that keeps its own record of what it sent and must know which message the server
    /// took (a bridge forgets a queued message only then). Do not mix with
    /// [`Client::publish`], [`Client::flush`] or [`Client::wait_pending_below`] on the same
    /// client: whichever looks first takes a completion.
    pub fn take_completed(&mut self) -> Vec<(Option<PacketId>, Result<(), Error>)> {
        self.completions
            .drain(..)
            .map(|completion| (completion.packet_id, completion_result(completion)))
            .collect()
    }

    /// Drives the connection until every queued message has completed, every received QoS 2
    /// message has its PUBREL, and every byte is written; reports the first refused message.
    pub async fn flush(&mut self) -> Result<(), Error> {
        while self.pending() > 0 || self.session.incoming_pending() > 0 || !self.tx.is_empty() {
            self.step().await?;
        }
        self.take_failures()
    }

    /// Subscribes and waits for the SUBACK, which is returned as is (one code per filter).
    /// Granted subscriptions are renewed after a reconnect that lost the session.
    pub async fn subscribe(
        &mut self,
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
    ) -> Result<SubAck, Error> {
        let mut id = self
            .session
            .subscribe(filters.clone(), SubscribeProperties::default())?;
        self.pump();
        // A connection that ends with the SUBSCRIBE unanswered (and is not recovered) is how
        // some brokers refuse it: say so, with how the connection ended.
        let unanswered = |cause: Error| match cause {
            Error::Closed { .. } | Error::Io { .. } => Error::SubscribeUnanswered {
                filters: filters.iter().map(|(f, _)| f.to_string()).collect(),
                cause: Box::new(cause),
            },
            other => other,
        };
        loop {
            if let Some(ack) = self.take_ack(id, PacketType::SubAck) {
                let Event::SubAck(suback) = ack else {
                    continue;
                };
                for ((filter, options), reason) in filters.iter().zip(&suback.reasons) {
                    if !reason.is_error() && !self.subscriptions.iter().any(|(f, _)| f == filter) {
                        self.subscriptions.push((filter.clone(), *options));
                    }
                }
                return Ok(suback);
            }
            self.step().await.map_err(unanswered)?;
            if let Some(index) = self.abandoned_requests.iter().position(|i| *i == id) {
                self.abandoned_requests.swap_remove(index);
                if self.failure.is_some() || self.stream.is_none() {
                    // The connection is gone: reconnect (when configured) before asking again.
                    self.step().await.map_err(unanswered)?;
                }
                id = self
                    .session
                    .subscribe(filters.clone(), SubscribeProperties::default())?;
                self.pump();
            }
        }
    }

    /// Unsubscribes and waits for the UNSUBACK.
    pub async fn unsubscribe(&mut self, filters: Vec<TopicFilter>) -> Result<UnsubAck, Error> {
        self.subscriptions.retain(|(f, _)| !filters.contains(f));
        let id = self
            .session
            .unsubscribe(filters, UnsubscribeProperties::default())?;
        self.pump();
        loop {
            if let Some(Event::UnsubAck(ack)) = self.take_ack(id, PacketType::UnsubAck) {
                return Ok(ack);
            }
            if self.abandoned_requests.contains(&id) {
                return Err(Error::PublishAbandoned {
                    packet_id: Some(id),
                    reason: "the connection was lost before UNSUBACK".to_owned(),
                });
            }
            self.step().await?;
        }
    }

    /// The next application message (QoS 2 ones exactly once). Cancel-safe: nothing is lost
    /// when the future is dropped, so it can sit in `tokio::select!` with a timeout.
    pub async fn recv(&mut self) -> Result<Publish, Error> {
        loop {
            if let Some(message) = self.incoming.pop_front() {
                return Ok(message);
            }
            self.step().await?;
        }
    }

    /// The next application message, or `None` as soon as an outgoing QoS 1/2 flow has ended
    /// (read how with [`Client::take_completed`]): for a caller that publishes and receives on
    /// one connection and must hear of either without waiting for the other. Cancel-safe like
    /// [`Client::recv`].
    pub async fn next_event(&mut self) -> Result<Option<Publish>, Error> {
        loop {
            if let Some(message) = self.incoming.pop_front() {
                return Ok(Some(message));
            }
            if !self.completions.is_empty() {
                return Ok(None);
            }
            self.step().await?;
        }
    }

    /// Keeps the connection alive for `duration` (keep-alive, acknowledgements, buffering of
    /// received messages) without a command.
    pub async fn idle(&mut self, duration: Duration) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + duration;
        loop {
            match tokio::time::timeout_at(deadline, self.step()).await {
                Ok(result) => result?,
                Err(_) => return Ok(()),
            }
        }
    }

    /// Sends DISCONNECT and closes the connection (TLS close_notify included). Unfinished
    /// QoS 1/2 flows are dropped with the client; call [`Client::flush`] first to finish them.
    pub async fn disconnect(mut self) -> Result<(), Error> {
        if self.stream.is_none() {
            return Ok(());
        }
        self.session.disconnect(Disconnect::default())?;
        self.pump();
        let goodbye = async {
            while !self.tx.is_empty() {
                match poll_fn(|cx| self.poll_io(cx)).await {
                    Io::Eof | Io::Failed(_) => break,
                    Io::Read(_) | Io::Wrote | Io::Timer => {}
                }
            }
            if let Some(stream) = self.stream.as_mut() {
                let _ = stream.shutdown().await;
            }
        };
        let _ = tokio::time::timeout(GOODBYE_TIMEOUT, goodbye).await;
        Ok(())
    }

    fn now(&self) -> mqtt_proto::Instant {
        let elapsed = self.epoch.elapsed().as_millis();
        mqtt_proto::Instant::from_millis(u64::try_from(elapsed).unwrap_or(u64::MAX))
    }

    /// Opens a transport and waits for CONNACK.
    async fn open_session(&mut self) -> Result<(), Error> {
        self.stream = Some(self.connector.open().await?);
        self.tx.clear();
        self.write_error = None;
        self.connected = None;
        self.trace_in = Decoder::new(self.session.config().protocol, MAX_PACKET_SIZE);
        self.trace_out = Decoder::new(self.session.config().protocol, MAX_PACKET_SIZE);
        self.trace_rx.clear();
        self.trace_tx.clear();
        let now = self.now();
        self.session.connect(now)?;
        self.pump();
        while self.connected.is_none() {
            if let Some(error) = self.failure.take() {
                self.stream = None;
                return Err(error);
            }
            self.io_round("waiting for CONNACK").await;
        }
        Ok(())
    }

    /// One round of IO, then recovery (reconnect or error) if the connection ended.
    async fn step(&mut self) -> Result<(), Error> {
        if self.failure.is_none() && self.stream.is_none() {
            self.failure = Some(self.closed_error());
        }
        if let Some(error) = self.failure.take() {
            return self.recover(error).await;
        }
        self.io_round("while connected").await;
        Ok(())
    }

    async fn io_round(&mut self, during: &'static str) {
        let io = poll_fn(|cx| self.poll_io(cx)).await;
        let now = self.now();
        match io {
            Io::Read(n) => {
                let data = self.scratch.get(..n).unwrap_or_default();
                if let Some(observer) = self.observer.as_mut() {
                    self.trace_rx.extend_from_slice(data);
                    trace(
                        &mut self.trace_in,
                        &mut self.trace_rx,
                        observer,
                        Direction::Received,
                    );
                }
                self.session.handle_bytes(data, now);
            }
            Io::Timer => self.session.handle_timeout(now),
            Io::Wrote => {}
            Io::Eof => {
                self.session.connection_lost(now);
                if self.failure.is_none() {
                    self.failure = Some(self.closed_error());
                }
            }
            Io::Failed(error) => {
                // A reset is how a close often arrives when the server left unread data.
                let reset = matches!(
                    error.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                );
                let failure = if reset && self.connected.is_none() {
                    self.closed_error()
                } else {
                    self.connector.io_error(&error, during)
                };
                self.session.connection_lost(now);
                if self.failure.is_none() {
                    self.failure = Some(failure);
                }
            }
        }
        self.pump();
    }

    fn closed_error(&self) -> Error {
        let before_connack = self.connected.is_none();
        let hint = if !before_connack {
            Some(
                "the broker gave no reason: another client may have connected with the same client id (-i), or this client broke a rule (AWS IoT and tether serve's aws profile close MQTT 3.1.1 connections on QoS 2, on payloads over 128 KB and on a publish or subscription the policy does not allow), or its certificate was revoked, deactivated or expired (AWS IoT and tether serve then close its connections); with MQTT 5 (-V mqttv5) brokers usually say why"
                    .to_owned(),
            )
        } else if self.connector.is_tls() {
            let mut hint = "the broker dropped the connection before CONNACK: it may not accept this client's certificate (unregistered or inactive on AWS IoT and tether serve) or client id".to_owned();
            if self.connector.lacks_alpn() {
                hint.push_str(
                    "; on port 443 AWS IoT also needs the ALPN protocol x-amzn-mqtt-ca (--alpn x-amzn-mqtt-ca)",
                );
            }
            Some(hint)
        } else if matches!(self.connector.port, 8883 | 443 | 8443) {
            Some(format!(
                "port {} usually expects TLS; give --cafile (and --cert/--key for mutual TLS)",
                self.connector.port
            ))
        } else {
            None
        };
        Error::Closed {
            host: self.connector.host.clone(),
            port: self.connector.port,
            during: if before_connack {
                "before answering CONNECT"
            } else {
                "unexpectedly"
            },
            hint,
        }
    }

    /// After a lost connection: reconnect with backoff when configured and sensible.
    async fn recover(&mut self, error: Error) -> Result<(), Error> {
        self.stream = None;
        self.connected = None;
        let Some(policy) = self.reconnect.clone() else {
            return Err(error);
        };
        if !worth_reconnecting(&error) {
            return Err(error);
        }
        let mut last = error;
        let mut attempt = 0u32;
        loop {
            if policy.max_attempts.is_some_and(|max| attempt >= max) {
                return Err(Error::ReconnectExhausted {
                    attempts: attempt,
                    last: Box::new(last),
                });
            }
            tokio::time::sleep(policy.delay(attempt, self.jitter.next())).await;
            attempt = attempt.saturating_add(1);
            match self.open_session().await {
                Ok(()) => return Ok(()),
                Err(error) if worth_reconnecting(&error) => last = error,
                Err(error) => return Err(error),
            }
        }
    }

    /// Writes pending bytes, reads, and watches the session timer; ready when anything
    /// happened. All state lives in `self`, so dropping the future loses nothing.
    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<Io> {
        let Some(stream) = self.stream.as_mut() else {
            return Poll::Ready(Io::Eof);
        };
        let mut wrote = false;
        while self.write_error.is_none() && !self.tx.is_empty() {
            match Pin::new(&mut *stream).poll_write(cx, &self.tx) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Io::Eof),
                Poll::Ready(Ok(n)) => {
                    self.tx.advance(n.min(self.tx.len()));
                    wrote = true;
                }
                Poll::Ready(Err(error)) => {
                    self.write_error = Some(error);
                    self.tx.clear();
                }
                Poll::Pending => break,
            }
        }
        if wrote
            && self.tx.is_empty()
            && let Poll::Ready(Err(error)) = Pin::new(&mut *stream).poll_flush(cx)
        {
            self.write_error = Some(error);
        }
        let mut buf = ReadBuf::new(&mut self.scratch);
        match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                if n > 0 {
                    return Poll::Ready(Io::Read(n));
                }
                return Poll::Ready(match self.write_error.take() {
                    Some(error) => Io::Failed(error),
                    None => Io::Eof,
                });
            }
            Poll::Ready(Err(error)) => {
                self.write_error = None;
                return Poll::Ready(Io::Failed(error));
            }
            Poll::Pending => {
                if let Some(error) = self.write_error.take() {
                    return Poll::Ready(Io::Failed(error));
                }
            }
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Io::Timer);
        }
        if wrote {
            return Poll::Ready(Io::Wrote);
        }
        Poll::Pending
    }

    /// Moves the session's output into the send buffer, its events into our queues, and
    /// re-arms the timer.
    fn pump(&mut self) {
        loop {
            let before = self.tx.len();
            self.session.poll_transmit(&mut self.tx);
            if let Some(observer) = self.observer.as_mut()
                && let Some(new) = self.tx.get(before..)
            {
                self.trace_tx.extend_from_slice(new);
                trace(
                    &mut self.trace_out,
                    &mut self.trace_tx,
                    observer,
                    Direction::Sent,
                );
            }
            let mut any = false;
            while let Some(event) = self.session.poll_event() {
                any = true;
                self.on_event(event);
            }
            if !any {
                break;
            }
        }
        let deadline = match self.session.poll_timeout() {
            Some(at) => self.epoch + Duration::from_millis(at.as_millis()),
            None => tokio::time::Instant::now() + Duration::from_secs(86_400),
        };
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected {
                session_present,
                properties,
            } => {
                let resubscribe = self.has_connected && !session_present;
                self.has_connected = true;
                self.connected = Some(Connected {
                    session_present,
                    properties,
                });
                if resubscribe && !self.subscriptions.is_empty() {
                    // The server forgot the subscriptions with the session; renew them. The
                    // SUBACK lands among the unclaimed acknowledgements.
                    let filters = self.subscriptions.clone();
                    let _ = self
                        .session
                        .subscribe(filters, SubscribeProperties::default());
                }
            }
            Event::ConnectionRefused { reason, properties } => {
                self.failure = Some(Error::Refused {
                    protocol: self.session.config().protocol,
                    reason,
                    reason_string: properties.reason_string.map(|s| s.as_str().to_owned()),
                });
            }
            Event::Message(publish) => self.incoming.push_back(publish),
            Event::Published {
                packet_id, reason, ..
            } => self.completions.push_back(Completion {
                packet_id: Some(packet_id),
                outcome: Ok(reason),
            }),
            ack @ (Event::SubAck(_) | Event::UnsubAck(_)) => {
                if self.acks.len() >= MAX_UNCLAIMED_ACKS {
                    self.acks.pop_front();
                }
                self.acks.push_back(ack);
            }
            Event::Abandoned {
                packet_id,
                packet,
                reason,
            } => match packet {
                PacketType::Subscribe | PacketType::Unsubscribe => {
                    if let Some(id) = packet_id {
                        self.abandoned_requests.push(id);
                    }
                }
                _ => self.completions.push_back(Completion {
                    packet_id,
                    outcome: Err(reason),
                }),
            },
            Event::Disconnected { reason, properties } => {
                self.failure = Some(Error::DisconnectedByServer {
                    reason,
                    reason_string: properties.reason_string.map(|s| s.as_str().to_owned()),
                });
            }
            Event::TimedOut { waiting_for } => {
                self.failure = Some(Error::Timeout { waiting_for });
            }
            Event::ProtocolError(violation) => {
                self.failure = Some(Error::Protocol(violation));
            }
        }
    }

    fn take_ack(&mut self, id: PacketId, kind: PacketType) -> Option<Event> {
        let index = self.acks.iter().position(|event| match (event, kind) {
            (Event::SubAck(ack), PacketType::SubAck) => ack.packet_id == id,
            (Event::UnsubAck(ack), PacketType::UnsubAck) => ack.packet_id == id,
            _ => false,
        })?;
        self.acks.remove(index)
    }

    /// Drains completions up to the first failure, which becomes the error; later ones stay
    /// for the next call, so a caller that carries on past a refused message hears of each.
    fn take_failures(&mut self) -> Result<(), Error> {
        while let Some(completion) = self.completions.pop_front() {
            completion_result(completion)?;
        }
        Ok(())
    }

    async fn flush_writes(&mut self) -> Result<(), Error> {
        while !self.tx.is_empty() {
            self.step().await?;
        }
        Ok(())
    }
}

fn completion_result(completion: Completion) -> Result<(), Error> {
    match completion.outcome {
        Ok(reason) if reason.is_error() => Err(Error::PublishRefused {
            packet_id: completion.packet_id.unwrap_or(PacketId::MIN),
            reason,
        }),
        Ok(_) => Ok(()),
        Err(reason) => Err(Error::PublishAbandoned {
            packet_id: completion.packet_id,
            reason: abandon_words(&reason),
        }),
    }
}

fn abandon_words(reason: &AbandonReason) -> String {
    match reason {
        AbandonReason::ConnectionLost => "the connection was lost before it was sent".to_owned(),
        AbandonReason::SessionLost => {
            "the server did not resume the session after a reconnect".to_owned()
        }
        AbandonReason::PacketTooLarge { size, maximum } => {
            format!("it is {size} bytes, more than the server's maximum of {maximum}")
        }
        AbandonReason::QosNotSupported => "the server does not support its QoS".to_owned(),
        AbandonReason::RetainNotSupported => {
            "the server does not support retained messages".to_owned()
        }
        AbandonReason::Unencodable(error) => format!("it cannot be encoded: {error}"),
    }
}

/// Lost connections are retried; refusals and certificate problems are not, since retrying
/// cannot fix them.
fn worth_reconnecting(error: &Error) -> bool {
    match error {
        Error::Closed { .. }
        | Error::Io { .. }
        | Error::Timeout { .. }
        | Error::Connect { .. }
        | Error::ConnectTimeout { .. }
        | Error::Resolve { .. }
        | Error::Protocol(_) => true,
        Error::DisconnectedByServer { reason, .. } => !matches!(
            reason,
            ReasonCode::SessionTakenOver | ReasonCode::NotAuthorized | ReasonCode::Banned
        ),
        _ => false,
    }
}

/// Decodes whatever complete packets `buf` holds and shows them to the observer.
fn trace(decoder: &mut Decoder, buf: &mut BytesMut, observer: &mut Observer, direction: Direction) {
    loop {
        match decoder.decode(buf) {
            Ok(Some(packet)) => observer(direction, &packet),
            Ok(None) => break,
            Err(_) => {
                // The session reports malformed input itself; tracing just stops here.
                buf.clear();
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_and_certificate_problems_are_not_retried() {
        assert!(!worth_reconnecting(&Error::Refused {
            protocol: mqtt_proto::Protocol::V5,
            reason: ReasonCode::NotAuthorized,
            reason_string: None,
        }));
        assert!(!worth_reconnecting(&Error::DisconnectedByServer {
            reason: ReasonCode::SessionTakenOver,
            reason_string: None,
        }));
        assert!(worth_reconnecting(&Error::DisconnectedByServer {
            reason: ReasonCode::ServerShuttingDown,
            reason_string: None,
        }));
        assert!(worth_reconnecting(&Error::Timeout {
            waiting_for: PacketType::PingResp
        }));
    }

    #[test]
    fn a_failed_puback_is_an_error_naming_the_reason() {
        let id = PacketId::new(7).unwrap();
        let error = completion_result(Completion {
            packet_id: Some(id),
            outcome: Ok(ReasonCode::NotAuthorized),
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the server refused the message with packet id 7: 0x87 Not authorized"
        );
        assert!(
            completion_result(Completion {
                packet_id: Some(id),
                outcome: Ok(ReasonCode::NoMatchingSubscribers),
            })
            .is_ok()
        );
    }
}
