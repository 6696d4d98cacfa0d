//! The client side of an MQTT 3.1.1/5.0 session as a sans-IO state machine: CONNECT/CONNACK,
//! packet ids, QoS 1/2 in both directions, resending after a resumed session, keep-alive,
//! the server's Receive Maximum, Maximum Packet Size, Maximum QoS and Retain Available, and
//! topic aliases. It does not open connections, reconnect on its own, back off, persist the
//! session, or read a clock: the caller does all of that and passes `now` in.

mod inbound;

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::num::{NonZeroU16, NonZeroU32};
use core::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::codec::{Decoder, MAX_PACKET_SIZE};
use crate::packet::{
    Connect, Disconnect, Packet, PacketType, Publish, SubAck, Subscribe, UnsubAck, Unsubscribe,
    Will,
};
use crate::properties::{
    ConnAckProperties, ConnectProperties, DisconnectProperties, SubscribeProperties,
    UnsubscribeProperties,
};
use crate::reason::ReasonCode;
use crate::session::error::{Error, Violation};
use crate::session::inflight::{Incoming, Outgoing};
use crate::session::topic_alias::{InboundAliases, OutboundAliases};
use crate::session::{AbandonReason, Message, Transmit, check_size};
use crate::string::MqttStr;
use crate::time::Instant;
use crate::topic::TopicFilter;
use crate::types::{Delivery, PacketId, Protocol, QoS, SubscriptionOptions};

/// What to do with unfinished outgoing QoS 1/2 flows when the server answers a reconnect with
/// Session Present = 0 ([MQTT-3.2.2-5]: the client discards its session state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnSessionLost {
    /// Report every unfinished flow as [`Event::Abandoned`] with [`AbandonReason::SessionLost`].
    #[default]
    Abandon,
    /// Publish unacknowledged messages again as new messages (same packet id, DUP = 0). Flows
    /// past PUBREC are reported as [`Event::Published`]: the server already took ownership.
    Republish,
}

/// How a client session connects. Plain data with `Default`; the caller fills it in.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Protocol version to speak.
    pub protocol: Protocol,
    /// Client identifier; empty asks the server to assign one (MQTT 5) or needs a clean start.
    pub client_id: MqttStr,
    /// Clean Session/Clean Start for the first `connect`. Later connects ask to resume exactly
    /// when the session outlives a connection: in 3.1.1 when this is false, in 5 when the
    /// session expiry interval (possibly replaced by the server's) is non-zero.
    pub clean_start: bool,
    /// Keep-alive in seconds; 0 disables it. The server's Server Keep Alive replaces it.
    pub keep_alive: u16,
    /// Will message.
    pub will: Option<Will>,
    /// User name.
    pub username: Option<MqttStr>,
    /// Password.
    pub password: Option<Bytes>,
    /// MQTT 5: session expiry interval in seconds (absent means 0).
    pub session_expiry_interval: Option<u32>,
    /// MQTT 5: how many received QoS 2 publications may await PUBREL at once.
    pub receive_maximum: Option<NonZeroU16>,
    /// MQTT 5: largest packet this client accepts; larger ones are refused as malformed.
    pub maximum_packet_size: Option<NonZeroU32>,
    /// MQTT 5: highest topic alias the server may use towards this client (0: none).
    pub topic_alias_maximum: u16,
    /// MQTT 5: replace repeated topics with aliases when the server allows aliases.
    pub outgoing_topic_aliases: bool,
    /// How long to wait for CONNACK after CONNECT and for PINGRESP after PINGREQ.
    pub response_timeout: Duration,
    /// What to do with unfinished outgoing flows when the session was not resumed.
    pub on_session_lost: OnSessionLost,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            protocol: Protocol::V311,
            client_id: MqttStr::EMPTY,
            clean_start: true,
            keep_alive: 60,
            will: None,
            username: None,
            password: None,
            session_expiry_interval: None,
            receive_maximum: None,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            outgoing_topic_aliases: false,
            response_timeout: Duration::from_secs(30),
            on_session_lost: OnSessionLost::Abandon,
        }
    }
}

