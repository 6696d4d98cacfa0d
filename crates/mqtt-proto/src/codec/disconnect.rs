//! DISCONNECT (§3.14): empty in MQTT 3.1.1; in MQTT 5 an optional reason code and properties,
//! omitted on the wire when Success and empty. What to do with the will and the session on
//! disconnect is the session's job.

use bytes::BufMut;

use super::Lengths;
use super::primitives::Reader;
use super::properties as props;
use crate::error::{DecodeError, EncodeError};
use crate::packet::{Disconnect, PacketType};
use crate::reason::ReasonCode;
use crate::types::Protocol;

/// Reason codes a DISCONNECT may carry (MQTT 5 §3.14.2.1).
pub(crate) fn allows(reason: ReasonCode) -> bool {
    matches!(
        reason.value(),
        0x00 | 0x04 | 0x80..=0x83 | 0x87 | 0x89 | 0x8B | 0x8D..=0x90 | 0x93..=0xA2
    )
}

pub(crate) fn decode(r: &mut Reader<'_>, protocol: Protocol) -> Result<Disconnect, DecodeError> {
    let mut d = Disconnect::default();
    if protocol.is_v5() && !r.is_empty() {
        let code = r.u8("reason code")?;
        d.reason = ReasonCode::from_u8(code).filter(|rc| allows(*rc)).ok_or(
            DecodeError::InvalidReasonCode {
                packet: PacketType::Disconnect,
                code,
            },
        )?;
        if !r.is_empty() {
            d.properties = props::decode_disconnect(r)?;
        }
    }
    Ok(d)
}

pub(crate) fn len(d: &Disconnect, protocol: Protocol) -> Result<Lengths, EncodeError> {
    let packet = PacketType::Disconnect;
    let mut l = Lengths::default();
    if !protocol.is_v5() {
        if d.reason != ReasonCode::Success {
            return Err(EncodeError::NotInVersion {
                packet,
                what: "a reason code other than Success",
                protocol,
            });
        }
        return Ok(l);
    }
    if !allows(d.reason) {
        return Err(EncodeError::ReasonNotAllowed {
            packet,
            reason: d.reason,
        });
    }
    l.props = props::disconnect_len(&d.properties)?;
    if l.props > 0 {
        l.body = 1 + props::block_len(l.props);
    } else if d.reason != ReasonCode::Success {
        l.body = 1;
    }
    Ok(l)
}

pub(crate) fn put(out: &mut impl BufMut, d: &Disconnect, l: &Lengths) {
    if l.body > 0 {
        out.put_u8(d.reason.value());
    }
    if l.body > 1 {
        props::put_block_len(out, l.props);
        props::put_disconnect(out, &d.properties);
    }
}
