//! The control plane of fleet provisioning (botocore's `iot` model): Create, Describe, List,
//! Update and DeleteProvisioningTemplate, Create, Describe, List and
//! DeleteProvisioningTemplateVersion, CreateProvisioningClaim and RegisterThing. Each takes the
//! request's members and answers AWS's response body; the server's HTTP adapter runs them on the
//! services worker. A template body is checked with [`Template::parse`] when it is stored, so a
//! bad template is refused at creation with the path of its fault.
//!
//! Where AWS is silent: a template is created disabled unless `enabled` is true (the model has no
//! default; AWS's console and CLI create disabled templates); the only hook `payloadVersion` is
//! `2020-04-01`; ListProvisioningTemplateVersions answers every version (at most five) in one
//! page; a temporary claim certificate carries a policy that allows exactly what the
//! developer guide's claim policy allows, for its template (connect, and the
//! `$aws/certificates/create/*`, `$aws/certificates/create-from-csr/*` and
//! `$aws/provisioning-templates/NAME/provision/*` topics); tags are accepted and not kept.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use store::{
    MAX_TEMPLATE_VERSIONS, PageRequest, ServiceTx, StoredClaim, StoredTemplate,
    StoredTemplateVersion,
};

use super::apply::{self, Context};
use super::error::ProvisioningError;
use super::settings::ProvisioningSettings;
use super::template::{Template, Use};

/// `type` FLEET_PROVISIONING.
pub const TYPE_FLEET: &str = "FLEET_PROVISIONING";

/// `type` JITP.
pub const TYPE_JITP: &str = "JITP";

/// The one `payloadVersion` of pre-provisioning hooks.
const PAYLOAD_VERSION: &str = "2020-04-01";

/// A template's record and the body of its default version.
pub fn load_template(
    tx: &ServiceTx<'_>,
    name: &str,
) -> Result<(StoredTemplate, String), ProvisioningError> {
    let stored = existing(tx, name)?;
    let version = tx
        .template_version(name, stored.default_version)?
        .ok_or_else(|| {
            ProvisioningError::internal(format!(
                "provisioning template {name} has no default version {}",
                stored.default_version
            ))
        })?;
    Ok((stored, version.body))
}

fn existing(tx: &ServiceTx<'_>, name: &str) -> Result<StoredTemplate, ProvisioningError> {
    tx.provisioning_template(name)?.ok_or_else(|| {
        ProvisioningError::not_found(format!("The provisioning template {name} does not exist"))
    })
}

/// Epoch seconds with a fractional part, as AWS's JSON timestamps are.
fn timestamp(ms: i64) -> Value {
    #[allow(clippy::cast_precision_loss)]
    let secs = ms as f64 / 1000.0;
    serde_json::Number::from_f64(secs).map_or(Value::Null, Value::Number)
}

fn string<'a>(
    body: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, ProvisioningError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ProvisioningError::invalid_request(format!(
            "{name} must be a string"
        ))),
    }
}

fn boolean(body: &Map<String, Value>, name: &str) -> Result<Option<bool>, ProvisioningError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ProvisioningError::invalid_request(format!(
            "{name} must be true or false"
        ))),
    }
}

/// AWS: template names are 1–36 of `[0-9A-Za-z_-]`.
pub fn check_template_name(name: &str) -> Result<(), ProvisioningError> {
    let ok = (1..=36).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ProvisioningError::invalid_request(format!(
            "templateName {name:?} is not valid: use 1 to 36 of 0-9, A-Z, a-z, '_' and '-'"
        )))
    }
}

fn check_role(role: &str) -> Result<(), ProvisioningError> {
    if (20..=2048).contains(&role.len()) {
        Ok(())
    } else {
        Err(ProvisioningError::invalid_request(format!(
            "provisioningRoleArn {role:?} must be 20 to 2048 characters, an IAM role ARN"
        )))
    }
}

fn check_description(description: &str) -> Result<(), ProvisioningError> {
    if description.chars().count() <= 500 && !description.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(ProvisioningError::invalid_request(
            "description must be at most 500 characters without control characters",
        ))
    }
}

fn template_use(template_type: &str) -> Use {
    if template_type == TYPE_JITP {
        Use::Jitp
    } else {
        Use::Fleet
    }
}

/// Checks a template body for a template of `template_type`.
fn check_body(body: &str, template_type: &str) -> Result<(), ProvisioningError> {
    Template::parse(body, template_use(template_type))
        .map(|_| ())
        .map_err(|e| {
            ProvisioningError::invalid_request(format!("The template body is invalid: {e}"))
        })
}

