//! AWS IoT Core limits, each refused with the reason the contract names
//! (shared/reference/aws-iot-contract.md §1.2–1.5), their absence under the MQTT profile, and
//! the limits a deployment configures (a maximum keep-alive, refused filters).

use super::*;
use mqtt_proto::ReasonCode;

#[test]
fn aws_refuses_qos2_publish_subscribe_and_will() {
    let mut sim = Sim::aws();
    let (c, _) = sim.connect("c", Protocol::V5, true);
    assert_eq!(
        sim.publish(c, "t", b"x", QoS::ExactlyOnce, false),
        PublishOutcome::Disconnect(ReasonCode::QosNotSupported)
    );
    assert_eq!(
        sim.subscribe(c, &[("a", QoS::AtLeastOnce), ("t", QoS::ExactlyOnce)]),
        SubscribeOutcome::Disconnect(ReasonCode::QosNotSupported)
    );
    assert_eq!(sim.broker.stats().subscriptions, 0, "nothing applied");
    let mut request = sim.request("w", Protocol::V5, true, ());
    let mut w = will("t", None);
    w.qos = QoS::ExactlyOnce;
    request.will = Some(w);
    assert_eq!(
        sim.connect_with(request).1,
        ConnectOutcome::Refused(ReasonCode::QosNotSupported)
    );
    let mut mqtt = Sim::mqtt();
    let (m, _) = mqtt.connect("m", Protocol::V5, true);
    assert_eq!(
        mqtt.subscribe(m, &[("t", QoS::ExactlyOnce)]),
        SubscribeOutcome::SubAck(vec![ReasonCode::GrantedQos2])
    );
}

#[test]
fn aws_refuses_payloads_over_128_kib() {
    let mut sim = Sim::aws();
    let (c, _) = sim.connect("c", Protocol::V311, true);
    let max = vec![0u8; 128 * 1024];
    assert_eq!(
        sim.publish(c, "t", &max, QoS::AtLeastOnce, false),
        PublishOutcome::Accepted(ReasonCode::Success)
    );
    let over = vec![0u8; 128 * 1024 + 1];
    assert_eq!(
        sim.publish(c, "t", &over, QoS::AtLeastOnce, false),
        PublishOutcome::Disconnect(ReasonCode::PacketTooLarge)
    );
    let mut mqtt = Sim::mqtt();
    let (m, _) = mqtt.connect("m", Protocol::V311, true);
    assert!(matches!(
        mqtt.publish(m, "t", &over, QoS::AtLeastOnce, false),
        PublishOutcome::Accepted(_)
    ));
}

#[test]
fn aws_refuses_topics_with_more_than_seven_slashes_or_256_bytes() {
    let mut sim = Sim::aws();
    let (v5, _) = sim.connect("v5", Protocol::V5, true);
    let (v3, _) = sim.connect("v3", Protocol::V311, true);
    let deep = "a/b/c/d/e/f/g/h/i";
    let long = "x".repeat(257);
    for topic in [deep, long.as_str()] {
        assert_eq!(
            sim.publish(v5, topic, b"", QoS::AtLeastOnce, false),
            PublishOutcome::Refused(ReasonCode::TopicNameInvalid)
        );
        assert_eq!(
            sim.publish(v3, topic, b"", QoS::AtLeastOnce, false),
            PublishOutcome::Disconnect(ReasonCode::TopicNameInvalid)
        );
    }
    assert_eq!(
        sim.publish(v5, "a/b/c/d/e/f/g/h", b"", QoS::AtLeastOnce, false),
        PublishOutcome::Accepted(ReasonCode::Success)
    );
}

#[test]
fn aws_refuses_filters_beyond_its_limits() {
    let mut sim = Sim::aws();
    let (c, _) = sim.connect("c", Protocol::V5, true);
    let long_share = format!("$share/{}/t", "n".repeat(129));
    assert_eq!(
        sim.subscribe(
            c,
            &[
                ("a/b/c/d/e/f/g/h/#", QoS::AtMostOnce),
                (&long_share, QoS::AtMostOnce),
                ("$share/g/a/b/c/d/e/f/g/#", QoS::AtMostOnce)
            ]
        ),
        SubscribeOutcome::SubAck(vec![
            ReasonCode::TopicFilterInvalid,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::Success
        ])
    );
}

