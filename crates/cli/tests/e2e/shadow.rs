//! Device Shadow end to end with the clients users run: the AWS IoT Device SDK v2 shadow client
//! (awsiotsdk's IotShadowClientV2 over MQTT 5 with mutual TLS), paho-mqtt on the raw topics for
//! every refusal, and the AWS CLI's `iot-data` shadow commands, whose writes a device hears on
//! its notification topics. Shadows survive `kill -9` once acknowledged.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::support::{aws, aws_raw, read_until, start, subscriber, text, venv_bin};

/// Runs `tests/python/SCRIPT` with the demo device's credentials; fails with its output.
fn python(server: &test_support::process::Tether, script: &str, extra: &[&str]) -> Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/python")
        .join(script);
    let out = Command::new(venv_bin().join("python"))
        .arg(&path)
        .arg(format!("localhost:{}", server.addr("mqtts").port()))
        .arg(server.demo_file("certificate.pem.crt"))
        .arg(server.demo_file("private.pem.key"))
        .arg(server.demo_file("root-ca.pem"))
        .args(extra)
        .output()
        .expect("the venv's python runs");
    assert!(
        out.status.success(),
        "{script} failed:\n{}\nserver log:\n{}",
        text(&out),
        server.logs().join("\n")
    );
    out
}

#[test]
fn the_aws_iot_device_sdk_shadow_client_works_unchanged() {
    let (_dir, server) = start(&[]);
    let out = python(&server, "shadow_sdk.py", &["demo-device"]);
    assert!(text(&out).contains("checks passed"), "{}", text(&out));
}

#[test]
fn every_shadow_refusal_carries_awss_code_and_message() {
    let (_dir, server) = start(&[]);
    let out = python(&server, "shadow_errors.py", &[]);
    assert!(text(&out).contains("checks passed"), "{}", text(&out));
}

/// `aws iot-data …-thing-shadow` writes its answer to a file; returns it as JSON.
fn shadow_call(server: &test_support::process::Tether, args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let answer = dir.path().join("answer.json");
    let mut full: Vec<&str> = vec!["iot-data"];
    full.extend_from_slice(args);
    let answer_arg = answer.display().to_string();
    full.push(&answer_arg);
    aws(server, &full);
    serde_json::from_slice(&std::fs::read(&answer).unwrap()).unwrap()
}

#[test]
fn the_aws_cli_drives_shadows_and_devices_hear_about_it() {
    let (_dir, server) = start(&[]);
    let mut tls = server.demo_tls_args();
    tls.extend(["-i".to_owned(), "lamp-watcher".to_owned()]);
    let (_watcher, mut out) = subscriber(&tls, &["-v", "-t", "$aws/things/lamp/shadow/#"]);

    let update = json!({"state": {"desired": {"color": "red"}}, "clientToken": "cli-1"});
    let accepted = shadow_call(
        &server,
        &[
            "update-thing-shadow",
            "--thing-name",
            "lamp",
            "--payload",
            &update.to_string(),
        ],
    );
    assert_eq!(accepted["state"], json!({"desired": {"color": "red"}}));
    assert_eq!(accepted["version"], 1);
    assert_eq!(accepted["clientToken"], "cli-1");
    // A device subscribed to its shadow hears a back end's HTTP update.
    let seen = read_until(&mut out, "$aws/things/lamp/shadow/update/documents");
    assert!(
        seen.contains("$aws/things/lamp/shadow/update/accepted"),
        "{seen}"
    );
    assert!(
        seen.contains(r#"$aws/things/lamp/shadow/update/delta {"#),
        "{seen}"
    );

    shadow_call(
        &server,
        &[
            "update-thing-shadow",
            "--thing-name",
            "lamp",
            "--shadow-name",
            "config",
            "--payload",
            r#"{"state":{"reported":{"mode":"eco"}}}"#,
        ],
    );
    let got = shadow_call(&server, &["get-thing-shadow", "--thing-name", "lamp"]);
    assert_eq!(got["state"]["delta"], json!({"color": "red"}));
    assert!(
        got["metadata"]["desired"]["color"]["timestamp"].is_i64(),
        "{got}"
    );
    let named = shadow_call(
        &server,
        &[
            "get-thing-shadow",
            "--thing-name",
            "lamp",
            "--shadow-name",
            "config",
        ],
    );
    assert_eq!(named["state"]["reported"], json!({"mode": "eco"}));
    let list = aws(
        &server,
        &[
            "iot-data",
            "list-named-shadows-for-thing",
            "--thing-name",
            "lamp",
        ],
    );
    assert_eq!(list["results"], json!(["config"]), "{list}");
    let none = aws(
        &server,
        &[
            "iot-data",
            "list-named-shadows-for-thing",
            "--thing-name",
            "no-such-thing",
        ],
    );
    assert_eq!(
        none["results"],
        json!([]),
        "an unknown thing lists nothing: {none}"
    );

    let deleted = shadow_call(&server, &["delete-thing-shadow", "--thing-name", "lamp"]);
    assert_eq!(deleted["version"], 1);
    read_until(&mut out, "$aws/things/lamp/shadow/delete/accepted");
    let dir = tempfile::tempdir().unwrap();
    let answer = dir.path().join("a.json").display().to_string();
    let missing = aws_raw(
        &server,
        "test",
        &[
            "iot-data",
            "get-thing-shadow",
            "--thing-name",
            "lamp",
            &answer,
        ],
    );
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("ResourceNotFoundException")
            && stderr.contains("No shadow exists with name: 'lamp'"),
        "{stderr}"
    );
    let conflict = aws_raw(
        &server,
        "test",
        &[
            "iot-data",
            "update-thing-shadow",
            "--thing-name",
            "lamp",
            "--shadow-name",
            "config",
            "--payload",
            r#"{"state":{"reported":{"mode":"x"}},"version":9}"#,
            &answer,
        ],
    );
    let stderr = String::from_utf8_lossy(&conflict.stderr);
    assert!(
        stderr.contains("ConflictException") && stderr.contains("Version conflict"),
        "{stderr}"
    );
}

