//! Things: CreateThing, DescribeThing, ListThings (filters, `nextToken`/`maxResults`),
//! UpdateThing (attribute merge, `expectedVersion`), DeleteThing, and the name and attribute
//! syntax checks thing types and thing groups share. Checks AWS's syntax here (with AWS's limits
//! in the messages); the store applies the registry rules (idempotent create, versions, attached
//! principals, a thing type that exists and is not deprecated). Billing groups are refused.

use std::collections::BTreeMap;

use iot_services::registry_events::Operation;
use iot_services::registry_events::groups::Change;
use serde_json::{Map, Value, json};
use store::{AttributeUpdate, NewThing, Order, Thing, ThingFilter, ThingUpdate};

use super::{Api, ApiError, Request, events, put_opt, random_16, str_member, string_map};

/// CreateThing: `POST /things/{thingName}`.
pub(super) fn create(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    check_thing_name(name)?;
    let body = req.json()?;
    if str_member(&body, "billingGroupName")?.is_some() {
        return Err(ApiError::invalid_request(
            "billing groups are not supported by tether; create the thing without \
             billingGroupName",
        ));
    }
    let thing_type = str_member(&body, "thingTypeName")?.map(str::to_owned);
    if let Some(t) = &thing_type {
        check_name("thing type", t)?;
    }
    let attributes = match body.get("attributePayload") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(payload) => attribute_payload(payload)?.0,
    };
    let new = NewThing {
        name: name.to_owned(),
        thing_type,
        attributes,
    };
    let now = super::now_ms();
    let thing = api.registry(|s| s.create_thing(&new, random_16(), now))?;
    // An identical thing that already existed is returned unchanged, with no event (AWS's
    // CreateThing is idempotent).
    if thing.created_ms == now {
        events::thing_changed(api, Operation::Created, &thing);
        if let Some(thing_type) = &thing.thing_type {
            events::type_association(api, &thing, thing_type, true);
        }
    }
    Ok(json!({
        "thingName": thing.name,
        "thingArn": api.arns.thing(&thing.name),
        "thingId": thing.thing_id,
    }))
}

/// DescribeThing: `GET /things/{thingName}`.
pub(super) fn describe(api: &Api, name: &str) -> Result<Value, ApiError> {
    let thing = api
        .registry(|s| s.thing(name))?
        .ok_or_else(|| ApiError::not_found(format!("Thing {name} cannot be found.")))?;
    let mut out = Map::new();
    out.insert("defaultClientId".into(), json!(thing.name));
    out.insert("thingName".into(), json!(thing.name));
    out.insert("thingId".into(), json!(thing.thing_id));
    out.insert("thingArn".into(), json!(api.arns.thing(&thing.name)));
    put_opt(
        &mut out,
        "thingTypeName",
        thing.thing_type.map(Value::String),
    );
    out.insert("attributes".into(), json!(thing.attributes));
    out.insert("version".into(), json!(thing.version));
    Ok(Value::Object(out))
}

/// ListThings: `GET /things`.
pub(super) fn list(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let page = req.page("nextToken", "maxResults", 250, Order::Ascending)?;
    let attribute = match (req.query("attributeName"), req.query("attributeValue")) {
        (Some(n), Some(v)) => Some((n.to_owned(), v.to_owned())),
        (None, None) => None,
        _ => {
            return Err(ApiError::invalid_request(
                "attributeName and attributeValue must be given together",
            ));
        }
    };
    let filter = ThingFilter {
        thing_type: req.query("thingTypeName").map(str::to_owned),
        attribute,
        attribute_value_is_prefix: req.query_bool("usePrefixAttributeValue")?.unwrap_or(false),
    };
    let result = api.registry(|s| s.list_things(&filter, &page))?;
    let things: Vec<Value> = result
        .items
        .into_iter()
        .map(|t| thing_summary(api, t))
        .collect();
    let mut out = Map::new();
    out.insert("things".into(), Value::Array(things));
    put_opt(&mut out, "nextToken", result.next_token.map(Value::String));
    Ok(Value::Object(out))
}

fn thing_summary(api: &Api, t: Thing) -> Value {
    let mut out = Map::new();
    out.insert("thingName".into(), json!(t.name));
    put_opt(&mut out, "thingTypeName", t.thing_type.map(Value::String));
    out.insert("thingArn".into(), json!(api.arns.thing(&t.name)));
    out.insert("attributes".into(), json!(t.attributes));
    out.insert("version".into(), json!(t.version));
    Value::Object(out)
}

