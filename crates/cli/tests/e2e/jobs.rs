//! AWS IoT Jobs end to end with the clients users run: boto3 and the AWS IoT Device SDK v2 jobs
//! client (awsiotsdk's IotJobsClientV2 over MQTT 5 with mutual TLS) through a job's whole life,
//! paho-mqtt on the raw topics for every refusal while another client watching the thing's
//! Jobs topics sees no answer, the AWS CLI's `iot` and `iot-jobs-data` commands (a
//! `documentSource` read from a file and from a local HTTP server, S3 refused, job templates),
//! acknowledged transitions and timers surviving `kill -9`, `tether jobs`, and a continuous
//! job on a thing group that a device joins, leaves and rejoins (AssociateTargetsWithJob too).

use std::io::BufReader;
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::{Value, json};
use test_support::process::Tether;

use crate::support::{
    aws, aws_raw, python, read_until, run, start, subscriber, tether, text, venv_bin,
};

const THING: &str = "demo-device";

fn thing_arn() -> String {
    format!("arn:aws:iot:us-east-1:123456789012:thing/{THING}")
}

/// The demo device's MQTT address and credentials, as the scripts take them.
fn device_args(server: &Tether) -> Vec<String> {
    vec![
        format!("localhost:{}", server.addr("mqtts").port()),
        server
            .demo_file("certificate.pem.crt")
            .display()
            .to_string(),
        server.demo_file("private.pem.key").display().to_string(),
        server.demo_file("root-ca.pem").display().to_string(),
        THING.to_owned(),
    ]
}

/// `aws iot create-job` for the demo device with `extra` arguments.
fn create_job(server: &Tether, job_id: &str, extra: &[&str]) -> Value {
    let arn = thing_arn();
    let mut args = vec!["iot", "create-job", "--job-id", job_id, "--targets", &arn];
    args.extend_from_slice(extra);
    aws(server, &args)
}

fn execution(server: &Tether, job_id: &str) -> Value {
    aws(
        server,
        &[
            "iot",
            "describe-job-execution",
            "--job-id",
            job_id,
            "--thing-name",
            THING,
        ],
    )["execution"]
        .clone()
}

