//! The answer of a custom authorizer's function, checked against what AWS IoT accepts
//! ("Defining your Lambda function"): `isAuthenticated`; a `principalId` of 1 to 128 letters and
//! digits; `policyDocuments`, at most 10, each an AWS IoT policy (AWS's example returns them
//! as JSON objects, TestInvokeAuthorizer returns them as strings: both are taken) of at most
//! 2048 characters; `disconnectAfterInSeconds` and `refreshAfterInSeconds` from 300 to 86400.
//! An answer outside these rules fails the connection, as AWS fails it. It does not call the
//! function.

use iot_policy::Policy;
use serde_json::Value;

/// At most this many policy documents.
pub const MAX_POLICY_DOCUMENTS: usize = 10;
/// Each of at most this many characters.
pub const MAX_POLICY_CHARS: usize = 2048;
/// `disconnectAfterInSeconds` and `refreshAfterInSeconds` lie in this range.
pub const SECONDS_RANGE: std::ops::RangeInclusive<u64> = 300..=86_400;

/// A function's answer that follows AWS's rules.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `isAuthenticated`.
    pub is_authenticated: bool,
    /// `principalId` (empty when not authenticated and not given).
    pub principal_id: String,
    /// The policy documents as text, with their parsed form.
    pub policies: Vec<(String, Policy)>,
    /// `disconnectAfterInSeconds`.
    pub disconnect_after: Option<u64>,
    /// `refreshAfterInSeconds`.
    pub refresh_after: Option<u64>,
}

/// Reads a function's answer; the error says which rule it broke.
pub fn parse(bytes: &[u8]) -> Result<Answer, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the answer is not JSON ({e})"))?;
    let Value::Object(map) = value else {
        return Err("the answer is not a JSON object".to_owned());
    };
    let is_authenticated = match map.get("isAuthenticated") {
        Some(Value::Bool(b)) => *b,
        _ => return Err("isAuthenticated is missing or not a boolean".to_owned()),
    };
    let principal_id = match map.get("principalId") {
        Some(Value::String(id))
            if (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            id.clone()
        }
        None | Some(Value::Null) if is_authenticated => {
            return Err("principalId is missing".to_owned());
        }
        None | Some(Value::Null) => String::new(),
        Some(other) => {
            return Err(format!(
                "principalId {other} is not 1 to 128 letters and digits ([a-zA-Z0-9]{{1,128}})"
            ));
        }
    };
    let seconds = |name: &str| match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(secs) if SECONDS_RANGE.contains(&secs) => Ok(Some(secs)),
            _ => Err(format!(
                "{name} {n} is not a whole number from 300 to 86400"
            )),
        },
        Some(other) => Err(format!("{name} {other} is not a number")),
    };
    let disconnect_after = seconds("disconnectAfterInSeconds")?;
    let refresh_after = seconds("refreshAfterInSeconds")?;
    let documents = match map.get("policyDocuments") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err("policyDocuments is not a list".to_owned()),
    };
    if documents.len() > MAX_POLICY_DOCUMENTS {
        return Err(format!(
            "policyDocuments holds {} documents; AWS IoT takes at most {MAX_POLICY_DOCUMENTS}",
            documents.len()
        ));
    }
    let mut policies = Vec::new();
    for (i, document) in documents.iter().enumerate() {
        let text = match document {
            Value::String(text) => text.clone(),
            Value::Object(_) => document.to_string(),
            _ => return Err(format!("policyDocuments[{i}] is not a policy document")),
        };
        if text.chars().count() > MAX_POLICY_CHARS {
            return Err(format!(
                "policyDocuments[{i}] is longer than {MAX_POLICY_CHARS} characters"
            ));
        }
        let policy = Policy::parse(&text).map_err(|e| format!("policyDocuments[{i}]: {e}"))?;
        policies.push((text, policy));
    }
    Ok(Answer {
        is_authenticated,
        principal_id,
        policies,
        disconnect_after,
        refresh_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}"#;

    #[test]
    fn awss_example_answer_is_read_with_objects_or_strings() {
        let answer = parse(
            format!(
                r#"{{"isAuthenticated":true,"principalId":"abc123","disconnectAfterInSeconds":86400,
                    "refreshAfterInSeconds":300,"policyDocuments":[{POLICY},{}]}}"#,
                serde_json::to_string(POLICY).unwrap()
            )
            .as_bytes(),
        )
        .unwrap();
        assert!(answer.is_authenticated);
        assert_eq!(answer.principal_id, "abc123");
        assert_eq!(answer.policies.len(), 2);
        assert_eq!(
            (answer.disconnect_after, answer.refresh_after),
            (Some(86400), Some(300))
        );
        let denied = parse(br#"{"isAuthenticated":false}"#).unwrap();
        assert!(!denied.is_authenticated);
    }

    #[test]
    fn answers_outside_awss_rules_are_refused_with_the_rule() {
        for (answer, words) in [
            (&b"nope"[..], "not JSON"),
            (br#"[]"#, "not a JSON object"),
            (br#"{"principalId":"a"}"#, "isAuthenticated"),
            (br#"{"isAuthenticated":true}"#, "principalId is missing"),
            (
                br#"{"isAuthenticated":true,"principalId":"a-b"}"#,
                "letters and digits",
            ),
            (
                br#"{"isAuthenticated":true,"principalId":"a","refreshAfterInSeconds":10}"#,
                "300 to 86400",
            ),
            (
                br#"{"isAuthenticated":true,"principalId":"a","policyDocuments":["{}"]}"#,
                "policyDocuments[0]",
            ),
        ] {
            let e = parse(answer).unwrap_err();
            assert!(e.contains(words), "{e}");
        }
        let many = format!(
            r#"{{"isAuthenticated":true,"principalId":"a","policyDocuments":[{}]}}"#,
            [POLICY; 11].join(",")
        );
        assert!(parse(many.as_bytes()).unwrap_err().contains("at most 10"));
    }
}
