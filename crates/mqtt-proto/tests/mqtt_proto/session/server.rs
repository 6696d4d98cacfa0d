//! Server connection simulations: the test plays the client, packet by packet.

use super::*;

// ---------------------------------------------------------------------------------------------
#[test]
fn server_keep_alive_deadline_is_one_and_a_half_times() {
    let mut sim = ServerSim::v5();
    assert_eq!(sim.conn.poll_timeout(), Some(at(15)));
    sim.now = at(14);
    sim.feed(&Packet::PingReq);
    assert_eq!(sim.sent(), vec![Packet::PingResp]);
    assert_eq!(
        sim.conn.poll_timeout(),
        Some(at(29)),
        "any packet restarts the deadline"
    );
    sim.conn.handle_timeout(at(28));
    assert!(sim.events().is_empty());
    sim.conn.handle_timeout(at(29));
    assert_eq!(sim.events(), vec![ServerEvent::KeepAliveExpired]);
    assert_eq!(
        sim.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::KeepAliveTimeout
        ))]
    );
    assert!(sim.conn.is_closed());
}

#[test]
fn server_keep_alive_multiplier_and_server_keep_alive_are_configurable() {
    let connect = connect_packet(Protocol::V5, 10, None);
    let config = ServerConfig {
        keep_alive_grace_percent: 200,
    };
    let mut conn = ServerConnection::new(&connect, ServerSession::new(), config, at(100));
    let props = ConnAckProperties {
        server_keep_alive: Some(4),
        ..Default::default()
    };
    conn.send_connack(ConnAck {
        session_present: false,
        reason: ReasonCode::Success,
        properties: props,
    })
    .unwrap();
    assert_eq!(conn.poll_timeout(), Some(at(108)));
    assert_eq!(
        conn.send_connack(ConnAck {
            session_present: false,
            reason: ReasonCode::Success,
            properties: Default::default()
        }),
        Err(Error::ConnAckAlreadySent)
    );
}

#[test]
fn server_qos1_ack_is_withheld_until_the_broker_acks() {
    let mut sim = ServerSim::v5();
    let p = publish("d/1", Delivery::AtLeastOnce(id(5)), b"t");
    sim.feed(&Packet::Publish(p.clone()));
    assert_eq!(sim.events(), vec![ServerEvent::Publish(p)]);
    assert!(
        sim.sent().is_empty(),
        "no PUBACK before the message is durable"
    );
    sim.conn.ack_publish(id(5), ReasonCode::Success).unwrap();
    assert_eq!(sim.sent(), vec![ack(PacketType::PubAck, 5)]);
    assert_eq!(
        sim.conn.ack_publish(id(5), ReasonCode::Success),
        Err(Error::UnknownPacketId { packet_id: id(5) })
    );
}

#[test]
fn server_duplicate_qos2_is_not_delivered_again() {
    let mut sim = ServerSim::v5();
    let p = publish("d/2", Delivery::ExactlyOnce(id(8)), b"x");
    sim.feed(&Packet::Publish(p.clone()));
    assert_eq!(sim.events(), vec![ServerEvent::Publish(p.clone())]);
    let mut dup = p.clone();
    dup.dup = true;
    sim.feed(&Packet::Publish(dup.clone()));
    assert!(
        sim.events().is_empty(),
        "resend before the ack: not delivered again"
    );
    assert!(
        sim.sent().is_empty(),
        "and not acknowledged before the broker says so"
    );
    sim.conn.ack_publish(id(8), ReasonCode::Success).unwrap();
    assert_eq!(sim.sent(), vec![ack(PacketType::PubRec, 8)]);
    sim.feed(&Packet::Publish(dup));
    assert!(
        sim.events().is_empty(),
        "resend after PUBREC: not delivered again"
    );
    assert_eq!(sim.sent(), vec![ack(PacketType::PubRec, 8)]);
    sim.feed(&ack(PacketType::PubRel, 8));
    assert_eq!(sim.sent(), vec![ack(PacketType::PubComp, 8)]);
    assert_eq!(sim.conn.session().pending_received(), 0);
}

