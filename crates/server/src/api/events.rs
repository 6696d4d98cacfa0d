//! Registry events: DescribeEventConfigurations and UpdateEventConfigurations
//! (`/event-configurations`), and the publication of the events the enabled types call for when
//! the API changes the registry (today: things, `$aws/events/thing/{name}/…`). The payloads are
//! built by `iot_services::registry_events`; the router publishes them like any server message,
//! so subscribers need `iot:Receive` on the event topics as in AWS.

use broker_core::Message;
use bytes::Bytes;
use iot_services::OutMessage;
use iot_services::registry_events::{self, EventConfigurations, Operation};
use mqtt_proto::{QoS, TopicName};
use serde_json::{Map, Value, json};
use store::Thing;
use tokio::sync::oneshot;

use super::{Api, ApiError, Request, random_16, timestamp};
use crate::mqtt::router::Command;

/// DescribeEventConfigurations: `GET /event-configurations`.
pub(super) fn describe(api: &Api) -> Result<Value, ApiError> {
    let record = api.registry(|s| s.event_configurations())?;
    let configurations = EventConfigurations::from_pairs(record.enabled);
    let mut out = Map::new();
    out.insert("eventConfigurations".into(), configurations.describe());
    if let Some(ms) = record.created_ms {
        out.insert("creationDate".into(), timestamp(ms));
    }
    if let Some(ms) = record.modified_ms {
        out.insert("lastModifiedDate".into(), timestamp(ms));
    }
    Ok(Value::Object(out))
}

/// UpdateEventConfigurations: `PATCH /event-configurations`.
pub(super) fn update(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let body = Value::Object(req.json()?);
    let changes = EventConfigurations::parse_update(&body)
        .map_err(|e| ApiError::invalid_request(e.to_string()))?;
    api.registry(|s| s.set_event_configurations(&changes, super::now_ms()))?;
    Ok(json!({}))
}

/// Publishes the thing event for `operation` when THING events are enabled. A failure to read
/// the configuration or to reach the router is logged: the registry change itself stands.
pub(super) fn thing_changed(api: &Api, operation: Operation, thing: &Thing) {
    if !enabled(api, "THING") {
        return;
    }
    let event = registry_events::thing_event(
        operation,
        &api.arns.account,
        &registry_events::Thing {
            name: &thing.name,
            id: &thing.thing_id,
            version: thing.version,
            thing_type: thing.thing_type.as_deref(),
            attributes: &thing.attributes,
        },
        random_16(),
        super::now_ms(),
    );
    publish(api, event);
}

fn enabled(api: &Api, event_type: &str) -> bool {
    match api.registry(|s| s.event_configurations()) {
        Ok(record) => EventConfigurations::from_pairs(record.enabled).is_enabled(event_type),
        Err(e) => {
            tracing::warn!("cannot read the event configurations; no {event_type} event: {e}");
            false
        }
    }
}

/// Hands an event to the router without waiting for it to be routed.
fn publish(api: &Api, event: OutMessage) {
    let Ok(topic) = TopicName::new(&event.topic) else {
        tracing::error!("a registry event has an invalid topic {:?}", event.topic);
        return;
    };
    let message = Message::new(topic, Bytes::from(event.payload), QoS::AtMostOnce, false);
    let (reply, _) = oneshot::channel();
    if api
        .router
        .blocking_send(Command::ServerPublish { message, reply })
        .is_err()
    {
        tracing::warn!("the broker is shutting down; a registry event was not published");
    }
}
