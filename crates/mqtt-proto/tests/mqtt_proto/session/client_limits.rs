//! Client session simulations, continued: server limits, topic aliases, reconnecting with and
//! without a resumed session, subscriptions and disconnection.

use super::*;

// ---------------------------------------------------------------------------------------------
// Client: server limits

#[test]
fn client_queues_beyond_the_server_receive_maximum() {
    let props = ConnAckProperties {
        receive_maximum: Some(2),
        ..Default::default()
    };
    let mut sim = ClientSim::v5().connected(props);
    for _ in 0..4 {
        sim.session
            .publish(message("a", QoS::AtLeastOnce, b""))
            .unwrap();
    }
    let sent: Vec<_> = sim
        .sent()
        .iter()
        .map(|p| sent_publish(p).delivery)
        .collect();
    assert_eq!(
        sent,
        vec![Delivery::AtLeastOnce(id(1)), Delivery::AtLeastOnce(id(2))]
    );
    assert_eq!((sim.session.inflight(), sim.session.queued()), (2, 2));
    sim.feed(&ack(PacketType::PubAck, 2));
    let sent: Vec<_> = sim
        .sent()
        .iter()
        .map(|p| sent_publish(p).delivery)
        .collect();
    assert_eq!(sent, vec![Delivery::AtLeastOnce(id(3))]);
    assert_eq!(sim.session.inflight(), 2);
}

#[test]
fn client_refuses_what_the_server_cannot_take() {
    let props = ConnAckProperties {
        maximum_packet_size: Some(40),
        maximum_qos: Some(1),
        retain_available: Some(false),
        ..Default::default()
    };
    let mut sim = ClientSim::v5().connected(props);
    let big = sim
        .session
        .publish(message("a", QoS::AtLeastOnce, &[7; 64]));
    assert!(
        matches!(
            big,
            Err(Error::PacketTooLarge {
                packet: PacketType::Publish,
                maximum: 40,
                ..
            })
        ),
        "{big:?}"
    );
    assert_eq!(
        sim.session.publish(message("a", QoS::ExactlyOnce, b"")),
        Err(Error::QosNotSupported {
            requested: QoS::ExactlyOnce,
            maximum: QoS::AtLeastOnce
        })
    );
    assert_eq!(
        sim.session
            .publish(message("a", QoS::AtMostOnce, b"").retained(true)),
        Err(Error::RetainNotAvailable)
    );
    assert!(sim.sent().is_empty());
}

#[test]
fn client_abandons_queued_messages_the_server_turns_out_not_to_accept() {
    let mut sim = ClientSim::v5();
    sim.session
        .publish(message("a", QoS::AtLeastOnce, &[1; 200]))
        .unwrap();
    sim.session
        .publish(message("a", QoS::AtLeastOnce, b"ok"))
        .unwrap();
    let props = ConnAckProperties {
        maximum_packet_size: Some(100),
        ..Default::default()
    };
    sim.session.connect(sim.now).unwrap();
    sim.feed(&connack(false, props));
    let events = sim.events();
    assert!(
        matches!(
            &events[1],
            Event::Abandoned {
                packet_id: Some(p),
                packet: PacketType::Publish,
                reason: AbandonReason::PacketTooLarge { maximum: 100, .. }
            } if *p == id(1)
        ),
        "{events:?}"
    );
    let sent = sim.sent();
    assert_eq!(sent.len(), 2, "CONNECT, then only the small PUBLISH");
    assert_eq!(
        sent_publish(&sent[1]).delivery,
        Delivery::AtLeastOnce(id(2))
    );
}

// ---------------------------------------------------------------------------------------------
// Client: topic aliases

