//! IoT policies: CreatePolicy, GetPolicy, ListPolicies, DeletePolicy, CreatePolicyVersion,
//! ListPolicyVersions, GetPolicyVersion, SetDefaultPolicyVersion, DeletePolicyVersion. Every
//! document is parsed with `iot_policy::Policy::parse` before it is stored, so a malformed one
//! is refused (MalformedPolicyException naming the statement and field) instead of failing at
//! the next CONNECT. The store applies the version rules (five at most, default undeletable).
//! Attachments live in `attachments.rs`.

use serde_json::{Map, Value, json};
use store::{Order, PolicyVersion};

use super::{Api, ApiError, Request, put_opt, required_str, timestamp};

/// CreatePolicy: `POST /policies/{policyName}`.
pub(super) fn create(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    check_policy_name(name)?;
    let body = req.json()?;
    let document = required_str(&body, "policyDocument")?;
    check_document(document)?;
    let policy = api.registry(|s| s.create_policy(name, document, super::now_ms()))?;
    Ok(json!({
        "policyName": policy.name,
        "policyArn": api.arns.policy(&policy.name),
        "policyDocument": policy.document,
        "policyVersionId": policy.default_version.to_string(),
    }))
}

/// GetPolicy: `GET /policies/{policyName}` (the default version's document).
pub(super) fn get(api: &Api, name: &str) -> Result<Value, ApiError> {
    let policy = api
        .registry(|s| s.policy(name))?
        .ok_or_else(|| ApiError::not_found(format!("policy {name} does not exist")))?;
    Ok(json!({
        "policyName": policy.name,
        "policyArn": api.arns.policy(&policy.name),
        "policyDocument": policy.document,
        "defaultVersionId": policy.default_version.to_string(),
        "creationDate": timestamp(policy.created_ms),
        "lastModifiedDate": timestamp(policy.modified_ms),
        "generationId": policy.generation.to_string(),
    }))
}

/// ListPolicies: `GET /policies?marker=&pageSize=&isAscendingOrder=` (by name).
pub(super) fn list(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let order = match req.query_bool("isAscendingOrder")? {
        Some(false) => Order::Descending,
        _ => Order::Ascending,
    };
    let page = req.page("marker", "pageSize", 250, order)?;
    let result = api.registry(|s| s.list_policies(&page))?;
    let policies: Vec<Value> = result
        .items
        .iter()
        .map(|p| json!({ "policyName": p.name, "policyArn": api.arns.policy(&p.name) }))
        .collect();
    let mut out = Map::new();
    out.insert("policies".into(), Value::Array(policies));
    put_opt(&mut out, "nextMarker", result.next_token.map(Value::String));
    Ok(Value::Object(out))
}

/// DeletePolicy: `DELETE /policies/{policyName}`.
pub(super) fn delete(api: &Api, name: &str) -> Result<Value, ApiError> {
    api.registry(|s| s.delete_policy(name))?;
    Ok(json!({}))
}

/// CreatePolicyVersion: `POST /policies/{policyName}/version?setAsDefault=`.
pub(super) fn create_version(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    let body = req.json()?;
    let document = required_str(&body, "policyDocument")?;
    check_document(document)?;
    let set_as_default = req.query_bool("setAsDefault")?.unwrap_or(false);
    let version =
        api.registry(|s| s.create_policy_version(name, document, set_as_default, super::now_ms()))?;
    Ok(json!({
        "policyArn": api.arns.policy(name),
        "policyDocument": version.document,
        "policyVersionId": version.version.to_string(),
        "isDefaultVersion": version.is_default,
    }))
}

/// ListPolicyVersions: `GET /policies/{policyName}/version`.
pub(super) fn list_versions(api: &Api, name: &str) -> Result<Value, ApiError> {
    let versions = api.registry(|s| s.list_policy_versions(name))?;
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            json!({
                "versionId": v.version.to_string(),
                "isDefaultVersion": v.is_default,
                "createDate": timestamp(v.created_ms),
            })
        })
        .collect();
    Ok(json!({ "policyVersions": versions }))
}

/// GetPolicyVersion: `GET /policies/{policyName}/version/{policyVersionId}`.
pub(super) fn get_version(api: &Api, name: &str, version: &str) -> Result<Value, ApiError> {
    let number = version_number(version)?;
    let (found, policy) =
        api.registry(|s| Ok((s.policy_version(name, number)?, s.policy(name)?)))?;
    let found: PolicyVersion = found
        .ok_or_else(|| ApiError::not_found(format!("policy {name} has no version {version}")))?;
    let generation = policy.map_or(1, |p| p.generation);
    Ok(json!({
        "policyArn": api.arns.policy(name),
        "policyName": name,
        "policyDocument": found.document,
        "policyVersionId": found.version.to_string(),
        "isDefaultVersion": found.is_default,
        "creationDate": timestamp(found.created_ms),
        "lastModifiedDate": timestamp(found.created_ms),
        "generationId": generation.to_string(),
    }))
}

/// SetDefaultPolicyVersion: `PATCH /policies/{policyName}/version/{policyVersionId}`.
pub(super) fn set_default_version(api: &Api, name: &str, version: &str) -> Result<Value, ApiError> {
    let number = version_number(version)?;
    api.registry(|s| s.set_default_policy_version(name, number, super::now_ms()))?;
    Ok(json!({}))
}

/// DeletePolicyVersion: `DELETE /policies/{policyName}/version/{policyVersionId}`.
pub(super) fn delete_version(api: &Api, name: &str, version: &str) -> Result<Value, ApiError> {
    let number = version_number(version)?;
    api.registry(|s| s.delete_policy_version(name, number))?;
    Ok(json!({}))
}

fn version_number(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::invalid_request(format!(
            "policy version id {text:?} is not a positive whole number"
        ))
    })
}

/// Parses the document as the broker will; errors name the statement and field.
fn check_document(document: &str) -> Result<(), ApiError> {
    iot_policy::Policy::parse(document)
        .map(|_| ())
        .map_err(|e| ApiError::malformed_policy(e.to_string()))
}

/// AWS: policy names are 1–128 of `[\w+=,.@-]`.
fn check_policy_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_request(format!(
            "{name:?} is not a valid policy name: use 1 to 128 of a-z A-Z 0-9 _ + = , . @ -"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_documents_are_refused_with_the_field() {
        let e = check_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"iot:Connect","Resource":"*"}]}"#)
            .unwrap_err();
        assert_eq!(e.kind, "MalformedPolicyException");
        assert_eq!(e.status.as_u16(), 400);
        assert!(e.message.contains("Statement[0]"), "{}", e.message);
        assert!(check_document("{not json").is_err());
        check_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}"#,
        )
        .unwrap();
    }

    #[test]
    fn names_and_versions_are_checked() {
        assert!(check_policy_name("dev-policy_1.@=,+").is_ok());
        assert!(check_policy_name("a b").is_err());
        assert!(check_policy_name("").is_err());
        assert_eq!(version_number("3").unwrap(), 3);
        assert!(version_number("0").is_err());
        assert!(version_number("v1").is_err());
    }
}
