//! The device plane's documents (jobs-mqtt-api.md, jobs-mqtt-https-api.md,
//! jobs-comm-notifications.md): `JobExecution`, `JobExecutionSummary`, `JobExecutionState`, the
//! answers of the four APIs, the `ErrorResponse`, and the `notify` and `notify-next`
//! notifications. Timestamps are whole epoch seconds, as on AWS's device plane. Over MQTT the
//! job document is a JSON object; over HTTP (`iot-jobs-data`) it is a string, as the model's
//! `JobDocument` shape says.

use serde_json::{Map, Value, json};

use super::error::JobsError;
use super::execution::{Execution, ExecutionState, StatusDetails};
use super::status::ExecutionStatus;

/// How many pending executions a `notify` list and GetPendingJobExecutions carry at most
/// (job-limits.md: 10 without a scheduling configuration).
pub const MAX_PENDING_LISTED: usize = 10;

/// How a job document is written into an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentForm {
    /// A JSON object (MQTT).
    Object,
    /// JSON text in a string (`iot-jobs-data`).
    Text,
}

/// Epoch seconds of epoch milliseconds.
pub fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// The job document in `form`.
pub fn document(text: &str, form: DocumentForm) -> Value {
    match form {
        DocumentForm::Text => Value::String(text.to_owned()),
        DocumentForm::Object => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
        }
    }
}

fn details(details: &StatusDetails) -> Value {
    json!(details)
}

/// A `JobExecution`, with the thing's name (answers) or without it (`notify-next`, as AWS's
/// examples show it), and the document when given.
pub fn execution(
    e: &Execution,
    document_text: Option<&str>,
    form: DocumentForm,
    with_thing: bool,
    now_ms: i64,
) -> Value {
    let mut map = Map::new();
    map.insert("jobId".into(), json!(e.job_id));
    if with_thing {
        map.insert("thingName".into(), json!(e.thing));
    }
    if let Some(text) = document_text {
        map.insert("jobDocument".into(), document(text, form));
    }
    map.insert("status".into(), json!(e.status.as_str()));
    if !e.status_details.is_empty() {
        map.insert("statusDetails".into(), details(&e.status_details));
    }
    map.insert("queuedAt".into(), json!(secs(e.queued_ms)));
    if let Some(started) = e.started_ms {
        map.insert("startedAt".into(), json!(secs(started)));
    }
    map.insert("lastUpdatedAt".into(), json!(secs(e.updated_ms)));
    if let Some(left) = e.seconds_before_timed_out(now_ms) {
        map.insert("approximateSecondsBeforeTimedOut".into(), json!(left));
    }
    map.insert("versionNumber".into(), json!(e.version));
    map.insert("executionNumber".into(), json!(e.execution_number));
    Value::Object(map)
}

/// A `JobExecutionSummary`.
pub fn summary(e: &Execution) -> Value {
    let mut map = Map::new();
    map.insert("jobId".into(), json!(e.job_id));
    map.insert("queuedAt".into(), json!(secs(e.queued_ms)));
    if let Some(started) = e.started_ms {
        map.insert("startedAt".into(), json!(secs(started)));
    }
    map.insert("lastUpdatedAt".into(), json!(secs(e.updated_ms)));
    map.insert("executionNumber".into(), json!(e.execution_number));
    map.insert("versionNumber".into(), json!(e.version));
    Value::Object(map)
}

/// A `JobExecutionState`.
pub fn state(s: &ExecutionState) -> Value {
    let mut map = Map::new();
    map.insert("status".into(), json!(s.status.as_str()));
    if !s.status_details.is_empty() {
        map.insert("statusDetails".into(), details(&s.status_details));
    }
    map.insert("versionNumber".into(), json!(s.version));
    Value::Object(map)
}

/// An answer: `body`'s members, `timestamp` and the request's `clientToken`.
pub fn answer(body: Map<String, Value>, client_token: Option<&str>, now_ms: i64) -> Value {
    let mut map = body;
    map.insert("timestamp".into(), json!(secs(now_ms)));
    if let Some(token) = client_token {
        map.insert("clientToken".into(), json!(token));
    }
    Value::Object(map)
}

/// The `ErrorResponse`: `code`, `message`, `clientToken`, `timestamp`, and `executionState`
/// for `InvalidStateTransition` and `VersionMismatch`.
pub fn error(e: &JobsError, client_token: Option<&str>, now_ms: i64) -> Value {
    let mut map = Map::new();
    map.insert("code".into(), json!(e.code.mqtt_code()));
    map.insert("message".into(), json!(e.message));
    if let Some(s) = &e.execution_state {
        map.insert("executionState".into(), state(s));
    }
    answer(map, client_token, now_ms)
}

/// The pending executions a list shows: IN_PROGRESS ones before QUEUED ones, each in queue
/// order, at most [`MAX_PENDING_LISTED`] ("sorted by status ... and then by the times when they
/// were queued", jobs-comm-notifications.md).
fn listed(executions: &[Execution]) -> Vec<&Execution> {
    let of = |status| executions.iter().filter(move |e| e.status == status);
    of(ExecutionStatus::InProgress)
        .chain(of(ExecutionStatus::Queued))
        .take(MAX_PENDING_LISTED)
        .collect()
}

/// GetPendingJobExecutions' members: `inProgressJobs` and `queuedJobs`, from the thing's pending
/// executions in queue order.
pub fn pending(executions: &[Execution]) -> Map<String, Value> {
    let listed = listed(executions);
    let of = |status| {
        Value::Array(
            listed
                .iter()
                .filter(|e| e.status == status)
                .map(|e| summary(e))
                .collect(),
        )
    };
    let mut map = Map::new();
    map.insert("inProgressJobs".into(), of(ExecutionStatus::InProgress));
    map.insert("queuedJobs".into(), of(ExecutionStatus::Queued));
    map
}

