//! The registry events of thing types and static thing groups (developer guide, "Registry
//! events"): `THING_TYPE_EVENT` on `$aws/events/thingType/{name}/created|updated|deleted`,
//! `THING_TYPE_ASSOCIATION_EVENT` on `$aws/events/thingTypeAssociation/thing/{thing}/{type}`,
//! `THING_GROUP_EVENT` on `$aws/events/thingGroup/{name}/created|updated|deleted`,
//! `THING_GROUP_MEMBERSHIP_EVENT` on
//! `$aws/events/thingGroupMembership/thingGroup/{group}/thing/{thing}/added|removed` and
//! `THING_GROUP_HIERARCHY_EVENT` on
//! `$aws/events/thingGroupHierarchy/thingGroup/{parent}/childThingGroup/{child}/added|removed`,
//! with the fields AWS documents. Pure, like the thing events: which changes publish them and
//! whether their type is enabled is the server's business.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Operation, uuid_text};
use crate::OutMessage;

/// A thing type as its events describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingType<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its id.
    pub id: &'a str,
    /// Whether it is deprecated.
    pub deprecated: bool,
    /// When it was deprecated, milliseconds since the epoch.
    pub deprecation_ms: Option<i64>,
    /// Its searchable attribute names.
    pub searchable_attributes: &'a [String],
    /// Its description.
    pub description: Option<&'a str>,
}

/// A group named with its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupRef<'a> {
    /// The group's name.
    pub name: &'a str,
    /// The group's id.
    pub id: &'a str,
}

/// A thing group as its events describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingGroup<'a> {
    /// The group.
    pub group: GroupRef<'a>,
    /// Its version (1 when created, + 1 per update).
    pub version: i64,
    /// Its parent, if any.
    pub parent: Option<GroupRef<'a>>,
    /// Its description.
    pub description: Option<&'a str>,
    /// `(ARN, id)` of each ancestor, root first, parent last.
    pub root_to_parent: &'a [(String, String)],
    /// Its attributes.
    pub attributes: &'a BTreeMap<String, String>,
}

/// A thing added to or removed from a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership<'a> {
    /// The group's name (in the topic), ARN and id.
    pub group_name: &'a str,
    /// The group's ARN.
    pub group_arn: &'a str,
    /// The group's id.
    pub group_id: &'a str,
    /// The thing's name (in the topic).
    pub thing_name: &'a str,
    /// The thing's ARN.
    pub thing_arn: &'a str,
    /// The thing's id.
    pub thing_id: &'a str,
    /// Generated when the thing was added to the group.
    pub membership_id: &'a str,
}

/// Whether a membership or a child group came or went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `ADDED`, topic suffix `added`.
    Added,
    /// `REMOVED`, topic suffix `removed`.
    Removed,
}

impl Change {
    fn upper(self) -> &'static str {
        match self {
            Change::Added => "ADDED",
            Change::Removed => "REMOVED",
        }
    }

    fn lower(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
        }
    }
}

/// The `THING_TYPE_EVENT`: created, updated (deprecated, undeprecated or changed by
/// UpdateThingType) or deleted.
pub fn thing_type_event(
    operation: Operation,
    account: &str,
    thing_type: &ThingType<'_>,
    event_id: [u8; 16],
    now_ms: i64,
) -> OutMessage {
    let payload = json!({
        "eventType": "THING_TYPE_EVENT",
        "eventId": uuid_text(&event_id),
        "timestamp": now_ms,
        "operation": operation.upper(),
        "accountId": account,
        "thingTypeId": thing_type.id,
        "thingTypeName": thing_type.name,
        "isDeprecated": thing_type.deprecated,
        "deprecationDate": thing_type.deprecation_ms,
        "searchableAttributes": thing_type.searchable_attributes,
        "description": thing_type.description,
    });
    OutMessage::json(
        format!(
            "$aws/events/thingType/{}/{}",
            thing_type.name,
            operation.lower()
        ),
        &payload,
    )
}

/// The `THING_TYPE_ASSOCIATION_EVENT`: `associated` is true when the thing got the type
/// (`CREATED`), false when it lost it (`DELETED`). AWS's payload has no account id.
pub fn thing_type_association_event(
    associated: bool,
    thing_name: &str,
    thing_id: &str,
    type_name: &str,
    event_id: [u8; 16],
    now_ms: i64,
) -> OutMessage {
    let operation = if associated {
        Operation::Created
    } else {
        Operation::Deleted
    };
    let payload = json!({
        "eventId": uuid_text(&event_id),
        "eventType": "THING_TYPE_ASSOCIATION_EVENT",
        "operation": operation.upper(),
        "thingId": thing_id,
        "thingName": thing_name,
        "thingTypeName": type_name,
        "timestamp": now_ms,
    });
    OutMessage::json(
        format!("$aws/events/thingTypeAssociation/thing/{thing_name}/{type_name}"),
        &payload,
    )
}

