//! Encoding of MQTT 5 property blocks: `*_len` computes the bytes of a property struct (without
//! its length prefix) and refuses values the specification forbids sending; `put_*` writes them
//! in ascending identifier order and trusts those checks. Decoding is in the parent module.

use bytes::{BufMut, Bytes};

use crate::codec::primitives::{VARINT_MAX, field_len, put_binary, put_varint, varint_len};
use crate::error::EncodeError;
use crate::packet::PacketType;
use crate::properties::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PropertyId, PublishProperties, SubscribeProperties, UnsubscribeProperties, UserProperties,
    WillProperties,
};
use crate::string::MqttStr;
use crate::topic::TopicName;

use PropertyId as P;

pub(crate) struct Size {
    packet: PacketType,
    pub(crate) total: usize,
}

impl Size {
    pub(crate) fn new(packet: PacketType) -> Self {
        Size { packet, total: 0 }
    }

    fn fixed(&mut self, present: bool, width: usize) {
        if present {
            self.total += 1 + width;
        }
    }

    fn flag(&mut self, value: Option<u8>, what: &'static str) -> Result<(), EncodeError> {
        if let Some(v) = value {
            if v > 1 {
                return Err(EncodeError::InvalidValue {
                    packet: self.packet,
                    what,
                });
            }
            self.total += 2;
        }
        Ok(())
    }

    fn nonzero<T: Copy + Into<u32>>(
        &mut self,
        value: Option<T>,
        width: usize,
        what: &'static str,
    ) -> Result<(), EncodeError> {
        if let Some(v) = value {
            if v.into() == 0 {
                return Err(EncodeError::InvalidValue {
                    packet: self.packet,
                    what,
                });
            }
            self.total += 1 + width;
        }
        Ok(())
    }

    fn bytes(&mut self, value: Option<&[u8]>, field: &'static str) -> Result<(), EncodeError> {
        if let Some(v) = value {
            self.total += 1 + field_len(self.packet, field, v.len())?;
        }
        Ok(())
    }

    fn sub_id(&mut self, value: u32) -> Result<(), EncodeError> {
        if value == 0 || value > VARINT_MAX {
            return Err(EncodeError::VarintOutOfRange {
                packet: self.packet,
                field: "Subscription Identifier",
                value,
            });
        }
        self.total += 1 + varint_len(value as usize);
        Ok(())
    }

    fn user(&mut self, list: &UserProperties) -> Result<(), EncodeError> {
        for (k, v) in list {
            self.total += 1
                + field_len(self.packet, "User Property name", k.len())?
                + field_len(self.packet, "User Property value", v.len())?;
        }
        Ok(())
    }
}

/// Bytes a property block takes on the wire: its length prefix plus `len`.
pub(crate) fn block_len(len: usize) -> usize {
    varint_len(len) + len
}

fn put_u8(out: &mut impl BufMut, id: PropertyId, value: Option<u8>) {
    if let Some(v) = value {
        out.put_u8(id as u8);
        out.put_u8(v);
    }
}

fn put_bool(out: &mut impl BufMut, id: PropertyId, value: Option<bool>) {
    put_u8(out, id, value.map(u8::from));
}

fn put_u16(out: &mut impl BufMut, id: PropertyId, value: Option<u16>) {
    if let Some(v) = value {
        out.put_u8(id as u8);
        out.put_u16(v);
    }
}

fn put_u32(out: &mut impl BufMut, id: PropertyId, value: Option<u32>) {
    if let Some(v) = value {
        out.put_u8(id as u8);
        out.put_u32(v);
    }
}

fn put_bytes(out: &mut impl BufMut, id: PropertyId, value: Option<&[u8]>) {
    if let Some(v) = value {
        out.put_u8(id as u8);
        put_binary(out, v);
    }
}

fn put_user(out: &mut impl BufMut, list: &UserProperties) {
    for (k, v) in list {
        out.put_u8(P::UserProperty as u8);
        put_binary(out, k.as_bytes());
        put_binary(out, v.as_bytes());
    }
}

