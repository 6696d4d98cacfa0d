//! CONNECT (§3.1) and CONNACK (§3.2) bodies in MQTT 3.1, 3.1.1 and 5.0: protocol name and
//! level, connect flags and their consistency rules, the will, credentials, acknowledge flags
//! and return/reason codes. Whether a client id is acceptable, and what CONNACK to answer, is
//! decided by the server session, not here.

use alloc::boxed::Box;
use alloc::string::String;

use bytes::BufMut;

use super::Lengths;
use super::primitives::{Reader, field_len, put_binary, refuse_controls};
use super::properties as props;
use crate::error::{CLIENT_ID_FIELD, DecodeError, EncodeError};
use crate::packet::{ConnAck, Connect, PacketType, Will};
use crate::properties::{ConnAckProperties, ConnectProperties, WillProperties};
use crate::reason::ReasonCode;
use crate::types::{Protocol, QoS};

const FLAG_RESERVED: u8 = 0x01;
const FLAG_CLEAN: u8 = 0x02;
const FLAG_WILL: u8 = 0x04;
const FLAG_WILL_RETAIN: u8 = 0x20;
const FLAG_PASSWORD: u8 = 0x40;
const FLAG_USERNAME: u8 = 0x80;

/// Decodes a CONNECT body. The protocol comes from the packet itself.
///
/// MQTT 3.1 (`MQIsdp`) defined neither the fixed-header flags of CONNECT nor the reserved connect
/// flag as must-be-zero, and old device stacks set them; they are ignored for 3.1 only.
pub(crate) fn decode_connect(
    r: &mut Reader<'_>,
    header_flags: u8,
) -> Result<Box<Connect>, DecodeError> {
    let name = r.binary("protocol name")?;
    let level = r.u8("protocol level")?;
    let protocol = match (name.as_ref(), level) {
        (b"MQTT", 4) => Protocol::V311,
        (b"MQTT", 5) => Protocol::V5,
        (b"MQIsdp", 3) => Protocol::V31,
        (b"MQTT" | b"MQIsdp", level) => {
            return Err(DecodeError::UnsupportedProtocolLevel { level });
        }
        (other, _) => {
            return Err(DecodeError::InvalidProtocolName {
                name: String::from_utf8_lossy(other).into_owned(),
            });
        }
    };
    let strict = protocol != Protocol::V31;
    if strict && header_flags != 0 {
        return Err(DecodeError::InvalidFlags {
            packet: PacketType::Connect,
            flags: header_flags,
            expected: 0,
        });
    }
    let flags = r.u8("connect flags")?;
    if strict && flags & FLAG_RESERVED != 0 {
        return Err(DecodeError::ReservedConnectFlag);
    }
    let will_flag = flags & FLAG_WILL != 0;
    let will_qos_bits = (flags >> 3) & 0x03;
    if !will_flag && (will_qos_bits != 0 || flags & FLAG_WILL_RETAIN != 0) {
        return Err(DecodeError::WillFlagsWithoutWill { flags });
    }
    let will_qos = QoS::from_u8(will_qos_bits).ok_or(DecodeError::WillQos3)?;
    let has_username = flags & FLAG_USERNAME != 0;
    let has_password = flags & FLAG_PASSWORD != 0;
    if has_password && !has_username && !protocol.is_v5() {
        return Err(DecodeError::PasswordWithoutUsername);
    }
    let keep_alive = r.u16("keep alive")?;
    let properties = if protocol.is_v5() {
        props::decode_connect(r)?
    } else {
        ConnectProperties::default()
    };
    let client_id = r.string(CLIENT_ID_FIELD)?;
    refuse_controls(PacketType::Connect, CLIENT_ID_FIELD, &client_id)?;
    let will = if will_flag {
        let properties = if protocol.is_v5() {
            props::decode_will(r)?
        } else {
            WillProperties::default()
        };
        let topic = r.topic_name("will topic")?;
        refuse_controls(PacketType::Connect, "will topic", &topic)?;
        let payload = r.binary("will payload")?;
        Some(Will {
            topic,
            payload,
            qos: will_qos,
            retain: flags & FLAG_WILL_RETAIN != 0,
            properties,
        })
    } else {
        None
    };
    let username = if has_username {
        let username = r.string("user name")?;
        refuse_controls(PacketType::Connect, "user name", &username)?;
        Some(username)
    } else {
        None
    };
    let password = if has_password {
        Some(r.binary("password")?)
    } else {
        None
    };
    Ok(Box::new(Connect {
        protocol,
        clean_start: flags & FLAG_CLEAN != 0,
        keep_alive,
        client_id,
        will,
        username,
        password,
        properties,
    }))
}

