//! Session lifecycle: takeover, resume with queued and unacknowledged deliveries, clean start,
//! expiry, queue bounds, message expiry, client ids, keep-alive and expiry negotiation.

use super::*;
use mqtt_proto::ReasonCode;

#[test]
fn takeover_closes_the_old_connection_with_session_taken_over() {
    let mut sim = Sim::aws();
    let (old, _) = sim.connect("dev", Protocol::V5, true);
    sim.effects();
    let (new, connected) = sim.connect("dev", Protocol::V5, true);
    assert!(!connected.session_present);
    let effects = sim.effects();
    assert_eq!(
        effects,
        vec![Effect::Close {
            conn: old,
            reason: ReasonCode::SessionTakenOver
        }]
    );
    assert_eq!(sim.broker.client_id(new).map(|c| c.as_str()), Some("dev"));
    assert_eq!(sim.broker.client_id(old), None);
    // The old task ends later; that must not disturb the new connection.
    sim.disconnect(old, DisconnectKind::ServerClose);
    assert_eq!(sim.broker.session_state("dev"), Some(true));
    assert_eq!(sim.broker.stats().connections, 1);
}

#[test]
fn takeover_with_resume_resends_the_old_connections_unacked_to_the_new_one() {
    let mut sim = Sim::mqtt();
    let (old, _) = sim.connect_v5("dev", true, 600);
    sim.subscribe(old, &[("t", QoS::AtLeastOnce)]);
    let (p, _) = sim.connect("p", Protocol::V5, true);
    sim.effects();
    sim.publish(p, "t", b"1", QoS::AtLeastOnce, false);
    let in_flight = sim.raw_deliveries();
    let (new, connected) = sim.connect_v5("dev", false, 600);
    assert!(connected.session_present);
    sim.effects();
    let unacked = in_flight.into_iter().map(|(_, d)| d).collect();
    sim.broker
        .handle_disconnect(old, DisconnectKind::ServerClose, None, unacked, sim.now);
    let got = sim.deliveries();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].conn, got[0].dup, got[0].payload.as_slice()),
        (new, true, &b"1"[..])
    );
}

#[test]
fn resume_resends_unacked_first_then_queued_qos1_but_not_qos0() {
    let mut sim = Sim::aws();
    let (s, connected) = sim.connect("dev", Protocol::V311, false);
    assert!(!connected.session_present);
    assert_eq!(
        connected.session_expiry, 3600,
        "AWS default for Clean Session = 0"
    );
    sim.subscribe(s, &[("t/#", QoS::AtLeastOnce)]);
    let (p, _) = sim.connect("p", Protocol::V311, true);
    sim.effects();
    sim.publish(p, "t/1", b"in-flight", QoS::AtLeastOnce, false);
    let unacked: Vec<Delivery> = sim.raw_deliveries().into_iter().map(|(_, d)| d).collect();
    sim.broker
        .handle_disconnect(s, DisconnectKind::Lost, None, unacked, sim.now);
    sim.publish(p, "t/2", b"queued", QoS::AtLeastOnce, false);
    sim.publish(p, "t/3", b"qos0", QoS::AtMostOnce, false);
    sim.publish(p, "t/4", b"queued too", QoS::AtLeastOnce, false);
    assert!(sim.deliveries().is_empty());
    sim.advance(60);
    let (s2, connected) = sim.connect("dev", Protocol::V311, false);
    assert!(connected.session_present);
    let got = sim.deliveries();
    let summary: Vec<_> = got
        .iter()
        .map(|g| (g.conn, g.topic.as_str(), g.dup))
        .collect();
    assert_eq!(
        summary,
        vec![(s2, "t/1", true), (s2, "t/2", false), (s2, "t/4", false)]
    );
    // Subscriptions survived too.
    sim.publish(p, "t/5", b"live", QoS::AtLeastOnce, false);
    assert_eq!(topics_for(&sim.deliveries(), s2), vec!["t/5"]);
}

#[test]
fn clean_start_discards_the_previous_session() {
    let mut sim = Sim::mqtt();
    let (s, _) = sim.connect_v5("dev", true, 600);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    sim.disconnect(s, DisconnectKind::Graceful);
    let (p, _) = sim.connect("p", Protocol::V5, true);
    sim.publish(p, "t", b"q", QoS::AtLeastOnce, false);
    sim.effects();
    let (s2, connected) = sim.connect_v5("dev", true, 600);
    assert!(!connected.session_present);
    let effects = sim.effects();
    assert!(
        effects.iter().all(|e| got(e.clone()).is_none()),
        "queue discarded"
    );
    assert!(persist_ops(&effects).contains(&PersistOp::SessionDeleted {
        client_id: MqttStr::new("dev").unwrap()
    }));
    sim.publish(p, "t", b"q", QoS::AtLeastOnce, false);
    assert!(
        topics_for(&sim.deliveries(), s2).is_empty(),
        "subscription discarded"
    );
}

