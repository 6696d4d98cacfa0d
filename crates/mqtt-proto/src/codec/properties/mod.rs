//! MQTT 5 property blocks (§2.2.2): decoding lives here (length prefix, per-packet allowed sets,
//! duplicate detection, value rules), encoding in `encode`. Which struct a packet uses is
//! decided by the packet modules; MQTT 3.1.1 never reaches this module.

mod encode;

pub(crate) use encode::*;

use bytes::Bytes;

use super::primitives::Reader;
use crate::error::DecodeError;
use crate::packet::PacketType;
use crate::properties::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    PropertyId, PublishProperties, SubscribeProperties, UnsubscribeProperties, UserProperties,
    WillProperties,
};
use crate::string::MqttStr;
use crate::topic::TopicName;

use PropertyId as P;

/// The specification's name of a property, for error messages.
pub(crate) fn property_name(id: PropertyId) -> &'static str {
    match id {
        P::PayloadFormatIndicator => "Payload Format Indicator",
        P::MessageExpiryInterval => "Message Expiry Interval",
        P::ContentType => "Content Type",
        P::ResponseTopic => "Response Topic",
        P::CorrelationData => "Correlation Data",
        P::SubscriptionIdentifier => "Subscription Identifier",
        P::SessionExpiryInterval => "Session Expiry Interval",
        P::AssignedClientIdentifier => "Assigned Client Identifier",
        P::ServerKeepAlive => "Server Keep Alive",
        P::AuthenticationMethod => "Authentication Method",
        P::AuthenticationData => "Authentication Data",
        P::RequestProblemInformation => "Request Problem Information",
        P::WillDelayInterval => "Will Delay Interval",
        P::RequestResponseInformation => "Request Response Information",
        P::ResponseInformation => "Response Information",
        P::ServerReference => "Server Reference",
        P::ReasonString => "Reason String",
        P::ReceiveMaximum => "Receive Maximum",
        P::TopicAliasMaximum => "Topic Alias Maximum",
        P::TopicAlias => "Topic Alias",
        P::MaximumQos => "Maximum QoS",
        P::RetainAvailable => "Retain Available",
        P::UserProperty => "User Property",
        P::MaximumPacketSize => "Maximum Packet Size",
        P::WildcardSubscriptionAvailable => "Wildcard Subscription Available",
        P::SubscriptionIdentifierAvailable => "Subscription Identifier Available",
        P::SharedSubscriptionAvailable => "Shared Subscription Available",
    }
}

/// Reads one property block: identifiers, duplicates and value bounds.
struct Props<'a> {
    r: Reader<'a>,
    block: &'static str,
    seen: u64,
    repeatable_sub_id: bool,
}

impl<'a> Props<'a> {
    /// Reads the property length and takes that many bytes from `r`.
    fn open(r: &mut Reader<'a>, block: &'static str) -> Result<Self, DecodeError> {
        let len = r.varint("property length")? as usize;
        let sub = r.split(len, "properties")?;
        Ok(Props {
            r: sub,
            block,
            seen: 0,
            repeatable_sub_id: false,
        })
    }

    fn packet(&self) -> PacketType {
        self.r.packet
    }

    /// The next property identifier, refusing unknown ones and repeats.
    fn next(&mut self) -> Result<Option<PropertyId>, DecodeError> {
        if self.r.is_empty() {
            return Ok(None);
        }
        let raw = self.r.varint("property identifier")?;
        let id = u8::try_from(raw).ok().and_then(PropertyId::from_u8).ok_or(
            DecodeError::UnknownProperty {
                packet: self.packet(),
                id: raw,
            },
        )?;
        let bit = 1u64 << (id as u8 & 63);
        let repeatable =
            id == P::UserProperty || (id == P::SubscriptionIdentifier && self.repeatable_sub_id);
        if self.seen & bit != 0 && !repeatable {
            return Err(DecodeError::DuplicateProperty {
                packet: self.packet(),
                block: self.block,
                property: id,
            });
        }
        self.seen |= bit;
        Ok(Some(id))
    }

    fn overrun(&self, id: PropertyId, err: DecodeError) -> DecodeError {
        match err {
            DecodeError::Truncated { .. } => DecodeError::PropertyOverrun {
                packet: self.packet(),
                block: self.block,
                property: id,
            },
            other => other,
        }
    }

