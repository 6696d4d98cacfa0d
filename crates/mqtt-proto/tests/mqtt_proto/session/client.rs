//! Client session simulations (the test plays the server, packet by packet): connecting, QoS
//! flows in both directions, packet ids and keep-alive.

use super::*;

// ---------------------------------------------------------------------------------------------
// Client: connecting

#[test]
fn client_connect_carries_the_configuration_v311() {
    let mut sim = ClientSim::v311();
    let connect = sim.connect_with(false, ConnAckProperties::default());
    assert_eq!(connect.protocol, Protocol::V311);
    assert_eq!(connect.client_id, "dev-1");
    assert!(!connect.clean_start);
    assert_eq!(connect.keep_alive, 30);
    assert_eq!(connect.properties, ConnectProperties::default());
    assert_eq!(sim.session.state(), ConnectionState::Connected);
}

#[test]
fn client_connect_carries_mqtt5_properties() {
    let mut sim = ClientSim::v5();
    let connect = sim.connect_with(false, ConnAckProperties::default());
    assert!(connect.clean_start);
    assert_eq!(connect.properties.session_expiry_interval, Some(3600));
    assert_eq!(connect.properties.receive_maximum, Some(2));
    assert_eq!(connect.properties.maximum_packet_size, Some(1024));
    assert_eq!(connect.properties.topic_alias_maximum, Some(4));
}

#[test]
fn client_refused_connack_reports_the_reason() {
    let mut sim = ClientSim::v311();
    sim.session.connect(sim.now).unwrap();
    sim.sent();
    sim.feed(&Packet::ConnAck(ConnAck {
        session_present: false,
        reason: ReasonCode::NotAuthorized,
        properties: ConnAckProperties::default(),
    }));
    assert_eq!(
        sim.events(),
        vec![Event::ConnectionRefused {
            reason: ReasonCode::NotAuthorized,
            properties: ConnAckProperties::default()
        }]
    );
    assert_eq!(sim.session.state(), ConnectionState::Disconnected);
}

#[test]
fn client_packet_before_connack_is_a_protocol_error() {
    let mut sim = ClientSim::v5();
    sim.session.connect(sim.now).unwrap();
    sim.sent();
    sim.feed(&Packet::PingResp);
    assert_eq!(
        sim.events(),
        vec![Event::ProtocolError(Violation::ExpectedConnAck {
            packet: PacketType::PingResp
        })]
    );
    assert_eq!(
        sim.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ProtocolError
        ))]
    );
}

#[test]
fn client_connack_timeout_ends_the_attempt() {
    let mut sim = ClientSim::v311();
    sim.session.connect(sim.now).unwrap();
    assert_eq!(sim.session.poll_timeout(), Some(at(30)));
    sim.advance(29);
    assert!(sim.events().is_empty());
    sim.advance(1);
    assert_eq!(
        sim.events(),
        vec![Event::TimedOut {
            waiting_for: PacketType::ConnAck
        }]
    );
    assert_eq!(sim.session.state(), ConnectionState::Disconnected);
    assert_eq!(sim.session.connect(sim.now), Ok(()));
}

#[test]
fn client_session_present_after_clean_start_is_refused() {
    let mut sim = ClientSim::v5();
    sim.session.connect(sim.now).unwrap();
    sim.sent();
    sim.feed(&connack(true, ConnAckProperties::default()));
    assert_eq!(
        sim.events(),
        vec![Event::ProtocolError(Violation::UnexpectedSessionPresent)]
    );
}

#[test]
fn client_connect_twice_is_local_misuse() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    assert_eq!(sim.session.connect(sim.now), Err(Error::AlreadyConnected));
}

// ---------------------------------------------------------------------------------------------
// Client: QoS flows

#[test]
fn client_qos0_needs_a_connection_and_goes_out_at_once() {
    let mut sim = ClientSim::v311();
    assert_eq!(
        sim.session.publish(message("a/b", QoS::AtMostOnce, b"x")),
        Err(Error::NotConnected {
            command: "publish at QoS 0"
        })
    );
    let mut sim = sim.connected(ConnAckProperties::default());
    assert_eq!(
        sim.session.publish(message("a/b", QoS::AtMostOnce, b"x")),
        Ok(None)
    );
    let sent = sim.sent();
    assert_eq!(
        sent,
        vec![Packet::Publish(publish("a/b", Delivery::AtMostOnce, b"x"))]
    );
}

