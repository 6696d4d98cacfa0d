//! The server side of one client connection as a sans-IO state machine, for the broker: the
//! keep-alive deadline, QoS 1/2 flows in both directions (acknowledging a received message only
//! when the broker says it is durable), the client's Receive Maximum and Maximum Packet Size,
//! this server's Receive Maximum, Maximum QoS and Retain Available, and inbound topic aliases.
//! It does not decode or judge the CONNECT (authentication and authorization are the broker's),
//! route messages, persist anything, or alias outgoing topics.

use alloc::vec::Vec;
use core::time::Duration;

use bytes::BytesMut;

use crate::codec::{Decoder, MAX_PACKET_SIZE};
use crate::packet::{
    Auth, ConnAck, Connect, Disconnect, Packet, PacketType, PubAck, Publish, SubAck, Subscribe,
    UnsubAck, Unsubscribe,
};
use crate::properties::{ConnAckProperties, DisconnectProperties};
use crate::reason::ReasonCode;
use crate::session::error::{Error, Violation};
use crate::session::inflight::{AckOutcome, Arrival, Incoming, Outgoing, Release};
use crate::session::topic_alias::InboundAliases;
use crate::session::{Message, Transmit, ack_packet, check_publish_size, check_size};
use crate::time::Instant;
use crate::types::{Delivery, PacketId, Protocol, QoS};

/// Server-side connection settings. Plain data with `Default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// How long past the keep-alive interval a silent client is tolerated, in percent of the
    /// interval: 150 is the one and a half times of [MQTT-3.1.2-24] (3.1.1) / [MQTT-3.1.2-22] (5).
    pub keep_alive_grace_percent: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            keep_alive_grace_percent: 150,
        }
    }
}

/// The part of a client's session that outlives a connection: outgoing QoS 1/2 deliveries
/// with their packet ids and stages, and received QoS 2 packet ids whose flow is open. The
/// broker keeps it between connections (and persists what it needs) and hands it to the next
/// [`ServerConnection`] of the same client.
#[derive(Debug, Clone, Default)]
pub struct ServerSession {
    outgoing: Outgoing,
    incoming: Incoming,
}

impl ServerSession {
    /// An empty session.
    pub fn new() -> Self {
        ServerSession::default()
    }

    /// Outgoing QoS 1/2 deliveries not yet completed (queued or in flight).
    pub fn pending_deliveries(&self) -> usize {
        self.outgoing.len()
    }

    /// Received QoS 1/2 messages whose flow is open (awaiting the broker's ack or PUBREL).
    pub fn pending_received(&self) -> usize {
        self.incoming.len()
    }

    /// Takes the outgoing QoS 1/2 deliveries the client has not taken ownership of — waiting
    /// to be sent, or sent and unacknowledged — in their send order, each with the packet id
    /// it held and whether it was sent already (a resend carries DUP). For a broker that must
    /// hand them to another connection of the client when this session cannot be handed over
    /// whole. QoS 2 flows past PUBREC stay: the client has those messages.
    pub fn take_unacknowledged(&mut self) -> Vec<(PacketId, bool, Publish)> {
        self.outgoing.take_unowned()
    }
}

/// What `deliver` did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// QoS 0: encoded for sending.
    Sent,
    /// QoS 1/2: owned by the session under this packet id, sent now or when the client's
    /// Receive Maximum window has room; [`ServerEvent::Delivered`] reports completion.
    Accepted(PacketId),
    /// Larger than the client's Maximum Packet Size: discarded without sending, to be treated
    /// as delivered ([MQTT-3.1.2-25]).
    TooLarge {
        /// Encoded size.
        size: usize,
        /// The client's limit.
        maximum: u32,
    },
}

