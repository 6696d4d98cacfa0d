//! A provisioning template as AWS documents it (developer guide, "Provisioning templates"):
//! `Parameters` (each `{"Type": "String", "Default": ...}`), `Mappings` (two levels of plain
//! values, no functions), `Resources` of type `AWS::IoT::Thing`, `AWS::IoT::Certificate` and
//! `AWS::IoT::Policy` with their properties and `OverrideSettings`, and `DeviceConfiguration`
//! (flat data). [`Template::parse`] refuses at creation what AWS refuses, with the path of the
//! fault, so a template that passes here does not fail there for its form; evaluation for one
//! device is `plan.rs`. Pure.
//!
//! Where AWS is silent or its pages disagree: unknown sections, resource members, properties and
//! parameter attributes are refused (AWS names no others); `Status` and the `OverrideSettings`
//! values are read case-insensitively (AWS's own fleet example writes `"Active"`); override keys
//! are accepted in both spellings the guide uses (`ThingGroups` and `THING_GROUPS`);
//! `CertificateId` is also accepted as `CertificateID`, the spelling of the guide's property
//! list; a `PolicyDocument` is an escaped JSON string (JITP and bulk examples) or an inline
//! object (fleet example); a template declares at most one thing and one certificate; a `Ref` to
//! an undeclared name is allowed (AWS's own pre-provisioning-hook example refers to an
//! undeclared `SerialNumber`) and is resolved from the request's parameters.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::TemplateError;
use super::intrinsic;

/// The largest template body AWS accepts (botocore: `TemplateBody`, max 10240).
pub const MAX_BODY: usize = 10_240;

/// The pseudo-parameters read from the device's certificate.
pub const PSEUDO_PARAMETERS: [&str; 8] = [
    "AWS::IoT::Certificate::Id",
    "AWS::IoT::Certificate::CommonName",
    "AWS::IoT::Certificate::Country",
    "AWS::IoT::Certificate::Organization",
    "AWS::IoT::Certificate::OrganizationalUnit",
    "AWS::IoT::Certificate::DistinguishedNameQualifier",
    "AWS::IoT::Certificate::StateName",
    "AWS::IoT::Certificate::SerialNumber",
];

/// What a template is used for; each allows a different certificate source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A fleet provisioning template (type `FLEET_PROVISIONING`): certificates by id only.
    Fleet,
    /// Just-in-time provisioning (type `JITP`, or a CA's `registrationConfig`): certificates by
    /// id only, and only pseudo-parameters.
    Jitp,
    /// The control plane's RegisterThing (bulk registration): a CSR, a PEM or an id.
    Register,
}

/// The three resource types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    Thing,
    Certificate,
    Policy,
}

impl ResourceType {
    fn parse(text: &str) -> Option<ResourceType> {
        match text {
            "AWS::IoT::Thing" => Some(ResourceType::Thing),
            "AWS::IoT::Certificate" => Some(ResourceType::Certificate),
            "AWS::IoT::Policy" => Some(ResourceType::Policy),
            _ => None,
        }
    }
}

/// What to do with a property of a resource that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Override {
    /// Leave it as it is (tether's default when `OverrideSettings` does not say).
    #[default]
    DoNothing,
    /// Set it as the template says.
    Replace,
    /// Refuse the provisioning.
    Fail,
    /// Merge (attributes and groups only).
    Merge,
}

impl Override {
    fn parse(text: &str) -> Option<Override> {
        match text.to_ascii_uppercase().as_str() {
            "DO_NOTHING" => Some(Override::DoNothing),
            "REPLACE" => Some(Override::Replace),
            "FAIL" => Some(Override::Fail),
            "MERGE" => Some(Override::Merge),
            _ => None,
        }
    }
}

/// One declared parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// Its `Default`.
    pub default: Option<String>,
}

/// One resource as declared.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Its logical name.
    pub logical_id: String,
    /// Its type.
    pub kind: ResourceType,
    /// Its properties, unevaluated, keyed by their canonical names.
    pub properties: Map<String, Value>,
    /// Its override settings, keyed by canonical property name.
    pub overrides: BTreeMap<&'static str, Override>,
}

/// A parsed, checked template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Declared parameters.
    pub parameters: BTreeMap<String, Parameter>,
    /// The `Mappings` section.
    pub mappings: Map<String, Value>,
    /// Resources in the order written.
    pub resources: Vec<Resource>,
    /// `DeviceConfiguration`, unevaluated.
    pub device_configuration: Map<String, Value>,
}