/// Where the client's connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// No connection: call `connect`.
    Disconnected,
    /// CONNECT queued; waiting for CONNACK.
    Connecting,
    /// CONNACK accepted the connection.
    Connected,
}

/// Something the application should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server accepted the connection.
    Connected {
        /// Whether the server resumed the session.
        session_present: bool,
        /// The server's CONNACK properties (limits, assigned client id ...).
        properties: ConnAckProperties,
    },
    /// The server refused the connection; the caller closes the transport.
    ConnectionRefused {
        /// The CONNACK reason (3.1.1 return codes are mapped onto reason codes).
        reason: ReasonCode,
        /// CONNACK properties (reason string, server reference ...).
        properties: ConnAckProperties,
    },
    /// An application message arrived (topic alias already resolved). QoS 2 messages are
    /// reported exactly once per packet id flow.
    Message(Publish),
    /// An outgoing QoS 1/2 message's flow ended: PUBACK, PUBCOMP, or PUBREC with a failure.
    Published {
        /// Its packet id, as returned by `publish`.
        packet_id: PacketId,
        /// Its QoS.
        qos: QoS,
        /// The server's reason (`Success` in 3.1.1).
        reason: ReasonCode,
    },
    /// SUBACK for a `subscribe`.
    SubAck(SubAck),
    /// UNSUBACK for an `unsubscribe`.
    UnsubAck(UnsubAck),
    /// The session gave up on something it had accepted.
    Abandoned {
        /// Packet id, when the packet had one.
        packet_id: Option<PacketId>,
        /// PUBLISH, PUBREL, SUBSCRIBE or UNSUBSCRIBE.
        packet: PacketType,
        /// Why.
        reason: AbandonReason,
    },
    /// The server sent DISCONNECT; the caller closes the transport.
    Disconnected {
        /// The server's reason (`Success` for 3.1.1).
        reason: ReasonCode,
        /// DISCONNECT properties.
        properties: DisconnectProperties,
    },
    /// No CONNACK or PINGRESP within `response_timeout`: the connection is considered lost.
    TimedOut {
        /// The packet that did not come.
        waiting_for: PacketType,
    },
    /// The server broke the protocol; a DISCONNECT with the violation's reason is queued (MQTT
    /// 5) and the connection is finished.
    ProtocolError(Violation),
}

/// Limits the server announced in CONNACK (MQTT 5 §3.2.2.3); defaults until then.
#[derive(Debug, Clone, Copy)]
struct ServerLimits {
    receive_maximum: u16,
    maximum_packet_size: Option<u32>,
    topic_alias_maximum: u16,
    maximum_qos: QoS,
    retain_available: bool,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            receive_maximum: u16::MAX,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
        }
    }
}

/// A sans-IO MQTT client session.
///
/// Call order:
/// 1. `connect(now)` (returns an error if a connection is already open or opening).
/// 2. Repeatedly, in any order: `handle_bytes(data, now)` with whatever the transport received;
///    `handle_timeout(now)` once `poll_timeout()` has passed; commands (`publish`, `subscribe`,
///    `unsubscribe`, `disconnect`). After each of those, drain `poll_transmit(out)` into the
///    transport, drain `poll_event()`, and arm a timer for `poll_timeout()`.
/// 3. When an event ends the connection (`ConnectionRefused`, `Disconnected`, `TimedOut`,
///    `ProtocolError`) or after `disconnect`, send what `poll_transmit` still gives and close
///    the transport. When the transport fails on its own, call `connection_lost(now)`.
/// 4. To reconnect, open a new transport and call `connect(now)` again: unacknowledged
///    PUBLISH (with DUP) and PUBREL packets are resent in order if the server resumes the
///    session, and handled per [`OnSessionLost`] if it does not.
///
/// QoS 1/2 messages may be published at any time, also while disconnected: they wait for a
/// connection and a free slot in the server's Receive Maximum window. QoS 0 messages,
/// subscriptions and unsubscriptions need `connect` to have been called; before CONNACK they
/// are held and sent once the server's limits are known. Commands take no `now`: they use the
/// latest time given to a `handle_*` method or `connect`.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    state: ConnectionState,
    now: Instant,
    connack_deadline: Option<Instant>,
    ping_deadline: Option<Instant>,
    last_sent: Instant,
    keep_alive: Option<Duration>,
    has_connected: bool,
    sent_clean_start: bool,
    session_expiry: u32,
    limits: ServerLimits,
    outgoing: Outgoing,
    incoming: Incoming,
    /// SUBSCRIBE/UNSUBSCRIBE awaiting their ack, with the number of filters.
    requests: BTreeMap<PacketId, (PacketType, usize)>,
    /// Packets that wait for CONNACK (QoS 0 PUBLISH, SUBSCRIBE, UNSUBSCRIBE).
    held: VecDeque<Packet>,
    inbound_aliases: InboundAliases,
    outbound_aliases: OutboundAliases,
    rx: BytesMut,
    decoder: Decoder,
    tx: Transmit,
    events: VecDeque<Event>,
}

