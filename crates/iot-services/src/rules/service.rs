//! The topic rule operations of the `iot` control plane, written once over the store's
//! [`ServiceTx`] and the [`Engine`]: CreateTopicRule, GetTopicRule, ListTopicRules,
//! ReplaceTopicRule, DeleteTopicRule, EnableTopicRule, DisableTopicRule. Each returns the
//! answer's JSON as botocore's `iot` model shapes it, or a [`RuleError`]. The engine changes
//! with the store, in the same request, so the next publish sees the rule; the server replaces
//! the broker's routes after the commit. Destinations are in `destination.rs`.

use serde_json::{Map, Value, json};
use store::{PageRequest, ServiceTx, StoredRule};

use super::RuleError;
use super::action::ActionKind;
use super::destination;
use super::engine::Engine;
use super::rule::{TopicRule, check_rule_name};

/// Epoch seconds with a fractional part, as AWS's JSON timestamps are.
pub(super) fn timestamp(ms: i64) -> Value {
    #[allow(clippy::cast_precision_loss)]
    let secs = ms as f64 / 1000.0;
    serde_json::Number::from_f64(secs).map_or(Value::Null, Value::Number)
}

impl Engine {
    /// `arn:aws:iot:REGION:ACCOUNT:rule/NAME`.
    pub fn rule_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:iot:{}:{}:rule/{name}",
            self.config.region, self.config.account_id
        )
    }
}

/// CreateTopicRule. `fresh` is random material for the destinations an `http` action creates.
pub fn create_rule(
    tx: &ServiceTx<'_>,
    engine: &mut Engine,
    name: &str,
    payload: &Value,
    now_ms: i64,
    fresh: [u8; 32],
) -> Result<Value, RuleError> {
    check_rule_name(name)?;
    if tx.topic_rule(name)?.is_some() {
        return Err(RuleError::already_exists(format!(
            "Rule {name} already exists; change it with ReplaceTopicRule or delete it first"
        )));
    }
    let rule = TopicRule::parse(name, payload, now_ms)?;
    store_rule(tx, engine, rule, now_ms, fresh)?;
    Ok(json!({}))
}

/// ReplaceTopicRule: a new payload for an existing rule (its creation time stays).
pub fn replace_rule(
    tx: &ServiceTx<'_>,
    engine: &mut Engine,
    name: &str,
    payload: &Value,
    now_ms: i64,
    fresh: [u8; 32],
) -> Result<Value, RuleError> {
    check_rule_name(name)?;
    let existing = tx
        .topic_rule(name)?
        .ok_or_else(|| RuleError::no_such_rule(name))?;
    let rule = TopicRule::parse(name, payload, existing.created_ms)?;
    store_rule(tx, engine, rule, now_ms, fresh)?;
    Ok(json!({}))
}

/// Writes `rule`, creates the destinations its literal `http` URLs need (as AWS does: "AWS IoT
/// creates a topic rule destination for url"), and puts it in the engine.
fn store_rule(
    tx: &ServiceTx<'_>,
    engine: &mut Engine,
    rule: TopicRule,
    now_ms: i64,
    fresh: [u8; 32],
) -> Result<(), RuleError> {
    let urls: Vec<String> = rule
        .actions
        .iter()
        .chain(rule.error_action.iter())
        .filter_map(|a| match &a.kind {
            ActionKind::Http(h) => h.literal_confirmation_url(),
            _ => None,
        })
        .collect();
    for (i, url) in urls.iter().enumerate() {
        if tx.rule_destination_by_url(url)?.is_none() {
            let mut material = fresh;
            if let Some(first) = material.first_mut() {
                *first = first.wrapping_add(u8::try_from(i % 256).unwrap_or(0));
            }
            destination::create_http(tx, engine, url, now_ms, material)?;
        }
    }
    tx.put_topic_rule(&StoredRule {
        name: rule.name.clone(),
        payload: rule.payload_json().to_string(),
        topic_pattern: rule.topic_pattern().map(str::to_owned),
        disabled: rule.disabled,
        created_ms: rule.created_ms,
    })?;
    engine.put_rule(rule);
    Ok(())
}