/// Something the broker must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// The client published (topic alias resolved). For QoS 1/2 the broker calls
    /// `ack_publish(packet_id, reason)` once the message is durable; no PUBACK/PUBREC goes out
    /// before that. A resent QoS 2 message whose flow is open is not reported again.
    Publish(Publish),
    /// SUBSCRIBE: answer with `suback`.
    Subscribe(Subscribe),
    /// UNSUBSCRIBE: answer with `unsuback`.
    Unsubscribe(Unsubscribe),
    /// A QoS 1/2 delivery waited in the session until its Message Expiry Interval passed and
    /// was dropped without ever being sent ([MQTT-3.3.2-5]); it is finished like a delivered
    /// one.
    Expired {
        /// The packet id it held.
        packet_id: PacketId,
        /// Its QoS.
        qos: QoS,
    },
    /// A QoS 1/2 delivery to the client completed (PUBACK, PUBCOMP, or PUBREC with a failure).
    Delivered {
        /// Its packet id.
        packet_id: PacketId,
        /// Its QoS.
        qos: QoS,
        /// The client's reason (`Success` in 3.1.1).
        reason: ReasonCode,
    },
    /// The client sent DISCONNECT (reason 0x04 asks for the will to be published).
    Disconnected {
        /// The client's reason.
        reason: ReasonCode,
        /// DISCONNECT properties (maybe a new session expiry interval).
        properties: DisconnectProperties,
    },
    /// AUTH from the client (MQTT 5 enhanced authentication), for the broker to answer. Only
    /// when the CONNECT named an Authentication Method; any other AUTH is a protocol error.
    Auth(Auth),
    /// Nothing arrived within the keep-alive grace period; the connection is closed (MQTT 5:
    /// DISCONNECT 0x8D queued).
    KeepAliveExpired,
    /// The client broke the protocol; the connection is closed (MQTT 5: DISCONNECT queued).
    ProtocolError(Violation),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitingConnAck,
    Open,
    Closed,
}

/// One client connection on the server, after the broker accepted its CONNECT.
///
/// Call order:
/// 1. `ServerConnection::new(&connect, session, config, now)` with the decoded CONNECT and the
///    client's stored [`ServerSession`] (or an empty one).
/// 2. `send_connack(connack)`: the CONNACK's properties are the limits this connection
///    enforces (Receive Maximum, Topic Alias Maximum, Maximum QoS, Retain Available, Maximum
///    Packet Size, Server Keep Alive). With Session Present, unacknowledged deliveries are
///    resent (PUBLISH with DUP, PUBREL) in their original order.
/// 3. Repeatedly: `handle_bytes(data, now)` (pass any bytes that followed the CONNECT first),
///    `handle_timeout(now)` once `poll_timeout()` has passed, and commands (`deliver`,
///    `ack_publish`, `suback`, `unsuback`, `disconnect`). After each, drain `poll_transmit`
///    into the transport and `poll_event` into the broker.
/// 4. After `KeepAliveExpired`, `ProtocolError`, `Disconnected` or `disconnect`, send what
///    `poll_transmit` still gives and close; if the transport fails first, call
///    `connection_lost(now)`. Then `into_session()` gives the session back for the next
///    connection.
#[derive(Debug)]
pub struct ServerConnection {
    config: ServerConfig,
    protocol: Protocol,
    state: State,
    now: Instant,
    last_received: Instant,
    requested_keep_alive: u16,
    keep_alive: Option<Duration>,
    session: ServerSession,
    /// The client's Receive Maximum: how many deliveries may be in flight.
    client_receive_maximum: u16,
    /// The client's Maximum Packet Size.
    client_maximum_packet_size: Option<u32>,
    /// This server's limits, from the CONNACK.
    receive_maximum: u16,
    maximum_qos: QoS,
    retain_available: bool,
    connect_expiry_zero: bool,
    /// Whether the CONNECT named an Authentication Method: only then may the client send AUTH.
    enhanced_auth: bool,
    aliases: InboundAliases,
    rx: BytesMut,
    decoder: Decoder,
    tx: Transmit,
    events: alloc::collections::VecDeque<ServerEvent>,
}

