//! Property tests: random subscribe/unsubscribe/publish sequences deliver exactly what a naive
//! reference (every subscription's `TopicFilter::matches`) says, under both profiles.

use std::collections::BTreeMap;

use super::*;
use proptest::prelude::*;

const CLIENTS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Subscribe {
        client: usize,
        filter: String,
        qos: u8,
    },
    Unsubscribe {
        client: usize,
        filter: String,
    },
    Publish {
        client: usize,
        topic: String,
        qos: u8,
    },
}

fn level() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["a", "b", "", "$s"])
}

fn topic() -> impl Strategy<Value = String> {
    prop::collection::vec(level(), 1..5).prop_map(|levels| {
        // `$s` anywhere is a literal level; only in the first level does it make a `$` topic.
        let text = levels.join("/");
        if text.is_empty() {
            "a".to_owned()
        } else {
            text
        }
    })
}

fn filter() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(vec!["a", "b", "", "+", "$s"]), 0..4),
        any::<bool>(),
    )
        .prop_map(|(levels, hash)| {
            let mut text = levels.join("/");
            if hash {
                text = if levels.is_empty() {
                    "#".to_owned()
                } else {
                    format!("{text}/#")
                };
            } else if text.is_empty() {
                text = "a".to_owned();
            }
            text
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..CLIENTS, filter(), 0u8..3).prop_map(|(client, filter, qos)| Op::Subscribe {
            client,
            filter,
            qos
        }),
        (0..CLIENTS, filter()).prop_map(|(client, filter)| Op::Unsubscribe { client, filter }),
        (0..CLIENTS, topic(), 0u8..3).prop_map(|(client, topic, qos)| Op::Publish {
            client,
            topic,
            qos
        }),
        (0..CLIENTS, topic(), 0u8..3).prop_map(|(client, topic, qos)| Op::Publish {
            client,
            topic,
            qos
        }),
    ]
}

/// The reference: does `filter` match `topic` under the profile?
fn reference_matches(filter: &str, topic: &str, aws: bool) -> bool {
    let parsed = TopicFilter::new(filter).unwrap();
    if !parsed.matches(topic) {
        return false;
    }
    // AWS: `x/#` does not match `x` itself.
    let parent_case =
        filter.ends_with("/#") && filter.split('/').count() == topic.split('/').count() + 1;
    !(aws && parent_case)
}

fn run(profile: Profile, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let aws = profile == Profile::Aws;
    let max_qos = if aws { 1 } else { 2 };
    let mut sim = Sim::new(profile);
    let conns: Vec<ConnId> = (0..CLIENTS)
        .map(|i| sim.connect(&format!("c{i}"), Protocol::V311, true).0)
        .collect();
    let mut model: BTreeMap<(usize, String), u8> = BTreeMap::new();
    for op in ops {
        match op {
            Op::Subscribe {
                client,
                filter,
                qos,
            } => {
                let qos = qos.min(max_qos);
                let outcome =
                    sim.subscribe(conns[client], &[(&filter, QoS::from_u8(qos).unwrap())]);
                prop_assert!(
                    matches!(outcome, SubscribeOutcome::SubAck(_)),
                    "{outcome:?}"
                );
                model.insert((client, filter), qos);
            }
            Op::Unsubscribe { client, filter } => {
                sim.unsubscribe(conns[client], &[&filter]);
                model.remove(&(client, filter));
            }
            Op::Publish { client, topic, qos } => {
                let qos = qos.min(max_qos);
                let outcome = sim.publish(
                    conns[client],
                    &topic,
                    b"p",
                    QoS::from_u8(qos).unwrap(),
                    false,
                );
                prop_assert!(
                    matches!(outcome, PublishOutcome::Accepted(_)),
                    "{outcome:?}"
                );
                let mut expected: BTreeMap<ConnId, u8> = BTreeMap::new();
                for ((c, f), q) in &model {
                    if reference_matches(f, &topic, aws) {
                        let e = expected.entry(conns[*c]).or_insert(0);
                        *e = (*e).max(*q);
                    }
                }
                let expected: Vec<(ConnId, u8)> =
                    expected.into_iter().map(|(c, q)| (c, q.min(qos))).collect();
                let mut actual: Vec<(ConnId, u8)> = sim
                    .deliveries()
                    .into_iter()
                    .map(|g| (g.conn, g.qos as u8))
                    .collect();
                actual.sort();
                prop_assert_eq!(actual, expected, "topic {:?}", topic);
            }
        }
        sim.effects();
    }
    prop_assert_eq!(sim.broker.stats().subscriptions, model.len());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn mqtt_routing_agrees_with_the_reference_matcher(ops in prop::collection::vec(op(), 1..60)) {
        run(Profile::Mqtt, ops)?;
    }

    #[test]
    fn aws_routing_agrees_with_the_reference_matcher(ops in prop::collection::vec(op(), 1..60)) {
        run(Profile::Aws, ops)?;
    }

    #[test]
    fn every_matching_shared_group_gets_exactly_one_copy(
        members in prop::collection::vec((0..CLIENTS, prop::sample::select(vec!["g", "h"]), filter()), 1..12),
        topics in prop::collection::vec(topic(), 1..10),
    ) {
        let mut sim = Sim::mqtt();
        let conns: Vec<ConnId> =
            (0..CLIENTS).map(|i| sim.connect(&format!("c{i}"), Protocol::V5, true).0).collect();
        let mut groups: BTreeMap<(String, String), Vec<ConnId>> = BTreeMap::new();
        for (client, group, filter) in members {
            let shared = format!("$share/{group}/{filter}");
            sim.subscribe(conns[client], &[(&shared, QoS::AtMostOnce)]);
            let list = groups.entry((group.to_owned(), filter)).or_default();
            if !list.contains(&conns[client]) {
                list.push(conns[client]);
            }
        }
        sim.effects();
        for topic in topics {
            sim.publish(conns[0], &topic, b"p", QoS::AtMostOnce, false);
            let got = sim.deliveries();
            let matching: Vec<&Vec<ConnId>> = groups
                .iter()
                .filter(|((_, f), _)| reference_matches(f, &topic, false))
                .map(|(_, m)| m)
                .collect();
            prop_assert_eq!(got.len(), matching.len(), "topic {:?}", topic);
            for g in &got {
                prop_assert!(matching.iter().any(|m| m.contains(&g.conn)));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn random_broker_sequences_keep_the_invariants(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let outcome = broker_core::fuzz::broker_sequence(&data);
        prop_assert!(outcome.is_ok(), "{:?}", outcome);
    }
}
