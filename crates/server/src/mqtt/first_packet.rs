//! The first packet of a connection: read it within the connect deadline, decode it from an
//! exact-size copy (its strings live as long as the session), answer a malformed or unsupported
//! CONNECT in the form its client can read, and refuse with a CONNACK. What happens after a
//! CONNECT is read is `connection.rs`'s business.

use bytes::{Buf, BytesMut};
use mqtt_proto::codec::Decoder;
use mqtt_proto::error::DecodeError;
use mqtt_proto::{ConnAck, Connect, Packet, Protocol, ReasonCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use refusals::Recorder;

use super::connection::ConnectionSettings;
use super::record;
use crate::auth::Principal;

/// Reads the CONNECT within the connect deadline. Returns it with whatever the client sent
/// after it, or `None` when the connection ends here (malformed, not a CONNECT, closed, too
/// slow), after answering a malformed CONNECT where its version allows.
pub(super) async fn receive_connect<S>(
    stream: &mut S,
    settings: &ConnectionSettings,
    principal: &Principal,
    refusals: &Recorder,
) -> Option<(Connect, BytesMut)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut rx = BytesMut::with_capacity(1024);
    // Each refusal is recorded (and logged by the recorder once written).
    let record = |client_id: Option<&str>, what: String, reason: ReasonCode| {
        let (refusal, log) = record::violation(principal, client_id, &what, reason);
        refusals.record(refusal, Some(log));
    };
    let connect = match tokio::time::timeout(
        settings.connect_timeout,
        read_connect(stream, &mut rx, settings),
    )
    .await
    {
        Ok(Ok(connect)) => connect,
        Ok(Err(FirstPacket::Malformed { error, level })) => {
            record(
                None,
                format!("malformed CONNECT: {error}"),
                error.reason_code(),
            );
            if let Some(reply) = connack_for_malformed(&error, level) {
                let _ = stream.write_all(&reply).await;
            }
            super::linger::close_gracefully(stream).await;
            return None;
        }
        Ok(Err(FirstPacket::NotConnect(packet))) => {
            let what = format!(
                "the first packet was {}, not CONNECT [MQTT-3.1.0-1]",
                packet.name()
            );
            record(None, what, ReasonCode::ProtocolError);
            return None;
        }
        Ok(Err(FirstPacket::Closed)) => return None,
        Err(_) => {
            let what = format!(
                "no CONNECT within {} s of connecting",
                settings.connect_timeout.as_secs()
            );
            record(None, what, ReasonCode::MaximumConnectTime);
            return None;
        }
    };
    if let Some(reason) = unsupported_request(&connect) {
        let what = format!(
            "CONNECT asks for an enhanced authentication method, and none is offered; \
             refused with {reason}"
        );
        record(Some(connect.client_id.as_str()), what, reason);
        refuse(stream, connect.protocol, reason).await;
        return None;
    }
    Some((connect, rx))
}

/// Answers a refused CONNECT with its CONNACK (3.1.1: the nearest return code) and closes
/// without a reset (`linger.rs`).
pub(super) async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    protocol: Protocol,
    reason: ReasonCode,
) {
    let connack = Packet::ConnAck(ConnAck {
        session_present: false,
        reason,
        properties: Default::default(),
    });
    let mut out = BytesMut::new();
    if connack.encode(protocol, &mut out).is_ok() {
        let _ = stream.write_all(&out).await;
    }
    super::linger::close_gracefully(stream).await;
}

/// What tether refuses in a well-formed CONNECT before the broker sees it: an Authentication
/// Method, since no MQTT 5 enhanced authentication method is offered (MQTT 5 §4.12: CONNACK
/// 0x8C Bad authentication method).
fn unsupported_request(connect: &Connect) -> Option<ReasonCode> {
    connect
        .properties
        .authentication_method
        .is_some()
        .then_some(ReasonCode::BadAuthenticationMethod)
}

enum FirstPacket {
    Malformed {
        error: DecodeError,
        level: Option<(bool, u8)>,
    },
    NotConnect(mqtt_proto::PacketType),
    Closed,
}

