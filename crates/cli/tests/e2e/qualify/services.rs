//! `tether qualify`'s shadow and jobs tests, which run on the real broker and services: the AWS
//! IoT Device SDK v2's shadow and jobs clients (tests/python/qualify_services.py, `sdk-*`
//! modes) pass them; paho-mqtt scripted to misbehave (never report, report other values, never
//! subscribe to the delta, leave the job IN_PROGRESS) fails each, with the reason and the fix
//! asserted in the JSON report and the failures in the JUnit report.

use std::cell::Cell;
use std::path::Path;
use std::process::Child;

use super::{device_did, junit, pairs, qualify_fresh, script};

const SHADOW_PUBLISH: &str = "Shadow_Publish_Reported_State";
const SHADOW_UPDATE: &str = "Shadow_Update_Reported_State";
const JOB: &str = "Job_Execution";

/// A device that runs `qualify_services.py` in the next of `modes` for each test.
fn devices<'a>(modes: &'a [&'a str], next: &'a Cell<usize>) -> impl Fn(u16, &Path) -> Child + 'a {
    move |port, files| {
        let mode = modes[next.get()];
        next.set(next.get() + 1);
        script("qualify_services.py", port, files, &[mode])
    }
}

fn fix(report: &serde_json::Value, i: usize) -> String {
    report["verdicts"][i]["fix"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[test]
fn the_device_sdk_passes_the_shadow_and_jobs_tests() {
    let next = Cell::new(0);
    let device = devices(&["sdk-shadow-publish", "sdk-shadow-sync", "sdk-job"], &next);
    let tests = [SHADOW_PUBLISH, SHADOW_UPDATE, JOB];
    let (verdicts, code, report, dir) = qualify_fresh(&tests, "30", "2", &device);
    assert_eq!(
        verdicts,
        pairs(&[
            (SHADOW_PUBLISH, "PASS"),
            (SHADOW_UPDATE, "PASS"),
            (JOB, "PASS")
        ])
    );
    assert_eq!(code, 0);
    let did = device_did(&report, 0);
    assert!(
        did.contains(r#"{"firmware":"1.0.0"}"#) && did.contains("/shadow/update/accepted"),
        "{did}"
    );
    let did = device_did(&report, 1);
    assert!(
        did.contains("tetherQualify") && did.contains("no delta left"),
        "{did}"
    );
    let did = device_did(&report, 2);
    assert!(
        did.contains("notify-next") && did.contains("IN_PROGRESS and then to SUCCEEDED"),
        "{did}"
    );
    let (tests, failures, cases) = junit(&dir.path().join("reports"));
    assert_eq!((tests.as_str(), failures.as_str()), ("3", "0"));
    assert_eq!(cases[2], (JOB.to_owned(), String::new()));
}

#[test]
fn scripted_devices_fail_the_shadow_and_jobs_tests_for_what_they_did() {
    let next = Cell::new(0);
    let modes = [
        "silent",
        "no-delta",
        "wrong-values",
        "job-in-progress",
        "no-delta",
        "silent",
    ];
    let device = devices(&modes, &next);
    let tests = [
        SHADOW_PUBLISH,
        SHADOW_UPDATE,
        SHADOW_UPDATE,
        JOB,
        SHADOW_PUBLISH,
        JOB,
    ];
    let (verdicts, code, report, dir) = qualify_fresh(&tests, "3", "2", &device);
    assert_eq!(
        verdicts,
        pairs(&[
            (SHADOW_PUBLISH, "FAIL"),
            (SHADOW_UPDATE, "FAIL"),
            (SHADOW_UPDATE, "FAIL"),
            (JOB, "FAIL"),
            (SHADOW_PUBLISH, "PASS_WITH_WARNINGS"),
            (JOB, "FAIL"),
        ])
    );
    assert_eq!(code, 1);
    let shadow = "$aws/things/demo-device/shadow";
    let did = device_did(&report, 0);
    assert!(
        did.contains(&format!(
            "never published a reported state to {shadow}/update"
        )),
        "{did}"
    );
    let did = device_did(&report, 1);
    assert!(
        did.contains(&format!("never subscribed to {shadow}/update/delta")),
        "{did}"
    );
    assert!(
        fix(&report, 1).contains(&format!("subscribe to {shadow}/update/delta (or to {shadow}/update/documents) and report the desired values back")),
        "{}",
        fix(&report, 1)
    );
    let did = device_did(&report, 2);
    assert!(did.contains(r#"reported {"tetherQualify":"no"}"#), "{did}");
    let did = device_did(&report, 3);
    assert!(did.contains("IN_PROGRESS"), "{did}");
    assert!(
        fix(&report, 3).contains(r#"publish {"status":"SUCCEEDED"}"#),
        "{}",
        fix(&report, 3)
    );
    let did = device_did(&report, 4);
    assert!(
        did.contains(&format!("never subscribed to {shadow}/update/accepted")),
        "{did}"
    );
    let did = device_did(&report, 5);
    assert!(
        did.contains("subscribed to $aws/things/demo-device/jobs/notify-next but never moved"),
        "{did}"
    );
    let (tests, failures, cases) = junit(&dir.path().join("reports"));
    assert_eq!((tests.as_str(), failures.as_str()), ("6", "5"));
    assert!(cases[3].1.contains("IN_PROGRESS"), "{:?}", cases[3]);
    assert_eq!(cases[4].1, "");
}