#[test]
fn client_qos1_outgoing_completes_on_puback() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    let pid = sim
        .session
        .publish(message("a", QoS::AtLeastOnce, b"1"))
        .unwrap()
        .unwrap();
    assert_eq!(pid, id(1));
    assert_eq!(
        sim.sent(),
        vec![Packet::Publish(publish(
            "a",
            Delivery::AtLeastOnce(id(1)),
            b"1"
        ))]
    );
    assert_eq!(sim.session.inflight(), 1);
    sim.feed(&ack(PacketType::PubAck, 1));
    assert_eq!(
        sim.events(),
        vec![Event::Published {
            packet_id: id(1),
            qos: QoS::AtLeastOnce,
            reason: ReasonCode::Success
        }]
    );
    assert_eq!(sim.session.inflight(), 0);
    // A late duplicate PUBACK is ignored.
    sim.feed(&ack(PacketType::PubAck, 1));
    assert!(sim.events().is_empty());
    assert_eq!(sim.session.state(), ConnectionState::Connected);
}

#[test]
fn client_qos2_outgoing_runs_pubrec_pubrel_pubcomp() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    sim.session
        .publish(message("a", QoS::ExactlyOnce, b"2"))
        .unwrap();
    assert_eq!(
        sim.sent(),
        vec![Packet::Publish(publish(
            "a",
            Delivery::ExactlyOnce(id(1)),
            b"2"
        ))]
    );
    sim.feed(&ack(PacketType::PubRec, 1));
    assert_eq!(sim.sent(), vec![ack(PacketType::PubRel, 1)]);
    assert!(sim.events().is_empty());
    sim.feed(&ack(PacketType::PubComp, 1));
    assert_eq!(
        sim.events(),
        vec![Event::Published {
            packet_id: id(1),
            qos: QoS::ExactlyOnce,
            reason: ReasonCode::Success
        }]
    );
}

#[test]
fn client_pubrec_failure_ends_a_qos2_flow_in_mqtt5() {
    let mut sim = ClientSim::v5().connected(ConnAckProperties::default());
    sim.session
        .publish(message("a", QoS::ExactlyOnce, b"2"))
        .unwrap();
    sim.sent();
    sim.feed(&ack_with(PacketType::PubRec, 1, ReasonCode::QuotaExceeded));
    assert!(sim.sent().is_empty(), "no PUBREL after a failed PUBREC");
    assert_eq!(
        sim.events(),
        vec![Event::Published {
            packet_id: id(1),
            qos: QoS::ExactlyOnce,
            reason: ReasonCode::QuotaExceeded
        }]
    );
}

#[test]
fn client_puback_for_a_qos2_message_is_a_protocol_error() {
    let mut sim = ClientSim::v5().connected(ConnAckProperties::default());
    sim.session
        .publish(message("a", QoS::ExactlyOnce, b"2"))
        .unwrap();
    sim.sent();
    sim.feed(&ack(PacketType::PubAck, 1));
    assert_eq!(
        sim.events(),
        vec![Event::ProtocolError(Violation::AckMismatch {
            packet: PacketType::PubAck,
            packet_id: id(1)
        })]
    );
    assert_eq!(
        sim.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ProtocolError
        ))]
    );
}

#[test]
fn client_qos1_incoming_is_delivered_and_acknowledged() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    let p = publish("in", Delivery::AtLeastOnce(id(9)), b"m");
    sim.feed(&Packet::Publish(p.clone()));
    assert_eq!(sim.events(), vec![Event::Message(p)]);
    assert_eq!(sim.sent(), vec![ack(PacketType::PubAck, 9)]);
}

#[test]
fn client_qos2_incoming_is_delivered_exactly_once() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    let p = publish("in", Delivery::ExactlyOnce(id(4)), b"once");
    sim.feed(&Packet::Publish(p.clone()));
    assert_eq!(sim.events(), vec![Event::Message(p.clone())]);
    assert_eq!(sim.sent(), vec![ack(PacketType::PubRec, 4)]);
    // The server did not see PUBREC and resends with DUP: PUBREC again, no second delivery.
    let mut dup = p.clone();
    dup.dup = true;
    sim.feed(&Packet::Publish(dup));
    assert!(sim.events().is_empty());
    assert_eq!(sim.sent(), vec![ack(PacketType::PubRec, 4)]);
    assert_eq!(sim.session.incoming_pending(), 1);
    sim.feed(&ack(PacketType::PubRel, 4));
    assert_eq!(sim.sent(), vec![ack(PacketType::PubComp, 4)]);
    assert_eq!(sim.session.incoming_pending(), 0);
    // After PUBCOMP the id starts a new message.
    sim.feed(&Packet::Publish(p.clone()));
    assert_eq!(sim.events(), vec![Event::Message(p)]);
}

#[test]
fn client_unknown_pubrel_is_answered_with_identifier_not_found() {
    let mut sim = ClientSim::v5().connected(ConnAckProperties::default());
    sim.feed(&ack(PacketType::PubRel, 77));
    assert_eq!(
        sim.sent(),
        vec![ack_with(
            PacketType::PubComp,
            77,
            ReasonCode::PacketIdentifierNotFound
        )]
    );
}

