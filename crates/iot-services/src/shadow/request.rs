//! Update requests (the request state document of device-shadow-document.md): decoding the
//! payload bytes and every validation AWS applies before touching the stored shadow, each with
//! AWS's message. It does not look at the stored document: version conflicts and the size of the
//! merged result are decided in `document.rs`.

use serde_json::{Map, Value};

use super::error::ShadowError;
use super::limits::Limits;

/// A validated update request: `state` as sent, with `clientToken` and `version`.
///
/// Built only by [`UpdateRequest::parse`], so everything downstream can rely on its shape:
/// `state` is `null` or an object holding at most `desired` and `reported`, each `null` or an
/// object within the depth limit, with no `null` inside an array. Keys beside `state`,
/// `clientToken` and `version` are ignored ("JSON content outside of those sections is
/// ignored").
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRequest {
    state: Value,
    client_token: Option<String>,
    version: Option<u64>,
}

/// What an update does to one of the two sections.
pub(crate) enum SectionChange<'a> {
    /// The request does not name the section.
    Keep,
    /// `"desired": null`: the section goes away.
    Remove,
    /// An object to deep-merge into the section.
    Merge(&'a Map<String, Value>),
}

impl UpdateRequest {
    /// Decodes and validates an update request payload.
    ///
    /// The checks run in this order, and the first that fails is the answer:
    /// 1. the bytes are UTF-8, else 415 `Unsupported documented encoding; supported encoding
    ///    is UTF-8`;
    /// 2. they are one JSON object, else 400 `Invalid JSON` (an empty payload or a JSON array
    ///    is not a request document; AWS's wording for those is undocumented and this is the
    ///    closest of its messages);
    /// 3. `clientToken`, when present and not `null`, is a string of at most
    ///    [`Limits::max_client_token_bytes`] bytes, else 400 `Invalid clientToken`;
    /// 4. `version`, when present and not `null`, is a non-negative integer, else 400
    ///    `Invalid version`;
    /// 5. `state` is present (`"state": null` is a request that clears the shadow), else 400
    ///    `Missing required node: state`; it is `null` or an object, else 400 `State node must
    ///    be an object`;
    /// 6. `state` holds no key but `desired` and `reported`, else 400 `State contains an
    ///    invalid node: '<key>'` (the alphabetically first, when there are several);
    /// 7. each section is `null` or an object, else 400 `Desired node must be an object` /
    ///    `Reported node must be an object`;
    /// 8. each section nests at most [`Limits::max_depth`] levels, else 400 `JSON contains too
    ///    many levels of nesting; maximum is 6`;
    /// 9. no array holds a `null`, at any depth inside it, else 400 `Invalid JSON` ("Arrays
    ///    can't have null values", device-shadow-document.md).
    ///
    /// `null` for `clientToken` or `version` counts as absent, as in AWS's local shadow service
    /// (aws-greengrass-shadow-manager); the real service's treatment is undocumented.
    pub fn parse(payload: &[u8], limits: &Limits) -> Result<UpdateRequest, ShadowError> {
        let text = std::str::from_utf8(payload).map_err(|_| ShadowError::unsupported_encoding())?;
        let Ok(Value::Object(mut root)) = serde_json::from_str::<Value>(text) else {
            return Err(ShadowError::invalid_json());
        };
        let client_token = client_token_field(&root, limits)?;
        let version = match root.get("version") {
            None | Some(Value::Null) => None,
            Some(version) => Some(version.as_u64().ok_or_else(ShadowError::invalid_version)?),
        };
        let state = root
            .remove("state")
            .ok_or_else(ShadowError::missing_state)?;
        check_state(&state, limits)?;
        Ok(UpdateRequest {
            state,
            client_token,
            version,
        })
    }

    /// The request's `state`, exactly as sent (echoed by `update/accepted`).
    pub fn state(&self) -> &Value {
        &self.state
    }

    /// The request's `clientToken`, echoed in every response to it.
    pub fn client_token(&self) -> Option<&str> {
        self.client_token.as_deref()
    }

    /// The request's `version`: the update applies only if the shadow is at this version.
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// Whether the request is `"state": null`, which clears both sections.
    pub(crate) fn clears_state(&self) -> bool {
        self.state.is_null()
    }

    /// What the request does to the section named `name` (`desired` or `reported`).
    pub(crate) fn section(&self, name: &str) -> SectionChange<'_> {
        match self.state.get(name) {
            None => SectionChange::Keep,
            Some(Value::Object(patch)) => SectionChange::Merge(patch),
            // Validation leaves only null here.
            Some(_) => SectionChange::Remove,
        }
    }
}

