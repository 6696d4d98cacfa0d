//! Small protocol values with invariants: protocol version, QoS, non-zero packet ids, and
//! subscription options. Each is built only by fallible parsing from wire values.

use core::fmt;
use core::num::NonZeroU16;

/// The MQTT protocol version a connection speaks, from the CONNECT packet's protocol level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// MQTT 3.1 (protocol name `MQIsdp`, level 3); encoded and decoded like 3.1.1.
    V31,
    /// MQTT 3.1.1 (protocol name `MQTT`, level 4).
    V311,
    /// MQTT 5.0 (protocol name `MQTT`, level 5).
    V5,
}

impl Protocol {
    /// The protocol level byte carried in CONNECT.
    pub fn level(self) -> u8 {
        match self {
            Protocol::V31 => 3,
            Protocol::V311 => 4,
            Protocol::V5 => 5,
        }
    }

    /// The protocol name carried in CONNECT.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::V31 => "MQIsdp",
            Protocol::V311 | Protocol::V5 => "MQTT",
        }
    }

    /// True for MQTT 5, which carries properties and reason codes.
    pub fn is_v5(self) -> bool {
        self == Protocol::V5
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::V31 => "MQTT 3.1",
            Protocol::V311 => "MQTT 3.1.1",
            Protocol::V5 => "MQTT 5.0",
        })
    }
}

/// Quality of service of a message or subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum QoS {
    /// At most once.
    #[default]
    AtMostOnce = 0,
    /// At least once.
    AtLeastOnce = 1,
    /// Exactly once.
    ExactlyOnce = 2,
}

impl QoS {
    /// Parses the two-bit wire value; 3 is reserved and refused.
    pub fn from_u8(value: u8) -> Option<QoS> {
        match value {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// A packet identifier: a non-zero 16-bit number ([MQTT-2.2.1-3]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketId(NonZeroU16);

impl PacketId {
    /// The smallest packet id, 1.
    pub const MIN: PacketId = PacketId(NonZeroU16::MIN);

    /// Parses a wire value; zero is not a packet id.
    pub fn new(value: u16) -> Option<PacketId> {
        NonZeroU16::new(value).map(PacketId)
    }

    /// The wire value.
    pub fn get(self) -> u16 {
        self.0.get()
    }

    /// The next id after this one, wrapping from 65535 to 1.
    pub fn next(self) -> PacketId {
        PacketId(self.0.checked_add(1).unwrap_or(NonZeroU16::MIN))
    }
}

impl fmt::Display for PacketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The QoS of a PUBLISH together with its packet id, which exists exactly when QoS > 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// QoS 0: no packet id.
    AtMostOnce,
    /// QoS 1 with its packet id.
    AtLeastOnce(PacketId),
    /// QoS 2 with its packet id.
    ExactlyOnce(PacketId),
}

impl Delivery {
    /// Builds the delivery for `qos`, using `id` when QoS > 0.
    pub fn new(qos: QoS, id: PacketId) -> Delivery {
        match qos {
            QoS::AtMostOnce => Delivery::AtMostOnce,
            QoS::AtLeastOnce => Delivery::AtLeastOnce(id),
            QoS::ExactlyOnce => Delivery::ExactlyOnce(id),
        }
    }

    /// The QoS level.
    pub fn qos(self) -> QoS {
        match self {
            Delivery::AtMostOnce => QoS::AtMostOnce,
            Delivery::AtLeastOnce(_) => QoS::AtLeastOnce,
            Delivery::ExactlyOnce(_) => QoS::ExactlyOnce,
        }
    }

    /// The packet id, if QoS > 0.
    pub fn packet_id(self) -> Option<PacketId> {
        match self {
            Delivery::AtMostOnce => None,
            Delivery::AtLeastOnce(id) | Delivery::ExactlyOnce(id) => Some(id),
        }
    }
}

/// When the server sends retained messages for a new subscription (MQTT 5 §3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum RetainHandling {
    /// Send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// Send them only if the subscription did not already exist.
    SendIfNew = 1,
    /// Do not send retained messages.
    DoNotSend = 2,
}

/// The options byte of one SUBSCRIBE entry. In MQTT 3.1.1 only `qos` is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the subscriber accepts.
    pub qos: QoS,
    /// MQTT 5: do not deliver the client's own publications back to it.
    pub no_local: bool,
    /// MQTT 5: keep the RETAIN flag as published when forwarding.
    pub retain_as_published: bool,
    /// MQTT 5: when retained messages are sent.
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with the given QoS and MQTT 5 defaults for the rest.
    pub fn with_qos(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            ..Self::default()
        }
    }
}