#[test]
fn an_accepted_shadow_update_survives_sigkill() {
    let (dir, server) = start(&[]);
    let accepted = shadow_call(
        &server,
        &[
            "update-thing-shadow",
            "--thing-name",
            "boiler",
            "--payload",
            r#"{"state":{"reported":{"temp":61}}}"#,
        ],
    );
    assert_eq!(accepted["version"], 1);
    server.kill9();
    let server =
        test_support::process::Tether::serve(crate::support::tether(), dir.path(), &[]).unwrap();
    let got = shadow_call(&server, &["get-thing-shadow", "--thing-name", "boiler"]);
    assert_eq!(got["state"]["reported"], json!({"temp": 61}));
    assert_eq!(got["version"], 1);
}

#[test]
fn tether_shadow_reads_writes_and_watches_a_shadow() {
    let (_dir, server) = start(&[]);
    let api = crate::support::api_url(&server);
    let data_dir = server.data_dir().display().to_string();
    let shadow = |args: &[&str]| {
        let out = Command::new(crate::support::tether())
            .arg("shadow")
            .args(args)
            .args(["--endpoint-url", &api])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tether shadow {args:?}: {}",
            text(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let accepted: Value = serde_json::from_str(&shadow(&[
        "update",
        "heater",
        "--reported",
        r#"{"on":false}"#,
    ]))
    .unwrap();
    assert_eq!(accepted["state"]["reported"], json!({"on": false}));

    let mut watch = Command::new(crate::support::tether())
        .args([
            "shadow",
            "get",
            "heater",
            "--watch",
            "--data-dir",
            &data_dir,
        ])
        .args(["--endpoint-url", &api])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(watch.stderr.take().unwrap());
    read_until(
        &mut stderr,
        "watching $aws/things/heater/shadow/update/delta",
    );
    shadow(&["update", "heater", "--desired", r#"{"on":true}"#]);
    let mut stdout = std::io::BufReader::new(watch.stdout.take().unwrap());
    let seen = read_until(&mut stdout, "delta: ");
    assert!(seen.contains(r#""version":2"#), "{seen}");
    let seen = read_until(&mut stdout, "documents: ");
    assert!(seen.contains(r#""previous""#), "{seen}");
    watch.kill().unwrap();
    let _ = watch.wait();

    let listed: Value = serde_json::from_str(&shadow(&["list", "heater"])).unwrap();
    assert_eq!(listed["results"], json!([]));
    let deleted: Value = serde_json::from_str(&shadow(&["delete", "heater"])).unwrap();
    assert_eq!(deleted["version"], 2);
}
