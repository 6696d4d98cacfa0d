//! Service routes: publishes a service claims reach it as `ToService` effects, with or without
//! subscribers as the route says; client publishes, server publishes and wills alike.

use broker_core::{ServiceId, ServiceRoute};
use mqtt_proto::ReasonCode;

use super::*;

const SHADOW: ServiceId = ServiceId(1);
const JOBS: ServiceId = ServiceId(2);

fn routed() -> Sim {
    let mut config = BrokerConfig::for_profile(Profile::Aws);
    config.service_routes = vec![
        ServiceRoute {
            filter: TopicFilter::new("$aws/things/+/shadow/update").unwrap(),
            service: SHADOW,
            to_subscribers: true,
        },
        ServiceRoute {
            filter: TopicFilter::new("$aws/things/+/jobs/get").unwrap(),
            service: JOBS,
            to_subscribers: false,
        },
    ];
    Sim::with_config(config)
}

/// One `ToService` effect: which service, from which connection, on which topic.
type Handed = (ServiceId, Option<ConnId>, String);

/// Every `ToService` effect, and the deliveries.
fn split(effects: Vec<Effect>) -> (Vec<Handed>, Vec<Got>) {
    let mut to_service = Vec::new();
    let mut delivered = Vec::new();
    for effect in effects {
        if let Effect::ToService {
            service,
            from,
            message,
        } = &effect
        {
            to_service.push((*service, *from, message.topic.to_string()));
        }
        delivered.extend(got(effect));
    }
    (to_service, delivered)
}

#[test]
fn a_claimed_publish_reaches_its_service_and_subscribers_as_the_route_says() {
    let mut sim = routed();
    let (watcher, _) = sim.connect("watcher", Protocol::V311, true);
    let (device, _) = sim.connect("t1", Protocol::V311, true);
    sim.subscribe(
        watcher,
        &[
            ("$aws/things/t1/shadow/update", QoS::AtMostOnce),
            ("$aws/things/t1/jobs/get", QoS::AtMostOnce),
        ],
    );
    sim.effects();

    let shadow = "$aws/things/t1/shadow/update";
    assert_eq!(
        sim.publish(device, shadow, b"{}", QoS::AtLeastOnce, false),
        PublishOutcome::Accepted(ReasonCode::Success)
    );
    let (to_service, delivered) = split(sim.effects());
    assert_eq!(to_service, [(SHADOW, Some(device), shadow.to_owned())]);
    assert_eq!(
        delivered.len(),
        1,
        "shadow requests are ordinary topics too"
    );

    sim.publish(
        device,
        "$aws/things/t1/jobs/get",
        b"{}",
        QoS::AtLeastOnce,
        false,
    );
    let (to_service, delivered) = split(sim.effects());
    assert_eq!(to_service.len(), 1);
    assert_eq!(to_service[0].0, JOBS);
    assert!(
        delivered.is_empty(),
        "jobs requests reach their service only"
    );

    sim.publish(device, "devices/t1/telemetry", b"x", QoS::AtMostOnce, false);
    let (to_service, _) = split(sim.effects());
    assert!(
        to_service.is_empty(),
        "an unclaimed topic goes to no service"
    );
}

#[test]
fn server_publishes_and_wills_are_claimed_like_client_publishes() {
    let mut sim = routed();
    let message = broker_core::Message::new(
        TopicName::new("$aws/things/t2/jobs/get").unwrap(),
        Bytes::from_static(b"{}"),
        QoS::AtMostOnce,
        false,
    );
    assert_eq!(sim.broker.handle_server_publish(message, sim.now), 0);
    let (to_service, _) = split(sim.effects());
    assert_eq!(
        to_service,
        [(JOBS, None, "$aws/things/t2/jobs/get".to_owned())]
    );

    let device = sim.connect_will("t3", 0, "$aws/things/t3/shadow/update", None);
    sim.effects();
    sim.disconnect(device, DisconnectKind::Lost);
    let (to_service, _) = split(sim.effects());
    assert_eq!(
        to_service,
        [(SHADOW, None, "$aws/things/t3/shadow/update".to_owned())]
    );
}

#[test]
fn routes_can_be_replaced_while_running() {
    let mut sim = routed();
    let (device, _) = sim.connect("t1", Protocol::V311, true);
    sim.broker.set_service_routes(Vec::new());
    assert!(sim.broker.service_routes().is_empty());
    sim.publish(
        device,
        "$aws/things/t1/jobs/get",
        b"{}",
        QoS::AtMostOnce,
        false,
    );
    let (to_service, _) = split(sim.effects());
    assert!(to_service.is_empty());
}
