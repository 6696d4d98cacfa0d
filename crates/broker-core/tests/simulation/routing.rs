//! Routing: wildcards, `$` topics, overlapping subscriptions, no-local, retain-as-published,
//! shared groups, PUBACK reasons.

use super::*;
use broker_core::UnsubscribeOutcome;
use mqtt_proto::ReasonCode;

#[test]
fn wildcards_route_to_matching_subscribers_only() {
    let mut sim = Sim::mqtt();
    let (a, _) = sim.connect("a", Protocol::V311, true);
    let (b, _) = sim.connect("b", Protocol::V311, true);
    let (c, _) = sim.connect("c", Protocol::V311, true);
    let (p, _) = sim.connect("p", Protocol::V311, true);
    sim.subscribe(a, &[("home/+/temp", QoS::AtMostOnce)]);
    sim.subscribe(b, &[("home/#", QoS::AtMostOnce)]);
    sim.subscribe(c, &[("office/kitchen/temp", QoS::AtMostOnce)]);
    sim.effects();
    sim.publish(p, "home/kitchen/temp", b"21", QoS::AtMostOnce, false);
    let got = sim.deliveries();
    assert_eq!(topics_for(&got, a), vec!["home/kitchen/temp"]);
    assert_eq!(topics_for(&got, b), vec!["home/kitchen/temp"]);
    assert!(topics_for(&got, c).is_empty());
    sim.publish(p, "home", b"x", QoS::AtMostOnce, false);
    let got = sim.deliveries();
    assert_eq!(
        got.iter().map(|g| g.conn).collect::<Vec<_>>(),
        vec![b],
        "MQTT: home/# matches home"
    );
}

#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards() {
    let mut sim = Sim::mqtt();
    let (all, _) = sim.connect("all", Protocol::V311, true);
    let (plus, _) = sim.connect("plus", Protocol::V311, true);
    let (sys, _) = sim.connect("sys", Protocol::V311, true);
    sim.subscribe(all, &[("#", QoS::AtMostOnce)]);
    sim.subscribe(plus, &[("+/broker", QoS::AtMostOnce)]);
    sim.subscribe(sys, &[("$SYS/#", QoS::AtMostOnce)]);
    sim.effects();
    sim.broker.handle_server_publish(
        broker_core::Message::new(
            TopicName::new("$SYS/broker").unwrap(),
            Bytes::new(),
            QoS::AtMostOnce,
            false,
        ),
        sim.now,
    );
    let got = sim.deliveries();
    assert_eq!(got.iter().map(|g| g.conn).collect::<Vec<_>>(), vec![sys]);
}

#[test]
fn aws_multi_level_wildcard_does_not_match_parent() {
    let mut sim = Sim::aws();
    let (s, _) = sim.connect("s", Protocol::V311, true);
    let (p, _) = sim.connect("p", Protocol::V311, true);
    sim.subscribe(s, &[("sensor/#", QoS::AtMostOnce)]);
    sim.effects();
    sim.publish(p, "sensor", b"x", QoS::AtMostOnce, false);
    assert!(sim.deliveries().is_empty());
    sim.publish(p, "sensor/", b"x", QoS::AtMostOnce, false);
    sim.publish(p, "sensor/a/b", b"x", QoS::AtMostOnce, false);
    assert_eq!(
        topics_for(&sim.deliveries(), s),
        vec!["sensor/", "sensor/a/b"]
    );
}

#[test]
fn overlapping_subscriptions_yield_one_copy_at_the_highest_qos() {
    let mut sim = Sim::mqtt();
    let (s, _) = sim.connect("s", Protocol::V5, true);
    let (p, _) = sim.connect("p", Protocol::V5, true);
    sim.subscribe(
        s,
        &[
            ("a/+", QoS::AtMostOnce),
            ("a/#", QoS::AtLeastOnce),
            ("a/b", QoS::ExactlyOnce),
        ],
    );
    sim.effects();
    sim.publish(p, "a/b", b"x", QoS::AtLeastOnce, false);
    let got = sim.deliveries();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::AtLeastOnce, "capped by the message's QoS");
    sim.publish(p, "a/b", b"x", QoS::ExactlyOnce, false);
    assert_eq!(sim.deliveries()[0].qos, QoS::ExactlyOnce);
    sim.publish(p, "a/c", b"x", QoS::ExactlyOnce, false);
    assert_eq!(
        sim.deliveries()[0].qos,
        QoS::AtLeastOnce,
        "a/+ (0) and a/# (1) overlap"
    );
}

