//! SUBSCRIBE (§3.8), SUBACK (§3.9), UNSUBSCRIBE (§3.10) and UNSUBACK (§3.11): topic filter
//! lists, subscription options bytes, and per-filter reason codes. Whether a filter is allowed
//! (policies, shared-subscription support) is the broker's decision, not the codec's.

use alloc::string::ToString;
use alloc::vec::Vec;

use bytes::{BufMut, Bytes};

use super::Lengths;
use super::ack::decode_properties;
use super::primitives::{Reader, field_len, put_binary, refuse_controls};
use super::properties as props;
use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketType, SubAck, Subscribe, UnsubAck, Unsubscribe};
use crate::properties::{SubscribeProperties, UnsubscribeProperties};
use crate::reason::ReasonCode;
use crate::topic::TopicFilter;
use crate::types::{PacketId, Protocol, QoS, RetainHandling, SubscriptionOptions};

const NO_LOCAL: u8 = 0x04;
const RETAIN_AS_PUBLISHED: u8 = 0x08;

fn packet_id(r: &mut Reader<'_>) -> Result<PacketId, DecodeError> {
    PacketId::new(r.u16("packet identifier")?).ok_or(DecodeError::ZeroPacketId { packet: r.packet })
}

/// A topic filter: the one-pass check accepts the common case; anything it refuses goes through
/// [`filter_checked`].
#[inline(never)]
fn filter(r: &mut Reader<'_>) -> Result<TopicFilter, DecodeError> {
    match TopicFilter::from_clean_bytes(r.binary(FILTER)?) {
        Ok(filter) => Ok(filter),
        Err(raw) => filter_checked(r, raw),
    }
}

/// The string, control-character and filter checks in turn, so that the error names the first
/// rule broken.
#[cold]
#[inline(never)]
fn filter_checked(r: &Reader<'_>, raw: Bytes) -> Result<TopicFilter, DecodeError> {
    let text = r.checked_string(raw, FILTER)?;
    refuse_controls(r.packet, FILTER, &text)?;
    TopicFilter::from_mqtt_str(text).map_err(|source| DecodeError::InvalidTopicFilter {
        packet: r.packet,
        source,
    })
}

const FILTER: &str = "topic filter";

/// Parses a subscription options byte (MQTT 5 §3.8.3.1; MQTT 3.1.1 only has the QoS bits).
fn options(byte: u8, protocol: Protocol) -> Result<SubscriptionOptions, DecodeError> {
    let reserved = if protocol.is_v5() { 0xC0 } else { 0xFC };
    let qos = QoS::from_u8(byte & 0x03).ok_or(DecodeError::SubscriptionQos3)?;
    if byte & reserved != 0 {
        return Err(DecodeError::ReservedSubscriptionOptions { options: byte });
    }
    let retain_handling = match (byte >> 4) & 0x03 {
        0 => RetainHandling::SendAtSubscribe,
        1 => RetainHandling::SendIfNew,
        2 => RetainHandling::DoNotSend,
        _ => return Err(DecodeError::RetainHandling3),
    };
    Ok(SubscriptionOptions {
        qos,
        no_local: byte & NO_LOCAL != 0,
        retain_as_published: byte & RETAIN_AS_PUBLISHED != 0,
        retain_handling,
    })
}

fn options_byte(o: &SubscriptionOptions, protocol: Protocol) -> u8 {
    let mut b = o.qos as u8;
    if protocol.is_v5() {
        if o.no_local {
            b |= NO_LOCAL;
        }
        if o.retain_as_published {
            b |= RETAIN_AS_PUBLISHED;
        }
        b |= (o.retain_handling as u8) << 4;
    }
    b
}

pub(crate) fn decode_subscribe(
    r: &mut Reader<'_>,
    protocol: Protocol,
) -> Result<Subscribe, DecodeError> {
    let packet_id = packet_id(r)?;
    let properties = if protocol.is_v5() {
        props::decode_subscribe(r)?
    } else {
        SubscribeProperties::default()
    };
    let mut filters = Vec::with_capacity(r.count_fields(1));
    while !r.is_empty() {
        let f = filter(r)?;
        let o = options(r.u8("subscription options")?, protocol)?;
        if o.no_local && f.is_shared() {
            return Err(DecodeError::NoLocalOnShared {
                filter: f.as_str().to_string(),
            });
        }
        filters.push((f, o));
    }
    if filters.is_empty() {
        return Err(DecodeError::NoTopicFilters {
            packet: PacketType::Subscribe,
        });
    }
    Ok(Subscribe {
        packet_id,
        properties,
        filters,
    })
}

