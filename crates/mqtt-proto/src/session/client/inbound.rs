//! What the client does with each packet the server sends: CONNACK (limits, resumption or
//! session loss), PUBLISH (alias resolution, QoS 1/2 answers, exactly-once delivery), the
//! acknowledgements of its own QoS flows, SUBACK/UNSUBACK, PINGRESP and DISCONNECT. Commands
//! and timers are in the parent module; this file only reacts.

use core::time::Duration;

use crate::packet::{ConnAck, Packet, PacketType, PubAck, Publish};
use crate::reason::ReasonCode;
use crate::session::client::{ClientSession, ConnectionState, Event, OnSessionLost, ServerLimits};
use crate::session::error::Violation;
use crate::session::inflight::{AckOutcome, Arrival, Release, Stage};
use crate::session::topic_alias::{InboundAliases, OutboundAliases};
use crate::session::{AbandonReason, ack_packet, check_size};
use crate::types::{Delivery, PacketId, QoS};

use super::abandon_reason;

impl ClientSession {
    pub(super) fn dispatch(&mut self, packet: Packet) {
        if self.state == ConnectionState::Connecting {
            match packet {
                Packet::ConnAck(connack) => self.on_connack(connack),
                other => self.fail(Violation::ExpectedConnAck {
                    packet: other.packet_type(),
                }),
            }
            return;
        }
        match packet {
            Packet::ConnAck(_) => self.fail(Violation::DuplicateConnAck),
            Packet::Publish(publish) => self.on_publish(publish),
            Packet::PubAck(ack) => {
                let outcome = self.outgoing.on_puback(ack.packet_id);
                self.on_ack_outcome(PacketType::PubAck, ack, outcome);
            }
            Packet::PubRec(ack) => {
                let outcome = self.outgoing.on_pubrec(ack.packet_id, ack.reason);
                self.on_ack_outcome(PacketType::PubRec, ack, outcome);
            }
            Packet::PubComp(ack) => {
                let outcome = self.outgoing.on_pubcomp(ack.packet_id);
                self.on_ack_outcome(PacketType::PubComp, ack, outcome);
            }
            Packet::PubRel(ack) => self.on_pubrel(ack.packet_id),
            Packet::SubAck(suback) => {
                let (id, received) = (suback.packet_id, suback.reasons.len());
                self.on_request_ack(PacketType::Subscribe, id, received, Event::SubAck(suback));
            }
            Packet::UnsubAck(unsuback) => {
                let (id, received) = (unsuback.packet_id, unsuback.reasons.len());
                let event = Event::UnsubAck(unsuback);
                self.on_request_ack(PacketType::Unsubscribe, id, received, event);
            }
            Packet::PingResp => self.ping_deadline = None,
            Packet::Disconnect(disconnect) => {
                self.events.push_back(Event::Disconnected {
                    reason: disconnect.reason,
                    properties: disconnect.properties,
                });
                self.end_connection();
            }
            other @ (Packet::Connect(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq
            | Packet::Auth(_)) => {
                self.fail(Violation::WrongDirection {
                    packet: other.packet_type(),
                });
            }
        }
    }

    fn on_connack(&mut self, connack: ConnAck) {
        let ConnAck {
            session_present,
            reason,
            properties,
        } = connack;
        if reason != ReasonCode::Success {
            self.events
                .push_back(Event::ConnectionRefused { reason, properties });
            self.end_connection();
            return;
        }
        if session_present && self.sent_clean_start {
            self.fail(Violation::UnexpectedSessionPresent);
            return;
        }
        let v5 = self.config.protocol.is_v5();
        self.limits = ServerLimits {
            receive_maximum: properties.receive_maximum.unwrap_or(u16::MAX).max(1),
            maximum_packet_size: properties.maximum_packet_size,
            topic_alias_maximum: properties.topic_alias_maximum.unwrap_or(0),
            maximum_qos: properties
                .maximum_qos
                .and_then(QoS::from_u8)
                .unwrap_or(QoS::ExactlyOnce),
            retain_available: properties.retain_available.unwrap_or(true),
        };
        let keep_alive = properties
            .server_keep_alive
            .unwrap_or(self.config.keep_alive);
        self.keep_alive = (keep_alive > 0).then(|| Duration::from_secs(u64::from(keep_alive)));
        if let Some(expiry) = properties.session_expiry_interval {
            self.session_expiry = expiry;
        }
        self.inbound_aliases = InboundAliases::new(if v5 {
            self.config.topic_alias_maximum
        } else {
            0
        });
        let outbound = if v5 && self.config.outgoing_topic_aliases {
            self.limits.topic_alias_maximum
        } else {
            0
        };
        self.outbound_aliases = OutboundAliases::new(outbound);
        self.state = ConnectionState::Connected;
        self.has_connected = true;
        self.connack_deadline = None;
        self.events.push_back(Event::Connected {
            session_present,
            properties,
        });
        if session_present {
            for id in self.outgoing.releases() {
                let pubrel = ack_packet(
                    PacketType::PubRel,
                    id,
                    ReasonCode::Success,
                    self.config.protocol,
                );
                // PUBREL always encodes.
                let _ = self.send(&pubrel);
            }
        } else {
            self.incoming.clear();
            self.session_lost();
        }
        let held = core::mem::take(&mut self.held);
        for packet in held {
            self.send_held(packet);
        }
        self.pump();
    }

    /// Session Present = 0: flows the old session had started cannot continue
    /// ([MQTT-3.2.2-5]); messages never sent simply go to the new session.
    fn session_lost(&mut self) {
        match self.config.on_session_lost {
            OnSessionLost::Abandon => {
                for (id, stage) in self.outgoing.forget_started() {
                    let packet = if stage == Stage::AwaitComp {
                        PacketType::PubRel
                    } else {
                        PacketType::Publish
                    };
                    self.events.push_back(Event::Abandoned {
                        packet_id: Some(id),
                        packet,
                        reason: AbandonReason::SessionLost,
                    });
                }
            }
            OnSessionLost::Republish => {
                for id in self.outgoing.restart_started() {
                    self.events.push_back(Event::Published {
                        packet_id: id,
                        qos: QoS::ExactlyOnce,
                        reason: ReasonCode::Success,
                    });
                }
            }
        }
    }

    /// Sends a packet that waited for CONNACK, now that the server's limits are known.
    fn send_held(&mut self, packet: Packet) {
        let kind = packet.packet_type();
        let id = match &packet {
            Packet::Subscribe(s) => Some(s.packet_id),
            Packet::Unsubscribe(u) => Some(u.packet_id),
            _ => None,
        };
        let problem = if let Packet::Publish(publish) = &packet {
            self.limit_problem(publish)
        } else {
            check_size(
                &packet,
                self.config.protocol,
                self.limits.maximum_packet_size,
            )
            .err()
            .map(abandon_reason)
        };
        let result = match (problem, packet) {
            (Some(reason), _) => Err(reason),
            (None, Packet::Publish(mut publish)) => {
                self.outbound_aliases.apply(&mut publish);
                self.send(&Packet::Publish(publish)).map_err(abandon_reason)
            }
            (None, packet) => self.send(&packet).map_err(abandon_reason),
        };
        if let Err(reason) = result {
            if let Some(id) = id {
                self.requests.remove(&id);
                self.outgoing.release_id(id);
            }
            self.events.push_back(Event::Abandoned {
                packet_id: id,
                packet: kind,
                reason,
            });
        }
    }

    fn on_publish(&mut self, mut publish: Publish) {
        if let Err(violation) = self.inbound_aliases.resolve(&mut publish) {
            self.fail(violation);
            return;
        }
        let protocol = self.config.protocol;
        match publish.delivery {
            Delivery::AtMostOnce => self.events.push_back(Event::Message(publish)),
            Delivery::AtLeastOnce(id) => {
                self.events.push_back(Event::Message(publish));
                let _ = self.send(&ack_packet(
                    PacketType::PubAck,
                    id,
                    ReasonCode::Success,
                    protocol,
                ));
            }
            Delivery::ExactlyOnce(id) => {
                let maximum = self.own_receive_maximum();
                let known = self.incoming.len();
                match self.incoming.on_publish(id, QoS::ExactlyOnce) {
                    Arrival::New => {
                        if known >= usize::from(maximum) {
                            self.fail(Violation::ReceiveMaximumExceeded { maximum });
                            return;
                        }
                        // Method B of §4.3.3: keep the id, deliver now, answer PUBREC.
                        self.incoming.ack(id, ReasonCode::Success);
                        self.events.push_back(Event::Message(publish));
                    }
                    Arrival::Duplicate { .. } => {}
                }
                let _ = self.send(&ack_packet(
                    PacketType::PubRec,
                    id,
                    ReasonCode::Success,
                    protocol,
                ));
            }
        }
    }

    fn on_pubrel(&mut self, id: PacketId) {
        let protocol = self.config.protocol;
        let reason = match self.incoming.on_pubrel(id) {
            Release::Complete => ReasonCode::Success,
            Release::NotFound => ReasonCode::PacketIdentifierNotFound,
            Release::NotAcknowledged => {
                self.fail(Violation::PubRelBeforePubRec { packet_id: id });
                return;
            }
        };
        let _ = self.send(&ack_packet(PacketType::PubComp, id, reason, protocol));
    }

    fn on_ack_outcome(&mut self, kind: PacketType, ack: PubAck, outcome: AckOutcome) {
        let id = ack.packet_id;
        match outcome {
            AckOutcome::Completed { qos } => {
                self.events.push_back(Event::Published {
                    packet_id: id,
                    qos,
                    reason: ack.reason,
                });
                self.pump();
            }
            AckOutcome::SendPubRel => {
                let pubrel = ack_packet(
                    PacketType::PubRel,
                    id,
                    ReasonCode::Success,
                    self.config.protocol,
                );
                let _ = self.send(&pubrel);
            }
            // A PUBREC must be answered even for an unknown id (§4.3.3); late PUBACK and PUBCOMP
            // duplicates are ignored.
            AckOutcome::Unknown if kind == PacketType::PubRec => {
                let pubrel = ack_packet(
                    PacketType::PubRel,
                    id,
                    ReasonCode::PacketIdentifierNotFound,
                    self.config.protocol,
                );
                let _ = self.send(&pubrel);
            }
            AckOutcome::Unknown => {}
            AckOutcome::Mismatch => self.fail(Violation::AckMismatch {
                packet: kind,
                packet_id: id,
            }),
        }
    }

    fn on_request_ack(&mut self, kind: PacketType, id: PacketId, received: usize, event: Event) {
        let Some(&(pending, expected)) = self.requests.get(&id) else {
            return;
        };
        let ack = if kind == PacketType::Subscribe {
            PacketType::SubAck
        } else {
            PacketType::UnsubAck
        };
        if pending != kind {
            self.fail(Violation::AckMismatch {
                packet: ack,
                packet_id: id,
            });
            return;
        }
        // MQTT 3.1.1 UNSUBACK carries no codes.
        let counted = self.config.protocol.is_v5() || kind == PacketType::Subscribe;
        if counted && received != expected {
            self.fail(Violation::ReasonCountMismatch {
                packet: ack,
                packet_id: id,
                received,
                expected,
            });
            return;
        }
        self.requests.remove(&id);
        self.outgoing.release_id(id);
        self.events.push_back(event);
    }
}
