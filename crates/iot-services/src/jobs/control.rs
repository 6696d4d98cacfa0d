//! The control plane's request bodies (botocore's `iot` model: CreateJob, UpdateJob, CancelJob,
//! CancelJobExecution), parsed into typed requests with the model's constraints, and where a
//! job document may come from. Every refusal is `InvalidRequestException` naming the member and
//! the rule. Members for features tether does not have (presigned S3 URLs, retries, scheduling,
//! namespaces, templates' parameters, package versions) are refused with words naming the gap,
//! so a script does not get an answer that quietly does less than it asked.
//!
//! `documentSource` names a document AWS reads from S3. tether has no S3: it reads a `file://`
//! path on its own machine, or an `http://` URL on a loopback address (a local file server),
//! and refuses everything else, S3 URLs included, naming the gap (docs/aws-differences.md).

use serde_json::{Map, Value};

use super::configs::{abort, rollout, string, tags, text, timeout};
use super::error::JobsError;
use super::execution::StatusDetails;
use super::job::{AbortCriteria, RolloutConfig, Target};
use super::request::status_details;
use super::settings::JobsSettings;
use super::status::TargetSelection;

/// The largest job document (the model's `JobDocument`: 32768).
pub const MAX_DOCUMENT_BYTES: usize = 32_768;

/// Where CreateJob's document comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentInput {
    /// `document`: the text itself.
    Inline(String),
    /// `documentSource`: a location the server reads.
    Source(SourceLocation),
    /// Neither: the document of the job template (`jobTemplateArn`).
    Template,
}

/// A `documentSource` tether can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceLocation {
    /// `file:///absolute/path`.
    File {
        /// The URL as given.
        url: String,
        /// The path.
        path: String,
    },
    /// `http://127.0.0.1:PORT/...`, `http://localhost/...` or `http://[::1]/...`.
    Http {
        /// The URL.
        url: String,
    },
}

impl SourceLocation {
    /// The URL as given.
    pub fn url(&self) -> &str {
        match self {
            SourceLocation::File { url, .. } | SourceLocation::Http { url } => url,
        }
    }
}

/// CreateJob, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateJob {
    /// The job id.
    pub job_id: String,
    /// The target ARNs as given (duplicates dropped).
    pub target_arns: Vec<String>,
    /// What they name.
    pub targets: Vec<Target>,
    /// The document or where to read it.
    pub document: DocumentInput,
    /// `description`.
    pub description: Option<String>,
    /// `targetSelection`.
    pub target_selection: TargetSelection,
    /// `jobExecutionsRolloutConfig`.
    pub rollout: Option<RolloutConfig>,
    /// `abortConfig.criteriaList`.
    pub abort: Vec<AbortCriteria>,
    /// `timeoutConfig.inProgressTimeoutInMinutes`.
    pub in_progress_timeout_minutes: Option<i64>,
    /// `tags`.
    pub tags: Vec<(String, Option<String>)>,
    /// The job template (`jobTemplateArn`) it starts from, by id.
    pub job_template: Option<String>,
}

/// UpdateJob, parsed: each member present replaces the job's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobUpdate {
    /// `description`.
    pub description: Option<String>,
    /// `jobExecutionsRolloutConfig`.
    pub rollout: Option<RolloutConfig>,
    /// `abortConfig`.
    pub abort: Option<Vec<AbortCriteria>>,
    /// `timeoutConfig.inProgressTimeoutInMinutes`.
    pub in_progress_timeout_minutes: Option<i64>,
}

/// CancelJob's body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CancelJob {
    /// `reasonCode`.
    pub reason_code: Option<String>,
    /// `comment`.
    pub comment: Option<String>,
}

/// CancelJobExecution's body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CancelExecution {
    /// `expectedVersion`.
    pub expected_version: Option<i64>,
    /// `statusDetails`.
    pub status_details: Option<StatusDetails>,
}