#[inline]
pub(crate) fn subscribe_len(s: &Subscribe, protocol: Protocol) -> Result<Lengths, EncodeError> {
    let packet = PacketType::Subscribe;
    if s.filters.is_empty() {
        return Err(EncodeError::InvalidValue {
            packet,
            what: "has no topic filter ([MQTT-3.8.3-3])",
        });
    }
    let mut l = Lengths {
        body: 2,
        ..Lengths::default()
    };
    if protocol.is_v5() {
        l.props = props::subscribe_len(&s.properties)?;
        l.body += props::block_len(l.props);
    }
    for (f, o) in &s.filters {
        if protocol.is_v5() && o.no_local && f.is_shared() {
            return Err(EncodeError::InvalidValue {
                packet,
                what: "sets No Local on a shared subscription ([MQTT-3.8.3-4])",
            });
        }
        l.body += field_len(packet, "topic filter", f.as_str().len())? + 1;
    }
    Ok(l)
}

#[inline]
pub(crate) fn put_subscribe(out: &mut impl BufMut, s: &Subscribe, protocol: Protocol, l: &Lengths) {
    out.put_u16(s.packet_id.get());
    if protocol.is_v5() {
        props::put_block_len(out, l.props);
        props::put_subscribe(out, &s.properties);
    }
    for (f, o) in &s.filters {
        put_binary(out, f.as_mqtt_str().as_bytes());
        out.put_u8(options_byte(o, protocol));
    }
}

/// Reason codes a SUBACK may carry (MQTT 5 §3.9.3).
fn suback_allows(reason: ReasonCode) -> bool {
    matches!(
        reason.value(),
        0x00 | 0x01 | 0x02 | 0x80 | 0x83 | 0x87 | 0x8F | 0x91 | 0x97 | 0x9E | 0xA1 | 0xA2
    )
}

/// Reason codes an UNSUBACK may carry (MQTT 5 §3.11.3).
fn unsuback_allows(reason: ReasonCode) -> bool {
    matches!(
        reason.value(),
        0x00 | 0x11 | 0x80 | 0x83 | 0x87 | 0x8F | 0x91
    )
}

fn reasons(
    r: &mut Reader<'_>,
    allowed: impl Fn(u8) -> Option<ReasonCode>,
) -> Result<Vec<ReasonCode>, DecodeError> {
    let packet = r.packet;
    let mut out = Vec::with_capacity(r.remaining());
    while !r.is_empty() {
        let code = r.u8("reason code")?;
        out.push(allowed(code).ok_or(DecodeError::InvalidReasonCode { packet, code })?);
    }
    if out.is_empty() {
        return Err(DecodeError::NoReasonCodes { packet });
    }
    Ok(out)
}

pub(crate) fn decode_suback(r: &mut Reader<'_>, protocol: Protocol) -> Result<SubAck, DecodeError> {
    let packet_id = packet_id(r)?;
    let properties = decode_properties(r, protocol)?;
    let reasons = if protocol.is_v5() {
        reasons(r, |c| {
            ReasonCode::from_u8(c).filter(|rc| suback_allows(*rc))
        })?
    } else {
        reasons(r, ReasonCode::from_v3_suback)?
    };
    Ok(SubAck {
        packet_id,
        properties,
        reasons,
    })
}

pub(crate) fn suback_len(s: &SubAck, protocol: Protocol) -> Result<Lengths, EncodeError> {
    let packet = PacketType::SubAck;
    if s.reasons.is_empty() {
        return Err(EncodeError::InvalidValue {
            packet,
            what: "has no reason code",
        });
    }
    let mut l = Lengths {
        body: 2 + s.reasons.len(),
        ..Lengths::default()
    };
    if protocol.is_v5() {
        if let Some(reason) = s.reasons.iter().find(|rc| !suback_allows(**rc)) {
            return Err(EncodeError::ReasonNotAllowed {
                packet,
                reason: *reason,
            });
        }
        l.props = props::ack_len(packet, &s.properties)?;
        l.body += props::block_len(l.props);
    }
    Ok(l)
}

pub(crate) fn put_suback(out: &mut impl BufMut, s: &SubAck, protocol: Protocol, l: &Lengths) {
    out.put_u16(s.packet_id.get());
    if protocol.is_v5() {
        props::put_block_len(out, l.props);
        props::put_ack(out, &s.properties);
        for rc in &s.reasons {
            out.put_u8(rc.value());
        }
    } else {
        for rc in &s.reasons {
            out.put_u8(rc.to_v3_suback());
        }
    }
}