/// `preProvisioningHook` as stored (JSON text), checked.
fn hook(body: &Map<String, Value>) -> Result<Option<String>, ProvisioningError> {
    let Some(value) = body.get("preProvisioningHook").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Value::Object(hook) = value else {
        return Err(ProvisioningError::invalid_request(
            "preProvisioningHook must be an object with targetArn and payloadVersion",
        ));
    };
    let target = string(hook, "targetArn")?
        .filter(|t| !t.is_empty() && t.len() <= 2048)
        .ok_or_else(|| {
            ProvisioningError::invalid_request("preProvisioningHook.targetArn is required")
        })?;
    let version = string(hook, "payloadVersion")?.unwrap_or(PAYLOAD_VERSION);
    if version != PAYLOAD_VERSION {
        return Err(ProvisioningError::invalid_request(format!(
            "preProvisioningHook.payloadVersion {version:?} is not supported; use {PAYLOAD_VERSION}"
        )));
    }
    Ok(Some(
        json!({"targetArn": target, "payloadVersion": version}).to_string(),
    ))
}

/// CreateProvisioningTemplate.
pub fn create_template(
    tx: &ServiceTx<'_>,
    settings: &ProvisioningSettings,
    body: &Map<String, Value>,
    template_id: String,
    now_ms: i64,
) -> Result<Value, ProvisioningError> {
    let name = string(body, "templateName")?
        .ok_or_else(|| ProvisioningError::invalid_request("templateName is required"))?;
    check_template_name(name)?;
    let template_body = string(body, "templateBody")?
        .ok_or_else(|| ProvisioningError::invalid_request("templateBody is required"))?;
    let role = string(body, "provisioningRoleArn")?
        .ok_or_else(|| ProvisioningError::invalid_request("provisioningRoleArn is required"))?;
    check_role(role)?;
    let template_type = string(body, "type")?.unwrap_or(TYPE_FLEET);
    if ![TYPE_FLEET, TYPE_JITP].contains(&template_type) {
        return Err(ProvisioningError::invalid_request(format!(
            "type {template_type:?} is not FLEET_PROVISIONING or JITP"
        )));
    }
    let description = string(body, "description")?;
    if let Some(d) = description {
        check_description(d)?;
    }
    let pre_provisioning_hook = hook(body)?;
    if pre_provisioning_hook.is_some() && template_type == TYPE_JITP {
        return Err(ProvisioningError::invalid_request(
            "preProvisioningHook is supported for templates of type FLEET_PROVISIONING only",
        ));
    }
    check_body(template_body, template_type)?;
    let stored = StoredTemplate {
        name: name.to_owned(),
        template_id,
        description: description.map(str::to_owned),
        template_type: template_type.to_owned(),
        enabled: boolean(body, "enabled")?.unwrap_or(false),
        provisioning_role_arn: role.to_owned(),
        pre_provisioning_hook,
        default_version: 1,
        last_version: 1,
        created_ms: now_ms,
        modified_ms: now_ms,
    };
    let first = StoredTemplateVersion {
        template_name: name.to_owned(),
        version: 1,
        body: template_body.to_owned(),
        created_ms: now_ms,
    };
    tx.create_provisioning_template(&stored, &first)
        .map_err(|e| match e {
            store::StoreError::AlreadyExists { .. } => ProvisioningError::already_exists(format!(
                "The provisioning template {name} already exists"
            )),
            other => ProvisioningError::from_store(&other),
        })?;
    Ok(json!({
        "templateArn": settings.template_arn(name),
        "templateName": name,
        "defaultVersionId": 1,
    }))
}

/// DescribeProvisioningTemplate.
pub fn describe_template(
    tx: &ServiceTx<'_>,
    settings: &ProvisioningSettings,
    name: &str,
) -> Result<Value, ProvisioningError> {
    let (t, body) = load_template(tx, name)?;
    let mut out = summary(settings, &t);
    out.insert("defaultVersionId".into(), json!(t.default_version));
    out.insert("templateBody".into(), json!(body));
    out.insert("provisioningRoleArn".into(), json!(t.provisioning_role_arn));
    if let Some(hook) = t
        .pre_provisioning_hook
        .as_deref()
        .and_then(|h| serde_json::from_str::<Value>(h).ok())
    {
        out.insert("preProvisioningHook".into(), hook);
    }
    Ok(Value::Object(out))
}

fn summary(settings: &ProvisioningSettings, t: &StoredTemplate) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("templateArn".into(), json!(settings.template_arn(&t.name)));
    out.insert("templateName".into(), json!(t.name));
    if let Some(d) = &t.description {
        out.insert("description".into(), json!(d));
    }
    out.insert("creationDate".into(), timestamp(t.created_ms));
    out.insert("lastModifiedDate".into(), timestamp(t.modified_ms));
    out.insert("enabled".into(), json!(t.enabled));
    out.insert("type".into(), json!(t.template_type));
    out
}

