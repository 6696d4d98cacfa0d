//! Thing types: CreateThingType, DescribeThingType, ListThingTypes, UpdateThingType,
//! DeprecateThingType (`undoDeprecate`) and DeleteThingType, with their registry events. Checks
//! AWS's syntax of `thingTypeProperties` here; the store applies the rules (at most three
//! searchable attributes, deletion only of an unused type deprecated long enough). The MQTT 5
//! `propagatingAttributes` are kept and returned but not applied to messages: tether does not
//! enrich MQTT 5 publishes with user properties. Tags are accepted and not kept (tether has no
//! tagging API).

use iot_services::registry_events::Operation;
use serde_json::{Map, Value, json};
use store::{NewThingType, Order, ThingType, ThingTypeUpdate};

use super::things::{check_attribute, check_name};
use super::{Api, ApiError, Request, events, put_opt, random_16, timestamp};

/// CreateThingType: `POST /thing-types/{thingTypeName}`.
pub(super) fn create(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    check_name("thing type", name)?;
    let body = req.json()?;
    let properties = Properties::parse(body.get("thingTypeProperties"))?;
    let new = NewThingType {
        name: name.to_owned(),
        description: properties.description,
        searchable_attributes: properties.searchable_attributes.unwrap_or_default(),
        mqtt5_configuration: properties.mqtt5_configuration,
    };
    let (thing_type, created) =
        api.registry(|s| s.create_thing_type(&new, random_16(), super::now_ms()))?;
    if created {
        events::thing_type_changed(api, Operation::Created, &thing_type);
    }
    Ok(json!({
        "thingTypeName": thing_type.name,
        "thingTypeArn": api.arns.thing_type(&thing_type.name),
        "thingTypeId": thing_type.type_id,
    }))
}

/// DescribeThingType: `GET /thing-types/{thingTypeName}`.
pub(super) fn describe(api: &Api, name: &str) -> Result<Value, ApiError> {
    let thing_type = api.registry(|s| s.thing_type(name))?.ok_or_else(|| {
        ApiError::not_found(format!(
            "thing type {name} does not exist; create it with aws iot create-thing-type"
        ))
    })?;
    let mut out = definition(api, &thing_type);
    out.insert("thingTypeId".into(), json!(thing_type.type_id));
    Ok(Value::Object(out))
}

/// ListThingTypes: `GET /thing-types?thingTypeName=&nextToken=&maxResults=`. The name filter
/// is a prefix, as AWS applies it.
pub(super) fn list(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let page = req.page("nextToken", "maxResults", 250, Order::Ascending)?;
    let prefix = req.query("thingTypeName");
    let result = api.registry(|s| s.list_thing_types(prefix, &page))?;
    let types: Vec<Value> = result
        .items
        .iter()
        .map(|t| Value::Object(definition(api, t)))
        .collect();
    let mut out = Map::new();
    out.insert("thingTypes".into(), Value::Array(types));
    put_opt(&mut out, "nextToken", result.next_token.map(Value::String));
    Ok(Value::Object(out))
}

/// UpdateThingType: `PATCH /thing-types/{thingTypeName}`. The properties given replace the
/// stored ones; those left out are kept (AWS is silent).
pub(super) fn update(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    let body = req.json()?;
    let properties = Properties::parse(body.get("thingTypeProperties"))?;
    let update = ThingTypeUpdate {
        description: properties.description,
        searchable_attributes: properties.searchable_attributes,
        mqtt5_configuration: properties.mqtt5_configuration,
    };
    let thing_type = api.registry(|s| s.update_thing_type(name, &update))?;
    events::thing_type_changed(api, Operation::Updated, &thing_type);
    Ok(json!({}))
}

/// DeprecateThingType: `POST /thing-types/{thingTypeName}/deprecate`, body `undoDeprecate`.
pub(super) fn deprecate(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    let body = req.json()?;
    let undo = match body.get("undoDeprecate") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(undo)) => *undo,
        Some(_) => {
            return Err(ApiError::invalid_request(
                "undoDeprecate must be true or false",
            ));
        }
    };
    let thing_type = api.registry(|s| s.deprecate_thing_type(name, undo, super::now_ms()))?;
    events::thing_type_changed(api, Operation::Updated, &thing_type);
    Ok(json!({}))
}

