//! Session errors, split by who is at fault: [`Error`] is local misuse of a session (a command
//! that cannot be carried out as asked) and is returned from that command; [`Violation`] is the
//! peer breaking the protocol and is reported as an event, after which the session has closed
//! the connection (with a DISCONNECT carrying [`Violation::reason_code`] in MQTT 5). Malformed
//! bytes are the codec's [`DecodeError`]; this module only wraps them.

use crate::error::{DecodeError, EncodeError};
use crate::packet::PacketType;
use crate::reason::ReasonCode;
use crate::types::{PacketId, QoS};

/// A session command that cannot be carried out. The caller is at fault; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The command needs a connection (or a connection attempt) and there is none.
    #[error("cannot {command}: there is no connection; call connect() first")]
    NotConnected {
        /// What was attempted.
        command: &'static str,
    },
    /// `connect` was called while a connection is open or being opened.
    #[error(
        "connect() called while a connection is already open or opening; call disconnect() or \
         connection_lost() first"
    )]
    AlreadyConnected,
    /// `send_connack` was called a second time.
    #[error("[MQTT-3.2.0-2] CONNACK was already sent on this connection; send it once")]
    ConnAckAlreadySent,
    /// Every packet identifier 1..=65535 is held by an unacknowledged packet.
    #[error(
        "[MQTT-2.2.1-3] all 65535 packet identifiers are in use by unacknowledged packets; wait \
         for acknowledgements before sending more QoS 1/2 messages, subscriptions or \
         unsubscriptions"
    )]
    PacketIdsExhausted,
    /// The encoded packet is larger than the peer accepts.
    #[error(
        "{} of {size} bytes exceeds the peer's Maximum Packet Size of {maximum} bytes \
         ([MQTT-3.1.2-24]/[MQTT-3.2.2-15]); send a smaller payload",
        .packet.name()
    )]
    PacketTooLarge {
        /// The packet type.
        packet: PacketType,
        /// Encoded size.
        size: usize,
        /// The peer's limit.
        maximum: u32,
    },
    /// The publication's QoS is above the server's Maximum QoS.
    #[error(
        "PUBLISH with QoS {} exceeds the server's Maximum QoS {} ([MQTT-3.2.2-11]); publish \
         with a lower QoS",
        *.requested as u8, *.maximum as u8
    )]
    QosNotSupported {
        /// QoS asked for.
        requested: QoS,
        /// The server's Maximum QoS from CONNACK.
        maximum: QoS,
    },
    /// The server said it does not support retained messages.
    #[error(
        "PUBLISH with RETAIN set but the server's CONNACK says Retain Available = 0 \
         ([MQTT-3.2.2-14]); publish without retain"
    )]
    RetainNotAvailable,
    /// The message has no topic (the empty alias placeholder).
    #[error(
        "PUBLISH needs a topic name; the empty placeholder is only for aliases, which the \
         session manages itself"
    )]
    EmptyTopic,
    /// SUBSCRIBE or UNSUBSCRIBE without any topic filter.
    #[error("{} needs at least one topic filter ([MQTT-3.8.3-3]/[MQTT-3.10.3-2])", .packet.name())]
    NoTopicFilters {
        /// SUBSCRIBE or UNSUBSCRIBE.
        packet: PacketType,
    },
    /// `ack_publish` for an id that no received publication awaits.
    #[error(
        "ack_publish({packet_id}): no received QoS 1/2 PUBLISH with this packet id is waiting \
         for an acknowledgement (already acknowledged, or never received)"
    )]
    UnknownPacketId {
        /// The id given.
        packet_id: PacketId,
    },
    /// The packet cannot be encoded for the connection's protocol version.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// The peer broke the protocol. The session has stopped using the connection: in MQTT 5 it
