//! `MQTT_Publish`, `MQTT_Subscribe` and `MQTT_Client_Puback_Qos1` (as `MQTT_Subscribe`, but a
//! QoS 0 subscription fails: there is no PUBACK to check) after CONNACK, answered as AWS IoT
//! Core answers. In
//! `MQTT_Publish` the device must publish (QoS 0 or 1) to a topic its policy allows; in
//! `MQTT_Subscribe` it must subscribe to a filter its policy allows, and then take a QoS 1
//! message the endpoint publishes on a topic the filter matches (it must send the PUBACK).
//! Meanwhile the endpoint answers PINGREQ, SUBSCRIBE and QoS 1 PUBLISH as AWS would. It does not
//! route: the endpoint is alone with the device (the broker's own routing under fault plans is
//! `crate::faults`'s). A disconnect before the decisive packet starts the test over.

use broker_core::{Action, Authorizer, Decision};
use bytes::{Bytes, BytesMut};
use mqtt_proto::codec::Decoder;
use mqtt_proto::{
    Delivery, MAX_PACKET_SIZE, Packet, PacketId, Protocol, PubAck, Publish, QoS, Subscribe,
    TopicName,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use super::attempt::Judged;
use super::{Device, Outcome, TestId};

/// What to change when the device never publishes.
pub(crate) const PUBLISH_FIX: &str = "publish at QoS 0 or 1 once connected (coreMQTT: \
    MQTT_Publish; AWS IoT Device SDK: connection.publish) to a topic the attached policy allows \
    with iot:Publish";
/// What to change when the device never subscribes or never acknowledges.
pub(crate) const SUBSCRIBE_FIX: &str = "subscribe once connected (coreMQTT: MQTT_Subscribe; AWS \
    IoT Device SDK: connection.subscribe) to a filter the attached policy allows with \
    iot:Subscribe (and iot:Receive for its topics), and acknowledge QoS 1 messages with PUBACK";

/// What to change when the device does not acknowledge a QoS 1 message.
pub(crate) const PUBACK_FIX: &str = "subscribe at QoS 1 and send PUBACK with the packet id of \
    each QoS 1 PUBLISH received (coreMQTT does it in MQTT_ProcessLoop; paho-mqtt once \
    on_message returns, unless manual acknowledgement is on and never given)";

/// What to change when the device does not take the 16 KB record.
pub(crate) const FRAGMENT_FIX: &str = "subscribe at QoS 1 and give the TLS library an input \
    buffer for a full 16 KB record: MBEDTLS_SSL_IN_CONTENT_LEN 16384 (mbedTLS, ESP-IDF's \
    CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN), a 16 KB input buffer for br_ssl_engine_set_buffer \
    (BearSSL), WiFiClientSecure::setBufferSizes(16384, 512) (Arduino ESP8266); or negotiate a \
    smaller record size with the max_fragment_length extension";

/// The payload of the message `MQTT_Subscribe` sends the device.
const PAYLOAD: &[u8] = b"{\"tether\":\"qualify\",\"test\":\"MQTT_Subscribe\"}";

/// The largest plaintext a TLS record carries (RFC 8446 §5.1, RFC 5246 §6.2.1): OpenSSL writes
/// a PUBLISH of exactly this size as one record.
const MAX_RECORD: usize = 16 * 1024;

/// A message the endpoint sends the device after its SUBSCRIBE.
struct Outgoing {
    packet: Packet,
    /// Its packet id at QoS 1; None at QoS 0 (nothing to wait for).
    id: Option<PacketId>,
    topic: String,
    /// Its encoded size.
    size: usize,
}

/// The connection's context for the authorizer.
pub(crate) struct Peer<'a> {
    pub device: &'a mut Device,
    pub addr: std::net::SocketAddr,
    pub client_id: &'a str,
}

impl Peer<'_> {
    fn allows(&mut self, action: Action<'_>) -> Result<(), String> {
        let principal = self.device.principal(self.addr);
        match self
            .device
            .authorizer
            .authorize(&principal, self.client_id, action)
        {
            Decision::Allow => Ok(()),
            Decision::Deny(denial) => Err(denial.to_string()),
        }
    }
}