/// The `THING_GROUP_EVENT`. `rootToParentThingGroups` lists `groupArn` and `groupId` of each
/// ancestor from the root to the parent, and is `null` for a root group (the older example of
/// a root group shows `null`; the newer one shows a child's list).
pub fn thing_group_event(
    operation: Operation,
    account: &str,
    group: &ThingGroup<'_>,
    event_id: [u8; 16],
    now_ms: i64,
) -> OutMessage {
    let root_to_parent = if group.root_to_parent.is_empty() {
        Value::Null
    } else {
        group
            .root_to_parent
            .iter()
            .map(|(arn, id)| json!({ "groupArn": arn, "groupId": id }))
            .collect()
    };
    let payload = json!({
        "eventType": "THING_GROUP_EVENT",
        "eventId": uuid_text(&event_id),
        "timestamp": now_ms,
        "operation": operation.upper(),
        "accountId": account,
        "thingGroupId": group.group.id,
        "thingGroupName": group.group.name,
        "versionNumber": group.version,
        "parentGroupName": group.parent.map(|p| p.name),
        "parentGroupId": group.parent.map(|p| p.id),
        "description": group.description,
        "rootToParentThingGroups": root_to_parent,
        "attributes": group.attributes,
        "dynamicGroupMappingId": null,
    });
    OutMessage::json(
        format!(
            "$aws/events/thingGroup/{}/{}",
            group.group.name,
            operation.lower()
        ),
        &payload,
    )
}

/// The `THING_GROUP_MEMBERSHIP_EVENT`.
pub fn membership_event(
    change: Change,
    account: &str,
    membership: &Membership<'_>,
    event_id: [u8; 16],
    now_ms: i64,
) -> OutMessage {
    let payload = json!({
        "eventType": "THING_GROUP_MEMBERSHIP_EVENT",
        "eventId": uuid_text(&event_id),
        "timestamp": now_ms,
        "operation": change.upper(),
        "accountId": account,
        "groupArn": membership.group_arn,
        "groupId": membership.group_id,
        "thingArn": membership.thing_arn,
        "thingId": membership.thing_id,
        "membershipId": membership.membership_id,
    });
    OutMessage::json(
        format!(
            "$aws/events/thingGroupMembership/thingGroup/{}/thing/{}/{}",
            membership.group_name,
            membership.thing_name,
            change.lower()
        ),
        &payload,
    )
}