/// An `aws` call that must fail; its standard error.
fn aws_refused(server: &Tether, args: &[&str]) -> String {
    let out = aws_raw(server, "test", args);
    assert!(!out.status.success(), "aws {} succeeded", args.join(" "));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn boto3_and_the_aws_iot_device_sdk_jobs_client_run_jobs_end_to_end() {
    let (_dir, server) = start(&["--jobs-minute", "1"]);
    let mut args = vec![crate::support::api_url(&server)];
    args.extend(device_args(&server));
    let out = python(&server, "jobs_sdk.py", &args);
    assert!(text(&out).contains("46 checks passed"), "{}", text(&out));
}

#[test]
fn answers_reach_the_requester_alone_and_refusals_carry_awss_codes() {
    let (_dir, server) = start(&[]);
    create_job(&server, "raw-1", &["--document", r#"{"op":"x"}"#]);
    let mut tls = server.demo_tls_args();
    tls.extend(["-i".to_owned(), "jobs-watcher".to_owned()]);
    let (_watcher, mut watched) =
        subscriber(&tls, &["-v", "-t", &format!("$aws/things/{THING}/jobs/#")]);
    let out = python(&server, "jobs_errors.py", &device_args(&server));
    assert!(text(&out).contains("47 checks passed"), "{}", text(&out));
    // A job created now is the watcher's marker: everything the script caused came before it.
    create_job(&server, "marker", &["--document", "{}"]);
    let seen = read_until(
        &mut watched,
        &format!("$aws/things/{THING}/jobs/notify-next"),
    );
    for line in seen.lines().filter(|l| l.starts_with("$aws/")) {
        let topic = line.split(' ').next().unwrap_or_default();
        assert!(
            !topic.ends_with("/accepted") && !topic.ends_with("/rejected"),
            "another client saw an answer meant for the requester: {line}\nall:\n{seen}"
        );
        assert!(
            !topic.ends_with("/jobs/get")
                && !topic.ends_with("/update")
                && !topic.ends_with("/start-next"),
            "a request reached a subscriber: {line}"
        );
    }
    // The watcher did see the notifications: the queued job left when the device rejected it.
    assert!(
        seen.contains(&format!("$aws/things/{THING}/jobs/notify {{")),
        "{seen}"
    );
}

#[test]
fn the_aws_cli_drives_the_control_plane_and_the_device_plane_over_http() {
    let (dir, server) = start(&[]);
    let doc_path = dir.path().join("doc.json");
    std::fs::write(&doc_path, r#"{"op":"from-file"}"#).unwrap();
    let source = format!("file://{}", doc_path.display());
    let created = create_job(
        &server,
        "file-job",
        &["--document-source", &source, "--description", "from a file"],
    );
    assert_eq!(
        created["jobArn"],
        "arn:aws:iot:us-east-1:123456789012:job/file-job"
    );
    let described = aws(&server, &["iot", "describe-job", "--job-id", "file-job"]);
    assert_eq!(described["documentSource"], source.as_str());
    assert_eq!(
        described["job"]["jobProcessDetails"]["numberOfQueuedThings"],
        1
    );
    let document = aws(
        &server,
        &["iot", "get-job-document", "--job-id", "file-job"],
    );
    assert_eq!(document["document"], r#"{"op":"from-file"}"#);

    // A document served by a local HTTP server.
    let mut http = Command::new(venv_bin().join("python"))
        .args([
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = read_until(
        &mut BufReader::new(http.stdout.take().unwrap()),
        "Serving HTTP",
    );
    let port = line
        .split("port ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/doc.json");
    create_job(&server, "http-job", &["--document-source", &url]);
    let fetched = aws(
        &server,
        &["iot", "get-job-document", "--job-id", "http-job"],
    );
    http.kill().unwrap();
    http.wait().unwrap();
    assert_eq!(fetched["document"], r#"{"op":"from-file"}"#);
    let s3 = aws_refused(
        &server,
        &[
            "iot",
            "create-job",
            "--job-id",
            "s3-job",
            "--targets",
            &thing_arn(),
            "--document-source",
            "https://s3.amazonaws.com/bucket/doc.json",
        ],
    );
    assert!(
        s3.contains("InvalidRequestException") && s3.contains("tether has no S3"),
        "{s3}"
    );
    let group = aws_refused(
        &server,
        &[
            "iot",
            "create-job",
            "--job-id",
            "g",
            "--targets",
            "arn:aws:iot:us-east-1:123456789012:thinggroup/fleet",
            "--document",
            "{}",
        ],
    );
    assert!(
        group.contains("ResourceNotFoundException") && group.contains("Thing group fleet"),
        "{group}"
    );
    let again = aws_refused(
        &server,
        &[
            "iot",
            "create-job",
            "--job-id",
            "file-job",
            "--targets",
            &thing_arn(),
            "--document",
            "{}",
        ],
    );
    assert!(again.contains("ResourceAlreadyExistsException"), "{again}");

    // The device plane over HTTP, signed for iot-jobs-data.
    let pending = aws(
        &server,
        &[
            "iot-jobs-data",
            "get-pending-job-executions",
            "--thing-name",
            THING,
        ],
    );
    let queued: Vec<_> = pending["queuedJobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["jobId"].clone())
        .collect();
    assert_eq!(queued, [json!("file-job"), json!("http-job")]);
    let started = aws(
        &server,
        &[
            "iot-jobs-data",
            "start-next-pending-job-execution",
            "--thing-name",
            THING,
            "--status-details",
            "step=one",
        ],
    );
    assert_eq!(started["execution"]["jobId"], "file-job");
    assert_eq!(
        started["execution"]["jobDocument"], r#"{"op":"from-file"}"#,
        "a string over HTTP"
    );
    assert_eq!(
        started["execution"]["statusDetails"],
        json!({"step": "one"})
    );
    let updated = aws(
        &server,
        &[
            "iot-jobs-data",
            "update-job-execution",
            "--thing-name",
            THING,
            "--job-id",
            "file-job",
            "--status",
            "SUCCEEDED",
            "--expected-version",
            "2",
            "--include-job-execution-state",
        ],
    );
    assert_eq!(updated["executionState"]["status"], "SUCCEEDED");
    let stale = aws_refused(
        &server,
        &[
            "iot-jobs-data",
            "update-job-execution",
            "--thing-name",
            THING,
            "--job-id",
            "http-job",
            "--status",
            "IN_PROGRESS",
            "--expected-version",
            "5",
        ],
    );
    assert!(stale.contains("InvalidStateTransitionException"), "{stale}");
    let terminal = aws_refused(
        &server,
        &[
            "iot-jobs-data",
            "describe-job-execution",
            "--thing-name",
            THING,
            "--job-id",
            "file-job",
        ],
    );
    assert!(terminal.contains("TerminalStateException"), "{terminal}");
    let next = aws(
        &server,
        &[
            "iot-jobs-data",
            "describe-job-execution",
            "--thing-name",
            THING,
            "--job-id",
            "$next",
        ],
    );
    assert_eq!(next["execution"]["jobId"], "http-job");

    // The control plane's lists, cancellations and deletions.
    let jobs = aws(&server, &["iot", "list-jobs", "--status", "COMPLETED"]);
    assert_eq!(jobs["jobs"][0]["jobId"], "file-job");
    let for_thing = aws(
        &server,
        &[
            "iot",
            "list-job-executions-for-thing",
            "--thing-name",
            THING,
        ],
    );
    assert_eq!(for_thing["executionSummaries"].as_array().unwrap().len(), 2);
    let for_job = aws(
        &server,
        &["iot", "list-job-executions-for-job", "--job-id", "http-job"],
    );
    assert_eq!(
        for_job["executionSummaries"][0]["thingArn"],
        thing_arn().as_str()
    );
    let busy = aws_refused(&server, &["iot", "delete-job", "--job-id", "http-job"]);
    assert!(busy.contains("InvalidStateTransitionException"), "{busy}");
    aws(
        &server,
        &[
            "iot",
            "cancel-job-execution",
            "--job-id",
            "http-job",
            "--thing-name",
            THING,
        ],
    );
    assert_eq!(execution(&server, "http-job")["status"], "CANCELED");
    aws(
        &server,
        &[
            "iot",
            "delete-job-execution",
            "--job-id",
            "http-job",
            "--thing-name",
            THING,
            "--execution-number",
            "1",
        ],
    );
    let gone = aws_refused(
        &server,
        &[
            "iot",
            "describe-job-execution",
            "--job-id",
            "http-job",
            "--thing-name",
            THING,
        ],
    );
    assert!(gone.contains("ResourceNotFoundException"), "{gone}");
    aws(
        &server,
        &[
            "iot",
            "update-job",
            "--job-id",
            "file-job",
            "--description",
            "updated",
        ],
    );
    assert_eq!(
        aws(&server, &["iot", "describe-job", "--job-id", "file-job"])["job"]["description"],
        "updated"
    );
    aws(&server, &["iot", "delete-job", "--job-id", "file-job"]);
    let deleted = aws_refused(&server, &["iot", "describe-job", "--job-id", "file-job"]);
    assert!(deleted.contains("ResourceNotFoundException"), "{deleted}");

    // Job templates: a job made from one takes its document and configurations.
    let template = aws(
        &server,
        &[
            "iot",
            "create-job-template",
            "--job-template-id",
            "fw",
            "--description",
            "Firmware",
            "--document",
            r#"{"op":"fw"}"#,
            "--timeout-config",
            "inProgressTimeoutInMinutes=9",
        ],
    );
    let template_arn = template["jobTemplateArn"].as_str().unwrap().to_owned();
    assert_eq!(
        template_arn,
        "arn:aws:iot:us-east-1:123456789012:jobtemplate/fw"
    );
    let twice = aws_refused(
        &server,
        &[
            "iot",
            "create-job-template",
            "--job-template-id",
            "fw",
            "--description",
            "again",
            "--document",
            "{}",
        ],
    );
    assert!(twice.contains("ConflictException"), "{twice}");
    create_job(
        &server,
        "from-template",
        &["--job-template-arn", &template_arn],
    );
    let job = aws(
        &server,
        &["iot", "describe-job", "--job-id", "from-template"],
    )["job"]
        .clone();
    assert_eq!(
        (job["description"].as_str(), job["jobTemplateArn"].as_str()),
        (Some("Firmware"), Some(template_arn.as_str()))
    );
    assert_eq!(job["timeoutConfig"]["inProgressTimeoutInMinutes"], 9);
    let listed = aws(&server, &["iot", "list-job-templates"]);
    assert_eq!(listed["jobTemplates"][0]["jobTemplateId"], "fw");
    assert_eq!(
        aws(
            &server,
            &["iot", "describe-job-template", "--job-template-id", "fw"]
        )["document"],
        r#"{"op":"fw"}"#
    );
    aws(
        &server,
        &["iot", "delete-job-template", "--job-template-id", "fw"],
    );
    let gone = aws_refused(
        &server,
        &["iot", "describe-job-template", "--job-template-id", "fw"],
    );
    assert!(gone.contains("ResourceNotFoundException"), "{gone}");
}

/// Starts `mosquitto_sub` on the demo device's notify-next topic, exiting after 20 s.
fn notify_next_watcher(server: &Tether) -> (Child, BufReader<ChildStdout>) {
    let mut tls = server.demo_tls_args();
    tls.extend(["-i".to_owned(), "next-watcher".to_owned()]);
    subscriber(
        &tls,
        &[
            "-v",
            "-W",
            "20",
            "-t",
            &format!("$aws/things/{THING}/jobs/notify-next"),
        ],
    )
}

#[test]
fn acknowledged_transitions_survive_sigkill_and_timers_resume_after_restart() {
    let (dir, server) = start(&["--jobs-minute", "2"]);
    create_job(&server, "durable", &["--document", "{}"]);
    create_job(
        &server,
        "timed",
        &[
            "--document",
            "{}",
            "--timeout-config",
            "inProgressTimeoutInMinutes=3",
        ],
    );
    // Transition 1, acknowledged over HTTP, then kill -9.
    let started = aws(
        &server,
        &[
            "iot-jobs-data",
            "start-next-pending-job-execution",
            "--thing-name",
            THING,
        ],
    );
    assert_eq!(started["execution"]["jobId"], "durable");
    server.kill9();
    let server = Tether::serve(tether(), dir.path(), &["--jobs-minute", "2"]).unwrap();
    let e = execution(&server, "durable");
    assert_eq!(
        (e["status"].as_str(), e["versionNumber"].as_i64()),
        (Some("IN_PROGRESS"), Some(2))
    );
    // Transition 2, then kill -9 again: the job is COMPLETED after the restart.
    aws(
        &server,
        &[
            "iot-jobs-data",
            "update-job-execution",
            "--thing-name",
            THING,
            "--job-id",
            "durable",
            "--status",
            "SUCCEEDED",
        ],
    );
    server.kill9();
    let server = Tether::serve(tether(), dir.path(), &["--jobs-minute", "2"]).unwrap();
    assert_eq!(execution(&server, "durable")["status"], "SUCCEEDED");
    assert_eq!(
        aws(&server, &["iot", "describe-job", "--job-id", "durable"])["job"]["status"],
        "COMPLETED"
    );
    // An in-progress timer of 3 (local, 2-second) minutes outlives a kill -9 and fires after it.
    aws(
        &server,
        &[
            "iot-jobs-data",
            "start-next-pending-job-execution",
            "--thing-name",
            THING,
        ],
    );
    server.kill9();
    let server = Tether::serve(tether(), dir.path(), &["--jobs-minute", "2"]).unwrap();
    let (_watcher, mut out) = notify_next_watcher(&server);
    assert_eq!(
        execution(&server, "timed")["status"],
        "IN_PROGRESS",
        "the timer has not run out yet"
    );
    read_until(
        &mut out,
        &format!("$aws/things/{THING}/jobs/notify-next {{\"timestamp\""),
    );
    let e = execution(&server, "timed");
    assert_eq!(
        (e["status"].as_str(), e["versionNumber"].as_i64()),
        (Some("TIMED_OUT"), Some(3))
    );
}

#[test]
fn tether_jobs_creates_lists_shows_watches_and_cancels() {
    let (_dir, server) = start(&[]);
    let api = crate::support::api_url(&server);
    let jobs = |args: &[&str]| {
        let mut full = vec!["jobs", "--endpoint-url", api.as_str()];
        full.extend_from_slice(args);
        run(&full)
    };
    let out = jobs(&[
        "create",
        "cli-job",
        "--thing",
        THING,
        "--document",
        r#"{"op":"blink"}"#,
        "--description",
        "Blink",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("created job cli-job for demo-device"),
        "{}",
        text(&out)
    );
    let out = jobs(&[
        "create",
        "bad",
        "--thing",
        "no-such-thing",
        "--document",
        "{}",
    ]);
    assert!(
        !out.status.success() && text(&out).contains("no-such-thing"),
        "{}",
        text(&out)
    );
    let out = jobs(&["list"]);
    assert!(
        text(&out).contains("cli-job") && text(&out).contains("IN_PROGRESS"),
        "{}",
        text(&out)
    );

    let mut watch = Command::new(tether())
        .args([
            "jobs",
            "--endpoint-url",
            &api,
            "watch",
            "cli-job",
            "--interval-ms",
            "100",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut watched = BufReader::new(watch.stdout.take().unwrap());
    read_until(&mut watched, "QUEUED 1");
    aws(
        &server,
        &[
            "iot-jobs-data",
            "start-next-pending-job-execution",
            "--thing-name",
            THING,
        ],
    );
    read_until(&mut watched, "IN_PROGRESS 1");
    aws(
        &server,
        &[
            "iot-jobs-data",
            "update-job-execution",
            "--thing-name",
            THING,
            "--job-id",
            "cli-job",
            "--status",
            "SUCCEEDED",
        ],
    );
    let last = read_until(&mut watched, "COMPLETED");
    assert!(
        last.contains("1/1 done") && last.contains("SUCCEEDED 1"),
        "{last}"
    );
    assert!(watch.wait().unwrap().success(), "every execution succeeded");

    let out = jobs(&["show", "cli-job"]);
    let shown = text(&out);
    assert!(
        shown.contains("COMPLETED")
            && shown.contains("Blink")
            && shown.contains(r#"{"op":"blink"}"#),
        "{shown}"
    );
    assert!(
        shown
            .lines()
            .any(|l| l.contains(THING) && l.contains("SUCCEEDED")),
        "{shown}"
    );

    let out = jobs(&["create", "to-cancel", "--thing", THING, "--document", "{}"]);
    assert!(out.status.success(), "{}", text(&out));
    aws(
        &server,
        &[
            "iot-jobs-data",
            "start-next-pending-job-execution",
            "--thing-name",
            THING,
        ],
    );
    let out = jobs(&[
        "cancel",
        "to-cancel",
        "--force",
        "--reason-code",
        "OPERATOR_1",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(execution(&server, "to-cancel")["forceCanceled"], true);
    let out = jobs(&["watch", "to-cancel"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a canceled execution is not a success: {}",
        text(&out)
    );
    assert!(text(&out).contains("CANCELED 1"), "{}", text(&out));
    let out = jobs(&["--json", "show", "to-cancel"]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["job"]["reasonCode"], "OPERATOR_1");
}

#[test]
fn a_continuous_group_job_reaches_things_that_join_the_group_later() {
    let (_dir, server) = start(&[]);
    let group_arn = aws(
        &server,
        &["iot", "create-thing-group", "--thing-group-name", "fleet"],
    )["thingGroupArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let api = crate::support::api_url(&server);
    let out = run(&[
        "jobs",
        "--endpoint-url",
        api.as_str(),
        "create",
        "fleet-update",
        "--group",
        "fleet",
        "--continuous",
        "--document",
        r#"{"op":"update"}"#,
    ]);
    assert!(
        out.status.success() && text(&out).contains("for thing group fleet"),
        "{}",
        text(&out)
    );
    // No thing is in the group yet: no execution, and the job waits.
    let listed = aws(
        &server,
        &[
            "iot",
            "list-job-executions-for-job",
            "--job-id",
            "fleet-update",
        ],
    );
    assert_eq!(listed["executionSummaries"], json!([]), "{listed}");

    // The device watches its next job; joining the group hands it the job.
    let mut tls = server.demo_tls_args();
    tls.extend(["-i".to_owned(), "group-watcher".to_owned()]);
    let topic = format!("$aws/things/{THING}/jobs/notify-next");
    let (mut watcher, mut lines) = subscriber(&tls, &["-v", "-W", "120", "-t", &topic]);
    aws(
        &server,
        &[
            "iot",
            "add-thing-to-thing-group",
            "--thing-group-name",
            "fleet",
            "--thing-name",
            THING,
        ],
    );
    let next = read_until(&mut lines, "fleet-update");
    assert!(next.contains(r#""status":"QUEUED""#), "{next}");
    assert_eq!(execution(&server, "fleet-update")["status"], "QUEUED");
    let by_group = aws(
        &server,
        &["iot", "list-jobs", "--thing-group-name", "fleet"],
    );
    assert_eq!(by_group["jobs"][0]["jobId"], "fleet-update", "{by_group}");
    let other = aws(&server, &["iot", "list-jobs", "--thing-group-name", "lab"]);
    assert_eq!(other["jobs"], json!([]), "{other}");

    // Leaving the group takes the pending execution away: REMOVED, and notify-next empties.
    aws(
        &server,
        &[
            "iot",
            "remove-thing-from-thing-group",
            "--thing-group-arn",
            &group_arn,
            "--thing-name",
            THING,
        ],
    );
    let emptied = read_until(&mut lines, "timestamp");
    assert!(!emptied.contains("fleet-update"), "{emptied}");
    assert_eq!(execution(&server, "fleet-update")["status"], "REMOVED");

    // AssociateTargetsWithJob adds a second group; its member gets execution number 2.
    aws(
        &server,
        &["iot", "create-thing-group", "--thing-group-name", "lab"],
    );
    aws(
        &server,
        &[
            "iot",
            "add-thing-to-thing-group",
            "--thing-group-name",
            "lab",
            "--thing-name",
            THING,
        ],
    );
    let lab_arn = group_arn.replace("thinggroup/fleet", "thinggroup/lab");
    let associated = aws(
        &server,
        &[
            "iot",
            "associate-targets-with-job",
            "--job-id",
            "fleet-update",
            "--targets",
            &lab_arn,
        ],
    );
    assert_eq!(associated["jobId"], "fleet-update", "{associated}");
    let again = read_until(&mut lines, "fleet-update");
    assert!(again.contains(r#""executionNumber":2"#), "{again}");
    let snapshot = create_job(&server, "once", &["--document", "{}"]);
    assert_eq!(snapshot["jobId"], "once");
    let refused = aws_refused(
        &server,
        &[
            "iot",
            "associate-targets-with-job",
            "--job-id",
            "once",
            "--targets",
            &lab_arn,
        ],
    );
    assert!(
        refused.contains("InvalidRequestException") && refused.contains("SNAPSHOT"),
        "{refused}"
    );
    let _ = watcher.kill();
    let _ = watcher.wait();
}