#[test]
fn server_receive_maximum_violation_disconnects_with_0x93() {
    let mut sim = ServerSim::v5();
    sim.feed(&Packet::Publish(publish(
        "a",
        Delivery::AtLeastOnce(id(1)),
        b"",
    )));
    sim.feed(&Packet::Publish(publish(
        "a",
        Delivery::ExactlyOnce(id(2)),
        b"",
    )));
    sim.feed(&Packet::Publish(publish(
        "a",
        Delivery::AtLeastOnce(id(3)),
        b"",
    )));
    let events = sim.events();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[2],
        ServerEvent::ProtocolError(Violation::ReceiveMaximumExceeded { maximum: 2 })
    );
    assert_eq!(
        sim.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ReceiveMaximumExceeded
        ))]
    );
    assert!(sim.conn.is_closed());
}

#[test]
fn server_rejects_qos_and_retain_beyond_its_connack() {
    let props = ConnAckProperties {
        maximum_qos: Some(1),
        retain_available: Some(false),
        ..Default::default()
    };
    let mut sim = ServerSim::open(Protocol::V5, ServerSession::new(), false, props.clone());
    sim.feed(&Packet::Publish(publish(
        "a",
        Delivery::ExactlyOnce(id(1)),
        b"",
    )));
    assert_eq!(
        sim.events(),
        vec![ServerEvent::ProtocolError(Violation::QosNotSupported {
            received: QoS::ExactlyOnce,
            maximum: QoS::AtLeastOnce
        })]
    );
    assert_eq!(
        sim.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::QosNotSupported
        ))]
    );
    let mut sim = ServerSim::open(Protocol::V5, ServerSession::new(), false, props);
    let mut retained = publish("a", Delivery::AtMostOnce, b"");
    retained.retain = true;
    sim.feed(&Packet::Publish(retained));
    assert_eq!(
        sim.events(),
        vec![ServerEvent::ProtocolError(Violation::RetainNotSupported)]
    );
}

#[test]
fn server_deliveries_respect_the_client_receive_maximum() {
    let mut sim = ServerSim::v5();
    let outcomes: Vec<_> = (0..3)
        .map(|_| {
            sim.conn
                .deliver(message("o", QoS::AtLeastOnce, b""), None, sim.now)
                .unwrap()
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            DeliveryOutcome::Accepted(id(1)),
            DeliveryOutcome::Accepted(id(2)),
            DeliveryOutcome::Accepted(id(3))
        ]
    );
    assert_eq!(sim.sent().len(), 2, "client Receive Maximum is 2");
    assert_eq!((sim.conn.inflight(), sim.conn.queued()), (2, 1));
    sim.feed(&ack(PacketType::PubAck, 1));
    assert_eq!(
        sim.events(),
        vec![ServerEvent::Delivered {
            packet_id: id(1),
            qos: QoS::AtLeastOnce,
            reason: ReasonCode::Success
        }]
    );
    let sent = sim.sent();
    assert_eq!(
        sent_publish(&sent[0]).delivery,
        Delivery::AtLeastOnce(id(3))
    );
}

#[test]
fn server_qos2_delivery_runs_to_pubcomp() {
    let mut sim = ServerSim::v5();
    sim.conn
        .deliver(message("o", QoS::ExactlyOnce, b""), None, sim.now)
        .unwrap();
    sim.sent();
    sim.feed(&ack(PacketType::PubRec, 1));
    assert_eq!(sim.sent(), vec![ack(PacketType::PubRel, 1)]);
    sim.feed(&ack(PacketType::PubComp, 1));
    assert_eq!(
        sim.events(),
        vec![ServerEvent::Delivered {
            packet_id: id(1),
            qos: QoS::ExactlyOnce,
            reason: ReasonCode::Success
        }]
    );
}

