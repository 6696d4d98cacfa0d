//! Custom authorizers on the control plane: CreateAuthorizer, DescribeAuthorizer,
//! ListAuthorizers, UpdateAuthorizer, DeleteAuthorizer, SetDefaultAuthorizer,
//! DescribeDefaultAuthorizer, ClearDefaultAuthorizer, and TestInvokeAuthorizer, which checks the
//! token signature and calls the authorizer's function as a connection would
//! (`crate::authorizer`). Names, token key names and token signing keys (PEM, RSA of at least
//! 2048 bits) are checked before the store keeps them; the store applies the delete rules. Tags
//! are accepted and not kept.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use base64::Engine;
use serde_json::{Map, Value, json};
use store::{AuthorizerRecord, AuthorizerUpdate, Order};

use super::{Api, ApiError, Request, put_opt, required_str, str_member, timestamp};
use crate::authorizer::{self, Credentials, HttpData, MqttData, token};

/// CreateAuthorizer: `POST /authorizer/{authorizerName}`.
pub(super) fn create(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    check_name(name)?;
    let body = req.json()?;
    let function_arn = required_str(&body, "authorizerFunctionArn")?.to_owned();
    check_function_arn(&function_arn)?;
    let signing_disabled = bool_member(&body, "signingDisabled")?.unwrap_or(false);
    let token_key_name = str_member(&body, "tokenKeyName")?.map(str::to_owned);
    if let Some(key) = &token_key_name {
        check_token_key_name(key)?;
    }
    let keys = keys_member(&body)?.unwrap_or_default();
    if !signing_disabled && (token_key_name.is_none() || keys.is_empty()) {
        return Err(ApiError::invalid_request(
            "tokenKeyName and tokenSigningPublicKeys are required unless signingDisabled is true",
        ));
    }
    let now = super::now_ms();
    let record = AuthorizerRecord {
        name: name.to_owned(),
        function_arn,
        token_key_name,
        token_signing_public_keys: keys,
        status: status_member(&body)?.unwrap_or_else(|| "ACTIVE".to_owned()),
        signing_disabled,
        enable_caching_for_http: bool_member(&body, "enableCachingForHttp")?.unwrap_or(false),
        is_default: false,
        created_ms: now,
        modified_ms: now,
    };
    api.registry(|s| s.create_authorizer(&record))?;
    Ok(json!({ "authorizerName": name, "authorizerArn": arn(api, name) }))
}

/// DescribeAuthorizer: `GET /authorizer/{authorizerName}`.
pub(super) fn describe(api: &Api, name: &str) -> Result<Value, ApiError> {
    let record = found(api, name)?;
    Ok(json!({ "authorizerDescription": description(api, &record) }))
}

/// ListAuthorizers: `GET /authorizers/?pageSize=&marker=&isAscendingOrder=&status=`.
pub(super) fn list(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let order = match req.query_bool("isAscendingOrder")? {
        Some(false) => Order::Descending,
        _ => Order::Ascending,
    };
    let page = req.page("marker", "pageSize", 250, order)?;
    let status = req.query("status").map(str::to_owned);
    if let Some(status) = &status {
        check_status(status)?;
    }
    let result = api.registry(|s| s.list_authorizers(&page, status.as_deref()))?;
    let items: Vec<Value> = result
        .items
        .iter()
        .map(|a| json!({ "authorizerName": a.name, "authorizerArn": arn(api, &a.name) }))
        .collect();
    let mut out = Map::new();
    out.insert("authorizers".into(), Value::Array(items));
    put_opt(&mut out, "nextMarker", result.next_token.map(Value::String));
    Ok(Value::Object(out))
}

/// UpdateAuthorizer: `PUT /authorizer/{authorizerName}`.
pub(super) fn update(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    let body = req.json()?;
    let function_arn = str_member(&body, "authorizerFunctionArn")?.map(str::to_owned);
    if let Some(arn) = &function_arn {
        check_function_arn(arn)?;
    }
    let token_key_name = str_member(&body, "tokenKeyName")?.map(str::to_owned);
    if let Some(key) = &token_key_name {
        check_token_key_name(key)?;
    }
    let update = AuthorizerUpdate {
        function_arn,
        token_key_name,
        token_signing_public_keys: keys_member(&body)?,
        status: status_member(&body)?,
        enable_caching_for_http: bool_member(&body, "enableCachingForHttp")?,
    };
    api.registry(|s| s.update_authorizer(name, &update, super::now_ms()))?;
    Ok(json!({ "authorizerName": name, "authorizerArn": arn(api, name) }))
}