/// Sizes a CONNECT for its own protocol version.
pub(crate) fn connect_len(c: &Connect) -> Result<Lengths, EncodeError> {
    let packet = PacketType::Connect;
    let v5 = c.protocol.is_v5();
    if c.password.is_some() && c.username.is_none() && !v5 {
        return Err(EncodeError::NotInVersion {
            packet,
            what: "a password without a user name ([MQTT-3.1.2-22])",
            protocol: c.protocol,
        });
    }
    let mut l = Lengths::default();
    let mut body = 2 + c.protocol.name().len() + 1 + 1 + 2;
    if v5 {
        l.props = props::connect_len(&c.properties)?;
        body += props::block_len(l.props);
    }
    body += field_len(packet, "client identifier", c.client_id.len())?;
    if let Some(will) = &c.will {
        if v5 {
            l.will_props = props::will_len(&will.properties)?;
            body += props::block_len(l.will_props);
        }
        body += field_len(packet, "will topic", will.topic.len())?;
        body += field_len(packet, "will payload", will.payload.len())?;
    }
    if let Some(user) = &c.username {
        body += field_len(packet, "user name", user.len())?;
    }
    if let Some(password) = &c.password {
        body += field_len(packet, "password", password.len())?;
    }
    l.body = body;
    Ok(l)
}

pub(crate) fn put_connect(out: &mut impl BufMut, c: &Connect, l: &Lengths) {
    put_binary(out, c.protocol.name().as_bytes());
    out.put_u8(c.protocol.level());
    let mut flags = 0u8;
    if c.clean_start {
        flags |= FLAG_CLEAN;
    }
    if let Some(will) = &c.will {
        flags |= FLAG_WILL | ((will.qos as u8) << 3);
        if will.retain {
            flags |= FLAG_WILL_RETAIN;
        }
    }
    if c.password.is_some() {
        flags |= FLAG_PASSWORD;
    }
    if c.username.is_some() {
        flags |= FLAG_USERNAME;
    }
    out.put_u8(flags);
    out.put_u16(c.keep_alive);
    let v5 = c.protocol.is_v5();
    if v5 {
        props::put_block_len(out, l.props);
        props::put_connect(out, &c.properties);
    }
    put_binary(out, c.client_id.as_bytes());
    if let Some(will) = &c.will {
        if v5 {
            props::put_block_len(out, l.will_props);
            props::put_will(out, &will.properties);
        }
        put_binary(out, will.topic.as_mqtt_str().as_bytes());
        put_binary(out, &will.payload);
    }
    if let Some(user) = &c.username {
        put_binary(out, user.as_bytes());
    }
    if let Some(password) = &c.password {
        put_binary(out, password);
    }
}

/// Reason codes a CONNACK may carry (MQTT 5 §3.2.2.2).
pub(crate) fn connack_allows(reason: ReasonCode) -> bool {
    matches!(reason.value(), 0x00 | 0x80..=0x8A | 0x8C | 0x90 | 0x95 | 0x97 | 0x99..=0x9D | 0x9F)
}

pub(crate) fn decode_connack(
    r: &mut Reader<'_>,
    protocol: Protocol,
) -> Result<ConnAck, DecodeError> {
    let packet = PacketType::ConnAck;
    let flags = r.u8("acknowledge flags")?;
    if flags & 0xFE != 0 {
        return Err(DecodeError::ConnAckReservedFlags { flags });
    }
    // MQTT 3.1 has no Session Present flag; its first byte is reserved.
    let session_present = flags & 0x01 != 0 && protocol != Protocol::V31;
    let code = r.u8(if protocol.is_v5() {
        "reason code"
    } else {
        "return code"
    })?;
    let reason = if protocol.is_v5() {
        ReasonCode::from_u8(code).filter(|rc| connack_allows(*rc))
    } else {
        ReasonCode::from_v3_connack(code)
    }
    .ok_or(DecodeError::InvalidReasonCode { packet, code })?;
    if session_present && code != 0 {
        return Err(DecodeError::SessionPresentOnFailure { code });
    }
    let properties = if protocol.is_v5() {
        props::decode_connack(r)?
    } else {
        ConnAckProperties::default()
    };
    Ok(ConnAck {
        session_present,
        reason,
        properties,
    })
}

pub(crate) fn connack_len(c: &ConnAck, protocol: Protocol) -> Result<Lengths, EncodeError> {
    let packet = PacketType::ConnAck;
    if c.session_present && c.reason != ReasonCode::Success {
        return Err(EncodeError::InvalidValue {
            packet,
            what: "sets Session Present with a failure reason ([MQTT-3.2.2-6])",
        });
    }
    let mut l = Lengths {
        body: 2,
        ..Lengths::default()
    };
    if protocol.is_v5() {
        if !connack_allows(c.reason) {
            return Err(EncodeError::ReasonNotAllowed {
                packet,
                reason: c.reason,
            });
        }
        l.props = props::connack_len(&c.properties)?;
        l.body += props::block_len(l.props);
    }
    Ok(l)
}

pub(crate) fn put_connack(out: &mut impl BufMut, c: &ConnAck, protocol: Protocol, l: &Lengths) {
    // MQTT 3.1 has no Session Present flag: its first CONNACK byte is reserved and zero.
    out.put_u8(u8::from(c.session_present && protocol != Protocol::V31));
    if protocol.is_v5() {
        out.put_u8(c.reason.value());
        props::put_block_len(out, l.props);
        props::put_connack(out, &c.properties);
    } else {
        out.put_u8(c.reason.to_v3_connack());
    }
}
