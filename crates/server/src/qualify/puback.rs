//! `MQTT_Publish_Retry_No_Puback` after CONNACK: the PUBACK of the device's first QoS 1
//! PUBLISH is withheld, and the device must re-send that PUBLISH on the same connection with the
//! DUP flag and the same packet id (Device Advisor's test; MQTT 3.1.1 §3.3.1.1 and
//! [MQTT-3.3.1-1] for the DUP flag of a re-delivery). Meanwhile the endpoint answers as AWS IoT
//! would: PINGRESP to PINGREQ, PUBACK to every other QoS 1 PUBLISH, SUBACK granting at most QoS 1.
//! It does not deliver messages, and it judges only the first withheld PUBLISH.

use std::time::Instant;

use bytes::BytesMut;
use mqtt_proto::codec::Decoder;
use mqtt_proto::{Delivery, MAX_PACKET_SIZE, Packet, PacketId, Protocol, PubAck};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use super::Outcome;
use super::attempt::Judged;

/// What to change when the device does not re-send.
pub(crate) const FIX: &str = "keep each unacknowledged QoS 1 PUBLISH and re-send it with DUP=1 \
    and the same packet id when its PUBACK does not come within a few seconds, on the same \
    connection (coreMQTT: MQTT_Publish again with dup set and the same packet id, from the \
    application's retry timer)";

/// Withholds the PUBACK of the first QoS 1 PUBLISH and judges the re-send. None: the device
/// disconnected first, which starts the test over.
pub(crate) async fn withhold(
    stream: &mut SslStream<TcpStream>,
    protocol: Protocol,
    mut buf: BytesMut,
    progress: &mut impl FnMut(String),
) -> Option<Judged> {
    let mut decoder = Decoder::new(protocol, MAX_PACKET_SIZE);
    let mut withheld: Option<(PacketId, Instant)> = None;
    loop {
        let packet = match decoder.decode(&mut buf) {
            Ok(Some(packet)) => packet,
            Ok(None) => {
                match stream.read_buf(&mut buf).await {
                    Ok(n) if n > 0 => continue,
                    _ => {}
                }
                let what = match withheld {
                    Some((id, _)) => format!(
                        "the device disconnected with packet id {} unacknowledged instead of \
                         re-sending it; a reconnect starts the test over",
                        id.get()
                    ),
                    None => {
                        "the device disconnected before a QoS 1 PUBLISH; still waiting".to_owned()
                    }
                };
                progress(what);
                return None;
            }
            Err(e) => {
                return Some(Judged {
                    outcome: Outcome::Fail,
                    device_did: format!("sent a packet that does not decode: {e}"),
                    fix: Some("fix the MQTT encoding the error names".to_owned()),
                });
            }
        };
        let reply = match packet {
            Packet::Publish(publish) => {
                let Delivery::AtLeastOnce(id) = publish.delivery else {
                    continue;
                };
                match withheld {
                    None => {
                        progress(format!(
                            "the device published packet id {} at QoS 1 on {}; its PUBACK is \
                             withheld",
                            id.get(),
                            publish.topic
                        ));
                        withheld = Some((id, Instant::now()));
                        continue;
                    }
                    Some((wanted, since)) if wanted == id => {
                        return Some(judge_resend(stream, protocol, id, publish.dup, since).await);
                    }
                    Some(_) => Packet::PubAck(PubAck::new(id)),
                }
            }
            Packet::PingReq => Packet::PingResp,
            Packet::Subscribe(subscribe) => super::suback::suback(&subscribe),
            Packet::Disconnect(_) => {
                buf.clear();
                continue;
            }
            _ => continue,
        };
        let mut out = BytesMut::new();
        if reply.encode(protocol, &mut out).is_err() || stream.write_all(&out).await.is_err() {
            progress("the connection broke; still waiting".to_owned());
            return None;
        }
    }
}

/// The device re-sent the withheld packet id: with DUP it passes (and gets its PUBACK).
async fn judge_resend(
    stream: &mut SslStream<TcpStream>,
    protocol: Protocol,
    id: PacketId,
    dup: bool,
    since: Instant,
) -> Judged {
    let after = since.elapsed().as_secs_f64();
    if !dup {
        return Judged {
            outcome: Outcome::Fail,
            device_did: format!(
                "re-sent packet id {} after {after:.1} s without the DUP flag [MQTT-3.3.1-1]",
                id.get()
            ),
            fix: Some(FIX.to_owned()),
        };
    }
    let mut out = BytesMut::new();
    if Packet::PubAck(PubAck::new(id))
        .encode(protocol, &mut out)
        .is_ok()
    {
        let _ = stream.write_all(&out).await;
    }
    Judged {
        outcome: Outcome::Pass,
        device_did: format!(
            "re-sent packet id {} with DUP after {after:.1} s without disconnecting",
            id.get()
        ),
        fix: None,
    }
}