#[test]
fn aws_refuses_long_and_dollar_client_ids() {
    let mut sim = Sim::aws();
    let ok = "c".repeat(128);
    accepted({
        let request = sim.request(&ok, Protocol::V311, true, ());
        sim.connect_with(request)
    });
    for bad in ["c".repeat(129), "$dev".to_owned()] {
        let request = sim.request(&bad, Protocol::V311, true, ());
        assert_eq!(
            sim.connect_with(request).1,
            ConnectOutcome::Refused(ReasonCode::ClientIdentifierNotValid)
        );
    }
}

#[test]
fn aws_handles_at_most_eight_filters_per_subscribe() {
    let mut sim = Sim::aws();
    let (c, _) = sim.connect("c", Protocol::V5, true);
    let names: Vec<String> = (0..9).map(|i| format!("t/{i}")).collect();
    let filters: Vec<(&str, QoS)> = names
        .iter()
        .map(|n| (n.as_str(), QoS::AtLeastOnce))
        .collect();
    let SubscribeOutcome::SubAck(reasons) = sim.subscribe(c, &filters) else {
        panic!("no SUBACK")
    };
    assert_eq!(reasons[..8], [ReasonCode::GrantedQos1; 8]);
    assert_eq!(reasons[8], ReasonCode::QuotaExceeded);
    assert_eq!(sim.broker.stats().subscriptions, 8);
}

#[test]
fn aws_caps_subscriptions_per_session_at_fifty() {
    let mut sim = Sim::aws();
    let (c, _) = sim.connect("c", Protocol::V311, true);
    for i in 0..50 {
        let f = format!("t/{i}");
        assert_eq!(
            sim.subscribe(c, &[(&f, QoS::AtMostOnce)]),
            SubscribeOutcome::SubAck(vec![ReasonCode::Success])
        );
    }
    assert_eq!(
        sim.subscribe(c, &[("t/50", QoS::AtMostOnce), ("t/0", QoS::AtLeastOnce)]),
        SubscribeOutcome::SubAck(vec![ReasonCode::QuotaExceeded, ReasonCode::GrantedQos1]),
        "replacing an existing subscription is not a new one"
    );
}

#[test]
fn aws_refuses_subscription_identifiers_with_disconnect_0xa1() {
    let mut sim = Sim::aws();
    let (c, _) = sim.connect("c", Protocol::V5, true);
    assert_eq!(
        sim.subscribe_opts(c, &[("t", SubscriptionOptions::default())], Some(1)),
        SubscribeOutcome::Disconnect(ReasonCode::SubscriptionIdentifiersNotSupported)
    );
}

#[test]
fn shared_subscription_with_no_local_is_a_protocol_error() {
    let mut sim = Sim::mqtt();
    let (c, _) = sim.connect("c", Protocol::V5, true);
    let opts = SubscriptionOptions {
        no_local: true,
        ..Default::default()
    };
    assert_eq!(
        sim.subscribe_opts(c, &[("$share/g/t", opts)], None),
        SubscribeOutcome::Disconnect(ReasonCode::ProtocolError)
    );
}

#[test]
fn aws_refuses_wills_beyond_its_limits() {
    let mut sim = Sim::aws();
    let mut request = sim.request("w", Protocol::V311, true, ());
    request.will = Some(will("a/b/c/d/e/f/g/h/i", None));
    assert_eq!(
        sim.connect_with(request).1,
        ConnectOutcome::Refused(ReasonCode::TopicNameInvalid)
    );
    let mut request = sim.request("w", Protocol::V311, true, ());
    let mut w = will("t", None);
    w.payload = Bytes::from(vec![0u8; 128 * 1024 + 1]);
    request.will = Some(w);
    assert_eq!(
        sim.connect_with(request).1,
        ConnectOutcome::Refused(ReasonCode::PacketTooLarge)
    );
    let mut request = sim.request("w", Protocol::V311, true, ());
    let mut w = will("$aws/x", None);
    w.retain = true;
    request.will = Some(w);
    assert_eq!(
        sim.connect_with(request).1,
        ConnectOutcome::Refused(ReasonCode::TopicNameInvalid)
    );
}