/// The `notify` payload: the thing's pending executions by status (IN_PROGRESS before QUEUED,
/// each in queue order), a status with none left out, as in jobs-comm-notifications.md.
pub fn notify(executions: &[Execution], now_ms: i64) -> Value {
    let listed = listed(executions);
    let mut jobs = Map::new();
    for status in [ExecutionStatus::InProgress, ExecutionStatus::Queued] {
        let list: Vec<Value> = listed
            .iter()
            .filter(|e| e.status == status)
            .map(|e| summary(e))
            .collect();
        if !list.is_empty() {
            jobs.insert(status.as_str().into(), Value::Array(list));
        }
    }
    json!({ "timestamp": secs(now_ms), "jobs": jobs })
}

/// The `notify-next` payload: the next pending execution with its document, or only the
/// timestamp when none is left.
pub fn notify_next(next: Option<(&Execution, &str)>, now_ms: i64) -> Value {
    let mut map = Map::new();
    map.insert("timestamp".into(), json!(secs(now_ms)));
    if let Some((e, document_text)) = next {
        map.insert(
            "execution".into(),
            execution(e, Some(document_text), DocumentForm::Object, false, now_ms),
        );
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::error::ErrorCode;
    use crate::jobs::execution::{DeviceUpdate, StepTimeout, Timers};

    fn execution_at(job: &str, queued_s: i64) -> Execution {
        Execution::queued(job, "MyThing", 1, queued_s * 1000)
    }

    fn started(mut e: Execution, at_s: i64) -> Execution {
        e.start(None, StepTimeout::Keep, &Timers::default(), at_s * 1000);
        e
    }

    #[test]
    fn notify_lists_in_progress_before_queued_as_in_the_developer_guides_walkthrough() {
        // jobs-comm-notifications.md: job1 IN_PROGRESS, job2 and job3 QUEUED.
        let job1 = started(execution_at("job1", 1_517_016_947), 1_517_017_472);
        let job2 = execution_at("job2", 1_517_017_191);
        let job3 = execution_at("job3", 1_517_017_905);
        let payload = notify(&[job1, job2, job3], 1_517_017_906_000);
        assert_eq!(
            payload,
            json!({
                "timestamp": 1_517_017_906,
                "jobs": {
                    "IN_PROGRESS": [{
                        "jobId": "job1", "queuedAt": 1_517_016_947,
                        "lastUpdatedAt": 1_517_017_472, "startedAt": 1_517_017_472,
                        "executionNumber": 1, "versionNumber": 2
                    }],
                    "QUEUED": [
                        {"jobId": "job2", "queuedAt": 1_517_017_191,
                         "lastUpdatedAt": 1_517_017_191, "executionNumber": 1, "versionNumber": 1},
                        {"jobId": "job3", "queuedAt": 1_517_017_905,
                         "lastUpdatedAt": 1_517_017_905, "executionNumber": 1, "versionNumber": 1}
                    ]
                }
            })
        );
        assert_eq!(
            notify(&[], 1_517_189_551_000),
            json!({"timestamp": 1_517_189_551, "jobs": {}})
        );
    }

    #[test]
    fn notify_next_carries_the_document_as_an_object_or_only_the_timestamp() {
        let job2 = execution_at("job2", 1_517_017_191);
        let payload = notify_next(Some((&job2, r#"{"operation":"test"}"#)), 1_517_186_269_000);
        assert_eq!(
            payload,
            json!({
                "timestamp": 1_517_186_269,
                "execution": {
                    "jobId": "job2", "status": "QUEUED", "queuedAt": 1_517_017_191,
                    "lastUpdatedAt": 1_517_017_191, "versionNumber": 1, "executionNumber": 1,
                    "jobDocument": {"operation": "test"}
                }
            })
        );
        assert_eq!(
            notify_next(None, 1_517_189_551_000),
            json!({"timestamp": 1_517_189_551})
        );
    }

    #[test]
    fn the_http_form_writes_the_document_as_text() {
        let e = execution_at("j", 10);
        let v = execution(&e, Some(r#"{"a":1}"#), DocumentForm::Text, true, 10_000);
        assert_eq!(v["jobDocument"], json!(r#"{"a":1}"#));
        assert_eq!(v["thingName"], "MyThing");
    }

    #[test]
    fn errors_carry_the_state_only_when_aws_says_so() {
        let mut e = execution_at("j", 10);
        let err = e
            .update(
                &DeviceUpdate {
                    status: ExecutionStatus::InProgress,
                    status_details: None,
                    expected_version: Some(9),
                    step_timeout: StepTimeout::Keep,
                },
                &Timers::default(),
                20_000,
            )
            .unwrap_err();
        let doc = error(&err, Some("tok"), 20_000);
        assert_eq!(doc["code"], "VersionMismatch");
        assert_eq!(
            doc["executionState"],
            json!({"status": "QUEUED", "versionNumber": 1})
        );
        assert_eq!(
            (doc["clientToken"].as_str(), doc["timestamp"].as_i64()),
            (Some("tok"), Some(20))
        );
        let doc = error(&JobsError::new(ErrorCode::InvalidTopic, "x"), None, 0);
        assert!(doc.get("executionState").is_none() && doc.get("clientToken").is_none());
    }

    #[test]
    fn pending_lists_are_split_and_capped() {
        let many: Vec<Execution> = (0..12).map(|i| execution_at(&format!("j{i}"), i)).collect();
        let map = pending(&many);
        assert_eq!(
            map["queuedJobs"].as_array().unwrap().len(),
            MAX_PENDING_LISTED
        );
        assert_eq!(map["inProgressJobs"], json!([]));
    }
}
