//! Codec errors: [`DecodeError`] for bytes a peer sent that break a rule of MQTT 3.1.1 or 5.0
//! (each message cites the rule and names the packet and field, and [`DecodeError::reason_code`]
//! says which reason code to answer with), and [`EncodeError`] for local misuse when building
//! bytes. Session-level violations (unknown topic alias, unexpected packet ids) are not here;
//! the session state machines report those.

use crate::packet::PacketType;
use crate::properties::PropertyId;
use crate::reason::ReasonCode;
use crate::string::StringError;
use crate::topic::TopicError;
use crate::types::Protocol;

/// The CONNECT field name of the client identifier, as errors carry it;
/// [`DecodeError::reason_code`] recognises it.
pub(crate) const CLIENT_ID_FIELD: &str = "client identifier";

/// A received packet breaks a rule of the specification. The peer is at fault.
///
/// The mapping to a reason code follows MQTT 5 §4.13 and §2.4 where the specification names one,
/// and otherwise the behaviour of the Mosquitto reference broker (see [`DecodeError::reason_code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The first byte has packet type 0.
    #[error(
        "[MQTT-2.1.2] packet type 0 is reserved and must not be sent (first byte 0x{byte:02X}); \
         the peer is not speaking MQTT"
    )]
    ReservedPacketType {
        /// The first byte of the fixed header.
        byte: u8,
    },
    /// `decode` was given an empty buffer.
    #[error("[MQTT-2.1.1] empty frame: every packet has at least a two-byte fixed header")]
    EmptyFrame,
    /// A packet type the negotiated version does not have (AUTH before MQTT 5).
    #[error("[MQTT-2.1.2] {} (packet type {}) is reserved in {protocol}", .packet.name(), *.packet as u8)]
    PacketNotInVersion {
        /// The packet type.
        packet: PacketType,
        /// The version in use.
        protocol: Protocol,
    },
    /// The flag bits of the fixed header are not the ones the packet type requires.
    #[error(
        "[MQTT-2.1.3-1] {} fixed header flags are 0b{flags:04b}; this packet type requires \
         0b{expected:04b}",
        .packet.name()
    )]
    InvalidFlags {
        /// The packet type.
        packet: PacketType,
        /// Flags received (low nibble of the first byte).
        flags: u8,
        /// Flags required.
        expected: u8,
    },
    /// The remaining length of the fixed header continues past its fourth byte.
    #[error(
        "[MQTT-1.5.5-1] the remaining length of the fixed header is longer than four bytes \
         (maximum packet size 268,435,455 bytes of body)"
    )]
    RemainingLengthTooLong,
    /// A variable byte integer inside a packet is longer than four bytes or not minimal.
    #[error(
        "[MQTT-1.5.5-1] {} {field}: variable byte integer is longer than four bytes or not \
         encoded in the minimum number of bytes",
        .packet.name()
    )]
    InvalidVarint {
        /// The packet type.
        packet: PacketType,
        /// The field that holds the integer.
        field: &'static str,
    },
    /// The whole packet is larger than the configured maximum packet size.
    #[error(
        "[MQTT-3.1.2-24] packet of {size} bytes exceeds the maximum packet size of {max} bytes; \
         it was refused from its fixed header"
    )]
    PacketTooLarge {
        /// Total packet size announced by the fixed header.
        size: u64,
        /// The limit in force.
        max: u32,
    },
    /// The packet ends before a field is complete.
    #[error(
        "[MQTT-2.1.4] {} {field}: the packet ends inside this field (the remaining length is \
         too small or a length prefix too large)",
        .packet.name()
    )]
    Truncated {
        /// The packet type.
        packet: PacketType,
        /// The incomplete field.
        field: &'static str,
    },
    /// Bytes remain after the last field of the packet.
    #[error(
        "[MQTT-2.1.4] {}: {extra} byte(s) follow the last field; the remaining length does not \
         match the packet contents",
        .packet.name()
    )]
    TrailingBytes {
        /// The packet type.
        packet: PacketType,
        /// How many bytes were left over.
        extra: usize,
    },
    /// A string field is not a valid MQTT UTF-8 string.
    #[error("{} {field}: {source}", .packet.name())]
    InvalidString {
        /// The packet type.
        packet: PacketType,
        /// The field.
        field: &'static str,
        /// The rule broken.
        source: StringError,
    },
    /// A topic name field is not a valid topic name (wildcards, empty, bad UTF-8).
    #[error("{} {field}: {source}", .packet.name())]
    InvalidTopicName {
        /// The packet type.
        packet: PacketType,
        /// The field.
        field: &'static str,
        /// The rule broken.
        source: TopicError,
    },
    /// A topic name, topic filter, client identifier or user name contains a control character.
    #[error(
        "[MQTT-1.5.4] {} {field} contains the control character U+{code_point:04X}; topics, \
         client identifiers and user names must not contain U+0001..U+001F or U+007F..U+009F",
        .packet.name()
    )]
    ControlCharacter {
        /// The packet type.
        packet: PacketType,
        /// The field.
        field: &'static str,
        /// The offending character.
        code_point: u32,
    },
    /// A topic filter in SUBSCRIBE or UNSUBSCRIBE is not valid.
    #[error("{} topic filter: {source}", .packet.name())]
    InvalidTopicFilter {
        /// The packet type.
        packet: PacketType,
        /// The rule broken.
        source: TopicError,
    },
    /// A packet identifier is zero.
    #[error("[MQTT-2.2.1-3] {} packet identifier is 0; identifiers are 1..=65535", .packet.name())]
    ZeroPacketId {
        /// The packet type.
        packet: PacketType,
    },
    /// PUBLISH with both QoS bits set.
    #[error("[MQTT-3.3.1-4] PUBLISH QoS bits are 0b11 (QoS 3 does not exist)")]
    PublishQos3,
    /// PUBLISH with DUP set and QoS 0.
    #[error("[MQTT-3.3.1-2] PUBLISH has the DUP flag set with QoS 0; DUP must be 0 for QoS 0")]
    DupWithQos0,
    /// PUBLISH with an empty topic and no Topic Alias.
    #[error(
        "[MQTT-3.3.2-1] [MQTT-4.7.3-1] PUBLISH topic name is empty and no Topic Alias stands \
         for it"
    )]
    EmptyTopicWithoutAlias,
    /// PUBLISH Topic Alias 0.
    #[error("[MQTT-3.3.2-8] PUBLISH Topic Alias is 0; aliases start at 1")]
    TopicAliasZero,
    /// CONNECT protocol name is neither `MQTT` nor `MQIsdp`.
    #[error(
        "[MQTT-3.1.2-1] CONNECT protocol name is {name:?}; expected \"MQTT\" (or \"MQIsdp\" \
         with level 3)"
    )]
    InvalidProtocolName {
        /// The name received (lossy text).
        name: alloc::string::String,
    },
    /// CONNECT protocol level is not 3 (with `MQIsdp`), 4 or 5 (with `MQTT`).
    #[error(
        "[MQTT-3.1.2-2] CONNECT protocol level {level} is not supported with this protocol \
         name; supported are MQIsdp/3, MQTT/4 and MQTT/5"
    )]
    UnsupportedProtocolLevel {
        /// The level received.
        level: u8,
    },
    /// CONNECT flags bit 0 set.
    #[error("[MQTT-3.1.2-3] CONNECT flags have the reserved bit 0 set")]
    ReservedConnectFlag,
    /// Will QoS or Will Retain set without the Will Flag.
    #[error(
        "[MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15] CONNECT Will QoS/Will Retain are set \
         but the Will Flag is 0 (flags 0x{flags:02X})"
    )]
    WillFlagsWithoutWill {
        /// The connect flags byte.
        flags: u8,
    },
    /// Will QoS 3.
    #[error("[MQTT-3.1.2-14] CONNECT Will QoS is 3; it must be 0, 1 or 2")]
    WillQos3,
    /// MQTT 3.1.1: password flag without user name flag.
    #[error("[MQTT-3.1.2-22] CONNECT has the Password Flag set without the User Name Flag")]
    PasswordWithoutUsername,
    /// CONNACK acknowledge flags with reserved bits.
    #[error("[MQTT-3.2.2-1] CONNACK acknowledge flags are 0x{flags:02X}; bits 7-1 are reserved")]
    ConnAckReservedFlags {
        /// The flags byte.
        flags: u8,
    },
    /// CONNACK with Session Present and a failure code.
    #[error(
        "[MQTT-3.2.2-6] CONNACK has Session Present set with failure code 0x{code:02X}; it \
         must be 0 on failure"
    )]
    SessionPresentOnFailure {
        /// The return or reason code.
        code: u8,
    },
    /// A reason or return code this packet cannot carry.
    #[error(
        "[MQTT-2.4] {} reason code 0x{code:02X} is not one the specification allows in this \
         packet",
        .packet.name()
    )]
    InvalidReasonCode {
        /// The packet type.
        packet: PacketType,
        /// The code received.
        code: u8,
    },
    /// SUBSCRIBE/UNSUBSCRIBE without any topic filter.
    #[error("[MQTT-3.8.3-3] [MQTT-3.10.3-2] {} carries no topic filter", .packet.name())]
    NoTopicFilters {
        /// SUBSCRIBE or UNSUBSCRIBE.
        packet: PacketType,
    },
    /// SUBACK/UNSUBACK (MQTT 5) without any reason code.
    #[error("[MQTT-3.9.3-1] {} carries no reason code; it needs one per topic filter", .packet.name())]
    NoReasonCodes {
        /// SUBACK or UNSUBACK.
        packet: PacketType,
    },
    /// Reserved bits of a subscription options byte set.
    #[error(
        "[MQTT-3.8.3-5] SUBSCRIBE subscription options 0x{options:02X} set reserved bits \
         (MQTT 5: bits 7-6; MQTT 3.1.1: bits 7-2)"
    )]
    ReservedSubscriptionOptions {
        /// The options byte.
        options: u8,
    },
    /// Subscription QoS 3.
    #[error("[MQTT-3.8.3-2] SUBSCRIBE requested QoS is 3; it must be 0, 1 or 2")]
    SubscriptionQos3,
    /// Retain Handling 3.
    #[error("[MQTT-3.8.3-6] SUBSCRIBE Retain Handling is 3; it must be 0, 1 or 2")]
    RetainHandling3,
    /// No Local on a shared subscription.
    #[error("[MQTT-3.8.3-4] SUBSCRIBE sets No Local on shared subscription {filter:?}")]
    NoLocalOnShared {
        /// The filter.
        filter: alloc::string::String,
    },
    /// A property identifier that MQTT 5 does not define.
    #[error(
        "[MQTT-2.2.2.2] {} property identifier 0x{id:02X} is not an MQTT 5 property",
        .packet.name()
    )]
    UnknownProperty {
        /// The packet type.
        packet: PacketType,
        /// The identifier (first byte; identifiers are one-byte varints).
        id: u32,
    },
    /// A property valid in MQTT 5 but not in this packet (or this property block). §2.2.2.2 calls
    /// this malformed; it is reported as a Protocol Error when the value itself is well formed,
    /// as the Mosquitto reference broker does (a cut-off value is `PropertyOverrun`).
    #[error("[MQTT-2.2.2.2] {} {block} may not carry the {property:?} property", .packet.name())]
    PropertyNotAllowed {
        /// The packet type.
        packet: PacketType,
        /// `properties` or `will properties`.
        block: &'static str,
        /// The property.
        property: PropertyId,
    },
    /// A property other than User Property (or Subscription Identifier in PUBLISH) repeated.
    #[error(
        "[MQTT-2.2.2.2] {} {block} carry {property:?} more than once",
        .packet.name()
    )]
    DuplicateProperty {
        /// The packet type.
        packet: PacketType,
        /// `properties` or `will properties`.
        block: &'static str,
        /// The property.
        property: PropertyId,
    },
    /// A property value runs past the declared property length.
    #[error(
        "[MQTT-2.2.2.1] {} {block}: the {property:?} value runs past the property length",
        .packet.name()
    )]
    PropertyOverrun {
        /// The packet type.
        packet: PacketType,
        /// `properties` or `will properties`.
        block: &'static str,
        /// The property being read.
        property: PropertyId,
    },
    /// A property value the specification forbids (0 Receive Maximum, 2 as a boolean, ...).
    #[error("[{rule}] {} property {property:?} has the value {value}, which is not allowed", .packet.name())]
    InvalidPropertyValue {
        /// The packet type.
        packet: PacketType,
        /// The property.
        property: PropertyId,
        /// The value received.
        value: u32,
        /// The rule broken.
        rule: &'static str,
    },
    /// Authentication Data without Authentication Method.
    #[error(
        "[MQTT-3.1.2-28] {} carries Authentication Data without an Authentication Method",
        .packet.name()
    )]
    AuthDataWithoutMethod {
        /// The packet type.
        packet: PacketType,
    },
}