#[test]
fn subscription_identifiers_of_all_matching_subscriptions_are_carried() {
    let mut sim = Sim::mqtt();
    let (s, _) = sim.connect("s", Protocol::V5, true);
    let (p, _) = sim.connect("p", Protocol::V5, true);
    sim.subscribe_opts(
        s,
        &[("a/+", SubscriptionOptions::with_qos(QoS::AtLeastOnce))],
        Some(7),
    );
    sim.subscribe_opts(
        s,
        &[("a/#", SubscriptionOptions::with_qos(QoS::AtLeastOnce))],
        Some(3),
    );
    sim.subscribe_opts(
        s,
        &[("a/b", SubscriptionOptions::with_qos(QoS::AtLeastOnce))],
        None,
    );
    sim.effects();
    sim.publish(p, "a/b", b"x", QoS::AtLeastOnce, false);
    let got = sim.raw_deliveries();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1.subscription_ids, vec![3, 7]);
    let packet = got[0].1.to_publish(PacketId::MIN, sim.now);
    assert_eq!(packet.properties.subscription_identifiers, vec![3, 7]);
}

#[test]
fn no_local_skips_the_publisher_only() {
    let mut sim = Sim::mqtt();
    let (me, _) = sim.connect("me", Protocol::V5, true);
    let (other, _) = sim.connect("other", Protocol::V5, true);
    let no_local = SubscriptionOptions {
        no_local: true,
        ..SubscriptionOptions::with_qos(QoS::AtMostOnce)
    };
    sim.subscribe_opts(me, &[("chat", no_local)], None);
    sim.subscribe_opts(other, &[("chat", no_local)], None);
    sim.effects();
    sim.publish(me, "chat", b"hi", QoS::AtMostOnce, false);
    assert_eq!(
        sim.deliveries().iter().map(|g| g.conn).collect::<Vec<_>>(),
        vec![other]
    );
    // A second, non-no-local subscription of the publisher still delivers.
    sim.subscribe(me, &[("#", QoS::AtMostOnce)]);
    sim.effects();
    sim.publish(me, "chat", b"hi", QoS::AtMostOnce, false);
    let mut conns: Vec<_> = sim.deliveries().iter().map(|g| g.conn).collect();
    conns.sort();
    assert_eq!(conns, vec![me, other]);
}

#[test]
fn live_deliveries_clear_retain_unless_retain_as_published() {
    let mut sim = Sim::mqtt();
    let (plain, _) = sim.connect("plain", Protocol::V5, true);
    let (rap, _) = sim.connect("rap", Protocol::V5, true);
    let (p, _) = sim.connect("p", Protocol::V5, true);
    sim.subscribe(plain, &[("t", QoS::AtMostOnce)]);
    let opts = SubscriptionOptions {
        retain_as_published: true,
        ..SubscriptionOptions::default()
    };
    sim.subscribe_opts(rap, &[("t", opts)], None);
    sim.effects();
    sim.publish(p, "t", b"v", QoS::AtMostOnce, true);
    let got = sim.deliveries();
    assert!(!got.iter().find(|g| g.conn == plain).unwrap().retain);
    assert!(got.iter().find(|g| g.conn == rap).unwrap().retain);
}

