//! Static thing groups: CreateThingGroup, DescribeThingGroup, UpdateThingGroup
//! (`expectedVersion`), DeleteThingGroup, ListThingGroups (`parentGroup`, `namePrefixFilter`,
//! `recursive`), AddThingToThingGroup and RemoveThingFromThingGroup (by name or ARN),
//! ListThingsInThingGroup (`recursive`), ListThingGroupsForThing and UpdateThingGroupsForThing,
//! with their registry events (THING_GROUP, THING_GROUP_HIERARCHY, THING_GROUP_MEMBERSHIP);
//! membership changes reach continuous jobs that target groups.
//! Dynamic thing groups are refused with InvalidRequestException: they are defined by a fleet
//! indexing query, and tether has no fleet index. Checks AWS's syntax here; the store applies
//! the rules (hierarchy, limits, one group per hierarchy). Tags are accepted and not kept, and
//! `overrideDynamicGroups` has nothing to override.

use iot_services::registry_events::Operation;
use iot_services::registry_events::groups::Change;
use serde_json::{Map, Value, json};
use store::{AttributeUpdate, NewThingGroup, Order, Page, ThingGroupFilter, ThingGroupUpdate};

use super::thing_types::check_description;
use super::things::{attribute_payload, check_name};
use super::{Api, ApiError, Request, events, jobs, put_opt, random_16, str_member, timestamp};

/// CreateThingGroup: `POST /thing-groups/{thingGroupName}`.
pub(super) fn create(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    check_name("thing group", name)?;
    let body = req.json()?;
    let parent = str_member(&body, "parentGroupName")?.map(str::to_owned);
    if let Some(parent) = &parent {
        check_name("thing group", parent)?;
    }
    let properties = Properties::parse(body.get("thingGroupProperties"))?;
    let new = NewThingGroup {
        name: name.to_owned(),
        parent,
        description: properties.description,
        attributes: match properties.attributes {
            AttributeUpdate::Replace(map) | AttributeUpdate::Merge(map) => map,
            AttributeUpdate::Keep => Default::default(),
        },
    };
    let (group, created, ancestors) = api.registry(|s| {
        let (group, created) = s.create_thing_group(&new, random_16(), super::now_ms())?;
        Ok((group, created, s.thing_group_ancestors(name)?))
    })?;
    if created {
        events::thing_group_changed(api, Operation::Created, &group, &ancestors);
        if let Some(parent) = ancestors.last() {
            events::hierarchy_changed(api, Change::Added, parent, &group);
        }
    }
    Ok(json!({
        "thingGroupName": group.name,
        "thingGroupArn": api.arns.thing_group(&group.name),
        "thingGroupId": group.group_id,
    }))
}

/// DescribeThingGroup: `GET /thing-groups/{thingGroupName}`.
pub(super) fn describe(api: &Api, name: &str) -> Result<Value, ApiError> {
    let (group, ancestors) = api.registry(|s| {
        let group = s.thing_group(name)?;
        Ok((group, s.thing_group_ancestors(name)?))
    })?;
    let group = group.ok_or_else(|| {
        ApiError::not_found(format!(
            "thing group {name} does not exist; create it with aws iot create-thing-group"
        ))
    })?;
    let mut properties = Map::new();
    put_opt(
        &mut properties,
        "thingGroupDescription",
        group.description.clone().map(Value::String),
    );
    properties.insert(
        "attributePayload".into(),
        json!({ "attributes": group.attributes }),
    );
    let mut metadata = Map::new();
    put_opt(
        &mut metadata,
        "parentGroupName",
        group.parent.clone().map(Value::String),
    );
    metadata.insert(
        "rootToParentThingGroups".into(),
        Value::Array(
            ancestors
                .iter()
                .map(|g| name_and_arn(api, &g.name))
                .collect(),
        ),
    );
    metadata.insert("creationDate".into(), timestamp(group.created_ms));
    Ok(json!({
        "thingGroupName": group.name,
        "thingGroupId": group.group_id,
        "thingGroupArn": api.arns.thing_group(&group.name),
        "version": group.version,
        "thingGroupProperties": properties,
        "thingGroupMetadata": metadata,
    }))
}

