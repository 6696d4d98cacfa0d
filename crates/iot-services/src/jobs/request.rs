//! The device's requests (jobs-mqtt-api.md; the `iot-jobs-data` model): the JSON payload of each
//! MQTT request, which is also the body of the HTTP form, parsed into typed requests with AWS's
//! limits — `statusDetails` (at most 10 pairs, names `[a-zA-Z0-9:_-]{1,128}`, values of 1 to 1024
//! characters without control characters), `stepTimeoutInMinutes` (1 to 10080, -1 on update),
//! `expectedVersion`, `executionNumber`, the `include*` flags and `clientToken`. Any refusal is
//! `InvalidJson` or `InvalidRequest` naming the field.
//!
//! Where AWS is silent: an empty payload counts as `{}` (devices publish empty requests to
//! `jobs/get`); numbers may also be given as strings of digits, as the documentation's
//! examples write `"expectedVersion": "number"`; unknown members are ignored; a `clientToken`
//! is at most 64 characters.

use serde_json::{Map, Value};

use super::error::{ErrorCode, JobsError};
use super::execution::{DeviceUpdate, StatusDetails, StepTimeout};
use super::status::ExecutionStatus;

/// Most `statusDetails` pairs (the model's CancelJobExecution: "You can specify at most 10
/// name/value pairs").
pub const MAX_DETAILS: usize = 10;
/// Longest `statusDetails` name (`DetailsKey`: 128).
pub const MAX_DETAIL_NAME: usize = 128;
/// Longest `statusDetails` value ("The maximum length of the value in the name/value pair is
/// 1,024 characters").
pub const MAX_DETAIL_VALUE: usize = 1024;
/// Longest `clientToken` accepted.
pub const MAX_CLIENT_TOKEN: usize = 64;

/// StartNextPendingJobExecution's request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StartNext {
    /// Details for the execution it starts.
    pub status_details: Option<StatusDetails>,
    /// A step timer for it.
    pub step_timeout: StepTimeout,
}

/// DescribeJobExecution's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Describe {
    /// Which execution (the latest when `None`).
    pub execution_number: Option<i64>,
    /// Whether the answer holds the job document (default true).
    pub include_job_document: bool,
}

impl Default for Describe {
    fn default() -> Describe {
        Describe {
            execution_number: None,
            include_job_document: true,
        }
    }
}

/// UpdateJobExecution's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The change.
    pub update: DeviceUpdate,
    /// Which execution (the latest when `None`).
    pub execution_number: Option<i64>,
    /// Whether the answer holds `executionState` (default false).
    pub include_job_execution_state: bool,
    /// Whether the answer holds the job document (default false).
    pub include_job_document: bool,
}

/// A request payload as a JSON object; an empty payload is `{}`.
pub fn object(payload: &[u8]) -> Result<Map<String, Value>, JobsError> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let invalid = |why: String| {
        JobsError::new(
            ErrorCode::InvalidJson,
            format!("The request payload is not UTF-8 JSON: {why}"),
        )
    };
    let text = std::str::from_utf8(payload).map_err(|e| invalid(e.to_string()))?;
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(JobsError::new(
            ErrorCode::InvalidJson,
            "The request payload must be a JSON object",
        )),
        Err(e) => Err(invalid(e.to_string())),
    }
}

/// The `clientToken` to echo, when the payload has a usable one (also for refused requests).
pub fn client_token(payload: &[u8]) -> Option<String> {
    let map = object(payload).ok()?;
    match map.get("clientToken") {
        Some(Value::String(token)) if token.chars().count() <= MAX_CLIENT_TOKEN => {
            Some(token.clone())
        }
        _ => None,
    }
}

/// Checks the `clientToken` member of a request.
pub fn check_client_token(map: &Map<String, Value>) -> Result<(), JobsError> {
    match map.get("clientToken") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(token)) if token.chars().count() <= MAX_CLIENT_TOKEN => Ok(()),
        Some(Value::String(_)) => Err(JobsError::invalid_request(format!(
            "clientToken is longer than {MAX_CLIENT_TOKEN} characters"
        ))),
        Some(_) => Err(JobsError::invalid_request("clientToken must be a string")),
    }
}

/// StartNextPendingJobExecution's payload.
pub fn start_next(map: &Map<String, Value>) -> Result<StartNext, JobsError> {
    check_client_token(map)?;
    Ok(StartNext {
        status_details: status_details(map.get("statusDetails"))?,
        step_timeout: match integer(map, "stepTimeoutInMinutes")? {
            Some(minutes) => StepTimeout::from_minutes(minutes, false)?,
            None => StepTimeout::Keep,
        },
    })
}