/// ListProvisioningTemplates.
pub fn list_templates(
    tx: &ServiceTx<'_>,
    settings: &ProvisioningSettings,
    page: &PageRequest,
) -> Result<Value, ProvisioningError> {
    let page = tx.provisioning_templates(page)?;
    let mut out = Map::new();
    out.insert(
        "templates".into(),
        Value::Array(
            page.items
                .iter()
                .map(|t| Value::Object(summary(settings, t)))
                .collect(),
        ),
    );
    if let Some(token) = page.next_token {
        out.insert("nextToken".into(), json!(token));
    }
    Ok(Value::Object(out))
}

/// UpdateProvisioningTemplate: description, enabled, default version, role, hook.
pub fn update_template(
    tx: &ServiceTx<'_>,
    name: &str,
    body: &Map<String, Value>,
    now_ms: i64,
) -> Result<Value, ProvisioningError> {
    let mut t = existing(tx, name)?;
    if let Some(d) = string(body, "description")? {
        check_description(d)?;
        t.description = Some(d.to_owned());
    }
    if let Some(enabled) = boolean(body, "enabled")? {
        t.enabled = enabled;
    }
    if let Some(role) = string(body, "provisioningRoleArn")? {
        check_role(role)?;
        t.provisioning_role_arn = role.to_owned();
    }
    match body.get("defaultVersionId") {
        None | Some(Value::Null) => {}
        Some(v) => {
            let version = v.as_i64().ok_or_else(|| {
                ProvisioningError::invalid_request("defaultVersionId must be a number")
            })?;
            if tx.template_version(name, version)?.is_none() {
                return Err(ProvisioningError::not_found(format!(
                    "Version {version} of provisioning template {name} does not exist"
                )));
            }
            t.default_version = version;
        }
    }
    let new_hook = hook(body)?;
    if boolean(body, "removePreProvisioningHook")? == Some(true) {
        if new_hook.is_some() {
            return Err(ProvisioningError::invalid_request(
                "give preProvisioningHook or removePreProvisioningHook, not both",
            ));
        }
        t.pre_provisioning_hook = None;
    } else if let Some(h) = new_hook {
        if t.template_type == TYPE_JITP {
            return Err(ProvisioningError::invalid_request(
                "preProvisioningHook is supported for templates of type FLEET_PROVISIONING only",
            ));
        }
        t.pre_provisioning_hook = Some(h);
    }
    t.modified_ms = now_ms;
    tx.put_provisioning_template(&t)?;
    Ok(json!({}))
}

/// DeleteProvisioningTemplate.
pub fn delete_template(tx: &ServiceTx<'_>, name: &str) -> Result<Value, ProvisioningError> {
    existing(tx, name)?;
    tx.delete_provisioning_template(name)?;
    Ok(json!({}))
}

/// CreateProvisioningTemplateVersion.
pub fn create_version(
    tx: &ServiceTx<'_>,
    settings: &ProvisioningSettings,
    name: &str,
    body: &Map<String, Value>,
    set_as_default: bool,
    now_ms: i64,
) -> Result<Value, ProvisioningError> {
    let mut t = existing(tx, name)?;
    let template_body = string(body, "templateBody")?
        .ok_or_else(|| ProvisioningError::invalid_request("templateBody is required"))?;
    check_body(template_body, &t.template_type)?;
    if tx.template_versions(name)?.len() >= MAX_TEMPLATE_VERSIONS {
        return Err(ProvisioningError::versions_limit(format!(
            "The provisioning template {name} already has {MAX_TEMPLATE_VERSIONS} versions; \
             delete one with DeleteProvisioningTemplateVersion first"
        )));
    }
    let version = t.last_version.saturating_add(1);
    tx.put_template_version(&StoredTemplateVersion {
        template_name: name.to_owned(),
        version,
        body: template_body.to_owned(),
        created_ms: now_ms,
    })?;
    t.last_version = version;
    if set_as_default {
        t.default_version = version;
    }
    t.modified_ms = now_ms;
    tx.put_provisioning_template(&t)?;
    Ok(json!({
        "templateArn": settings.template_arn(name),
        "templateName": name,
        "versionId": version,
        "isDefaultVersion": set_as_default,
    }))
}

/// DescribeProvisioningTemplateVersion.
pub fn describe_version(
    tx: &ServiceTx<'_>,
    name: &str,
    version: i64,
) -> Result<Value, ProvisioningError> {
    let t = existing(tx, name)?;
    let v = tx.template_version(name, version)?.ok_or_else(|| {
        ProvisioningError::not_found(format!(
            "Version {version} of provisioning template {name} does not exist"
        ))
    })?;
    Ok(json!({
        "versionId": v.version,
        "creationDate": timestamp(v.created_ms),
        "templateBody": v.body,
        "isDefaultVersion": v.version == t.default_version,
    }))
}

