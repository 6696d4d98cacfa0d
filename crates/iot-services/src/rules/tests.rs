//! The engine firing rules for publishes, over an in-memory store: WHERE filters, templates
//! render from the original message, Basic Ingest reaches its rule only, failures reach the
//! errorAction in AWS's shape, actions tether does not run are reported, loops stop.

use serde_json::{Value, json};
use store::Store;

use super::*;
use crate::{OutMessage, RULES, Request};

fn request<'a>(topic: &'a str, payload: &'a [u8], hops: u8) -> Request<'a> {
    Request {
        service: RULES,
        conn: Some(1),
        client_id: Some("dev-1"),
        principal: Some("abc123"),
        topic,
        payload,
        in_flight: 0,
        hops,
    }
}

struct World {
    store: Store,
    engine: Engine,
}

impl World {
    fn new(rules: &[(&str, Value)]) -> World {
        let mut store = Store::open_in_memory().unwrap();
        let mut engine = Engine::default();
        store
            .services("create", |tx| {
                for (name, payload) in rules {
                    create_rule(tx, &mut engine, name, payload, 1, [9; 32]).unwrap();
                }
                Ok(())
            })
            .unwrap();
        engine.take_network();
        World { store, engine }
    }

    fn publish(&mut self, topic: &str, payload: &[u8], hops: u8) -> Vec<OutMessage> {
        let engine = &mut self.engine;
        self.store
            .services("publish", |tx| {
                Ok(engine
                    .publish(tx, &request(topic, payload, hops), 1_700_000_000_000)
                    .publish)
            })
            .unwrap()
    }
}

fn republish_rule(sql: &str, topic: &str) -> Value {
    json!({"sql": sql, "awsIotSqlVersion": "2016-03-23",
        "actions": [{"republish": {"topic": topic, "roleArn": "r", "qos": 1}}]})
}

