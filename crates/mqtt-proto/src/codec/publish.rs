//! PUBLISH (§3.3): flags (DUP, QoS, RETAIN), topic name, packet id, properties and payload.
//! This is the hot path: the topic and payload are slices of the frame, lengths are computed
//! once. Resolving topic aliases and checking who may send Subscription Identifiers is the
//! session's job.

use bytes::{Buf, BufMut, Bytes};

use super::Lengths;
use super::fixed_header::put_fixed_header;
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

#[inline]
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

#[inline]
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

/// Writes the whole packet, fixed header included. The room was checked by the caller. For the
/// usual small packet the first byte, the one-byte remaining length and the topic length go
/// out in one write.
#[inline]
pub(crate) fn put_packet(out: &mut impl BufMut, p: &Publish, protocol: Protocol, l: &Lengths) {
    let topic = p.topic.as_mqtt_str().as_bytes();
    match (u8::try_from(l.body), u16::try_from(topic.len())) {
        (Ok(body @ 0..=0x7F), Ok(topic_len)) => {
            out.put_u32(
                u32::from(first_byte(p)) << 24 | u32::from(body) << 16 | u32::from(topic_len),
            );
            out.put_slice(topic);
        }
        _ => {
            put_fixed_header(out, first_byte(p), l.body);
            put_binary(out, topic);
        }
    }
    put_after_topic(out, p, protocol, l);
}

#[inline]
pub(crate) fn put(out: &mut impl BufMut, p: &Publish, protocol: Protocol, l: &Lengths) {
    put_binary(out, p.topic.as_mqtt_str().as_bytes());
    put_after_topic(out, p, protocol, l);
}

/// Everything after the topic: packet id, properties, payload.
#[inline]
fn put_after_topic(out: &mut impl BufMut, p: &Publish, protocol: Protocol, l: &Lengths) {
    if let Some(id) = p.delivery.packet_id() {
        out.put_u16(id.get());
    }
    if protocol.is_v5() {
        props::put_block_len(out, l.props);
        props::put_publish(out, &p.properties);
    }
    out.put_slice(&p.payload);
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use bytes::BytesMut;
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::codec::{Decoder, MAX_PACKET_SIZE, decode_body, decode_frame};

    /// Topic bytes drawn from the characters each rule cares about.
    fn topic_byte() -> impl Strategy<Value = u8> {
        prop::sample::select(alloc::vec![
            b'a', b'/', b'+', b'#', b'$', 0x00, 0x1F, 0x7F, 0xC2, 0x80, 0xA0, 0xE2, 0x82, 0xAC
        ])
    }

    /// The combined header write for small packets and the general one meet at a remaining
    /// length of 127/128; both must produce the same wire format and decode back.
    #[test]
    fn encoding_round_trips_across_the_one_byte_length_boundary() {
        let topic = TopicName::new("a/b").unwrap();
        for payload_len in [0usize, 1, 119, 120, 121, 122, 200, 16_380, 16_400] {
            let packet = Packet::Publish(Publish {
                dup: false,
                delivery: Delivery::AtLeastOnce(PacketId::new(3).unwrap()),
                retain: true,
                topic: topic.clone(),
                properties: PublishProperties::default(),
                payload: Bytes::from(alloc::vec![7u8; payload_len]),
            });
            for protocol in [Protocol::V311, Protocol::V5] {
                let mut out = BytesMut::new();
                packet.encode(protocol, &mut out).unwrap();
                let body = 2 + 3 + 2 + usize::from(protocol.is_v5()) + payload_len;
                let mut expected = alloc::vec![0x33];
                super::super::primitives::put_varint(&mut expected, body);
                expected.extend_from_slice(&[0, 3, b'a', b'/', b'b', 0, 3]);
                assert_eq!(
                    out.get(..expected.len()),
                    Some(&expected[..]),
                    "{payload_len}"
                );
                assert_eq!(
                    out.len(),
                    expected.len() + usize::from(protocol.is_v5()) + payload_len
                );
                assert_eq!(
                    crate::codec::decode(out.freeze(), protocol).unwrap(),
                    packet
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 4096,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The fast path must give exactly what the general decoder gives, packet or error.
        #[test]
        fn fast_path_agrees_with_the_general_decoder(
            flags in 0u8..16,
            topic in vec(topic_byte(), 0..20),
            id in prop::sample::select(alloc::vec![0u16, 1, 0x1234]),
            props in prop::sample::select(alloc::vec![
                Vec::new(), alloc::vec![0u8], alloc::vec![2, 0x23, 0], alloc::vec![3, 0x23, 0, 5]
            ]),
            payload in vec(any::<u8>(), 0..6),
            cut in 0usize..40,
            v5 in any::<bool>(),
        ) {
            let protocol = if v5 { Protocol::V5 } else { Protocol::V311 };
            let mut body = Vec::new();
            body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
            body.extend_from_slice(&topic);
            if flags & 0x06 != 0 {
                body.extend_from_slice(&id.to_be_bytes());
            }
            body.extend_from_slice(&props);
            body.extend_from_slice(&payload);
            body.truncate(body.len().saturating_sub(cut % 4));
            let mut wire = alloc::vec![0x30 | flags, body.len() as u8];
            wire.extend_from_slice(&body);
            let frame = Bytes::from(wire);

            let general = decode_body(&frame, PacketType::Publish, flags, 2, protocol, |p| p);
            let fast = decode_frame(frame.clone(), PacketType::Publish, flags, 2, protocol);
            prop_assert_eq!(&fast, &general);
            let mut buf = BytesMut::from(&frame[..]);
            let streamed = Decoder::new(protocol, MAX_PACKET_SIZE).decode(&mut buf);
            prop_assert_eq!(streamed, general.map(Some));
        }
    }
}