/// The `clientToken` of a request payload, for answering a request that is rejected or that
/// has no body to parse (get and delete): `Some` only when the payload is a JSON object whose
/// `clientToken` is a string within the limit.
///
/// AWS echoes the token "only if a client token was used when publishing valid JSON"
/// (device-shadow-document.md), so a payload that is not JSON, or whose token is itself the
/// problem, gets none.
pub fn request_client_token(payload: &[u8], limits: &Limits) -> Option<String> {
    let text = std::str::from_utf8(payload).ok()?;
    let Ok(Value::Object(root)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    client_token_field(&root, limits).ok().flatten()
}

fn client_token_field(
    root: &Map<String, Value>,
    limits: &Limits,
) -> Result<Option<String>, ShadowError> {
    match root.get("clientToken") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(token)) if token.len() <= limits.max_client_token_bytes => {
            Ok(Some(token.clone()))
        }
        Some(_) => Err(ShadowError::invalid_client_token()),
    }
}

fn check_state(state: &Value, limits: &Limits) -> Result<(), ShadowError> {
    let sections = match state {
        Value::Null => return Ok(()),
        Value::Object(sections) => sections,
        _ => return Err(ShadowError::state_not_object()),
    };
    if let Some(name) = sections
        .keys()
        .filter(|key| !matches!(key.as_str(), "desired" | "reported"))
        .min()
    {
        return Err(ShadowError::invalid_state_node(name));
    }
    for name in ["desired", "reported"] {
        match sections.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::Object(section)) => {
                if section
                    .values()
                    .any(|value| deeper_than(value, 2, limits.max_depth))
                {
                    return Err(ShadowError::too_deep(limits.max_depth));
                }
                if section
                    .values()
                    .any(|value| holds_null_in_array(value, false))
                {
                    return Err(ShadowError::invalid_json());
                }
            }
            Some(_) if name == "desired" => return Err(ShadowError::desired_not_object()),
            Some(_) => return Err(ShadowError::reported_not_object()),
        }
    }
    Ok(())
}

/// Whether `value`, an object or array standing at nesting level `level` (the section object
/// is level 1), or anything inside it, goes past `max` levels. Scalars add no level.
fn deeper_than(value: &Value, level: usize, max: usize) -> bool {
    match value {
        Value::Object(map) => {
            level > max || map.values().any(|child| deeper_than(child, level + 1, max))
        }
        Value::Array(items) => {
            level > max || items.iter().any(|child| deeper_than(child, level + 1, max))
        }
        _ => false,
    }
}

/// Whether a `null` sits inside an array anywhere in `value`. Objects inside arrays are part of
/// the array's value ("Arrays are treated like values"), so their nulls count too.
fn holds_null_in_array(value: &Value, in_array: bool) -> bool {
    match value {
        Value::Null => in_array,
        Value::Array(items) => items.iter().any(|item| holds_null_in_array(item, true)),
        Value::Object(map) => map.values().any(|item| holds_null_in_array(item, in_array)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(payload: &str) -> Result<UpdateRequest, ShadowError> {
        UpdateRequest::parse(payload.as_bytes(), &Limits::default())
    }

    fn message(payload: &str) -> String {
        parse(payload).unwrap_err().message
    }

    #[test]
    fn a_request_keeps_state_token_and_version() {
        let request =
            parse(r#"{"state":{"desired":{"a":1}},"clientToken":"t","version":3,"x":[null]}"#)
                .unwrap();
        assert_eq!(request.state(), &serde_json::json!({"desired": {"a": 1}}));
        assert_eq!(request.client_token(), Some("t"));
        assert_eq!(request.version(), Some(3));
    }

    #[test]
    fn depth_counts_the_section_as_level_one() {
        // desired(1) a(2) b(3) c(4) d(5) e(6): six levels are allowed; scalars add none.
        assert!(parse(r#"{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}}}"#).is_ok());
        assert_eq!(
            message(r#"{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":{}}}}}}}}}"#),
            "JSON contains too many levels of nesting; maximum is 6"
        );
        // Arrays are levels too.
        assert!(parse(r#"{"state":{"reported":{"a":[[[[[1]]]]]}}}"#).is_ok());
        assert!(parse(r#"{"state":{"reported":{"a":[[[[[[1]]]]]]}}}"#).is_err());
    }

    #[test]
    fn nulls_inside_arrays_are_refused_at_any_depth() {
        assert_eq!(
            message(r#"{"state":{"desired":{"a":[1,null]}}}"#),
            "Invalid JSON"
        );
        assert_eq!(
            message(r#"{"state":{"desired":{"a":[{"b":null}]}}}"#),
            "Invalid JSON"
        );
        assert!(parse(r#"{"state":{"desired":{"a":{"b":null}}}}"#).is_ok());
    }

    #[test]
    fn the_first_invalid_node_is_named() {
        assert_eq!(
            message(r#"{"state":{"zeta":1,"delta":{},"desired":{}}}"#),
            "State contains an invalid node: 'delta'"
        );
    }

    #[test]
    fn client_token_for_rejected_requests() {
        let limits = Limits::default();
        let token = |payload: &str| request_client_token(payload.as_bytes(), &limits);
        assert_eq!(
            token(r#"{"state":5,"clientToken":"abc"}"#).as_deref(),
            Some("abc")
        );
        assert_eq!(token(r#"{"clientToken":"abc""#), None);
        assert_eq!(
            token(&format!(r#"{{"clientToken":"{}"}}"#, "x".repeat(65))),
            None
        );
        assert_eq!(token(""), None);
    }
}