impl ServerConnection {
    /// Starts tracking a connection whose CONNECT the broker accepted.
    pub fn new(
        connect: &Connect,
        session: ServerSession,
        config: ServerConfig,
        now: Instant,
    ) -> Self {
        let protocol = connect.protocol;
        let v5 = protocol.is_v5();
        let props = &connect.properties;
        ServerConnection {
            config,
            protocol,
            state: State::AwaitingConnAck,
            now,
            last_received: now,
            requested_keep_alive: connect.keep_alive,
            keep_alive: None,
            session,
            client_receive_maximum: props
                .receive_maximum
                .filter(|_| v5)
                .unwrap_or(u16::MAX)
                .max(1),
            client_maximum_packet_size: props.maximum_packet_size.filter(|_| v5),
            receive_maximum: u16::MAX,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            connect_expiry_zero: props.session_expiry_interval.unwrap_or(0) == 0,
            enhanced_auth: v5 && props.authentication_method.is_some(),
            aliases: InboundAliases::default(),
            rx: BytesMut::new(),
            decoder: Decoder::new(protocol, MAX_PACKET_SIZE),
            tx: Transmit::default(),
            events: alloc::collections::VecDeque::new(),
        }
    }

    /// Sends CONNACK and adopts its properties as this connection's limits. A failure reason
    /// closes the connection.
    pub fn send_connack(&mut self, connack: ConnAck) -> Result<(), Error> {
        if self.state != State::AwaitingConnAck {
            return Err(Error::ConnAckAlreadySent);
        }
        // [MQTT-3.1.2-24] not even the CONNACK may exceed the client's Maximum Packet Size.
        // One that would is sent without what it may lose: the diagnostics
        // ([MQTT-3.2.2-19]/[MQTT-3.2.2-20]) and properties that state their default. If it
        // still does not fit, the client cannot be answered and the connection just closes.
        let mut connack = connack;
        let max = self.client_maximum_packet_size;
        if check_size(&Packet::ConnAck(connack.clone()), self.protocol, max).is_err() {
            omit_defaults(&mut connack.properties);
        }
        let packet = Packet::ConnAck(connack.clone());
        if let Err(error) = check_size(&packet, self.protocol, max) {
            self.close();
            return Err(error);
        }
        self.tx.push(&packet, self.protocol)?;
        if connack.reason.is_error() {
            self.close();
            return Ok(());
        }
        let props = &connack.properties;
        let v5 = self.protocol.is_v5();
        if v5 {
            self.receive_maximum = props.receive_maximum.unwrap_or(u16::MAX).max(1);
            self.maximum_qos = props
                .maximum_qos
                .and_then(QoS::from_u8)
                .unwrap_or(QoS::ExactlyOnce);
            self.retain_available = props.retain_available.unwrap_or(true);
            self.aliases = InboundAliases::new(props.topic_alias_maximum.unwrap_or(0));
            if let Some(maximum) = props.maximum_packet_size {
                self.decoder.set_max_packet_size(maximum);
            }
        }
        let keep_alive = props
            .server_keep_alive
            .filter(|_| v5)
            .unwrap_or(self.requested_keep_alive);
        self.keep_alive = (keep_alive > 0).then(|| Duration::from_secs(u64::from(keep_alive)));
        self.state = State::Open;
        if connack.session_present {
            for id in self.session.outgoing.releases() {
                // PUBREL always encodes.
                let _ = self.tx.push(
                    &ack_packet(PacketType::PubRel, id, ReasonCode::Success, self.protocol),
                    self.protocol,
                );
            }
        } else {
            self.session = ServerSession::default();
        }
        self.pump();
        Ok(())
    }

