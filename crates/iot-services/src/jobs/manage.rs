//! The control plane of Jobs over the store (botocore's `iot` model): CreateJob, DescribeJob,
//! ListJobs, UpdateJob, CancelJob, DeleteJob, GetJobDocument, DescribeJobExecution,
//! ListJobExecutionsForJob, ListJobExecutionsForThing, CancelJobExecution and
//! DeleteJobExecution, and the timers ([`tick`]: execution timeouts and rollout windows). Each
//! returns its answer and what to publish (`notify` and `notify-next` of the things it touched);
//! each change runs in one savepoint, so a refused request changes nothing. The server's HTTP
//! adapter parses the request (`control.rs`), reads a `documentSource`, and maps a
//! [`JobsError`] to AWS's exception.
//!
//! Where AWS is silent: a thing target must be a registered thing and a thing-group target an
//! existing group (`ResourceNotFound` otherwise; `targets.rs` expands groups); ListJobs and
//! ListJobExecutionsForThing list newest jobs first and executions by job id; an unknown thing
//! has no executions (an empty list, not 404).

use serde_json::{Map, Value, json};
use store::{JobFilter, Order, PageRequest, ServiceTx};

use super::control::{
    CancelExecution, CancelJob, CreateJob, JobUpdate, check_job_id, check_thing_name,
};
use super::error::{ErrorCode, JobsError};
use super::job::Job;
use super::records::{
    Watch, atomically, cancel_executions, counts, executions_from, existing_job, internal,
    jobs_from, load_execution, load_job, pending_of_job, roll_out, save_execution, save_job,
    settle_job,
};
use super::settings::JobsSettings;
use super::shapes;
use super::status::{ExecutionStatus, JobStatus};
use super::targets::target_things;
use super::template::{self, JobTemplate};
use crate::Output;

/// Most executions timed out, and jobs rolled out, per tick; the rest wait for the next one.
const TICK_BATCH: usize = 1000;

/// An answer and what it publishes.
pub type Answer = (Value, Output);

fn published(body: Value, notes: Vec<crate::OutMessage>) -> Answer {
    (
        body,
        Output {
            publish: notes,
            direct: Vec::new(),
        },
    )
}

/// CreateJob, with its document resolved (inline, or read from its `documentSource`; `None`
/// when it comes from the job template).
pub fn create_job(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    req: &CreateJob,
    document: Option<&str>,
    document_source: Option<&str>,
    now_ms: i64,
) -> Result<Answer, JobsError> {
    atomically(tx, "create a job", |tx| {
        let template = req
            .job_template
            .as_deref()
            .map(|id| template::existing(tx, id))
            .transpose()?;
        let document = match (document, &template) {
            (Some(text), _) => (text.to_owned(), document_source.map(str::to_owned)),
            (None, Some(t)) => (t.document.clone(), t.document_source.clone()),
            (None, None) => return Err(JobsError::invalid_request("a job needs a document")),
        };
        if load_job(tx, &req.job_id)?.is_some() {
            return Err(JobsError::new(
                ErrorCode::ResourceAlreadyExists,
                format!("Job {} already exists", req.job_id),
            ));
        }
        let active = tx
            .job_count(JobStatus::InProgress.as_str())
            .map_err(internal)?;
        if active >= u64::try_from(settings.max_active_jobs).unwrap_or(u64::MAX) {
            return Err(JobsError::new(
                ErrorCode::LimitExceeded,
                format!(
                    "{active} jobs are IN_PROGRESS, tether's limit; cancel or delete one first"
                ),
            ));
        }
        let things = target_things(tx, &req.targets)?;
        let mut job = new_job(settings, req, template.as_ref(), document, things, now_ms);
        // Save first: executions refer to their job.
        save_job(tx, &job)?;
        let mut watch = Watch::default();
        roll_out(tx, settings, &mut job, &mut watch, now_ms)?;
        save_job(tx, &job)?;
        let mut body = json!({ "jobArn": settings.job_arn(&job.job_id), "jobId": job.job_id });
        if let (Some(d), Value::Object(map)) = (&job.description, &mut body) {
            map.insert("description".into(), json!(d));
        }
        Ok(published(body, watch.notifications(tx, now_ms)?))
    })
}