impl ClientSession {
    /// A disconnected session with no state.
    pub fn new(config: ClientConfig) -> Self {
        let decoder = Decoder::new(config.protocol, inbound_limit(&config));
        ClientSession {
            session_expiry: config.session_expiry_interval.unwrap_or(0),
            config,
            state: ConnectionState::Disconnected,
            now: Instant::ZERO,
            connack_deadline: None,
            ping_deadline: None,
            last_sent: Instant::ZERO,
            keep_alive: None,
            has_connected: false,
            sent_clean_start: true,
            limits: ServerLimits::default(),
            outgoing: Outgoing::default(),
            incoming: Incoming::default(),
            requests: BTreeMap::new(),
            held: VecDeque::new(),
            inbound_aliases: InboundAliases::default(),
            outbound_aliases: OutboundAliases::default(),
            rx: BytesMut::new(),
            decoder,
            tx: Transmit::default(),
            events: VecDeque::new(),
        }
    }

    /// Starts a connection on a fresh transport: queues CONNECT and waits for CONNACK.
    /// Anything not yet transmitted from an earlier connection is dropped.
    pub fn connect(&mut self, now: Instant) -> Result<(), Error> {
        if self.state != ConnectionState::Disconnected {
            return Err(Error::AlreadyConnected);
        }
        self.advance(now);
        self.tx.clear();
        self.rx.clear();
        self.decoder = Decoder::new(self.config.protocol, inbound_limit(&self.config));
        self.limits = ServerLimits::default();
        let clean_start = if self.has_connected {
            !self.session_persists()
        } else {
            self.config.clean_start
        };
        let v5 = self.config.protocol.is_v5();
        let properties = if v5 {
            ConnectProperties {
                session_expiry_interval: self.config.session_expiry_interval,
                receive_maximum: self.config.receive_maximum.map(NonZeroU16::get),
                maximum_packet_size: self.config.maximum_packet_size.map(NonZeroU32::get),
                topic_alias_maximum: (self.config.topic_alias_maximum > 0)
                    .then_some(self.config.topic_alias_maximum),
                ..ConnectProperties::default()
            }
        } else {
            ConnectProperties::default()
        };
        let connect = Connect {
            protocol: self.config.protocol,
            clean_start,
            keep_alive: self.config.keep_alive,
            client_id: self.config.client_id.clone(),
            will: self.config.will.clone(),
            username: self.config.username.clone(),
            password: self.config.password.clone(),
            properties,
        };
        self.send(&Packet::Connect(Box::new(connect)))?;
        self.sent_clean_start = clean_start;
        self.state = ConnectionState::Connecting;
        self.connack_deadline = Some(now + self.config.response_timeout);
        Ok(())
    }

