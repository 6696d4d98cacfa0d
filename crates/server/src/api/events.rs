//! Registry events: DescribeEventConfigurations and UpdateEventConfigurations
//! (`/event-configurations`), and the publication of the events the enabled types call for when
//! the API changes the registry: `THING`, `THING_TYPE`, `THING_TYPE_ASSOCIATION`,
//! `THING_GROUP`, `THING_GROUP_MEMBERSHIP` and `THING_GROUP_HIERARCHY`. The payloads are built
//! by `iot_services::registry_events`; the router publishes them like any server message, so
//! subscribers need `iot:Receive` on the event topics as in AWS.

use broker_core::Message;
use bytes::Bytes;
use iot_services::OutMessage;
use iot_services::registry_events::groups::{self, Change, GroupRef};
use iot_services::registry_events::{self, EventConfigurations, Operation};
use mqtt_proto::{QoS, TopicName};
use serde_json::{Map, Value, json};
use store::{Membership, Thing, ThingGroup, ThingType};
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

/// Publishes the thing type event for `operation` when THING_TYPE events are enabled.
pub(super) fn thing_type_changed(api: &Api, operation: Operation, thing_type: &ThingType) {
    if !enabled(api, "THING_TYPE") {
        return;
    }
    let event = groups::thing_type_event(
        operation,
        &api.arns.account,
        &groups::ThingType {
            name: &thing_type.name,
            id: &thing_type.type_id,
            deprecated: thing_type.deprecated,
            deprecation_ms: thing_type.deprecated_ms,
            searchable_attributes: &thing_type.searchable_attributes,
            description: thing_type.description.as_deref(),
        },
        random_16(),
        super::now_ms(),
    );
    publish(api, event);
}

/// Publishes that `thing` got (`associated`) or lost the type `type_name`, when
/// THING_TYPE_ASSOCIATION events are enabled.
pub(super) fn type_association(api: &Api, thing: &Thing, type_name: &str, associated: bool) {
    if !enabled(api, "THING_TYPE_ASSOCIATION") {
        return;
    }
    let event = groups::thing_type_association_event(
        associated,
        &thing.name,
        &thing.thing_id,
        type_name,
        random_16(),
        super::now_ms(),
    );
    publish(api, event);
}

/// Publishes the thing group event for `operation` when THING_GROUP events are enabled.
/// `ancestors` are the group's, root first.
pub(super) fn thing_group_changed(
    api: &Api,
    operation: Operation,
    group: &ThingGroup,
    ancestors: &[ThingGroup],
) {
    if !enabled(api, "THING_GROUP") {
        return;
    }
    let root_to_parent: Vec<(String, String)> = ancestors
        .iter()
        .map(|g| (api.arns.thing_group(&g.name), g.group_id.clone()))
        .collect();
    let parent = ancestors.last().map(|p| GroupRef {
        name: &p.name,
        id: &p.group_id,
    });
    let event = groups::thing_group_event(
        operation,
        &api.arns.account,
        &groups::ThingGroup {
            group: GroupRef {
                name: &group.name,
                id: &group.group_id,
            },
            version: group.version,
            parent,
            description: group.description.as_deref(),
            root_to_parent: &root_to_parent,
            attributes: &group.attributes,
        },
        random_16(),
        super::now_ms(),
    );
    publish(api, event);
}

/// Publishes that `child` was created under (added) or deleted from (removed) `parent`, when
/// THING_GROUP_HIERARCHY events are enabled.
pub(super) fn hierarchy_changed(
    api: &Api,
    change: Change,
    parent: &ThingGroup,
    child: &ThingGroup,
) {
    if !enabled(api, "THING_GROUP_HIERARCHY") {
        return;
    }
    let event = groups::hierarchy_event(
        change,
        &api.arns.account,
        GroupRef {
            name: &parent.name,
            id: &parent.group_id,
        },
        GroupRef {
            name: &child.name,
            id: &child.group_id,
        },
        random_16(),
        super::now_ms(),
    );
    publish(api, event);
}

/// Publishes a membership event when THING_GROUP_MEMBERSHIP events are enabled.
pub(super) fn membership_changed(api: &Api, change: Change, membership: &Membership) {
    if !enabled(api, "THING_GROUP_MEMBERSHIP") {
        return;
    }
    let group_arn = api.arns.thing_group(&membership.group);
    let thing_arn = api.arns.thing(&membership.thing);
    let event = groups::membership_event(
        change,
        &api.arns.account,
        &groups::Membership {
            group_name: &membership.group,
            group_arn: &group_arn,
            group_id: &membership.group_id,
            thing_name: &membership.thing,
            thing_arn: &thing_arn,
            thing_id: &membership.thing_id,
            membership_id: &membership.membership_id,
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