#[test]
fn server_drops_deliveries_larger_than_the_client_accepts() {
    let mut sim = ServerSim::v5();
    let outcome = sim
        .conn
        .deliver(message("o", QoS::AtLeastOnce, &[0; 100]), None, sim.now)
        .unwrap();
    assert!(
        matches!(outcome, DeliveryOutcome::TooLarge { maximum: 64, .. }),
        "{outcome:?}"
    );
    assert!(sim.sent().is_empty());
    assert_eq!(sim.conn.session().pending_deliveries(), 0);
}

#[test]
fn server_sends_what_is_left_of_the_expiry_and_drops_what_expired_waiting() {
    // [MQTT-3.3.2-6]: the interval forwarded is the one received minus the time the message
    // waited in the server, here in the client's full Receive Maximum window (2).
    let mut sim = ServerSim::v5();
    for payload in [b"1", b"2"] {
        sim.conn
            .deliver(message("o", QoS::AtLeastOnce, payload), None, sim.now)
            .unwrap();
    }
    let mut waits = message("o", QoS::AtLeastOnce, b"3");
    waits.properties.message_expiry_interval = Some(6);
    sim.conn.deliver(waits, Some(at(6)), sim.now).unwrap();
    let short = message("o", QoS::AtLeastOnce, b"4");
    sim.conn.deliver(short, Some(at(3)), sim.now).unwrap();
    assert_eq!(sim.sent().len(), 2, "the window holds two");

    sim.now = Instant::from_millis(2_500);
    sim.feed(&ack(PacketType::PubAck, 1));
    let sent = sim.sent();
    let third = sent_publish(&sent[0]);
    assert_eq!(&third.payload[..], b"3");
    assert_eq!(
        third.properties.message_expiry_interval,
        Some(3),
        "6 s less the 2.5 s it waited, rounded down"
    );

    // [MQTT-3.3.2-5]: the fourth expired while it waited and is never sent.
    sim.now = at(4);
    sim.events();
    sim.feed(&ack(PacketType::PubAck, 2));
    assert!(sim.sent().is_empty(), "an expired message is not sent");
    assert_eq!(
        sim.events(),
        vec![
            ServerEvent::Delivered {
                packet_id: id(2),
                qos: QoS::AtLeastOnce,
                reason: ReasonCode::Success
            },
            ServerEvent::Expired {
                packet_id: id(4),
                qos: QoS::AtLeastOnce
            }
        ]
    );
    assert_eq!(sim.conn.session().pending_deliveries(), 1, "only the third");
}

#[test]
fn server_resumed_session_resends_deliveries_with_dup_and_pubrel() {
    let mut sim = ServerSim::v5();
    sim.conn
        .deliver(message("o", QoS::ExactlyOnce, b"1"), None, sim.now)
        .unwrap();
    sim.conn
        .deliver(message("o", QoS::AtLeastOnce, b"2"), None, sim.now)
        .unwrap();
    sim.sent();
    sim.feed(&ack(PacketType::PubRec, 1));
    sim.conn.connection_lost(at(1));
    let session = sim.conn.into_session();
    assert_eq!(session.pending_deliveries(), 2);
    let sim = ServerSim::open(Protocol::V5, session, true, ConnAckProperties::default());
    assert_eq!(sim.resent[0], ack(PacketType::PubRel, 1));
    let again = sent_publish(&sim.resent[1]);
    assert_eq!(
        (again.delivery, again.dup),
        (Delivery::AtLeastOnce(id(2)), true)
    );
    assert_eq!(sim.resent.len(), 2);
}

