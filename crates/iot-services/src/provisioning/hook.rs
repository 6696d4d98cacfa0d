//! The pre-provisioning hook (pre-provisioning-hook.md): the event RegisterThing sends, the
//! answer it reads, and the state a provisioning waits in while the hook runs. AWS calls a
//! Lambda function; tether calls a local HTTP URL or command configured for the hook's
//! `targetArn` (the server does that, on an async task, within AWS's 5 seconds). Pure.
//!
//! Where AWS is silent: `allowProvisioning` is honoured as the boolean `true` or the text
//! `"true"` in any case (the guide shows both); `parameterOverrides` values must be strings
//! (the RegisterThing parameters are a map of strings); anything else, a hook that fails, times
//! out or answers something unreadable refuses the provisioning with `ACCESS_DENIED`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::error::ProvisioningError;
use super::topic::Format;

/// A RegisterThing waiting for its template's hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookCall {
    /// The hook's `targetArn`, which the server maps to a local URL or command.
    pub target_arn: String,
    /// The event to send (AWS's input object).
    pub event: Value,
    /// What the second step needs.
    pub resume: Resume,
}

/// The state of a RegisterThing while its hook runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub conn: u64,
    pub topic: String,
    pub format: Format,
    pub template: String,
    pub token: String,
    pub parameters: BTreeMap<String, String>,
}

/// The event sent to the hook.
pub fn event(
    claim_certificate_id: &str,
    certificate_id: &str,
    certificate_pem: &str,
    template_arn: &str,
    client_id: &str,
    parameters: &BTreeMap<String, String>,
) -> Value {
    json!({
        "claimCertificateId": claim_certificate_id,
        "certificateId": certificate_id,
        "certificatePem": certificate_pem,
        "templateArn": template_arn,
        "clientId": client_id,
        "parameters": parameters,
    })
}

/// Reads the hook's answer: the parameters to add when it allows the provisioning.
pub fn answer(answer: &Value) -> Result<BTreeMap<String, String>, ProvisioningError> {
    let Value::Object(map) = answer else {
        return Err(ProvisioningError::access_denied(
            "the pre-provisioning hook's answer is not a JSON object",
        ));
    };
    let allowed = match map.get("allowProvisioning") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    if !allowed {
        return Err(ProvisioningError::access_denied(
            "the pre-provisioning hook did not allow the provisioning (allowProvisioning is not \
             true)",
        ));
    }
    overrides(map)
}

fn overrides(map: &Map<String, Value>) -> Result<BTreeMap<String, String>, ProvisioningError> {
    match map.get("parameterOverrides") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(given)) => given
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(ProvisioningError::access_denied(format!(
                    "the pre-provisioning hook's parameterOverrides.{k} is not a string"
                ))),
            })
            .collect(),
        Some(_) => Err(ProvisioningError::access_denied(
            "the pre-provisioning hook's parameterOverrides is not an object",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_explicit_true_allows_and_overrides_are_strings() {
        let ok = answer(&json!({"allowProvisioning": true, "parameterOverrides": {"A": "b"}}));
        assert_eq!(ok.unwrap()["A"], "b");
        assert!(answer(&json!({"allowProvisioning": "True"})).is_ok());
        for refused in [
            json!({"allowProvisioning": false}),
            json!({"allowProvisioning": "yes"}),
            json!({}),
            json!([]),
            json!({"allowProvisioning": true, "parameterOverrides": {"A": 1}}),
        ] {
            let e = answer(&refused).unwrap_err();
            assert_eq!(e.code, "AccessDenied", "{refused}");
        }
    }
}