/// UpdateThingGroup: `PATCH /thing-groups/{thingGroupName}`. A description left out is kept;
/// `attributePayload` replaces the attributes, or merges them with `merge` (an empty value
/// removes one), as UpdateThing does.
pub(super) fn update(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    let body = req.json()?;
    let Some(properties) = body.get("thingGroupProperties") else {
        return Err(ApiError::invalid_request(
            "member thingGroupProperties is required",
        ));
    };
    let properties = Properties::parse(Some(properties))?;
    let update =
        ThingGroupUpdate {
            description: properties.description,
            attributes: properties.attributes,
            expected_version: match body.get("expectedVersion") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_i64().ok_or_else(|| {
                    ApiError::invalid_request("expectedVersion must be an integer")
                })?),
            },
        };
    let (group, ancestors) = api.registry(|s| {
        let group = s.update_thing_group(name, &update, super::now_ms())?;
        Ok((group, s.thing_group_ancestors(name)?))
    })?;
    events::thing_group_changed(api, Operation::Updated, &group, &ancestors);
    Ok(json!({ "version": group.version }))
}

/// DeleteThingGroup: `DELETE /thing-groups/{thingGroupName}?expectedVersion=` (a missing group
/// is success, as in AWS).
pub(super) fn delete(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    let expected = req.query_int("expectedVersion", i64::MIN, i64::MAX)?;
    let (ancestors, deleted) = api.registry(|s| {
        let ancestors = s.thing_group_ancestors(name)?;
        Ok((ancestors, s.delete_thing_group(name, expected)?))
    })?;
    if let Some(deleted) = deleted {
        for membership in &deleted.members {
            events::membership_changed(api, Change::Removed, membership);
        }
        jobs::membership_changed(api, things_of(&deleted.members));
        if let Some(parent) = ancestors.last() {
            events::hierarchy_changed(api, Change::Removed, parent, &deleted.group);
        }
        events::thing_group_changed(api, Operation::Deleted, &deleted.group, &ancestors);
    }
    Ok(json!({}))
}

/// ListThingGroups: `GET /thing-groups?parentGroup=&namePrefixFilter=&recursive=&nextToken=&maxResults=`.
pub(super) fn list(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let page = req.page("nextToken", "maxResults", 250, Order::Ascending)?;
    let filter = ThingGroupFilter {
        parent: req.query("parentGroup").map(str::to_owned),
        name_prefix: req.query("namePrefixFilter").map(str::to_owned),
        recursive: req.query_bool("recursive")?,
    };
    let result = api.registry(|s| s.list_thing_groups(&filter, &page))?;
    Ok(groups_page(api, result))
}

/// AddThingToThingGroup: `PUT /thing-groups/addThingToThingGroup`.
pub(super) fn add_thing(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let body = req.json()?;
    let group = named(&body, "thingGroupName", "thingGroupArn", "thinggroup")?;
    let thing = named(&body, "thingName", "thingArn", "thing")?;
    let added =
        api.registry(|s| s.add_thing_to_thing_group(&group, &thing, random_16(), super::now_ms()))?;
    if let Some(membership) = added {
        events::membership_changed(api, Change::Added, &membership);
        jobs::membership_changed(api, vec![membership.thing]);
    }
    Ok(json!({}))
}

/// RemoveThingFromThingGroup: `PUT /thing-groups/removeThingFromThingGroup`.
pub(super) fn remove_thing(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let body = req.json()?;
    let group = named(&body, "thingGroupName", "thingGroupArn", "thinggroup")?;
    let thing = named(&body, "thingName", "thingArn", "thing")?;
    let removed = api.registry(|s| s.remove_thing_from_thing_group(&group, &thing))?;
    if let Some(membership) = removed {
        events::membership_changed(api, Change::Removed, &membership);
        jobs::membership_changed(api, vec![membership.thing]);
    }
    Ok(json!({}))
}

/// ListThingsInThingGroup: `GET /thing-groups/{thingGroupName}/things?recursive=`.
pub(super) fn list_things(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    let page = req.page("nextToken", "maxResults", 250, Order::Ascending)?;
    let recursive = req.query_bool("recursive")?.unwrap_or(false);
    let result = api.registry(|s| s.list_things_in_thing_group(name, recursive, &page))?;
    let mut out = Map::new();
    out.insert(
        "things".into(),
        Value::Array(result.items.into_iter().map(Value::String).collect()),
    );
    put_opt(&mut out, "nextToken", result.next_token.map(Value::String));
    Ok(Value::Object(out))
}