#[test]
fn shared_group_round_robins_and_each_group_gets_one_copy() {
    let mut sim = Sim::mqtt();
    let members: Vec<ConnId> = ["m1", "m2", "m3"]
        .iter()
        .map(|id| sim.connect(id, Protocol::V5, true).0)
        .collect();
    for &m in &members {
        sim.subscribe(m, &[("$share/workers/jobs/+", QoS::AtLeastOnce)]);
    }
    let (other_group, _) = sim.connect("o", Protocol::V311, true);
    sim.subscribe(other_group, &[("$share/audit/jobs/#", QoS::AtMostOnce)]);
    let (p, _) = sim.connect("p", Protocol::V5, true);
    sim.effects();
    let mut picks = Vec::new();
    for i in 0..6 {
        sim.publish(p, &format!("jobs/{i}"), b"j", QoS::AtLeastOnce, false);
        let got = sim.deliveries();
        assert_eq!(got.len(), 2, "one copy per group");
        assert!(got.iter().any(|g| g.conn == other_group));
        picks.push(got.iter().find(|g| g.conn != other_group).unwrap().conn);
    }
    assert_eq!(picks, [members.clone(), members].concat());
}

#[test]
fn shared_group_queues_for_a_persistent_member_when_none_is_online() {
    let mut sim = Sim::mqtt();
    let (m1, _) = sim.connect_v5("m1", true, 600);
    let (m2, _) = sim.connect_v5("m2", true, 0);
    sim.subscribe(m1, &[("$share/g/q", QoS::AtLeastOnce)]);
    sim.subscribe(m2, &[("$share/g/q", QoS::AtLeastOnce)]);
    sim.disconnect(m1, DisconnectKind::Graceful);
    let (p, _) = sim.connect("p", Protocol::V5, true);
    sim.effects();
    // m2 is online: it gets everything.
    sim.publish(p, "q", b"1", QoS::AtLeastOnce, false);
    sim.publish(p, "q", b"2", QoS::AtLeastOnce, false);
    assert!(sim.deliveries().iter().all(|g| g.conn == m2));
    sim.disconnect(m2, DisconnectKind::Graceful);
    sim.publish(p, "q", b"3", QoS::AtLeastOnce, false);
    assert!(sim.deliveries().is_empty());
    let (m1b, connected) = sim.connect_v5("m1", false, 600);
    assert!(connected.session_present);
    let got = sim.deliveries();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].conn, got[0].payload.as_slice()), (m1b, &b"3"[..]));
}

#[test]
fn subscriptions_downgrade_qos_and_unsubscribe_stops_delivery() {
    let mut sim = Sim::mqtt();
    let (s, _) = sim.connect("s", Protocol::V5, true);
    let (p, _) = sim.connect("p", Protocol::V5, true);
    assert_eq!(
        sim.subscribe(s, &[("t", QoS::AtMostOnce)]),
        SubscribeOutcome::SubAck(vec![ReasonCode::Success])
    );
    sim.publish(p, "t", b"x", QoS::ExactlyOnce, false);
    assert_eq!(sim.deliveries()[0].qos, QoS::AtMostOnce);
    assert_eq!(
        sim.unsubscribe(s, &["t", "never"]),
        UnsubscribeOutcome::UnsubAck(vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted])
    );
    sim.publish(p, "t", b"x", QoS::AtLeastOnce, false);
    assert!(sim.deliveries().is_empty());
    assert_eq!(sim.broker.stats().subscriptions, 0);
}

#[test]
fn puback_reports_no_matching_subscribers_under_mqtt_v5_only() {
    let mut sim = Sim::mqtt();
    let (p5, _) = sim.connect("p5", Protocol::V5, true);
    let (p3, _) = sim.connect("p3", Protocol::V311, true);
    assert_eq!(
        sim.publish(p5, "nobody", b"", QoS::AtLeastOnce, false),
        PublishOutcome::Accepted(ReasonCode::NoMatchingSubscribers)
    );
    assert_eq!(
        sim.publish(p3, "nobody", b"", QoS::AtLeastOnce, false),
        PublishOutcome::Accepted(ReasonCode::Success)
    );
    let mut aws = Sim::aws();
    let (q, _) = aws.connect("q", Protocol::V5, true);
    assert_eq!(
        aws.publish(q, "nobody", b"", QoS::AtLeastOnce, false),
        PublishOutcome::Accepted(ReasonCode::Success)
    );
}