/// The `Effect::Limited` reports of the effects so far: (packet, resource, limit, reason).
fn limited(sim: &mut Sim) -> Vec<(&'static str, String, String, ReasonCode)> {
    sim.effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Limited {
                packet,
                resource,
                limit,
                reason,
                ..
            } => Some((packet, resource, limit, reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_limit_refusal_is_reported_naming_the_limit() {
    let mut sim = Sim::aws();
    let (c, _) = sim.connect("c", Protocol::V311, true);
    sim.effects();
    let over = vec![0u8; 128 * 1024 + 1];
    sim.publish(c, "big", &over, QoS::AtLeastOnce, false);
    let report = limited(&mut sim);
    assert_eq!(report.len(), 1, "{report:?}");
    let (packet, resource, limit, reason) = &report[0];
    assert_eq!((*packet, resource.as_str()), ("PUBLISH", "big"));
    assert_eq!(*reason, ReasonCode::PacketTooLarge);
    assert!(limit.contains("131072 bytes"), "{limit}");
    assert!(limit.contains("131073 bytes"), "{limit}");
    assert!(limit.ends_with("(aws profile)"), "{limit}");

    let (v5, _) = sim.connect("v5", Protocol::V5, true);
    sim.effects();
    sim.publish(v5, "a/b/c/d/e/f/g/h/i", b"x", QoS::AtMostOnce, false);
    sim.publish(
        v5,
        "$aws/things/x/shadow/update",
        b"x",
        QoS::AtMostOnce,
        true,
    );
    sim.subscribe(v5, &[("q2", QoS::ExactlyOnce)]);
    let report = limited(&mut sim);
    let said: Vec<(&str, &str, ReasonCode)> = report
        .iter()
        .map(|(p, r, _, c)| (*p, r.as_str(), *c))
        .collect();
    assert_eq!(
        said,
        [
            ("PUBLISH", "a/b/c/d/e/f/g/h/i", ReasonCode::TopicNameInvalid),
            (
                "PUBLISH",
                "$aws/things/x/shadow/update",
                ReasonCode::TopicNameInvalid
            ),
            ("SUBSCRIBE", "q2", ReasonCode::QosNotSupported),
        ]
    );
    assert!(report[0].2.contains("at most 7 slashes"), "{report:?}");
    assert!(report[1].2.contains("reserved ($) topics"), "{report:?}");

    let request = sim.request("$dev", Protocol::V311, true, ());
    sim.connect_with(request);
    let report = limited(&mut sim);
    assert_eq!(report[0].0, "CONNECT");
    assert!(report[0].2.contains("not starting with $"), "{report:?}");

    // The MQTT profile has none of these limits: nothing to report.
    let mut mqtt = Sim::mqtt();
    let (m, _) = mqtt.connect("m", Protocol::V311, true);
    mqtt.publish(m, "big", &over, QoS::AtLeastOnce, false);
    assert!(limited(&mut mqtt).is_empty());
}

#[test]
fn a_maximum_keep_alive_is_told_to_mqtt5_clients_and_refuses_older_ones() {
    let mut config = BrokerConfig::for_profile(Profile::Mqtt);
    config.limits.max_keep_alive = Some(60);
    let mut sim = Sim::with_config(config);
    for (asked, granted) in [(0u16, 60u16), (30, 30), (60, 60), (61, 60), (65_535, 60)] {
        let mut request = sim.request("k5", Protocol::V5, true, ());
        request.keep_alive = asked;
        let (_, connected) = accepted(sim.connect_with(request));
        assert_eq!(
            (connected.keep_alive, connected.keep_alive_changed),
            (granted, asked != granted),
            "MQTT 5 asks {asked}"
        );
        let props = connected.connack_properties(&sim.broker.config().limits);
        assert_eq!(
            props.server_keep_alive,
            (asked != granted).then_some(granted),
            "[MQTT-3.2.2-21] Server Keep Alive"
        );
    }
    sim.effects();
    for (asked, refused) in [(0u16, true), (60, false), (61, true)] {
        let mut request = sim.request("k3", Protocol::V311, true, ());
        request.keep_alive = asked;
        let outcome = sim.connect_with(request).1;
        assert_eq!(
            matches!(
                outcome,
                ConnectOutcome::Refused(ReasonCode::ClientIdentifierNotValid)
            ),
            refused,
            "MQTT 3.1.1 asks {asked}: {outcome:?}"
        );
    }
    let report = limited(&mut sim);
    assert_eq!(report.len(), 2, "{report:?}");
    assert!(report[0].2.contains("at most 60 s"), "{report:?}");
    assert!(report[0].2.contains("none (0)"), "{report:?}");
    assert!(report[1].2.contains("61 s"), "{report:?}");
}

#[test]
fn refused_filters_get_suback_0x87_and_are_reported() {
    let mut config = BrokerConfig::for_profile(Profile::Mqtt);
    config.limits.refused_filters = vec![
        TopicFilter::new("test/nosubscribe").unwrap(),
        TopicFilter::new("secret/#").unwrap(),
    ];
    let mut sim = Sim::with_config(config);
    let (c, _) = sim.connect("c", Protocol::V5, true);
    sim.effects();
    assert_eq!(
        sim.subscribe(
            c,
            &[
                ("test/nosubscribe", QoS::AtLeastOnce),
                ("test/other", QoS::AtLeastOnce),
                ("secret/a", QoS::AtLeastOnce),
                ("secret/+", QoS::AtLeastOnce),
                ("$share/g/secret/#", QoS::AtLeastOnce),
                ("#", QoS::AtLeastOnce),
            ]
        ),
        SubscribeOutcome::SubAck(vec![
            ReasonCode::NotAuthorized,
            ReasonCode::GrantedQos1,
            ReasonCode::NotAuthorized,
            ReasonCode::NotAuthorized,
            ReasonCode::NotAuthorized,
            ReasonCode::GrantedQos1,
        ])
    );
    assert_eq!(sim.broker.stats().subscriptions, 2);
    let report = limited(&mut sim);
    assert_eq!(report.len(), 4, "{report:?}");
    assert_eq!(report[0].1, "test/nosubscribe");
    assert!(
        report[2].2.contains("refused filter secret/#"),
        "{report:?}"
    );
    // MQTT 3.1.1: the same refusal, as SUBACK 0x80, and the connection stays.
    let (v3, _) = sim.connect("v3", Protocol::V311, true);
    assert_eq!(
        sim.subscribe(v3, &[("test/nosubscribe", QoS::AtMostOnce)]),
        SubscribeOutcome::SubAck(vec![ReasonCode::NotAuthorized])
    );
}

/// AWS's reserved topics that AWS IoT alone publishes (events, service answers) are refused to a
/// client's PUBLISH and will whatever its policy allows (the simulation's authorizer allows
/// all): MQTT 5 PUBACK 0x87, MQTT 3.1.1 closed, the will's CONNECT refused. Request topics stay
/// open, and the MQTT profile has no reserved topics.
#[test]
fn aws_refuses_client_publishes_and_wills_to_subscribe_only_reserved_topics() {
    let mut sim = Sim::aws();
    let (watcher, _) = sim.connect("watcher", Protocol::V5, true);
    sim.subscribe(watcher, &[("$aws/events/#", QoS::AtLeastOnce)]);
    let (v5, _) = sim.connect("v5", Protocol::V5, true);
    let (v3, _) = sim.connect("v3", Protocol::V311, true);
    for topic in [
        "$aws/events/presence/connected/other",
        "$aws/things/t/shadow/update/accepted",
        "$aws/things/t/jobs/notify-next",
        "$aws/certificates/create/json/accepted",
    ] {
        assert_eq!(
            sim.publish(v5, topic, b"forged", QoS::AtLeastOnce, false),
            PublishOutcome::Refused(ReasonCode::NotAuthorized),
            "{topic}"
        );
    }
    assert_eq!(
        sim.publish(
            v3,
            "$aws/events/presence/connected/other",
            b"forged",
            QoS::AtMostOnce,
            false
        ),
        PublishOutcome::Disconnect(ReasonCode::NotAuthorized)
    );
    let deliveries = sim.deliveries();
    assert!(
        topics_for(&deliveries, watcher).is_empty(),
        "nothing forged reached a subscriber: {deliveries:?}"
    );
    assert!(matches!(
        sim.publish(
            v5,
            "$aws/things/t/shadow/update",
            b"{}",
            QoS::AtLeastOnce,
            false
        ),
        PublishOutcome::Accepted(_)
    ));
    let mut request = sim.request("w", Protocol::V5, true, ());
    request.will = Some(will("$aws/events/presence/disconnected/other", None));
    assert_eq!(
        sim.connect_with(request).1,
        ConnectOutcome::Refused(ReasonCode::NotAuthorized)
    );
    let mut mqtt = Sim::mqtt();
    let (m, _) = mqtt.connect("m", Protocol::V5, true);
    assert!(matches!(
        mqtt.publish(
            m,
            "$aws/events/presence/connected/other",
            b"x",
            QoS::AtLeastOnce,
            false
        ),
        PublishOutcome::Accepted(_)
    ));
}
