//! MQTT 5.0 properties (§2.2.2), one struct per packet kind holding exactly the properties that
//! packet may carry. Absent properties are `None`; user properties keep their order
//! ([MQTT-3.3.2-18]). Encoding and decoding live in `codec::properties`; MQTT 3.1.1 packets
//! simply have every field empty.

use alloc::vec::Vec;

use bytes::Bytes;

use crate::string::MqttStr;
use crate::topic::TopicName;

/// Property identifiers (§2.2.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)]
pub enum PropertyId {
    PayloadFormatIndicator = 0x01,
    MessageExpiryInterval = 0x02,
    ContentType = 0x03,
    ResponseTopic = 0x08,
    CorrelationData = 0x09,
    SubscriptionIdentifier = 0x0B,
    SessionExpiryInterval = 0x11,
    AssignedClientIdentifier = 0x12,
    ServerKeepAlive = 0x13,
    AuthenticationMethod = 0x15,
    AuthenticationData = 0x16,
    RequestProblemInformation = 0x17,
    WillDelayInterval = 0x18,
    RequestResponseInformation = 0x19,
    ResponseInformation = 0x1A,
    ServerReference = 0x1C,
    ReasonString = 0x1F,
    ReceiveMaximum = 0x21,
    TopicAliasMaximum = 0x22,
    TopicAlias = 0x23,
    MaximumQos = 0x24,
    RetainAvailable = 0x25,
    UserProperty = 0x26,
    MaximumPacketSize = 0x27,
    WildcardSubscriptionAvailable = 0x28,
    SubscriptionIdentifierAvailable = 0x29,
    SharedSubscriptionAvailable = 0x2A,
}

impl PropertyId {
    /// Parses a property identifier byte.
    pub fn from_u8(value: u8) -> Option<PropertyId> {
        use PropertyId::*;
        Some(match value {
            0x01 => PayloadFormatIndicator,
            0x02 => MessageExpiryInterval,
            0x03 => ContentType,
            0x08 => ResponseTopic,
            0x09 => CorrelationData,
            0x0B => SubscriptionIdentifier,
            0x11 => SessionExpiryInterval,
            0x12 => AssignedClientIdentifier,
            0x13 => ServerKeepAlive,
            0x15 => AuthenticationMethod,
            0x16 => AuthenticationData,
            0x17 => RequestProblemInformation,
            0x18 => WillDelayInterval,
            0x19 => RequestResponseInformation,
            0x1A => ResponseInformation,
            0x1C => ServerReference,
            0x1F => ReasonString,
            0x21 => ReceiveMaximum,
            0x22 => TopicAliasMaximum,
            0x23 => TopicAlias,
            0x24 => MaximumQos,
            0x25 => RetainAvailable,
            0x26 => UserProperty,
            0x27 => MaximumPacketSize,
            0x28 => WildcardSubscriptionAvailable,
            0x29 => SubscriptionIdentifierAvailable,
            0x2A => SharedSubscriptionAvailable,
            _ => return None,
        })
    }
}

/// Name/value pairs in the order they were sent.
pub type UserProperties = Vec<(MqttStr, MqttStr)>;

/// CONNECT properties (§3.1.2.11).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectProperties {
    /// Seconds the session lives after the connection closes; absent means 0.
    pub session_expiry_interval: Option<u32>,
    /// How many QoS 1/2 publications the client will process at once (non-zero).
    pub receive_maximum: Option<u16>,
    /// Largest packet the client accepts (non-zero).
    pub maximum_packet_size: Option<u32>,
    /// Highest topic alias the client accepts.
    pub topic_alias_maximum: Option<u16>,
    /// Whether the client wants Response Information in CONNACK.
    pub request_response_information: Option<bool>,
    /// Whether the server may send Reason Strings and User Properties on failures.
    pub request_problem_information: Option<bool>,
    /// User properties.
    pub user_properties: UserProperties,
    /// Extended authentication method.
    pub authentication_method: Option<MqttStr>,
    /// Extended authentication data.
    pub authentication_data: Option<Bytes>,
}

/// Will properties, carried in the CONNECT payload (§3.1.3.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WillProperties {
    /// Seconds to wait before publishing the will.
    pub will_delay_interval: Option<u32>,
    /// 1 when the payload is UTF-8 text.
    pub payload_format_indicator: Option<u8>,
    /// Lifetime of the will message in seconds.
    pub message_expiry_interval: Option<u32>,
    /// MIME type of the payload.
    pub content_type: Option<MqttStr>,
    /// Topic for a response.
    pub response_topic: Option<TopicName>,
    /// Correlation data for a response.
    pub correlation_data: Option<Bytes>,
    /// User properties.
    pub user_properties: UserProperties,
}