/// Checks a job id: 1 to 64 characters of `[a-zA-Z0-9_-]`.
pub fn check_job_id(job_id: &str) -> Result<(), JobsError> {
    let ok = (1..=64).contains(&job_id.len())
        && job_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(JobsError::invalid_request(format!(
            "jobId {job_id:?} must be 1 to 64 characters of a-z, A-Z, 0-9, '_' and '-'"
        )))
    }
}

/// Checks a thing name: 1 to 128 characters of `[a-zA-Z0-9:_-]`.
pub fn check_thing_name(thing: &str) -> Result<(), JobsError> {
    let ok = (1..=128).contains(&thing.len())
        && thing
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(JobsError::invalid_request(format!(
            "thingName {thing:?} must be 1 to 128 characters of a-z, A-Z, 0-9, ':', '_' and '-'"
        )))
    }
}

/// Checks a job document: at most 32768 bytes of JSON holding an object.
pub fn check_document(text: &str) -> Result<(), JobsError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(JobsError::invalid_request(format!(
            "The job document is {} bytes; the limit is {MAX_DOCUMENT_BYTES}",
            text.len()
        )));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(_)) => Ok(()),
        Ok(_) => Err(JobsError::invalid_request(
            "The job document must be a JSON object",
        )),
        Err(e) => Err(JobsError::invalid_request(format!(
            "The job document is not valid JSON: {e}"
        ))),
    }
}

/// Where a `documentSource` points, if tether can read it.
pub fn document_source(url: &str) -> Result<SourceLocation, JobsError> {
    let gap = |why: &str| {
        JobsError::invalid_request(format!(
            "documentSource {url:?} {why}: tether has no S3; give the document inline with \
             --document, or a file:///absolute/path or http://127.0.0.1:PORT/... URL that \
             tether can read"
        ))
    };
    if let Some(path) = url.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(gap("is not an absolute file:// path"));
        }
        return Ok(SourceLocation::File {
            url: url.to_owned(),
            path: path.to_owned(),
        });
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.contains('@') {
            return Err(gap("names a user, which tether does not fetch"));
        }
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if loopback {
            return Ok(SourceLocation::Http {
                url: url.to_owned(),
            });
        }
        return Err(gap("is not on a loopback address"));
    }
    if url.starts_with("s3://") || url.contains("amazonaws.com") {
        return Err(gap("is in Amazon S3"));
    }
    if url.starts_with("https://") {
        return Err(gap("uses https, which tether does not fetch"));
    }
    Err(gap("is not a URL tether can read"))
}

/// CreateJob's body (the id comes from the path).
pub fn create_job(
    job_id: &str,
    body: &Map<String, Value>,
    settings: &JobsSettings,
) -> Result<CreateJob, JobsError> {
    check_job_id(job_id)?;
    refuse_gaps(body)?;
    let job_template = string(body, "jobTemplateArn")?
        .map(|arn| settings.template_id(arn))
        .transpose()?;
    let arns = match body.get("targets") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        _ => {
            return Err(JobsError::invalid_request(
                "targets is required: a list of at least one thing or thing group ARN",
            ));
        }
    };
    let mut target_arns: Vec<String> = Vec::new();
    let mut targets = Vec::new();
    for arn in arns {
        let Value::String(arn) = arn else {
            return Err(JobsError::invalid_request(
                "targets must be a list of ARN strings",
            ));
        };
        if target_arns.contains(arn) {
            continue;
        }
        targets.push(settings.target(arn)?);
        target_arns.push(arn.clone());
    }
    let document = match (string(body, "document")?, string(body, "documentSource")?) {
        (Some(text), None) => {
            check_document(text)?;
            DocumentInput::Inline(text.to_owned())
        }
        (None, Some(url)) => DocumentInput::Source(document_source(url)?),
        (Some(_), Some(_)) => {
            return Err(JobsError::invalid_request(
                "give either document or documentSource, not both",
            ));
        }
        (None, None) if job_template.is_some() => DocumentInput::Template,
        (None, None) => {
            return Err(JobsError::invalid_request(
                "a job needs a document: give document, documentSource or jobTemplateArn",
            ));
        }
    };
    let target_selection = match string(body, "targetSelection")? {
        None => TargetSelection::Snapshot,
        Some(text) => TargetSelection::parse(text).ok_or_else(|| {
            JobsError::invalid_request(format!(
                "targetSelection {text:?} must be SNAPSHOT or CONTINUOUS"
            ))
        })?,
    };
    Ok(CreateJob {
        job_id: job_id.to_owned(),
        target_arns,
        targets,
        document,
        description: text(body, "description")?,
        target_selection,
        rollout: body
            .get("jobExecutionsRolloutConfig")
            .map(rollout)
            .transpose()?
            .flatten(),
        abort: body
            .get("abortConfig")
            .map(abort)
            .transpose()?
            .flatten()
            .unwrap_or_default(),
        in_progress_timeout_minutes: body
            .get("timeoutConfig")
            .map(timeout)
            .transpose()?
            .flatten(),
        tags: tags(body.get("tags"))?,
        job_template,
    })
}

