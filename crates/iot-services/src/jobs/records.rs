//! The Jobs service's records and the bookkeeping every operation shares: jobs and executions
//! to and from the store's rows, one operation as one savepoint (a refused request changes
//! nothing), a [`Watch`] that turns a change to some things' executions into their `notify` and
//! `notify-next` messages, the rollout of a job's executions, and what follows a change to a
//! job's executions (its abort criteria, its completion). A store failure is `InternalError`,
//! with the cause in the server's log.

use std::collections::BTreeMap;

use store::{ServiceTx, StoreError, StoredExecution, StoredJob};

use super::error::JobsError;
use super::execution::{Execution, StatusDetails, Timers};
use super::job::{Counts, Job, Target};
use super::notify;
use super::settings::JobsSettings;
use super::status::ExecutionStatus;
use crate::OutMessage;

const PENDING: [&str; 2] = ["QUEUED", "IN_PROGRESS"];

/// A store failure: `InternalError`, with the cause logged.
pub(crate) fn internal(e: StoreError) -> JobsError {
    tracing::error!("jobs store: {e}");
    JobsError::internal()
}

/// Runs `f` in a savepoint of `tx`: when it fails, with a refusal or a store error, nothing it
/// wrote stays.
pub(crate) fn atomically<T>(
    tx: &ServiceTx<'_>,
    what: &str,
    f: impl FnOnce(&ServiceTx<'_>) -> Result<T, JobsError>,
) -> Result<T, JobsError> {
    let mut refusal = None;
    let result = tx.request(what, |tx| {
        f(tx).map_err(|e| {
            refusal = Some(e);
            StoreError::InvalidRequest(format!("{what} refused"))
        })
    });
    match result {
        Ok(value) => Ok(value),
        Err(e) => Err(refusal.unwrap_or_else(|| internal(e))),
    }
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> JobsError {
    tracing::error!("jobs store: {what} holds an unreadable value: {detail}");
    JobsError::internal()
}

fn execution_from(row: StoredExecution) -> Result<Execution, JobsError> {
    let status = ExecutionStatus::parse(&row.status).ok_or_else(|| {
        corrupt(
            &format!("execution of {} on {}", row.job_id, row.thing),
            &row.status,
        )
    })?;
    let status_details: StatusDetails = serde_json::from_str(&row.status_details)
        .map_err(|e| corrupt(&format!("execution of {} on {}", row.job_id, row.thing), e))?;
    Ok(Execution {
        job_id: row.job_id,
        thing: row.thing,
        execution_number: row.execution_number,
        status,
        status_details,
        version: row.version,
        queued_ms: row.queued_ms,
        started_ms: row.started_ms,
        updated_ms: row.updated_ms,
        step_deadline_ms: row.step_deadline_ms,
        progress_deadline_ms: row.progress_deadline_ms,
        force_canceled: row.force_canceled,
    })
}

fn execution_to(e: &Execution) -> StoredExecution {
    StoredExecution {
        job_id: e.job_id.clone(),
        thing: e.thing.clone(),
        execution_number: e.execution_number,
        status: e.status.as_str().to_owned(),
        version: e.version,
        queued_ms: e.queued_ms,
        started_ms: e.started_ms,
        updated_ms: e.updated_ms,
        status_details: serde_json::to_string(&e.status_details).unwrap_or_else(|_| "{}".into()),
        step_deadline_ms: e.step_deadline_ms,
        progress_deadline_ms: e.progress_deadline_ms,
        force_canceled: e.force_canceled,
    }
}

fn job_from(row: &StoredJob) -> Result<Job, JobsError> {
    serde_json::from_str(&row.body).map_err(|e| corrupt(&format!("job {}", row.job_id), e))
}

/// The job `job_id`.
pub(crate) fn load_job(tx: &ServiceTx<'_>, job_id: &str) -> Result<Option<Job>, JobsError> {
    tx.job(job_id)
        .map_err(internal)?
        .as_ref()
        .map(job_from)
        .transpose()
}

/// The job `job_id`, or `ResourceNotFound`.
pub(crate) fn existing_job(tx: &ServiceTx<'_>, job_id: &str) -> Result<Job, JobsError> {
    load_job(tx, job_id)?.ok_or_else(|| JobsError::no_job(job_id))
}

/// Stores a job (its next rollout window is its timer).
pub(crate) fn save_job(tx: &ServiceTx<'_>, job: &Job) -> Result<(), JobsError> {
    let body = serde_json::to_string(job).map_err(|e| corrupt("a job to store", e))?;
    tx.put_job(&StoredJob {
        job_id: job.job_id.clone(),
        status: job.status.clone(),
        target_selection: job.target_selection.clone(),
        created_ms: job.created_ms,
        updated_ms: job.updated_ms,
        deadline_ms: job.next_rollout_ms,
        body,
    })
    .map_err(internal)?;
    let groups: Vec<String> = job
        .targets
        .iter()
        .filter_map(|t| match t {
            Target::ThingGroup(name) => Some(name.clone()),
            Target::Thing(_) => None,
        })
        .collect();
    tx.set_job_thing_groups(&job.job_id, &groups)
        .map_err(internal)
}

/// Jobs from stored rows.
pub(crate) fn jobs_from(rows: &[StoredJob]) -> Result<Vec<Job>, JobsError> {
    rows.iter().map(job_from).collect()
}

/// Executions from stored rows.
pub(crate) fn executions_from(rows: Vec<StoredExecution>) -> Result<Vec<Execution>, JobsError> {
    rows.into_iter().map(execution_from).collect()
}

/// The execution `number` (the latest when `None`) of `job_id` on `thing`.
pub(crate) fn load_execution(
    tx: &ServiceTx<'_>,
    job_id: &str,
    thing: &str,
    number: Option<i64>,
) -> Result<Option<Execution>, JobsError> {
    tx.execution(job_id, thing, number)
        .map_err(internal)?
        .map(execution_from)
        .transpose()
}

/// Stores an execution.
pub(crate) fn save_execution(tx: &ServiceTx<'_>, e: &Execution) -> Result<(), JobsError> {
    tx.put_execution(&execution_to(e)).map_err(internal)
}

/// The pending executions of `thing`, in queue order.
pub(crate) fn pending(tx: &ServiceTx<'_>, thing: &str) -> Result<Vec<Execution>, JobsError> {
    executions_from(
        tx.thing_executions_with_status(thing, &PENDING)
            .map_err(internal)?,
    )
}

/// The pending executions of `job_id`.
pub(crate) fn pending_of_job(
    tx: &ServiceTx<'_>,
    job_id: &str,
) -> Result<Vec<Execution>, JobsError> {
    executions_from(
        tx.job_executions_with_status(job_id, &PENDING)
            .map_err(internal)?,
    )
}

/// How many executions of `job_id` have each status.
pub(crate) fn counts(tx: &ServiceTx<'_>, job_id: &str) -> Result<Counts, JobsError> {
    let rows = tx.execution_counts(job_id).map_err(internal)?;
    let mut counts = Counts::default();
    for (status, n) in rows {
        if let Some(status) = ExecutionStatus::parse(&status) {
            counts.0.insert(status, u64::try_from(n).unwrap_or(0));
        }
    }
    Ok(counts)
}

/// The timers an execution of `job` runs under.
pub(crate) fn timers(job: &Job, settings: &JobsSettings) -> Timers {
    Timers {
        minute_ms: settings.minute_ms,
        in_progress_minutes: job.in_progress_timeout_minutes,
    }
}

/// The pending executions of the things an operation touches, as they were before it; after
/// it, [`Watch::notifications`] compares and builds `notify` and `notify-next`.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    before: BTreeMap<String, Vec<Execution>>,
}

impl Watch {
    /// Remembers `thing`'s pending executions, unless already remembered.
    pub(crate) fn thing(&mut self, tx: &ServiceTx<'_>, thing: &str) -> Result<(), JobsError> {
        if !self.before.contains_key(thing) {
            let list = pending(tx, thing)?;
            self.before.insert(thing.to_owned(), list);
        }
        Ok(())
    }

    /// The notifications of every watched thing whose list or next execution changed.
    pub(crate) fn notifications(
        self,
        tx: &ServiceTx<'_>,
        now_ms: i64,
    ) -> Result<Vec<OutMessage>, JobsError> {
        let mut out = Vec::new();
        let mut documents: BTreeMap<String, String> = BTreeMap::new();
        for (thing, before) in self.before {
            let after = pending(tx, &thing)?;
            let document = match notify::next(&after) {
                Some(next) => {
                    if !documents.contains_key(&next.job_id) {
                        let text = load_job(tx, &next.job_id)?
                            .map(|job| job.document)
                            .unwrap_or_else(|| "{}".to_owned());
                        documents.insert(next.job_id.clone(), text);
                    }
                    documents.get(&next.job_id).map(String::as_str)
                }
                None => None,
            };
            out.extend(notify::changes(&thing, &before, &after, document, now_ms));
        }
        Ok(out)
    }
}

/// Creates the executions `job`'s rollout allows at `now_ms` (the job is saved by the caller).
pub(crate) fn roll_out(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    job: &mut Job,
    watch: &mut Watch,
    now_ms: i64,
) -> Result<usize, JobsError> {
    let succeeded = counts(tx, &job.job_id)?.of(ExecutionStatus::Succeeded);
    let allowed = job.rollout_allowance(succeeded, settings.minute_ms, now_ms);
    let things: Vec<String> = job
        .things
        .iter()
        .skip(job.rolled_out)
        .take(allowed)
        .cloned()
        .collect();
    for thing in &things {
        watch.thing(tx, thing)?;
        let number = load_execution(tx, &job.job_id, thing, None)?
            .map_or(1, |e| e.execution_number.saturating_add(1));
        save_execution(tx, &Execution::queued(&job.job_id, thing, number, now_ms))?;
    }
    job.rolled(things.len(), settings.minute_ms);
    job.updated_ms = now_ms;
    Ok(things.len())
}

/// Cancels `job`'s pending executions as CancelJob does (QUEUED ones; IN_PROGRESS ones with
/// `force`).
pub(crate) fn cancel_executions(
    tx: &ServiceTx<'_>,
    job_id: &str,
    force: bool,
    watch: &mut Watch,
    now_ms: i64,
) -> Result<(), JobsError> {
    for mut e in pending_of_job(tx, job_id)? {
        watch.thing(tx, &e.thing)?;
        if e.cancel_with_job(force, now_ms) {
            save_execution(tx, &e)?;
        }
    }
    Ok(())
}

/// What follows a change to `job_id`'s executions: its abort criteria, then its completion.
pub(crate) fn settle_job(
    tx: &ServiceTx<'_>,
    job_id: &str,
    watch: &mut Watch,
    now_ms: i64,
) -> Result<(), JobsError> {
    let Some(mut job) = load_job(tx, job_id)? else {
        return Ok(());
    };
    let counts = counts(tx, job_id)?;
    if let Some(criteria) = job.abort_triggered(&counts) {
        let comment = format!(
            "Canceled by its abortConfig: {} executions reached {}% of the {} things notified \
             (at least {} needed)",
            criteria.failure_type,
            criteria.threshold_percentage,
            counts.0.values().sum::<u64>(),
            criteria.min_number_of_executed_things
        );
        job.cancel(false, None, Some(comment), now_ms)?;
        cancel_executions(tx, job_id, false, watch, now_ms)?;
        return save_job(tx, &job);
    }
    if job.complete_if_done(&counts, now_ms) {
        save_job(tx, &job)?;
    }
    Ok(())
}