    /// Feeds bytes received from the transport. Bytes after the connection ended are ignored.
    pub fn handle_bytes(&mut self, data: &[u8], now: Instant) {
        self.advance(now);
        if self.state == ConnectionState::Disconnected {
            return;
        }
        self.rx.extend_from_slice(data);
        while self.state != ConnectionState::Disconnected {
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

    /// Feeds one packet that was decoded elsewhere.
    pub fn handle_packet(&mut self, packet: Packet, now: Instant) {
        self.advance(now);
        if self.state != ConnectionState::Disconnected {
            self.dispatch(packet);
        }
    }

    /// Checks the CONNACK and PINGRESP deadlines and sends PINGREQ when the connection has been
    /// idle (nothing sent) for the keep-alive interval ([MQTT-3.1.2-23] in 3.1.1,
    /// [MQTT-3.1.2-20] in 5).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        match self.state {
            ConnectionState::Disconnected => {}
            ConnectionState::Connecting => {
                if self
                    .connack_deadline
                    .is_some_and(|deadline| now >= deadline)
                {
                    self.time_out(PacketType::ConnAck);
                }
            }
            ConnectionState::Connected => {
                if self.ping_deadline.is_some_and(|deadline| now >= deadline) {
                    self.time_out(PacketType::PingResp);
                } else if self.ping_deadline.is_none()
                    && self.keep_alive.is_some_and(|ka| now >= self.last_sent + ka)
                {
                    // PINGREQ always encodes; nothing to report if it somehow did not.
                    if self.send(&Packet::PingReq).is_ok() {
                        self.ping_deadline = Some(now + self.config.response_timeout);
                    }
                }
            }
        }
    }

    /// The transport failed. Unfinished flows are kept for the next `connect`; subscriptions
    /// and QoS 0 messages not yet acknowledged are reported as abandoned.
    pub fn connection_lost(&mut self, now: Instant) {
        self.advance(now);
        if self.state != ConnectionState::Disconnected {
            self.end_connection();
        }
        self.tx.clear();
    }

    /// Publishes `message`. Returns the packet id for QoS 1/2 (its [`Event::Published`] reports
    /// completion) and `None` for QoS 0.
    pub fn publish(&mut self, message: Message) -> Result<Option<PacketId>, Error> {
        if message.topic.is_empty() {
            return Err(Error::EmptyTopic);
        }
        let qos = message.qos;
        let publish = message.into_publish();
        if self.state == ConnectionState::Connected {
            self.check_publish(&publish, qos)?;
        }
        if qos == QoS::AtMostOnce {
            match self.state {
                ConnectionState::Disconnected => {
                    return Err(Error::NotConnected {
                        command: "publish at QoS 0",
                    });
                }
                ConnectionState::Connecting => self.held.push_back(Packet::Publish(publish)),
                ConnectionState::Connected => {
                    let mut wire = publish;
                    self.outbound_aliases.apply(&mut wire);
                    self.send(&Packet::Publish(wire))?;
                }
            }
            return Ok(None);
        }
        let id = self
            .outgoing
            .push(publish, qos)
            .ok_or(Error::PacketIdsExhausted)?;
        self.pump();
        Ok(Some(id))
    }

    /// Subscribes to `filters`; returns the packet id that the [`Event::SubAck`] will carry.
    pub fn subscribe(
        &mut self,
        filters: Vec<(TopicFilter, SubscriptionOptions)>,
        properties: SubscribeProperties,
    ) -> Result<PacketId, Error> {
        if filters.is_empty() {
            return Err(Error::NoTopicFilters {
                packet: PacketType::Subscribe,
            });
        }
        let count = filters.len();
        self.request(PacketType::Subscribe, count, |packet_id| {
            Packet::Subscribe(Subscribe {
                packet_id,
                properties,
                filters,
            })
        })
    }