/// DeleteThingType: `DELETE /thing-types/{thingTypeName}`. AWS deletes a type five minutes
/// after its deprecation at the earliest; `--thing-type-delete-delay` shortens that locally.
pub(super) fn delete(api: &Api, name: &str) -> Result<Value, ApiError> {
    let delay = i64::try_from(api.config.thing_type_delete_delay.as_millis()).unwrap_or(i64::MAX);
    let thing_type = api.registry(|s| s.delete_thing_type(name, delay, super::now_ms()))?;
    events::thing_type_changed(api, Operation::Deleted, &thing_type);
    Ok(json!({}))
}

/// A `ThingTypeDefinition`: name, ARN, properties and metadata.
fn definition(api: &Api, t: &ThingType) -> Map<String, Value> {
    let mut properties = Map::new();
    put_opt(
        &mut properties,
        "thingTypeDescription",
        t.description.clone().map(Value::String),
    );
    properties.insert(
        "searchableAttributes".into(),
        json!(t.searchable_attributes),
    );
    put_opt(
        &mut properties,
        "mqtt5Configuration",
        t.mqtt5_configuration
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok()),
    );
    let mut metadata = Map::new();
    metadata.insert("deprecated".into(), json!(t.deprecated));
    if t.deprecated {
        put_opt(
            &mut metadata,
            "deprecationDate",
            t.deprecated_ms.map(timestamp),
        );
    }
    metadata.insert("creationDate".into(), timestamp(t.created_ms));
    let mut out = Map::new();
    out.insert("thingTypeName".into(), json!(t.name));
    out.insert("thingTypeArn".into(), json!(api.arns.thing_type(&t.name)));
    out.insert("thingTypeProperties".into(), Value::Object(properties));
    out.insert("thingTypeMetadata".into(), Value::Object(metadata));
    out
}

/// `thingTypeProperties`, checked; `None` for what is left out.
#[derive(Debug, Default)]
struct Properties {
    description: Option<String>,
    searchable_attributes: Option<Vec<String>>,
    /// `mqtt5Configuration` as JSON text.
    mqtt5_configuration: Option<String>,
}

impl Properties {
    fn parse(value: Option<&Value>) -> Result<Properties, ApiError> {
        let properties = match value {
            None | Some(Value::Null) => return Ok(Properties::default()),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "thingTypeProperties must be an object",
                ));
            }
        };
        let description = match properties.get("thingTypeDescription") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(check_description("thingTypeDescription", text)?),
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "thingTypeProperties.thingTypeDescription must be a string",
                ));
            }
        };
        let searchable_attributes = match properties.get("searchableAttributes") {
            None | Some(Value::Null) => None,
            Some(Value::Array(names)) => Some(
                names
                    .iter()
                    .map(|n| match n {
                        Value::String(name) => check_attribute(name, "").map(|()| name.clone()),
                        _ => Err(ApiError::invalid_request(
                            "thingTypeProperties.searchableAttributes must be a list of \
                             attribute names",
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "thingTypeProperties.searchableAttributes must be a list of attribute names",
                ));
            }
        };
        let mqtt5_configuration = match properties.get("mqtt5Configuration") {
            None | Some(Value::Null) => None,
            Some(configuration) => Some(check_mqtt5(configuration)?.to_string()),
        };
        Ok(Properties {
            description,
            searchable_attributes,
            mqtt5_configuration,
        })
    }
}

/// AWS: descriptions are at most 2028 of `[\p{Graph}\x20]` (printable characters and spaces).
pub(super) fn check_description(member: &str, text: &str) -> Result<String, ApiError> {
    let printable = |c: char| c == ' ' || !(c.is_control() || c.is_whitespace());
    if text.chars().count() > 2028 || !text.chars().all(printable) {
        return Err(ApiError::invalid_request(format!(
            "{member} must be at most 2028 printable characters or spaces (no tabs or line \
             breaks)"
        )));
    }
    Ok(text.to_owned())
}