#[test]
fn client_receive_maximum_is_enforced_on_the_server() {
    // Receive Maximum 2: a third QoS 2 message awaiting PUBREL breaks [MQTT-3.3.4-9].
    let mut sim = ClientSim::v5().connected(ConnAckProperties::default());
    for n in 1..=2 {
        sim.feed(&Packet::Publish(publish(
            "in",
            Delivery::ExactlyOnce(id(n)),
            b"q",
        )));
    }
    sim.events();
    sim.sent();
    sim.feed(&Packet::Publish(publish(
        "in",
        Delivery::ExactlyOnce(id(3)),
        b"q",
    )));
    assert_eq!(
        sim.events(),
        vec![Event::ProtocolError(Violation::ReceiveMaximumExceeded {
            maximum: 2
        })]
    );
    assert_eq!(
        sim.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ReceiveMaximumExceeded
        ))]
    );
}

// ---------------------------------------------------------------------------------------------
// Client: packet ids

#[test]
fn client_packet_ids_skip_ids_in_use() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    let a = sim
        .session
        .publish(message("a", QoS::AtLeastOnce, b""))
        .unwrap();
    let s = sim
        .session
        .subscribe(
            vec![(
                TopicFilter::new("x/#").unwrap(),
                SubscriptionOptions::default(),
            )],
            SubscribeProperties::default(),
        )
        .unwrap();
    let b = sim
        .session
        .publish(message("a", QoS::AtLeastOnce, b""))
        .unwrap();
    assert_eq!((a, s, b), (Some(id(1)), id(2), Some(id(3))));
    sim.feed(&ack(PacketType::PubAck, 1));
    let c = sim
        .session
        .publish(message("a", QoS::AtLeastOnce, b""))
        .unwrap();
    assert_eq!(c, Some(id(4)), "ids advance rather than reuse at once");
}

#[test]
fn client_packet_ids_go_round_the_id_space_and_skip_the_held_one() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    let now = sim.now;
    let held = sim
        .session
        .publish(message("a", QoS::AtLeastOnce, b""))
        .unwrap();
    assert_eq!(held, Some(id(1)));
    // More publishes than there are ids, each acknowledged at once, while id 1 stays unacked.
    for n in 0..70_000u32 {
        let got = sim
            .session
            .publish(message("a", QoS::AtLeastOnce, b""))
            .unwrap()
            .expect("ids are free");
        assert_ne!(got, id(1), "publish {n} was given the held id");
        sim.session
            .handle_packet(ack(PacketType::PubAck, got.get()), now);
    }
    sim.sent();
    sim.events();
    assert_eq!(sim.session.inflight(), 1, "only the held id is in flight");
    sim.session.handle_packet(ack(PacketType::PubAck, 1), now);
    assert_eq!(sim.session.inflight(), 0);
}

#[test]
fn client_reports_exhausted_packet_ids() {
    let mut sim = ClientSim::v311();
    for _ in 1..=u16::MAX {
        sim.session
            .publish(message("a", QoS::AtLeastOnce, b""))
            .unwrap();
    }
    assert_eq!(sim.session.queued(), 65535);
    assert_eq!(
        sim.session.publish(message("a", QoS::AtLeastOnce, b"")),
        Err(Error::PacketIdsExhausted)
    );
}

// ---------------------------------------------------------------------------------------------
// Client: keep-alive

#[test]
fn client_sends_pingreq_when_idle_and_accepts_pingresp() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    assert_eq!(sim.session.poll_timeout(), Some(at(30)));
    sim.advance(20);
    sim.session
        .publish(message("a", QoS::AtMostOnce, b""))
        .unwrap();
    sim.sent();
    assert_eq!(
        sim.session.poll_timeout(),
        Some(at(50)),
        "sending resets the idle timer"
    );
    sim.advance(30);
    assert_eq!(sim.sent(), vec![Packet::PingReq]);
    assert_eq!(
        sim.session.poll_timeout(),
        Some(at(80)),
        "PINGRESP deadline"
    );
    sim.feed(&Packet::PingResp);
    assert_eq!(
        sim.session.poll_timeout(),
        Some(at(80)),
        "next ping after keep-alive"
    );
    assert!(sim.events().is_empty());
}

#[test]
fn client_without_pingresp_times_out() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    sim.advance(30);
    assert_eq!(sim.sent(), vec![Packet::PingReq]);
    sim.advance(29);
    assert!(sim.events().is_empty());
    sim.advance(1);
    assert_eq!(
        sim.events(),
        vec![Event::TimedOut {
            waiting_for: PacketType::PingResp
        }]
    );
    assert_eq!(sim.session.state(), ConnectionState::Disconnected);
    assert_eq!(sim.session.poll_timeout(), None);
}

#[test]
fn client_honours_server_keep_alive() {
    let props = ConnAckProperties {
        server_keep_alive: Some(5),
        ..Default::default()
    };
    let mut sim = ClientSim::v5().connected(props);
    assert_eq!(sim.session.keep_alive(), Some(Duration::from_secs(5)));
    sim.advance(5);
    assert_eq!(sim.sent(), vec![Packet::PingReq]);
}