    /// Unsubscribes from `filters`; returns the packet id that the [`Event::UnsubAck`] will
    /// carry.
    pub fn unsubscribe(
        &mut self,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    ) -> Result<PacketId, Error> {
        if filters.is_empty() {
            return Err(Error::NoTopicFilters {
                packet: PacketType::Unsubscribe,
            });
        }
        let count = filters.len();
        self.request(PacketType::Unsubscribe, count, |packet_id| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                properties,
                filters,
            })
        })
    }

    /// Ends the connection with DISCONNECT (MQTT 3.1.1 sends it without reason or
    /// properties). Unfinished QoS 1/2 flows are kept for the next `connect`.
    pub fn disconnect(&mut self, disconnect: Disconnect) -> Result<(), Error> {
        if self.state == ConnectionState::Disconnected {
            return Err(Error::NotConnected {
                command: "disconnect",
            });
        }
        let disconnect = if self.config.protocol.is_v5() {
            disconnect
        } else {
            Disconnect::default()
        };
        self.send(&Packet::Disconnect(disconnect))?;
        self.end_connection();
        Ok(())
    }

    /// Moves the bytes to send into `out`; false when there is nothing to send.
    pub fn poll_transmit(&mut self, out: &mut BytesMut) -> bool {
        self.tx.drain_into(out)
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            ConnectionState::Disconnected => None,
            ConnectionState::Connecting => self.connack_deadline,
            ConnectionState::Connected => self.ping_deadline.or_else(|| {
                self.keep_alive
                    .map(|keep_alive| self.last_sent + keep_alive)
            }),
        }
    }

    /// Where the connection is.
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Outgoing QoS 1/2 messages sent and not yet completed.
    pub fn inflight(&self) -> usize {
        self.outgoing.inflight()
    }

    /// Outgoing QoS 1/2 messages waiting for a connection or a free Receive Maximum slot.
    pub fn queued(&self) -> usize {
        self.outgoing.queued()
    }

    /// The server's Receive Maximum (65535 until CONNACK says otherwise, and for 3.1.1).
    pub fn server_receive_maximum(&self) -> u16 {
        self.limits.receive_maximum
    }

    /// Received QoS 2 messages waiting for PUBREL.
    pub fn incoming_pending(&self) -> usize {
        self.incoming.len()
    }

    /// The keep-alive in force on this connection (after Server Keep Alive), if any.
    pub fn keep_alive(&self) -> Option<Duration> {
        self.keep_alive
    }

    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn session_persists(&self) -> bool {
        if self.config.protocol.is_v5() {
            self.session_expiry > 0
        } else {
            !self.config.clean_start
        }
    }

    fn send(&mut self, packet: &Packet) -> Result<(), Error> {
        self.tx.push(packet, self.config.protocol)?;
        self.last_sent = self.now;
        Ok(())
    }

    fn request(
        &mut self,
        kind: PacketType,
        count: usize,
        build: impl FnOnce(PacketId) -> Packet,
    ) -> Result<PacketId, Error> {
        let command = if kind == PacketType::Subscribe {
            "subscribe"
        } else {
            "unsubscribe"
        };
        if self.state == ConnectionState::Disconnected {
            return Err(Error::NotConnected { command });
        }
        let id = self.outgoing.hold_id().ok_or(Error::PacketIdsExhausted)?;
        let packet = build(id);
        if self.state == ConnectionState::Connected {
            let sent = check_size(
                &packet,
                self.config.protocol,
                self.limits.maximum_packet_size,
            )
            .and_then(|()| self.send(&packet));
            if let Err(error) = sent {
                self.outgoing.release_id(id);
                return Err(error);
            }
        } else {
            self.held.push_back(packet);
        }
        self.requests.insert(id, (kind, count));
        Ok(id)
    }

    /// Checks a PUBLISH against the server's limits before accepting it from the caller.
    fn check_publish(&self, publish: &Publish, qos: QoS) -> Result<(), Error> {
        if qos > self.limits.maximum_qos {
            return Err(Error::QosNotSupported {
                requested: qos,
                maximum: self.limits.maximum_qos,
            });
        }
        if publish.retain && !self.limits.retain_available {
            return Err(Error::RetainNotAvailable);
        }
        let mut sized = publish.clone();
        sized.delivery = Delivery::new(qos, PacketId::MIN);
        check_size(
            &Packet::Publish(sized),
            self.config.protocol,
            self.limits.maximum_packet_size,
        )
    }

    /// The same checks for a message queued before the limits were known.
    fn limit_problem(&self, publish: &Publish) -> Option<AbandonReason> {
        match self.check_publish(publish, publish.delivery.qos()) {
            Ok(()) => None,
            Err(Error::QosNotSupported { .. }) => Some(AbandonReason::QosNotSupported),
            Err(Error::RetainNotAvailable) => Some(AbandonReason::RetainNotSupported),
            Err(error) => Some(abandon_reason(error)),
        }
    }

    /// Sends queued QoS 1/2 messages while the server's Receive Maximum allows
    /// ([MQTT-3.3.4-7]).
    fn pump(&mut self) {
        if self.state != ConnectionState::Connected {
            return;
        }
        let limit = usize::from(self.limits.receive_maximum);
        // A copy: topic aliases rewrite the wire form, and a resend needs the full topic.
        while let Some(publish) = self.outgoing.next_sendable(limit, self.now).cloned() {
            let Some(id) = publish.delivery.packet_id() else {
                continue;
            };
            if let Some(reason) = self.limit_problem(&publish) {
                self.outgoing.abandon(id);
                self.events.push_back(Event::Abandoned {
                    packet_id: Some(id),
                    packet: PacketType::Publish,
                    reason,
                });
                continue;
            }
            let mut wire = publish;
            self.outbound_aliases.apply(&mut wire);
            if let Err(error) = self.tx.push(&Packet::Publish(wire), self.config.protocol) {
                self.outgoing.abandon(id);
                self.events.push_back(Event::Abandoned {
                    packet_id: Some(id),
                    packet: PacketType::Publish,
                    reason: AbandonReason::Unencodable(error),
                });
                continue;
            }
            self.last_sent = self.now;
        }
    }

    fn own_receive_maximum(&self) -> u16 {
        match self.config.receive_maximum {
            Some(maximum) if self.config.protocol.is_v5() => maximum.get(),
            _ => u16::MAX,
        }
    }

    fn time_out(&mut self, waiting_for: PacketType) {
        self.events.push_back(Event::TimedOut { waiting_for });
        self.end_connection();
        self.tx.clear();
    }

    /// The server broke the protocol: tell it why (MQTT 5) and finish the connection.
    fn fail(&mut self, violation: Violation) {
        if self.config.protocol.is_v5() {
            let reason = match violation.reason_code() {
                ReasonCode::UnsupportedProtocolVersion => ReasonCode::ProtocolError,
                reason => reason,
            };
            let _ = self.send(&Packet::Disconnect(Disconnect::new(reason)));
        }
        self.events.push_back(Event::ProtocolError(violation));
        self.end_connection();
    }

    /// Connection-scoped state ends; session state (QoS flows) stays.
    fn end_connection(&mut self) {
        self.state = ConnectionState::Disconnected;
        self.connack_deadline = None;
        self.ping_deadline = None;
        self.rx.clear();
        self.outgoing.pause();
        self.incoming.pause();
        let requests = core::mem::take(&mut self.requests);
        for (id, (kind, _)) in requests {
            self.outgoing.release_id(id);
            self.events.push_back(Event::Abandoned {
                packet_id: Some(id),
                packet: kind,
                reason: AbandonReason::ConnectionLost,
            });
        }
        for packet in core::mem::take(&mut self.held) {
            if let Packet::Publish(_) = packet {
                self.events.push_back(Event::Abandoned {
                    packet_id: None,
                    packet: PacketType::Publish,
                    reason: AbandonReason::ConnectionLost,
                });
            }
        }
    }
}

fn inbound_limit(config: &ClientConfig) -> u32 {
    match config.maximum_packet_size {
        Some(maximum) if config.protocol.is_v5() => maximum.get(),
        _ => MAX_PACKET_SIZE,
    }
}

fn abandon_reason(error: Error) -> AbandonReason {
    match error {
        Error::Encode(error) => AbandonReason::Unencodable(error),
        Error::PacketTooLarge { size, maximum, .. } => {
            AbandonReason::PacketTooLarge { size, maximum }
        }
        Error::QosNotSupported { .. } => AbandonReason::QosNotSupported,
        Error::RetainNotAvailable => AbandonReason::RetainNotSupported,
        _ => AbandonReason::ConnectionLost,
    }
}