const SECTIONS: [&str; 4] = ["Parameters", "Mappings", "Resources", "DeviceConfiguration"];

impl Template {
    /// Parses and checks a template body.
    pub fn parse(body: &str, used: Use) -> Result<Template, TemplateError> {
        if body.len() > MAX_BODY {
            return Err(TemplateError::invalid(
                "",
                format!(
                    "the template body is {} bytes; AWS accepts at most {MAX_BODY}",
                    body.len()
                ),
            ));
        }
        let root = match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(root)) => root,
            Ok(_) => {
                return Err(TemplateError::invalid(
                    "",
                    "the template body must be a JSON object",
                ));
            }
            Err(e) => {
                return Err(TemplateError::invalid(
                    "",
                    format!("the template body is not valid JSON: {e}"),
                ));
            }
        };
        if let Some(key) = root.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
            return Err(TemplateError::invalid(
                key,
                "is not a section of provisioning templates; use Parameters, Mappings, \
                 Resources and DeviceConfiguration",
            ));
        }
        let mappings = mappings(root.get("Mappings"))?;
        let parameters = parameters(root.get("Parameters"), used)?;
        let resources = resources(root.get("Resources"), used, &mappings)?;
        let device_configuration = match root.get("DeviceConfiguration") {
            None => Map::new(),
            Some(Value::Object(map)) => {
                for (key, value) in map {
                    let path = format!("DeviceConfiguration.{key}");
                    if !value.is_string() && intrinsic::call(value).is_none() {
                        return Err(TemplateError::invalid(
                            &path,
                            "device configuration values are strings or functions; nested \
                             objects and lists are not supported",
                        ));
                    }
                    intrinsic::check(value, &path, &mappings)?;
                }
                map.clone()
            }
            Some(_) => {
                return Err(TemplateError::invalid(
                    "DeviceConfiguration",
                    "must be an object",
                ));
            }
        };
        Ok(Template {
            parameters,
            mappings,
            resources,
            device_configuration,
        })
    }
}

fn mappings(section: Option<&Value>) -> Result<Map<String, Value>, TemplateError> {
    let Some(section) = section else {
        return Ok(Map::new());
    };
    let Value::Object(maps) = section else {
        return Err(TemplateError::invalid("Mappings", "must be an object"));
    };
    for (name, map) in maps {
        let Value::Object(top) = map else {
            return Err(TemplateError::invalid(
                &format!("Mappings.{name}"),
                "must be an object of top-level keys",
            ));
        };
        for (key, second) in top {
            let path = format!("Mappings.{name}.{key}");
            let Value::Object(values) = second else {
                return Err(TemplateError::invalid(
                    &path,
                    "must be an object of second-level keys",
                ));
            };
            for (leaf, value) in values {
                let ok = match value {
                    Value::String(_) | Value::Number(_) => true,
                    Value::Array(items) => items.iter().all(|i| i.is_string() || i.is_number()),
                    _ => false,
                };
                if !ok || intrinsic::call(value).is_some() {
                    return Err(TemplateError::invalid(
                        &format!("{path}.{leaf}"),
                        "mapping values are strings, numbers or lists of them; Mappings \
                         cannot hold parameters or functions",
                    ));
                }
            }
        }
    }
    Ok(maps.clone())
}

fn parameters(
    section: Option<&Value>,
    used: Use,
) -> Result<BTreeMap<String, Parameter>, TemplateError> {
    let Some(section) = section else {
        return Ok(BTreeMap::new());
    };
    let Value::Object(declared) = section else {
        return Err(TemplateError::invalid("Parameters", "must be an object"));
    };
    let mut out = BTreeMap::new();
    for (name, spec) in declared {
        let path = format!("Parameters.{name}");
        if used == Use::Jitp && !PSEUDO_PARAMETERS.contains(&name.as_str()) {
            return Err(TemplateError::invalid(
                &path,
                "just-in-time provisioning templates can declare only the certificate's \
                 parameters AWS::IoT::Certificate::Id, CommonName, Country, Organization, \
                 OrganizationalUnit, DistinguishedNameQualifier, StateName and SerialNumber",
            ));
        }
        let Value::Object(spec) = spec else {
            return Err(TemplateError::invalid(
                &path,
                "must be an object with Type and an optional Default",
            ));
        };
        if let Some(key) = spec.keys().find(|k| *k != "Type" && *k != "Default") {
            return Err(TemplateError::invalid(
                &format!("{path}.{key}"),
                "is not a parameter attribute; use Type and Default",
            ));
        }
        match spec.get("Type") {
            Some(Value::String(t)) if t == "String" => {}
            Some(other) => {
                return Err(TemplateError::invalid(
                    &format!("{path}.Type"),
                    format!("is {other}; provisioning template parameters are of Type String"),
                ));
            }
            None => {
                return Err(TemplateError::invalid(
                    &path,
                    "has no Type; declare \"Type\": \"String\"",
                ));
            }
        }
        let default = match spec.get("Default") {
            None => None,
            Some(Value::String(d)) => Some(d.clone()),
            Some(_) => {
                return Err(TemplateError::invalid(
                    &format!("{path}.Default"),
                    "must be a string",
                ));
            }
        };
        out.insert(name.clone(), Parameter { default });
    }
    Ok(out)
}

