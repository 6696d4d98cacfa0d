//! The Device Shadow service's response documents (device-shadow-document.md "Response state
//! documents" and "Error response document"): `update/accepted`, `update/delta`,
//! `update/documents`, `get/accepted`, `delete/accepted` and the `*/rejected` error document,
//! which are also the HTTP API's response bodies. It builds JSON values only; it does not
//! choose topics or serialize them.

use serde_json::{Map, Value};

use super::delta::delta_metadata;
use super::document::{ShadowDocument, stamped};
use super::error::ShadowError;
use super::request::UpdateRequest;

/// The `get/accepted` payload (and GetThingShadow's body): `state` with `desired`, `reported`
/// and, when they differ, `delta`; `metadata` with the same three; `version`; `timestamp`
/// (`now`, when the response is generated); `clientToken` when the request had one.
///
/// `metadata.delta` is included as device-shadow-document.md's "Delta state" example shows it
/// ("The delta contains metadata, and its values are equal to the metadata in the `desired`
/// field"). A shadow with no section reads as `"state": {}, "metadata": {}` (moto's
/// AWS-verified `test_update_empty_state`).
pub fn get_response(document: &ShadowDocument, client_token: Option<&str>, now: u64) -> Value {
    let mut state = object(document.state_value());
    let mut metadata = object(super::document::sections(
        &document.metadata.desired,
        &document.metadata.reported,
    ));
    if let Some(delta) = document.delta() {
        metadata.insert(
            "delta".into(),
            Value::Object(delta_metadata(&delta, document.metadata.desired.as_ref())),
        );
        state.insert("delta".into(), Value::Object(delta));
    }
    let mut out = Map::new();
    out.insert("state".into(), Value::Object(state));
    out.insert("metadata".into(), Value::Object(metadata));
    out.insert("version".into(), document.version.into());
    finish(out, now, client_token)
}

/// The `delete/accepted` payload (and DeleteThingShadow's body): `{"version": N, "timestamp":
/// T}`, plus `clientToken` when the request had one (device-shadow-data-flow.md, "Deleting a
/// shadow"). `version` is the version the caller reports for the deleted shadow; tether passes
/// the version it had when deleted.
pub fn delete_response(version: u64, client_token: Option<&str>, now: u64) -> Value {
    let mut out = Map::new();
    out.insert("version".into(), version.into());
    finish(out, now, client_token)
}

/// The error response document, published on `.../rejected` for MQTT requests and returned
/// as the body of an HTTP error: `{"code", "message", "timestamp", "clientToken"}`.
///
/// `clientToken` appears only when given. `timestamp` "is not present in all error response
/// documents" (device-shadow-document.md); every error document AWS shows lacks it for 404
/// (`get/rejected` in developerguide/using-device-shadows.md, and a real capture in
/// aws-amplify/aws-sdk-ios#5388) and for 409 (device-shadow-data-flow.md, "Optimistic
/// locking"), so tether leaves it out for those two codes and includes it for the others.
pub fn error_response(error: &ShadowError, client_token: Option<&str>, now: u64) -> Value {
    let mut out = Map::new();
    out.insert("code".into(), error.code.into());
    out.insert("message".into(), error.message.clone().into());
    if !matches!(error.code, 404 | 409) {
        out.insert("timestamp".into(), now.into());
    }
    if let Some(token) = client_token {
        out.insert("clientToken".into(), token.into());
    }
    Value::Object(out)
}

/// `update/accepted`: the request's `state` as sent (sections and fields it did not name are
/// absent; `null`s are echoed), metadata of the same shape stamped `now`, and the new version.
/// For `"state": null` the metadata is `{"timestamp": now}`, as moto's AWS-verified
/// `test_update_empty_state` records.
pub(crate) fn accepted_payload(request: &UpdateRequest, version: u64, now: u64) -> Value {
    let mut out = Map::new();
    out.insert("state".into(), request.state().clone());
    out.insert("metadata".into(), stamped(request.state(), now));
    out.insert("version".into(), version.into());
    finish(out, now, request.client_token())
}

/// `update/delta`: `state` is the delta itself (no `desired` wrapper) and `metadata` the
/// desired metadata of its fields (device-shadow-document.md "/delta response state document";
/// developerguide/using-device-shadows.md shows one from the live service).
pub(crate) fn delta_payload(
    delta: &Map<String, Value>,
    metadata: Map<String, Value>,
    version: u64,
    now: u64,
    client_token: Option<&str>,
) -> Value {
    let mut out = Map::new();
    out.insert("state".into(), Value::Object(delta.clone()));
    out.insert("metadata".into(), Value::Object(metadata));
    out.insert("version".into(), version.into());
    finish(out, now, client_token)
}

/// `update/documents`: `previous` (`null` when the shadow did not exist) and `current`.
pub(crate) fn documents_payload(
    previous: Option<&ShadowDocument>,
    current: &ShadowDocument,
    now: u64,
    client_token: Option<&str>,
) -> Value {
    let mut out = Map::new();
    out.insert(
        "previous".into(),
        previous.map_or(Value::Null, ShadowDocument::snapshot),
    );
    out.insert("current".into(), current.snapshot());
    finish(out, now, client_token)
}

/// Adds `timestamp` and, when given, `clientToken`.
fn finish(mut out: Map<String, Value>, now: u64, client_token: Option<&str>) -> Value {
    out.insert("timestamp".into(), now.into());
    if let Some(token) = client_token {
        out.insert("clientToken".into(), token.into());
    }
    Value::Object(out)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn error_documents() {
        assert_eq!(
            error_response(&ShadowError::no_shadow("simShadow1"), None, 7),
            json!({"code": 404, "message": "No shadow exists with name: 'simShadow1'"})
        );
        assert_eq!(
            error_response(
                &ShadowError::version_conflict(),
                Some("426bfd96-e720-46d3-95cd-014e3ef12bb6"),
                7
            ),
            json!({
                "code": 409,
                "message": "Version conflict",
                "clientToken": "426bfd96-e720-46d3-95cd-014e3ef12bb6"
            })
        );
        assert_eq!(
            error_response(&ShadowError::invalid_json(), Some("t"), 7),
            json!({"code": 400, "message": "Invalid JSON", "timestamp": 7, "clientToken": "t"})
        );
    }

    #[test]
    fn delete_document() {
        assert_eq!(
            delete_response(4, None, 1591057529),
            json!({"version": 4, "timestamp": 1591057529})
        );
        assert_eq!(
            delete_response(4, Some("c"), 1),
            json!({"version": 4, "timestamp": 1, "clientToken": "c"})
        );
    }
}