/// DeleteAuthorizer: `DELETE /authorizer/{authorizerName}`.
pub(super) fn delete(api: &Api, name: &str) -> Result<Value, ApiError> {
    api.registry(|s| s.delete_authorizer(name))?;
    Ok(json!({}))
}

/// SetDefaultAuthorizer: `POST /default-authorizer`, body `authorizerName`.
pub(super) fn set_default(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let body = req.json()?;
    let name = required_str(&body, "authorizerName")?;
    api.registry(|s| s.set_default_authorizer(name))?;
    Ok(json!({ "authorizerName": name, "authorizerArn": arn(api, name) }))
}

/// DescribeDefaultAuthorizer: `GET /default-authorizer`.
pub(super) fn describe_default(api: &Api) -> Result<Value, ApiError> {
    let record = api
        .registry(|s| s.default_authorizer())?
        .ok_or_else(|| ApiError::not_found("no default authorizer is set"))?;
    Ok(json!({ "authorizerDescription": description(api, &record) }))
}

/// ClearDefaultAuthorizer: `DELETE /default-authorizer`.
pub(super) fn clear_default(api: &Api) -> Result<Value, ApiError> {
    api.registry(|s| s.clear_default_authorizer())?;
    Ok(json!({}))
}

/// TestInvokeAuthorizer: `POST /authorizer/{authorizerName}/test`: the token signature checked
/// as at connection time, then the function called with the given contexts; its answer as AWS
/// returns it (policy documents as strings).
pub(super) async fn test_invoke(api: &Api, req: &Request, name: &str) -> Result<Value, ApiError> {
    let body = req.json()?;
    let name_owned = name.to_owned();
    let record = api
        .registry(|s| s.authorizer(&name_owned))?
        .ok_or_else(|| ApiError::not_found(format!("authorizer {name} does not exist")))?;
    let credentials = Credentials {
        token: str_member(&body, "token")?.map(str::to_owned),
        signature: str_member(&body, "tokenSignature")?.map(str::to_owned),
        server_name: object_member(&body, "tlsContext")?
            .and_then(|tls| tls.get("serverName"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        http: object_member(&body, "httpContext")?.map(|http| HttpData {
            headers: http
                .get("headers")
                .and_then(Value::as_object)
                .map(|h| {
                    h.iter()
                        .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default(),
            query_string: http
                .get("queryString")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }),
        mqtt: object_member(&body, "mqttContext")?
            .map(|mqtt| -> Result<MqttData, ApiError> {
                let password = match mqtt.get("password").and_then(Value::as_str) {
                    Some(text) => Some(
                        base64::engine::general_purpose::STANDARD
                            .decode(text)
                            .map_err(|_| {
                                ApiError::invalid_request("mqttContext.password is not base64")
                            })?,
                    ),
                    None => None,
                };
                Ok(MqttData {
                    username: mqtt
                        .get("username")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    password,
                    client_id: mqtt
                        .get("clientId")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                })
            })
            .transpose()?,
    };
    let verified = authorizer::check_token(&record, &credentials)
        .map_err(|failure| ApiError::invalid_request(failure.reason))?;
    let answer = api
        .config
        .authorizers
        .call(&record, &credentials, verified)
        .await
        .map_err(|failure| {
            ApiError::with_status(
                StatusCode::BAD_REQUEST,
                "InvalidResponseException",
                failure.reason,
            )
        })?;
    let mut out = Map::new();
    out.insert("isAuthenticated".into(), json!(answer.is_authenticated));
    if !answer.principal_id.is_empty() {
        out.insert("principalId".into(), json!(answer.principal_id));
    }
    let documents: Vec<Value> = answer
        .policies
        .iter()
        .map(|(text, _)| json!(text))
        .collect();
    out.insert("policyDocuments".into(), Value::Array(documents));
    put_opt(
        &mut out,
        "refreshAfterInSeconds",
        answer.refresh_after.map(|s| json!(s)),
    );
    put_opt(
        &mut out,
        "disconnectAfterInSeconds",
        answer.disconnect_after.map(|s| json!(s)),
    );
    Ok(Value::Object(out))
}

fn arn(api: &Api, name: &str) -> String {
    api.arns.arn(&format!("authorizer/{name}"))
}

fn found(api: &Api, name: &str) -> Result<AuthorizerRecord, ApiError> {
    api.registry(|s| s.authorizer(name))?
        .ok_or_else(|| ApiError::not_found(format!("authorizer {name} does not exist")))
}

fn description(api: &Api, record: &AuthorizerRecord) -> Value {
    let mut out = Map::new();
    out.insert("authorizerName".into(), json!(record.name));
    out.insert("authorizerArn".into(), json!(arn(api, &record.name)));
    out.insert("authorizerFunctionArn".into(), json!(record.function_arn));
    put_opt(
        &mut out,
        "tokenKeyName",
        record.token_key_name.as_ref().map(|k| json!(k)),
    );
    out.insert(
        "tokenSigningPublicKeys".into(),
        json!(record.token_signing_public_keys),
    );
    out.insert("status".into(), json!(record.status));
    out.insert("creationDate".into(), timestamp(record.created_ms));
    out.insert("lastModifiedDate".into(), timestamp(record.modified_ms));
    out.insert("signingDisabled".into(), json!(record.signing_disabled));
    out.insert(
        "enableCachingForHttp".into(),
        json!(record.enable_caching_for_http),
    );
    Value::Object(out)
}

/// `authorizerName`: 1 to 128 of `[\w=,@-]`.
fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = (1..=128).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '=' | ',' | '@' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_request(format!(
            "authorizerName {name:?} must be 1 to 128 characters of letters, digits and _=,@-"
        )))
    }
}

fn check_function_arn(arn: &str) -> Result<(), ApiError> {
    if arn.is_empty() || arn.len() > 2048 {
        return Err(ApiError::invalid_request(
            "authorizerFunctionArn must be 1 to 2048 characters",
        ));
    }
    Ok(())
}

/// `tokenKeyName`: 1 to 128 of `[a-zA-Z0-9_-]`.
fn check_token_key_name(key: &str) -> Result<(), ApiError> {
    if (1..=128).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(())
    } else {
        Err(ApiError::invalid_request(format!(
            "tokenKeyName {key:?} must be 1 to 128 letters, digits, _ or -"
        )))
    }
}

