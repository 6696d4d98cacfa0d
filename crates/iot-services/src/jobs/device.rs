//! The device's side of Jobs over the store, written once for both forms AWS offers: the MQTT
//! API ([`handle_publish`]: a request on `$aws/things/{thing}/jobs/...` answered on its
//! `/accepted` or `/rejected` topic to the requesting connection alone, as AWS delivers them
//! "even without a specific subscription" and no other client sees them) and the
//! `iot-jobs-data` HTTP API, which calls [`get_pending`], [`start_next`], [`describe`] and
//! [`update`] with the job document as text. Changes publish `notify` and `notify-next` through
//! the broker, whichever form made them.
//!
//! Where AWS is silent: describing an execution in a terminal status is `TerminalStateReached`
//! (the model's `TerminalStateException` is listed for DescribeJobExecution alone, and the
//! error code's text: "a command to describe a job is performed on a job that is in a terminal
//! state"); the control plane's DescribeJobExecution still shows it. A publish from a client to
//! a topic of the namespace that maps to no API is answered `InvalidTopic`, and subscribers get
//! it too (docs/aws-differences.md).

use serde_json::{Map, Value};
use store::ServiceTx;

use super::control::{check_job_id, check_thing_name};
use super::error::{ErrorCode, JobsError};
use super::notify;
use super::records::{
    Watch, atomically, existing_job, load_execution, load_job, pending, save_execution, settle_job,
    timers,
};
use super::request::{self, Describe, StartNext, Update};
use super::response::{self, DocumentForm};
use super::settings::JobsSettings;
use super::topic::{self, Operation, Parsed};
use crate::{OutMessage, Output};

/// The `$next` job id of DescribeJobExecution.
pub const NEXT: &str = "$next";

/// An answer: the accepted document's members and the notifications the change publishes.
pub type Answer = (Map<String, Value>, Vec<OutMessage>);

/// Handles a publish to the Jobs namespace from connection `conn`: the answer on the request
/// topic's `/accepted` or `/rejected`, for that connection alone, and the notifications.
/// `throttle` is `Some(max)` when the connection has too many requests in flight. Topics the
/// service publishes itself, and publishes with no connection to answer, get nothing.
pub fn handle_publish(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    conn: Option<u64>,
    topic: &str,
    payload: &[u8],
    throttle: Option<usize>,
    now_ms: i64,
) -> Output {
    let (Some(parsed), Some(conn)) = (topic::parse(topic), conn) else {
        return Output::default();
    };
    let token = request::client_token(payload);
    let result = match parsed {
        Parsed::Service => return Output::default(),
        Parsed::Invalid => Err(JobsError::new(
            ErrorCode::InvalidTopic,
            format!(
                "Topic {topic} is in the AWS IoT Jobs namespace but maps to no Jobs API; \
                 publish to jobs/get, jobs/start-next, jobs/JOB_ID/get or jobs/JOB_ID/update"
            ),
        )),
        Parsed::Request { thing, operation } => match throttle {
            Some(max) => Err(JobsError::throttled(max)),
            None => run(tx, settings, &thing, &operation, payload, now_ms),
        },
    };
    let (suffix, body, notes) = match result {
        Ok((map, notes)) => (
            "accepted",
            response::answer(map, token.as_deref(), now_ms),
            notes,
        ),
        Err(e) => (
            "rejected",
            response::error(&e, token.as_deref(), now_ms),
            Vec::new(),
        ),
    };
    Output {
        publish: notes,
        direct: vec![(conn, OutMessage::json(format!("{topic}/{suffix}"), &body))],
    }
}

/// What a request is answered with when its batch could not be committed: `InternalError` on
/// its `/rejected` topic. `None` for anything that is not a request from a connection.
pub fn failed(conn: Option<u64>, topic: &str, payload: &[u8], now_ms: i64) -> Option<Output> {
    let conn = conn?;
    if !matches!(topic::parse(topic)?, Parsed::Request { .. }) {
        return None;
    }
    let token = request::client_token(payload);
    let body = response::error(&JobsError::internal(), token.as_deref(), now_ms);
    Some(Output {
        publish: Vec::new(),
        direct: vec![(conn, OutMessage::json(format!("{topic}/rejected"), &body))],
    })
}

fn run(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    thing: &str,
    operation: &Operation,
    payload: &[u8],
    now_ms: i64,
) -> Result<Answer, JobsError> {
    let map = request::object(payload)?;
    check_thing_name(thing)?;
    match operation {
        Operation::GetPending => {
            request::check_client_token(&map)?;
            Ok((get_pending(tx, thing)?, Vec::new()))
        }
        Operation::StartNext => {
            let req = request::start_next(&map)?;
            start_next(tx, settings, thing, &req, DocumentForm::Object, now_ms)
        }
        Operation::Describe(job_id) => {
            let req = request::describe(&map)?;
            let body = describe(tx, thing, job_id, &req, DocumentForm::Object, now_ms)?;
            Ok((body, Vec::new()))
        }
        Operation::Update(job_id) => {
            let req = request::update(&map)?;
            update(
                tx,
                settings,
                thing,
                job_id,
                &req,
                DocumentForm::Object,
                now_ms,
            )
        }
    }
}