/// UpdateJob's body.
pub fn update_job(body: &Map<String, Value>) -> Result<JobUpdate, JobsError> {
    refuse_gaps(body)?;
    Ok(JobUpdate {
        description: text(body, "description")?,
        rollout: body
            .get("jobExecutionsRolloutConfig")
            .map(rollout)
            .transpose()?
            .flatten(),
        abort: body.get("abortConfig").map(abort).transpose()?.flatten(),
        in_progress_timeout_minutes: body
            .get("timeoutConfig")
            .map(timeout)
            .transpose()?
            .flatten(),
    })
}

/// CancelJob's body.
pub fn cancel_job(body: &Map<String, Value>) -> Result<CancelJob, JobsError> {
    let reason_code = string(body, "reasonCode")?.map(str::to_owned);
    if let Some(code) = &reason_code {
        let ok = code.len() <= 128
            && code
                .chars()
                .all(|c| c.is_uppercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return Err(JobsError::invalid_request(format!(
                "reasonCode {code:?} must be at most 128 upper-case letters, digits and '_'"
            )));
        }
    }
    Ok(CancelJob {
        reason_code,
        comment: text(body, "comment")?,
    })
}

/// CancelJobExecution's body.
pub fn cancel_execution(body: &Map<String, Value>) -> Result<CancelExecution, JobsError> {
    let expected_version = match body.get("expectedVersion") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| JobsError::invalid_request("expectedVersion must be an integer"))?,
        ),
    };
    Ok(CancelExecution {
        expected_version,
        status_details: status_details(body.get("statusDetails"))?,
    })
}

fn gap(member: &str, why: &str) -> JobsError {
    JobsError::invalid_request(format!("{member} is not supported by tether: {why}"))
}

