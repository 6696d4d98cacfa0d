//! The packet model: one enum for every MQTT 3.1.1 and 5.0 control packet. Fields that exist
//! only in MQTT 5 (properties, most reason codes) are simply empty or `Success` for 3.1.1.
//! Values here are already valid: the codec builds them only from well-formed input, and
//! encoders trust them. Wire format lives in `codec`.

use alloc::vec::Vec;

use bytes::Bytes;

use crate::properties::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PublishProperties, SubscribeProperties, UnsubscribeProperties, WillProperties,
};
use crate::reason::ReasonCode;
use crate::string::MqttStr;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{Delivery, PacketId, Protocol, QoS, SubscriptionOptions};

/// The control packet types (fixed header bits 7–4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum PacketType {
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}

impl PacketType {
    /// Parses the four high bits of the first byte; 0 is reserved.
    pub fn from_u8(value: u8) -> Option<PacketType> {
        use PacketType::*;
        Some(match value {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 => Auth,
            _ => return None,
        })
    }

    /// The packet's name as the specification writes it.
    pub fn name(self) -> &'static str {
        use PacketType::*;
        match self {
            Connect => "CONNECT",
            ConnAck => "CONNACK",
            Publish => "PUBLISH",
            PubAck => "PUBACK",
            PubRec => "PUBREC",
            PubRel => "PUBREL",
            PubComp => "PUBCOMP",
            Subscribe => "SUBSCRIBE",
            SubAck => "SUBACK",
            Unsubscribe => "UNSUBSCRIBE",
            UnsubAck => "UNSUBACK",
            PingReq => "PINGREQ",
            PingResp => "PINGRESP",
            Disconnect => "DISCONNECT",
            Auth => "AUTH",
        }
    }
}

/// Any MQTT control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Packet {
    Connect(alloc::boxed::Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(PubAck),
    PubRec(PubAck),
    PubRel(PubAck),
    PubComp(PubAck),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }
}

/// CONNECT (§3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// Protocol version requested.
    pub protocol: Protocol,
    /// Clean Session (3.1.1) / Clean Start (5).
    pub clean_start: bool,
    /// Keep-alive in seconds; 0 disables it.
    pub keep_alive: u16,
    /// Client identifier; may be empty.
    pub client_id: MqttStr,
    /// The will message, if any.
    pub will: Option<Will>,
    /// User name, if the flag is set.
    pub username: Option<MqttStr>,
    /// Password, if the flag is set (binary data).
    pub password: Option<Bytes>,
    /// MQTT 5 properties.
    pub properties: ConnectProperties,
}

/// The will message carried in CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// Topic the will is published to.
    pub topic: TopicName,
    /// Will payload.
    pub payload: Bytes,
    /// QoS of the will publication.
    pub qos: QoS,
    /// Whether the will is retained.
    pub retain: bool,
    /// MQTT 5 will properties.
    pub properties: WillProperties,
}

/// CONNACK (§3.2). For MQTT 3.1.1 the reason is one of the six return codes mapped by
/// [`ReasonCode::from_v3_connack`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Whether the server resumed a session.
    pub session_present: bool,
    /// Result of the connection attempt.
    pub reason: ReasonCode,
    /// MQTT 5 properties.
    pub properties: ConnAckProperties,
}

/// PUBLISH (§3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// Re-delivery flag.
    pub dup: bool,
    /// QoS and packet id.
    pub delivery: Delivery,
    /// Retain flag.
    pub retain: bool,
    /// Topic name. Empty only in MQTT 5 when a topic alias stands for it.
    pub topic: TopicName,
    /// MQTT 5 properties.
    pub properties: PublishProperties,
    /// Application payload, shared with the receive buffer.
    pub payload: Bytes,
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP share one shape (§3.4–3.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubAck {
    /// Packet id being acknowledged.
    pub packet_id: PacketId,
    /// MQTT 5 reason; `Success` for 3.1.1.
    pub reason: ReasonCode,
    /// MQTT 5 properties.
    pub properties: AckProperties,
}

impl PubAck {
    /// A successful acknowledgement without properties.
    pub fn new(packet_id: PacketId) -> Self {
        PubAck {
            packet_id,
            reason: ReasonCode::Success,
            properties: AckProperties::default(),
        }
    }
}

/// SUBSCRIBE (§3.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet id.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: SubscribeProperties,
    /// At least one filter with its options ([MQTT-3.8.3-3]).
    pub filters: Vec<(TopicFilter, SubscriptionOptions)>,
}

/// SUBACK (§3.9). For MQTT 3.1.1 each code is a granted QoS or `UnspecifiedError` (0x80).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// Packet id of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: AckProperties,
    /// One code per filter, in order.
    pub reasons: Vec<ReasonCode>,
}

/// UNSUBSCRIBE (§3.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet id.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: UnsubscribeProperties,
    /// At least one filter ([MQTT-3.10.3-2]).
    pub filters: Vec<TopicFilter>,
}

/// UNSUBACK (§3.11). MQTT 3.1.1 carries no codes, so `reasons` is empty there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// Packet id of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// MQTT 5 properties.
    pub properties: AckProperties,
    /// MQTT 5: one code per filter, in order.
    pub reasons: Vec<ReasonCode>,
}

/// DISCONNECT (§3.14). MQTT 3.1.1 DISCONNECT has no body: reason `Success`, no properties.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// Why the connection is closing.
    pub reason: ReasonCode,
    /// MQTT 5 properties.
    pub properties: DisconnectProperties,
}

// The enum is generated by a macro in `reason`, where `#[default]` cannot be placed.
#[allow(clippy::derivable_impls)]
impl Default for ReasonCode {
    fn default() -> Self {
        ReasonCode::Success
    }
}

impl Disconnect {
    /// A DISCONNECT with the given reason and no properties.
    pub fn new(reason: ReasonCode) -> Self {
        Disconnect {
            reason,
            properties: DisconnectProperties::default(),
        }
    }
}

/// AUTH (§3.15, MQTT 5 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// Success, Continue authentication or Re-authenticate.
    pub reason: ReasonCode,
    /// Properties, normally the authentication method and data.
    pub properties: AuthProperties,
}