/// A new job IN_PROGRESS: the request's members, else its template's.
fn new_job(
    settings: &JobsSettings,
    req: &CreateJob,
    template: Option<&JobTemplate>,
    (document, document_source): (String, Option<String>),
    things: Vec<String>,
    now_ms: i64,
) -> Job {
    Job {
        job_id: req.job_id.clone(),
        target_arns: req.target_arns.clone(),
        targets: req.targets.clone(),
        document,
        document_source,
        description: req
            .description
            .clone()
            .or_else(|| template.map(|t| t.description.clone())),
        target_selection: req.target_selection.as_str().to_owned(),
        status: JobStatus::InProgress.as_str().to_owned(),
        force_canceled: false,
        reason_code: None,
        comment: None,
        rollout: req
            .rollout
            .clone()
            .or_else(|| template.and_then(|t| t.rollout.clone())),
        abort: match (template, req.abort.is_empty()) {
            (Some(t), true) => t.abort.clone(),
            _ => req.abort.clone(),
        },
        in_progress_timeout_minutes: req
            .in_progress_timeout_minutes
            .or_else(|| template.and_then(|t| t.in_progress_timeout_minutes)),
        job_template_arn: req
            .job_template
            .as_deref()
            .map(|id| settings.template_arn(id)),
        tags: req.tags.clone(),
        created_ms: now_ms,
        updated_ms: now_ms,
        completed_ms: None,
        things,
        rolled_out: 0,
        window_start_ms: now_ms,
        window_count: 0,
        next_rollout_ms: None,
    }
}

/// DescribeJob.
pub fn describe_job(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    job_id: &str,
) -> Result<Value, JobsError> {
    check_job_id(job_id)?;
    let job = existing_job(tx, job_id)?;
    let counts = counts(tx, job_id)?;
    let mut body = Map::new();
    if let Some(source) = &job.document_source {
        body.insert("documentSource".into(), json!(source));
    }
    body.insert("job".into(), shapes::job(&job, &counts, settings));
    Ok(Value::Object(body))
}

/// ListJobs: newest first.
pub fn list_jobs(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    filter: &JobFilter,
    page: &PageRequest,
) -> Result<Value, JobsError> {
    let page = PageRequest {
        order: Order::Descending,
        ..page.clone()
    };
    let rows = tx.jobs(filter, &page).map_err(|e| match e {
        store::StoreError::InvalidToken { token } => JobsError::invalid_request(format!(
            "nextToken {token:?} was not handed out by ListJobs"
        )),
        other => internal(other),
    })?;
    let jobs = jobs_from(&rows.items)?;
    let mut body = json!({ "jobs": jobs.iter().map(|j| shapes::job_summary(j, settings)).collect::<Vec<_>>() });
    if let (Some(token), Value::Object(map)) = (rows.next_token, &mut body) {
        map.insert("nextToken".into(), json!(token));
    }
    Ok(body)
}

/// UpdateJob: the members given replace the job's.
pub fn update_job(
    tx: &ServiceTx<'_>,
    job_id: &str,
    update: &JobUpdate,
    now_ms: i64,
) -> Result<Value, JobsError> {
    check_job_id(job_id)?;
    atomically(tx, "update a job", |tx| {
        let mut job = existing_job(tx, job_id)?;
        if let Some(d) = &update.description {
            job.description = Some(d.clone());
        }
        if let Some(r) = &update.rollout {
            job.rollout = Some(r.clone());
        }
        if let Some(a) = &update.abort {
            job.abort = a.clone();
        }
        if let Some(m) = update.in_progress_timeout_minutes {
            job.in_progress_timeout_minutes = Some(m);
        }
        job.updated_ms = now_ms;
        save_job(tx, &job)?;
        Ok(json!({}))
    })
}