/// The `THING_GROUP_HIERARCHY_EVENT`: a child group created under (added) or deleted from
/// (removed) its parent.
pub fn hierarchy_event(
    change: Change,
    account: &str,
    parent: GroupRef<'_>,
    child: GroupRef<'_>,
    event_id: [u8; 16],
    now_ms: i64,
) -> OutMessage {
    let payload = json!({
        "eventType": "THING_GROUP_HIERARCHY_EVENT",
        "eventId": uuid_text(&event_id),
        "timestamp": now_ms,
        "operation": change.upper(),
        "accountId": account,
        "thingGroupId": parent.id,
        "thingGroupName": parent.name,
        "childGroupId": child.id,
        "childGroupName": child.name,
    });
    OutMessage::json(
        format!(
            "$aws/events/thingGroupHierarchy/thingGroup/{}/childThingGroup/{}/{}",
            parent.name,
            child.name,
            change.lower()
        ),
        &payload,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(message: &OutMessage) -> Value {
        serde_json::from_slice(&message.payload).unwrap()
    }

    const ID: &str = "00000000-0000-4000-8000-000000000000";

    #[test]
    fn a_thing_type_event_has_awss_shape() {
        let searchable = vec!["watts".to_owned()];
        let message = thing_type_event(
            Operation::Updated,
            "123456789012",
            &ThingType {
                name: "Lamp",
                id: "c530ae83",
                deprecated: true,
                deprecation_ms: Some(9),
                searchable_attributes: &searchable,
                description: None,
            },
            [0; 16],
            7,
        );
        assert_eq!(message.topic, "$aws/events/thingType/Lamp/updated");
        assert_eq!(
            payload(&message),
            json!({
                "eventType": "THING_TYPE_EVENT", "eventId": ID, "timestamp": 7,
                "operation": "UPDATED", "accountId": "123456789012",
                "thingTypeId": "c530ae83", "thingTypeName": "Lamp", "isDeprecated": true,
                "deprecationDate": 9, "searchableAttributes": ["watts"], "description": null
            })
        );
    }

    #[test]
    fn an_association_event_has_awss_shape() {
        let message = thing_type_association_event(false, "lamp-1", "b604", "Lamp", [0; 16], 7);
        assert_eq!(
            message.topic,
            "$aws/events/thingTypeAssociation/thing/lamp-1/Lamp"
        );
        assert_eq!(
            payload(&message),
            json!({
                "eventId": ID, "eventType": "THING_TYPE_ASSOCIATION_EVENT",
                "operation": "DELETED", "thingId": "b604", "thingName": "lamp-1",
                "thingTypeName": "Lamp", "timestamp": 7
            })
        );
    }

    #[test]
    fn a_thing_group_event_lists_its_ancestors_or_null() {
        let attributes = BTreeMap::from([("a".to_owned(), "1".to_owned())]);
        let ancestors = vec![
            ("arn:g/root".to_owned(), "r-id".to_owned()),
            ("arn:g/mid".to_owned(), "m-id".to_owned()),
        ];
        let child = ThingGroup {
            group: GroupRef {
                name: "leaf",
                id: "l-id",
            },
            version: 3,
            parent: Some(GroupRef {
                name: "mid",
                id: "m-id",
            }),
            description: Some("leaves"),
            root_to_parent: &ancestors,
            attributes: &attributes,
        };
        let message = thing_group_event(Operation::Created, "1", &child, [0; 16], 7);
        assert_eq!(message.topic, "$aws/events/thingGroup/leaf/created");
        assert_eq!(
            payload(&message),
            json!({
                "eventType": "THING_GROUP_EVENT", "eventId": ID, "timestamp": 7,
                "operation": "CREATED", "accountId": "1", "thingGroupId": "l-id",
                "thingGroupName": "leaf", "versionNumber": 3, "parentGroupName": "mid",
                "parentGroupId": "m-id", "description": "leaves",
                "rootToParentThingGroups": [
                    {"groupArn": "arn:g/root", "groupId": "r-id"},
                    {"groupArn": "arn:g/mid", "groupId": "m-id"}
                ],
                "attributes": {"a": "1"}, "dynamicGroupMappingId": null
            })
        );
        let root = ThingGroup {
            parent: None,
            root_to_parent: &[],
            ..child
        };
        let root = payload(&thing_group_event(
            Operation::Deleted,
            "1",
            &root,
            [0; 16],
            7,
        ));
        assert_eq!(root["rootToParentThingGroups"], Value::Null);
        assert_eq!(root["parentGroupName"], Value::Null);
    }

    #[test]
    fn membership_and_hierarchy_events_have_awss_shape() {
        let message = membership_event(
            Change::Added,
            "1",
            &Membership {
                group_name: "g",
                group_arn: "arn:g",
                group_id: "g-id",
                thing_name: "t",
                thing_arn: "arn:t",
                thing_id: "t-id",
                membership_id: "m-id",
            },
            [0; 16],
            7,
        );
        assert_eq!(
            message.topic,
            "$aws/events/thingGroupMembership/thingGroup/g/thing/t/added"
        );
        assert_eq!(
            payload(&message),
            json!({
                "eventType": "THING_GROUP_MEMBERSHIP_EVENT", "eventId": ID, "timestamp": 7,
                "operation": "ADDED", "accountId": "1", "groupArn": "arn:g", "groupId": "g-id",
                "thingArn": "arn:t", "thingId": "t-id", "membershipId": "m-id"
            })
        );
        let parent = GroupRef {
            name: "p",
            id: "p-id",
        };
        let child = GroupRef {
            name: "c",
            id: "c-id",
        };
        let message = hierarchy_event(Change::Removed, "1", parent, child, [0; 16], 7);
        assert_eq!(
            message.topic,
            "$aws/events/thingGroupHierarchy/thingGroup/p/childThingGroup/c/removed"
        );
        assert_eq!(
            payload(&message),
            json!({
                "eventType": "THING_GROUP_HIERARCHY_EVENT", "eventId": ID, "timestamp": 7,
                "operation": "REMOVED", "accountId": "1", "thingGroupId": "p-id",
                "thingGroupName": "p", "childGroupId": "c-id", "childGroupName": "c"
            })
        );
    }
}
