//! What a job targets, over the store: the things its targets name when it is created (a thing
//! group reaches its things and its descendant groups' things), AssociateTargetsWithJob, and a
//! continuous job following its groups' membership.
//!
//! AWS's rule for continuous jobs ("the job may also be run on a thing when a change is
//! detected in a target ... a job will run on a device when the thing representing the device
//! is added to a target group, even after the job was completed by all things originally in the
//! group"), read here as:
//! - a thing that joins a target group (or a group under one) of an IN_PROGRESS continuous job
//!   and has no execution of it, or only a REMOVED one, gets a new QUEUED execution, rolled out
//!   at the job's rate like the first things;
//! - a thing that leaves every target of such a job has its pending execution (QUEUED or
//!   IN_PROGRESS) become REMOVED, and a thing still waiting for its rollout leaves the queue;
//! - snapshot jobs never change their things after creation.

use std::collections::BTreeSet;

use store::{JobFilter, PageRequest, ServiceTx, StoreError};

use super::error::{ErrorCode, JobsError};
use super::job::{Job, Target};
use super::manage::Answer;
use super::records::{
    Watch, atomically, existing_job, internal, jobs_from, load_execution, roll_out, save_execution,
    save_job,
};
use super::settings::JobsSettings;
use super::status::{ExecutionStatus, JobStatus, TargetSelection};
use crate::Output;

/// AssociateTargetsWithJob: "The total number of targets associated with a job must not
/// exceed 100."
pub const MAX_TARGETS: usize = 100;

/// Continuous jobs looked at per page when membership changes.
const PAGE: usize = 250;

/// The things `targets` name, each once, in target order: registered things, and every thing
/// of a target group and of its descendant groups.
pub(crate) fn target_things(
    tx: &ServiceTx<'_>,
    targets: &[Target],
) -> Result<Vec<String>, JobsError> {
    let mut seen = BTreeSet::new();
    let mut things = Vec::new();
    for target in targets {
        for thing in things_of(tx, target)? {
            if seen.insert(thing.clone()) {
                things.push(thing);
            }
        }
    }
    Ok(things)
}

fn things_of(tx: &ServiceTx<'_>, target: &Target) -> Result<Vec<String>, JobsError> {
    match target {
        Target::Thing(name) => {
            if !tx.thing_exists(name).map_err(internal)? {
                return Err(JobsError::not_found(format!(
                    "Thing {name} does not exist; create it (aws iot create-thing) or remove \
                     it from the targets"
                )));
            }
            Ok(vec![name.clone()])
        }
        Target::ThingGroup(name) => tx.things_in_thing_group(name, true).map_err(|e| match e {
            StoreError::NotFound { .. } => JobsError::not_found(format!(
                "Thing group {name} does not exist; create it (aws iot \
                     create-thing-group) or remove it from the targets"
            )),
            other => internal(other),
        }),
    }
}

/// AssociateTargetsWithJob: thing groups join an IN_PROGRESS continuous job, and their things
/// without an execution are rolled out to.
pub fn associate_targets(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    job_id: &str,
    target_arns: &[String],
    comment: Option<&str>,
    now_ms: i64,
) -> Result<Answer, JobsError> {
    atomically(tx, "associate targets with a job", |tx| {
        let mut job = existing_job(tx, job_id)?;
        if job.selection() != TargetSelection::Continuous {
            return Err(JobsError::invalid_request(format!(
                "job {job_id} is a SNAPSHOT job; only a CONTINUOUS job takes new targets \
                 (create one with --target-selection CONTINUOUS)"
            )));
        }
        if job.status() != JobStatus::InProgress {
            return Err(JobsError::invalid_request(format!(
                "job {job_id} is {}; targets join IN_PROGRESS jobs only",
                job.status
            )));
        }
        let mut added = Vec::new();
        for arn in target_arns {
            let target = settings.target(arn)?;
            if !matches!(target, Target::ThingGroup(_)) {
                return Err(JobsError::invalid_request(format!(
                    "target {arn} is not a thing group ARN; AssociateTargetsWithJob takes \
                     thing groups (arn:aws:iot:REGION:ACCOUNT:thinggroup/NAME)"
                )));
            }
            if !job.target_arns.contains(arn) && !added.iter().any(|(a, _)| a == arn) {
                added.push((arn.clone(), target));
            }
        }
        if job.target_arns.len() + added.len() > MAX_TARGETS {
            return Err(JobsError::new(
                ErrorCode::LimitExceeded,
                format!(
                    "job {job_id} would have {} targets; a job has at most {MAX_TARGETS}",
                    job.target_arns.len() + added.len()
                ),
            ));
        }
        let new_targets: Vec<Target> = added.iter().map(|(_, t)| t.clone()).collect();
        let things = target_things(tx, &new_targets)?;
        for (arn, target) in added {
            job.target_arns.push(arn);
            job.targets.push(target);
        }
        if let Some(comment) = comment {
            job.comment = Some(comment.to_owned());
        }
        let mut watch = Watch::default();
        for thing in &things {
            admit(tx, &mut job, thing)?;
        }
        roll_out(tx, settings, &mut job, &mut watch, now_ms)?;
        job.updated_ms = now_ms;
        save_job(tx, &job)?;
        let mut body = serde_json::Map::new();
        body.insert("jobArn".into(), settings.job_arn(job_id).into());
        body.insert("jobId".into(), job_id.into());
        if let Some(d) = &job.description {
            body.insert("description".into(), d.clone().into());
        }
        Ok((
            serde_json::Value::Object(body),
            Output {
                publish: watch.notifications(tx, now_ms)?,
                direct: Vec::new(),
            },
        ))
    })
}

