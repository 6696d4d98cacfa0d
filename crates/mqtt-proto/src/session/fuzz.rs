//! The driver behind the `client_session` fuzz target and the test that replays its corpus:
//! arbitrary bytes become a sequence of client commands, elapsed time, raw inbound bytes and
//! well-formed server packets. It reports broken invariants as values; deciding to abort is the
//! fuzz target's business. Nothing here is meant for production use.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::num::{NonZeroU16, NonZeroU32};
use core::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::codec::{Decoder, MAX_PACKET_SIZE};
use crate::packet::{ConnAck, Disconnect, Packet, PubAck, Publish, SubAck, UnsubAck};
use crate::properties::{
    AckProperties, ConnAckProperties, PublishProperties, SubscribeProperties, UnsubscribeProperties,
};
use crate::reason::ReasonCode;
use crate::session::Message;
use crate::session::client::{ClientConfig, ClientSession, ConnectionState, OnSessionLost};
use crate::time::Instant;
use crate::topic::{TopicFilter, TopicName};
use crate::types::{Delivery, PacketId, Protocol, QoS, SubscriptionOptions};

/// What a run did, for tests that want to see that an input reached deep states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Operations executed.
    pub operations: usize,
    /// CONNACKs that accepted a connection.
    pub connections: usize,
    /// Events the session produced.
    pub events: usize,
    /// Packets the session transmitted (all decoded back successfully).
    pub packets_sent: usize,
}

/// Runs `data` as a script against a [`ClientSession`] and checks after every step that:
/// the outgoing window only grows within the server's Receive Maximum; every byte the client
/// transmits decodes as a valid packet of its protocol; and `poll_timeout` never lies in the
/// past of a `handle_timeout` that was just run.
pub fn client_session(data: &[u8]) -> Result<Coverage, String> {
    let mut input = Input(data);
    // Two configuration bytes. First: bit 0 MQTT 5, bit 1 clean start, bit 2 session expiry,
    // bits 4-7 keep-alive seconds. Second: bits 0-1 topic alias maximum, bit 2 outgoing
    // aliases, bit 3 republish on session loss, bits 4-5 receive maximum - 1.
    let flags = input.byte();
    let more = input.byte();
    let protocol = if flags & 1 == 0 {
        Protocol::V311
    } else {
        Protocol::V5
    };
    let config = ClientConfig {
        protocol,
        client_id: crate::string::MqttStr::from_static("fuzz").unwrap_or_default(),
        clean_start: flags & 2 != 0,
        keep_alive: u16::from(flags >> 4),
        session_expiry_interval: (flags & 4 != 0).then_some(60),
        receive_maximum: NonZeroU16::new(u16::from((more >> 4) & 3) + 1),
        maximum_packet_size: NonZeroU32::new(4096),
        topic_alias_maximum: u16::from(more & 3),
        outgoing_topic_aliases: more & 4 != 0,
        response_timeout: Duration::from_secs(5),
        on_session_lost: if more & 8 != 0 {
            OnSessionLost::Republish
        } else {
            OnSessionLost::Abandon
        },
        ..ClientConfig::default()
    };
    let mut session = ClientSession::new(config);
    let mut now = Instant::ZERO;
    let mut coverage = Coverage::default();
    let mut wire = Wire {
        decoder: Decoder::new(protocol, MAX_PACKET_SIZE),
        buf: BytesMut::new(),
    };
    while !input.is_empty() {
        let before = session.inflight();
        let op = input.byte();
        match op % 8 {
            0 => {
                let len = usize::from(input.byte() % 64);
                session.handle_bytes(input.take(len), now);
            }
            1 => {
                now += Duration::from_millis(u64::from(input.byte()) * 250);
                session.handle_timeout(now);
                let connected = session.state() == ConnectionState::Connected;
                if let Some(deadline) = session.poll_timeout().filter(|d| connected && *d < now) {
                    return Err(format!("poll_timeout {deadline} is before now {now}"));
                }
            }
            2 => {
                let b = input.byte();
                let qos = QoS::from_u8(b % 3).unwrap_or_default();
                let topic = topic(b >> 2);
                let payload = Bytes::from(vec![b; usize::from(input.byte())]);
                let message = Message::new(topic, qos, payload).retained(b & 0x80 != 0);
                let _ = session.publish(message);
            }
            3 => {
                let b = input.byte();
                let options =
                    SubscriptionOptions::with_qos(QoS::from_u8(b % 3).unwrap_or_default());
                let filters = filter(b).map(|f| (f, options)).into_iter().collect();
                let _ = session.subscribe(filters, SubscribeProperties::default());
            }
            4 => {
                session.connection_lost(now);
                wire.reset(protocol);
                let _ = session.connect(now);
            }
            5 => {
                // Some packets cannot be expressed in 3.1.1 (an alias-only topic); skip those.
                if let Ok(bytes) = server_packet(&mut input, protocol).to_bytes(protocol) {
                    session.handle_bytes(&bytes, now);
                }
            }
            6 => {
                if input.byte() & 1 == 0 {
                    let filters = filter(op).into_iter().collect();
                    let _ = session.unsubscribe(filters, UnsubscribeProperties::default());
                } else {
                    let _ = session.disconnect(Disconnect::default());
                }
            }
            _ => {
                if session.state() == ConnectionState::Disconnected {
                    wire.reset(protocol);
                    let _ = session.connect(now);
                }
            }
        }
        coverage.operations += 1;
        let after = session.inflight();
        let maximum = usize::from(session.server_receive_maximum());
        if after > before && after > maximum {
            return Err(format!(
                "in-flight window grew from {before} to {after} past the server's Receive Maximum {maximum}"
            ));
        }
        coverage.packets_sent += wire.check(&mut session)?;
        while let Some(event) = session.poll_event() {
            if matches!(event, crate::session::client::Event::Connected { .. }) {
                coverage.connections += 1;
            }
            coverage.events += 1;
        }
    }
    Ok(coverage)
}