    /// A property this block may not carry. Its value is read first, so that a value cut short
    /// is reported as malformed and a complete one as a protocol error (the Mosquitto reference
    /// broker's reading of §2.2.2.2, which the conformance transcripts encode).
    fn not_allowed(&mut self, id: PropertyId) -> DecodeError {
        if let Err(e) = self.skip(id) {
            return e;
        }
        DecodeError::PropertyNotAllowed {
            packet: self.packet(),
            block: self.block,
            property: id,
        }
    }

    /// Reads past a property value according to its type (§2.2.2.2).
    fn skip(&mut self, id: PropertyId) -> Result<(), DecodeError> {
        match id {
            P::PayloadFormatIndicator
            | P::RequestProblemInformation
            | P::RequestResponseInformation
            | P::MaximumQos
            | P::RetainAvailable
            | P::WildcardSubscriptionAvailable
            | P::SubscriptionIdentifierAvailable
            | P::SharedSubscriptionAvailable => self.u8(id).map(drop),
            P::ServerKeepAlive | P::ReceiveMaximum | P::TopicAliasMaximum | P::TopicAlias => {
                self.u16(id).map(drop)
            }
            P::MessageExpiryInterval
            | P::SessionExpiryInterval
            | P::WillDelayInterval
            | P::MaximumPacketSize => self.u32(id).map(drop),
            P::SubscriptionIdentifier => self
                .r
                .varint(property_name(id))
                .map(drop)
                .map_err(|e| self.overrun(id, e)),
            P::ContentType
            | P::ResponseTopic
            | P::AssignedClientIdentifier
            | P::AuthenticationMethod
            | P::ResponseInformation
            | P::ServerReference
            | P::ReasonString => self.string(id).map(drop),
            P::CorrelationData | P::AuthenticationData => self.binary(id).map(drop),
            P::UserProperty => self.user(&mut UserProperties::new()),
        }
    }

    fn invalid(&self, id: PropertyId, value: u32, rule: &'static str) -> DecodeError {
        DecodeError::InvalidPropertyValue {
            packet: self.packet(),
            property: id,
            value,
            rule,
        }
    }

    fn u8(&mut self, id: PropertyId) -> Result<u8, DecodeError> {
        self.r
            .u8(property_name(id))
            .map_err(|e| self.overrun(id, e))
    }

    /// A byte that must be 0 or 1.
    fn flag(&mut self, id: PropertyId, rule: &'static str) -> Result<u8, DecodeError> {
        let v = self.u8(id)?;
        if v > 1 {
            return Err(self.invalid(id, u32::from(v), rule));
        }
        Ok(v)
    }

    fn bool(&mut self, id: PropertyId, rule: &'static str) -> Result<bool, DecodeError> {
        Ok(self.flag(id, rule)? == 1)
    }

    fn u16(&mut self, id: PropertyId) -> Result<u16, DecodeError> {
        self.r
            .u16(property_name(id))
            .map_err(|e| self.overrun(id, e))
    }

    fn nonzero_u16(&mut self, id: PropertyId, rule: &'static str) -> Result<u16, DecodeError> {
        let v = self.u16(id)?;
        if v == 0 {
            return Err(self.invalid(id, 0, rule));
        }
        Ok(v)
    }

    fn u32(&mut self, id: PropertyId) -> Result<u32, DecodeError> {
        self.r
            .u32(property_name(id))
            .map_err(|e| self.overrun(id, e))
    }

    fn nonzero_u32(&mut self, id: PropertyId, rule: &'static str) -> Result<u32, DecodeError> {
        let v = self.u32(id)?;
        if v == 0 {
            return Err(self.invalid(id, 0, rule));
        }
        Ok(v)
    }

    fn sub_id(&mut self, id: PropertyId) -> Result<u32, DecodeError> {
        let v = self
            .r
            .varint(property_name(id))
            .map_err(|e| self.overrun(id, e))?;
        if v == 0 {
            return Err(self.invalid(
                id,
                0,
                "MQTT-3.8.2.1.2 a Subscription Identifier is 1..=268,435,455",
            ));
        }
        Ok(v)
    }