#[test]
fn client_outgoing_topic_aliases_replace_repeated_topics() {
    let mut config = ClientSim::v5().session.config().clone();
    config.outgoing_topic_aliases = true;
    let props = ConnAckProperties {
        topic_alias_maximum: Some(1),
        ..Default::default()
    };
    let mut sim = ClientSim::new(config).connected(props);
    for t in ["s/1", "s/1", "s/2"] {
        sim.session
            .publish(message(t, QoS::AtMostOnce, b""))
            .unwrap();
    }
    let sent = sim.sent();
    let wire: Vec<_> = sent
        .iter()
        .map(|p| {
            let p = sent_publish(p);
            (p.topic.as_str().to_owned(), p.properties.topic_alias)
        })
        .collect();
    assert_eq!(
        wire,
        vec![
            ("s/1".into(), Some(1)),
            (String::new(), Some(1)),
            ("s/2".into(), None)
        ]
    );
}

#[test]
fn client_incoming_topic_alias_is_resolved() {
    let mut sim = ClientSim::v5().connected(ConnAckProperties::default());
    let mut first = publish("dev/t", Delivery::AtMostOnce, b"1");
    first.properties.topic_alias = Some(3);
    sim.feed(&Packet::Publish(first.clone()));
    let mut second = first.clone();
    second.topic = TopicName::alias_placeholder();
    second.payload = Bytes::from_static(b"2");
    sim.feed(&Packet::Publish(second));
    let events = sim.events();
    let topics: Vec<_> = events
        .iter()
        .map(|e| match e {
            Event::Message(p) => (p.topic.as_str().to_owned(), p.payload.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        topics,
        vec![
            ("dev/t".into(), Bytes::from_static(b"1")),
            ("dev/t".into(), Bytes::from_static(b"2"))
        ]
    );
}

#[test]
fn client_incoming_topic_alias_above_maximum_disconnects_with_0x94() {
    let mut sim = ClientSim::v5().connected(ConnAckProperties::default());
    let mut p = publish("dev/t", Delivery::AtMostOnce, b"");
    p.properties.topic_alias = Some(5);
    sim.feed(&Packet::Publish(p));
    assert_eq!(
        sim.events(),
        vec![Event::ProtocolError(Violation::TopicAliasOutOfRange {
            alias: 5,
            maximum: 4
        })]
    );
    assert_eq!(
        sim.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::TopicAliasInvalid
        ))]
    );
    assert_eq!(sim.session.state(), ConnectionState::Disconnected);
}

#[test]
fn client_incoming_unbound_alias_is_a_protocol_error() {
    let mut sim = ClientSim::v5().connected(ConnAckProperties::default());
    let mut p = publish("x", Delivery::AtMostOnce, b"");
    p.topic = TopicName::alias_placeholder();
    p.properties.topic_alias = Some(2);
    sim.feed(&Packet::Publish(p));
    assert_eq!(
        sim.events(),
        vec![Event::ProtocolError(Violation::TopicAliasUnknown {
            alias: 2
        })]
    );
}

// ---------------------------------------------------------------------------------------------
// Client: reconnecting

#[test]
fn client_resumed_session_resends_qos1_with_dup_in_order() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    for payload in [b"1", b"2", b"3"] {
        sim.session
            .publish(message("a", QoS::AtLeastOnce, payload))
            .unwrap();
    }
    sim.sent();
    sim.feed(&ack(PacketType::PubAck, 2));
    sim.events();
    sim.reconnect();
    let connect = sim.connect_with(true, ConnAckProperties::default());
    assert!(!connect.clean_start);
    let resent: Vec<_> = sim
        .sent()
        .iter()
        .map(|p| {
            let p = sent_publish(p);
            (p.delivery, p.dup, p.payload.clone())
        })
        .collect();
    assert_eq!(
        resent,
        vec![
            (Delivery::AtLeastOnce(id(1)), true, Bytes::from_static(b"1")),
            (Delivery::AtLeastOnce(id(3)), true, Bytes::from_static(b"3")),
        ]
    );
}