/// GetTopicRule.
pub fn get_rule(engine: &Engine, name: &str) -> Result<Value, RuleError> {
    let rule = engine
        .rule(name)
        .ok_or_else(|| RuleError::no_such_rule(name))?;
    let mut shown = match rule.payload_json() {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    shown.insert("ruleName".into(), Value::String(rule.name.clone()));
    shown.insert("createdAt".into(), timestamp(rule.created_ms));
    Ok(json!({ "ruleArn": engine.rule_arn(name), "rule": shown }))
}

/// ListTopicRules: sorted by name; `topic` keeps the rules whose FROM filter is exactly that
/// text (AWS documents the parameter only as "The topic"), `disabled` those in that state.
pub fn list_rules(
    tx: &ServiceTx<'_>,
    engine: &Engine,
    topic: Option<&str>,
    disabled: Option<bool>,
    page: &PageRequest,
) -> Result<Value, RuleError> {
    let found = tx.topic_rules(topic, disabled, page)?;
    let rules: Vec<Value> = found
        .items
        .iter()
        .map(|r| {
            let mut item = Map::new();
            item.insert("ruleArn".into(), Value::String(engine.rule_arn(&r.name)));
            item.insert("ruleName".into(), Value::String(r.name.clone()));
            if let Some(t) = &r.topic_pattern {
                item.insert("topicPattern".into(), Value::String(t.clone()));
            }
            item.insert("createdAt".into(), timestamp(r.created_ms));
            item.insert("ruleDisabled".into(), Value::Bool(r.disabled));
            Value::Object(item)
        })
        .collect();
    let mut out = Map::new();
    out.insert("rules".into(), Value::Array(rules));
    if let Some(token) = found.next_token {
        out.insert("nextToken".into(), Value::String(token));
    }
    Ok(Value::Object(out))
}

/// DeleteTopicRule.
pub fn delete_rule(
    tx: &ServiceTx<'_>,
    engine: &mut Engine,
    name: &str,
) -> Result<Value, RuleError> {
    if !tx.delete_topic_rule(name)? {
        return Err(RuleError::no_such_rule(name));
    }
    engine.remove_rule(name);
    Ok(json!({}))
}

/// EnableTopicRule (`enabled`) or DisableTopicRule.
pub fn set_rule_enabled(
    tx: &ServiceTx<'_>,
    engine: &mut Engine,
    name: &str,
    enabled: bool,
) -> Result<Value, RuleError> {
    let mut stored = tx
        .topic_rule(name)?
        .ok_or_else(|| RuleError::no_such_rule(name))?;
    let Some(mut rule) = engine.rule(name).cloned() else {
        return Err(RuleError::no_such_rule(name));
    };
    rule.disabled = !enabled;
    stored.disabled = !enabled;
    stored.payload = rule.payload_json().to_string();
    tx.put_topic_rule(&stored)?;
    engine.put_rule(rule);
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::Store;

    fn payload(sql: &str) -> Value {
        json!({"sql": sql, "actions": [{"republish": {"topic": "out/${topic(2)}", "roleArn": "r"}}]})
    }

    #[test]
    fn rules_are_created_read_listed_disabled_replaced_and_deleted() {
        let mut store = Store::open_in_memory().unwrap();
        let mut engine = Engine::default();
        store
            .services("test", |tx| {
                create_rule(
                    tx,
                    &mut engine,
                    "r1",
                    &payload("SELECT * FROM 'a/+'"),
                    1000,
                    [0; 32],
                )
                .unwrap();
                create_rule(
                    tx,
                    &mut engine,
                    "r2",
                    &payload("SELECT * FROM 'b'"),
                    2000,
                    [0; 32],
                )
                .unwrap();
                let e = create_rule(
                    tx,
                    &mut engine,
                    "r1",
                    &payload("SELECT * FROM 'x'"),
                    0,
                    [0; 32],
                )
                .unwrap_err();
                assert_eq!(e.exception, "ResourceAlreadyExistsException");
                assert_eq!(engine.filters(), ["a/+", "b"]);
                let got = get_rule(&engine, "r1").unwrap();
                assert_eq!(got["ruleArn"], "arn:aws:iot:us-east-1:123456789012:rule/r1");
                assert_eq!(got["rule"]["sql"], "SELECT * FROM 'a/+'");
                assert_eq!(got["rule"]["createdAt"], 1.0);
                set_rule_enabled(tx, &mut engine, "r1", false).unwrap();
                assert_eq!(engine.filters(), ["b"]);
                let listed =
                    list_rules(tx, &engine, None, Some(true), &PageRequest::first(10)).unwrap();
                assert_eq!(listed["rules"][0]["ruleName"], "r1");
                assert_eq!(listed["rules"][0]["topicPattern"], "a/+");
                replace_rule(
                    tx,
                    &mut engine,
                    "r2",
                    &payload("SELECT * FROM 'c/#'"),
                    3000,
                    [0; 32],
                )
                .unwrap();
                assert_eq!(get_rule(&engine, "r2").unwrap()["rule"]["createdAt"], 2.0);
                assert_eq!(engine.filters(), ["c/#"]);
                delete_rule(tx, &mut engine, "r2").unwrap();
                assert_eq!(
                    delete_rule(tx, &mut engine, "r2").unwrap_err().exception,
                    "UnauthorizedException"
                );
                assert_eq!(get_rule(&engine, "r2").unwrap_err().status, 401);
                Ok(())
            })
            .unwrap();
        let mut reloaded = Engine::default();
        store.services("load", |tx| reloaded.load(tx)).unwrap();
        assert!(
            reloaded.rule("r1").unwrap().disabled,
            "the disabled state survives a reload"
        );
        assert!(reloaded.rule("r2").is_none());
    }

    #[test]
    fn a_literal_http_url_gets_a_destination_waiting_for_confirmation() {
        let mut store = Store::open_in_memory().unwrap();
        let mut engine = Engine::default();
        let payload = json!({"sql": "SELECT * FROM 'a'",
            "actions": [{"http": {"url": "https://h.example/in"}}]});
        store
            .services("test", |tx| {
                create_rule(tx, &mut engine, "h", &payload, 1, [7; 32]).unwrap();
                let d = tx.rule_destination_by_url("https://h.example/in")?.unwrap();
                assert_eq!(d.status, "IN_PROGRESS");
                Ok(())
            })
            .unwrap();
        let network = engine.take_network();
        assert_eq!(network.len(), 1, "the confirmation request is sent");
    }
}