/// DescribeJobExecution's payload.
pub fn describe(map: &Map<String, Value>) -> Result<Describe, JobsError> {
    check_client_token(map)?;
    Ok(Describe {
        execution_number: execution_number(map)?,
        include_job_document: boolean(map, "includeJobDocument")?.unwrap_or(true),
    })
}

/// UpdateJobExecution's payload.
pub fn update(map: &Map<String, Value>) -> Result<Update, JobsError> {
    check_client_token(map)?;
    let status = match map.get("status") {
        Some(Value::String(text)) => ExecutionStatus::parse(text).ok_or_else(|| {
            JobsError::invalid_request(format!(
                "status {text:?} is not a job execution status: use IN_PROGRESS, SUCCEEDED, \
                 FAILED or REJECTED"
            ))
        })?,
        None | Some(Value::Null) => {
            return Err(JobsError::invalid_request(
                "status is required: IN_PROGRESS, SUCCEEDED, FAILED or REJECTED",
            ));
        }
        Some(_) => return Err(JobsError::invalid_request("status must be a string")),
    };
    Ok(Update {
        update: DeviceUpdate {
            status,
            status_details: status_details(map.get("statusDetails"))?,
            expected_version: integer(map, "expectedVersion")?,
            step_timeout: match integer(map, "stepTimeoutInMinutes")? {
                Some(minutes) => StepTimeout::from_minutes(minutes, true)?,
                None => StepTimeout::Keep,
            },
        },
        execution_number: execution_number(map)?,
        include_job_execution_state: boolean(map, "includeJobExecutionState")?.unwrap_or(false),
        include_job_document: boolean(map, "includeJobDocument")?.unwrap_or(false),
    })
}

/// `statusDetails`, checked against AWS's limits; `None` when absent.
pub fn status_details(value: Option<&Value>) -> Result<Option<StatusDetails>, JobsError> {
    let map = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(JobsError::invalid_request(
                "statusDetails must be an object of string values",
            ));
        }
    };
    if map.len() > MAX_DETAILS {
        return Err(JobsError::invalid_request(format!(
            "statusDetails has {} entries; at most {MAX_DETAILS} are allowed",
            map.len()
        )));
    }
    let mut details = StatusDetails::new();
    for (name, value) in map {
        let name_ok = (1..=MAX_DETAIL_NAME).contains(&name.chars().count())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'));
        if !name_ok {
            return Err(JobsError::invalid_request(format!(
                "statusDetails name {name:?} must be 1 to {MAX_DETAIL_NAME} characters of \
                 a-z, A-Z, 0-9, ':', '_' and '-'"
            )));
        }
        let Value::String(text) = value else {
            return Err(JobsError::invalid_request(format!(
                "statusDetails.{name} must be a string"
            )));
        };
        let value_ok = (1..=MAX_DETAIL_VALUE).contains(&text.chars().count())
            && !text.chars().any(char::is_control);
        if !value_ok {
            return Err(JobsError::invalid_request(format!(
                "statusDetails.{name} must be 1 to {MAX_DETAIL_VALUE} characters without \
                 control characters"
            )));
        }
        details.insert(name.clone(), text.clone());
    }
    Ok(Some(details))
}

fn execution_number(map: &Map<String, Value>) -> Result<Option<i64>, JobsError> {
    match integer(map, "executionNumber")? {
        Some(n) if n < 1 => Err(JobsError::invalid_request(format!(
            "executionNumber {n} is not an execution number (they start at 1)"
        ))),
        other => Ok(other),
    }
}

/// An integer member, also accepted as a string of digits.
fn integer(map: &Map<String, Value>, name: &str) -> Result<Option<i64>, JobsError> {
    let refused = || JobsError::invalid_request(format!("{name} must be an integer"));
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(refused),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| refused()),
        Some(_) => Err(refused()),
    }
}