/// ListThingGroupsForThing: `GET /things/{thingName}/thing-groups`.
pub(super) fn groups_for_thing(api: &Api, req: &Request, thing: &str) -> Result<Value, ApiError> {
    let page = req.page("nextToken", "maxResults", 250, Order::Ascending)?;
    let result = api.registry(|s| s.list_thing_groups_for_thing(thing, &page))?;
    Ok(groups_page(api, result))
}

/// UpdateThingGroupsForThing: `PUT /thing-groups/updateThingGroupsForThing`. Removals apply
/// before additions, all in one transaction: any refusal changes nothing.
pub(super) fn update_groups_for_thing(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let body = req.json()?;
    let thing = str_member(&body, "thingName")?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid_request("member thingName is required"))?;
    check_name("thing", thing)?;
    let add = group_list(&body, "thingGroupsToAdd")?;
    let remove = group_list(&body, "thingGroupsToRemove")?;
    let changes = api.registry(|s| {
        s.update_thing_groups_for_thing(thing, &add, &remove, random_16, super::now_ms())
    })?;
    for membership in &changes.removed {
        events::membership_changed(api, Change::Removed, membership);
    }
    for membership in &changes.added {
        events::membership_changed(api, Change::Added, membership);
    }
    if !changes.added.is_empty() || !changes.removed.is_empty() {
        jobs::membership_changed(api, vec![thing.to_owned()]);
    }
    Ok(json!({}))
}

/// CreateDynamicThingGroup, UpdateDynamicThingGroup, DeleteDynamicThingGroup: refused.
pub(super) fn dynamic_refused(name: &str) -> Result<Value, ApiError> {
    Err(ApiError::invalid_request(format!(
        "dynamic thing group {name}: tether has no fleet indexing, which dynamic thing groups \
         query; use a static thing group (aws iot create-thing-group) and add things to it"
    )))
}

/// The things of `memberships`, each once.
fn things_of(memberships: &[store::Membership]) -> Vec<String> {
    let mut things: Vec<String> = memberships.iter().map(|m| m.thing.clone()).collect();
    things.sort();
    things.dedup();
    things
}

fn name_and_arn(api: &Api, name: &str) -> Value {
    json!({ "groupName": name, "groupArn": api.arns.thing_group(name) })
}

fn groups_page(api: &Api, page: Page<String>) -> Value {
    let mut out = Map::new();
    out.insert(
        "thingGroups".into(),
        Value::Array(page.items.iter().map(|n| name_and_arn(api, n)).collect()),
    );
    put_opt(&mut out, "nextToken", page.next_token.map(Value::String));
    Value::Object(out)
}

/// A list of group names (`thingGroupsToAdd`, `thingGroupsToRemove`).
fn group_list(body: &Map<String, Value>, member: &str) -> Result<Vec<String>, ApiError> {
    match body.get(member) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(names)) => names
            .iter()
            .map(|n| match n {
                Value::String(name) => check_name("thing group", name).map(|()| name.clone()),
                _ => Err(ApiError::invalid_request(format!(
                    "{member} must be a list of thing group names"
                ))),
            })
            .collect(),
        Some(_) => Err(ApiError::invalid_request(format!(
            "{member} must be a list of thing group names"
        ))),
    }
}

