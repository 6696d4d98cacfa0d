//! The Jobs service over a real (in-memory) store, as the MQTT and HTTP forms drive it: answers
//! to the requesting connection only, the notifications each change publishes, timers fired by
//! `tick`, rollout windows, abort criteria, cancellation and deletion, and refusals that change
//! nothing.

use serde_json::{Value, json};
use store::{JobFilter, NewThing, PageRequest, ServiceTx, Store};

use super::*;
use crate::{OutMessage, Output};

const CONN: u64 = 7;

fn settings() -> JobsSettings {
    JobsSettings {
        minute_ms: 1_000,
        ..JobsSettings::default()
    }
}

fn store_with_things(names: &[&str]) -> Store {
    let mut store = Store::open_in_memory().unwrap();
    for (i, name) in names.iter().enumerate() {
        let new = NewThing {
            name: (*name).to_owned(),
            thing_type: None,
            attributes: Default::default(),
        };
        store
            .create_thing(&new, [u8::try_from(i).unwrap(); 16], 0)
            .unwrap();
    }
    store
}

fn with<T>(store: &mut Store, f: impl FnOnce(&ServiceTx<'_>) -> T) -> T {
    let mut out = None;
    store
        .services("test", |tx| {
            out = Some(f(tx));
            Ok(())
        })
        .unwrap();
    out.unwrap()
}

fn create(
    store: &mut Store,
    job_id: &str,
    body: Value,
    now: i64,
) -> Result<(Value, Output), JobsError> {
    let body = match body {
        Value::Object(map) => map,
        _ => panic!("body"),
    };
    let req = parse_create_job(job_id, &body, &settings())?;
    let document = match req.document.clone() {
        DocumentInput::Inline(text) => Some(text),
        DocumentInput::Template => None,
        DocumentInput::Source(_) => panic!("no document sources here"),
    };
    with(store, |tx| {
        create_job(tx, &settings(), &req, document.as_deref(), None, now)
    })
}

fn targets(things: &[&str]) -> Value {
    json!(
        things
            .iter()
            .map(|t| settings().thing_arn(t))
            .collect::<Vec<_>>()
    )
}

fn simple(things: &[&str]) -> Value {
    json!({ "targets": targets(things), "document": r#"{"op":"reboot"}"# })
}

/// Publishes `payload` to `topic` from connection [`CONN`].
fn publish(store: &mut Store, topic: &str, payload: Value, now: i64) -> Output {
    with(store, |tx| {
        handle_publish(
            tx,
            &settings(),
            Some(CONN),
            topic,
            payload.to_string().as_bytes(),
            None,
            now,
        )
    })
}

/// The one direct answer of an output: (topic, payload); it must go to [`CONN`].
fn answer(out: &Output) -> (String, Value) {
    assert_eq!(out.direct.len(), 1, "{out:?}");
    let (conn, message) = &out.direct[0];
    assert_eq!(*conn, CONN);
    (
        message.topic.clone(),
        serde_json::from_slice(&message.payload).unwrap(),
    )
}

fn topics(messages: &[OutMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.topic.as_str()).collect()
}

fn payload(m: &OutMessage) -> Value {
    serde_json::from_slice(&m.payload).unwrap()
}

fn job_status(store: &mut Store, job_id: &str) -> Value {
    with(store, |tx| describe_job(tx, &settings(), job_id)).unwrap()["job"]["status"].clone()
}

#[test]
fn a_device_runs_a_job_over_mqtt_from_notification_to_success() {
    let mut store = store_with_things(&["lamp"]);
    let (created, out) = create(&mut store, "job-1", simple(&["lamp"]), 10_000).unwrap();
    assert_eq!(
        created["jobArn"],
        "arn:aws:iot:us-east-1:123456789012:job/job-1"
    );
    assert_eq!(
        topics(&out.publish),
        [
            "$aws/things/lamp/jobs/notify",
            "$aws/things/lamp/jobs/notify-next"
        ]
    );
    let next = payload(&out.publish[1]);
    assert_eq!(next["execution"]["jobDocument"], json!({"op": "reboot"}));
    assert_eq!(next["execution"]["status"], "QUEUED");
    assert!(out.direct.is_empty());

    let out = publish(
        &mut store,
        "$aws/things/lamp/jobs/get",
        json!({"clientToken": "c1"}),
        11_000,
    );
    let (topic, body) = answer(&out);
    assert_eq!(topic, "$aws/things/lamp/jobs/get/accepted");
    assert_eq!(body["queuedJobs"][0]["jobId"], "job-1");
    assert_eq!(body["inProgressJobs"], json!([]));
    assert_eq!(
        (body["clientToken"].as_str(), body["timestamp"].as_i64()),
        (Some("c1"), Some(11))
    );
    assert!(out.publish.is_empty());

    let out = publish(
        &mut store,
        "$aws/things/lamp/jobs/start-next",
        json!({"statusDetails": {"step": "1"}}),
        12_000,
    );
    let (topic, body) = answer(&out);
    assert_eq!(topic, "$aws/things/lamp/jobs/start-next/accepted");
    assert_eq!(body["execution"]["status"], "IN_PROGRESS");
    assert_eq!(body["execution"]["versionNumber"], 2);
    assert_eq!(body["execution"]["thingName"], "lamp");
    assert_eq!(body["execution"]["statusDetails"], json!({"step": "1"}));
    assert!(
        out.publish.is_empty(),
        "starting the next job changes neither list nor next"
    );

    let out = publish(
        &mut store,
        "$aws/things/lamp/jobs/job-1/update",
        json!({"status": "SUCCEEDED", "expectedVersion": 2, "includeJobExecutionState": true, "includeJobDocument": true}),
        13_000,
    );
    let (topic, body) = answer(&out);
    assert_eq!(topic, "$aws/things/lamp/jobs/job-1/update/accepted");
    assert_eq!(
        body["executionState"],
        json!({"status": "SUCCEEDED", "statusDetails": {"step": "1"}, "versionNumber": 3})
    );
    assert_eq!(body["jobDocument"], json!({"op": "reboot"}));
    assert_eq!(
        topics(&out.publish),
        [
            "$aws/things/lamp/jobs/notify",
            "$aws/things/lamp/jobs/notify-next"
        ]
    );
    assert_eq!(payload(&out.publish[1]), json!({"timestamp": 13}));
    assert_eq!(job_status(&mut store, "job-1"), "COMPLETED");

    let (topic, body) = answer(&publish(
        &mut store,
        "$aws/things/lamp/jobs/job-1/get",
        json!({}),
        14_000,
    ));
    assert_eq!(topic, "$aws/things/lamp/jobs/job-1/get/rejected");
    assert_eq!(body["code"], "TerminalStateReached");
    let control = with(&mut store, |tx| {
        describe_execution(tx, &settings(), "job-1", "lamp", None, 14_000)
    })
    .unwrap();
    assert_eq!(control["execution"]["status"], "SUCCEEDED");
    assert_eq!(
        control["execution"]["statusDetails"],
        json!({"detailsMap": {"step": "1"}})
    );
}

#[test]
fn refusals_carry_awss_codes_and_change_nothing() {
    let mut store = store_with_things(&["lamp"]);
    create(&mut store, "job-1", simple(&["lamp"]), 1_000).unwrap();
    let cases = [
        (
            "$aws/things/lamp/jobs/job-1/update",
            json!({"status": "IN_PROGRESS", "expectedVersion": 5}),
            "VersionMismatch",
        ),
        (
            "$aws/things/lamp/jobs/job-1/update",
            json!({"status": "QUEUED"}),
            "InvalidRequest",
        ),
        (
            "$aws/things/lamp/jobs/nope/update",
            json!({"status": "FAILED"}),
            "ResourceNotFound",
        ),
        (
            "$aws/things/other/jobs/job-1/update",
            json!({"status": "FAILED"}),
            "ResourceNotFound",
        ),
        (
            "$aws/things/lamp/jobs/nope/get",
            json!({}),
            "ResourceNotFound",
        ),
        (
            "$aws/things/lamp/jobs/bad!id/get",
            json!({}),
            "InvalidRequest",
        ),
        (
            "$aws/things/lamp/jobs/$next/update",
            json!({"status": "FAILED"}),
            "InvalidRequest",
        ),
        ("$aws/things/lamp/jobs/cancel", json!({}), "InvalidTopic"),
    ];
    for (topic, body, code) in cases {
        let out = publish(&mut store, topic, body.clone(), 2_000);
        let (answer_topic, answer) = answer(&out);
        assert_eq!(answer_topic, format!("{topic}/rejected"), "{body}");
        assert_eq!(answer["code"], code, "{topic} {body}: {answer}");
        assert!(out.publish.is_empty());
    }
    let out = with(&mut store, |tx| {
        handle_publish(
            tx,
            &settings(),
            Some(CONN),
            "$aws/things/lamp/jobs/get",
            b"{not json",
            None,
            3_000,
        )
    });
    assert_eq!(answer(&out).1["code"], "InvalidJson");
    let out = with(&mut store, |tx| {
        handle_publish(
            tx,
            &settings(),
            Some(CONN),
            "$aws/things/lamp/jobs/get",
            b"{}",
            Some(10),
            3_000,
        )
    });
    assert_eq!(answer(&out).1["code"], "RequestThrottled");
    let (_, mismatch) = answer(&publish(
        &mut store,
        "$aws/things/lamp/jobs/job-1/update",
        json!({"status": "FAILED", "expectedVersion": 9}),
        4_000,
    ));
    assert_eq!(
        mismatch["executionState"],
        json!({"status": "QUEUED", "versionNumber": 1})
    );
    // The server's own publishes and its answers are not requests.
    for topic in [
        "$aws/things/lamp/jobs/notify",
        "$aws/things/lamp/jobs/get/accepted",
    ] {
        assert!(
            publish(&mut store, topic, json!({}), 5_000)
                .direct
                .is_empty()
        );
    }
    let out = with(&mut store, |tx| {
        handle_publish(
            tx,
            &settings(),
            None,
            "$aws/things/lamp/jobs/get",
            b"{}",
            None,
            5_000,
        )
    });
    assert_eq!(out, Output::default());
    let (_, body) = answer(&publish(
        &mut store,
        "$aws/things/lamp/jobs/$next/get",
        json!({}),
        6_000,
    ));
    assert_eq!(
        body["execution"]["versionNumber"], 1,
        "nothing changed: {body}"
    );
}

#[test]
fn a_step_timeout_fired_by_tick_times_the_execution_out() {
    let mut store = store_with_things(&["lamp"]);
    create(&mut store, "job-1", json!({
        "targets": targets(&["lamp"]), "document": "{}", "timeoutConfig": {"inProgressTimeoutInMinutes": 10}
    }), 0).unwrap();
    assert_eq!(with(&mut store, next_deadline).unwrap(), None);
    publish(
        &mut store,
        "$aws/things/lamp/jobs/start-next",
        json!({"stepTimeoutInMinutes": 2}),
        1_000,
    );
    assert_eq!(with(&mut store, next_deadline).unwrap(), Some(3_000));
    let (_, body) = answer(&publish(
        &mut store,
        "$aws/things/lamp/jobs/$next/get",
        json!({}),
        1_500,
    ));
    assert_eq!(body["execution"]["approximateSecondsBeforeTimedOut"], 1);
    let early = with(&mut store, |tx| tick(tx, &settings(), 2_999)).unwrap();
    assert!(early.publish.is_empty());
    let fired = with(&mut store, |tx| tick(tx, &settings(), 3_000)).unwrap();
    assert_eq!(
        topics(&fired.publish),
        [
            "$aws/things/lamp/jobs/notify",
            "$aws/things/lamp/jobs/notify-next"
        ]
    );
    let e = with(&mut store, |tx| {
        describe_execution(tx, &settings(), "job-1", "lamp", None, 3_000)
    })
    .unwrap();
    assert_eq!(
        (
            e["execution"]["status"].as_str(),
            e["execution"]["versionNumber"].as_i64()
        ),
        (Some("TIMED_OUT"), Some(3))
    );
    assert_eq!(job_status(&mut store, "job-1"), "COMPLETED");
    assert_eq!(with(&mut store, next_deadline).unwrap(), None);
    let (_, late) = answer(&publish(
        &mut store,
        "$aws/things/lamp/jobs/job-1/update",
        json!({"status": "SUCCEEDED"}),
        4_000,
    ));
    assert_eq!(late["code"], "InvalidStateTransition");
    assert_eq!(late["executionState"]["status"], "TIMED_OUT");
}

#[test]
fn cancel_without_force_spares_in_progress_executions_and_force_reaches_them() {
    let mut store = store_with_things(&["a", "b"]);
    create(&mut store, "job-1", simple(&["a", "b"]), 0).unwrap();
    publish(
        &mut store,
        "$aws/things/a/jobs/start-next",
        json!({}),
        1_000,
    );
    let cancel = parse_cancel_job(&Default::default()).unwrap();
    let (_, out) = with(&mut store, |tx| {
        cancel_job(tx, &settings(), "job-1", false, &cancel, 2_000)
    })
    .unwrap();
    assert_eq!(
        topics(&out.publish),
        [
            "$aws/things/b/jobs/notify",
            "$aws/things/b/jobs/notify-next"
        ]
    );
    let status = |store: &mut Store, thing: &str| {
        with(store, |tx| {
            describe_execution(tx, &settings(), "job-1", thing, None, 3_000)
        })
        .unwrap()["execution"]
            .clone()
    };
    assert_eq!(status(&mut store, "a")["status"], "IN_PROGRESS");
    assert_eq!(status(&mut store, "b")["status"], "CANCELED");
    assert_eq!(job_status(&mut store, "job-1"), "CANCELED");
    let (_, out) = with(&mut store, |tx| {
        cancel_job(tx, &settings(), "job-1", true, &cancel, 4_000)
    })
    .unwrap();
    assert_eq!(
        topics(&out.publish),
        [
            "$aws/things/a/jobs/notify",
            "$aws/things/a/jobs/notify-next"
        ]
    );
    let a = status(&mut store, "a");
    assert_eq!(
        (a["status"].as_str(), a["forceCanceled"].as_bool()),
        (Some("CANCELED"), Some(true))
    );
    let job = with(&mut store, |tx| describe_job(tx, &settings(), "job-1")).unwrap();
    assert_eq!(job["job"]["forceCanceled"], true);
    assert_eq!(job["job"]["jobProcessDetails"]["numberOfCanceledThings"], 2);
    let (_, refused) = answer(&publish(
        &mut store,
        "$aws/things/a/jobs/job-1/update",
        json!({"status": "SUCCEEDED"}),
        5_000,
    ));
    assert_eq!(refused["code"], "InvalidStateTransition");
}

#[test]
fn delete_job_needs_force_while_in_progress_and_takes_its_executions() {
    let mut store = store_with_things(&["a"]);
    create(&mut store, "job-1", simple(&["a"]), 0).unwrap();
    let refused = with(&mut store, |tx| delete_job(tx, "job-1", false, 1_000)).unwrap_err();
    assert_eq!(refused.code, ErrorCode::InvalidStateTransition);
    let (_, out) = with(&mut store, |tx| delete_job(tx, "job-1", true, 1_000)).unwrap();
    assert_eq!(
        payload(&out.publish[0]),
        json!({"timestamp": 1, "jobs": {}})
    );
    assert_eq!(
        with(&mut store, |tx| describe_job(tx, &settings(), "job-1"))
            .unwrap_err()
            .code,
        ErrorCode::ResourceNotFound
    );
    let list = with(&mut store, |tx| {
        list_executions_for_thing(tx, "a", None, None, &PageRequest::first(10))
    })
    .unwrap();
    assert_eq!(list["executionSummaries"], json!([]));
    // The id can be used again once deleted.
    create(&mut store, "job-1", simple(&["a"]), 2_000).unwrap();
    let again = create(&mut store, "job-1", simple(&["a"]), 2_000).unwrap_err();
    assert_eq!(again.code, ErrorCode::ResourceAlreadyExists);
}

#[test]
fn create_job_refuses_missing_things_and_thing_groups() {
    let mut store = store_with_things(&["a"]);
    let e = create(&mut store, "j", simple(&["a", "ghost"]), 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::ResourceNotFound);
    assert!(e.message.contains("ghost"), "{}", e.message);
    let group = json!({ "targets": [group_arn("fleet")], "document": "{}" });
    let e = create(&mut store, "j", group, 0).unwrap_err();
    assert_eq!(e.code, ErrorCode::ResourceNotFound);
    assert!(e.message.contains("Thing group fleet"), "{}", e.message);
    assert_eq!(
        with(&mut store, load_nothing),
        0,
        "a refused create leaves nothing"
    );
}

fn group_arn(name: &str) -> String {
    format!("arn:aws:iot:us-east-1:123456789012:thinggroup/{name}")
}

/// Things `a b c d`, groups `fleet ─ lab` and `spare`; `a` in fleet, `b` in lab.
fn fleet_store() -> Store {
    let mut store = store_with_things(&["a", "b", "c", "d"]);
    for (i, (name, parent)) in [("fleet", None), ("lab", Some("fleet")), ("spare", None)]
        .into_iter()
        .enumerate()
    {
        let new = store::NewThingGroup {
            name: name.into(),
            parent: parent.map(str::to_owned),
            ..Default::default()
        };
        store
            .create_thing_group(&new, [u8::try_from(i + 50).unwrap(); 16], 0)
            .unwrap();
    }
    store
        .add_thing_to_thing_group("fleet", "a", [1; 16], 0)
        .unwrap();
    store
        .add_thing_to_thing_group("lab", "b", [2; 16], 0)
        .unwrap();
    store
}

/// (status, executionNumber) of the latest execution of `job` on `thing`, if any.
fn execution_of(store: &mut Store, job: &str, thing: &str) -> Option<(String, i64)> {
    let answer = with(store, |tx| {
        describe_execution(tx, &settings(), job, thing, None, 0)
    });
    answer.ok().map(|v| {
        let e = &v["execution"];
        (
            e["status"].as_str().unwrap().to_owned(),
            e["executionNumber"].as_i64().unwrap(),
        )
    })
}

fn follow(store: &mut Store, things: &[&str], now: i64) -> Output {
    let things: Vec<String> = things.iter().map(|t| (*t).to_owned()).collect();
    with(store, |tx| {
        membership_changed(tx, &settings(), &things, now)
    })
    .unwrap()
}

#[test]
fn a_group_target_reaches_the_things_of_its_descendant_groups_once() {
    let mut store = fleet_store();
    let body = json!({
        "targets": [group_arn("fleet"), settings().thing_arn("a"), group_arn("spare")],
        "document": "{}"
    });
    let (_, out) = create(&mut store, "j", body, 0).unwrap();
    assert_eq!(
        topics(&out.publish),
        [
            "$aws/things/a/jobs/notify",
            "$aws/things/a/jobs/notify-next",
            "$aws/things/b/jobs/notify",
            "$aws/things/b/jobs/notify-next"
        ]
    );
    assert_eq!(
        execution_of(&mut store, "j", "a"),
        Some(("QUEUED".into(), 1))
    );
    assert_eq!(
        execution_of(&mut store, "j", "b"),
        Some(("QUEUED".into(), 1))
    );
    assert_eq!(execution_of(&mut store, "j", "c"), None);
    // A snapshot job keeps its things: c joining the fleet changes nothing.
    store
        .add_thing_to_thing_group("lab", "c", [3; 16], 0)
        .unwrap();
    let out = follow(&mut store, &["c"], 10);
    assert!(out.publish.is_empty(), "{out:?}");
    assert_eq!(execution_of(&mut store, "j", "c"), None);
}

#[test]
fn a_continuous_job_follows_its_groups_membership() {
    let mut store = fleet_store();
    let body = json!({
        "targets": [group_arn("fleet")], "document": "{}", "targetSelection": "CONTINUOUS"
    });
    create(&mut store, "j", body, 0).unwrap();
    // Both things finish: the job stays IN_PROGRESS, waiting for new things.
    for thing in ["a", "b"] {
        let topic = format!("$aws/things/{thing}/jobs/j/update");
        publish(&mut store, &topic, json!({"status": "SUCCEEDED"}), 5);
    }
    assert_eq!(job_status(&mut store, "j"), "IN_PROGRESS");
    // c joins a group under the target: it gets the job, and is told so.
    store
        .add_thing_to_thing_group("lab", "c", [3; 16], 0)
        .unwrap();
    let out = follow(&mut store, &["c"], 10);
    assert_eq!(
        topics(&out.publish),
        [
            "$aws/things/c/jobs/notify",
            "$aws/things/c/jobs/notify-next"
        ]
    );
    assert_eq!(
        execution_of(&mut store, "j", "c"),
        Some(("QUEUED".into(), 1))
    );
    // Asked again (no change), nothing happens.
    assert!(follow(&mut store, &["c"], 11).publish.is_empty());
    // c leaves: its pending execution is REMOVED and its list empties.
    store.remove_thing_from_thing_group("lab", "c").unwrap();
    let out = follow(&mut store, &["c"], 20);
    assert_eq!(
        execution_of(&mut store, "j", "c"),
        Some(("REMOVED".into(), 1))
    );
    let notify = out
        .publish
        .iter()
        .find(|m| m.topic == "$aws/things/c/jobs/notify")
        .expect("c is told its list changed");
    assert_eq!(payload(notify)["jobs"], json!({}));
    // c comes back: a new execution, numbered after the removed one.
    store
        .add_thing_to_thing_group("fleet", "c", [4; 16], 0)
        .unwrap();
    follow(&mut store, &["c"], 30);
    assert_eq!(
        execution_of(&mut store, "j", "c"),
        Some(("QUEUED".into(), 2))
    );
    // b leaves after succeeding: its finished execution stays as it was.
    store.remove_thing_from_thing_group("lab", "b").unwrap();
    follow(&mut store, &["b"], 40);
    assert_eq!(
        execution_of(&mut store, "j", "b"),
        Some(("SUCCEEDED".into(), 1))
    );
    let counts = with(&mut store, |tx| describe_job(tx, &settings(), "j")).unwrap();
    let details = &counts["job"]["jobProcessDetails"];
    assert_eq!(details["numberOfRemovedThings"], 1, "{details}");
    assert_eq!(details["numberOfQueuedThings"], 1, "{details}");
    assert_eq!(details["numberOfSucceededThings"], 2, "{details}");
}

#[test]
fn associate_targets_adds_groups_to_continuous_jobs_only() {
    let mut store = fleet_store();
    store
        .add_thing_to_thing_group("spare", "d", [5; 16], 0)
        .unwrap();
    create(&mut store, "snap", simple(&["a"]), 0).unwrap();
    let body = json!({
        "targets": [group_arn("lab")], "document": "{}", "targetSelection": "CONTINUOUS"
    });
    create(&mut store, "cont", body, 0).unwrap();
    let associate = |store: &mut Store, job: &str, arns: Vec<String>| {
        with(store, |tx| {
            associate_targets(tx, &settings(), job, &arns, Some("more"), 10)
        })
    };
    let e = associate(&mut store, "snap", vec![group_arn("spare")]).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert!(e.message.contains("SNAPSHOT"), "{}", e.message);
    let e = associate(&mut store, "cont", vec![settings().thing_arn("d")]).unwrap_err();
    assert!(e.message.contains("not a thing group ARN"), "{}", e.message);
    let e = associate(&mut store, "cont", vec![group_arn("ghost")]).unwrap_err();
    assert_eq!(e.code, ErrorCode::ResourceNotFound);
    let too_many: Vec<String> = (0..MAX_TARGETS)
        .map(|i| group_arn(&format!("g{i}")))
        .collect();
    let e = associate(&mut store, "cont", too_many).unwrap_err();
    assert_eq!(e.code, ErrorCode::LimitExceeded);
    assert_eq!(
        execution_of(&mut store, "cont", "d"),
        None,
        "refusals change nothing"
    );
    let (body, out) = associate(&mut store, "cont", vec![group_arn("spare")]).unwrap();
    assert_eq!(body["jobId"], "cont");
    assert_eq!(
        topics(&out.publish),
        [
            "$aws/things/d/jobs/notify",
            "$aws/things/d/jobs/notify-next"
        ]
    );
    let job = with(&mut store, |tx| describe_job(tx, &settings(), "cont")).unwrap();
    assert_eq!(
        job["job"]["targets"],
        json!([group_arn("lab"), group_arn("spare")])
    );
    assert_eq!(job["job"]["comment"], "more");
    // Later members of the new group get the job too.
    store
        .add_thing_to_thing_group("spare", "c", [6; 16], 0)
        .unwrap();
    follow(&mut store, &["c"], 20);
    assert_eq!(
        execution_of(&mut store, "cont", "c"),
        Some(("QUEUED".into(), 1))
    );
}

fn load_nothing(tx: &ServiceTx<'_>) -> usize {
    tx.jobs(&JobFilter::default(), &PageRequest::first(10))
        .unwrap()
        .items
        .len()
}

#[test]
fn rollout_windows_create_executions_at_the_configured_rate() {
    let mut store = store_with_things(&["a", "b", "c"]);
    create(
        &mut store,
        "job-1",
        json!({
            "targets": targets(&["a", "b", "c"]), "document": "{}",
            "jobExecutionsRolloutConfig": {"maximumPerMinute": 2}
        }),
        0,
    )
    .unwrap();
    let details = |store: &mut Store| {
        with(store, |tx| describe_job(tx, &settings(), "job-1")).unwrap()["job"].clone()
    };
    let job = details(&mut store);
    assert_eq!(job["jobProcessDetails"]["numberOfQueuedThings"], 2);
    assert_eq!(job["isConcurrent"], true);
    assert_eq!(
        job["jobProcessDetails"]["processingTargets"],
        targets(&["a", "b", "c"])
    );
    assert_eq!(with(&mut store, next_deadline).unwrap(), Some(1_000));
    let out = with(&mut store, |tx| tick(tx, &settings(), 1_000)).unwrap();
    assert_eq!(
        topics(&out.publish),
        [
            "$aws/things/c/jobs/notify",
            "$aws/things/c/jobs/notify-next"
        ]
    );
    let job = details(&mut store);
    assert_eq!(job["jobProcessDetails"]["numberOfQueuedThings"], 3);
    assert_eq!(job["isConcurrent"], false);
    assert!(job["jobProcessDetails"].get("processingTargets").is_none());
}

#[test]
fn an_abort_criterion_cancels_the_job_and_its_queued_executions() {
    let mut store = store_with_things(&["a", "b", "c"]);
    create(
        &mut store,
        "job-1",
        json!({
            "targets": targets(&["a", "b", "c"]), "document": "{}",
            "abortConfig": {"criteriaList": [{"failureType": "FAILED", "action": "CANCEL",
                "thresholdPercentage": 30, "minNumberOfExecutedThings": 3}]}
        }),
        0,
    )
    .unwrap();
    publish(&mut store, "$aws/things/b/jobs/start-next", json!({}), 500);
    publish(
        &mut store,
        "$aws/things/a/jobs/job-1/update",
        json!({"status": "FAILED"}),
        1_000,
    );
    let job = with(&mut store, |tx| describe_job(tx, &settings(), "job-1")).unwrap()["job"].clone();
    assert_eq!(job["status"], "CANCELED");
    assert!(
        job["comment"].as_str().unwrap().contains("abortConfig"),
        "{job}"
    );
    let details = &job["jobProcessDetails"];
    assert_eq!(
        (
            details["numberOfFailedThings"].as_u64(),
            details["numberOfCanceledThings"].as_u64(),
            details["numberOfInProgressThings"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
}

#[test]
fn executions_are_canceled_deleted_and_listed_by_job_and_thing() {
    let mut store = store_with_things(&["a", "b"]);
    create(&mut store, "job-1", simple(&["a", "b"]), 0).unwrap();
    create(&mut store, "job-2", simple(&["a"]), 10).unwrap();
    publish(&mut store, "$aws/things/a/jobs/start-next", json!({}), 20);
    let none = parse_cancel_execution(&Default::default()).unwrap();
    let e = with(&mut store, |tx| {
        cancel_execution(tx, "job-1", "a", false, &none, 30)
    })
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidStateTransition);
    let stale = parse_cancel_execution(json!({"expectedVersion": 1}).as_object().unwrap()).unwrap();
    let e = with(&mut store, |tx| {
        cancel_execution(tx, "job-1", "a", true, &stale, 30)
    })
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::VersionConflict);
    let (_, out) = with(&mut store, |tx| {
        cancel_execution(tx, "job-1", "a", true, &none, 30)
    })
    .unwrap();
    let next = out
        .publish
        .iter()
        .find(|m| m.topic.ends_with("notify-next"))
        .unwrap();
    assert_eq!(payload(next)["execution"]["jobId"], "job-2");
    let e = with(&mut store, |tx| {
        delete_execution(tx, "job-1", "b", 1, false, 40)
    })
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidStateTransition);
    with(&mut store, |tx| {
        delete_execution(tx, "job-1", "b", 1, true, 40)
    })
    .unwrap();
    assert_eq!(
        job_status(&mut store, "job-1"),
        "COMPLETED",
        "nothing pending is left"
    );
    let by_job = with(&mut store, |tx| {
        list_executions_for_job(tx, &settings(), "job-1", None, &PageRequest::first(10))
    })
    .unwrap();
    assert_eq!(by_job["executionSummaries"].as_array().unwrap().len(), 1);
    assert_eq!(
        by_job["executionSummaries"][0]["thingArn"],
        settings().thing_arn("a")
    );
    let page = PageRequest::first(1);
    let by_thing = with(&mut store, |tx| {
        list_executions_for_thing(tx, "a", None, None, &page)
    })
    .unwrap();
    assert_eq!(by_thing["executionSummaries"][0]["jobId"], "job-1");
    let token = by_thing["nextToken"].as_str().unwrap().to_owned();
    let next_page = PageRequest {
        token: Some(token),
        ..page
    };
    let rest = with(&mut store, |tx| {
        list_executions_for_thing(tx, "a", None, None, &next_page)
    })
    .unwrap();
    assert_eq!(rest["executionSummaries"][0]["jobId"], "job-2");
    let jobs = with(&mut store, |tx| {
        list_jobs(
            tx,
            &settings(),
            &JobFilter::default(),
            &PageRequest::first(10),
        )
    })
    .unwrap();
    let ids: Vec<_> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["jobId"].clone())
        .collect();
    assert_eq!(ids, [json!("job-2"), json!("job-1")], "newest first");
    let doc = with(&mut store, |tx| job_document(tx, "job-2")).unwrap();
    assert_eq!(doc, json!({"document": r#"{"op":"reboot"}"#}));
}

#[test]
fn the_http_device_plane_writes_the_document_as_text() {
    let mut store = store_with_things(&["a"]);
    create(&mut store, "job-1", simple(&["a"]), 0).unwrap();
    let (body, _) = with(&mut store, |tx| {
        start_next(
            tx,
            &settings(),
            "a",
            &StartNext::default(),
            DocumentForm::Text,
            1_000,
        )
    })
    .unwrap();
    assert_eq!(
        body["execution"]["jobDocument"],
        json!(r#"{"op":"reboot"}"#)
    );
    assert!(
        body.get("timestamp").is_none(),
        "the HTTP answer has no timestamp"
    );
    let described = with(&mut store, |tx| {
        describe(
            tx,
            "a",
            NEXT,
            &Describe::default(),
            DocumentForm::Text,
            2_000,
        )
    })
    .unwrap();
    assert_eq!(described["execution"]["jobId"], "job-1");
}

#[test]
fn a_job_template_gives_a_job_its_document_and_configurations() {
    let mut store = store_with_things(&["a"]);
    let body = |v: Value| v.as_object().unwrap().clone();
    let req = parse_create_template(
        "fw-template",
        &body(
            json!({"description": "Firmware", "document": "{\"op\":\"fw\"}",
            "timeoutConfig": {"inProgressTimeoutInMinutes": 7}}),
        ),
        &settings(),
    )
    .unwrap();
    let created = with(&mut store, |tx| {
        create_template(tx, &settings(), &req, Some(("{\"op\":\"fw\"}", None)), 5)
    })
    .unwrap();
    assert_eq!(
        created["jobTemplateArn"],
        settings().template_arn("fw-template")
    );
    let again = with(&mut store, |tx| {
        create_template(tx, &settings(), &req, Some(("{}", None)), 6)
    })
    .unwrap_err();
    assert_eq!(again.code, ErrorCode::Conflict);
    let arn = settings().template_arn("fw-template");
    create(
        &mut store,
        "from-template",
        json!({"targets": targets(&["a"]), "jobTemplateArn": arn}),
        10,
    )
    .unwrap();
    let job = with(&mut store, |tx| {
        describe_job(tx, &settings(), "from-template")
    })
    .unwrap()["job"]
        .clone();
    assert_eq!(job["description"], "Firmware");
    assert_eq!(job["timeoutConfig"]["inProgressTimeoutInMinutes"], 7);
    assert_eq!(job["jobTemplateArn"], arn.as_str());
    let doc = with(&mut store, |tx| job_document(tx, "from-template")).unwrap();
    assert_eq!(doc["document"], r#"{"op":"fw"}"#);
    // A template made from that job copies its document and configurations.
    let from_job = parse_create_template(
        "copy",
        &body(json!({"description": "Copy", "jobArn": settings().job_arn("from-template")})),
        &settings(),
    )
    .unwrap();
    with(&mut store, |tx| {
        create_template(tx, &settings(), &from_job, None, 20)
    })
    .unwrap();
    let copy = with(&mut store, |tx| describe_template(tx, &settings(), "copy")).unwrap();
    assert_eq!(copy["document"], r#"{"op":"fw"}"#);
    assert_eq!(copy["timeoutConfig"]["inProgressTimeoutInMinutes"], 7);
    let listed = with(&mut store, |tx| {
        list_templates(tx, &settings(), &PageRequest::first(10))
    })
    .unwrap();
    let ids: Vec<_> = listed["jobTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["jobTemplateId"].clone())
        .collect();
    assert_eq!(ids, [json!("copy"), json!("fw-template")]);
    with(&mut store, |tx| delete_template(tx, "copy")).unwrap();
    let gone = with(&mut store, |tx| delete_template(tx, "copy")).unwrap_err();
    assert_eq!(gone.code, ErrorCode::ResourceNotFound);
    let missing = create(
        &mut store,
        "x",
        json!({"targets": targets(&["a"]), "jobTemplateArn": settings().template_arn("nope")}),
        30,
    )
    .unwrap_err();
    assert_eq!(missing.code, ErrorCode::ResourceNotFound);
    assert!(
        parse_create_template("t", &body(json!({"document": "{}"})), &settings()).is_err(),
        "description is required"
    );
    assert!(
        parse_create_template("t", &body(json!({"description": "d"})), &settings()).is_err(),
        "a document is required"
    );
}