fn s(v: &Option<MqttStr>) -> Option<&[u8]> {
    v.as_ref().map(|s| s.as_bytes().as_ref())
}

fn t(v: &Option<TopicName>) -> Option<&[u8]> {
    v.as_ref().map(|s| s.as_mqtt_str().as_bytes().as_ref())
}

fn b(v: &Option<Bytes>) -> Option<&[u8]> {
    v.as_deref()
}

fn bool_u8(v: Option<bool>) -> Option<u8> {
    v.map(u8::from)
}

/// Writes a block's length prefix.
pub(crate) fn put_block_len(out: &mut impl BufMut, len: usize) {
    put_varint(out, len);
}

pub(crate) fn connect_len(p: &ConnectProperties) -> Result<usize, EncodeError> {
    let mut n = Size::new(PacketType::Connect);
    n.fixed(p.session_expiry_interval.is_some(), 4);
    n.bytes(s(&p.authentication_method), "Authentication Method")?;
    n.bytes(b(&p.authentication_data), "Authentication Data")?;
    n.flag(
        bool_u8(p.request_problem_information),
        "Request Problem Information",
    )?;
    n.flag(
        bool_u8(p.request_response_information),
        "Request Response Information",
    )?;
    n.nonzero(p.receive_maximum, 2, "has Receive Maximum 0")?;
    n.fixed(p.topic_alias_maximum.is_some(), 2);
    n.user(&p.user_properties)?;
    n.nonzero(p.maximum_packet_size, 4, "has Maximum Packet Size 0")?;
    if p.authentication_data.is_some() && p.authentication_method.is_none() {
        return Err(EncodeError::InvalidValue {
            packet: PacketType::Connect,
            what: "has Authentication Data without Authentication Method",
        });
    }
    Ok(n.total)
}

pub(crate) fn put_connect(out: &mut impl BufMut, p: &ConnectProperties) {
    put_u32(out, P::SessionExpiryInterval, p.session_expiry_interval);
    put_bytes(out, P::AuthenticationMethod, s(&p.authentication_method));
    put_bytes(out, P::AuthenticationData, b(&p.authentication_data));
    put_bool(
        out,
        P::RequestProblemInformation,
        p.request_problem_information,
    );
    put_bool(
        out,
        P::RequestResponseInformation,
        p.request_response_information,
    );
    put_u16(out, P::ReceiveMaximum, p.receive_maximum);
    put_u16(out, P::TopicAliasMaximum, p.topic_alias_maximum);
    put_user(out, &p.user_properties);
    put_u32(out, P::MaximumPacketSize, p.maximum_packet_size);
}

pub(crate) fn will_len(p: &WillProperties) -> Result<usize, EncodeError> {
    let mut n = Size::new(PacketType::Connect);
    n.flag(
        p.payload_format_indicator,
        "will Payload Format Indicator is not 0 or 1",
    )?;
    n.fixed(p.message_expiry_interval.is_some(), 4);
    n.bytes(s(&p.content_type), "will Content Type")?;
    n.bytes(t(&p.response_topic), "will Response Topic")?;
    n.bytes(b(&p.correlation_data), "will Correlation Data")?;
    n.fixed(p.will_delay_interval.is_some(), 4);
    n.user(&p.user_properties)?;
    Ok(n.total)
}

pub(crate) fn put_will(out: &mut impl BufMut, p: &WillProperties) {
    put_u8(out, P::PayloadFormatIndicator, p.payload_format_indicator);
    put_u32(out, P::MessageExpiryInterval, p.message_expiry_interval);
    put_bytes(out, P::ContentType, s(&p.content_type));
    put_bytes(out, P::ResponseTopic, t(&p.response_topic));
    put_bytes(out, P::CorrelationData, b(&p.correlation_data));
    put_u32(out, P::WillDelayInterval, p.will_delay_interval);
    put_user(out, &p.user_properties);
}