/// CONNACK properties (§3.2.2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnAckProperties {
    /// The session expiry the server will use, when it differs from the request.
    pub session_expiry_interval: Option<u32>,
    /// How many QoS 1/2 publications the server will process at once.
    pub receive_maximum: Option<u16>,
    /// Highest QoS the server supports (0 or 1; absent means 2).
    pub maximum_qos: Option<u8>,
    /// Whether retained messages are supported.
    pub retain_available: Option<bool>,
    /// Largest packet the server accepts.
    pub maximum_packet_size: Option<u32>,
    /// The client id the server assigned when the client sent an empty one.
    pub assigned_client_identifier: Option<MqttStr>,
    /// Highest topic alias the server accepts.
    pub topic_alias_maximum: Option<u16>,
    /// Human-readable reason.
    pub reason_string: Option<MqttStr>,
    /// User properties.
    pub user_properties: UserProperties,
    /// Whether wildcard subscriptions are supported.
    pub wildcard_subscription_available: Option<bool>,
    /// Whether subscription identifiers are supported.
    pub subscription_identifiers_available: Option<bool>,
    /// Whether shared subscriptions are supported.
    pub shared_subscription_available: Option<bool>,
    /// Keep-alive the server imposes, replacing the client's.
    pub server_keep_alive: Option<u16>,
    /// Basis for response topics.
    pub response_information: Option<MqttStr>,
    /// Another server to use.
    pub server_reference: Option<MqttStr>,
    /// Extended authentication method.
    pub authentication_method: Option<MqttStr>,
    /// Extended authentication data.
    pub authentication_data: Option<Bytes>,
}

/// PUBLISH properties (§3.3.2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishProperties {
    /// 1 when the payload is UTF-8 text.
    pub payload_format_indicator: Option<u8>,
    /// Lifetime of the message in seconds.
    pub message_expiry_interval: Option<u32>,
    /// Topic alias (non-zero).
    pub topic_alias: Option<u16>,
    /// Topic for a response.
    pub response_topic: Option<TopicName>,
    /// Correlation data for a response.
    pub correlation_data: Option<Bytes>,
    /// User properties.
    pub user_properties: UserProperties,
    /// Identifiers of the matching subscriptions (server to client only; each non-zero).
    pub subscription_identifiers: Vec<u32>,
    /// MIME type of the payload.
    pub content_type: Option<MqttStr>,
}

impl PublishProperties {
    /// True when no property is set, so that the property block encodes as a single zero.
    pub fn is_empty(&self) -> bool {
        self == &PublishProperties::default()
    }
}

/// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK (§3.4.2.2 and others).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AckProperties {
    /// Human-readable reason.
    pub reason_string: Option<MqttStr>,
    /// User properties.
    pub user_properties: UserProperties,
}

impl AckProperties {
    /// True when no property is set.
    pub fn is_empty(&self) -> bool {
        self.reason_string.is_none() && self.user_properties.is_empty()
    }
}

/// SUBSCRIBE properties (§3.8.2.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscribeProperties {
    /// Identifier given to every message delivered through these subscriptions (1..=268,435,455).
    pub subscription_identifier: Option<u32>,
    /// User properties.
    pub user_properties: UserProperties,
}

/// UNSUBSCRIBE properties (§3.10.2.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnsubscribeProperties {
    /// User properties.
    pub user_properties: UserProperties,
}

/// DISCONNECT properties (§3.14.2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisconnectProperties {
    /// New session expiry (client to server only).
    pub session_expiry_interval: Option<u32>,
    /// Human-readable reason.
    pub reason_string: Option<MqttStr>,
    /// User properties.
    pub user_properties: UserProperties,
    /// Another server to use.
    pub server_reference: Option<MqttStr>,
}

/// AUTH properties (§3.15.2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthProperties {
    /// Extended authentication method.
    pub authentication_method: Option<MqttStr>,
    /// Extended authentication data.
    pub authentication_data: Option<Bytes>,
    /// Human-readable reason.
    pub reason_string: Option<MqttStr>,
    /// User properties.
    pub user_properties: UserProperties,
}
