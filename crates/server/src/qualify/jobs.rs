//! Device Advisor's `Job_Execution`, on the real broker and Jobs service (broker.rs): the
//! endpoint creates a job for the device's thing (CreateJob, as Device Advisor does from its
//! `JOB_DOCUMENT`), and the device must take it (notify-next, `$next`/job id get, or
//! start-next), move it to IN_PROGRESS and then to SUCCEEDED through
//! `$aws/things/T/jobs/J/update`. Judged from the execution's status (DescribeJobExecution,
//! polled) and what the device published. It does not take an existing job id or a document
//! of the user's: the job and its document are the endpoint's.

use std::time::Duration;

use serde_json::{Value, json};

use super::Outcome;
use super::attempt::Judged;
use super::broker::{Watch, segment};
use super::shadow::{setup_failed, unique};
use crate::faults::Observed;

/// How often the execution's status is read.
const POLL: Duration = Duration::from_millis(200);

/// What the test saw of the device and the execution.
#[derive(Default)]
struct Seen {
    /// The device asked for the job or listened for it (the first such action, for the
    /// verdict).
    took: Option<String>,
    /// It moved the execution to IN_PROGRESS (update or start-next).
    in_progress: bool,
    /// The execution's last status.
    status: String,
}

/// `Job_Execution`.
pub(crate) async fn execution(mut watch: Watch<'_>) -> Judged {
    let thing = watch.thing.clone();
    let job_id = format!("tether-qualify-{}", unique());
    let body = json!({
        "targets": [watch.thing_arn.clone()],
        "document": json!({
            "operation": "qualify",
            "comment": "tether qualify Job_Execution: mark it IN_PROGRESS, then SUCCEEDED",
        }).to_string(),
        "description": "tether qualify Job_Execution",
    });
    match watch
        .api
        .call(
            "iot",
            "PUT",
            format!("/jobs/{}", segment(&job_id)),
            Some(body),
        )
        .await
    {
        Ok((200, _)) => (watch.progress)(format!(
            "created the job {job_id} for {thing}; waiting for the device to run it"
        )),
        Ok((status, answer)) => {
            return setup_failed(format!("CreateJob answered {status}: {answer}"));
        }
        Err(e) => return setup_failed(e),
    }
    let judged = follow(&mut watch, &thing, &job_id).await;
    // A job left pending would be the next job of every later run: cancel it (an error for a
    // job already done is of no interest).
    let cancel = format!("/jobs/{}/cancel?force=true", segment(&job_id));
    let body = json!({ "comment": "tether qualify Job_Execution ended" });
    let _ = watch.api.call("iot", "PUT", cancel, Some(body)).await;
    judged
}

/// Follows the device and the execution until a verdict or the deadline.
async fn follow(watch: &mut Watch<'_>, thing: &str, job_id: &str) -> Judged {
    let jobs = format!("$aws/things/{thing}/jobs");
    let update = format!("{jobs}/{job_id}/update");
    let mut seen = Seen {
        status: "QUEUED".to_owned(),
        ..Seen::default()
    };
    loop {
        let event = match watch.next_within(POLL).await {
            Err(()) => break,
            Ok(event) => event,
        };
        match event {
            Some(Observed::Subscribe { filters, .. }) => {
                let listens = filters.iter().find(|f| {
                    mqtt_proto::topic::matches(f, &format!("{jobs}/notify-next"))
                        || mqtt_proto::topic::matches(f, &format!("{jobs}/notify"))
                });
                if let Some(filter) = listens {
                    seen.took.get_or_insert(format!("subscribed to {filter}"));
                }
            }
            Some(Observed::Publish { topic, payload, .. }) if topic.starts_with(&jobs) => {
                let asked = [
                    format!("{jobs}/{job_id}/get"),
                    format!("{jobs}/$next/get"),
                    format!("{jobs}/get"),
                    format!("{jobs}/start-next"),
                ];
                if asked.contains(&topic) {
                    seen.took.get_or_insert(format!("published to {topic}"));
                }
                let status = serde_json::from_slice::<Value>(&payload)
                    .ok()
                    .and_then(|v| v.get("status").and_then(Value::as_str).map(str::to_owned));
                if topic.ends_with("/start-next")
                    || (topic == update && status.as_deref() == Some("IN_PROGRESS"))
                {
                    seen.in_progress = true;
                }
                if topic == update {
                    (watch.progress)(format!(
                        "published status {} to {topic}",
                        status.as_deref().unwrap_or("(none)")
                    ));
                }
            }
            _ => {}
        }
        if let Some(judged) = poll(watch, thing, job_id, &mut seen).await {
            return judged;
        }
    }
    timed_out(watch, thing, job_id, &seen)
}

