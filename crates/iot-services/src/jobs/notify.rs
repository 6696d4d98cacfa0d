//! When a thing hears about its jobs (jobs-comm-notifications.md): `notify` when an execution
//! joins or leaves its list of pending executions, and `notify-next` when the first execution
//! of that list changes. A thing's pending executions are compared before and after a change;
//! starting the next execution, which neither adds nor removes one nor changes which is first,
//! publishes nothing, as the guide's walkthrough says ("No notifications are published because
//! the list of jobs and the next job in the queue have not changed"). Pure: the service reads
//! the lists and the next job's document.

use super::execution::Execution;
use super::response;
use super::status::ExecutionStatus;
use super::topic;
use crate::OutMessage;

/// The next pending execution ("$next"): the IN_PROGRESS one queued first, else the QUEUED one
/// queued first (jobs-mqtt-api.md: "Any job executions with status IN_PROGRESS are returned
/// first. Job executions are returned in the order in which they were created"). `pending` is
/// in queue order.
pub fn next(pending: &[Execution]) -> Option<&Execution> {
    pending
        .iter()
        .find(|e| e.status == ExecutionStatus::InProgress)
        .or_else(|| pending.iter().find(|e| e.status == ExecutionStatus::Queued))
}

fn key(e: &Execution) -> (&str, i64) {
    (&e.job_id, e.execution_number)
}

/// What to publish for `thing` after its pending executions went from `before` to `after`;
/// `next_document` is the job document of `after`'s next execution.
pub fn changes(
    thing: &str,
    before: &[Execution],
    after: &[Execution],
    next_document: Option<&str>,
    now_ms: i64,
) -> Vec<OutMessage> {
    let mut out = Vec::new();
    let mut before_keys: Vec<_> = before.iter().map(key).collect();
    let mut after_keys: Vec<_> = after.iter().map(key).collect();
    before_keys.sort_unstable();
    after_keys.sort_unstable();
    if before_keys != after_keys {
        out.push(message(
            topic::notify(thing),
            &response::notify(after, now_ms),
        ));
    }
    let next_after = next(after);
    if next(before).map(key) != next_after.map(key) {
        let payload = response::notify_next(
            next_after.map(|e| (e, next_document.unwrap_or("{}"))),
            now_ms,
        );
        out.push(message(topic::notify_next(thing), &payload));
    }
    out
}

/// Notifications go out at QoS 1, so a device with a persistent session hears about a job
/// created while it was offline.
fn message(topic: String, payload: &serde_json::Value) -> OutMessage {
    OutMessage {
        qos: 1,
        ..OutMessage::json(topic, payload)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::jobs::execution::{DeviceUpdate, StepTimeout, Timers};

    fn queued(job: &str, at: i64) -> Execution {
        Execution::queued(job, "t", 1, at * 1000)
    }

    fn report(e: &mut Execution, status: ExecutionStatus, at: i64) {
        let update = DeviceUpdate {
            status,
            status_details: None,
            expected_version: None,
            step_timeout: StepTimeout::Keep,
        };
        e.update(&update, &Timers::default(), at * 1000).unwrap();
    }

    fn topics(out: &[OutMessage]) -> Vec<&str> {
        out.iter().map(|m| m.topic.as_str()).collect()
    }

    fn payload(m: &OutMessage) -> Value {
        serde_json::from_slice(&m.payload).unwrap()
    }

    /// The walkthrough of jobs-comm-notifications.md, step by step.
    #[test]
    fn the_developer_guides_walkthrough_publishes_exactly_its_notifications() {
        let notify = "$aws/things/t/jobs/notify";
        let notify_next = "$aws/things/t/jobs/notify-next";
        // job1 is created: both topics.
        let job1 = queued("job1", 1);
        let out = changes(
            "t",
            &[],
            std::slice::from_ref(&job1),
            Some(r#"{"operation":"test"}"#),
            2_000,
        );
        assert_eq!(topics(&out), [notify, notify_next]);
        assert_eq!(
            payload(&out[1])["execution"]["jobDocument"],
            json!({"operation": "test"})
        );
        assert!(out.iter().all(|m| m.qos == 1));
        // job2 is created: notify only, job1 is still next.
        let job2 = queued("job2", 3);
        let out = changes(
            "t",
            std::slice::from_ref(&job1),
            &[job1.clone(), job2.clone()],
            None,
            4_000,
        );
        assert_eq!(topics(&out), [notify]);
        // job1 starts: nothing.
        let mut job1_started = job1.clone();
        report(&mut job1_started, ExecutionStatus::InProgress, 5);
        let out = changes(
            "t",
            &[job1.clone(), job2.clone()],
            &[job1_started.clone(), job2.clone()],
            None,
            5_000,
        );
        assert!(out.is_empty());
        // job1 succeeds: notify, and notify-next with job2.
        let out = changes(
            "t",
            &[job1_started.clone(), job2.clone()],
            std::slice::from_ref(&job2),
            Some("{}"),
            6_000,
        );
        assert_eq!(topics(&out), [notify, notify_next]);
        assert_eq!(payload(&out[1])["execution"]["jobId"], "job2");
        // job3 is queued after job2, then started ahead of it: notify, then notify-next alone.
        let job3 = queued("job3", 7);
        let out = changes(
            "t",
            std::slice::from_ref(&job2),
            &[job2.clone(), job3.clone()],
            None,
            7_000,
        );
        assert_eq!(topics(&out), [notify]);
        let mut job3_started = job3.clone();
        report(&mut job3_started, ExecutionStatus::InProgress, 8);
        let out = changes(
            "t",
            &[job2.clone(), job3.clone()],
            &[job2.clone(), job3_started.clone()],
            Some("{}"),
            8_000,
        );
        assert_eq!(topics(&out), [notify_next]);
        assert_eq!(payload(&out[0])["execution"]["jobId"], "job3");
        assert_eq!(payload(&out[0])["execution"]["status"], "IN_PROGRESS");
        // job2 is rejected: notify only (job3 stays next). job3 is deleted: both, empty.
        let out = changes(
            "t",
            &[job2.clone(), job3_started.clone()],
            std::slice::from_ref(&job3_started),
            None,
            9_000,
        );
        assert_eq!(topics(&out), [notify]);
        let out = changes("t", &[job3_started], &[], None, 10_000);
        assert_eq!(topics(&out), [notify, notify_next]);
        assert_eq!(payload(&out[0]), json!({"timestamp": 10, "jobs": {}}));
        assert_eq!(payload(&out[1]), json!({"timestamp": 10}));
    }

    #[test]
    fn next_prefers_the_earliest_in_progress_execution() {
        let a = queued("a", 1);
        let mut b = queued("b", 2);
        assert_eq!(
            next(&[a.clone(), b.clone()]).map(|e| e.job_id.as_str()),
            Some("a")
        );
        report(&mut b, ExecutionStatus::InProgress, 3);
        assert_eq!(next(&[a, b]).map(|e| e.job_id.as_str()), Some("b"));
        assert!(next(&[]).is_none());
    }
}