/// The properties of each type, with the canonical spelling of each accepted spelling.
fn property(kind: ResourceType, name: &str) -> Option<&'static str> {
    let known: &[&'static str] = match kind {
        ResourceType::Thing => &[
            "ThingName",
            "AttributePayload",
            "ThingTypeName",
            "ThingGroups",
            "BillingGroup",
        ],
        ResourceType::Certificate => &[
            "CertificateId",
            "CertificatePem",
            "CACertificatePem",
            "CertificateSigningRequest",
            "Status",
        ],
        ResourceType::Policy => &["PolicyName", "PolicyDocument"],
    };
    if kind == ResourceType::Certificate && name == "CertificateID" {
        return Some("CertificateId");
    }
    known.iter().copied().find(|k| *k == name)
}

/// The properties `OverrideSettings` may name, with the overrides each allows.
fn override_key(kind: ResourceType, name: &str) -> Option<(&'static str, &'static [Override])> {
    use Override::{DoNothing, Fail, Merge, Replace};
    const ALL: &[Override] = &[DoNothing, Replace, Fail, Merge];
    const NO_MERGE: &[Override] = &[DoNothing, Replace, Fail];
    match (kind, name) {
        (ResourceType::Thing, "AttributePayload" | "ATTRIBUTE_PAYLOAD") => {
            Some(("AttributePayload", ALL))
        }
        (ResourceType::Thing, "ThingTypeName" | "THING_TYPE_NAME") => {
            Some(("ThingTypeName", NO_MERGE))
        }
        (ResourceType::Thing, "ThingGroups" | "THING_GROUPS") => Some(("ThingGroups", ALL)),
        (ResourceType::Certificate, "Status" | "STATUS") => Some(("Status", NO_MERGE)),
        _ => None,
    }
}

fn resources(
    section: Option<&Value>,
    used: Use,
    mappings: &Map<String, Value>,
) -> Result<Vec<Resource>, TemplateError> {
    let Some(section) = section else {
        return Ok(Vec::new());
    };
    let Value::Object(declared) = section else {
        return Err(TemplateError::invalid("Resources", "must be an object"));
    };
    let mut out: Vec<Resource> = Vec::new();
    for (logical_id, resource) in declared {
        let path = format!("Resources.{logical_id}");
        let parsed = resource_of(logical_id, resource, &path, used, mappings)?;
        if parsed.kind != ResourceType::Policy && out.iter().any(|r| r.kind == parsed.kind) {
            return Err(TemplateError::invalid(
                &path,
                "a template declares at most one AWS::IoT::Thing and one AWS::IoT::Certificate",
            ));
        }
        out.push(parsed);
    }
    Ok(out)
}

