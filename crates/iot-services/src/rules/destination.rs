//! Topic rule destinations (http-action-destination.md): CreateTopicRuleDestination,
//! GetTopicRuleDestination, ListTopicRuleDestinations, UpdateTopicRuleDestination,
//! DeleteTopicRuleDestination and ConfirmTopicRuleDestination, over the store and the engine.
//! A new destination is `IN_PROGRESS` and its confirmation request (token and `enableUrl`) is
//! sent to its URL after the commit; confirming with the token enables it; `ENABLED` and
//! `DISABLED` switch as AWS allows; `IN_PROGRESS` again sends a new confirmation. Only HTTP
//! destinations: VPC and InfluxDB destinations are refused with the reason.

use serde_json::{Map, Value, json};
use store::{PageRequest, ServiceTx, StoredDestination};

use super::RuleError;
use super::engine::{DestinationState, Engine};
use super::network::{Call, ConfirmCall, NetworkBatch};
use super::service::timestamp;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A UUID (version 4 layout) from 16 random bytes.
fn uuid(b: &[u8; 32]) -> String {
    let h = hex(b);
    let part = |from: usize, to: usize| h.get(from..to).unwrap_or_default().to_owned();
    format!(
        "{}-{}-4{}-a{}-{}",
        part(0, 8),
        part(8, 12),
        part(13, 16),
        part(17, 20),
        part(20, 32)
    )
}

impl Engine {
    fn destination_arn(&self, id: &str) -> String {
        format!(
            "arn:aws:iot:{}:{}:ruledestination/http/{id}",
            self.config.region, self.config.account_id
        )
    }

    /// The URL that confirms a destination when fetched: tether's API route
    /// `GET /confirmdestination/{token}` (AWS: `https://iot.REGION.amazonaws.com/...`).
    fn enable_url(&self, token: &str) -> String {
        let base = self
            .config
            .api_base
            .as_deref()
            .unwrap_or("http://127.0.0.1:4580");
        format!("{}/confirmdestination/{token}", base.trim_end_matches('/'))
    }

    fn confirm(&mut self, d: &StoredDestination) {
        let call = ConfirmCall::new(
            &d.arn,
            &d.confirmation_url,
            &d.token,
            &self.enable_url(&d.token),
        );
        self.send(NetworkBatch {
            calls: vec![Call::Confirm(call)],
            failures: Vec::new(),
            on_error: None,
        });
    }

    fn track(&mut self, d: &StoredDestination) {
        self.destinations.insert(
            d.confirmation_url.clone(),
            DestinationState {
                arn: d.arn.clone(),
                status: d.status.clone(),
            },
        );
    }
}

/// Creates an `IN_PROGRESS` HTTP destination for `url` and queues its confirmation request.
pub(super) fn create_http(
    tx: &ServiceTx<'_>,
    engine: &mut Engine,
    url: &str,
    now_ms: i64,
    fresh: [u8; 32],
) -> Result<StoredDestination, RuleError> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(RuleError::invalid(format!(
            "confirmationUrl {url:?} must be an https:// URL (tether also accepts http://)"
        )));
    }
    let d = StoredDestination {
        arn: engine.destination_arn(&uuid(&fresh)),
        confirmation_url: url.to_owned(),
        status: "IN_PROGRESS".into(),
        status_reason: None,
        token: hex(&fresh),
        created_ms: now_ms,
        updated_ms: now_ms,
    };
    tx.put_rule_destination(&d)?;
    engine.track(&d);
    engine.confirm(&d);
    Ok(d)
}

/// The destination as the `iot` model's `TopicRuleDestination` (or its summary).
fn shape(d: &StoredDestination, summary: bool) -> Value {
    let mut out = Map::new();
    out.insert("arn".into(), Value::String(d.arn.clone()));
    out.insert("status".into(), Value::String(d.status.clone()));
    out.insert("createdAt".into(), timestamp(d.created_ms));
    out.insert("lastUpdatedAt".into(), timestamp(d.updated_ms));
    if let Some(reason) = &d.status_reason {
        out.insert("statusReason".into(), Value::String(reason.clone()));
    }
    let key = if summary {
        "httpUrlSummary"
    } else {
        "httpUrlProperties"
    };
    out.insert(key.into(), json!({ "confirmationUrl": d.confirmation_url }));
    Value::Object(out)
}

