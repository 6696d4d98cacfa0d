//! PUBACK, PUBREC, PUBREL and PUBCOMP (§3.4–3.7): packet id, and in MQTT 5 an optional reason
//! code and properties, both omitted on the wire when they are Success and empty. Matching an
//! acknowledgement to an in-flight message is the session's job.

use bytes::BufMut;

use super::Lengths;
use super::primitives::Reader;
use super::properties as props;
use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketType, PubAck};
use crate::properties::AckProperties;
use crate::reason::ReasonCode;
use crate::types::{PacketId, Protocol};

/// Reason codes each acknowledgement may carry (MQTT 5 §3.4.2.1, §3.5.2.1, §3.6.2.1, §3.7.2.1).
pub(crate) fn allows(packet: PacketType, reason: ReasonCode) -> bool {
    match packet {
        PacketType::PubAck | PacketType::PubRec => {
            matches!(
                reason.value(),
                0x00 | 0x10 | 0x80 | 0x83 | 0x87 | 0x90 | 0x91 | 0x97 | 0x99
            )
        }
        _ => matches!(reason.value(), 0x00 | 0x92),
    }
}

pub(crate) fn decode(
    r: &mut Reader<'_>,
    packet: PacketType,
    protocol: Protocol,
) -> Result<PubAck, DecodeError> {
    let packet_id =
        PacketId::new(r.u16("packet identifier")?).ok_or(DecodeError::ZeroPacketId { packet })?;
    let mut ack = PubAck::new(packet_id);
    if protocol.is_v5() && !r.is_empty() {
        let code = r.u8("reason code")?;
        ack.reason = ReasonCode::from_u8(code)
            .filter(|rc| allows(packet, *rc))
            .ok_or(DecodeError::InvalidReasonCode { packet, code })?;
        if !r.is_empty() {
            ack.properties = props::decode_ack(r)?;
        }
    }
    Ok(ack)
}

pub(crate) fn len(
    packet: PacketType,
    a: &PubAck,
    protocol: Protocol,
) -> Result<Lengths, EncodeError> {
    let mut l = Lengths {
        body: 2,
        ..Lengths::default()
    };
    if !protocol.is_v5() {
        if a.reason != ReasonCode::Success {
            return Err(EncodeError::NotInVersion {
                packet,
                what: "a reason code other than Success",
                protocol,
            });
        }
        return Ok(l);
    }
    if !allows(packet, a.reason) {
        return Err(EncodeError::ReasonNotAllowed {
            packet,
            reason: a.reason,
        });
    }
    l.props = props::ack_len(packet, &a.properties)?;
    if l.props > 0 {
        l.body += 1 + props::block_len(l.props);
    } else if a.reason != ReasonCode::Success {
        l.body += 1;
    }
    Ok(l)
}

pub(crate) fn put(out: &mut impl BufMut, a: &PubAck, l: &Lengths) {
    out.put_u16(a.packet_id.get());
    if l.body > 2 {
        out.put_u8(a.reason.value());
    }
    if l.body > 3 {
        props::put_block_len(out, l.props);
        props::put_ack(out, &a.properties);
    }
}

/// Decodes the properties shared by SUBACK and UNSUBACK; exposed for `subscribe`.
pub(crate) fn decode_properties(
    r: &mut Reader<'_>,
    protocol: Protocol,
) -> Result<AckProperties, DecodeError> {
    if protocol.is_v5() {
        props::decode_ack(r)
    } else {
        Ok(AckProperties::default())
    }
}