#[test]
fn a_subscription_skipped_by_no_local_still_counts_as_matching() {
    let mut sim = Sim::mqtt();
    let (c, _) = sim.connect("c", Protocol::V5, true);
    let options = SubscriptionOptions {
        no_local: true,
        ..SubscriptionOptions::with_qos(QoS::AtLeastOnce)
    };
    sim.subscribe_opts(c, &[("own", options)], None);
    assert_eq!(
        sim.publish(c, "own", b"", QoS::AtLeastOnce, false),
        PublishOutcome::Accepted(ReasonCode::Success)
    );
    assert!(sim.deliveries().is_empty());
}

#[test]
fn pubrec_never_reports_no_matching_subscribers() {
    // The reference broker's PUBREC is always Success; its clients expect no 0x10 there.
    let mut sim = Sim::mqtt();
    let (p5, _) = sim.connect("p5", Protocol::V5, true);
    assert_eq!(
        sim.publish(p5, "nobody", b"", QoS::ExactlyOnce, false),
        PublishOutcome::Accepted(ReasonCode::Success)
    );
}

#[test]
fn aws_basic_ingest_topics_reach_no_subscriber() {
    let mut sim = Sim::aws();
    let (s, _) = sim.connect("s", Protocol::V311, true);
    let (p, _) = sim.connect("p", Protocol::V311, true);
    sim.subscribe(s, &[("$aws/rules/r1/#", QoS::AtMostOnce)]);
    sim.effects();
    assert_eq!(
        sim.publish(
            p,
            "$aws/rules/r1/a/b/c/d/e/f/g",
            b"x",
            QoS::AtLeastOnce,
            false
        ),
        PublishOutcome::Accepted(ReasonCode::Success),
        "the prefix does not count against the 7-slash limit"
    );
    assert!(sim.deliveries().is_empty());
}

#[test]
fn server_publishes_route_like_client_ones() {
    let mut sim = Sim::aws();
    let (s, _) = sim.connect("s", Protocol::V311, true);
    sim.subscribe(s, &[("$aws/events/presence/connected/+", QoS::AtLeastOnce)]);
    sim.effects();
    let msg = broker_core::Message::new(
        TopicName::new("$aws/events/presence/connected/dev1").unwrap(),
        Bytes::from_static(b"{}"),
        QoS::AtLeastOnce,
        false,
    );
    assert_eq!(sim.broker.handle_server_publish(msg, sim.now), 1);
    assert_eq!(sim.deliveries()[0].qos, QoS::AtLeastOnce);
}

#[test]
fn packets_from_unknown_or_taken_over_connections_close_them() {
    let mut sim = Sim::mqtt();
    assert_eq!(
        sim.publish(ConnId(99), "t", b"", QoS::AtMostOnce, false),
        PublishOutcome::Disconnect(ReasonCode::ProtocolError)
    );
    let (old, _) = sim.connect("dev", Protocol::V5, true);
    let (_new, _) = sim.connect("dev", Protocol::V5, true);
    assert_eq!(
        sim.publish(old, "t", b"", QoS::AtMostOnce, false),
        PublishOutcome::Disconnect(ReasonCode::SessionTakenOver)
    );
    assert_eq!(
        sim.subscribe(old, &[("t", QoS::AtMostOnce)]),
        SubscribeOutcome::Disconnect(ReasonCode::SessionTakenOver)
    );
}

#[test]
fn same_inputs_give_the_same_effects() {
    fn run() -> Vec<Effect> {
        let mut sim = Sim::mqtt();
        let mut all = Vec::new();
        let conns: Vec<ConnId> = (0..5)
            .map(|i| sim.connect_v5(&format!("c{i}"), true, 100).0)
            .collect();
        for (i, &c) in conns.iter().enumerate() {
            sim.subscribe(
                c,
                &[("$share/g/x/#", QoS::AtLeastOnce), ("x/+", QoS::AtMostOnce)],
            );
            if i % 2 == 0 {
                sim.subscribe(c, &[("#", QoS::AtLeastOnce)]);
            }
        }
        for i in 0..10 {
            sim.publish(
                conns[i % 5],
                &format!("x/{i}"),
                b"p",
                QoS::AtLeastOnce,
                i % 3 == 0,
            );
        }
        all.extend(sim.effects());
        all
    }
    assert_eq!(run(), run());
}
