//! AUTH (§3.15, MQTT 5 only): reason code and properties, both omitted on the wire when Success
//! and empty. The authentication exchange itself belongs to the session.

use bytes::BufMut;

use super::Lengths;
use super::primitives::Reader;
use super::properties as props;
use crate::error::{DecodeError, EncodeError};
use crate::packet::{Auth, PacketType};
use crate::properties::AuthProperties;
use crate::reason::ReasonCode;
use crate::types::Protocol;

/// Reason codes an AUTH may carry (§3.15.2.1).
pub(crate) fn allows(reason: ReasonCode) -> bool {
    matches!(
        reason,
        ReasonCode::Success | ReasonCode::ContinueAuthentication | ReasonCode::ReAuthenticate
    )
}

pub(crate) fn decode(r: &mut Reader<'_>, protocol: Protocol) -> Result<Auth, DecodeError> {
    let packet = PacketType::Auth;
    if !protocol.is_v5() {
        return Err(DecodeError::PacketNotInVersion { packet, protocol });
    }
    let mut a = Auth {
        reason: ReasonCode::Success,
        properties: AuthProperties::default(),
    };
    if !r.is_empty() {
        let code = r.u8("reason code")?;
        a.reason = ReasonCode::from_u8(code)
            .filter(|rc| allows(*rc))
            .ok_or(DecodeError::InvalidReasonCode { packet, code })?;
        if !r.is_empty() {
            a.properties = props::decode_auth(r)?;
        }
    }
    Ok(a)
}

pub(crate) fn len(a: &Auth, protocol: Protocol) -> Result<Lengths, EncodeError> {
    let packet = PacketType::Auth;
    if !protocol.is_v5() {
        return Err(EncodeError::NotInVersion {
            packet,
            what: "AUTH (it is MQTT 5 only)",
            protocol,
        });
    }
    if !allows(a.reason) {
        return Err(EncodeError::ReasonNotAllowed {
            packet,
            reason: a.reason,
        });
    }
    let mut l = Lengths {
        props: props::auth_len(&a.properties)?,
        ..Lengths::default()
    };
    if l.props > 0 {
        l.body = 1 + props::block_len(l.props);
    } else if a.reason != ReasonCode::Success {
        l.body = 1;
    }
    Ok(l)
}

pub(crate) fn put(out: &mut impl BufMut, a: &Auth, l: &Lengths) {
    if l.body > 0 {
        out.put_u8(a.reason.value());
    }
    if l.body > 1 {
        props::put_block_len(out, l.props);
        props::put_auth(out, &a.properties);
    }
}