#[test]
fn server_session_gives_up_what_the_client_does_not_own_yet() {
    let mut sim = ServerSim::v5();
    for (qos, payload) in [
        (QoS::ExactlyOnce, b"1"),
        (QoS::AtLeastOnce, b"2"),
        (QoS::AtLeastOnce, b"3"),
    ] {
        sim.conn
            .deliver(message("o", qos, payload), None, sim.now)
            .unwrap();
    }
    assert_eq!(sim.sent().len(), 2, "the window holds two");
    sim.feed(&ack(PacketType::PubRec, 1));
    sim.conn.connection_lost(at(1));
    let mut session = sim.conn.into_session();
    let taken: Vec<(u16, bool, Vec<u8>)> = session
        .take_unacknowledged()
        .into_iter()
        .map(|(id, sent, p)| (id.get(), sent, p.payload.to_vec()))
        .collect();
    assert_eq!(
        taken,
        vec![(2, true, b"2".to_vec()), (3, false, b"3".to_vec())],
        "in send order; the QoS 2 message past PUBREC is the client's"
    );
    assert_eq!(session.pending_deliveries(), 1, "its PUBREL flow stays");
}

#[test]
fn server_qos2_state_survives_reconnection() {
    let mut sim = ServerSim::v5();
    let p = publish("d", Delivery::ExactlyOnce(id(3)), b"x");
    sim.feed(&Packet::Publish(p.clone()));
    sim.events();
    sim.conn.ack_publish(id(3), ReasonCode::Success).unwrap();
    sim.sent();
    let session = sim.conn.into_session();
    let mut sim = ServerSim::open(Protocol::V5, session, true, ConnAckProperties::default());
    let mut dup = p;
    dup.dup = true;
    sim.feed(&Packet::Publish(dup));
    assert!(
        sim.events().is_empty(),
        "already received on the earlier connection"
    );
    assert_eq!(sim.sent(), vec![ack(PacketType::PubRec, 3)]);
}

#[test]
fn server_resolves_incoming_topic_aliases_and_refuses_bad_ones() {
    let mut sim = ServerSim::v5();
    let mut first = publish("d/t", Delivery::AtMostOnce, b"");
    first.properties.topic_alias = Some(2);
    sim.feed(&Packet::Publish(first.clone()));
    let mut second = first.clone();
    second.topic = TopicName::alias_placeholder();
    sim.feed(&Packet::Publish(second));
    let events = sim.events();
    assert!(
        matches!(&events[1], ServerEvent::Publish(p) if p.topic.as_str() == "d/t"),
        "{events:?}"
    );
    let mut bad = first;
    bad.properties.topic_alias = Some(3);
    sim.feed(&Packet::Publish(bad));
    assert_eq!(
        sim.events(),
        vec![ServerEvent::ProtocolError(
            Violation::TopicAliasOutOfRange {
                alias: 3,
                maximum: 2
            }
        )]
    );
    assert_eq!(
        sim.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::TopicAliasInvalid
        ))]
    );
}

#[test]
fn server_second_connect_is_a_protocol_error_and_v311_closes_silently() {
    let mut sim = ServerSim::open(
        Protocol::V311,
        ServerSession::new(),
        false,
        ConnAckProperties::default(),
    );
    sim.feed(&Packet::Connect(Box::new(connect_packet(
        Protocol::V311,
        10,
        None,
    ))));
    assert_eq!(
        sim.events(),
        vec![ServerEvent::ProtocolError(Violation::DuplicateConnect)]
    );
    assert!(sim.sent().is_empty(), "3.1.1 servers send no DISCONNECT");
    assert!(sim.conn.is_closed());
}

#[test]
fn server_passes_subscriptions_and_client_disconnect_to_the_broker() {
    let mut sim = ServerSim::v5();
    let subscribe = mqtt_proto::Subscribe {
        packet_id: id(1),
        properties: Default::default(),
        filters: vec![(
            TopicFilter::new("a/#").unwrap(),
            SubscriptionOptions::default(),
        )],
    };
    sim.feed(&Packet::Subscribe(subscribe.clone()));
    assert_eq!(sim.events(), vec![ServerEvent::Subscribe(subscribe)]);
    let suback = SubAck {
        packet_id: id(1),
        properties: Default::default(),
        reasons: vec![ReasonCode::Success],
    };
    sim.conn.suback(suback.clone()).unwrap();
    assert_eq!(sim.sent(), vec![Packet::SubAck(suback)]);
    sim.feed(&Packet::Disconnect(Disconnect::new(
        ReasonCode::DisconnectWithWill,
    )));
    assert_eq!(
        sim.events(),
        vec![ServerEvent::Disconnected {
            reason: ReasonCode::DisconnectWithWill,
            properties: DisconnectProperties::default()
        }]
    );
    assert!(sim.conn.is_closed());
}

