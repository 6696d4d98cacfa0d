//! `MQTT_Subscribe_Retry_No_Suback` after CONNACK: the SUBACK of the device's first SUBSCRIBE
//! is withheld, and the device must retry that subscription with the same packet id (Device
//! Advisor's "Subscribe Retry - No SUBACK": "The client device must retry the failed
//! subscription with the same packet Id"). Unlike the publish-retry test, the page does not ask
//! for the same connection, so a retry after a reconnect counts too; on a new connection a
//! fresh packet id is valid MQTT, so a retry there with another id passes with a warning, while
//! another id on the same connection fails. Meanwhile the endpoint answers as AWS IoT would
//! (PINGRESP, PUBACK, SUBACK for other filters). It does not deliver messages.

use std::time::Instant;

use bytes::BytesMut;
use mqtt_proto::codec::Decoder;
use mqtt_proto::{
    Delivery, MAX_PACKET_SIZE, Packet, PacketId, Protocol, PubAck, QoS, ReasonCode, SubAck,
    Subscribe,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use super::Outcome;
use super::attempt::Judged;

/// What to change when the device does not retry the subscription.
pub(crate) const FIX: &str = "keep each SUBSCRIBE until its SUBACK arrives and re-send it with \
    the same packet id when the SUBACK does not come within a few seconds (coreMQTT: \
    MQTT_Subscribe again with the same packet id from the application's retry timer; or \
    reconnect and subscribe again)";

/// The withheld subscription, kept across the test's connections.
#[derive(Debug, Clone)]
pub(crate) struct Withheld {
    id: PacketId,
    filters: Vec<String>,
    since: Instant,
    /// The device disconnected since it sent the SUBSCRIBE.
    reconnected: bool,
}

/// The SUBACK AWS IoT sends for `subscribe`: each filter granted, at most QoS 1.
pub(crate) fn suback(subscribe: &Subscribe) -> Packet {
    Packet::SubAck(SubAck {
        packet_id: subscribe.packet_id,
        properties: Default::default(),
        reasons: subscribe
            .filters
            .iter()
            .map(|(_, options)| match options.qos {
                QoS::AtMostOnce => ReasonCode::Success,
                _ => ReasonCode::GrantedQos1,
            })
            .collect(),
    })
}

/// Withholds the SUBACK of the device's first SUBSCRIBE and judges its retry. None: the
/// connection ended first (`withheld` keeps the pending subscription for the next one).
pub(crate) async fn withhold(
    stream: &mut SslStream<TcpStream>,
    protocol: Protocol,
    mut buf: BytesMut,
    withheld: &mut Option<Withheld>,
    progress: &mut impl FnMut(String),
) -> Option<Judged> {
    let mut decoder = Decoder::new(protocol, MAX_PACKET_SIZE);
    loop {
        let packet = match decoder.decode(&mut buf) {
            Ok(Some(packet)) => packet,
            Ok(None) => {
                match stream.read_buf(&mut buf).await {
                    Ok(n) if n > 0 => continue,
                    _ => {}
                }
                let what = match withheld {
                    Some(pending) => {
                        pending.reconnected = true;
                        format!(
                            "the device disconnected with SUBSCRIBE packet id {} unacknowledged; \
                             a retry after it reconnects counts",
                            pending.id.get()
                        )
                    }
                    None => "the device disconnected before a SUBSCRIBE; still waiting".to_owned(),
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
            Packet::Subscribe(subscribe) => {
                let filters: Vec<String> = subscribe
                    .filters
                    .iter()
                    .map(|(f, _)| f.to_string())
                    .collect();
                match withheld {
                    None => {
                        progress(format!(
                            "the device subscribed with packet id {} to {}; its SUBACK is \
                             withheld",
                            subscribe.packet_id.get(),
                            filters.join(", ")
                        ));
                        *withheld = Some(Withheld {
                            id: subscribe.packet_id,
                            filters,
                            since: Instant::now(),
                            reconnected: false,
                        });
                        continue;
                    }
                    Some(pending) if filters.iter().any(|f| pending.filters.contains(f)) => {
                        let judged = judge_retry(pending, subscribe.packet_id);
                        let _ = send(stream, protocol, &suback(&subscribe)).await;
                        return Some(judged);
                    }
                    Some(_) => suback(&subscribe),
                }
            }
            Packet::Publish(publish) => match publish.delivery {
                Delivery::AtLeastOnce(id) => Packet::PubAck(PubAck::new(id)),
                _ => continue,
            },
            Packet::PingReq => Packet::PingResp,
            _ => continue,
        };
        if !send(stream, protocol, &reply).await {
            progress("the connection broke; still waiting".to_owned());
            return None;
        }
    }
}

/// The device subscribed again to a withheld filter with packet id `id`.
fn judge_retry(pending: &Withheld, id: PacketId) -> Judged {
    let after = pending.since.elapsed().as_secs_f64();
    let wanted = pending.id.get();
    let place = if pending.reconnected {
        "after reconnecting"
    } else {
        "on the same connection"
    };
    let did = format!(
        "retried the subscription to {} {place} after {after:.1} s with packet id {}",
        pending.filters.join(", "),
        id.get()
    );
    if id == pending.id {
        return Judged {
            outcome: Outcome::Pass,
            device_did: did,
            fix: None,
        };
    }
    let fix = format!(
        "re-send the unacknowledged SUBSCRIBE with its own packet id ({wanted}), as Device \
         Advisor requires, instead of a new one"
    );
    Judged {
        outcome: if pending.reconnected {
            Outcome::PassWithWarnings
        } else {
            Outcome::Fail
        },
        device_did: format!("{did}, not the withheld packet id {wanted}"),
        fix: Some(fix),
    }
}

/// Writes one packet; false when the connection broke.
async fn send(stream: &mut SslStream<TcpStream>, protocol: Protocol, packet: &Packet) -> bool {
    let mut out = BytesMut::new();
    packet.encode(protocol, &mut out).is_ok() && stream.write_all(&out).await.is_ok()
}