pub(crate) fn connack_len(p: &ConnAckProperties) -> Result<usize, EncodeError> {
    let mut n = Size::new(PacketType::ConnAck);
    n.fixed(p.session_expiry_interval.is_some(), 4);
    n.bytes(
        s(&p.assigned_client_identifier),
        "Assigned Client Identifier",
    )?;
    n.fixed(p.server_keep_alive.is_some(), 2);
    n.bytes(s(&p.authentication_method), "Authentication Method")?;
    n.bytes(b(&p.authentication_data), "Authentication Data")?;
    n.bytes(s(&p.response_information), "Response Information")?;
    n.bytes(s(&p.server_reference), "Server Reference")?;
    n.bytes(s(&p.reason_string), "Reason String")?;
    n.nonzero(p.receive_maximum, 2, "has Receive Maximum 0")?;
    n.fixed(p.topic_alias_maximum.is_some(), 2);
    n.flag(p.maximum_qos, "Maximum QoS is not 0 or 1")?;
    n.flag(bool_u8(p.retain_available), "Retain Available")?;
    n.user(&p.user_properties)?;
    n.nonzero(p.maximum_packet_size, 4, "has Maximum Packet Size 0")?;
    n.flag(
        bool_u8(p.wildcard_subscription_available),
        "Wildcard Subscription Available",
    )?;
    n.flag(
        bool_u8(p.subscription_identifiers_available),
        "Subscription Identifier Available",
    )?;
    n.flag(
        bool_u8(p.shared_subscription_available),
        "Shared Subscription Available",
    )?;
    Ok(n.total)
}

pub(crate) fn put_connack(out: &mut impl BufMut, p: &ConnAckProperties) {
    put_u32(out, P::SessionExpiryInterval, p.session_expiry_interval);
    put_bytes(
        out,
        P::AssignedClientIdentifier,
        s(&p.assigned_client_identifier),
    );
    put_u16(out, P::ServerKeepAlive, p.server_keep_alive);
    put_bytes(out, P::AuthenticationMethod, s(&p.authentication_method));
    put_bytes(out, P::AuthenticationData, b(&p.authentication_data));
    put_bytes(out, P::ResponseInformation, s(&p.response_information));
    put_bytes(out, P::ServerReference, s(&p.server_reference));
    put_bytes(out, P::ReasonString, s(&p.reason_string));
    put_u16(out, P::ReceiveMaximum, p.receive_maximum);
    put_u16(out, P::TopicAliasMaximum, p.topic_alias_maximum);
    put_u8(out, P::MaximumQos, p.maximum_qos);
    put_bool(out, P::RetainAvailable, p.retain_available);
    put_user(out, &p.user_properties);
    put_u32(out, P::MaximumPacketSize, p.maximum_packet_size);
    put_bool(
        out,
        P::WildcardSubscriptionAvailable,
        p.wildcard_subscription_available,
    );
    put_bool(
        out,
        P::SubscriptionIdentifierAvailable,
        p.subscription_identifiers_available,
    );
    put_bool(
        out,
        P::SharedSubscriptionAvailable,
        p.shared_subscription_available,
    );
}

pub(crate) fn publish_len(p: &PublishProperties) -> Result<usize, EncodeError> {
    let mut n = Size::new(PacketType::Publish);
    n.flag(
        p.payload_format_indicator,
        "Payload Format Indicator is not 0 or 1",
    )?;
    n.fixed(p.message_expiry_interval.is_some(), 4);
    n.bytes(s(&p.content_type), "Content Type")?;
    n.bytes(t(&p.response_topic), "Response Topic")?;
    n.bytes(b(&p.correlation_data), "Correlation Data")?;
    for id in &p.subscription_identifiers {
        n.sub_id(*id)?;
    }
    n.nonzero(p.topic_alias, 2, "has Topic Alias 0")?;
    n.user(&p.user_properties)?;
    Ok(n.total)
}

