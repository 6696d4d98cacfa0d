//! Registry events (developer guide, "Registry events"): the messages AWS IoT publishes when
//! registry resources change — `$aws/events/thing/{thingName}/created|updated|deleted` with a
//! `THING_EVENT` payload here, thing types, thing groups, their memberships and hierarchy in
//! [`groups`] — and the account's event configurations (UpdateEventConfigurations /
//! DescribeEventConfigurations), every type off until enabled, as in AWS. Pure: the server
//! passes the resource, the event id material and `now`, and publishes what comes back.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::OutMessage;

pub mod groups;

/// The event types AWS's `EventConfigurations` names, in its order.
pub const EVENT_TYPES: [&str; 11] = [
    "THING",
    "THING_GROUP",
    "THING_TYPE",
    "THING_GROUP_MEMBERSHIP",
    "THING_GROUP_HIERARCHY",
    "THING_TYPE_ASSOCIATION",
    "JOB",
    "JOB_EXECUTION",
    "POLICY",
    "CERTIFICATE",
    "CA_CERTIFICATE",
];

/// Which event types are enabled. Every type is off until enabled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventConfigurations {
    enabled: BTreeMap<String, bool>,
}

/// An UpdateEventConfigurations body that AWS would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigurationError(String);

impl EventConfigurations {
    /// From stored `(type, enabled)` pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, bool)>) -> EventConfigurations {
        EventConfigurations {
            enabled: pairs.into_iter().collect(),
        }
    }

    /// Whether events of `event_type` (`THING`, ...) are published.
    pub fn is_enabled(&self, event_type: &str) -> bool {
        self.enabled.get(event_type).copied().unwrap_or(false)
    }

    /// The changes an UpdateEventConfigurations body asks for:
    /// `{"eventConfigurations": {"THING": {"Enabled": true}, ...}}`. Types left out keep their
    /// setting.
    pub fn parse_update(body: &Value) -> Result<Vec<(String, bool)>, ConfigurationError> {
        let Some(configurations) = body.get("eventConfigurations") else {
            return Ok(Vec::new());
        };
        let Value::Object(configurations) = configurations else {
            return Err(ConfigurationError(
                "eventConfigurations must be an object of event types".to_owned(),
            ));
        };
        let mut changes = Vec::new();
        for (event_type, configuration) in configurations {
            if !EVENT_TYPES.contains(&event_type.as_str()) {
                return Err(ConfigurationError(format!(
                    "{event_type:?} is not an event type; use one of {}",
                    EVENT_TYPES.join(", ")
                )));
            }
            match configuration.get("Enabled") {
                Some(Value::Bool(enabled)) => changes.push((event_type.clone(), *enabled)),
                None | Some(Value::Null) => {}
                Some(_) => {
                    return Err(ConfigurationError(format!(
                        "eventConfigurations.{event_type}.Enabled must be true or false"
                    )));
                }
            }
        }
        Ok(changes)
    }

    /// Applies changes from [`EventConfigurations::parse_update`].
    pub fn apply(&mut self, changes: &[(String, bool)]) {
        for (event_type, enabled) in changes {
            self.enabled.insert(event_type.clone(), *enabled);
        }
    }

    /// The `eventConfigurations` member of DescribeEventConfigurations: every type.
    pub fn describe(&self) -> Value {
        let map: Map<String, Value> = EVENT_TYPES
            .iter()
            .map(|t| ((*t).to_owned(), json!({ "Enabled": self.is_enabled(t) })))
            .collect();
        Value::Object(map)
    }
}

/// What happened to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Created.
    Created,
    /// Updated.
    Updated,
    /// Deleted.
    Deleted,
}

impl Operation {
    fn upper(self) -> &'static str {
        match self {
            Operation::Created => "CREATED",
            Operation::Updated => "UPDATED",
            Operation::Deleted => "DELETED",
        }
    }

    fn lower(self) -> &'static str {
        match self {
            Operation::Created => "created",
            Operation::Updated => "updated",
            Operation::Deleted => "deleted",
        }
    }
}