/// queued a DISCONNECT with [`Violation::reason_code`]; the caller sends what `poll_transmit`
/// still gives and closes the transport.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// The bytes do not form a valid packet.
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    /// The server sent something other than CONNACK (or AUTH) first.
    #[error(
        "[MQTT-3.2.0-1] the server sent {} before CONNACK; CONNACK must be its first packet",
        .packet.name()
    )]
    ExpectedConnAck {
        /// What arrived instead.
        packet: PacketType,
    },
    /// A second CONNACK on one connection.
    #[error("[MQTT-3.2.0-2] the server sent a second CONNACK on the same connection")]
    DuplicateConnAck,
    /// A second CONNECT on one connection.
    #[error("[MQTT-3.1.0-2] the client sent a second CONNECT on the same connection")]
    DuplicateConnect,
    /// Session Present = 1 although the client asked for a clean start.
    #[error(
        "[MQTT-3.2.2-4] CONNACK says Session Present although the client connected with Clean \
         Start and holds no session state"
    )]
    UnexpectedSessionPresent,
    /// A packet this side never receives (e.g. SUBSCRIBE sent to a client, or AUTH when no
    /// authentication method was negotiated).
    #[error("[§2.1.2] {} is not expected from the peer: it is sent only in the other direction \
         (Table 2-1), or belongs to a feature this session did not negotiate (AUTH)", .packet.name())]
    WrongDirection {
        /// The packet type.
        packet: PacketType,
    },
    /// A Topic Alias above the maximum announced to the peer.
    #[error(
        "[MQTT-3.3.2-9]/[MQTT-3.3.2-11] PUBLISH Topic Alias {alias} exceeds the Topic Alias \
         Maximum {maximum} announced to the peer"
    )]
    TopicAliasOutOfRange {
        /// Alias received.
        alias: u16,
        /// Maximum announced (0 means aliases are not accepted).
        maximum: u16,
    },
    /// An empty topic with an alias that has no topic bound to it yet.
    #[error(
        "[§3.3.2.3.4] PUBLISH has an empty topic and Topic Alias {alias}, but no topic was \
         bound to that alias on this connection"
    )]
    TopicAliasUnknown {
        /// Alias received.
        alias: u16,
    },
    /// More unacknowledged QoS 1/2 publications than the Receive Maximum allows.
    #[error(
        "[MQTT-3.3.4-7]/[MQTT-3.3.4-9] the peer sent more than Receive Maximum ({maximum}) QoS \
         1/2 PUBLISH packets that are not yet acknowledged"
    )]
    ReceiveMaximumExceeded {
        /// The Receive Maximum announced to the peer.
        maximum: u16,
    },
    /// A PUBLISH with a QoS above the Maximum QoS announced in CONNACK.
    #[error(
        "[MQTT-3.2.2-11] PUBLISH with QoS {} exceeds the Maximum QoS {} the server announced",
        *.received as u8, *.maximum as u8
    )]
    QosNotSupported {
        /// QoS received.
        received: QoS,
        /// Maximum announced.
        maximum: QoS,
    },
    /// A retained PUBLISH although the server announced Retain Available = 0.
    #[error("[MQTT-3.2.2-14] PUBLISH has RETAIN set but the server announced Retain Available = 0")]
    RetainNotSupported,
    /// An acknowledgement of the wrong kind for the packet id (e.g. PUBACK for a QoS 2 message).
    #[error(
        "[§4.3.2]/[§4.3.3] {} for packet id {packet_id}, which belongs to a flow that \
         does not expect it",
        .packet.name()
    )]
    AckMismatch {
        /// The acknowledgement received.
        packet: PacketType,
        /// Its packet id.
        packet_id: PacketId,
    },
    /// PUBREL for a QoS 2 message that was not yet acknowledged with PUBREC.
    #[error(
        "[§4.3.3] PUBREL for packet id {packet_id} arrived before the PUBREC that it \
         answers was sent"
    )]
    PubRelBeforePubRec {
        /// The packet id.
        packet_id: PacketId,
    },
    /// SUBACK/UNSUBACK whose reason codes do not match the filters one for one.
    #[error(
        "[§3.9.3]/[§3.11.3] {} for packet id {packet_id} has {received} reason \
         codes for {expected} topic filters",
        .packet.name()
    )]
    ReasonCountMismatch {
        /// SUBACK or UNSUBACK.
        packet: PacketType,
        /// Its packet id.
        packet_id: PacketId,
        /// Codes received.
        received: usize,
        /// Filters sent.
        expected: usize,
    },
    /// A client's PUBLISH carries a Subscription Identifier.
    #[error(
        "[MQTT-3.3.4-6] the client's PUBLISH carries a Subscription Identifier; only the \
         server sets it, on the messages it forwards"
    )]
    SubscriptionIdFromClient,
    /// DISCONNECT sets a Session Expiry Interval although CONNECT set none (or 0).
    #[error(
        "[§3.14.2.2.2] DISCONNECT sets Session Expiry Interval {interval} although CONNECT \
         set it to 0"
    )]
    SessionExpiryAfterZero {
        /// The interval in DISCONNECT.
        interval: u32,
    },
}

impl Violation {
    /// The reason code of the DISCONNECT that reports this violation (MQTT 5 §4.13).
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Violation::Malformed(e) => e.reason_code(),
            Violation::TopicAliasOutOfRange { .. } => ReasonCode::TopicAliasInvalid,
            Violation::ReceiveMaximumExceeded { .. } => ReasonCode::ReceiveMaximumExceeded,
            Violation::QosNotSupported { .. } => ReasonCode::QosNotSupported,
            Violation::RetainNotSupported => ReasonCode::RetainNotSupported,
            Violation::ExpectedConnAck { .. }
            | Violation::DuplicateConnAck
            | Violation::DuplicateConnect
            | Violation::UnexpectedSessionPresent
            | Violation::WrongDirection { .. }
            | Violation::TopicAliasUnknown { .. }
            | Violation::AckMismatch { .. }
            | Violation::PubRelBeforePubRec { .. }
            | Violation::ReasonCountMismatch { .. }
            | Violation::SubscriptionIdFromClient
            | Violation::SessionExpiryAfterZero { .. } => ReasonCode::ProtocolError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn violations_map_to_the_reason_codes_of_section_4_13() {
        let alias = Violation::TopicAliasOutOfRange {
            alias: 9,
            maximum: 4,
        };
        assert_eq!(alias.reason_code(), ReasonCode::TopicAliasInvalid);
        assert!(alias.to_string().contains("[MQTT-3.3.2-9]"));
        let rm = Violation::ReceiveMaximumExceeded { maximum: 2 };
        assert_eq!(rm.reason_code(), ReasonCode::ReceiveMaximumExceeded);
        let malformed = Violation::from(DecodeError::PublishQos3);
        assert_eq!(malformed.reason_code(), ReasonCode::MalformedPacket);
        assert_eq!(
            Violation::DuplicateConnAck.reason_code(),
            ReasonCode::ProtocolError
        );
    }

    #[test]
    fn local_errors_say_what_to_do() {
        let e = Error::NotConnected {
            command: "subscribe",
        };
        assert!(e.to_string().contains("call connect() first"));
        let big = Error::PacketTooLarge {
            packet: PacketType::Publish,
            size: 300,
            maximum: 128,
        };
        assert!(big.to_string().contains("PUBLISH of 300 bytes"));
    }
}