async fn read_connect<S: AsyncRead + Unpin>(
    stream: &mut S,
    rx: &mut BytesMut,
    settings: &ConnectionSettings,
) -> Result<Connect, FirstPacket> {
    let mut decoder = Decoder::new(Protocol::V311, settings.max_packet_size);
    loop {
        let level = connect_level(rx);
        // Decode from an exact-size copy: the CONNECT's strings (client id, will, user name)
        // are slices of the buffer they were decoded from and live as long as the session,
        // so they must not keep the whole read buffer of every idle device alive.
        let mut arrived = BytesMut::from(&rx[..]);
        let decoded = decoder.decode(&mut arrived);
        if let Ok(Some(_)) = decoded {
            rx.advance(rx.len() - arrived.len());
        }
        match decoded {
            Ok(Some(Packet::Connect(connect))) => return Ok(*connect),
            Ok(Some(other)) => return Err(FirstPacket::NotConnect(other.packet_type())),
            Ok(None) => {}
            Err(error) => return Err(FirstPacket::Malformed { error, level }),
        }
        rx.reserve(1024);
        match stream.read_buf(rx).await {
            Ok(0) | Err(_) => return Err(FirstPacket::Closed),
            Ok(_) => {}
        }
    }
}

/// The protocol name (is it `MQTT`?) and level of a CONNECT at the start of `bytes`, read
/// without validating anything else, so a malformed CONNECT can be answered in its version.
fn connect_level(bytes: &[u8]) -> Option<(bool, u8)> {
    if bytes.first()? & 0xF0 != 0x10 {
        return None;
    }
    let mut at = 1;
    for _ in 0..4 {
        let byte = *bytes.get(at)?;
        at += 1;
        if byte & 0x80 == 0 {
            break;
        }
    }
    let name_len = usize::from(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]));
    let name = bytes.get(at + 2..at + 2 + name_len)?;
    let level = *bytes.get(at + 2 + name_len)?;
    Some((name == b"MQTT", level))
}

