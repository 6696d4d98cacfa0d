//! `MQTT_Persistent_Session_Happy_Case` after the CONNECT was judged: the device connects with
//! clean session 0 and subscribes at QoS 1; the endpoint then drops the connection and keeps a
//! QoS 1 message for that subscription; on the device's reconnect (clean session 0 again)
//! CONNACK says session present 1 and the stored message goes out. The device must acknowledge
//! it and must not subscribe again (Device Advisor's page: aws-iot-services.md §4). The state
//! lives across the test's connections in [`Stored`]. `MQTT_Expired_Persistent_Session` runs the
//! same first connection (any QoS), and on the reconnect CONNACK says session present 0, as
//! after the session expired: the device must subscribe again.

use bytes::{Bytes, BytesMut};
use mqtt_proto::codec::Decoder;
use mqtt_proto::{
    ConnAck, Connect, Delivery, MAX_PACKET_SIZE, Packet, PacketId, Protocol, PubAck, Publish, QoS,
    ReasonCode, TopicName,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use super::Outcome;
use super::attempt::Judged;

/// What to change when the session is not resumed.
pub(crate) const FIX: &str = "connect with clean session 0 (MQTT 5: clean start 0 and a session \
    expiry interval) every time, subscribe only when CONNACK says session present 0, and \
    acknowledge the messages the broker kept (coreMQTT: cleanSession = false and check \
    pSessionPresent; AWS IoT Device SDK: clean_session=False and the session_present of the \
    connect result)";

/// What to change when the device does not subscribe again after its session expired.
pub(crate) const EXPIRED_FIX: &str = "when CONNACK says session present 0, subscribe again to \
    every filter the device needs: the broker kept nothing (coreMQTT: check pSessionPresent \
    after MQTT_Connect; AWS IoT Device SDK: the session_present of the connect result)";

/// The payload of the kept message.
const PAYLOAD: &[u8] = b"{\"tether\":\"qualify\",\"test\":\"MQTT_Persistent_Session_Happy_Case\"}";

/// The session the endpoint keeps between the test's connections: the topic its kept QoS 1
/// message goes to, once the device subscribed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stored {
    topic: Option<String>,
    /// The expired-session test: any QoS is taken, and the session is not resumed.
    expire: bool,
}

/// One connection of the test. None: the connection ended without deciding it.
pub(crate) async fn run(
    stored: &mut Stored,
    stream: &mut SslStream<TcpStream>,
    (connect, expire): (&Connect, bool),
    rest: BytesMut,
    progress: &mut impl FnMut(String),
) -> Option<Judged> {
    stored.expire = expire;
    if connect.clean_start {
        let when = if stored.topic.is_some() {
            "reconnected"
        } else {
            "connected"
        };
        return Some(fail(format!(
            "{when} with clean session 1, so there is no session to resume"
        )));
    }
    let protocol = connect.protocol;
    match stored.topic.clone() {
        None => first(stored, stream, protocol, rest, progress).await,
        Some(_) if expire => expired(stream, protocol, rest, progress).await,
        Some(topic) => resumed(stream, protocol, rest, &topic, progress).await,
    }
}

/// The first connection: CONNACK (session present 0), wait for a QoS 1 SUBSCRIBE, then drop the
/// connection and keep a message for the subscription.
async fn first(
    stored: &mut Stored,
    stream: &mut SslStream<TcpStream>,
    protocol: Protocol,
    mut buf: BytesMut,
    progress: &mut impl FnMut(String),
) -> Option<Judged> {
    if !send(stream, protocol, connack(false)).await {
        return None;
    }
    progress("CONNACK (session present 0) sent; waiting for a SUBSCRIBE".to_owned());
    let mut decoder = Decoder::new(protocol, MAX_PACKET_SIZE);
    loop {
        let packet = next(&mut decoder, stream, &mut buf).await?;
        let packet = match packet {
            Ok(packet) => packet,
            Err(judged) => return Some(judged),
        };
        let reply = match packet {
            Packet::Subscribe(subscribe) => {
                let first = subscribe.filters.first().map(|(f, o)| (f.as_str(), o.qos));
                let first = first.map(|(f, qos)| {
                    // The expired-session test keeps no message: any QoS will do.
                    let qos = if stored.expire { QoS::AtLeastOnce } else { qos };
                    (f, qos)
                });
                match first {
                    Some((filter, QoS::AtLeastOnce | QoS::ExactlyOnce)) => {
                        let topic = super::pubsub::topic_matching(filter);
                        let _ = send(stream, protocol, super::suback::suback(&subscribe)).await;
                        progress(format!(
                            "the device subscribed to {filter} at QoS 1; the endpoint drops the \
                             connection and keeps a QoS 1 message on {topic}"
                        ));
                        stored.topic = Some(topic);
                        let _ = stream.shutdown().await;
                        return None;
                    }
                    _ => {
                        return Some(fail(
                            "subscribed at QoS 0, which a session does not keep messages for"
                                .to_owned(),
                        ));
                    }
                }
            }
            Packet::PingReq => Packet::PingResp,
            Packet::Publish(publish) => match publish.delivery {
                Delivery::AtLeastOnce(id) => Packet::PubAck(PubAck::new(id)),
                _ => continue,
            },
            _ => continue,
        };
        if !send(stream, protocol, reply).await {
            return None;
        }
    }
}