/// The things in `things` joined or left thing groups: every IN_PROGRESS continuous job that
/// targets a group follows (see the module's rules). Returns the notifications.
pub fn membership_changed(
    tx: &ServiceTx<'_>,
    settings: &JobsSettings,
    things: &[String],
    now_ms: i64,
) -> Result<Output, JobsError> {
    atomically(tx, "follow thing group membership", |tx| {
        let mut watch = Watch::default();
        let filter = JobFilter {
            status: Some(JobStatus::InProgress.as_str().to_owned()),
            target_selection: Some(TargetSelection::Continuous.as_str().to_owned()),
            thing_group: None,
        };
        let mut page = PageRequest::first(PAGE);
        loop {
            let rows = tx.jobs(&filter, &page).map_err(internal)?;
            for mut job in jobs_from(&rows.items)? {
                if !job
                    .targets
                    .iter()
                    .any(|t| matches!(t, Target::ThingGroup(_)))
                {
                    continue;
                }
                if follow(tx, &mut job, things, &mut watch, now_ms)? {
                    roll_out(tx, settings, &mut job, &mut watch, now_ms)?;
                    job.updated_ms = now_ms;
                    save_job(tx, &job)?;
                }
            }
            match page.after(&rows) {
                Some(next) => page = next,
                None => break,
            }
        }
        Ok(Output {
            publish: watch.notifications(tx, now_ms)?,
            direct: Vec::new(),
        })
    })
}

/// Brings `job`'s things up to date for `things`; whether anything changed.
fn follow(
    tx: &ServiceTx<'_>,
    job: &mut Job,
    things: &[String],
    watch: &mut Watch,
    now_ms: i64,
) -> Result<bool, JobsError> {
    let mut changed = false;
    for thing in things {
        let groups = tx.thing_groups_reaching(thing).map_err(internal)?;
        let targeted = job.targets.iter().any(|t| match t {
            Target::Thing(name) => name == thing,
            Target::ThingGroup(group) => groups.binary_search(group).is_ok(),
        });
        if targeted {
            changed |= admit(tx, job, thing)?;
        } else {
            changed |= dismiss(tx, job, thing, watch, now_ms)?;
        }
    }
    Ok(changed)
}

/// Queues `thing` for rollout unless it is queued already or has an execution other than a
/// REMOVED one; whether it was queued.
fn admit(tx: &ServiceTx<'_>, job: &mut Job, thing: &str) -> Result<bool, JobsError> {
    let waiting = job.things.get(job.rolled_out..).unwrap_or_default();
    if waiting.iter().any(|t| t == thing) {
        return Ok(false);
    }
    let latest = load_execution(tx, &job.job_id, thing, None)?;
    if latest.is_some_and(|e| e.status != ExecutionStatus::Removed) {
        return Ok(false);
    }
    job.things.push(thing.to_owned());
    Ok(true)
}

/// Takes `thing` off `job`: out of the rollout queue, and its pending execution REMOVED;
/// whether anything changed.
fn dismiss(
    tx: &ServiceTx<'_>,
    job: &mut Job,
    thing: &str,
    watch: &mut Watch,
    now_ms: i64,
) -> Result<bool, JobsError> {
    let rolled = job.rolled_out.min(job.things.len());
    let mut waiting = job.things.split_off(rolled);
    let queued = waiting.len();
    waiting.retain(|t| t != thing);
    let mut changed = waiting.len() != queued;
    job.things.append(&mut waiting);
    if let Some(mut execution) = load_execution(tx, &job.job_id, thing, None)? {
        watch.thing(tx, thing)?;
        if execution.remove(now_ms) {
            save_execution(tx, &execution)?;
            changed = true;
        }
    }
    Ok(changed)
}
