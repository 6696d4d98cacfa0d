//! Job templates (botocore's `iot` model: CreateJobTemplate, DescribeJobTemplate,
//! ListJobTemplates, DeleteJobTemplate): a document and configurations saved under an id, from
//! which CreateJob (`jobTemplateArn`) starts a job. A template is made from a document, a
//! `documentSource` or an existing job (`jobArn`).
//!
//! Where AWS is silent: a template's `documentSource` is read when the template is created, and
//! its jobs use that text; CreateJob's own members (document, description, configurations)
//! override the template's; creating a template whose id exists is `ConflictException`, the
//! exception the model lists for CreateJobTemplate; templates are listed by id.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use store::{PageRequest, ServiceTx, StoredJobTemplate};

use super::configs::{abort, rollout, string, text, timeout};
use super::control::{DocumentInput, check_document, check_job_id, document_source, refuse_gaps};
use super::error::{ErrorCode, JobsError};
use super::job::{AbortCriteria, RolloutConfig};
use super::records::{atomically, existing_job, internal};
use super::settings::JobsSettings;
use super::shapes::timestamp;

/// A job template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobTemplate {
    /// Its id.
    pub template_id: String,
    /// Its description.
    pub description: String,
    /// Its document (JSON text).
    pub document: String,
    /// Where the document was read from.
    pub document_source: Option<String>,
    /// Its rollout configuration.
    pub rollout: Option<RolloutConfig>,
    /// Its abort criteria.
    pub abort: Vec<AbortCriteria>,
    /// Its in-progress timeout.
    pub in_progress_timeout_minutes: Option<i64>,
    /// When it was created (epoch milliseconds).
    pub created_ms: i64,
}

/// CreateJobTemplate, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTemplate {
    /// The template id.
    pub template_id: String,
    /// The job to copy (`jobArn`), by id.
    pub from_job: Option<String>,
    /// The document, unless copied from the job.
    pub document: Option<DocumentInput>,
    /// `description` (required).
    pub description: String,
    /// `jobExecutionsRolloutConfig`.
    pub rollout: Option<RolloutConfig>,
    /// `abortConfig`.
    pub abort: Option<Vec<AbortCriteria>>,
    /// `timeoutConfig`.
    pub in_progress_timeout_minutes: Option<i64>,
}