#[test]
fn client_resumed_session_resends_pubrel_and_unreceived_qos2() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    sim.session
        .publish(message("a", QoS::ExactlyOnce, b"1"))
        .unwrap();
    sim.session
        .publish(message("a", QoS::ExactlyOnce, b"2"))
        .unwrap();
    sim.session
        .publish(message("a", QoS::ExactlyOnce, b"3"))
        .unwrap();
    sim.sent();
    sim.feed(&ack(PacketType::PubRec, 3));
    sim.feed(&ack(PacketType::PubRec, 1));
    assert_eq!(
        sim.sent(),
        vec![ack(PacketType::PubRel, 3), ack(PacketType::PubRel, 1)]
    );
    sim.reconnect();
    sim.connect_with(true, ConnAckProperties::default());
    let sent = sim.sent();
    assert_eq!(
        sent[..2],
        [ack(PacketType::PubRel, 3), ack(PacketType::PubRel, 1)],
        "PUBREC order"
    );
    let republished = sent_publish(&sent[2]);
    assert_eq!(
        (republished.delivery, republished.dup),
        (Delivery::ExactlyOnce(id(2)), true)
    );
    assert_eq!(sent.len(), 3);
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
fn client_session_not_present_abandons_unfinished_flows() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    sim.session
        .publish(message("a", QoS::AtLeastOnce, b"1"))
        .unwrap();
    sim.session
        .publish(message("a", QoS::ExactlyOnce, b"2"))
        .unwrap();
    sim.sent();
    sim.feed(&ack(PacketType::PubRec, 2));
    sim.reconnect();
    sim.session.connect(sim.now).unwrap();
    sim.feed(&connack(false, ConnAckProperties::default()));
    let events = sim.events();
    assert_eq!(
        events[1..],
        [
            Event::Abandoned {
                packet_id: Some(id(1)),
                packet: PacketType::Publish,
                reason: AbandonReason::SessionLost
            },
            Event::Abandoned {
                packet_id: Some(id(2)),
                packet: PacketType::PubRel,
                reason: AbandonReason::SessionLost
            },
        ]
    );
    assert_eq!(sim.sent().len(), 1, "only CONNECT: nothing resent");
    assert_eq!(sim.session.inflight(), 0);
}

#[test]
fn client_session_not_present_can_republish_as_new_messages() {
    let mut config = ClientSim::v311().session.config().clone();
    config.on_session_lost = OnSessionLost::Republish;
    let mut sim = ClientSim::new(config).connected(ConnAckProperties::default());
    sim.session
        .publish(message("a", QoS::AtLeastOnce, b"1"))
        .unwrap();
    sim.sent();
    sim.reconnect();
    sim.session.connect(sim.now).unwrap();
    sim.feed(&connack(false, ConnAckProperties::default()));
    let sent = sim.sent();
    let again = sent_publish(&sent[1]);
    assert_eq!(
        (again.delivery, again.dup),
        (Delivery::AtLeastOnce(id(1)), false)
    );
}

#[test]
fn client_mqtt5_reconnect_resumes_when_the_session_outlives_the_connection() {
    let mut sim = ClientSim::v5();
    let first = sim.connect_with(false, ConnAckProperties::default());
    assert!(first.clean_start);
    sim.reconnect();
    let second = sim.connect_with(true, ConnAckProperties::default());
    assert!(
        !second.clean_start,
        "session expiry 3600 > 0: ask to resume"
    );
}

#[test]
fn client_publish_while_disconnected_waits_for_the_connection() {
    let mut sim = ClientSim::v311();
    let pid = sim
        .session
        .publish(message("a", QoS::AtLeastOnce, b"early"))
        .unwrap();
    assert_eq!(pid, Some(id(1)));
    sim.session.connect(sim.now).unwrap();
    assert_eq!(sim.sent().len(), 1, "only CONNECT before CONNACK");
    sim.feed(&connack(false, ConnAckProperties::default()));
    let sent = sim.sent();
    assert_eq!(
        sent_publish(&sent[0]).delivery,
        Delivery::AtLeastOnce(id(1))
    );
    assert!(!sent_publish(&sent[0]).dup);
}

// ---------------------------------------------------------------------------------------------
// Client: subscriptions and disconnection

