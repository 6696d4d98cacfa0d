//! Authorization denials and their consequences under each profile and protocol version.

use super::*;
use broker_core::{Action, Decision, Denial};
use mqtt_proto::ReasonCode;

/// Denies the listed (action, resource) pairs for principal "mallory"; allows the rest.
#[derive(Debug, Default)]
struct DenyList {
    denied: Vec<(&'static str, String)>,
}

impl Authorizer for DenyList {
    type Principal = String;

    fn authorize(&mut self, principal: &String, client_id: &str, action: Action<'_>) -> Decision {
        let resource = action.resource(client_id);
        if principal == "mallory"
            && self
                .denied
                .iter()
                .any(|(a, r)| *a == action.aws_name() && *r == resource)
        {
            Decision::Deny(Denial::new(
                action.aws_name(),
                resource,
                "no statement allows it",
            ))
        } else {
            Decision::Allow
        }
    }
}

fn sim(profile: Profile, denied: &[(&'static str, &str)]) -> Sim<DenyList> {
    let denied = denied.iter().map(|(a, r)| (*a, (*r).to_owned())).collect();
    Sim::with_authorizer(profile, DenyList { denied })
}

fn connect(sim: &mut Sim<DenyList>, id: &str, protocol: Protocol, principal: &str) -> ConnId {
    let request = sim.request(id, protocol, true, principal.to_owned());
    accepted(sim.connect_with(request)).0
}

fn denials(effects: &[Effect]) -> Vec<(String, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Denied {
                conn,
                action,
                resource,
                denial,
                ..
            } => {
                assert_eq!(
                    &denial.resource, resource,
                    "the denial says what was denied"
                );
                assert!(
                    conn.is_some(),
                    "every denial here concerns a live connection"
                );
                Some(((*action).to_owned(), resource.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn denied_connect_is_refused_with_not_authorized_and_logged() {
    let mut sim = sim(Profile::Aws, &[("iot:Connect", "client/dev")]);
    let request = sim.request("dev", Protocol::V311, true, "mallory".to_owned());
    assert_eq!(
        sim.connect_with(request).1,
        ConnectOutcome::Refused(ReasonCode::NotAuthorized)
    );
    assert_eq!(ReasonCode::NotAuthorized.to_v3_connack(), 5);
    assert_eq!(
        denials(&sim.effects()),
        vec![("iot:Connect".to_owned(), "client/dev".to_owned())]
    );
    assert_eq!(sim.broker.stats().sessions, 0);
}

#[test]
fn denied_will_topic_refuses_the_connect() {
    let mut sim = sim(Profile::Aws, &[("iot:Publish", "topic/wills/dev")]);
    let mut request = sim.request("dev", Protocol::V5, true, "mallory".to_owned());
    request.will = Some(will("wills/dev", None));
    assert_eq!(
        sim.connect_with(request).1,
        ConnectOutcome::Refused(ReasonCode::NotAuthorized)
    );
}

#[test]
fn denied_publish_consequences_per_profile_and_version() {
    let deny = [("iot:Publish", "topic/secret")];
    // AWS, 3.1.1: the connection is closed.
    let mut aws = sim(Profile::Aws, &deny);
    let (s, _) = accepted({
        let r = aws.request("s", Protocol::V311, true, "alice".to_owned());
        aws.connect_with(r)
    });
    aws.subscribe(s, &[("secret", QoS::AtLeastOnce)]);
    let v3 = connect(&mut aws, "m3", Protocol::V311, "mallory");
    let v5 = connect(&mut aws, "m5", Protocol::V5, "mallory");
    aws.effects();
    assert_eq!(
        aws.publish(v3, "secret", b"x", QoS::AtLeastOnce, false),
        PublishOutcome::Disconnect(ReasonCode::NotAuthorized)
    );
    // AWS, 5: PUBACK 0x87.
    assert_eq!(
        aws.publish(v5, "secret", b"x", QoS::AtLeastOnce, false),
        PublishOutcome::Refused(ReasonCode::NotAuthorized)
    );
    let effects = aws.effects();
    assert_eq!(denials(&effects).len(), 2);
    assert!(
        effects.iter().all(|e| !matches!(e, Effect::Deliver { .. })),
        "nothing routed"
    );
    // MQTT, 3.1.1: positive acknowledgement, message dropped ([MQTT-3.3.5-2]).
    let mut mqtt = sim(Profile::Mqtt, &deny);
    let v3 = connect(&mut mqtt, "m3", Protocol::V311, "mallory");
    assert_eq!(
        mqtt.publish(v3, "secret", b"x", QoS::AtLeastOnce, false),
        PublishOutcome::Accepted(ReasonCode::Success)
    );
    assert_eq!(mqtt.broker.stats().published, 0);
}

#[test]
fn denied_retain_publish_is_checked_separately() {
    let mut sim = sim(Profile::Aws, &[("iot:RetainPublish", "topic/t")]);
    let c = connect(&mut sim, "c", Protocol::V5, "mallory");
    assert_eq!(
        sim.publish(c, "t", b"x", QoS::AtLeastOnce, false),
        PublishOutcome::Accepted(ReasonCode::Success)
    );
    assert_eq!(
        sim.publish(c, "t", b"x", QoS::AtLeastOnce, true),
        PublishOutcome::Refused(ReasonCode::NotAuthorized)
    );
    assert_eq!(sim.broker.stats().retained, 0);
}

#[test]
fn denied_subscribe_consequences_per_profile_and_version() {
    let deny = [("iot:Subscribe", "topicfilter/secret/#")];
    let mut aws = sim(Profile::Aws, &deny);
    let v3 = connect(&mut aws, "m3", Protocol::V311, "mallory");
    assert_eq!(
        aws.subscribe(
            v3,
            &[("ok", QoS::AtMostOnce), ("secret/#", QoS::AtMostOnce)]
        ),
        SubscribeOutcome::Disconnect(ReasonCode::NotAuthorized)
    );
    assert_eq!(
        aws.broker.stats().subscriptions,
        0,
        "no half-applied SUBSCRIBE"
    );
    let v5 = connect(&mut aws, "m5", Protocol::V5, "mallory");
    assert_eq!(
        aws.subscribe(
            v5,
            &[("ok", QoS::AtMostOnce), ("secret/#", QoS::AtMostOnce)]
        ),
        SubscribeOutcome::SubAck(vec![ReasonCode::Success, ReasonCode::NotAuthorized])
    );
    let mut mqtt = sim(Profile::Mqtt, &deny);
    let v3 = connect(&mut mqtt, "m3", Protocol::V311, "mallory");
    let SubscribeOutcome::SubAck(reasons) = mqtt.subscribe(
        v3,
        &[("ok", QoS::AtMostOnce), ("secret/#", QoS::AtMostOnce)],
    ) else {
        panic!("MQTT profile answers 3.1.1 with SUBACK");
    };
    let wire: Vec<u8> = reasons.iter().map(|r| r.to_v3_suback()).collect();
    assert_eq!(wire, vec![0x00, 0x80]);
}

#[test]
fn denied_receive_skips_that_subscriber_only() {
    let mut sim = sim(Profile::Aws, &[("iot:Receive", "topic/t")]);
    let m = connect(&mut sim, "m", Protocol::V311, "mallory");
    let a = connect(&mut sim, "a", Protocol::V311, "alice");
    sim.subscribe(m, &[("t", QoS::AtMostOnce)]);
    sim.subscribe(a, &[("t", QoS::AtMostOnce)]);
    sim.effects();
    sim.publish(a, "t", b"x", QoS::AtMostOnce, false);
    let effects = sim.effects();
    let conns: Vec<ConnId> = effects
        .iter()
        .cloned()
        .filter_map(got)
        .map(|g| g.conn)
        .collect();
    assert_eq!(conns, vec![a]);
    assert_eq!(
        denials(&effects),
        vec![("iot:Receive".to_owned(), "topic/t".to_owned())]
    );
    assert_eq!(sim.broker.stats().receive_denied, 1);
}