    /// Feeds bytes received from the client. Ignored once the connection is closed.
    pub fn handle_bytes(&mut self, data: &[u8], now: Instant) {
        self.advance(now);
        if self.state == State::Closed {
            return;
        }
        self.rx.extend_from_slice(data);
        while self.state != State::Closed {
            // A packet only servers send, or AUTH when no authentication method was
            // negotiated, is a protocol error whatever its body holds, so it is refused from its
            // first byte, before its body could be judged malformed.
            let auth_unexpected = self.protocol.is_v5() && !self.enhanced_auth;
            if let Some(packet) = self
                .rx
                .first()
                .and_then(|first| PacketType::from_u8(first >> 4))
                .filter(|t| {
                    matches!(
                        t,
                        PacketType::ConnAck
                            | PacketType::SubAck
                            | PacketType::UnsubAck
                            | PacketType::PingResp
                    ) || (*t == PacketType::Auth && auth_unexpected)
                })
            {
                self.fail(Violation::WrongDirection { packet });
                break;
            }
            match self.decoder.decode(&mut self.rx) {
                Ok(Some(packet)) => self.dispatch(packet),
                Ok(None) => break,
                Err(error) => {
                    self.fail(Violation::Malformed(error));
                    break;
                }
            }
        }
    }

    /// Feeds one packet decoded elsewhere.
    pub fn handle_packet(&mut self, packet: Packet, now: Instant) {
        self.advance(now);
        if self.state != State::Closed {
            self.dispatch(packet);
        }
    }