    fn string(&mut self, id: PropertyId) -> Result<MqttStr, DecodeError> {
        self.r
            .string(property_name(id))
            .map_err(|e| self.overrun(id, e))
    }

    fn topic(&mut self, id: PropertyId) -> Result<TopicName, DecodeError> {
        self.r
            .topic_name(property_name(id))
            .map_err(|e| self.overrun(id, e))
    }

    fn binary(&mut self, id: PropertyId) -> Result<Bytes, DecodeError> {
        self.r
            .binary(property_name(id))
            .map_err(|e| self.overrun(id, e))
    }

    fn user(&mut self, list: &mut UserProperties) -> Result<(), DecodeError> {
        let name = self.string(P::UserProperty)?;
        let value = self.string(P::UserProperty)?;
        list.push((name, value));
        Ok(())
    }
}

const RULE_BOOL: &str = "MQTT-2.2.2.2 this property is 0 or 1";
const RULE_PFI: &str = "MQTT-3.3.2.3.2 the Payload Format Indicator is 0 or 1";
const RULE_RECEIVE_MAX: &str = "MQTT-3.1.2.11.3 Receive Maximum must not be 0";
const RULE_MAX_PACKET: &str = "MQTT-3.1.2.11.4 Maximum Packet Size must not be 0";
const RULE_MAX_QOS: &str = "MQTT-3.2.2.3.4 Maximum QoS is 0 or 1";

pub(crate) fn decode_connect(r: &mut Reader<'_>) -> Result<ConnectProperties, DecodeError> {
    let mut p = ConnectProperties::default();
    let mut ps = Props::open(r, "properties")?;
    while let Some(id) = ps.next()? {
        match id {
            P::SessionExpiryInterval => p.session_expiry_interval = Some(ps.u32(id)?),
            P::ReceiveMaximum => p.receive_maximum = Some(ps.nonzero_u16(id, RULE_RECEIVE_MAX)?),
            P::MaximumPacketSize => {
                p.maximum_packet_size = Some(ps.nonzero_u32(id, RULE_MAX_PACKET)?);
            }
            P::TopicAliasMaximum => p.topic_alias_maximum = Some(ps.u16(id)?),
            P::RequestResponseInformation => {
                p.request_response_information = Some(ps.bool(id, RULE_BOOL)?);
            }
            P::RequestProblemInformation => {
                p.request_problem_information = Some(ps.bool(id, RULE_BOOL)?);
            }
            P::UserProperty => ps.user(&mut p.user_properties)?,
            P::AuthenticationMethod => p.authentication_method = Some(ps.string(id)?),
            P::AuthenticationData => p.authentication_data = Some(ps.binary(id)?),
            other => return Err(ps.not_allowed(other)),
        }
    }
    if p.authentication_data.is_some() && p.authentication_method.is_none() {
        return Err(DecodeError::AuthDataWithoutMethod {
            packet: PacketType::Connect,
        });
    }
    Ok(p)
}

pub(crate) fn decode_will(r: &mut Reader<'_>) -> Result<WillProperties, DecodeError> {
    let mut p = WillProperties::default();
    let mut ps = Props::open(r, "will properties")?;
    while let Some(id) = ps.next()? {
        match id {
            P::WillDelayInterval => p.will_delay_interval = Some(ps.u32(id)?),
            P::PayloadFormatIndicator => p.payload_format_indicator = Some(ps.flag(id, RULE_PFI)?),
            P::MessageExpiryInterval => p.message_expiry_interval = Some(ps.u32(id)?),
            P::ContentType => p.content_type = Some(ps.string(id)?),
            P::ResponseTopic => p.response_topic = Some(ps.topic(id)?),
            P::CorrelationData => p.correlation_data = Some(ps.binary(id)?),
            P::UserProperty => ps.user(&mut p.user_properties)?,
            other => return Err(ps.not_allowed(other)),
        }
    }
    Ok(p)
}