pub(crate) fn put_publish(out: &mut impl BufMut, p: &PublishProperties) {
    put_u8(out, P::PayloadFormatIndicator, p.payload_format_indicator);
    put_u32(out, P::MessageExpiryInterval, p.message_expiry_interval);
    put_bytes(out, P::ContentType, s(&p.content_type));
    put_bytes(out, P::ResponseTopic, t(&p.response_topic));
    put_bytes(out, P::CorrelationData, b(&p.correlation_data));
    for id in &p.subscription_identifiers {
        out.put_u8(P::SubscriptionIdentifier as u8);
        put_varint(out, *id as usize);
    }
    put_u16(out, P::TopicAlias, p.topic_alias);
    put_user(out, &p.user_properties);
}

pub(crate) fn ack_len(packet: PacketType, p: &AckProperties) -> Result<usize, EncodeError> {
    let mut n = Size::new(packet);
    n.bytes(s(&p.reason_string), "Reason String")?;
    n.user(&p.user_properties)?;
    Ok(n.total)
}

pub(crate) fn put_ack(out: &mut impl BufMut, p: &AckProperties) {
    put_bytes(out, P::ReasonString, s(&p.reason_string));
    put_user(out, &p.user_properties);
}

pub(crate) fn subscribe_len(p: &SubscribeProperties) -> Result<usize, EncodeError> {
    let mut n = Size::new(PacketType::Subscribe);
    if let Some(id) = p.subscription_identifier {
        n.sub_id(id)?;
    }
    n.user(&p.user_properties)?;
    Ok(n.total)
}

pub(crate) fn put_subscribe(out: &mut impl BufMut, p: &SubscribeProperties) {
    if let Some(id) = p.subscription_identifier {
        out.put_u8(P::SubscriptionIdentifier as u8);
        put_varint(out, id as usize);
    }
    put_user(out, &p.user_properties);
}

pub(crate) fn unsubscribe_len(p: &UnsubscribeProperties) -> Result<usize, EncodeError> {
    let mut n = Size::new(PacketType::Unsubscribe);
    n.user(&p.user_properties)?;
    Ok(n.total)
}

pub(crate) fn put_unsubscribe(out: &mut impl BufMut, p: &UnsubscribeProperties) {
    put_user(out, &p.user_properties);
}

pub(crate) fn disconnect_len(p: &DisconnectProperties) -> Result<usize, EncodeError> {
    let mut n = Size::new(PacketType::Disconnect);
    n.fixed(p.session_expiry_interval.is_some(), 4);
    n.bytes(s(&p.server_reference), "Server Reference")?;
    n.bytes(s(&p.reason_string), "Reason String")?;
    n.user(&p.user_properties)?;
    Ok(n.total)
}

pub(crate) fn put_disconnect(out: &mut impl BufMut, p: &DisconnectProperties) {
    put_u32(out, P::SessionExpiryInterval, p.session_expiry_interval);
    put_bytes(out, P::ServerReference, s(&p.server_reference));
    put_bytes(out, P::ReasonString, s(&p.reason_string));
    put_user(out, &p.user_properties);
}

pub(crate) fn auth_len(p: &AuthProperties) -> Result<usize, EncodeError> {
    let mut n = Size::new(PacketType::Auth);
    n.bytes(s(&p.authentication_method), "Authentication Method")?;
    n.bytes(b(&p.authentication_data), "Authentication Data")?;
    n.bytes(s(&p.reason_string), "Reason String")?;
    n.user(&p.user_properties)?;
    if p.authentication_data.is_some() && p.authentication_method.is_none() {
        return Err(EncodeError::InvalidValue {
            packet: PacketType::Auth,
            what: "has Authentication Data without Authentication Method",
        });
    }
    Ok(n.total)
}

pub(crate) fn put_auth(out: &mut impl BufMut, p: &AuthProperties) {
    put_bytes(out, P::AuthenticationMethod, s(&p.authentication_method));
    put_bytes(out, P::AuthenticationData, b(&p.authentication_data));
    put_bytes(out, P::ReasonString, s(&p.reason_string));
    put_user(out, &p.user_properties);
}