#[test]
fn server_session_expiry_cannot_be_set_on_disconnect_after_zero() {
    let mut connect = connect_packet(Protocol::V5, 10, None);
    connect.properties.session_expiry_interval = None;
    let mut conn = ServerConnection::new(
        &connect,
        ServerSession::new(),
        ServerConfig::default(),
        Instant::ZERO,
    );
    conn.send_connack(ConnAck {
        session_present: false,
        reason: ReasonCode::Success,
        properties: Default::default(),
    })
    .unwrap();
    let mut d = Disconnect::default();
    d.properties.session_expiry_interval = Some(30);
    conn.handle_packet(Packet::Disconnect(d), Instant::ZERO);
    assert_eq!(
        conn.poll_event(),
        Some(ServerEvent::ProtocolError(
            Violation::SessionExpiryAfterZero { interval: 30 }
        ))
    );
}

#[test]
fn server_ack_for_a_publish_from_an_earlier_connection_waits_for_the_resend() {
    // QoS 2 PUBLISH arrives, the connection drops before the broker made it durable.
    let mut sim = ServerSim::v5();
    let p = publish("d", Delivery::ExactlyOnce(id(6)), b"x");
    sim.feed(&Packet::Publish(p.clone()));
    sim.events();
    let session = sim.conn.into_session();
    let mut sim = ServerSim::open(Protocol::V5, session, true, ConnAckProperties::default());
    // The broker's ack lands on the new connection: no PUBREC for a PUBLISH it has not seen.
    sim.conn.ack_publish(id(6), ReasonCode::Success).unwrap();
    assert!(sim.sent().is_empty());
    // The client resends with DUP: answered, not delivered again.
    let mut dup = p;
    dup.dup = true;
    sim.feed(&Packet::Publish(dup));
    assert!(sim.events().is_empty());
    assert_eq!(sim.sent(), vec![ack(PacketType::PubRec, 6)]);
}

// ---------------------------------------------------------------------------------------------
// Conformance fixes: each test names the rule the reference sequences exercise.

#[test]
fn server_refuses_a_client_publish_with_a_subscription_identifier() {
    // [MQTT-3.3.4-6] only the server sets Subscription Identifiers.
    let mut sim = ServerSim::v5();
    let mut p = publish("a", Delivery::AtLeastOnce(id(3)), b"x");
    p.properties.subscription_identifiers = vec![1];
    sim.feed(&Packet::Publish(p));
    assert_eq!(
        sim.events(),
        vec![ServerEvent::ProtocolError(
            Violation::SubscriptionIdFromClient
        )]
    );
    assert_eq!(
        sim.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ProtocolError
        ))]
    );
    assert!(sim.conn.is_closed());
}

#[test]
fn server_refuses_auth_from_its_first_byte_without_a_negotiated_method() {
    // AUTH with reserved flags set would be malformed, but without an Authentication Method
    // in CONNECT any AUTH is a protocol error, judged before the body.
    let mut sim = ServerSim::v5();
    sim.conn.handle_bytes(&[0xF1, 0x00], sim.now);
    assert_eq!(
        sim.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::ProtocolError
        ))]
    );
    assert!(matches!(
        sim.events().as_slice(),
        [ServerEvent::ProtocolError(Violation::WrongDirection {
            packet: PacketType::Auth
        })]
    ));
}