/// Which bytes a member's value may have.
type AllowedByte = fn(u8) -> bool;

/// `mqtt5Configuration`: `{"propagatingAttributes": [{"userPropertyKey", "thingAttribute",
/// "connectionAttribute"}]}` with AWS's patterns.
fn check_mqtt5(configuration: &Value) -> Result<&Value, ApiError> {
    let bad = |what: &str| {
        ApiError::invalid_request(format!("thingTypeProperties.mqtt5Configuration: {what}"))
    };
    let Value::Object(map) = configuration else {
        return Err(bad("must be an object"));
    };
    if let Some(other) = map.keys().find(|k| *k != "propagatingAttributes") {
        return Err(bad(&format!("unknown member {other}")));
    }
    let attributes = match map.get("propagatingAttributes") {
        None | Some(Value::Null) => return Ok(configuration),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad("propagatingAttributes must be a list")),
    };
    let fields: [(&str, AllowedByte); 3] = [
        ("userPropertyKey", |b| {
            b.is_ascii_alphanumeric() || b":$.".contains(&b)
        }),
        ("thingAttribute", |b| {
            b.is_ascii_alphanumeric() || b"_.,@/:#-".contains(&b)
        }),
        ("connectionAttribute", |b| {
            b.is_ascii_alphanumeric() || b":.".contains(&b)
        }),
    ];
    for (i, attribute) in attributes.iter().enumerate() {
        let Value::Object(attribute) = attribute else {
            return Err(bad(&format!(
                "propagatingAttributes[{i}] must be an object"
            )));
        };
        for (key, value) in attribute {
            let Some((_, allowed)) = fields.iter().find(|(name, _)| name == key) else {
                return Err(bad(&format!(
                    "propagatingAttributes[{i}]: unknown member {key}"
                )));
            };
            let ok = value
                .as_str()
                .is_some_and(|text| (1..=128).contains(&text.len()) && text.bytes().all(allowed));
            if !ok {
                return Err(bad(&format!(
                    "propagatingAttributes[{i}].{key} must be 1 to 128 allowed characters"
                )));
            }
        }
    }
    Ok(configuration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_checked_member_by_member() {
        let ok = Properties::parse(Some(&json!({
            "thingTypeDescription": "light bulb type",
            "searchableAttributes": ["wattage", "model"],
            "mqtt5Configuration": {"propagatingAttributes": [
                {"userPropertyKey": "iot:ClientId", "connectionAttribute": "iot:ClientId"},
                {"userPropertyKey": "serial", "thingAttribute": "serialNumber"}
            ]}
        })))
        .unwrap();
        assert_eq!(ok.description.as_deref(), Some("light bulb type"));
        assert_eq!(
            ok.searchable_attributes,
            Some(vec!["wattage".to_owned(), "model".to_owned()])
        );
        assert!(ok.mqtt5_configuration.unwrap().contains("serialNumber"));
        for bad in [
            json!({"thingTypeDescription": "two\nlines"}),
            json!({"searchableAttributes": ["has space"]}),
            json!({"searchableAttributes": "wattage"}),
            json!({"mqtt5Configuration": {"propagatingAttributes": [{"userPropertyKey": "a b"}]}}),
            json!({"mqtt5Configuration": {"other": 1}}),
            json!("not an object"),
        ] {
            assert!(Properties::parse(Some(&bad)).is_err(), "{bad}");
        }
        let empty = Properties::parse(None).unwrap();
        assert!(empty.description.is_none() && empty.searchable_attributes.is_none());
    }

    #[test]
    fn descriptions_allow_printable_text_and_spaces() {
        assert!(check_description("d", "Lights: 60 W, ≤ 2 A").is_ok());
        assert!(check_description("d", "tab\there").is_err());
        assert!(check_description("d", &"x".repeat(2029)).is_err());
    }
}
