//! PUBLISH (§3.3): flags (DUP, QoS, RETAIN), topic name, packet id, properties and payload.
//! This is the hot path: the topic and payload are slices of the frame, lengths are computed
//! once. Resolving topic aliases and checking who may send Subscription Identifiers is the
//! session's job.

use bytes::{Buf, BufMut, Bytes};

use super::Lengths;
use super::primitives::{Reader, field_len, put_binary, refuse_controls};
use super::properties as props;
use crate::error::{DecodeError, EncodeError};
use crate::packet::{Packet, PacketType, Publish};
use crate::properties::PublishProperties;
use crate::topic::TopicName;
use crate::types::{Delivery, PacketId, Protocol, QoS};

const DUP: u8 = 0x08;
const RETAIN: u8 = 0x01;

/// What the fast path learned about a PUBLISH: everything except the payload, which is the rest
/// of the frame from `payload_start`.
#[derive(Debug)]
pub(crate) struct Plain {
    topic: TopicName,
    delivery: Delivery,
    payload_start: usize,
}

/// The fast path for the common PUBLISH, read in one pass straight from the frame: valid flags,
/// a topic accepted by [`TopicName::from_clean_bytes`], a non-zero packet id where QoS needs
/// one, and no properties. `None` for everything else, valid or not; the caller then uses
/// [`decode`], so errors are exactly those it reports. The packet is built by [`assemble`] in
/// the caller's return expression, so that it is written once, in place.
#[inline]
pub(crate) fn plain(
    frame: &Bytes,
    header_len: usize,
    flags: u8,
    protocol: Protocol,
) -> Option<Plain> {
    let qos = QoS::from_u8((flags >> 1) & 0x03)?;
    if flags & DUP != 0 && qos == QoS::AtMostOnce {
        return None;
    }
    let body = frame.get(header_len..)?;
    let (len, body) = body.split_first_chunk::<2>()?;
    let topic_len = usize::from(u16::from_be_bytes(*len));
    let (_, mut body) = body.split_at_checked(topic_len)?;
    let delivery = match qos {
        QoS::AtMostOnce => Delivery::AtMostOnce,
        QoS::AtLeastOnce | QoS::ExactlyOnce => {
            let (id, rest) = body.split_first_chunk::<2>()?;
            body = rest;
            Delivery::new(qos, PacketId::new(u16::from_be_bytes(*id))?)
        }
    };
    if protocol.is_v5() {
        // A property block of length zero is the single byte 0x00.
        let (&0, rest) = body.split_first()? else {
            return None;
        };
        body = rest;
    }
    let topic_start = header_len + 2;
    let topic = TopicName::from_clean_bytes(frame.slice(topic_start..topic_start + topic_len));
    Some(Plain {
        topic: topic.ok()?,
        delivery,
        payload_start: frame.len() - body.len(),
    })
}

/// Builds the packet [`plain`] read, taking the frame over as the payload (no further reference
/// count on the buffer).
#[inline(always)]
pub(crate) fn assemble(plain: Plain, flags: u8, mut frame: Bytes) -> Packet {
    // `plain` checked that the payload starts inside the frame.
    frame.advance(plain.payload_start);
    Packet::Publish(Publish {
        dup: flags & DUP != 0,
        delivery: plain.delivery,
        retain: flags & RETAIN != 0,
        topic: plain.topic,
        properties: PublishProperties::default(),
        payload: frame,
    })
}

#[inline]
pub(crate) fn decode(
    r: &mut Reader<'_>,
    flags: u8,
    protocol: Protocol,
) -> Result<Publish, DecodeError> {
    let packet = PacketType::Publish;
    let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(DecodeError::PublishQos3)?;
    let dup = flags & DUP != 0;
    if dup && qos == QoS::AtMostOnce {
        return Err(DecodeError::DupWithQos0);
    }
    let topic = r.string("topic name")?;
    let delivery = match qos {
        QoS::AtMostOnce => Delivery::AtMostOnce,
        QoS::AtLeastOnce | QoS::ExactlyOnce => {
            let id = PacketId::new(r.u16("packet identifier")?)
                .ok_or(DecodeError::ZeroPacketId { packet })?;
            Delivery::new(qos, id)
        }
    };
    let properties = if protocol.is_v5() {
        props::decode_publish(r)?
    } else {
        PublishProperties::default()
    };
    let topic = if topic.is_empty() {
        if properties.topic_alias.is_none() {
            return Err(DecodeError::EmptyTopicWithoutAlias);
        }
        TopicName::alias_placeholder()
    } else {
        refuse_controls(packet, "topic name", &topic)?;
        TopicName::from_mqtt_str(topic).map_err(|source| DecodeError::InvalidTopicName {
            packet,
            field: "topic name",
            source,
        })?
    };
    let payload = r.rest();
    Ok(Publish {
        dup,
        delivery,
        retain: flags & RETAIN != 0,
        topic,
        properties,
        payload,
    })
}

pub(crate) fn first_byte(p: &Publish) -> u8 {
    let mut b = (PacketType::Publish as u8) << 4 | (p.delivery.qos() as u8) << 1;
    if p.dup {
        b |= DUP;
    }
    if p.retain {
        b |= RETAIN;
    }
    b
}

pub(crate) fn len(p: &Publish, protocol: Protocol) -> Result<Lengths, EncodeError> {
    let packet = PacketType::Publish;
    if p.dup && p.delivery == Delivery::AtMostOnce {
        return Err(EncodeError::InvalidValue {
            packet,
            what: "sets DUP with QoS 0 ([MQTT-3.3.1-2])",
        });
    }
    let mut l = Lengths::default();
    let mut body = field_len(packet, "topic name", p.topic.len())?;
    if p.delivery.packet_id().is_some() {
        body += 2;
    }
    if protocol.is_v5() {
        if p.topic.is_empty() && p.properties.topic_alias.is_none() {
            return Err(EncodeError::InvalidValue {
                packet,
                what: "has an empty topic and no Topic Alias",
            });
        }
        l.props = props::publish_len(&p.properties)?;
        body += props::block_len(l.props);
    } else if p.topic.is_empty() {
        return Err(EncodeError::NotInVersion {
            packet,
            what: "an empty topic (topic aliases are MQTT 5)",
            protocol,
        });
    }
    l.body = body + p.payload.len();
    Ok(l)
}

pub(crate) fn put(out: &mut impl BufMut, p: &Publish, protocol: Protocol, l: &Lengths) {
    put_binary(out, p.topic.as_mqtt_str().as_bytes());
    if let Some(id) = p.delivery.packet_id() {
        out.put_u16(id.get());
    }
    if protocol.is_v5() {
        props::put_block_len(out, l.props);
        props::put_publish(out, &p.properties);
    }
    out.put_slice(&p.payload);
}