pub(crate) fn decode_connack(r: &mut Reader<'_>) -> Result<ConnAckProperties, DecodeError> {
    let mut p = ConnAckProperties::default();
    let mut ps = Props::open(r, "properties")?;
    while let Some(id) = ps.next()? {
        match id {
            P::SessionExpiryInterval => p.session_expiry_interval = Some(ps.u32(id)?),
            P::ReceiveMaximum => p.receive_maximum = Some(ps.nonzero_u16(id, RULE_RECEIVE_MAX)?),
            P::MaximumQos => p.maximum_qos = Some(ps.flag(id, RULE_MAX_QOS)?),
            P::RetainAvailable => p.retain_available = Some(ps.bool(id, RULE_BOOL)?),
            P::MaximumPacketSize => {
                p.maximum_packet_size = Some(ps.nonzero_u32(id, RULE_MAX_PACKET)?);
            }
            P::AssignedClientIdentifier => p.assigned_client_identifier = Some(ps.string(id)?),
            P::TopicAliasMaximum => p.topic_alias_maximum = Some(ps.u16(id)?),
            P::ReasonString => p.reason_string = Some(ps.string(id)?),
            P::UserProperty => ps.user(&mut p.user_properties)?,
            P::WildcardSubscriptionAvailable => {
                p.wildcard_subscription_available = Some(ps.bool(id, RULE_BOOL)?);
            }
            P::SubscriptionIdentifierAvailable => {
                p.subscription_identifiers_available = Some(ps.bool(id, RULE_BOOL)?);
            }
            P::SharedSubscriptionAvailable => {
                p.shared_subscription_available = Some(ps.bool(id, RULE_BOOL)?);
            }
            P::ServerKeepAlive => p.server_keep_alive = Some(ps.u16(id)?),
            P::ResponseInformation => p.response_information = Some(ps.string(id)?),
            P::ServerReference => p.server_reference = Some(ps.string(id)?),
            P::AuthenticationMethod => p.authentication_method = Some(ps.string(id)?),
            P::AuthenticationData => p.authentication_data = Some(ps.binary(id)?),
            other => return Err(ps.not_allowed(other)),
        }
    }
    Ok(p)
}

/// PUBLISH properties. Several Subscription Identifiers are accepted (a server may send one per
/// matching subscription, §3.3.2.3.8); that a client must not send any is a session rule.
pub(crate) fn decode_publish(r: &mut Reader<'_>) -> Result<PublishProperties, DecodeError> {
    let mut p = PublishProperties::default();
    let mut ps = Props::open(r, "properties")?;
    ps.repeatable_sub_id = true;
    while let Some(id) = ps.next()? {
        match id {
            P::PayloadFormatIndicator => p.payload_format_indicator = Some(ps.flag(id, RULE_PFI)?),
            P::MessageExpiryInterval => p.message_expiry_interval = Some(ps.u32(id)?),
            P::TopicAlias => {
                let alias = ps.u16(id)?;
                if alias == 0 {
                    return Err(DecodeError::TopicAliasZero);
                }
                p.topic_alias = Some(alias);
            }
            P::ResponseTopic => p.response_topic = Some(ps.topic(id)?),
            P::CorrelationData => p.correlation_data = Some(ps.binary(id)?),
            P::UserProperty => ps.user(&mut p.user_properties)?,
            P::SubscriptionIdentifier => p.subscription_identifiers.push(ps.sub_id(id)?),
            P::ContentType => p.content_type = Some(ps.string(id)?),
            other => return Err(ps.not_allowed(other)),
        }
    }
    Ok(p)
}

pub(crate) fn decode_ack(r: &mut Reader<'_>) -> Result<AckProperties, DecodeError> {
    let mut p = AckProperties::default();
    let mut ps = Props::open(r, "properties")?;
    while let Some(id) = ps.next()? {
        match id {
            P::ReasonString => p.reason_string = Some(ps.string(id)?),
            P::UserProperty => ps.user(&mut p.user_properties)?,
            other => return Err(ps.not_allowed(other)),
        }
    }
    Ok(p)
}

pub(crate) fn decode_subscribe(r: &mut Reader<'_>) -> Result<SubscribeProperties, DecodeError> {
    let mut p = SubscribeProperties::default();
    let mut ps = Props::open(r, "properties")?;
    while let Some(id) = ps.next()? {
        match id {
            P::SubscriptionIdentifier => p.subscription_identifier = Some(ps.sub_id(id)?),
            P::UserProperty => ps.user(&mut p.user_properties)?,
            other => return Err(ps.not_allowed(other)),
        }
    }
    Ok(p)
}