/// CreateTopicRuleDestination.
pub fn create_destination(
    tx: &ServiceTx<'_>,
    engine: &mut Engine,
    configuration: &Value,
    now_ms: i64,
    fresh: [u8; 32],
) -> Result<Value, RuleError> {
    let http = configuration.get("httpUrlConfiguration");
    let Some(url) = http
        .and_then(|h| h.get("confirmationUrl"))
        .and_then(Value::as_str)
    else {
        let other = ["vpcConfiguration", "influxDBConfiguration"]
            .into_iter()
            .find(|k| configuration.get(k).is_some());
        return Err(RuleError::invalid(match other {
            Some(kind) => format!(
                "destinationConfiguration.{kind}: tether serves HTTP destinations only \
                 (httpUrlConfiguration)"
            ),
            None => {
                "destinationConfiguration.httpUrlConfiguration.confirmationUrl is required".into()
            }
        }));
    };
    if let Some(existing) = tx.rule_destination_by_url(url)? {
        return Err(RuleError::already_exists(format!(
            "a topic rule destination for {url} already exists: {}",
            existing.arn
        )));
    }
    let d = create_http(tx, engine, url, now_ms, fresh)?;
    Ok(json!({ "topicRuleDestination": shape(&d, false) }))
}

fn existing(tx: &ServiceTx<'_>, arn: &str) -> Result<StoredDestination, RuleError> {
    tx.rule_destination(arn)?
        .ok_or_else(|| RuleError::no_such_destination(arn))
}

/// GetTopicRuleDestination.
pub fn get_destination(tx: &ServiceTx<'_>, arn: &str) -> Result<Value, RuleError> {
    let d = existing(tx, arn)?;
    Ok(json!({ "topicRuleDestination": shape(&d, false) }))
}

/// ListTopicRuleDestinations, sorted by ARN.
pub fn list_destinations(tx: &ServiceTx<'_>, page: &PageRequest) -> Result<Value, RuleError> {
    let found = tx.rule_destinations(page)?;
    let mut out = Map::new();
    out.insert(
        "destinationSummaries".into(),
        Value::Array(found.items.iter().map(|d| shape(d, true)).collect()),
    );
    if let Some(token) = found.next_token {
        out.insert("nextToken".into(), Value::String(token));
    }
    Ok(Value::Object(out))
}

/// UpdateTopicRuleDestination: `ENABLED` from `DISABLED`, `DISABLED` from `ENABLED` ("You can
/// only enable a destination that's in DISABLED status", and the reverse), `IN_PROGRESS` to
/// send a new confirmation request ("To trigger a new confirmation message"). Enabling an
/// unconfirmed destination is refused: only its token confirms it.
pub fn update_destination(
    tx: &ServiceTx<'_>,
    engine: &mut Engine,
    arn: &str,
    status: &str,
    now_ms: i64,
) -> Result<Value, RuleError> {
    let mut d = existing(tx, arn)?;
    match (d.status.as_str(), status) {
        ("DISABLED" | "ENABLED", "ENABLED") | ("ENABLED" | "DISABLED", "DISABLED") => {}
        (_, "IN_PROGRESS") => engine.confirm(&d),
        (current, "ENABLED" | "DISABLED") => {
            return Err(RuleError::invalid(format!(
                "destination {arn} is {current}: it must be confirmed first (its enableUrl, or \
                 ConfirmTopicRuleDestination with the token sent to {}) before it can be set to \
                 {status}",
                d.confirmation_url
            )));
        }
        (_, other) => {
            return Err(RuleError::invalid(format!(
                "status {other:?} cannot be set: use ENABLED, DISABLED or IN_PROGRESS"
            )));
        }
    }
    d.status = status.to_owned();
    d.status_reason = None;
    d.updated_ms = now_ms;
    tx.put_rule_destination(&d)?;
    engine.track(&d);
    Ok(json!({}))
}