#[test]
fn client_subscribe_and_unsubscribe_complete_with_their_acks() {
    let mut sim = ClientSim::v5().connected(ConnAckProperties::default());
    let filter = TopicFilter::new("s/+").unwrap();
    let sid = sim
        .session
        .subscribe(
            vec![(
                filter.clone(),
                SubscriptionOptions::with_qos(QoS::AtLeastOnce),
            )],
            SubscribeProperties::default(),
        )
        .unwrap();
    let uid = sim
        .session
        .unsubscribe(vec![filter], UnsubscribeProperties::default())
        .unwrap();
    let sent = sim.sent();
    assert!(matches!(&sent[0], Packet::Subscribe(s) if s.packet_id == sid));
    assert!(matches!(&sent[1], Packet::Unsubscribe(u) if u.packet_id == uid));
    let suback = SubAck {
        packet_id: sid,
        properties: Default::default(),
        reasons: vec![ReasonCode::GrantedQos1],
    };
    let unsuback = UnsubAck {
        packet_id: uid,
        properties: Default::default(),
        reasons: vec![ReasonCode::Success],
    };
    sim.feed(&Packet::SubAck(suback.clone()));
    sim.feed(&Packet::UnsubAck(unsuback.clone()));
    assert_eq!(
        sim.events(),
        vec![Event::SubAck(suback), Event::UnsubAck(unsuback)]
    );
}

#[test]
fn client_suback_with_wrong_reason_count_is_a_protocol_error() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    let sid = sim
        .session
        .subscribe(
            vec![(
                TopicFilter::new("a").unwrap(),
                SubscriptionOptions::default(),
            )],
            SubscribeProperties::default(),
        )
        .unwrap();
    let suback = SubAck {
        packet_id: sid,
        properties: Default::default(),
        reasons: vec![ReasonCode::Success; 2],
    };
    sim.feed(&Packet::SubAck(suback));
    assert_eq!(
        sim.events(),
        vec![
            Event::ProtocolError(Violation::ReasonCountMismatch {
                packet: PacketType::SubAck,
                packet_id: sid,
                received: 2,
                expected: 1
            }),
            Event::Abandoned {
                packet_id: Some(sid),
                packet: PacketType::Subscribe,
                reason: AbandonReason::ConnectionLost
            },
        ]
    );
}

#[test]
fn client_connection_loss_abandons_pending_subscriptions() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    let sid = sim
        .session
        .subscribe(
            vec![(
                TopicFilter::new("a").unwrap(),
                SubscriptionOptions::default(),
            )],
            SubscribeProperties::default(),
        )
        .unwrap();
    sim.reconnect();
    assert_eq!(
        sim.events(),
        vec![Event::Abandoned {
            packet_id: Some(sid),
            packet: PacketType::Subscribe,
            reason: AbandonReason::ConnectionLost
        }]
    );
    assert_eq!(
        sim.session.subscribe(
            vec![(
                TopicFilter::new("a").unwrap(),
                SubscriptionOptions::default()
            )],
            SubscribeProperties::default()
        ),
        Err(Error::NotConnected {
            command: "subscribe"
        })
    );
}

#[test]
fn client_server_disconnect_is_reported() {
    let mut sim = ClientSim::v5().connected(ConnAckProperties::default());
    sim.feed(&Packet::Disconnect(Disconnect::new(
        ReasonCode::SessionTakenOver,
    )));
    assert_eq!(
        sim.events(),
        vec![Event::Disconnected {
            reason: ReasonCode::SessionTakenOver,
            properties: DisconnectProperties::default()
        }]
    );
    assert_eq!(sim.session.state(), ConnectionState::Disconnected);
}

