//! Retained messages under each profile: storing, replacing, deleting, subscribe-time delivery,
//! retain handling, shared subscriptions, expiry, `$` topics.

use super::*;
use mqtt_proto::{ReasonCode, RetainHandling};

#[test]
fn mqtt_wildcard_subscribe_gets_stored_retained_messages_with_retain_set() {
    let mut sim = Sim::mqtt();
    let (p, _) = sim.connect("p", Protocol::V311, true);
    sim.publish(p, "home/kitchen/temp", b"21", QoS::AtLeastOnce, true);
    sim.publish(p, "home/hall/temp", b"19", QoS::AtMostOnce, true);
    sim.publish(p, "home/kitchen/temp", b"22", QoS::AtLeastOnce, true);
    sim.publish(p, "office/temp", b"25", QoS::AtLeastOnce, true);
    let (s, _) = sim.connect("s", Protocol::V311, true);
    sim.effects();
    assert_eq!(
        sim.subscribe(s, &[("home/+/temp", QoS::AtLeastOnce)]),
        SubscribeOutcome::SubAck(vec![ReasonCode::GrantedQos1])
    );
    let got = sim.deliveries();
    let summary: Vec<_> = got
        .iter()
        .map(|g| (g.topic.as_str(), g.payload.as_slice(), g.qos, g.retain))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("home/hall/temp", &b"19"[..], QoS::AtMostOnce, true),
            ("home/kitchen/temp", &b"22"[..], QoS::AtLeastOnce, true),
        ]
    );
}

#[test]
fn aws_delivers_retained_only_to_exact_topic_subscriptions() {
    let mut sim = Sim::aws();
    let (p, _) = sim.connect("p", Protocol::V311, true);
    sim.publish(p, "sensor/1", b"on", QoS::AtLeastOnce, true);
    let (wild, _) = sim.connect("wild", Protocol::V311, true);
    let (exact, _) = sim.connect("exact", Protocol::V311, true);
    sim.effects();
    sim.subscribe(wild, &[("sensor/+", QoS::AtLeastOnce)]);
    assert!(
        sim.deliveries().is_empty(),
        "AWS: wildcard subscriptions get no stored message"
    );
    sim.subscribe(exact, &[("sensor/1", QoS::AtLeastOnce)]);
    let got = sim.deliveries();
    assert_eq!(got.len(), 1);
    assert!(got[0].retain);
    // Live copies carry RETAIN=0 for both.
    sim.publish(p, "sensor/1", b"off", QoS::AtLeastOnce, true);
    let got = sim.deliveries();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|g| !g.retain));
}

#[test]
fn empty_retained_payload_deletes_but_is_still_forwarded() {
    let mut sim = Sim::mqtt();
    let (p, _) = sim.connect("p", Protocol::V311, true);
    let (s, _) = sim.connect("s", Protocol::V311, true);
    sim.publish(p, "t", b"v", QoS::AtMostOnce, true);
    sim.subscribe(s, &[("t", QoS::AtMostOnce)]);
    assert_eq!(sim.deliveries().len(), 1);
    sim.publish(p, "t", b"", QoS::AtMostOnce, true);
    let effects = sim.effects();
    assert_eq!(
        effects.iter().filter_map(|e| got(e.clone())).count(),
        1,
        "forwarded to current subscriber"
    );
    assert!(
        persist_ops(&effects)
            .iter()
            .any(|op| matches!(op, PersistOp::RetainedCleared { .. }))
    );
    assert_eq!(sim.broker.stats().retained, 0);
    let (late, _) = sim.connect("late", Protocol::V311, true);
    sim.subscribe(late, &[("t", QoS::AtMostOnce)]);
    assert!(sim.deliveries().is_empty());
}