#[test]
fn where_filters_and_the_topic_template_renders_from_the_original_message() {
    let mut world = World::new(&[(
        "hot",
        republish_rule(
            "SELECT temp, topic(2) AS device, clientid() AS c FROM 'sensors/+/data' WHERE temp > 30",
            "alerts/${topic(2)}",
        ),
    )]);
    assert!(
        world
            .publish("sensors/d7/data", br#"{"temp": 20}"#, 0)
            .is_empty()
    );
    let out = world.publish("sensors/d7/data", br#"{"temp": 35}"#, 0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].topic, "alerts/d7");
    assert_eq!(out[0].qos, 1);
    assert_eq!(out[0].hops, 1);
    let body: Value = serde_json::from_slice(&out[0].payload).unwrap();
    assert_eq!(body, json!({"temp": 35, "device": "d7", "c": "dev-1"}));
    assert!(
        world
            .publish("sensors/d7/other", br#"{"temp": 99}"#, 0)
            .is_empty()
    );
    assert_eq!(world.engine.take_counts().fired, 1);
}

#[test]
fn basic_ingest_reaches_only_the_named_rule_and_topic_drops_the_prefix() {
    let mut world = World::new(&[
        (
            "ingest",
            republish_rule("SELECT topic() AS t FROM 'ignored'", "seen/ingest"),
        ),
        ("other", republish_rule("SELECT * FROM '#'", "seen/other")),
    ]);
    let out = world.publish("$aws/rules/ingest/a/b", b"{}", 0);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].topic, "seen/ingest");
    assert_eq!(
        serde_json::from_slice::<Value>(&out[0].payload).unwrap(),
        json!({"t": "a/b"})
    );
    assert!(
        world
            .publish("$aws/rules/nosuchrule/x", b"{}", 0)
            .is_empty()
    );
}

#[test]
fn an_action_tether_does_not_run_is_reported_to_the_error_action() {
    let mut world = World::new(&[(
        "store_it",
        json!({"sql": "SELECT * FROM 'data/#'",
            "actions": [{"dynamoDBv2": {"roleArn": "r", "putItem": {"tableName": "readings"}}}],
            "errorAction": {"republish": {"topic": "errors/${topic(2)}", "roleArn": "r"}}}),
    )]);
    let out = world.publish("data/x", br#"{"v": 1}"#, 0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].topic, "errors/x");
    let error: Value = serde_json::from_slice(&out[0].payload).unwrap();
    assert_eq!(error["ruleName"], "store_it");
    assert_eq!(error["topic"], "data/x");
    assert_eq!(error["clientId"], "dev-1");
    assert_eq!(error["base64OriginalPayload"], "eyJ2IjogMX0=");
    let failure = &error["failures"][0];
    assert_eq!(failure["failedAction"], "DynamoDBv2Action");
    assert_eq!(failure["failedResource"], "readings");
    assert!(
        failure["errorMessage"]
            .as_str()
            .unwrap()
            .contains("not executed")
    );
    let counts = world.engine.take_counts();
    assert_eq!((counts.not_executed, counts.failed), (1, 1));
}

#[test]
fn a_republish_loop_stops_after_the_bound() {
    let mut world = World::new(&[(
        "echo",
        republish_rule("SELECT * FROM 'loop/#'", "loop/again"),
    )]);
    let mut hops = 0;
    let mut rounds = 0;
    loop {
        let out = world.publish("loop/again", b"{}", hops);
        if out.is_empty() {
            break;
        }
        hops = out[0].hops;
        rounds += 1;
        assert!(rounds <= usize::from(MAX_HOPS) + 1, "the loop did not stop");
    }
    assert_eq!(rounds, usize::from(MAX_HOPS) + 1);
    assert_eq!(world.engine.take_counts().loops_stopped, 1);
}

#[test]
fn http_actions_need_an_enabled_destination_and_render_url_and_headers() {
    let rule = json!({"sql": "SELECT * FROM 'h/+'",
        "actions": [{"http": {"url": "https://recv.example/in/${topic(2)}",
            "confirmationUrl": "https://recv.example/in",
            "headers": [{"key": "x-device", "value": "${clientid()}"}]}}]});
    let mut world = World::new(&[("web", rule)]);
    // The literal confirmation URL got a destination at creation, waiting for confirmation:
    // until it is confirmed the action fails.
    assert!(world.publish("h/a", b"{}", 0).is_empty());
    assert!(world.engine.take_network().is_empty());
    assert_eq!(world.engine.take_counts().failed, 1);
    let engine = &mut world.engine;
    world
        .store
        .services("dest", |tx| {
            let config =
                json!({"httpUrlConfiguration": {"confirmationUrl": "https://recv.example/in"}});
            let again = create_destination(tx, engine, &config, 1, [5; 32]).unwrap_err();
            assert_eq!(again.exception, "ResourceAlreadyExistsException");
            let token: String = [9u8; 32].iter().map(|b| format!("{b:02x}")).collect();
            confirm_destination(tx, engine, &token, 2).unwrap();
            Ok(())
        })
        .unwrap();
    world.engine.take_network();
    assert!(world.publish("h/a", br#"{"x":1}"#, 0).is_empty());
    let batches = world.engine.take_network();
    assert_eq!(batches.len(), 1);
    let Call::Http(call) = &batches[0].calls[0] else {
        panic!("{batches:?}")
    };
    assert_eq!(call.url, "https://recv.example/in/a");
    assert!(call.headers.contains(&("x-device".into(), "dev-1".into())));
    assert!(
        call.headers
            .contains(&("content-type".into(), "application/json".into()))
    );
    assert_eq!(call.body, br#"{"x":1}"#);
    assert_eq!(batches[0].on_error.as_ref().unwrap().rule, "web");
}

#[test]
fn republish_headers_become_mqtt5_properties() {
    let rule = json!({"sql": "SELECT * FROM 'in'", "actions": [{"republish": {"topic": "out",
        "roleArn": "r", "headers": {"contentType": "application/json",
        "payloadFormatIndicator": "UTF8_DATA", "correlationData": "AQID",
        "messageExpiry": "${ttl}", "responseTopic": "reply/${topic()}",
        "userProperties": [{"key": "device", "value": "${clientid()}"}]}}}]});
    let mut world = World::new(&[("h", rule)]);
    let out = world.publish("in", br#"{"ttl": 60}"#, 0);
    let headers = out[0].headers.as_ref().unwrap();
    assert_eq!(headers.content_type.as_deref(), Some("application/json"));
    assert_eq!(headers.payload_format_indicator, Some(1));
    assert_eq!(headers.correlation_data.as_deref(), Some(&[1u8, 2, 3][..]));
    assert_eq!(headers.message_expiry, Some(60));
    assert_eq!(headers.response_topic.as_deref(), Some("reply/in"));
    assert_eq!(
        headers.user_properties,
        [("device".to_owned(), "dev-1".to_owned())]
    );
}