    /// Closes the connection when the client stayed silent past the keep-alive grace period.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        if self.state == State::Closed {
            return;
        }
        if self
            .keep_alive_deadline()
            .is_some_and(|deadline| now >= deadline)
        {
            if self.protocol.is_v5() {
                let disconnect = Disconnect::new(ReasonCode::KeepAliveTimeout);
                let _ = self.tx.push(&Packet::Disconnect(disconnect), self.protocol);
            }
            self.events.push_back(ServerEvent::KeepAliveExpired);
            self.close();
        }
    }

    /// The transport failed: the connection is closed and nothing more is sent.
    pub fn connection_lost(&mut self, now: Instant) {
        self.advance(now);
        self.close();
        self.tx.clear();
    }

    /// Delivers a message to the client at `now`. QoS 1/2 messages are accepted even when the
    /// window is full or the connection closed: they wait in the session.
    ///
    /// `expires_at` is when the message's Message Expiry Interval ends, when it has one: the
    /// PUBLISH then carries what is left of the interval when it leaves, not the interval in
    /// `message` ([MQTT-3.3.2-6]), and a QoS 1/2 message still waiting for the client's window
    /// at that moment is dropped unsent and reported as [`ServerEvent::Expired`]
    /// ([MQTT-3.3.2-5]). A QoS 0 message leaves at once with what is left at `now`.
    pub fn deliver(
        &mut self,
        message: Message,
        expires_at: Option<Instant>,
        now: Instant,
    ) -> Result<DeliveryOutcome, Error> {
        self.advance(now);
        if message.topic.is_empty() {
            return Err(Error::EmptyTopic);
        }
        let qos = message.qos;
        let mut publish = message.into_publish();
        publish.properties.topic_alias = None;
        if let Some(at) = expires_at {
            publish.properties.message_expiry_interval =
                Some(super::inflight::seconds_left(at, self.now));
        }
        // Sized as sent: with a packet id for QoS 1/2 (`push` gives it its real one).
        publish.delivery = Delivery::new(qos, PacketId::MIN);
        match check_publish_size(&publish, self.protocol, self.client_maximum_packet_size) {
            Ok(()) => {}
            Err(Error::PacketTooLarge { size, maximum, .. }) => {
                return Ok(DeliveryOutcome::TooLarge { size, maximum });
            }
            Err(other) => return Err(other),
        }
        if qos == QoS::AtMostOnce {
            if self.state != State::Open {
                return Err(Error::NotConnected {
                    command: "deliver at QoS 0",
                });
            }
            self.tx.push(&Packet::Publish(publish), self.protocol)?;
            return Ok(DeliveryOutcome::Sent);
        }
        let id = self
            .session
            .outgoing
            .push_expiring(publish, qos, expires_at)
            .ok_or(Error::PacketIdsExhausted)?;
        self.pump();
        Ok(DeliveryOutcome::Accepted(id))
    }

    /// The broker made the received message `packet_id` durable (or refuses it with a failure
    /// `reason`, MQTT 5): sends its PUBACK (QoS 1) or PUBREC (QoS 2). Only then.
    pub fn ack_publish(&mut self, packet_id: PacketId, reason: ReasonCode) -> Result<(), Error> {
        let (qos, now) = self
            .session
            .incoming
            .ack(packet_id, reason)
            .ok_or(Error::UnknownPacketId { packet_id })?;
        let kind = if qos == QoS::ExactlyOnce {
            PacketType::PubRec
        } else {
            PacketType::PubAck
        };
        // Only a PUBLISH received on this connection is answered now; one that arrived on an
        // earlier connection is answered when the client resends it.
        if now && self.state == State::Open {
            self.tx.push(
                &ack_packet(kind, packet_id, reason, self.protocol),
                self.protocol,
            )?;
        }
        Ok(())
    }

    /// Answers a SUBSCRIBE.
    pub fn suback(&mut self, suback: SubAck) -> Result<(), Error> {
        self.respond(Packet::SubAck(suback), "send SUBACK")
    }

    /// Answers an UNSUBSCRIBE.
    pub fn unsuback(&mut self, unsuback: UnsubAck) -> Result<(), Error> {
        self.respond(Packet::UnsubAck(unsuback), "send UNSUBACK")
    }

    /// Answers AUTH (MQTT 5).
    pub fn auth(&mut self, auth: Auth) -> Result<(), Error> {
        self.respond(Packet::Auth(auth), "send AUTH")
    }

    /// Closes the connection; in MQTT 5 with a DISCONNECT (3.1.1 servers close silently).
    pub fn disconnect(&mut self, disconnect: Disconnect) -> Result<(), Error> {
        if self.state == State::Closed {
            return Err(Error::NotConnected {
                command: "disconnect",
            });
        }
        if self.protocol.is_v5() {
            self.tx
                .push(&Packet::Disconnect(disconnect), self.protocol)?;
        }
        self.close();
        Ok(())
    }

    /// Moves the bytes to send into `out`; false when there is nothing to send.
    pub fn poll_transmit(&mut self, out: &mut BytesMut) -> bool {
        self.tx.drain_into(out)
    }

    /// The next event for the broker, oldest first.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must next be called: the keep-alive deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Closed {
            None
        } else {
            self.keep_alive_deadline()
        }
    }

    /// Whether the connection is finished (the caller closes the transport).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The protocol version of the connection.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Deliveries sent to the client and not yet completed.
    pub fn inflight(&self) -> usize {
        self.session.outgoing.inflight()
    }

    /// Deliveries waiting for room in the client's Receive Maximum window.
    pub fn queued(&self) -> usize {
        self.session.outgoing.queued()
    }

    /// The client's Receive Maximum.
    pub fn client_receive_maximum(&self) -> u16 {
        self.client_receive_maximum
    }

    /// The session state, for inspection.
    pub fn session(&self) -> &ServerSession {
        &self.session
    }

    /// Ends the connection (if not already) and gives back the session for the next one.
    pub fn into_session(mut self) -> ServerSession {
        self.close();
        self.session
    }

    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn keep_alive_deadline(&self) -> Option<Instant> {
        let keep_alive = self.keep_alive?;
        let millis = u64::try_from(keep_alive.as_millis()).unwrap_or(u64::MAX);
        let grace = millis.saturating_mul(u64::from(self.config.keep_alive_grace_percent)) / 100;
        Some(self.last_received + Duration::from_millis(grace))
    }

    fn respond(&mut self, packet: Packet, command: &'static str) -> Result<(), Error> {
        if self.state != State::Open {
            return Err(Error::NotConnected { command });
        }
        check_size(&packet, self.protocol, self.client_maximum_packet_size)?;
        self.tx.push(&packet, self.protocol)?;
        Ok(())
    }

    /// Sends queued deliveries while the client's Receive Maximum allows ([MQTT-3.3.4-9]).
    fn pump(&mut self) {
        if self.state != State::Open {
            return;
        }
        let limit = usize::from(self.client_receive_maximum);
        let mut failed: Vec<(PacketId, QoS)> = Vec::new();
        let now = self.now;
        while let Some(publish) = self.session.outgoing.next_sendable(limit, now) {
            let delivery = publish.delivery;
            if self.tx.push_publish(publish, self.protocol).is_err() {
                // `deliver` encoded-sized it already, so this does not happen; should it, the
                // message is finished as undeliverable rather than retried forever.
                failed.extend(delivery.packet_id().map(|id| (id, delivery.qos())));
            }
        }
        for (packet_id, qos) in self.session.outgoing.take_expired() {
            self.events
                .push_back(ServerEvent::Expired { packet_id, qos });
        }
        for (packet_id, qos) in failed {
            self.session.outgoing.abandon(packet_id);
            self.events.push_back(ServerEvent::Delivered {
                packet_id,
                qos,
                reason: ReasonCode::ImplementationSpecificError,
            });
        }
    }

    fn dispatch(&mut self, packet: Packet) {
        self.last_received = self.now;
        match packet {
            Packet::Publish(publish) => self.on_publish(publish),
            Packet::PubAck(ack) => {
                let outcome = self.session.outgoing.on_puback(ack.packet_id);
                self.on_ack_outcome(PacketType::PubAck, ack, outcome);
            }
            Packet::PubRec(ack) => {
                let outcome = self.session.outgoing.on_pubrec(ack.packet_id, ack.reason);
                self.on_ack_outcome(PacketType::PubRec, ack, outcome);
            }
            Packet::PubComp(ack) => {
                let outcome = self.session.outgoing.on_pubcomp(ack.packet_id);
                self.on_ack_outcome(PacketType::PubComp, ack, outcome);
            }
            Packet::PubRel(ack) => self.on_pubrel(ack.packet_id),
            Packet::Subscribe(subscribe) => {
                self.events.push_back(ServerEvent::Subscribe(subscribe))
            }
            Packet::Unsubscribe(unsubscribe) => {
                self.events.push_back(ServerEvent::Unsubscribe(unsubscribe));
            }
            Packet::PingReq => {
                let _ = self.tx.push(&Packet::PingResp, self.protocol);
            }
            Packet::Disconnect(disconnect) => {
                let renewed = disconnect.properties.session_expiry_interval.unwrap_or(0);
                if self.protocol.is_v5() && self.connect_expiry_zero && renewed > 0 {
                    self.fail(Violation::SessionExpiryAfterZero { interval: renewed });
                    return;
                }
                self.events.push_back(ServerEvent::Disconnected {
                    reason: disconnect.reason,
                    properties: disconnect.properties,
                });
                self.close();
            }
            Packet::Auth(auth) if self.enhanced_auth => {
                self.events.push_back(ServerEvent::Auth(auth));
            }
            Packet::Auth(_) => self.fail(Violation::WrongDirection {
                packet: PacketType::Auth,
            }),
            Packet::Connect(_) => self.fail(Violation::DuplicateConnect),
            other @ (Packet::ConnAck(_)
            | Packet::SubAck(_)
            | Packet::UnsubAck(_)
            | Packet::PingResp) => {
                self.fail(Violation::WrongDirection {
                    packet: other.packet_type(),
                });
            }
        }
    }

    fn on_publish(&mut self, mut publish: Publish) {
        if !publish.properties.subscription_identifiers.is_empty() {
            self.fail(Violation::SubscriptionIdFromClient);
            return;
        }
        if let Err(violation) = self.aliases.resolve(&mut publish) {
            self.fail(violation);
            return;
        }
        let qos = publish.delivery.qos();
        if qos > self.maximum_qos {
            self.fail(Violation::QosNotSupported {
                received: qos,
                maximum: self.maximum_qos,
            });
            return;
        }
        if publish.retain && !self.retain_available {
            self.fail(Violation::RetainNotSupported);
            return;
        }
        let Some(id) = publish.delivery.packet_id() else {
            self.events.push_back(ServerEvent::Publish(publish));
            return;
        };
        let incoming = &mut self.session.incoming;
        if !incoming.contains(id) && incoming.len() >= usize::from(self.receive_maximum) {
            self.fail(Violation::ReceiveMaximumExceeded {
                maximum: self.receive_maximum,
            });
            return;
        }
        match incoming.on_publish(id, qos) {
            Arrival::New => self.events.push_back(ServerEvent::Publish(publish)),
            Arrival::Duplicate {
                resend_pubrec: true,
            } => {
                let pubrec = ack_packet(PacketType::PubRec, id, ReasonCode::Success, self.protocol);
                let _ = self.tx.push(&pubrec, self.protocol);
            }
            // Still waiting for the broker's ack_publish: that will answer it.
            Arrival::Duplicate {
                resend_pubrec: false,
            } => {}
        }
    }

    fn on_pubrel(&mut self, id: PacketId) {
        let reason = match self.session.incoming.on_pubrel(id) {
            Release::Complete => ReasonCode::Success,
            Release::NotFound => ReasonCode::PacketIdentifierNotFound,
            Release::NotAcknowledged => {
                self.fail(Violation::PubRelBeforePubRec { packet_id: id });
                return;
            }
        };
        let _ = self.tx.push(
            &ack_packet(PacketType::PubComp, id, reason, self.protocol),
            self.protocol,
        );
    }

    fn on_ack_outcome(&mut self, kind: PacketType, ack: PubAck, outcome: AckOutcome) {
        let id = ack.packet_id;
        match outcome {
            AckOutcome::Completed { qos } => {
                self.events.push_back(ServerEvent::Delivered {
                    packet_id: id,
                    qos,
                    reason: ack.reason,
                });
                self.pump();
            }
            AckOutcome::SendPubRel => {
                let pubrel = ack_packet(PacketType::PubRel, id, ReasonCode::Success, self.protocol);
                let _ = self.tx.push(&pubrel, self.protocol);
            }
            // A PUBREC with a failure code ends its flow ([MQTT-4.3.3]): no PUBREL answers it,
            // known or not.
            AckOutcome::Unknown if kind == PacketType::PubRec && !ack.reason.is_error() => {
                let pubrel = ack_packet(
                    PacketType::PubRel,
                    id,
                    ReasonCode::PacketIdentifierNotFound,
                    self.protocol,
                );
                let _ = self.tx.push(&pubrel, self.protocol);
            }
            AckOutcome::Unknown => {}
            AckOutcome::Mismatch => self.fail(Violation::AckMismatch {
                packet: kind,
                packet_id: id,
            }),
        }
    }

    fn fail(&mut self, violation: Violation) {
        if self.protocol.is_v5() {
            let reason = match violation.reason_code() {
                ReasonCode::UnsupportedProtocolVersion => ReasonCode::ProtocolError,
                reason => reason,
            };
            let _ = self
                .tx
                .push(&Packet::Disconnect(Disconnect::new(reason)), self.protocol);
        }
        self.events.push_back(ServerEvent::ProtocolError(violation));
        self.close();
    }

    fn close(&mut self) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.rx.clear();
        self.session.outgoing.pause();
        self.session.incoming.pause();
    }
}

/// Drops the CONNACK properties a client may go without: Reason String and User Properties,
/// and every capability that states its default value (MQTT 5 §3.2.2.3), so the meaning of
/// the CONNACK is unchanged.
fn omit_defaults(props: &mut ConnAckProperties) {
    props.reason_string = None;
    props.user_properties = Default::default();
    if props.receive_maximum == Some(u16::MAX) {
        props.receive_maximum = None;
    }
    if props.maximum_qos == Some(QoS::ExactlyOnce as u8) {
        props.maximum_qos = None;
    }
    if props.topic_alias_maximum == Some(0) {
        props.topic_alias_maximum = None;
    }
    for flag in [
        &mut props.retain_available,
        &mut props.wildcard_subscription_available,
        &mut props.subscription_identifiers_available,
        &mut props.shared_subscription_available,
    ] {
        if *flag == Some(true) {
            *flag = None;
        }
    }
}