impl DecodeError {
    /// The reason code to report this violation with (in a DISCONNECT, or a CONNACK when it
    /// happened in CONNECT). For MQTT 3.1.1 peers the connection is simply closed, except for an
    /// unsupported protocol version, which CONNACK return code 1 reports.
    pub fn reason_code(&self) -> ReasonCode {
        use DecodeError::*;
        match self {
            PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            TopicAliasZero => ReasonCode::TopicAliasInvalid,
            // A well-formed string the server does not allow as a client identifier (MQTT 5
            // 0x85; 3.1.1 peers are simply closed, as for any malformed CONNECT).
            ControlCharacter {
                packet: PacketType::Connect,
                field: CLIENT_ID_FIELD,
                ..
            } => ReasonCode::ClientIdentifierNotValid,
            InvalidProtocolName { .. } | UnsupportedProtocolLevel { .. } => {
                ReasonCode::UnsupportedProtocolVersion
            }
            // Forbidden in the specification, but not a question of the packet's structure.
            ReservedPacketType { .. }
            | PacketNotInVersion { .. }
            | ZeroPacketId { .. }
            | EmptyTopicWithoutAlias
            | SessionPresentOnFailure { .. }
            | InvalidReasonCode { .. }
            | NoTopicFilters { .. }
            | NoReasonCodes { .. }
            | RetainHandling3
            | NoLocalOnShared { .. }
            | PropertyNotAllowed { .. }
            | DuplicateProperty { .. }
            | InvalidPropertyValue { .. }
            | AuthDataWithoutMethod { .. } => ReasonCode::ProtocolError,
            EmptyFrame
            | InvalidFlags { .. }
            | RemainingLengthTooLong
            | InvalidVarint { .. }
            | Truncated { .. }
            | TrailingBytes { .. }
            | InvalidString { .. }
            | InvalidTopicName { .. }
            | ControlCharacter { .. }
            | InvalidTopicFilter { .. }
            | PublishQos3
            | DupWithQos0
            | ReservedConnectFlag
            | WillFlagsWithoutWill { .. }
            | WillQos3
            | PasswordWithoutUsername
            | ConnAckReservedFlags { .. }
            | ReservedSubscriptionOptions { .. }
            | SubscriptionQos3
            | UnknownProperty { .. }
            | PropertyOverrun { .. } => ReasonCode::MalformedPacket,
        }
    }
}