/// Decodes what the client transmits, as the server would.
struct Wire {
    decoder: Decoder,
    buf: BytesMut,
}

impl Wire {
    fn reset(&mut self, protocol: Protocol) {
        self.decoder = Decoder::new(protocol, MAX_PACKET_SIZE);
        self.buf.clear();
    }

    fn check(&mut self, session: &mut ClientSession) -> Result<usize, String> {
        session.poll_transmit(&mut self.buf);
        let mut count = 0;
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(_)) => count += 1,
                Ok(None) => return Ok(count),
                Err(error) => return Err(format!("the client transmitted a bad packet: {error}")),
            }
        }
    }
}

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn take(&mut self, len: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(len.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn id(&mut self) -> PacketId {
        PacketId::new(u16::from(self.byte() % 8) + 1).unwrap_or(PacketId::MIN)
    }
}

fn topic(n: u8) -> TopicName {
    let name = match n % 4 {
        0 => "t/a",
        1 => "t/b",
        2 => "t/c/d",
        _ => "$aws/things/x",
    };
    TopicName::new(name).unwrap_or_else(|_| TopicName::alias_placeholder())
}

fn filter(n: u8) -> Option<TopicFilter> {
    TopicFilter::new(if n & 1 == 0 { "t/#" } else { "t/+" }).ok()
}

/// A well-formed packet a server could send, chosen and filled from the input.
fn server_packet(input: &mut Input<'_>, protocol: Protocol) -> Packet {
    let kind = input.byte();
    let v5 = protocol.is_v5();
    match kind % 10 {
        0 => {
            let b = input.byte();
            let mut properties = ConnAckProperties::default();
            if v5 {
                properties.receive_maximum = Some(u16::from(b % 4) + 1);
                properties.topic_alias_maximum = Some(u16::from((b >> 2) % 3));
                properties.maximum_packet_size = (b & 0x10 != 0).then_some(96);
                properties.server_keep_alive = (b & 0x20 != 0).then_some(2);
                properties.maximum_qos = (b & 0x40 != 0).then_some(1);
            }
            let refused = b & 0x80 != 0 && input.byte() & 3 == 0;
            Packet::ConnAck(ConnAck {
                session_present: !refused && input.byte() & 1 == 1,
                reason: if refused {
                    ReasonCode::NotAuthorized
                } else {
                    ReasonCode::Success
                },
                properties,
            })
        }
        1 => Packet::PubAck(PubAck::new(input.id())),
        2 => {
            let mut ack = PubAck::new(input.id());
            if v5 && input.byte() & 1 == 1 {
                ack.reason = ReasonCode::QuotaExceeded;
            }
            Packet::PubRec(ack)
        }
        3 => Packet::PubComp(PubAck::new(input.id())),
        4 => Packet::PubRel(PubAck::new(input.id())),
        5 => {
            let b = input.byte();
            let qos = QoS::from_u8(b % 3).unwrap_or_default();
            let id = input.id();
            let mut properties = PublishProperties::default();
            let alias = u16::from((b >> 2) % 5);
            if v5 && alias > 0 {
                properties.topic_alias = Some(alias);
            }
            let topic = if v5 && alias > 0 && b & 0x40 != 0 {
                TopicName::alias_placeholder()
            } else {
                topic(b >> 4)
            };
            Packet::Publish(Publish {
                dup: qos != QoS::AtMostOnce && b & 0x80 != 0,
                delivery: Delivery::new(qos, id),
                retain: false,
                topic,
                properties,
                payload: Bytes::from_static(b"payload"),
            })
        }
        6 => Packet::PingResp,
        7 => {
            let id = input.id();
            let count = usize::from(input.byte() % 2) + 1;
            Packet::SubAck(SubAck {
                packet_id: id,
                properties: AckProperties::default(),
                reasons: vec![ReasonCode::GrantedQos1; count],
            })
        }
        8 => {
            let id = input.id();
            let reasons: Vec<ReasonCode> = if v5 {
                vec![ReasonCode::Success]
            } else {
                Vec::new()
            };
            Packet::UnsubAck(UnsubAck {
                packet_id: id,
                properties: AckProperties::default(),
                reasons,
            })
        }
        _ => Packet::Disconnect(Disconnect::new(if v5 {
            ReasonCode::ServerShuttingDown
        } else {
            ReasonCode::Success
        })),
    }
}