/// DeleteTopicRuleDestination.
pub fn delete_destination(
    tx: &ServiceTx<'_>,
    engine: &mut Engine,
    arn: &str,
) -> Result<Value, RuleError> {
    let d = existing(tx, arn)?;
    tx.delete_rule_destination(arn)?;
    engine.destinations.remove(&d.confirmation_url);
    Ok(json!({}))
}

/// ConfirmTopicRuleDestination: the token sent to the URL enables the destination.
pub fn confirm_destination(
    tx: &ServiceTx<'_>,
    engine: &mut Engine,
    token: &str,
    now_ms: i64,
) -> Result<Value, RuleError> {
    let mut d = tx.rule_destination_by_token(token)?.ok_or_else(|| {
        RuleError::invalid(
            "the confirmation token matches no topic rule destination: use the token of the \
             latest confirmation request sent to the destination's URL",
        )
    })?;
    if d.status != "ENABLED" && d.status != "DISABLED" {
        d.status = "ENABLED".into();
        d.status_reason = None;
        d.updated_ms = now_ms;
        tx.put_rule_destination(&d)?;
        engine.track(&d);
    }
    Ok(json!({}))
}

/// The confirmation request of `arn` could not be delivered: the destination is `ERROR` with
/// the reason (AWS: "ERROR: Destination confirmation timed out").
pub fn confirmation_failed(
    tx: &ServiceTx<'_>,
    engine: &mut Engine,
    arn: &str,
    reason: &str,
    now_ms: i64,
) -> Result<(), RuleError> {
    let Some(mut d) = tx.rule_destination(arn)? else {
        return Ok(());
    };
    if d.status == "IN_PROGRESS" {
        d.status = "ERROR".into();
        d.status_reason = Some(reason.to_owned());
        d.updated_ms = now_ms;
        tx.put_rule_destination(&d)?;
        engine.track(&d);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::Store;

    #[test]
    fn a_destination_is_confirmed_by_its_token_then_disabled_and_enabled() {
        let mut store = Store::open_in_memory().unwrap();
        let mut engine = Engine::default();
        store
            .services("test", |tx| {
                let config = json!({"httpUrlConfiguration": {"confirmationUrl": "https://h/c"}});
                let created = create_destination(tx, &mut engine, &config, 1000, [3; 32]).unwrap();
                let arn = created["topicRuleDestination"]["arn"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                assert!(arn.contains(":ruledestination/http/"), "{arn}");
                assert_eq!(created["topicRuleDestination"]["status"], "IN_PROGRESS");
                let again = create_destination(tx, &mut engine, &config, 1000, [4; 32]);
                assert_eq!(
                    again.unwrap_err().exception,
                    "ResourceAlreadyExistsException"
                );
                let e = update_destination(tx, &mut engine, &arn, "ENABLED", 2).unwrap_err();
                assert!(e.message.contains("confirmed first"), "{e}");
                assert!(confirm_destination(tx, &mut engine, "wrong", 2).is_err());
                confirm_destination(tx, &mut engine, &hex(&[3; 32]), 2).unwrap();
                assert_eq!(
                    get_destination(tx, &arn).unwrap()["topicRuleDestination"]["status"],
                    "ENABLED"
                );
                update_destination(tx, &mut engine, &arn, "DISABLED", 3).unwrap();
                update_destination(tx, &mut engine, &arn, "ENABLED", 4).unwrap();
                let listed = list_destinations(tx, &PageRequest::first(10)).unwrap();
                assert_eq!(
                    listed["destinationSummaries"][0]["httpUrlSummary"]["confirmationUrl"],
                    "https://h/c"
                );
                delete_destination(tx, &mut engine, &arn).unwrap();
                assert!(get_destination(tx, &arn).is_err());
                Ok(())
            })
            .unwrap();
        let sent = engine.take_network();
        assert_eq!(sent.len(), 1);
        let Call::Confirm(c) = &sent[0].calls[0] else {
            panic!()
        };
        let body: Value = serde_json::from_slice(&c.body).unwrap();
        assert!(
            body["enableUrl"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/confirmdestination/{}", hex(&[3; 32])))
        );
    }
}