#[test]
fn client_disconnect_sends_disconnect_and_keeps_flows() {
    let mut sim = ClientSim::v311().connected(ConnAckProperties::default());
    sim.session
        .publish(message("a", QoS::AtLeastOnce, b""))
        .unwrap();
    sim.session
        .disconnect(Disconnect::new(ReasonCode::DisconnectWithWill))
        .unwrap();
    let sent = sim.sent();
    assert_eq!(
        sent.last(),
        Some(&Packet::Disconnect(Disconnect::default())),
        "3.1.1 has no reason"
    );
    assert_eq!(
        sim.session.queued(),
        1,
        "the QoS 1 message waits for the next connection"
    );
    assert_eq!(
        sim.session.disconnect(Disconnect::default()),
        Err(Error::NotConnected {
            command: "disconnect"
        })
    );
}

#[test]
fn client_malformed_bytes_disconnect_with_0x81() {
    let mut sim = ClientSim::v5().connected(ConnAckProperties::default());
    // PUBLISH with QoS bits 0b11.
    sim.session
        .handle_bytes(&[0x36, 0x03, 0x00, 0x01, b'a'], sim.now);
    let events = sim.events();
    assert!(
        matches!(&events[..], [Event::ProtocolError(Violation::Malformed(_))]),
        "{events:?}"
    );
    assert_eq!(
        sim.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::MalformedPacket
        ))]
    );
}

// ---------------------------------------------------------------------------------------------
// Regressions found in client flows

#[test]
fn client_ack_for_a_message_not_yet_resent_does_not_grow_the_window() {
    let mut sim = ClientSim::v5().connected(ConnAckProperties::default());
    sim.session
        .publish(message("a", QoS::ExactlyOnce, b"1"))
        .unwrap();
    sim.session
        .publish(message("a", QoS::ExactlyOnce, b"2"))
        .unwrap();
    sim.sent();
    sim.feed(&ack(PacketType::PubRec, 1));
    sim.sent();
    sim.reconnect();
    // The server now allows one message in flight, and the PUBREL flow of id 1 takes it.
    let props = ConnAckProperties {
        receive_maximum: Some(1),
        ..Default::default()
    };
    sim.connect_with(true, props);
    assert_eq!(
        sim.sent(),
        vec![ack(PacketType::PubRel, 1)],
        "window full: id 2 waits"
    );
    // A PUBREC for id 2, which was not resent on this connection, is not taken as progress.
    sim.feed(&ack(PacketType::PubRec, 2));
    assert_eq!(
        sim.sent(),
        vec![ack_with(
            PacketType::PubRel,
            2,
            ReasonCode::PacketIdentifierNotFound
        )]
    );
    assert_eq!(sim.session.inflight(), 1);
    sim.feed(&ack(PacketType::PubComp, 1));
    let resent = sim.sent();
    assert_eq!(
        (
            sent_publish(&resent[0]).delivery,
            sent_publish(&resent[0]).dup
        ),
        (Delivery::ExactlyOnce(id(2)), true)
    );
}

#[test]
fn client_republish_policy_finishes_flows_past_pubrec_and_keeps_order() {
    let mut config = ClientSim::v311().session.config().clone();
    config.on_session_lost = OnSessionLost::Republish;
    let mut sim = ClientSim::new(config).connected(ConnAckProperties::default());
    for payload in [b"1", b"2", b"3"] {
        sim.session
            .publish(message("a", QoS::ExactlyOnce, payload))
            .unwrap();
    }
    sim.sent();
    sim.feed(&ack(PacketType::PubRec, 2));
    sim.reconnect();
    sim.session.connect(sim.now).unwrap();
    sim.feed(&connack(false, ConnAckProperties::default()));
    assert_eq!(
        sim.events()[1..],
        [Event::Published {
            packet_id: id(2),
            qos: QoS::ExactlyOnce,
            reason: ReasonCode::Success
        }]
    );
    let sent = sim.sent();
    let order: Vec<_> = sent[1..]
        .iter()
        .map(|p| (sent_publish(p).delivery, sent_publish(p).dup))
        .collect();
    assert_eq!(
        order,
        vec![
            (Delivery::ExactlyOnce(id(1)), false),
            (Delivery::ExactlyOnce(id(3)), false)
        ]
    );
}