fn resource_of(
    logical_id: &str,
    resource: &Value,
    path: &str,
    used: Use,
    mappings: &Map<String, Value>,
) -> Result<Resource, TemplateError> {
    let Value::Object(resource) = resource else {
        return Err(TemplateError::invalid(
            path,
            "must be an object with Type and Properties",
        ));
    };
    if let Some(key) = resource
        .keys()
        .find(|k| !["Type", "Properties", "OverrideSettings"].contains(&k.as_str()))
    {
        return Err(TemplateError::invalid(
            &format!("{path}.{key}"),
            "is not a member of a resource; use Type, Properties and OverrideSettings",
        ));
    }
    let kind = resource
        .get("Type")
        .and_then(Value::as_str)
        .and_then(ResourceType::parse)
        .ok_or_else(|| {
            TemplateError::invalid(
                &format!("{path}.Type"),
                "must be AWS::IoT::Thing, AWS::IoT::Certificate or AWS::IoT::Policy",
            )
        })?;
    let mut properties = Map::new();
    match resource.get("Properties") {
        None => {}
        Some(Value::Object(given)) => {
            for (name, value) in given {
                let prop_path = format!("{path}.Properties.{name}");
                let canonical = property(kind, name).ok_or_else(|| {
                    TemplateError::invalid(&prop_path, "is not a property of this resource type")
                })?;
                intrinsic::check(value, &prop_path, mappings)?;
                properties.insert(canonical.to_owned(), value.clone());
            }
        }
        Some(_) => {
            return Err(TemplateError::invalid(
                &format!("{path}.Properties"),
                "must be an object",
            ));
        }
    }
    check_properties(kind, &properties, path, used)?;
    let overrides = overrides(kind, resource.get("OverrideSettings"), path)?;
    Ok(Resource {
        logical_id: logical_id.to_owned(),
        kind,
        properties,
        overrides,
    })
}

fn check_properties(
    kind: ResourceType,
    properties: &Map<String, Value>,
    path: &str,
    used: Use,
) -> Result<(), TemplateError> {
    let has = |name: &str| properties.contains_key(name);
    match kind {
        ResourceType::Thing => Ok(()),
        ResourceType::Policy => match (has("PolicyName"), has("PolicyDocument")) {
            (true, false) | (false, true) => Ok(()),
            _ => Err(TemplateError::invalid(
                &format!("{path}.Properties"),
                "a policy resource has PolicyName or PolicyDocument, but not both",
            )),
        },
        ResourceType::Certificate => {
            let sources = [
                "CertificateId",
                "CertificatePem",
                "CertificateSigningRequest",
            ]
            .iter()
            .filter(|s| has(s))
            .count();
            if sources != 1 {
                return Err(TemplateError::invalid(
                    &format!("{path}.Properties"),
                    "a certificate resource has one of CertificateId, CertificatePem or \
                     CertificateSigningRequest",
                ));
            }
            if has("CACertificatePem") && !has("CertificatePem") {
                return Err(TemplateError::invalid(
                    &format!("{path}.Properties.CACertificatePem"),
                    "goes with CertificatePem only",
                ));
            }
            if used != Use::Register && !has("CertificateId") {
                return Err(TemplateError::invalid(
                    &format!("{path}.Properties"),
                    "fleet provisioning and just-in-time provisioning templates name the \
                     certificate by CertificateId (usually {\"Ref\": \"AWS::IoT::Certificate::Id\"})",
                ));
            }
            if let Some(Value::String(status)) = properties.get("Status")
                && !["ACTIVE", "INACTIVE"].contains(&status.to_ascii_uppercase().as_str())
            {
                return Err(TemplateError::invalid(
                    &format!("{path}.Properties.Status"),
                    format!("is {status:?}; use ACTIVE or INACTIVE"),
                ));
            }
            Ok(())
        }
    }
}

fn overrides(
    kind: ResourceType,
    section: Option<&Value>,
    path: &str,
) -> Result<BTreeMap<&'static str, Override>, TemplateError> {
    let mut out = BTreeMap::new();
    let Some(section) = section else {
        return Ok(out);
    };
    let path = format!("{path}.OverrideSettings");
    if kind == ResourceType::Policy {
        return Err(TemplateError::invalid(
            &path,
            "OverrideSettings are not available for policy resources",
        ));
    }
    let Value::Object(given) = section else {
        return Err(TemplateError::invalid(&path, "must be an object"));
    };
    for (name, value) in given {
        let key_path = format!("{path}.{name}");
        let (canonical, allowed) = override_key(kind, name).ok_or_else(|| {
            TemplateError::invalid(&key_path, "is not a property OverrideSettings can name")
        })?;
        let chosen = value
            .as_str()
            .and_then(Override::parse)
            .filter(|o| allowed.contains(o))
            .ok_or_else(|| {
                TemplateError::invalid(
                    &key_path,
                    format!(
                        "is {value}; use {}",
                        allowed
                            .iter()
                            .map(|o| match o {
                                Override::DoNothing => "DO_NOTHING",
                                Override::Replace => "REPLACE",
                                Override::Fail => "FAIL",
                                Override::Merge => "MERGE",
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
        out.insert(canonical, chosen);
    }
    Ok(out)
}