/// A packet cannot be encoded as asked. The caller built or routed it wrongly; no peer is at
/// fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A string or binary field is longer than its two-byte length prefix allows.
    #[error("{} {field} is {len} bytes long; the two-byte length prefix allows at most 65535", .packet.name())]
    FieldTooLong {
        /// The packet type.
        packet: PacketType,
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// The body is larger than a remaining length can describe.
    #[error(
        "{} body would be {len} bytes; the remaining length allows at most 268,435,455 \
         ([MQTT-1.5.5]); split the payload",
        .packet.name()
    )]
    PacketTooLarge {
        /// The packet type.
        packet: PacketType,
        /// The body length.
        len: usize,
    },
    /// A Subscription Identifier outside 1..=268,435,455 (the range of a variable byte integer,
    /// zero excluded).
    #[error(
        "{} {field} is {value}; it must be 1..=268,435,455 ([MQTT-3.8.2.1.2], §1.5.5)",
        .packet.name()
    )]
    VarintOutOfRange {
        /// The packet type.
        packet: PacketType,
        /// The field.
        field: &'static str,
        /// The value.
        value: u32,
    },
    /// Something the chosen protocol version cannot express (AUTH, a failure reason code, an
    /// empty alias topic in 3.1.1, ...).
    #[error("{} cannot carry {what} in {protocol}; build the packet for this version", .packet.name())]
    NotInVersion {
        /// The packet type.
        packet: PacketType,
        /// What could not be carried.
        what: &'static str,
        /// The version asked for.
        protocol: Protocol,
    },
    /// A reason code this packet type may not carry.
    #[error("{} may not carry reason code {reason}; see MQTT 5 §2.4 for the allowed codes", .packet.name())]
    ReasonNotAllowed {
        /// The packet type.
        packet: PacketType,
        /// The reason.
        reason: ReasonCode,
    },
    /// A value the specification forbids sending (empty filter list, Topic Alias 0, ...).
    #[error("{} {what}; the specification forbids sending it", .packet.name())]
    InvalidValue {
        /// The packet type.
        packet: PacketType,
        /// What is wrong.
        what: &'static str,
    },
    /// The output buffer cannot hold the packet.
    #[error(
        "output buffer holds {available} bytes but the packet needs {needed}; give a larger buffer"
    )]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
}