/// CancelJob: QUEUED executions are canceled, IN_PROGRESS ones too with `force`.
pub fn cancel_job(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    job_id: &str,
    force: bool,
    req: &CancelJob,
    now_ms: i64,
) -> Result<Answer, JobsError> {
    check_job_id(job_id)?;
    atomically(tx, "cancel a job", |tx| {
        let mut job = existing_job(tx, job_id)?;
        let mut watch = Watch::default();
        if job.cancel(force, req.reason_code.clone(), req.comment.clone(), now_ms)? {
            cancel_executions(tx, job_id, force, &mut watch, now_ms)?;
            save_job(tx, &job)?;
        }
        let mut body = json!({ "jobArn": settings.job_arn(job_id), "jobId": job_id });
        if let (Some(d), Value::Object(map)) = (&job.description, &mut body) {
            map.insert("description".into(), json!(d));
        }
        Ok(published(body, watch.notifications(tx, now_ms)?))
    })
}

/// DeleteJob: a job IN_PROGRESS only with `force`; its executions go with it.
pub fn delete_job(
    tx: &ServiceTx<'_>,
    job_id: &str,
    force: bool,
    now_ms: i64,
) -> Result<Answer, JobsError> {
    check_job_id(job_id)?;
    atomically(tx, "delete a job", |tx| {
        let job = existing_job(tx, job_id)?;
        if !force && !job.status().is_terminal() {
            return Err(JobsError::new(
                ErrorCode::InvalidStateTransition,
                format!(
                    "Job {job_id} is {}: delete it with force, or cancel it first (only \
                     COMPLETED or CANCELED jobs are deleted without force)",
                    job.status
                ),
            ));
        }
        let mut watch = Watch::default();
        for e in pending_of_job(tx, job_id)? {
            watch.thing(tx, &e.thing)?;
        }
        tx.delete_job(job_id).map_err(internal)?;
        Ok(published(json!({}), watch.notifications(tx, now_ms)?))
    })
}

/// GetJobDocument.
pub fn job_document(tx: &ServiceTx<'_>, job_id: &str) -> Result<Value, JobsError> {
    check_job_id(job_id)?;
    Ok(json!({ "document": existing_job(tx, job_id)?.document }))
}

/// DescribeJobExecution (control plane): any execution, terminal ones included.
pub fn describe_execution(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    job_id: &str,
    thing: &str,
    number: Option<i64>,
    now_ms: i64,
) -> Result<Value, JobsError> {
    check_job_id(job_id)?;
    check_thing_name(thing)?;
    let e = load_execution(tx, job_id, thing, number)?
        .ok_or_else(|| JobsError::no_execution(job_id, thing, number))?;
    Ok(json!({ "execution": shapes::execution(&e, settings, now_ms) }))
}

fn token_error(e: store::StoreError) -> JobsError {
    match e {
        store::StoreError::InvalidToken { token } => JobsError::invalid_request(format!(
            "nextToken {token:?} was not handed out by this list"
        )),
        other => internal(other),
    }
}

fn with_token(mut body: Value, token: Option<String>) -> Value {
    if let (Some(token), Value::Object(map)) = (token, &mut body) {
        map.insert("nextToken".into(), json!(token));
    }
    body
}

/// ListJobExecutionsForJob.
pub fn list_executions_for_job(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    job_id: &str,
    status: Option<ExecutionStatus>,
    page: &PageRequest,
) -> Result<Value, JobsError> {
    check_job_id(job_id)?;
    existing_job(tx, job_id)?;
    let rows = tx
        .job_executions(job_id, status.map(ExecutionStatus::as_str), page)
        .map_err(token_error)?;
    let list: Vec<Value> = executions_from(rows.items)?
        .iter()
        .map(|e| {
            json!({
                "thingArn": settings.thing_arn(&e.thing),
                "jobExecutionSummary": shapes::execution_summary(e),
            })
        })
        .collect();
    Ok(with_token(
        json!({ "executionSummaries": list }),
        rows.next_token,
    ))
}

/// ListJobExecutionsForThing.
pub fn list_executions_for_thing(
    tx: &ServiceTx<'_>,
    thing: &str,
    status: Option<ExecutionStatus>,
    job_id: Option<&str>,
    page: &PageRequest,
) -> Result<Value, JobsError> {
    check_thing_name(thing)?;
    if let Some(job_id) = job_id {
        check_job_id(job_id)?;
    }
    let rows = tx
        .thing_executions(thing, status.map(ExecutionStatus::as_str), job_id, page)
        .map_err(token_error)?;
    let list: Vec<Value> = executions_from(rows.items)?
        .iter()
        .map(|e| json!({ "jobId": e.job_id, "jobExecutionSummary": shapes::execution_summary(e) }))
        .collect();
    Ok(with_token(
        json!({ "executionSummaries": list }),
        rows.next_token,
    ))
}

