//! The control plane's documents, as botocore's `iot` model shapes them: `Job` (DescribeJob),
//! `JobSummary` (ListJobs), `JobExecution` (DescribeJobExecution, whose `statusDetails` wraps
//! the pairs in `detailsMap`), and `JobExecutionSummary`. Timestamps are epoch seconds with a
//! fractional part, as the model's `timestamp` type is written on the wire.

use serde_json::{Map, Value, json};

use super::execution::Execution;
use super::job::{Counts, Job};
use super::settings::JobsSettings;
use super::status::ExecutionStatus;

/// Epoch seconds with a fractional part.
pub fn timestamp(ms: i64) -> Value {
    // Millisecond precision fits an f64 exactly for any realistic date.
    #[allow(clippy::cast_precision_loss)]
    let secs = ms as f64 / 1000.0;
    serde_json::Number::from_f64(secs).map_or(Value::Null, Value::Number)
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v);
    }
}

/// A `Job`.
pub fn job(job: &Job, counts: &Counts, settings: &JobsSettings) -> Value {
    let mut map = Map::new();
    map.insert("jobArn".into(), json!(settings.job_arn(&job.job_id)));
    map.insert("jobId".into(), json!(job.job_id));
    map.insert("targetSelection".into(), json!(job.target_selection));
    map.insert("status".into(), json!(job.status));
    map.insert("forceCanceled".into(), json!(job.force_canceled));
    put(
        &mut map,
        "reasonCode",
        job.reason_code.as_ref().map(|v| json!(v)),
    );
    put(&mut map, "comment", job.comment.as_ref().map(|v| json!(v)));
    map.insert("targets".into(), json!(job.target_arns));
    put(
        &mut map,
        "description",
        job.description.as_ref().map(|v| json!(v)),
    );
    put(
        &mut map,
        "jobExecutionsRolloutConfig",
        job.rollout.as_ref().map(|v| json!(v)),
    );
    if !job.abort.is_empty() {
        map.insert("abortConfig".into(), json!({ "criteriaList": job.abort }));
    }
    map.insert("createdAt".into(), timestamp(job.created_ms));
    map.insert("lastUpdatedAt".into(), timestamp(job.updated_ms));
    put(&mut map, "completedAt", job.completed_ms.map(timestamp));
    let mut details = Map::new();
    if job.rolling_out() {
        details.insert("processingTargets".into(), json!(job.target_arns));
    }
    for (key, status) in [
        ("numberOfCanceledThings", ExecutionStatus::Canceled),
        ("numberOfSucceededThings", ExecutionStatus::Succeeded),
        ("numberOfFailedThings", ExecutionStatus::Failed),
        ("numberOfRejectedThings", ExecutionStatus::Rejected),
        ("numberOfQueuedThings", ExecutionStatus::Queued),
        ("numberOfInProgressThings", ExecutionStatus::InProgress),
        ("numberOfRemovedThings", ExecutionStatus::Removed),
        ("numberOfTimedOutThings", ExecutionStatus::TimedOut),
    ] {
        details.insert(key.into(), json!(counts.of(status)));
    }
    map.insert("jobProcessDetails".into(), Value::Object(details));
    if let Some(minutes) = job.in_progress_timeout_minutes {
        map.insert(
            "timeoutConfig".into(),
            json!({ "inProgressTimeoutInMinutes": minutes }),
        );
    }
    put(
        &mut map,
        "jobTemplateArn",
        job.job_template_arn.as_ref().map(|v| json!(v)),
    );
    map.insert("isConcurrent".into(), json!(job.rolling_out()));
    Value::Object(map)
}

/// A `JobSummary`.
pub fn job_summary(job: &Job, settings: &JobsSettings) -> Value {
    let mut map = Map::new();
    map.insert("jobArn".into(), json!(settings.job_arn(&job.job_id)));
    map.insert("jobId".into(), json!(job.job_id));
    map.insert("targetSelection".into(), json!(job.target_selection));
    map.insert("status".into(), json!(job.status));
    map.insert("createdAt".into(), timestamp(job.created_ms));
    map.insert("lastUpdatedAt".into(), timestamp(job.updated_ms));
    put(&mut map, "completedAt", job.completed_ms.map(timestamp));
    map.insert("isConcurrent".into(), json!(job.rolling_out()));
    Value::Object(map)
}

/// A `JobExecution`.
pub fn execution(e: &Execution, settings: &JobsSettings, now_ms: i64) -> Value {
    let mut map = Map::new();
    map.insert("jobId".into(), json!(e.job_id));
    map.insert("status".into(), json!(e.status.as_str()));
    map.insert("forceCanceled".into(), json!(e.force_canceled));
    map.insert(
        "statusDetails".into(),
        json!({ "detailsMap": e.status_details }),
    );
    map.insert("thingArn".into(), json!(settings.thing_arn(&e.thing)));
    map.insert("queuedAt".into(), timestamp(e.queued_ms));
    put(&mut map, "startedAt", e.started_ms.map(timestamp));
    map.insert("lastUpdatedAt".into(), timestamp(e.updated_ms));
    map.insert("executionNumber".into(), json!(e.execution_number));
    map.insert("versionNumber".into(), json!(e.version));
    put(
        &mut map,
        "approximateSecondsBeforeTimedOut",
        e.seconds_before_timed_out(now_ms).map(|s| json!(s)),
    );
    Value::Object(map)
}

/// A `JobExecutionSummary`.
pub fn execution_summary(e: &Execution) -> Value {
    let mut map = Map::new();
    map.insert("status".into(), json!(e.status.as_str()));
    map.insert("queuedAt".into(), timestamp(e.queued_ms));
    put(&mut map, "startedAt", e.started_ms.map(timestamp));
    map.insert("lastUpdatedAt".into(), timestamp(e.updated_ms));
    map.insert("executionNumber".into(), json!(e.execution_number));
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_plane_execution_wraps_details_and_names_the_thing_by_arn() {
        let mut e = Execution::queued("j", "lamp", 1, 1_678_750_928_997);
        e.status_details.insert("step".into(), "2".into());
        let v = execution(&e, &JobsSettings::default(), 1_678_750_929_000);
        assert_eq!(v["statusDetails"], json!({"detailsMap": {"step": "2"}}));
        assert_eq!(
            v["thingArn"],
            "arn:aws:iot:us-east-1:123456789012:thing/lamp"
        );
        assert_eq!(v["queuedAt"].to_string(), "1678750928.997");
        assert!(v.get("startedAt").is_none());
        assert_eq!(execution_summary(&e)["status"], "QUEUED");
    }
}