/// UpdateThing: `PATCH /things/{thingName}`.
pub(super) fn update(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    check_thing_name(name)?;
    let body = req.json()?;
    let thing_type = str_member(&body, "thingTypeName")?.map(str::to_owned);
    if let Some(t) = &thing_type {
        check_name("thing type", t)?;
    }
    let attributes = match body.get("attributePayload") {
        None | Some(Value::Null) => AttributeUpdate::Keep,
        Some(payload) => match attribute_payload(payload)? {
            (map, true) => AttributeUpdate::Merge(map),
            (map, false) => AttributeUpdate::Replace(map),
        },
    };
    let expected_version = match body.get("expectedVersion") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| ApiError::invalid_request("expectedVersion must be an integer"))?,
        ),
    };
    let remove_thing_type = match body.get("removeThingType") {
        None | Some(Value::Null) => false,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| ApiError::invalid_request("removeThingType must be true or false"))?,
    };
    let update = ThingUpdate {
        thing_type,
        remove_thing_type,
        attributes,
        expected_version,
    };
    let (before, thing) = api.registry(|s| {
        let before = s.thing(name)?;
        Ok((before, s.update_thing(name, &update, super::now_ms())?))
    })?;
    events::thing_changed(api, Operation::Updated, &thing);
    let old_type = before.and_then(|b| b.thing_type);
    if old_type != thing.thing_type {
        if let Some(old) = &old_type {
            events::type_association(api, &thing, old, false);
        }
        if let Some(new) = &thing.thing_type {
            events::type_association(api, &thing, new, true);
        }
    }
    Ok(json!({}))
}

/// DeleteThing: `DELETE /things/{thingName}?expectedVersion=` (a missing thing is success).
pub(super) fn delete(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    let expected = req.query_int("expectedVersion", i64::MIN, i64::MAX)?;
    let (before, memberships, deleted) = api.registry(|s| {
        let before = s.thing(name)?;
        let memberships = s.thing_group_memberships(name)?;
        Ok((before, memberships, s.delete_thing(name, expected)?))
    })?;
    if let (Some(thing), true) = (before, deleted) {
        // The thing's group memberships and type association end with it: tether publishes
        // their events too (AWS does not say whether it does).
        for membership in &memberships {
            events::membership_changed(api, Change::Removed, membership);
        }
        if let Some(thing_type) = &thing.thing_type {
            events::type_association(api, &thing, thing_type, false);
        }
        events::thing_changed(api, Operation::Deleted, &thing);
    }
    Ok(json!({}))
}

/// `attributePayload`: the attributes (checked) and the `merge` flag.
pub(super) fn attribute_payload(
    payload: &Value,
) -> Result<(BTreeMap<String, String>, bool), ApiError> {
    let Value::Object(payload) = payload else {
        return Err(ApiError::invalid_request(
            "attributePayload must be an object",
        ));
    };
    let attributes = match payload.get("attributes") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(v) => string_map(v, "attributePayload.attributes")?,
    };
    for (k, v) in &attributes {
        check_attribute(k, v)?;
    }
    let merge = payload
        .get("merge")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok((attributes, merge))
}

/// AWS: thing names are 1–128 of `[a-zA-Z0-9:_-]`.
fn check_thing_name(name: &str) -> Result<(), ApiError> {
    check_name("thing", name)
}

/// AWS: thing, thing type and thing group names are 1–128 of `[a-zA-Z0-9:_-]`. `kind` names
/// what the name is for in the message.
pub(super) fn check_name(kind: &str, name: &str) -> Result<(), ApiError> {
    let ok = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_request(format!(
            "{name:?} is not a valid {kind} name: use 1 to 128 of the characters a-z A-Z 0-9 : _ -"
        )))
    }
}

/// AWS: attribute names are 1–128 of `[a-zA-Z0-9_.,@/:#-]`, values up to 800 of the same plus
/// `=[]` (an empty value removes the attribute on a merge).
pub(super) fn check_attribute(name: &str, value: &str) -> Result<(), ApiError> {
    let name_char = |b: u8| b.is_ascii_alphanumeric() || b"_.,@/:#-".contains(&b);
    if !(1..=128).contains(&name.len()) || !name.bytes().all(name_char) {
        return Err(ApiError::invalid_request(format!(
            "attribute name {name:?} is not valid: use 1 to 128 of a-z A-Z 0-9 _ . , @ / : # -"
        )));
    }
    if value.len() > 800 || !value.bytes().all(|b| name_char(b) || b"=[]".contains(&b)) {
        return Err(ApiError::invalid_request(format!(
            "attribute {name}: value {value:?} is not valid: use up to 800 of a-z A-Z 0-9 \
             _ . , @ / : # = [ ] -"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thing_names_follow_aws_syntax() {
        for ok in ["t1", "sensor:kitchen_01-a", &"x".repeat(128)] {
            assert!(check_thing_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "ä", &"x".repeat(129)] {
            let e = check_thing_name(bad).unwrap_err();
            assert_eq!(e.kind, "InvalidRequestException", "{bad}");
        }
    }

    #[test]
    fn attributes_follow_aws_syntax() {
        assert!(check_attribute("serial", "SN-1=[2]").is_ok());
        assert!(check_attribute("merged", "").is_ok());
        assert!(check_attribute("", "x").is_err());
        assert!(check_attribute("a b", "x").is_err());
        assert!(check_attribute("a", "x y").is_err());
        assert!(check_attribute("a", &"v".repeat(801)).is_err());
    }

    #[test]
    fn attribute_payload_reads_merge() {
        let (map, merge) =
            attribute_payload(&json!({"attributes": {"a": "1"}, "merge": true})).unwrap();
        assert_eq!(map.get("a").map(String::as_str), Some("1"));
        assert!(merge);
        assert!(attribute_payload(&json!({"attributes": {"a": 1}})).is_err());
    }
}