/// CreateJobTemplate's body (the id comes from the path).
pub fn parse_create(
    template_id: &str,
    body: &Map<String, Value>,
    settings: &JobsSettings,
) -> Result<CreateTemplate, JobsError> {
    check_job_id(template_id).map_err(|_| {
        JobsError::invalid_request(format!(
            "jobTemplateId {template_id:?} must be 1 to 64 characters of a-z, A-Z, 0-9, '_' and '-'"
        ))
    })?;
    refuse_gaps(body)?;
    let description = text(body, "description")?
        .ok_or_else(|| JobsError::invalid_request("description is required"))?;
    let from_job = string(body, "jobArn")?
        .map(|arn| settings.resource_id(arn, "job"))
        .transpose()?;
    let document = match (string(body, "document")?, string(body, "documentSource")?) {
        (Some(text), None) => {
            check_document(text)?;
            Some(DocumentInput::Inline(text.to_owned()))
        }
        (None, Some(url)) => Some(DocumentInput::Source(document_source(url)?)),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(JobsError::invalid_request(
                "give either document or documentSource, not both",
            ));
        }
    };
    if document.is_some() == from_job.is_some() {
        return Err(JobsError::invalid_request(
            "a job template needs exactly one of document, documentSource and jobArn",
        ));
    }
    Ok(CreateTemplate {
        template_id: template_id.to_owned(),
        from_job,
        document,
        description,
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

fn from_stored(row: &StoredJobTemplate) -> Result<JobTemplate, JobsError> {
    serde_json::from_str(&row.body).map_err(|e| {
        tracing::error!(
            "jobs store: job template {} is unreadable: {e}",
            row.template_id
        );
        JobsError::internal()
    })
}

/// The template `template_id`, or `ResourceNotFound`.
pub(crate) fn existing(tx: &ServiceTx<'_>, template_id: &str) -> Result<JobTemplate, JobsError> {
    let row = tx
        .job_template(template_id)
        .map_err(internal)?
        .ok_or_else(|| {
            JobsError::not_found(format!("Job template {template_id} does not exist"))
        })?;
    from_stored(&row)
}

/// CreateJobTemplate, with the document resolved when it was given (`None` when it comes from
/// the job).
pub fn create(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    req: &CreateTemplate,
    document: Option<(&str, Option<&str>)>,
    now_ms: i64,
) -> Result<Value, JobsError> {
    atomically(tx, "create a job template", |tx| {
        if tx
            .job_template(&req.template_id)
            .map_err(internal)?
            .is_some()
        {
            return Err(JobsError::new(
                ErrorCode::Conflict,
                format!("Job template {} already exists", req.template_id),
            ));
        }
        let (text, source, rollout, abort, timeout) = match (&req.from_job, document) {
            (Some(job_id), _) => {
                let job = existing_job(tx, job_id)?;
                (
                    job.document,
                    job.document_source,
                    job.rollout,
                    job.abort,
                    job.in_progress_timeout_minutes,
                )
            }
            (None, Some((text, source))) => (
                text.to_owned(),
                source.map(str::to_owned),
                None,
                Vec::new(),
                None,
            ),
            (None, None) => {
                return Err(JobsError::invalid_request(
                    "a job template needs a document",
                ));
            }
        };
        let template = JobTemplate {
            template_id: req.template_id.clone(),
            description: req.description.clone(),
            document: text,
            document_source: source,
            rollout: req.rollout.clone().or(rollout),
            abort: req.abort.clone().unwrap_or(abort),
            in_progress_timeout_minutes: req.in_progress_timeout_minutes.or(timeout),
            created_ms: now_ms,
        };
        let body = serde_json::to_string(&template).map_err(|_| JobsError::internal())?;
        tx.insert_job_template(&StoredJobTemplate {
            template_id: template.template_id.clone(),
            created_ms: now_ms,
            body,
        })
        .map_err(internal)?;
        Ok(json!({
            "jobTemplateArn": settings.template_arn(&template.template_id),
            "jobTemplateId": template.template_id,
        }))
    })
}

/// DescribeJobTemplate.
pub fn describe(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    template_id: &str,
) -> Result<Value, JobsError> {
    let t = existing(tx, template_id)?;
    let mut map = Map::new();
    map.insert(
        "jobTemplateArn".into(),
        json!(settings.template_arn(&t.template_id)),
    );
    map.insert("jobTemplateId".into(), json!(t.template_id));
    map.insert("description".into(), json!(t.description));
    if let Some(source) = &t.document_source {
        map.insert("documentSource".into(), json!(source));
    }
    map.insert("document".into(), json!(t.document));
    map.insert("createdAt".into(), timestamp(t.created_ms));
    if let Some(r) = &t.rollout {
        map.insert("jobExecutionsRolloutConfig".into(), json!(r));
    }
    if !t.abort.is_empty() {
        map.insert("abortConfig".into(), json!({ "criteriaList": t.abort }));
    }
    if let Some(m) = t.in_progress_timeout_minutes {
        map.insert(
            "timeoutConfig".into(),
            json!({ "inProgressTimeoutInMinutes": m }),
        );
    }
    Ok(Value::Object(map))
}

/// ListJobTemplates, by id.
pub fn list(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    page: &PageRequest,
) -> Result<Value, JobsError> {
    let rows = tx.job_templates(page).map_err(internal)?;
    let mut list = Vec::new();
    for row in &rows.items {
        let t = from_stored(row)?;
        list.push(json!({
            "jobTemplateArn": settings.template_arn(&t.template_id),
            "jobTemplateId": t.template_id,
            "description": t.description,
            "createdAt": timestamp(t.created_ms),
        }));
    }
    let mut body = json!({ "jobTemplates": list });
    if let (Some(token), Value::Object(map)) = (rows.next_token, &mut body) {
        map.insert("nextToken".into(), json!(token));
    }
    Ok(body)
}

/// DeleteJobTemplate.
pub fn delete(tx: &ServiceTx<'_>, template_id: &str) -> Result<Value, JobsError> {
    if tx.delete_job_template(template_id).map_err(internal)? {
        Ok(json!({}))
    } else {
        Err(JobsError::not_found(format!(
            "Job template {template_id} does not exist"
        )))
    }
}