/// Reads the execution's status; a verdict once it is terminal.
async fn poll(watch: &mut Watch<'_>, thing: &str, job_id: &str, seen: &mut Seen) -> Option<Judged> {
    let path = format!("/things/{}/jobs/{}", segment(thing), segment(job_id));
    let (200, answer) = watch.api.call("iot", "GET", path, None).await.ok()? else {
        return None;
    };
    let status = answer
        .get("execution")
        .and_then(|e| e.get("status"))
        .and_then(Value::as_str)?
        .to_owned();
    if status == "IN_PROGRESS" {
        seen.in_progress = true;
    }
    if status != seen.status {
        (watch.progress)(format!("the execution of {job_id} is {status}"));
        seen.status.clone_from(&status);
    }
    let took = seen
        .took
        .clone()
        .unwrap_or_else(|| "took the job".to_owned());
    let update = format!("$aws/things/{thing}/jobs/{job_id}/update");
    match status.as_str() {
        "SUCCEEDED" if seen.in_progress => Some(Judged {
            outcome: Outcome::Pass,
            device_did: format!(
                "{took}, moved the execution of {job_id} to IN_PROGRESS and then to SUCCEEDED"
            ),
            fix: None,
        }),
        "SUCCEEDED" => Some(Judged {
            outcome: Outcome::PassWithWarnings,
            device_did: format!(
                "{took} and moved the execution of {job_id} from QUEUED straight to SUCCEEDED"
            ),
            fix: Some(format!(
                "publish status IN_PROGRESS to {update} (or use start-next) before running the \
                 job, so the fleet sees it is running"
            )),
        }),
        "FAILED" | "REJECTED" => Some(Judged {
            outcome: Outcome::Fail,
            device_did: format!("{took} and reported the execution of {job_id} {status}"),
            fix: Some(format!(
                "run the job's document and publish status SUCCEEDED to {update}; the job's \
                 operation is \"qualify\" and needs nothing done"
            )),
        }),
        "QUEUED" | "IN_PROGRESS" => None,
        other => Some(Judged {
            outcome: Outcome::Fail,
            device_did: format!("left the execution of {job_id} to end {other}"),
            fix: Some(format!(
                "publish status SUCCEEDED to {update} before the execution times out"
            )),
        }),
    }
}

/// The verdict when the test's timeout passed with the execution still pending.
fn timed_out(watch: &Watch<'_>, thing: &str, job_id: &str, seen: &Seen) -> Judged {
    let secs = watch.timeout.as_secs();
    let jobs = format!("$aws/things/{thing}/jobs");
    let (device_did, fix) = if seen.status == "IN_PROGRESS" {
        (
            format!("left the execution of {job_id} IN_PROGRESS (for {secs} s)"),
            format!(
                "when the job is done, publish {{\"status\":\"SUCCEEDED\"}} to {jobs}/{job_id}/update"
            ),
        )
    } else if let Some(took) = &seen.took {
        (
            format!(
                "{took} but never moved the execution of {job_id} out of QUEUED (within {secs} s)"
            ),
            format!(
                "get the job ({jobs}/$next/get, or start-next), then publish status IN_PROGRESS \
                 and SUCCEEDED to {jobs}/{job_id}/update"
            ),
        )
    } else {
        (
            format!(
                "never took the job {job_id}: it neither subscribed to {jobs}/notify-next nor \
                 asked for its jobs (within {secs} s)"
            ),
            format!(
                "subscribe to {jobs}/notify-next, get the next job from {jobs}/$next/get (or \
                 start-next), then publish status IN_PROGRESS and SUCCEEDED to \
                 {jobs}/JOB_ID/update"
            ),
        )
    };
    Judged {
        outcome: Outcome::Fail,
        device_did,
        fix: Some(fix),
    }
}
