//! `-d`: one line per packet sent or received, worded exactly as mosquitto_pub/mosquitto_sub
//! print them ("Client esp8266 sending PUBLISH (d0, q1, r0, m1, 'topic/test', ... (11 bytes))"),
//! so scripts that grep mosquitto's debug output keep working. It only formats; the client
//! library decides what is sent.

use client::mqtt_proto::Packet;
use client::{Direction, Observer, Protocol, Publish};

/// An observer that prints each packet line to stdout.
pub fn printer(client_id: &str, protocol: Protocol) -> Observer {
    let mut name = if client_id.is_empty() {
        "(null)".to_owned()
    } else {
        client_id.to_owned()
    };
    Box::new(move |direction, packet| {
        if let Packet::ConnAck(connack) = packet
            && let Some(id) = &connack.properties.assigned_client_identifier
        {
            name = id.as_str().to_owned();
        }
        if let Some(line) = line(&name, protocol, direction, packet) {
            println!("{line}");
        }
    })
}

/// The mosquitto wording of one packet, or `None` for packets mosquitto does not log.
pub fn line(
    client: &str,
    protocol: Protocol,
    direction: Direction,
    packet: &Packet,
) -> Option<String> {
    let verb = match direction {
        Direction::Sent => "sending",
        Direction::Received => "received",
    };
    let sent = direction == Direction::Sent;
    let what = match packet {
        Packet::Connect(_) => "CONNECT".to_owned(),
        Packet::ConnAck(connack) => {
            let code = if protocol.is_v5() {
                connack.reason.value()
            } else {
                connack.reason.to_v3_connack()
            };
            format!("CONNACK ({code})")
        }
        Packet::Publish(publish) => format!("PUBLISH {}", publish_details(publish)),
        Packet::PubAck(ack) if sent => format!(
            "PUBACK (m{}, rc{})",
            ack.packet_id.get(),
            ack.reason.value()
        ),
        Packet::PubAck(ack) => format!(
            "PUBACK (Mid: {}, RC:{})",
            ack.packet_id.get(),
            ack.reason.value()
        ),
        Packet::PubRec(ack) if sent => format!(
            "PUBREC (m{}, rc{})",
            ack.packet_id.get(),
            ack.reason.value()
        ),
        Packet::PubRec(ack) => format!("PUBREC (Mid: {})", ack.packet_id.get()),
        Packet::PubRel(ack) if sent => format!("PUBREL (m{})", ack.packet_id.get()),
        Packet::PubRel(ack) => format!("PUBREL (Mid: {})", ack.packet_id.get()),
        Packet::PubComp(ack) if sent => format!("PUBCOMP (m{})", ack.packet_id.get()),
        Packet::PubComp(ack) => format!(
            "PUBCOMP (Mid: {}, RC:{})",
            ack.packet_id.get(),
            ack.reason.value()
        ),
        Packet::Subscribe(subscribe) => {
            // mosquitto logs one line per filter.
            let lines: Vec<String> = subscribe
                .filters
                .iter()
                .map(|(filter, options)| {
                    let flags = u8::from(options.no_local) << 2
                        | u8::from(options.retain_as_published) << 3
                        | (options.retain_handling as u8) << 4;
                    format!(
                        "Client {client} {verb} SUBSCRIBE (Mid: {}, Topic: {}, QoS: {}, Options: 0x{flags:02x})",
                        subscribe.packet_id.get(),
                        filter.as_str(),
                        options.qos as u8
                    )
                })
                .collect();
            return Some(lines.join("\n"));
        }
        Packet::SubAck(_) => "SUBACK".to_owned(),
        Packet::Unsubscribe(unsubscribe) => {
            let lines: Vec<String> = unsubscribe
                .filters
                .iter()
                .map(|filter| {
                    format!(
                        "Client {client} {verb} UNSUBSCRIBE (Mid: {}, Topic: {})",
                        unsubscribe.packet_id.get(),
                        filter.as_str()
                    )
                })
                .collect();
            return Some(lines.join("\n"));
        }
        Packet::UnsubAck(_) => "UNSUBACK".to_owned(),
        Packet::PingReq => "PINGREQ".to_owned(),
        Packet::PingResp => "PINGRESP".to_owned(),
        Packet::Disconnect(disconnect) if !sent => {
            format!("DISCONNECT ({})", disconnect.reason.value())
        }
        Packet::Disconnect(_) => "DISCONNECT".to_owned(),
        Packet::Auth(_) => "AUTH".to_owned(),
    };
    Some(format!("Client {client} {verb} {what}"))
}

/// "(d0, q1, r0, m1, 'topic', ... (11 bytes))"
pub fn publish_details(publish: &Publish) -> String {
    format!(
        "(d{}, q{}, r{}, m{}, '{}', ... ({} bytes))",
        u8::from(publish.dup),
        publish.delivery.qos() as u8,
        u8::from(publish.retain),
        publish.delivery.packet_id().map_or(0, |id| id.get()),
        publish.topic.as_str(),
        publish.payload.len()
    )
}

#[cfg(test)]
mod tests {
    use client::mqtt_proto::{PacketId, PubAck};
    use client::{Bytes, QoS, ReasonCode, TopicName};

    use super::*;

    fn publish(qos: QoS, id: u16) -> Publish {
        Publish {
            dup: false,
            delivery: client::mqtt_proto::Delivery::new(qos, PacketId::new(id).unwrap()),
            retain: false,
            topic: TopicName::new("topic/test").unwrap(),
            properties: Default::default(),
            payload: Bytes::from_static(b"hello world"),
        }
    }

    #[test]
    fn lines_match_mosquitto() {
        let sent = line(
            "esp8266",
            Protocol::V311,
            Direction::Sent,
            &Packet::Publish(publish(QoS::AtLeastOnce, 1)),
        );
        assert_eq!(
            sent.as_deref(),
            Some("Client esp8266 sending PUBLISH (d0, q1, r0, m1, 'topic/test', ... (11 bytes))")
        );
        let ack = line(
            "esp8266",
            Protocol::V311,
            Direction::Received,
            &Packet::PubAck(PubAck::new(PacketId::new(1).unwrap())),
        );
        assert_eq!(
            ack.as_deref(),
            Some("Client esp8266 received PUBACK (Mid: 1, RC:0)")
        );
        let connack = Packet::ConnAck(client::mqtt_proto::ConnAck {
            session_present: false,
            reason: ReasonCode::NotAuthorized,
            properties: Default::default(),
        });
        assert_eq!(
            line("x", Protocol::V311, Direction::Received, &connack).as_deref(),
            Some("Client x received CONNACK (5)")
        );
        assert_eq!(
            line("x", Protocol::V5, Direction::Received, &connack).as_deref(),
            Some("Client x received CONNACK (135)")
        );
        let pubrel = Packet::PubRel(PubAck::new(PacketId::new(3).unwrap()));
        assert_eq!(
            line("x", Protocol::V5, Direction::Sent, &pubrel).as_deref(),
            Some("Client x sending PUBREL (m3)")
        );
    }
}