fn boolean(map: &Map<String, Value>, name: &str) -> Result<Option<bool>, JobsError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(JobsError::invalid_request(format!(
            "{name} must be true or false"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    fn refusal(result: Result<impl std::fmt::Debug, JobsError>) -> JobsError {
        result.unwrap_err()
    }

    #[test]
    fn payloads_are_json_objects_and_an_empty_one_is_empty() {
        assert_eq!(object(b"").unwrap(), Map::new());
        assert_eq!(object(b" \n").unwrap(), Map::new());
        assert_eq!(refusal(object(b"{")).code, ErrorCode::InvalidJson);
        assert_eq!(refusal(object(b"[1]")).code, ErrorCode::InvalidJson);
        assert_eq!(refusal(object(b"\xff\xfe")).code, ErrorCode::InvalidJson);
        assert_eq!(
            client_token(br#"{"clientToken":"abc"}"#).as_deref(),
            Some("abc")
        );
        assert_eq!(client_token(br#"{"clientToken":7}"#), None);
        assert_eq!(client_token(b"not json"), None);
    }

    #[test]
    fn an_update_is_parsed_with_its_defaults() {
        let u = update(&map(json!({"status": "IN_PROGRESS"}))).unwrap();
        assert_eq!(u.update.status, ExecutionStatus::InProgress);
        assert_eq!(u.update.step_timeout, StepTimeout::Keep);
        assert!(!u.include_job_document && !u.include_job_execution_state);
        let u = update(&map(json!({
            "status": "SUCCEEDED", "expectedVersion": "3", "executionNumber": 2,
            "statusDetails": {"progress": "100%"}, "stepTimeoutInMinutes": -1,
            "includeJobDocument": true, "includeJobExecutionState": true,
            "clientToken": "t", "somethingElse": 1
        })))
        .unwrap();
        assert_eq!(u.update.expected_version, Some(3));
        assert_eq!(u.execution_number, Some(2));
        assert_eq!(u.update.step_timeout, StepTimeout::Cancel);
        assert_eq!(u.update.status_details.unwrap()["progress"], "100%");
        assert!(u.include_job_document && u.include_job_execution_state);
    }

    #[test]
    fn every_malformed_field_is_an_invalid_request_naming_it() {
        let cases = [
            (json!({}), "status is required"),
            (json!({"status": 1}), "status must be a string"),
            (
                json!({"status": "DONE"}),
                "\"DONE\" is not a job execution status",
            ),
            (
                json!({"status": "FAILED", "expectedVersion": 1.5}),
                "expectedVersion",
            ),
            (
                json!({"status": "FAILED", "expectedVersion": "x"}),
                "expectedVersion",
            ),
            (
                json!({"status": "FAILED", "executionNumber": 0}),
                "executionNumber",
            ),
            (
                json!({"status": "FAILED", "includeJobDocument": "yes"}),
                "includeJobDocument",
            ),
            (
                json!({"status": "FAILED", "stepTimeoutInMinutes": 0}),
                "stepTimeoutInMinutes",
            ),
            (
                json!({"status": "FAILED", "statusDetails": []}),
                "statusDetails must be an object",
            ),
            (
                json!({"status": "FAILED", "statusDetails": {"a": 1}}),
                "statusDetails.a",
            ),
            (
                json!({"status": "FAILED", "statusDetails": {"a": ""}}),
                "statusDetails.a",
            ),
            (
                json!({"status": "FAILED", "statusDetails": {"a b": "x"}}),
                "\"a b\"",
            ),
            (
                json!({"status": "FAILED", "statusDetails": {"a": "line\nbreak"}}),
                "statusDetails.a",
            ),
            (json!({"status": "FAILED", "clientToken": 5}), "clientToken"),
            (
                json!({"status": "FAILED", "clientToken": "x".repeat(65)}),
                "clientToken",
            ),
        ];
        for (payload, words) in cases {
            let e = refusal(update(&map(payload.clone())));
            assert_eq!(e.code, ErrorCode::InvalidRequest, "{payload}");
            assert!(e.message.contains(words), "{payload}: {}", e.message);
        }
        let eleven: Map<String, Value> = (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
        let e = refusal(status_details(Some(&Value::Object(eleven))));
        assert!(e.message.contains("at most 10"), "{}", e.message);
        let long = json!({ "k": "v".repeat(MAX_DETAIL_VALUE + 1) });
        assert!(status_details(Some(&long)).is_err());
        let longest = json!({ "k": "v".repeat(MAX_DETAIL_VALUE) });
        assert!(status_details(Some(&longest)).is_ok());
    }

    #[test]
    fn start_next_refuses_minus_one_and_describe_defaults_to_the_document() {
        assert_eq!(
            start_next(&map(json!({"stepTimeoutInMinutes": 5})))
                .unwrap()
                .step_timeout,
            StepTimeout::Set(5)
        );
        assert!(start_next(&map(json!({"stepTimeoutInMinutes": -1}))).is_err());
        assert_eq!(describe(&Map::new()).unwrap(), Describe::default());
        let d = describe(&map(
            json!({"includeJobDocument": false, "executionNumber": 4}),
        ))
        .unwrap();
        assert_eq!(
            (d.include_job_document, d.execution_number),
            (false, Some(4))
        );
    }
}