/// The name given as `name_member` or inside the ARN `arn_member` (`…:RESOURCE/NAME`); when
/// both are given they must agree.
fn named(
    body: &Map<String, Value>,
    name_member: &str,
    arn_member: &str,
    resource: &str,
) -> Result<String, ApiError> {
    let name = str_member(body, name_member)?.filter(|n| !n.is_empty());
    let arn = str_member(body, arn_member)?.filter(|a| !a.is_empty());
    let from_arn = arn
        .map(|arn| {
            name_in_arn(arn, resource).ok_or_else(|| {
                ApiError::invalid_request(format!(
                    "{arn_member} {arn:?} is not an ARN of the form \
                     arn:aws:iot:REGION:ACCOUNT:{resource}/NAME"
                ))
            })
        })
        .transpose()?;
    let chosen = match (name, from_arn) {
        (Some(name), Some(from_arn)) if name != from_arn => {
            return Err(ApiError::invalid_request(format!(
                "{name_member} {name} and {arn_member} (naming {from_arn}) disagree; give one"
            )));
        }
        (Some(name), _) => name,
        (None, Some(from_arn)) => from_arn,
        (None, None) => {
            return Err(ApiError::invalid_request(format!(
                "give {name_member} or {arn_member}"
            )));
        }
    };
    let kind = if resource == "thing" {
        "thing"
    } else {
        "thing group"
    };
    check_name(kind, chosen)?;
    Ok(chosen.to_owned())
}

/// The name in `arn:PARTITION:iot:REGION:ACCOUNT:RESOURCE/NAME`.
fn name_in_arn<'a>(arn: &'a str, resource: &str) -> Option<&'a str> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, _partition, service, _region, _account, rest) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if prefix != "arn" || service != "iot" {
        return None;
    }
    rest.strip_prefix(resource)?.strip_prefix('/')
}

/// `thingGroupProperties`, checked.
#[derive(Debug, Default)]
struct Properties {
    description: Option<String>,
    attributes: AttributeUpdate,
}

impl Properties {
    fn parse(value: Option<&Value>) -> Result<Properties, ApiError> {
        let properties = match value {
            None | Some(Value::Null) => return Ok(Properties::default()),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "thingGroupProperties must be an object",
                ));
            }
        };
        let description = match properties.get("thingGroupDescription") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(check_description("thingGroupDescription", text)?),
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "thingGroupProperties.thingGroupDescription must be a string",
                ));
            }
        };
        let attributes = match properties.get("attributePayload") {
            None | Some(Value::Null) => AttributeUpdate::Keep,
            Some(payload) => match attribute_payload(payload)? {
                (map, true) => AttributeUpdate::Merge(map),
                (map, false) => AttributeUpdate::Replace(map),
            },
        };
        Ok(Properties {
            description,
            attributes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_name_or_the_arn() {
        let body = |v: Value| v.as_object().unwrap().clone();
        let arn = "arn:aws:iot:us-east-1:123456789012:thinggroup/lights";
        assert_eq!(
            named(
                &body(json!({"thingGroupArn": arn})),
                "thingGroupName",
                "thingGroupArn",
                "thinggroup"
            )
            .unwrap(),
            "lights"
        );
        assert_eq!(
            named(
                &body(json!({"thingGroupName": "lights", "thingGroupArn": arn})),
                "thingGroupName",
                "thingGroupArn",
                "thinggroup"
            )
            .unwrap(),
            "lights"
        );
        for bad in [
            json!({}),
            json!({"thingGroupName": "other", "thingGroupArn": arn}),
            json!({"thingGroupArn": "arn:aws:iot:us-east-1:123456789012:thing/lights"}),
            json!({"thingGroupName": "has space"}),
        ] {
            let e = named(
                &body(bad.clone()),
                "thingGroupName",
                "thingGroupArn",
                "thinggroup",
            )
            .unwrap_err();
            assert_eq!(e.kind, "InvalidRequestException", "{bad}");
        }
        assert_eq!(
            name_in_arn("arn:aws:iot:eu-west-1:1:thing/lamp:1", "thing"),
            Some("lamp:1")
        );
    }

    #[test]
    fn group_properties_parse_like_thing_attributes() {
        let p = Properties::parse(Some(&json!({
            "thingGroupDescription": "red lights",
            "attributePayload": {"attributes": {"k": "v"}, "merge": true}
        })))
        .unwrap();
        assert_eq!(p.description.as_deref(), Some("red lights"));
        assert!(matches!(p.attributes, AttributeUpdate::Merge(ref m) if m.len() == 1));
        assert!(
            Properties::parse(Some(&json!({"attributePayload": {"attributes": {"k": 1}}})))
                .is_err()
        );
        assert!(matches!(
            Properties::parse(Some(&json!({}))).unwrap().attributes,
            AttributeUpdate::Keep
        ));
    }
}