/// Runs `MQTT_Publish`, `MQTT_Subscribe` or `TLS_Receive_Maximum_Size_Fragments` on an
/// accepted connection. None: the device
/// disconnected before the test was decided.
pub(crate) async fn run(
    test: TestId,
    stream: &mut SslStream<TcpStream>,
    protocol: Protocol,
    mut buf: BytesMut,
    mut peer: Peer<'_>,
    progress: &mut impl FnMut(String),
) -> Option<Judged> {
    progress(match test {
        TestId::MqttPublish => "CONNACK sent; waiting for a PUBLISH".to_owned(),
        _ => "CONNACK sent; waiting for a SUBSCRIBE".to_owned(),
    });
    let mut decoder = Decoder::new(protocol, MAX_PACKET_SIZE);
    // The QoS 1 message sent to the device after its SUBSCRIBE: packet id, topic and size.
    let mut sent: Option<Sent> = None;
    loop {
        let packet = match decoder.decode(&mut buf) {
            Ok(Some(packet)) => packet,
            Ok(None) => {
                if let Ok(n) = stream.read_buf(&mut buf).await
                    && n > 0
                {
                    continue;
                }
                if let Some(judged) = closed_after_record(test, sent.as_ref()) {
                    return Some(judged);
                }
                progress(
                    "the device disconnected before the test was decided; still waiting".to_owned(),
                );
                return None;
            }
            Err(e) => {
                return Some(fail(format!("sent a packet that does not decode: {e}")));
            }
        };
        let mut replies = Vec::new();
        match packet {
            Packet::PingReq => replies.push(Packet::PingResp),
            Packet::Publish(publish) => {
                if let Some(judged) = published(test, &publish, &mut peer) {
                    if let Delivery::AtLeastOnce(id) = publish.delivery {
                        send(stream, protocol, Packet::PubAck(PubAck::new(id))).await;
                    }
                    return Some(judged);
                }
                if let Delivery::AtLeastOnce(id) = publish.delivery {
                    replies.push(Packet::PubAck(PubAck::new(id)));
                }
            }
            Packet::Subscribe(subscribe) => {
                let suback = super::suback::suback(&subscribe);
                if test == TestId::MqttPublish || sent.is_some() {
                    replies.push(suback);
                } else {
                    let outgoing = match subscribed(test, &subscribe, &mut peer, protocol) {
                        Ok(outgoing) => outgoing,
                        Err(judged) => {
                            send(stream, protocol, suback).await;
                            return Some(judged);
                        }
                    };
                    let sent_ok = send(stream, protocol, suback).await
                        && send(stream, protocol, outgoing.packet).await;
                    let Some(id) = outgoing.id else {
                        return sent_ok.then(|| Judged {
                            outcome: Outcome::Pass,
                            device_did: format!(
                                "subscribed to {} at QoS 0 and was sent a message on {} (QoS 0 \
                                 has no acknowledgement to check)",
                                filters(&subscribe),
                                outgoing.topic
                            ),
                            fix: None,
                        });
                    };
                    progress(format!(
                        "the device subscribed to {}; a QoS 1 PUBLISH of {} bytes went to {}",
                        filters(&subscribe),
                        outgoing.size,
                        outgoing.topic
                    ));
                    sent = Some((id, outgoing.topic, outgoing.size));
                }
            }
            Packet::PubAck(ack) => {
                if let Some(judged) = acknowledged(test, sent.as_ref(), ack.packet_id) {
                    return Some(judged);
                }
            }
            Packet::Disconnect(_) => {
                buf.clear();
                continue;
            }
            _ => {}
        }
        for reply in replies {
            if !send(stream, protocol, reply).await {
                progress("the connection broke; still waiting".to_owned());
                return None;
            }
        }
    }
}

/// The message sent after the SUBSCRIBE: packet id, topic and encoded size.
type Sent = (PacketId, String, usize);

/// The verdict when the device acknowledged the message sent after its SUBSCRIBE.
fn acknowledged(test: TestId, sent: Option<&Sent>, acked: PacketId) -> Option<Judged> {
    let (id, topic, size) = sent?;
    if acked != *id {
        return None;
    }
    let what = if test == TestId::TlsReceiveMaximumSizeFragments {
        format!("a PUBLISH of {size} bytes, one full TLS record,")
    } else {
        "the QoS 1 message".to_owned()
    };
    Some(Judged {
        outcome: Outcome::Pass,
        device_did: format!(
            "subscribed, received {what} on {topic} and acknowledged it (packet id {})",
            id.get()
        ),
        fix: None,
    })
}

/// The fragments test's verdict when the device closed after the full record went out.
fn closed_after_record(test: TestId, sent: Option<&Sent>) -> Option<Judged> {
    let (_, topic, size) = sent?;
    (test == TestId::TlsReceiveMaximumSizeFragments).then(|| Judged {
        outcome: Outcome::Fail,
        device_did: format!(
            "closed the connection after a PUBLISH of {size} bytes on {topic} (one full TLS \
             record) instead of acknowledging it"
        ),
        fix: Some(FRAGMENT_FIX.to_owned()),
    })
}

/// Judges a PUBLISH in `MQTT_Publish`; None in other tests (it is only acknowledged).
fn published(test: TestId, publish: &Publish, peer: &mut Peer<'_>) -> Option<Judged> {
    if test != TestId::MqttPublish {
        return None;
    }
    let topic = publish.topic.as_str();
    let qos = match publish.delivery {
        Delivery::AtMostOnce => 0,
        Delivery::AtLeastOnce(_) => 1,
        Delivery::ExactlyOnce(_) => {
            return Some(fail(format!(
                "published at QoS 2 on {topic}, which AWS IoT Core does not support (it \
                 disconnects the device)"
            )));
        }
    };
    let action = Action::Publish {
        topic,
        retain: publish.retain,
    };
    if let Err(denial) = peer.allows(action) {
        return Some(Judged {
            outcome: Outcome::Fail,
            device_did: format!(
                "published at QoS {qos} on {topic}, which its policy does not allow ({denial})"
            ),
            fix: Some(format!(
                "allow iot:Publish on {} in a policy attached to the certificate, or publish \
                 to a topic it allows",
                action.resource(peer.client_id)
            )),
        });
    }
    Some(Judged {
        outcome: Outcome::Pass,
        device_did: format!(
            "published {} bytes at QoS {qos} on {topic}",
            publish.payload.len()
        ),
        fix: None,
    })
}