/// A thing as its events describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thing<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its id.
    pub id: &'a str,
    /// Its version (1 when created, + 1 per update).
    pub version: i64,
    /// Its thing type, if any.
    pub thing_type: Option<&'a str>,
    /// Its attributes.
    pub attributes: &'a BTreeMap<String, String>,
}

/// The `THING_EVENT` on `$aws/events/thing/{name}/{operation}`. `event_id` is random material
/// for the event's id.
pub fn thing_event(
    operation: Operation,
    account: &str,
    thing: &Thing<'_>,
    event_id: [u8; 16],
    now_ms: i64,
) -> OutMessage {
    let payload = json!({
        "eventType": "THING_EVENT",
        "eventId": uuid_text(&event_id),
        "timestamp": now_ms,
        "operation": operation.upper(),
        "accountId": account,
        "thingId": thing.id,
        "thingName": thing.name,
        "versionNumber": thing.version,
        "thingTypeName": thing.thing_type,
        "attributes": thing.attributes,
    });
    OutMessage::json(
        format!("$aws/events/thing/{}/{}", thing.name, operation.lower()),
        &payload,
    )
}

/// 16 bytes as a version-4 UUID in AWS's text form (`f5ae9b94-8b8e-4d8e-8c8f-b3266dd89853`).
pub fn uuid_text(bytes: &[u8; 16]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(36);
    for (at, byte) in bytes.iter().enumerate() {
        let byte = match at {
            6 => (byte & 0x0f) | 0x40,
            8 => (byte & 0x3f) | 0x80,
            _ => *byte,
        };
        if matches!(at, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_start_off_and_change_only_what_is_named() {
        let mut config = EventConfigurations::default();
        assert!(!config.is_enabled("THING"));
        let changes = EventConfigurations::parse_update(&json!({
            "eventConfigurations": {"THING": {"Enabled": true}, "JOB": {}}
        }))
        .unwrap();
        config.apply(&changes);
        assert!(config.is_enabled("THING"));
        assert!(!config.is_enabled("JOB"));
        let described = config.describe();
        assert_eq!(described["THING"], json!({"Enabled": true}));
        assert_eq!(described["CA_CERTIFICATE"], json!({"Enabled": false}));
        assert_eq!(described.as_object().unwrap().len(), EVENT_TYPES.len());
    }

    #[test]
    fn unknown_types_and_bad_values_are_refused_with_the_type_named() {
        let unknown = EventConfigurations::parse_update(&json!({
            "eventConfigurations": {"THINGS": {"Enabled": true}}
        }))
        .unwrap_err();
        assert!(unknown.to_string().contains("\"THINGS\""), "{unknown}");
        let bad = EventConfigurations::parse_update(&json!({
            "eventConfigurations": {"THING": {"Enabled": "yes"}}
        }))
        .unwrap_err();
        assert!(bad.to_string().contains("THING.Enabled"), "{bad}");
    }

    #[test]
    fn a_thing_event_has_awss_shape() {
        let attributes = BTreeMap::from([("a".to_owned(), "1".to_owned())]);
        let thing = Thing {
            name: "lamp",
            id: "b604f69c",
            version: 2,
            thing_type: None,
            attributes: &attributes,
        };
        let message = thing_event(Operation::Updated, "123456789012", &thing, [0; 16], 7);
        assert_eq!(message.topic, "$aws/events/thing/lamp/updated");
        let payload: Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(
            payload,
            json!({
                "eventType": "THING_EVENT",
                "eventId": "00000000-0000-4000-8000-000000000000",
                "timestamp": 7,
                "operation": "UPDATED",
                "accountId": "123456789012",
                "thingId": "b604f69c",
                "thingName": "lamp",
                "versionNumber": 2,
                "thingTypeName": null,
                "attributes": {"a": "1"}
            })
        );
    }
}