#[test]
fn server_reports_auth_when_the_client_negotiated_a_method() {
    let mut connect = connect_packet(Protocol::V5, 10, None);
    connect.properties.authentication_method = Some(MqttStr::new("SCRAM-SHA-1").unwrap());
    let mut conn = ServerConnection::new(
        &connect,
        ServerSession::new(),
        ServerConfig::default(),
        at(0),
    );
    conn.send_connack(ConnAck {
        session_present: false,
        reason: ReasonCode::Success,
        properties: Default::default(),
    })
    .unwrap();
    let auth = Packet::Auth(mqtt_proto::Auth {
        reason: ReasonCode::ContinueAuthentication,
        properties: mqtt_proto::properties::AuthProperties {
            authentication_method: Some(MqttStr::new("SCRAM-SHA-1").unwrap()),
            ..Default::default()
        },
    });
    conn.handle_bytes(&auth.to_bytes(Protocol::V5).unwrap(), at(0));
    assert!(matches!(conn.poll_event(), Some(ServerEvent::Auth(_))));
    assert!(!conn.is_closed());
}

#[test]
fn server_ignores_an_unknown_pubrec_that_reports_a_failure() {
    // A PUBREC with a failure code ends its flow: no PUBREL, known packet id or not.
    let mut sim = ServerSim::v5();
    sim.feed(&ack_with(
        PacketType::PubRec,
        1,
        ReasonCode::UnspecifiedError,
    ));
    assert!(sim.sent().is_empty());
    assert!(!sim.conn.is_closed());
    sim.feed(&ack(PacketType::PubRec, 1));
    assert_eq!(
        sim.sent(),
        vec![ack_with(
            PacketType::PubRel,
            1,
            ReasonCode::PacketIdentifierNotFound
        )]
    );
}

#[test]
fn server_closes_without_connack_when_it_exceeds_the_client_maximum_packet_size() {
    // [MQTT-3.1.2-24] a client allowing 2-byte packets cannot receive any MQTT 5 CONNACK.
    let mut connect = connect_packet(Protocol::V5, 10, None);
    connect.properties.maximum_packet_size = Some(2);
    let mut conn = ServerConnection::new(
        &connect,
        ServerSession::new(),
        ServerConfig::default(),
        at(0),
    );
    let result = conn.send_connack(ConnAck {
        session_present: false,
        reason: ReasonCode::Success,
        properties: Default::default(),
    });
    assert!(matches!(
        result,
        Err(Error::PacketTooLarge { maximum: 2, .. })
    ));
    assert!(conn.is_closed());
    let mut out = BytesMut::new();
    assert!(!conn.poll_transmit(&mut out), "nothing may be sent");
}

#[test]
fn server_trims_a_connack_to_the_client_maximum_packet_size() {
    // A client allowing 20-byte packets still gets its CONNACK, without the properties that
    // only restate defaults; the limits it announces stay in force.
    let mut connect = connect_packet(Protocol::V5, 10, None);
    connect.properties.maximum_packet_size = Some(20);
    let mut conn = ServerConnection::new(
        &connect,
        ServerSession::new(),
        ServerConfig::default(),
        at(0),
    );
    let full = ConnAckProperties {
        receive_maximum: Some(100),
        topic_alias_maximum: Some(8),
        maximum_packet_size: Some(1 << 24),
        retain_available: Some(true),
        wildcard_subscription_available: Some(true),
        subscription_identifiers_available: Some(true),
        shared_subscription_available: Some(true),
        reason_string: Some(MqttStr::new("welcome").unwrap()),
        ..Default::default()
    };
    conn.send_connack(ConnAck {
        session_present: false,
        reason: ReasonCode::Success,
        properties: full,
    })
    .unwrap();
    let mut wire = Wire::new(Protocol::V5);
    let sent = wire.packets(|out| conn.poll_transmit(out));
    let trimmed = ConnAckProperties {
        receive_maximum: Some(100),
        topic_alias_maximum: Some(8),
        maximum_packet_size: Some(1 << 24),
        ..Default::default()
    };
    assert_eq!(
        sent,
        vec![Packet::ConnAck(ConnAck {
            session_present: false,
            reason: ReasonCode::Success,
            properties: trimmed,
        })]
    );
    assert!(!conn.is_closed());
}