/// The device subscribed: the message to send it, or the verdict when its policy refuses the
/// filter (or, in the fragments test, when it asked for QoS 0).
fn subscribed(
    test: TestId,
    subscribe: &Subscribe,
    peer: &mut Peer<'_>,
    protocol: Protocol,
) -> Result<Outgoing, Judged> {
    for (filter, _) in &subscribe.filters {
        let filter = filter.as_str();
        if let Err(denial) = peer.allows(Action::Subscribe { filter }) {
            return Err(Judged {
                outcome: Outcome::Fail,
                device_did: format!(
                    "subscribed to {filter}, which its policy does not allow ({denial})"
                ),
                fix: Some(format!(
                    "allow iot:Subscribe on {} in a policy attached to the certificate",
                    Action::Subscribe { filter }.resource(peer.client_id)
                )),
            });
        }
    }
    let (filter, qos) = subscribe
        .filters
        .first()
        .map_or(("", QoS::AtMostOnce), |(filter, o)| {
            (filter.as_str(), o.qos)
        });
    let large = test == TestId::TlsReceiveMaximumSizeFragments;
    if qos == QoS::AtMostOnce && (large || test == TestId::MqttClientPubackQos1) {
        let fix = if large { FRAGMENT_FIX } else { PUBACK_FIX };
        return Err(Judged {
            outcome: Outcome::Fail,
            device_did: format!(
                "subscribed to {filter} at QoS 0, so a QoS 1 message reaches it at QoS 0 and \
                 there is no PUBACK to check"
            ),
            fix: Some(fix.to_owned()),
        });
    }
    let topic = topic_matching(filter);
    let name = TopicName::new(&topic).map_err(|e| {
        fail(format!(
            "subscribed to {filter}, on which no message can be sent ({e})"
        ))
    })?;
    let id = (qos != QoS::AtMostOnce).then_some(PacketId::MIN);
    let mut publish = Publish {
        dup: false,
        delivery: id.map_or(Delivery::AtMostOnce, Delivery::AtLeastOnce),
        retain: false,
        topic: name,
        properties: Default::default(),
        payload: Bytes::from_static(PAYLOAD),
    };
    let mut size = encoded_len(&publish, protocol);
    if large {
        // Grow the payload until the whole PUBLISH is one full record (the remaining-length
        // field may grow by a byte on the way).
        publish.payload = Bytes::new();
        let mut payload_len = MAX_RECORD.saturating_sub(encoded_len(&publish, protocol));
        for _ in 0..3 {
            publish.payload = Bytes::from(vec![b'x'; payload_len]);
            size = encoded_len(&publish, protocol);
            if size <= MAX_RECORD {
                break;
            }
            payload_len = payload_len.saturating_sub(size - MAX_RECORD);
        }
    }
    Ok(Outgoing {
        packet: Packet::Publish(publish),
        id,
        topic,
        size,
    })
}

/// The encoded size of a PUBLISH.
fn encoded_len(publish: &Publish, protocol: Protocol) -> usize {
    let mut out = BytesMut::new();
    match Packet::Publish(publish.clone()).encode(protocol, &mut out) {
        Ok(()) => out.len(),
        Err(_) => 0,
    }
}

/// A topic name the filter matches: `+` levels become `qualify`, a trailing `#` is dropped
/// (it matches its parent level, MQTT 3.1.1 §4.7.1.2) or becomes `qualify` alone.
pub(crate) fn topic_matching(filter: &str) -> String {
    let levels: Vec<&str> = filter
        .split('/')
        .filter(|level| *level != "#")
        .map(|level| if level == "+" { "qualify" } else { level })
        .collect();
    let topic = levels.join("/");
    if topic.is_empty() {
        "qualify".to_owned()
    } else {
        topic
    }
}

fn filters(subscribe: &Subscribe) -> String {
    let names: Vec<&str> = subscribe.filters.iter().map(|(f, _)| f.as_str()).collect();
    names.join(", ")
}

fn fail(device_did: String) -> Judged {
    Judged {
        outcome: Outcome::Fail,
        device_did,
        fix: Some("fix the MQTT encoding or the feature the message names".to_owned()),
    }
}

/// Sends one packet; false when the connection broke.
async fn send(stream: &mut SslStream<TcpStream>, protocol: Protocol, packet: Packet) -> bool {
    let mut out = BytesMut::new();
    packet.encode(protocol, &mut out).is_ok() && stream.write_all(&out).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_filters_get_a_topic_they_match() {
        assert_eq!(topic_matching("a/b"), "a/b");
        assert_eq!(topic_matching("a/+/c"), "a/qualify/c");
        assert_eq!(topic_matching("a/#"), "a");
        assert_eq!(topic_matching("#"), "qualify");
        assert_eq!(topic_matching("+"), "qualify");
    }
}