fn check_status(status: &str) -> Result<(), ApiError> {
    if matches!(status, "ACTIVE" | "INACTIVE") {
        Ok(())
    } else {
        Err(ApiError::invalid_request(format!(
            "status must be ACTIVE or INACTIVE, not {status:?}"
        )))
    }
}

fn status_member(body: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    let status = str_member(body, "status")?;
    if let Some(status) = status {
        check_status(status)?;
    }
    Ok(status.map(str::to_owned))
}

fn bool_member(body: &Map<String, Value>, name: &str) -> Result<Option<bool>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError::invalid_request(format!(
            "member {name} must be true or false"
        ))),
    }
}

fn object_member<'a>(
    body: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(ApiError::invalid_request(format!(
            "member {name} must be an object"
        ))),
    }
}

/// `tokenSigningPublicKeys`: key names (`[a-zA-Z0-9:_-]{1,128}`) to PEM RSA public keys of at
/// least 2048 bits.
fn keys_member(body: &Map<String, Value>) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    let Some(value) = body.get("tokenSigningPublicKeys").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let keys = super::string_map(value, "tokenSigningPublicKeys")?;
    for (name, pem) in &keys {
        let name_ok = (1..=128).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'));
        if !name_ok {
            return Err(ApiError::invalid_request(format!(
                "tokenSigningPublicKeys key name {name:?} must be 1 to 128 letters, digits, :, _ or -"
            )));
        }
        token::parse_key(name, pem).map_err(ApiError::invalid_request)?;
    }
    Ok(Some(keys))
}