/// CancelJobExecution.
pub fn cancel_execution(
    tx: &ServiceTx<'_>,
    job_id: &str,
    thing: &str,
    force: bool,
    req: &CancelExecution,
    now_ms: i64,
) -> Result<Answer, JobsError> {
    check_job_id(job_id)?;
    check_thing_name(thing)?;
    atomically(tx, "cancel a job execution", |tx| {
        existing_job(tx, job_id)?;
        let mut e = load_execution(tx, job_id, thing, None)?
            .ok_or_else(|| JobsError::no_execution(job_id, thing, None))?;
        let mut watch = Watch::default();
        watch.thing(tx, thing)?;
        e.cancel(
            force,
            req.expected_version,
            req.status_details.clone(),
            now_ms,
        )?;
        save_execution(tx, &e)?;
        settle_job(tx, job_id, &mut watch, now_ms)?;
        Ok(published(json!({}), watch.notifications(tx, now_ms)?))
    })
}

/// DeleteJobExecution: a pending execution only with `force`.
pub fn delete_execution(
    tx: &ServiceTx<'_>,
    job_id: &str,
    thing: &str,
    number: i64,
    force: bool,
    now_ms: i64,
) -> Result<Answer, JobsError> {
    check_job_id(job_id)?;
    check_thing_name(thing)?;
    atomically(tx, "delete a job execution", |tx| {
        let e = load_execution(tx, job_id, thing, Some(number))?
            .ok_or_else(|| JobsError::no_execution(job_id, thing, Some(number)))?;
        if !force && e.status.is_pending() {
            return Err(JobsError::new(
                ErrorCode::InvalidStateTransition,
                format!(
                    "Job execution {number} of job {job_id} on thing {thing} is {}: delete it \
                     with force, or wait for a terminal status",
                    e.status
                ),
            ));
        }
        let mut watch = Watch::default();
        watch.thing(tx, thing)?;
        tx.delete_execution(job_id, thing, number)
            .map_err(internal)?;
        settle_job(tx, job_id, &mut watch, now_ms)?;
        Ok(published(json!({}), watch.notifications(tx, now_ms)?))
    })
}

/// Fires the timers due at `now_ms`: IN_PROGRESS executions whose step or in-progress timer
/// ran out become TIMED_OUT (then their jobs' abort criteria and completion are checked), and
/// jobs whose next rollout window opened create their next executions.
pub fn tick(tx: &ServiceTx<'_>, settings: &JobsSettings, now_ms: i64) -> Result<Output, JobsError> {
    atomically(tx, "fire job timers", |tx| {
        let mut watch = Watch::default();
        let mut jobs = Vec::new();
        for mut e in executions_from(tx.due_executions(now_ms, TICK_BATCH).map_err(internal)?)? {
            watch.thing(tx, &e.thing)?;
            if e.time_out(now_ms) {
                if !jobs.contains(&e.job_id) {
                    jobs.push(e.job_id.clone());
                }
            } else {
                // Only IN_PROGRESS executions keep timers; a timer left on another one is
                // dropped so that it cannot fire again and again.
                e.step_deadline_ms = None;
                e.progress_deadline_ms = None;
            }
            save_execution(tx, &e)?;
        }
        for job_id in &jobs {
            settle_job(tx, job_id, &mut watch, now_ms)?;
        }
        for mut job in jobs_from(&tx.due_jobs(now_ms, TICK_BATCH).map_err(internal)?)? {
            if job.status() == JobStatus::InProgress {
                roll_out(tx, settings, &mut job, &mut watch, now_ms)?;
            } else {
                job.next_rollout_ms = None;
            }
            save_job(tx, &job)?;
        }
        Ok(Output {
            publish: watch.notifications(tx, now_ms)?,
            direct: Vec::new(),
        })
    })
}

/// The earliest timer of any job or execution.
pub fn next_deadline(tx: &ServiceTx<'_>) -> Result<Option<i64>, JobsError> {
    tx.next_job_deadline().map_err(internal)
}