pub(crate) fn decode_unsubscribe(r: &mut Reader<'_>) -> Result<UnsubscribeProperties, DecodeError> {
    let mut p = UnsubscribeProperties::default();
    let mut ps = Props::open(r, "properties")?;
    while let Some(id) = ps.next()? {
        match id {
            P::UserProperty => ps.user(&mut p.user_properties)?,
            other => return Err(ps.not_allowed(other)),
        }
    }
    Ok(p)
}

pub(crate) fn decode_disconnect(r: &mut Reader<'_>) -> Result<DisconnectProperties, DecodeError> {
    let mut p = DisconnectProperties::default();
    let mut ps = Props::open(r, "properties")?;
    while let Some(id) = ps.next()? {
        match id {
            P::SessionExpiryInterval => p.session_expiry_interval = Some(ps.u32(id)?),
            P::ReasonString => p.reason_string = Some(ps.string(id)?),
            P::UserProperty => ps.user(&mut p.user_properties)?,
            P::ServerReference => p.server_reference = Some(ps.string(id)?),
            other => return Err(ps.not_allowed(other)),
        }
    }
    Ok(p)
}

pub(crate) fn decode_auth(r: &mut Reader<'_>) -> Result<AuthProperties, DecodeError> {
    let mut p = AuthProperties::default();
    let mut ps = Props::open(r, "properties")?;
    while let Some(id) = ps.next()? {
        match id {
            P::AuthenticationMethod => p.authentication_method = Some(ps.string(id)?),
            P::AuthenticationData => p.authentication_data = Some(ps.binary(id)?),
            P::ReasonString => p.reason_string = Some(ps.string(id)?),
            P::UserProperty => ps.user(&mut p.user_properties)?,
            other => return Err(ps.not_allowed(other)),
        }
    }
    if p.authentication_data.is_some() && p.authentication_method.is_none() {
        return Err(DecodeError::AuthDataWithoutMethod {
            packet: PacketType::Auth,
        });
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-formed value for each property, written from the type table of §2.2.2.2.
    fn sample(id: PropertyId) -> &'static [u8] {
        match id as u8 {
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => &[1],
            0x13 | 0x21 | 0x22 | 0x23 => &[0, 1],
            0x02 | 0x11 | 0x18 | 0x27 => &[0, 0, 0, 1],
            0x0B => &[0x81, 0x01],
            0x26 => &[0, 1, b'k', 0, 1, b'v'],
            // UTF-8 strings and binary data alike.
            _ => &[0, 1, b'p'],
        }
    }

    #[test]
    fn every_property_in_the_wrong_packet_is_skipped_whole_then_refused() {
        for raw in 0..=0x2Au8 {
            let Some(id) = PropertyId::from_u8(raw) else {
                continue;
            };
            let value = sample(id);
            let mut body = alloc::vec![u8::try_from(1 + value.len()).unwrap(), raw];
            body.extend_from_slice(value);
            let buf = Bytes::from(body);
            let mut r = Reader::new(&buf, 0, PacketType::PubAck);
            match decode_ack(&mut r) {
                Ok(_) => assert!(matches!(id, P::ReasonString | P::UserProperty), "{id:?}"),
                Err(e) => assert_eq!(
                    e,
                    DecodeError::PropertyNotAllowed {
                        packet: PacketType::PubAck,
                        block: "properties",
                        property: id
                    },
                    "{} ({id:?})",
                    property_name(id)
                ),
            }
            assert!(r.is_empty());
        }
    }

    #[test]
    fn a_cut_off_value_is_an_overrun_even_when_not_allowed() {
        let buf = Bytes::from_static(&[0x03, 0x02, 0x00, 0x00]);
        let mut r = Reader::new(&buf, 0, PacketType::PubAck);
        assert_eq!(
            decode_ack(&mut r),
            Err(DecodeError::PropertyOverrun {
                packet: PacketType::PubAck,
                block: "properties",
                property: P::MessageExpiryInterval
            })
        );
    }
}