#[test]
fn retain_handling_options_are_honoured() {
    let mut sim = Sim::mqtt();
    let (p, _) = sim.connect("p", Protocol::V5, true);
    sim.publish(p, "t", b"v", QoS::AtMostOnce, true);
    let (s, _) = sim.connect("s", Protocol::V5, true);
    sim.effects();
    let if_new = SubscriptionOptions {
        retain_handling: RetainHandling::SendIfNew,
        ..Default::default()
    };
    sim.subscribe_opts(s, &[("t", if_new)], None);
    assert_eq!(sim.deliveries().len(), 1);
    sim.subscribe_opts(s, &[("t", if_new)], None);
    assert!(sim.deliveries().is_empty(), "subscription already existed");
    let never = SubscriptionOptions {
        retain_handling: RetainHandling::DoNotSend,
        ..Default::default()
    };
    sim.subscribe_opts(s, &[("#", never)], None);
    assert!(sim.deliveries().is_empty());
    sim.subscribe(s, &[("t", QoS::AtMostOnce)]);
    assert_eq!(
        sim.deliveries().len(),
        1,
        "SendAtSubscribe sends again on a re-subscribe"
    );
}

#[test]
fn shared_subscriptions_get_no_retained_messages() {
    let mut sim = Sim::mqtt();
    let (p, _) = sim.connect("p", Protocol::V5, true);
    sim.publish(p, "t", b"v", QoS::AtMostOnce, true);
    let (s, _) = sim.connect("s", Protocol::V5, true);
    sim.effects();
    sim.subscribe(s, &[("$share/g/t", QoS::AtMostOnce)]);
    assert!(sim.deliveries().is_empty());
}

#[test]
fn retained_messages_expire() {
    let mut sim = Sim::mqtt();
    let (p, _) = sim.connect("p", Protocol::V5, true);
    let mut packet = publish("t", b"v", QoS::AtLeastOnce, true);
    packet.properties.message_expiry_interval = Some(10);
    sim.broker.handle_publish(p, packet, sim.now);
    assert_eq!(
        sim.broker.next_deadline(),
        Some(sim.now + Duration::from_secs(10))
    );
    sim.advance(4);
    let (s, _) = sim.connect("s", Protocol::V5, true);
    sim.effects();
    sim.subscribe(s, &[("t", QoS::AtLeastOnce)]);
    let got = sim.raw_deliveries();
    assert_eq!(
        got[0]
            .1
            .to_publish(PacketId::MIN, sim.now)
            .properties
            .message_expiry_interval,
        Some(6)
    );
    sim.advance(6);
    assert!(
        persist_ops(&sim.effects()).contains(&PersistOp::RetainedCleared {
            topic: TopicName::new("t").unwrap()
        })
    );
    assert_eq!(sim.broker.stats().retained, 0);
    assert_eq!(sim.broker.next_deadline(), None);
}

#[test]
fn replacing_a_retained_message_cancels_the_old_expiry() {
    let mut sim = Sim::mqtt();
    let (p, _) = sim.connect("p", Protocol::V5, true);
    let mut packet = publish("t", b"v1", QoS::AtMostOnce, true);
    packet.properties.message_expiry_interval = Some(5);
    sim.broker.handle_publish(p, packet, sim.now);
    sim.publish(p, "t", b"v2", QoS::AtMostOnce, true);
    assert_eq!(sim.broker.next_deadline(), None);
    sim.advance(10);
    assert_eq!(sim.broker.stats().retained, 1);
}

#[test]
fn aws_refuses_retained_publish_on_reserved_topics() {
    let mut sim = Sim::aws();
    let (v5, _) = sim.connect("v5", Protocol::V5, true);
    let (v3, _) = sim.connect("v3", Protocol::V311, true);
    assert_eq!(
        sim.publish(
            v5,
            "$aws/things/x/shadow/update",
            b"{}",
            QoS::AtLeastOnce,
            true
        ),
        PublishOutcome::Refused(ReasonCode::TopicNameInvalid)
    );
    assert_eq!(
        sim.publish(
            v3,
            "$aws/things/x/shadow/update",
            b"{}",
            QoS::AtLeastOnce,
            true
        ),
        PublishOutcome::Disconnect(ReasonCode::TopicNameInvalid)
    );
    assert_eq!(
        sim.publish(
            v5,
            "$aws/things/x/shadow/update",
            b"{}",
            QoS::AtLeastOnce,
            false
        ),
        PublishOutcome::Accepted(ReasonCode::Success)
    );
    assert_eq!(sim.broker.stats().retained, 0);
    let mut mqtt = Sim::mqtt();
    let (c, _) = mqtt.connect("c", Protocol::V5, true);
    mqtt.publish(c, "$SYS/x", b"1", QoS::AtMostOnce, true);
    assert_eq!(mqtt.broker.stats().retained, 1);
}