/// A reconnect with clean session 0: CONNACK (session present 1), the kept message, and the
/// device's PUBACK; a SUBSCRIBE before it fails the test.
async fn resumed(
    stream: &mut SslStream<TcpStream>,
    protocol: Protocol,
    mut buf: BytesMut,
    topic: &str,
    progress: &mut impl FnMut(String),
) -> Option<Judged> {
    let name = match TopicName::new(topic) {
        Ok(name) => name,
        Err(e) => return Some(fail(format!("subscribed to a filter with no topic ({e})"))),
    };
    let id = PacketId::MIN;
    let kept = Packet::Publish(Publish {
        dup: false,
        delivery: Delivery::AtLeastOnce(id),
        retain: false,
        topic: name,
        properties: Default::default(),
        payload: Bytes::from_static(PAYLOAD),
    });
    if !(send(stream, protocol, connack(true)).await && send(stream, protocol, kept).await) {
        return None;
    }
    progress(format!(
        "the device reconnected with clean session 0; CONNACK said session present 1 and the \
         kept message went to {topic}"
    ));
    let mut decoder = Decoder::new(protocol, MAX_PACKET_SIZE);
    let mut resubscribed = None;
    loop {
        let packet = match next(&mut decoder, stream, &mut buf).await? {
            Ok(packet) => packet,
            Err(judged) => return Some(judged),
        };
        let reply = match packet {
            Packet::PubAck(ack) if ack.packet_id == id => {
                return Some(match resubscribed {
                    Some(filters) => fail(format!(
                        "acknowledged the kept message on {topic}, but subscribed again to \
                         {filters} although CONNACK said session present 1"
                    )),
                    None => Judged {
                        outcome: Outcome::Pass,
                        device_did: format!(
                            "resumed its session (clean session 0, session present 1), did not \
                             subscribe again and acknowledged the kept message on {topic}"
                        ),
                        fix: None,
                    },
                });
            }
            Packet::Subscribe(subscribe) => {
                let filters: Vec<&str> =
                    subscribe.filters.iter().map(|(f, _)| f.as_str()).collect();
                resubscribed = Some(filters.join(", "));
                super::suback::suback(&subscribe)
            }
            Packet::PingReq => Packet::PingResp,
            Packet::Publish(publish) => match publish.delivery {
                Delivery::AtLeastOnce(id) => Packet::PubAck(PubAck::new(id)),
                _ => continue,
            },
            _ => continue,
        };
        if !send(stream, protocol, reply).await {
            return None;
        }
    }
}

/// A reconnect with clean session 0 after the session expired: CONNACK (session present 0),
/// and the device must subscribe again; a connection that ends first fails.
async fn expired(
    stream: &mut SslStream<TcpStream>,
    protocol: Protocol,
    mut buf: BytesMut,
    progress: &mut impl FnMut(String),
) -> Option<Judged> {
    if !send(stream, protocol, connack(false)).await {
        return None;
    }
    progress(
        "the device reconnected with clean session 0; CONNACK said session present 0 (the \
         session expired); waiting for a SUBSCRIBE"
            .to_owned(),
    );
    let mut decoder = Decoder::new(protocol, MAX_PACKET_SIZE);
    loop {
        let Some(packet) = next(&mut decoder, stream, &mut buf).await else {
            return Some(Judged {
                outcome: Outcome::Fail,
                device_did: "reconnected, was told session present 0, and closed the connection \
                    without subscribing again"
                    .to_owned(),
                fix: Some(EXPIRED_FIX.to_owned()),
            });
        };
        let reply = match packet {
            Ok(Packet::Subscribe(subscribe)) => {
                let filters: Vec<&str> =
                    subscribe.filters.iter().map(|(f, _)| f.as_str()).collect();
                let _ = send(stream, protocol, super::suback::suback(&subscribe)).await;
                return Some(Judged {
                    outcome: Outcome::Pass,
                    device_did: format!(
                        "reconnected with clean session 0 and, told session present 0, \
                         subscribed again to {}",
                        filters.join(", ")
                    ),
                    fix: None,
                });
            }
            Ok(Packet::PingReq) => Packet::PingResp,
            Ok(Packet::Publish(publish)) => match publish.delivery {
                Delivery::AtLeastOnce(id) => Packet::PubAck(PubAck::new(id)),
                _ => continue,
            },
            Ok(_) => continue,
            Err(judged) => return Some(judged),
        };
        if !send(stream, protocol, reply).await {
            return None;
        }
    }
}

/// The next packet; None when the connection ended, an Err verdict when it does not decode.
async fn next(
    decoder: &mut Decoder,
    stream: &mut SslStream<TcpStream>,
    buf: &mut BytesMut,
) -> Option<Result<Packet, Judged>> {
    loop {
        match decoder.decode(buf) {
            Ok(Some(packet)) => return Some(Ok(packet)),
            Ok(None) => {}
            Err(e) => {
                return Some(Err(Judged {
                    outcome: Outcome::Fail,
                    device_did: format!("sent a packet that does not decode: {e}"),
                    fix: Some("fix the MQTT encoding the error names".to_owned()),
                }));
            }
        }
        match stream.read_buf(buf).await {
            Ok(n) if n > 0 => {}
            _ => return None,
        }
    }
}

fn connack(session_present: bool) -> Packet {
    Packet::ConnAck(ConnAck {
        session_present,
        reason: ReasonCode::Success,
        properties: Default::default(),
    })
}

fn fail(device_did: String) -> Judged {
    Judged {
        outcome: Outcome::Fail,
        device_did,
        fix: Some(FIX.to_owned()),
    }
}

/// Sends one packet; false when the connection broke.
async fn send(stream: &mut SslStream<TcpStream>, protocol: Protocol, packet: Packet) -> bool {
    let mut out = BytesMut::new();
    packet.encode(protocol, &mut out).is_ok() && stream.write_all(&out).await.is_ok()
}