/// The CONNACK a malformed CONNECT gets: MQTT 5 clients learn the reason; MQTT 3.1.1 and
/// older get nothing but the close ([MQTT-3.1.4-1]). An unsupported protocol level is answered
/// in the form its client can read: levels 3 and 4 (3.1 and 3.1.1 under the other protocol
/// name) with return code 1 ([MQTT-3.1.2-2]), any other level, which may be a newer client,
/// with the MQTT 5 reason 0x84 Unsupported Protocol Version.
fn connack_for_malformed(error: &DecodeError, level: Option<(bool, u8)>) -> Option<Vec<u8>> {
    match (error, level) {
        (DecodeError::UnsupportedProtocolLevel { level: 3 | 4 }, _) => {
            Some(vec![0x20, 0x02, 0x00, 0x01])
        }
        (DecodeError::UnsupportedProtocolLevel { .. }, _) => Some(vec![
            0x20,
            0x03,
            0x00,
            ReasonCode::UnsupportedProtocolVersion.value(),
            0x00,
        ]),
        (_, Some((true, 5))) => Some(vec![0x20, 0x03, 0x00, error.reason_code().value(), 0x00]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use broker_core::Limits;

    use super::*;

    #[tokio::test]
    async fn a_connect_is_read_apart_from_what_the_client_sent_after_it() {
        let settings = ConnectionSettings {
            limits: Limits::for_profile(broker_core::Profile::Mqtt),
            max_packet_size: 1024,
            receive_maximum: 100,
            connect_timeout: Duration::from_secs(5),
            faults: crate::faults::Faults::new(),
        };
        // CONNECT (3.1.1, client id "dev-1"), then a PINGREQ in the same write.
        let mut bytes = b"\x10\x11\x00\x04MQTT\x04\x02\x00\x3c\x00\x05dev-1".to_vec();
        bytes.extend_from_slice(&[0xC0, 0x00]);
        let (mut client, mut server) = tokio::io::duplex(256);
        client.write_all(&bytes).await.unwrap();
        let mut rx = BytesMut::with_capacity(1024);
        let connect = read_connect(&mut server, &mut rx, &settings)
            .await
            .unwrap_or_else(|_| panic!("the CONNECT is read"));
        assert_eq!(connect.client_id.as_str(), "dev-1");
        assert_eq!(
            &rx[..],
            &[0xC0, 0x00],
            "the PINGREQ is left for the session"
        );

        // A CONNECT that arrives in two pieces.
        let (mut client, mut server) = tokio::io::duplex(256);
        let mut rx = BytesMut::new();
        let (first, rest) = bytes.split_at(7);
        client.write_all(first).await.unwrap();
        let reading = tokio::spawn(async move {
            let result = read_connect(&mut server, &mut rx, &settings).await;
            (result.ok().map(|c| c.client_id.as_str().to_owned()), rx)
        });
        tokio::task::yield_now().await;
        client.write_all(rest).await.unwrap();
        let (client_id, rx) = reading.await.unwrap();
        assert_eq!(client_id.as_deref(), Some("dev-1"));
        assert_eq!(&rx[..], &[0xC0, 0x00]);
    }

    #[test]
    fn connect_level_reads_name_and_level_only() {
        let v5 = [
            0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3c,
        ];
        assert_eq!(connect_level(&v5), Some((true, 5)));
        let v31 = [
            0x10, 0x0f, 0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03,
        ];
        assert_eq!(connect_level(&v31), Some((false, 3)));
        assert_eq!(connect_level(&[0x30, 0x00]), None);
        assert_eq!(connect_level(&[0x10, 0x0d, 0x00]), None);
    }

    #[test]
    fn malformed_connects_are_answered_in_their_version() {
        let unsupported = |level| DecodeError::UnsupportedProtocolLevel { level };
        let v5_style = Some(vec![0x20, 0x03, 0x00, 0x84, 0x00]);
        let v3_style = Some(vec![0x20, 0x02, 0x00, 0x01]);
        // Levels 2 and 6 under either name: the MQTT 5 form.
        assert_eq!(
            connack_for_malformed(&unsupported(6), Some((true, 6))),
            v5_style
        );
        assert_eq!(
            connack_for_malformed(&unsupported(2), Some((false, 2))),
            v5_style
        );
        assert_eq!(
            connack_for_malformed(&unsupported(6), Some((false, 6))),
            v5_style
        );
        // MQIsdp/4 and MQTT/3: return code 1, which 3.x clients understand.
        assert_eq!(
            connack_for_malformed(&unsupported(4), Some((false, 4))),
            v3_style
        );
        assert_eq!(
            connack_for_malformed(&unsupported(3), Some((true, 3))),
            v3_style
        );
        // Other malformed CONNECTs: a reason for MQTT 5 clients, silence for older ones.
        let flags = DecodeError::InvalidFlags {
            packet: mqtt_proto::PacketType::Connect,
            flags: 0x0F,
            expected: 0,
        };
        assert_eq!(
            connack_for_malformed(&flags, Some((true, 5))),
            Some(vec![0x20, 0x03, 0x00, 0x81, 0x00])
        );
        assert_eq!(connack_for_malformed(&flags, Some((true, 4))), None);
    }

    #[test]
    fn an_authentication_method_is_refused_as_unsupported() {
        let bytes = b"\x10\x17\x00\x04MQTT\x05\x02\x00\x0a\x09\x15\x00\x06SCRAM1\x00\x01p";
        let Ok(Packet::Connect(connect)) =
            mqtt_proto::codec::decode(bytes::Bytes::copy_from_slice(bytes), Protocol::V5)
        else {
            panic!("fixture is a CONNECT")
        };
        assert_eq!(
            unsupported_request(&connect),
            Some(ReasonCode::BadAuthenticationMethod)
        );
        let plain = Connect {
            properties: Default::default(),
            ..*connect
        };
        assert_eq!(unsupported_request(&plain), None);
    }
}