pub(crate) fn decode_unsubscribe(
    r: &mut Reader<'_>,
    protocol: Protocol,
) -> Result<Unsubscribe, DecodeError> {
    let packet_id = packet_id(r)?;
    let properties = if protocol.is_v5() {
        props::decode_unsubscribe(r)?
    } else {
        UnsubscribeProperties::default()
    };
    let mut filters = Vec::with_capacity(r.count_fields(0));
    while !r.is_empty() {
        filters.push(filter(r)?);
    }
    if filters.is_empty() {
        return Err(DecodeError::NoTopicFilters {
            packet: PacketType::Unsubscribe,
        });
    }
    Ok(Unsubscribe {
        packet_id,
        properties,
        filters,
    })
}

pub(crate) fn unsubscribe_len(u: &Unsubscribe, protocol: Protocol) -> Result<Lengths, EncodeError> {
    let packet = PacketType::Unsubscribe;
    if u.filters.is_empty() {
        return Err(EncodeError::InvalidValue {
            packet,
            what: "has no topic filter ([MQTT-3.10.3-2])",
        });
    }
    let mut l = Lengths {
        body: 2,
        ..Lengths::default()
    };
    if protocol.is_v5() {
        l.props = props::unsubscribe_len(&u.properties)?;
        l.body += props::block_len(l.props);
    }
    for f in &u.filters {
        l.body += field_len(packet, "topic filter", f.as_str().len())?;
    }
    Ok(l)
}

pub(crate) fn put_unsubscribe(
    out: &mut impl BufMut,
    u: &Unsubscribe,
    protocol: Protocol,
    l: &Lengths,
) {
    out.put_u16(u.packet_id.get());
    if protocol.is_v5() {
        props::put_block_len(out, l.props);
        props::put_unsubscribe(out, &u.properties);
    }
    for f in &u.filters {
        put_binary(out, f.as_mqtt_str().as_bytes());
    }
}

pub(crate) fn decode_unsuback(
    r: &mut Reader<'_>,
    protocol: Protocol,
) -> Result<UnsubAck, DecodeError> {
    let packet_id = packet_id(r)?;
    let properties = decode_properties(r, protocol)?;
    let reasons = if protocol.is_v5() {
        reasons(r, |c| {
            ReasonCode::from_u8(c).filter(|rc| unsuback_allows(*rc))
        })?
    } else {
        Vec::new()
    };
    Ok(UnsubAck {
        packet_id,
        properties,
        reasons,
    })
}

/// MQTT 3.1.1 UNSUBACK carries no codes, so `reasons` is not written for it.
pub(crate) fn unsuback_len(u: &UnsubAck, protocol: Protocol) -> Result<Lengths, EncodeError> {
    let packet = PacketType::UnsubAck;
    let mut l = Lengths {
        body: 2,
        ..Lengths::default()
    };
    if protocol.is_v5() {
        if u.reasons.is_empty() {
            return Err(EncodeError::InvalidValue {
                packet,
                what: "has no reason code",
            });
        }
        if let Some(reason) = u.reasons.iter().find(|rc| !unsuback_allows(**rc)) {
            return Err(EncodeError::ReasonNotAllowed {
                packet,
                reason: *reason,
            });
        }
        l.props = props::ack_len(packet, &u.properties)?;
        l.body += props::block_len(l.props) + u.reasons.len();
    }
    Ok(l)
}

pub(crate) fn put_unsuback(out: &mut impl BufMut, u: &UnsubAck, protocol: Protocol, l: &Lengths) {
    out.put_u16(u.packet_id.get());
    if protocol.is_v5() {
        props::put_block_len(out, l.props);
        props::put_ack(out, &u.properties);
        for rc in &u.reasons {
            out.put_u8(rc.value());
        }
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    fn filter_byte() -> impl Strategy<Value = u8> {
        prop::sample::select(alloc::vec![
            b'a', b'/', b'+', b'#', b'$', b's', 0x00, 0x1F, 0x7F, 0xC2, 0x85, 0xA0, 0xE2, 0x82,
            0xAC
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 4096,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// The one-pass check must accept exactly what the step-by-step checks accept, and
        /// build the same filter.
        #[test]
        fn fast_filter_check_agrees_with_the_checked_path(
            text in vec(filter_byte(), 0..24),
            share in any::<bool>(),
        ) {
            let mut bytes = Vec::new();
            if share {
                bytes.extend_from_slice(b"$share/");
            }
            bytes.extend_from_slice(&text);
            let mut wire = (bytes.len() as u16).to_be_bytes().to_vec();
            wire.extend_from_slice(&bytes);
            let wire = Bytes::from(wire);
            let mut r = Reader::new(&wire, 0, PacketType::Subscribe);
            let fast = filter(&mut r);
            let checked = filter_checked(&r, Bytes::from(bytes));
            prop_assert_eq!(fast, checked);
        }
    }
}