#[test]
fn session_expires_after_its_interval_and_not_before() {
    let mut sim = Sim::mqtt();
    let (s, _) = sim.connect_v5("dev", true, 100);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    sim.disconnect(s, DisconnectKind::Graceful);
    assert_eq!(
        sim.broker.next_deadline(),
        Some(sim.now + Duration::from_secs(100))
    );
    sim.advance(99);
    assert_eq!(sim.broker.session_state("dev"), Some(false));
    sim.advance(1);
    assert_eq!(sim.broker.session_state("dev"), None);
    assert!(
        persist_ops(&sim.effects()).contains(&PersistOp::SessionDeleted {
            client_id: MqttStr::new("dev").unwrap()
        })
    );
    assert_eq!(sim.broker.stats().subscriptions, 0);
    let (_, connected) = sim.connect_v5("dev", false, 100);
    assert!(!connected.session_present);
}

#[test]
fn zero_expiry_session_ends_with_its_connection() {
    let mut sim = Sim::mqtt();
    let (s, _) = sim.connect("dev", Protocol::V311, true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let effects = sim.effects();
    assert!(
        persist_ops(&effects).is_empty(),
        "non-persistent sessions are never persisted"
    );
    sim.disconnect(s, DisconnectKind::Lost);
    assert_eq!(sim.broker.session_state("dev"), None);
    assert_eq!(sim.broker.stats().subscriptions, 0);
    assert_eq!(sim.broker.next_deadline(), None);
}

#[test]
fn disconnect_can_lower_session_expiry_but_not_raise_it_from_zero() {
    let mut sim = Sim::mqtt();
    let (s, _) = sim.connect_v5("a", true, 600);
    sim.broker
        .handle_disconnect(s, DisconnectKind::Graceful, Some(5), Vec::new(), sim.now);
    assert!(persist_ops(&sim.effects()).iter().any(|op| matches!(
        op,
        PersistOp::SessionUpserted {
            expiry_interval: 5,
            ..
        }
    )));
    sim.advance(5);
    assert_eq!(sim.broker.session_state("a"), None);

    let (s, _) = sim.connect_v5("b", true, 0);
    sim.broker
        .handle_disconnect(s, DisconnectKind::Graceful, Some(600), Vec::new(), sim.now);
    assert_eq!(sim.broker.session_state("b"), None, "[MQTT-3.14.2-2]");

    let (s, _) = sim.connect_v5("c", true, 600);
    sim.broker
        .handle_disconnect(s, DisconnectKind::Graceful, Some(0), Vec::new(), sim.now);
    assert_eq!(sim.broker.session_state("c"), None);
    assert!(
        persist_ops(&sim.effects()).contains(&PersistOp::SessionDeleted {
            client_id: MqttStr::new("c").unwrap()
        })
    );
}

#[test]
fn full_queue_drops_the_oldest_and_counts_it() {
    let mut config = BrokerConfig::for_profile(Profile::Mqtt);
    config.max_queued_per_session = 3;
    let mut sim = Sim::with_config(config);
    let (s, _) = sim.connect_v5("dev", true, 600);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    sim.disconnect(s, DisconnectKind::Graceful);
    let (p, _) = sim.connect("p", Protocol::V5, true);
    for i in 0..5u8 {
        sim.publish(p, "t", &[b'0' + i], QoS::AtLeastOnce, false);
    }
    let effects = sim.effects();
    let dequeued = persist_ops(&effects)
        .into_iter()
        .filter(|op| matches!(op, PersistOp::MessageDequeued { .. }))
        .count();
    assert_eq!(dequeued, 2);
    assert_eq!(sim.broker.stats().queue_dropped, 2);
    sim.connect_v5("dev", false, 600);
    let payloads: Vec<_> = sim.deliveries().into_iter().map(|g| g.payload).collect();
    assert_eq!(payloads, vec![b"2".to_vec(), b"3".to_vec(), b"4".to_vec()]);
}

#[test]
fn queued_messages_expire_and_are_purged_at_tick() {
    let mut sim = Sim::mqtt();
    let (s, _) = sim.connect_v5("dev", true, 600);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    sim.disconnect(s, DisconnectKind::Graceful);
    let (p, _) = sim.connect("p", Protocol::V5, true);
    let mut short = publish("t", b"short", QoS::AtLeastOnce, false);
    short.properties.message_expiry_interval = Some(10);
    sim.broker.handle_publish(p, short, sim.now);
    let mut long = publish("t", b"long", QoS::AtLeastOnce, false);
    long.properties.message_expiry_interval = Some(100);
    sim.broker.handle_publish(p, long, sim.now);
    sim.effects();
    sim.advance(10);
    let effects = sim.effects();
    assert_eq!(
        persist_ops(&effects),
        vec![PersistOp::MessageDequeued {
            client_id: MqttStr::new("dev").unwrap(),
            seq: 0
        }]
    );
    assert_eq!(sim.broker.stats().expired, 1);
    sim.advance(30);
    sim.connect_v5("dev", false, 600);
    let got = sim.raw_deliveries();
    assert_eq!(got.len(), 1);
    let packet = got[0].1.to_publish(PacketId::MIN, sim.now);
    assert_eq!(
        packet.properties.message_expiry_interval,
        Some(60),
        "remaining lifetime"
    );
}

#[test]
fn aws_clamps_message_expiry() {
    let mut sim = Sim::aws();
    let (s, _) = sim.connect("s", Protocol::V5, true);
    let (p, _) = sim.connect("p", Protocol::V5, true);
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    sim.effects();
    let mut zero = publish("t", b"", QoS::AtLeastOnce, false);
    zero.properties.message_expiry_interval = Some(0);
    sim.broker.handle_publish(p, zero, sim.now);
    let mut huge = publish("t", b"", QoS::AtLeastOnce, false);
    huge.properties.message_expiry_interval = Some(u32::MAX);
    sim.broker.handle_publish(p, huge, sim.now);
    let got = sim.raw_deliveries();
    let intervals: Vec<_> = got
        .iter()
        .map(|(_, d)| d.message.properties.message_expiry_interval)
        .collect();
    assert_eq!(intervals, vec![Some(1), Some(604_800)]);
}

#[test]
fn aws_does_not_resume_across_protocol_versions() {
    let mut sim = Sim::aws();
    let (s, _) = sim.connect("dev", Protocol::V311, false);
    sim.disconnect(s, DisconnectKind::Graceful);
    let (_, connected) = sim.connect_v5("dev", false, 600);
    assert!(!connected.session_present);
    let mut mqtt = Sim::mqtt();
    let (s, _) = mqtt.connect("dev", Protocol::V311, false);
    mqtt.disconnect(s, DisconnectKind::Graceful);
    let (_, connected) = mqtt.connect_v5("dev", false, 600);
    assert!(connected.session_present);
}

#[test]
fn empty_client_ids_are_assigned_where_allowed() {
    let mut sim = Sim::mqtt();
    let (_, a) = sim.connect("", Protocol::V5, false);
    assert!(a.client_id_assigned);
    assert_eq!(a.client_id.as_str(), "tether-0");
    let (_, b) = sim.connect("", Protocol::V311, true);
    assert_eq!(b.client_id.as_str(), "tether-1");
    let request = sim.request("", Protocol::V311, false, ());
    assert_eq!(
        sim.connect_with(request).1,
        ConnectOutcome::Refused(ReasonCode::ClientIdentifierNotValid),
        "[MQTT-3.1.3-8]"
    );
    // MQTT 3.1 cannot assign an id, even for a clean session: CONNACK return code 2.
    let request = sim.request("", Protocol::V31, true, ());
    assert_eq!(
        sim.connect_with(request).1,
        ConnectOutcome::Refused(ReasonCode::ClientIdentifierNotValid),
        "MQTT 3.1 client ids are 1 to 23 characters"
    );
}

#[test]
fn aws_clamps_keep_alive_and_session_expiry() {
    let mut sim = Sim::aws();
    for (asked, granted) in [
        (0u16, 1200u16),
        (15, 30),
        (30, 30),
        (600, 600),
        (5000, 1200),
    ] {
        let mut request = sim.request("k", Protocol::V5, true, ());
        request.keep_alive = asked;
        let (_, connected) = accepted(sim.connect_with(request));
        assert_eq!(connected.keep_alive, granted, "asked {asked}");
        assert_eq!(connected.keep_alive_changed, asked != granted);
    }
    let (_, connected) = sim.connect_v5("e", true, 86_400);
    assert_eq!(
        (connected.session_expiry, connected.session_expiry_changed),
        (3600, true)
    );
    let mut mqtt = Sim::mqtt();
    let mut request = mqtt.request("k", Protocol::V5, true, ());
    request.keep_alive = 0;
    let (_, connected) = accepted(mqtt.connect_with(request));
    assert_eq!(
        (connected.keep_alive, connected.keep_alive_changed),
        (0, false)
    );
}

#[test]
fn close_client_asks_the_server_to_close_a_live_connection() {
    let mut sim = Sim::aws();
    let (c, _) = sim.connect("dev", Protocol::V5, true);
    sim.effects();
    assert!(
        sim.broker
            .close_client("dev", ReasonCode::AdministrativeAction)
    );
    assert_eq!(
        sim.effects(),
        vec![Effect::Close {
            conn: c,
            reason: ReasonCode::AdministrativeAction
        }]
    );
    assert!(
        !sim.broker
            .close_client("nobody", ReasonCode::AdministrativeAction)
    );
}