/// Members of features tether does not have.
pub(super) fn refuse_gaps(body: &Map<String, Value>) -> Result<(), JobsError> {
    let gaps = [
        (
            "presignedUrlConfig",
            "tether has no S3 to presign URLs for; put plain URLs in the job document",
        ),
        (
            "jobExecutionsRetryConfig",
            "job execution retries are not implemented yet; create a new job to retry",
        ),
        (
            "schedulingConfig",
            "scheduled jobs and maintenance windows are not implemented; create the job when it should start",
        ),
        (
            "namespaceId",
            "customer-managed job namespaces (an AWS IoT Greengrass feature) are not implemented",
        ),
        (
            "documentParameters",
            "AWS managed job templates are not available locally; give the document itself",
        ),
        (
            "destinationPackageVersions",
            "software package catalog versions are not implemented",
        ),
    ];
    for (member, why) in gaps {
        if body.get(member).is_some_and(|v| !v.is_null()) {
            return Err(gap(member, why));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    fn settings() -> JobsSettings {
        JobsSettings::default()
    }

    fn thing(name: &str) -> String {
        settings().thing_arn(name)
    }

    #[test]
    fn a_full_create_job_is_parsed() {
        let b = body(json!({
            "targets": [thing("a"), thing("b"), thing("a")],
            "document": "{\"op\":\"reboot\"}",
            "description": "Reboot",
            "targetSelection": "CONTINUOUS",
            "jobExecutionsRolloutConfig": {"maximumPerMinute": 50, "exponentialRate": {
                "baseRatePerMinute": 5, "incrementFactor": 2.0,
                "rateIncreaseCriteria": {"numberOfSucceededThings": 10}}},
            "abortConfig": {"criteriaList": [{"failureType": "ALL", "action": "CANCEL",
                "thresholdPercentage": 20.5, "minNumberOfExecutedThings": 3}]},
            "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
            "tags": [{"Key": "team", "Value": "fw"}]
        }));
        let c = create_job("job-1", &b, &settings()).unwrap();
        assert_eq!(
            c.targets,
            [Target::Thing("a".into()), Target::Thing("b".into())]
        );
        assert_eq!(c.target_arns.len(), 2, "duplicates dropped");
        assert_eq!(
            c.document,
            DocumentInput::Inline("{\"op\":\"reboot\"}".into())
        );
        assert_eq!(c.target_selection, TargetSelection::Continuous);
        let rollout = c.rollout.unwrap();
        assert_eq!(rollout.maximum_per_minute, Some(50));
        assert_eq!(
            rollout
                .exponential_rate
                .unwrap()
                .rate_increase_criteria
                .number_of_succeeded_things,
            Some(10)
        );
        assert_eq!(c.abort[0].min_number_of_executed_things, 3);
        assert_eq!(c.in_progress_timeout_minutes, Some(30));
        assert_eq!(c.tags, [("team".to_owned(), Some("fw".to_owned()))]);
    }

    #[test]
    fn every_broken_rule_is_refused_naming_the_member() {
        let doc = "{}";
        let cases = [
            (json!({"document": doc}), "targets is required"),
            (
                json!({"targets": [], "document": doc}),
                "targets is required",
            ),
            (json!({"targets": [thing("a")]}), "needs a document"),
            (
                json!({"targets": [thing("a")], "document": "[1]"}),
                "JSON object",
            ),
            (
                json!({"targets": [thing("a")], "document": "{"}),
                "not valid JSON",
            ),
            (
                json!({"targets": [thing("a")], "document": doc, "documentSource": "file:///x"}),
                "not both",
            ),
            (
                json!({"targets": [thing("a")], "document": doc, "targetSelection": "ONCE"}),
                "targetSelection",
            ),
            (
                json!({"targets": [thing("a")], "document": doc, "timeoutConfig": {"inProgressTimeoutInMinutes": 0}}),
                "inProgressTimeoutInMinutes",
            ),
            (
                json!({"targets": [thing("a")], "document": doc, "jobExecutionsRolloutConfig": {"maximumPerMinute": 1001}}),
                "maximumPerMinute",
            ),
            (
                json!({"targets": [thing("a")], "document": doc, "jobExecutionsRolloutConfig": {"exponentialRate": {"baseRatePerMinute": 5, "incrementFactor": 2, "rateIncreaseCriteria": {"numberOfNotifiedThings": 5}}}}),
                "maximumPerMinute is required",
            ),
            (
                json!({"targets": [thing("a")], "document": doc, "jobExecutionsRolloutConfig": {"maximumPerMinute": 9, "exponentialRate": {"baseRatePerMinute": 5, "incrementFactor": 9, "rateIncreaseCriteria": {"numberOfNotifiedThings": 5}}}}),
                "incrementFactor",
            ),
            (
                json!({"targets": [thing("a")], "document": doc, "jobExecutionsRolloutConfig": {"maximumPerMinute": 9, "exponentialRate": {"baseRatePerMinute": 5, "incrementFactor": 2, "rateIncreaseCriteria": {}}}}),
                "exactly one",
            ),
            (
                json!({"targets": [thing("a")], "document": doc, "abortConfig": {"criteriaList": []}}),
                "criteriaList",
            ),
            (
                json!({"targets": [thing("a")], "document": doc, "abortConfig": {"criteriaList": [{"failureType": "X", "action": "CANCEL", "thresholdPercentage": 1, "minNumberOfExecutedThings": 1}]}}),
                "failureType",
            ),
            (
                json!({"targets": [thing("a")], "document": doc, "abortConfig": {"criteriaList": [{"failureType": "ALL", "action": "CANCEL", "thresholdPercentage": 101, "minNumberOfExecutedThings": 1}]}}),
                "thresholdPercentage",
            ),
            (
                json!({"targets": [thing("a")], "document": doc, "presignedUrlConfig": {"expiresInSec": 60}}),
                "presignedUrlConfig is not supported",
            ),
            (
                json!({"targets": [thing("a")], "document": doc, "jobExecutionsRetryConfig": {}}),
                "jobExecutionsRetryConfig is not supported",
            ),
            (
                json!({"targets": [thing("a")], "document": doc, "schedulingConfig": {}}),
                "schedulingConfig is not supported",
            ),
            (
                json!({"targets": ["arn:aws:iot:us-east-1:123456789012:policy/p"], "document": doc}),
                "neither a thing",
            ),
            (
                json!({"targets": [thing("a")], "document": doc, "description": ""}),
                "description",
            ),
        ];
        for (b, words) in cases {
            let e = create_job("j", &body(b.clone()), &settings()).unwrap_err();
            assert_eq!(
                e.code,
                super::super::error::ErrorCode::InvalidRequest,
                "{b}"
            );
            assert!(e.message.contains(words), "{b}: {}", e.message);
        }
        assert!(
            create_job(
                "bad id",
                &body(json!({"targets": [thing("a")], "document": doc})),
                &settings()
            )
            .is_err()
        );
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_DOCUMENT_BYTES));
        assert!(check_document(&big).unwrap_err().message.contains("32768"));
    }

    #[test]
    fn document_sources_tether_can_read_and_the_gaps_it_names() {
        assert_eq!(
            document_source("file:///tmp/doc.json"),
            Ok(SourceLocation::File {
                url: "file:///tmp/doc.json".into(),
                path: "/tmp/doc.json".into()
            })
        );
        for url in [
            "http://127.0.0.1:8000/doc.json",
            "http://localhost/doc",
            "http://[::1]:9/d",
        ] {
            assert!(
                matches!(document_source(url), Ok(SourceLocation::Http { .. })),
                "{url}"
            );
        }
        for (url, words) in [
            (
                "https://s3.us-east-1.amazonaws.com/bucket/doc.json",
                "is in Amazon S3",
            ),
            ("s3://bucket/doc.json", "is in Amazon S3"),
            (
                "https://example-bucket.s3.amazonaws.com/doc",
                "is in Amazon S3",
            ),
            ("http://192.0.2.1/doc", "loopback"),
            ("http://localhost:80@example.com/doc", "names a user"),
            ("https://localhost/doc", "https"),
            ("file://relative/doc", "absolute"),
            ("doc.json", "not a URL"),
        ] {
            let e = document_source(url).unwrap_err();
            assert!(
                e.message.contains(words) && e.message.contains("tether has no S3"),
                "{url}: {}",
                e.message
            );
        }
    }

    #[test]
    fn update_cancel_and_cancel_execution_bodies() {
        let u = update_job(&body(
            json!({"description": "d", "timeoutConfig": {"inProgressTimeoutInMinutes": 5}}),
        ))
        .unwrap();
        assert_eq!(
            (u.description.as_deref(), u.in_progress_timeout_minutes),
            (Some("d"), Some(5))
        );
        assert!(update_job(&body(json!({"jobExecutionsRetryConfig": {}}))).is_err());
        let c = cancel_job(&body(
            json!({"reasonCode": "BAD_IMAGE_2", "comment": "broken"}),
        ))
        .unwrap();
        assert_eq!(c.reason_code.as_deref(), Some("BAD_IMAGE_2"));
        assert!(cancel_job(&body(json!({"reasonCode": "lower"}))).is_err());
        let e = cancel_execution(&body(
            json!({"expectedVersion": 2, "statusDetails": {"a": "b"}}),
        ))
        .unwrap();
        assert_eq!(e.expected_version, Some(2));
        assert!(cancel_execution(&body(json!({"expectedVersion": "x"}))).is_err());
    }
}