/// GetPendingJobExecutions: `inProgressJobs` and `queuedJobs`.
pub fn get_pending(tx: &ServiceTx<'_>, thing: &str) -> Result<Map<String, Value>, JobsError> {
    Ok(response::pending(&pending(tx, thing)?))
}

/// StartNextPendingJobExecution: starts the thing's next pending execution (a QUEUED one goes
/// IN_PROGRESS) and answers it with its document; no `execution` when none is pending.
pub fn start_next(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    thing: &str,
    req: &StartNext,
    form: DocumentForm,
    now_ms: i64,
) -> Result<Answer, JobsError> {
    atomically(tx, "start the next job execution", |tx| {
        let mut watch = Watch::default();
        watch.thing(tx, thing)?;
        let list = pending(tx, thing)?;
        let Some(mut next) = notify::next(&list).cloned() else {
            return Ok((Map::new(), Vec::new()));
        };
        let job = existing_job(tx, &next.job_id)?;
        let details = req.status_details.clone();
        if next.start(details, req.step_timeout, &timers(&job, settings), now_ms) {
            save_execution(tx, &next)?;
        }
        let notes = watch.notifications(tx, now_ms)?;
        let mut map = Map::new();
        map.insert(
            "execution".into(),
            response::execution(&next, Some(&job.document), form, true, now_ms),
        );
        Ok((map, notes))
    })
}

/// DescribeJobExecution: one execution of the thing (`$next`: its next pending one, or no
/// `execution` when none is pending).
pub fn describe(
    tx: &ServiceTx<'_>,
    thing: &str,
    job_id: &str,
    req: &Describe,
    form: DocumentForm,
    now_ms: i64,
) -> Result<Map<String, Value>, JobsError> {
    let execution = if job_id == NEXT {
        match notify::next(&pending(tx, thing)?) {
            Some(next) => next.clone(),
            None => return Ok(Map::new()),
        }
    } else {
        check_job_id(job_id)?;
        if load_job(tx, job_id)?.is_none() {
            return Err(JobsError::no_job(job_id));
        }
        let e = load_execution(tx, job_id, thing, req.execution_number)?
            .ok_or_else(|| JobsError::no_execution(job_id, thing, req.execution_number))?;
        if e.status.is_terminal() {
            return Err(JobsError::new(
                ErrorCode::TerminalStateReached,
                format!(
                    "Job execution {} of job {job_id} on thing {thing} is {}, a terminal status",
                    e.execution_number, e.status
                ),
            ));
        }
        e
    };
    let document = if req.include_job_document {
        Some(existing_job(tx, &execution.job_id)?.document)
    } else {
        None
    };
    let mut map = Map::new();
    map.insert(
        "execution".into(),
        response::execution(&execution, document.as_deref(), form, true, now_ms),
    );
    Ok(map)
}

/// UpdateJobExecution: the device's report, then what follows for its job (abort, completion).
/// The answer holds `executionState` and `jobDocument` when asked for.
pub fn update(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    thing: &str,
    job_id: &str,
    req: &Update,
    form: DocumentForm,
    now_ms: i64,
) -> Result<Answer, JobsError> {
    if job_id == NEXT {
        return Err(JobsError::invalid_request(
            "UpdateJobExecution needs a job id; $next names no execution to update",
        ));
    }
    check_job_id(job_id)?;
    atomically(tx, "update a job execution", |tx| {
        let job = existing_job(tx, job_id)?;
        let mut e = load_execution(tx, job_id, thing, req.execution_number)?
            .ok_or_else(|| JobsError::no_execution(job_id, thing, req.execution_number))?;
        let mut watch = Watch::default();
        watch.thing(tx, thing)?;
        e.update(&req.update, &timers(&job, settings), now_ms)?;
        save_execution(tx, &e)?;
        if e.status.is_terminal() {
            settle_job(tx, job_id, &mut watch, now_ms)?;
        }
        let notes = watch.notifications(tx, now_ms)?;
        let mut map = Map::new();
        if req.include_job_execution_state {
            map.insert("executionState".into(), response::state(&e.state()));
        }
        if req.include_job_document {
            map.insert(
                "jobDocument".into(),
                response::document(&job.document, form),
            );
        }
        Ok((map, notes))
    })
}