/// ListProvisioningTemplateVersions.
pub fn list_versions(tx: &ServiceTx<'_>, name: &str) -> Result<Value, ProvisioningError> {
    let t = existing(tx, name)?;
    let versions: Vec<Value> = tx
        .template_versions(name)?
        .iter()
        .map(|v| {
            json!({
                "versionId": v.version,
                "creationDate": timestamp(v.created_ms),
                "isDefaultVersion": v.version == t.default_version,
            })
        })
        .collect();
    Ok(json!({ "versions": versions }))
}

/// DeleteProvisioningTemplateVersion: the default version cannot be deleted.
pub fn delete_version(
    tx: &ServiceTx<'_>,
    name: &str,
    version: i64,
) -> Result<Value, ProvisioningError> {
    let t = existing(tx, name)?;
    if version == t.default_version {
        return Err(ProvisioningError::delete_conflict(format!(
            "Version {version} is the default version of provisioning template {name}; make \
             another version the default first"
        )));
    }
    if !tx.delete_template_version(name, version)? {
        return Err(ProvisioningError::not_found(format!(
            "Version {version} of provisioning template {name} does not exist"
        )));
    }
    Ok(json!({}))
}

/// The policy a temporary claim certificate carries: the claim policy of the developer guide,
/// for template `name`.
fn claim_policy(settings: &ProvisioningSettings, name: &str) -> String {
    let topics = [
        "$aws/certificates/create/*".to_owned(),
        "$aws/certificates/create-from-csr/*".to_owned(),
        format!("$aws/provisioning-templates/{name}/provision/*"),
    ];
    let arns = |kind: &str| -> Vec<String> {
        topics.iter().map(|t| settings.topic_arn(kind, t)).collect()
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iot:Connect"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": arns("topic")},
            {"Effect": "Allow", "Action": ["iot:Subscribe"], "Resource": arns("topicfilter")},
        ]
    })
    .to_string()
}

/// CreateProvisioningClaim: a claim certificate and key valid for the claim lifetime (AWS: five
/// minutes), not listed among the account's certificates.
pub fn create_claim(
    tx: &ServiceTx<'_>,
    settings: &ProvisioningSettings,
    name: &str,
    now_ms: i64,
) -> Result<Value, ProvisioningError> {
    existing(tx, name)?;
    let expires_ms = now_ms.saturating_add(settings.claim_lifetime_ms);
    let issued = settings.issue_with_key(now_ms, Some(expires_ms.div_euclid(1000)))?;
    tx.put_claim(&StoredClaim {
        certificate_id: issued.id.clone(),
        template_name: name.to_owned(),
        pem: issued.pem.clone(),
        policy_document: claim_policy(settings, name),
        created_ms: now_ms,
        expires_ms,
    })?;
    Ok(json!({
        "certificateId": issued.id,
        "certificatePem": issued.pem,
        "keyPair": {
            "PublicKey": issued.public_key.unwrap_or_default(),
            "PrivateKey": issued.private_key.unwrap_or_default(),
        },
        "expiration": timestamp(expires_ms),
    }))
}

/// RegisterThing (control plane, bulk registration): provisions with the given template body
/// and parameters, all or nothing.
pub fn register_thing(
    tx: &ServiceTx<'_>,
    settings: &ProvisioningSettings,
    body: &Map<String, Value>,
    now_ms: i64,
) -> Result<Value, ProvisioningError> {
    let template_body = string(body, "templateBody")?
        .ok_or_else(|| ProvisioningError::invalid_request("templateBody is required"))?;
    let parameters: BTreeMap<String, String> = match body.get("parameters") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(ProvisioningError::invalid_request(format!(
                    "parameters.{k} must be a string"
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ProvisioningError::invalid_request(
                "parameters must be an object of strings",
            ));
        }
    };
    let template = Template::parse(template_body, Use::Register).map_err(|e| {
        ProvisioningError::invalid_request(format!("The template body is invalid: {e}"))
    })?;
    let plan = template
        .evaluate(&parameters, None)
        .map_err(|e| ProvisioningError::from_template(&e))?;
    let ctx = Context {
        settings,
        bound_certificate: None,
    };
    let applied = apply::atomically(tx, "register thing", |tx| {
        apply::apply(tx, &ctx, &plan, now_ms)
    })?;
    let mut out = Map::new();
    if let Some(pem) = applied.certificate_pem {
        out.insert("certificatePem".into(), json!(pem));
    }
    out.insert("resourceArns".into(), json!(applied.resource_arns));
    Ok(Value::Object(out))
}
