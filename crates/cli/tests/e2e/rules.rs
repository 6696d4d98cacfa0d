//! The rules engine end to end with the clients users run: the AWS CLI creates rules from a
//! payload file, mosquitto_pub publishes and mosquitto_sub hears the republish (WHERE filters,
//! `${topic(2)}` renders, the rule survives a restart); boto3 drives the rest of the control
//! plane with AWS's errors (tests/python/rules_api.py); an HTTP action posts to a receiver of
//! the test's own after its destination is confirmed through the `enableUrl` and through
//! ConfirmTopicRuleDestination; Basic Ingest never reaches a subscriber; failing and
//! not-executed actions reach the errorAction, the log and `/metrics`. `tether rules test` needs
//! no server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc::{Receiver, channel};

use serde_json::{Value, json};
use test_support::process::Tether;

use crate::support::{
    LOG_WAIT, aws, aws_raw, mosquitto_pub, run, start, subscriber, tether, text, venv_bin,
};

/// `aws iot create-topic-rule --rule-name NAME --topic-rule-payload file://…`.
fn create_rule(server: &Tether, name: &str, payload: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rule.json");
    std::fs::write(&file, payload.to_string()).unwrap();
    aws(
        server,
        &[
            "iot",
            "create-topic-rule",
            "--rule-name",
            name,
            "--topic-rule-payload",
            &format!("file://{}", file.display()),
        ],
    );
}

/// mosquitto_pub with the demo device, client id `id`.
fn publish(server: &Tether, id: &str, topic: &str, payload: &str) {
    let mut args = server.demo_tls_args();
    args.extend(["-i".to_owned(), id.to_owned()]);
    let out = mosquitto_pub(&args, &["-q", "1", "-t", topic, "-m", payload]);
    assert!(out.status.success(), "mosquitto_pub: {}", text(&out));
}

/// mosquitto_sub -v on `filters` with the demo device.
fn listen(
    server: &Tether,
    id: &str,
    filters: &[&str],
) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut args = server.demo_tls_args();
    args.extend(["-i".to_owned(), id.to_owned(), "-v".to_owned()]);
    let mut extra = Vec::new();
    for f in filters {
        extra.extend(["-t", f]);
    }
    subscriber(&args, &extra)
}

/// The next `topic payload` line of a `-v -d` subscriber (its debug lines skipped).
fn next_line(out: &mut impl BufRead) -> String {
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the subscriber ended"
        );
        if !line.starts_with("Client ") && !line.starts_with("Subscribed (") {
            return line;
        }
    }
}

#[test]
fn the_aws_cli_creates_a_rule_that_filters_and_republishes_to_a_templated_topic() {
    let dir = tempfile::tempdir().unwrap();
    let server = Tether::serve(tether(), dir.path(), &[]).unwrap();
    create_rule(
        &server,
        "hot_sensors",
        &json!({
            "sql": "SELECT temp, topic(2) AS device, clientid() AS client FROM 'sensors/+/data' WHERE temp > 30",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"republish": {"topic": "alerts/${topic(2)}", "qos": 1,
                "roleArn": "arn:aws:iam::123456789012:role/republish"}}],
        }),
    );
    let (mut sub, mut out) = listen(&server, "alert-watcher", &["alerts/#"]);
    publish(&server, "sensor-7", "sensors/d7/data", r#"{"temp": 20}"#);
    publish(&server, "sensor-7", "sensors/d7/other", r#"{"temp": 99}"#);
    publish(&server, "sensor-7", "sensors/d7/data", r#"{"temp": 35}"#);
    let line = next_line(&mut out);
    let (topic, payload) = line.trim_end().split_once(' ').unwrap();
    assert_eq!(topic, "alerts/d7", "{line}");
    assert_eq!(
        serde_json::from_str::<Value>(payload).unwrap(),
        json!({"temp": 35, "device": "d7", "client": "sensor-7"}),
        "the cold reading and the other topic must not have fired"
    );
    let _ = sub.kill();
    server.terminate().unwrap();

    // The rule is in the store: after a restart it is listed and still fires.
    let server = Tether::serve(tether(), dir.path(), &[]).unwrap();
    let listed = aws(&server, &["iot", "list-topic-rules"]);
    assert_eq!(listed["rules"][0]["ruleName"], "hot_sensors");
    assert_eq!(listed["rules"][0]["topicPattern"], "sensors/+/data");
    let (mut sub, mut out) = listen(&server, "alert-watcher-2", &["alerts/#"]);
    publish(&server, "sensor-8", "sensors/d8/data", r#"{"temp": 40}"#);
    assert!(next_line(&mut out).starts_with("alerts/d8 "));
    let _ = sub.kill();
}

#[test]
fn boto3_drives_the_topic_rule_api_with_awss_errors() {
    let (_dir, server) = start(&[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/rules_api.py");
    let out = Command::new(venv_bin().join("python"))
        .arg(&script)
        .arg(crate::support::api_url(&server))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rules_api.py failed:\n{}\nserver log:\n{}",
        text(&out),
        server.logs().join("\n")
    );
    assert!(text(&out).contains("checks passed"), "{}", text(&out));
}

/// One request the receiver got.
#[derive(Debug)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP receiver on 127.0.0.1:0: answers 500 to paths containing `/fail`, else 200, and
/// hands every request to the test.
fn receiver() -> (SocketAddr, Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                if let Some(request) = read_request(&stream) {
                    let status = if request.path.contains("/fail") {
                        "500 Internal Server Error"
                    } else {
                        "200 OK"
                    };
                    let mut s = &stream;
                    let _ = write!(
                        s,
                        "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = tx.send(request);
                }
            });
        }
    });
    (addr, rx)
}

fn read_request(stream: &TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(LOG_WAIT)).ok()?;
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    let path = first.split_whitespace().nth(1)?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        path,
        headers,
        body,
    })
}

fn wait(rx: &Receiver<Received>) -> Received {
    rx.recv_timeout(LOG_WAIT)
        .expect("the receiver got a request")
}

/// `GET path` on `addr` without a signature; the status line.
fn http_get(addr: &str, path: &str) -> String {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(LOG_WAIT)).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn an_http_action_posts_to_a_confirmed_destination_with_templated_url_and_headers() {
    let (_dir, server) = start(&[]);
    let (addr, requests) = receiver();
    let base = format!("http://{addr}");

    // A destination created through the API is confirmed by browsing to its enableUrl.
    let created = aws(
        &server,
        &[
            "iot",
            "create-topic-rule-destination",
            "--destination-configuration",
            &json!({"httpUrlConfiguration": {"confirmationUrl": format!("{base}/hook")}})
                .to_string(),
        ],
    );
    let arn = created["topicRuleDestination"]["arn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created["topicRuleDestination"]["status"], "IN_PROGRESS");
    let confirmation = wait(&requests);
    assert_eq!(
        confirmation.header("x-amz-rules-engine-message-type"),
        Some("DestinationConfirmation")
    );
    assert_eq!(
        confirmation.header("x-amz-rules-engine-destination-arn"),
        Some(arn.as_str())
    );
    let body: Value = serde_json::from_slice(&confirmation.body).unwrap();
    let token = body["confirmationToken"].as_str().unwrap();
    assert_eq!(
        confirmation.path,
        format!("/hook/?confirmationToken={token}")
    );
    let enable_url = body["enableUrl"].as_str().unwrap();
    let (host, path) = enable_url
        .strip_prefix("http://")
        .unwrap()
        .split_once('/')
        .unwrap();
    let answer = http_get(host, &format!("/{path}"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let got = aws(
        &server,
        &["iot", "get-topic-rule-destination", "--arn", &arn],
    );
    assert_eq!(got["topicRuleDestination"]["status"], "ENABLED");

    // A second one, for the failing endpoint, is confirmed with ConfirmTopicRuleDestination.
    aws(
        &server,
        &[
            "iot",
            "create-topic-rule-destination",
            "--destination-configuration",
            &json!({"httpUrlConfiguration": {"confirmationUrl": format!("{base}/fail")}})
                .to_string(),
        ],
    );
    let body: Value = serde_json::from_slice(&wait(&requests).body).unwrap();
    let token = body["confirmationToken"].as_str().unwrap();
    aws(
        &server,
        &[
            "iot",
            "confirm-topic-rule-destination",
            "--confirmation-token",
            token,
        ],
    );

    create_rule(
        &server,
        "to_web",
        &json!({
            "sql": "SELECT * FROM 'telemetry/+'",
            "awsIotSqlVersion": "2016-03-23",
            "actions": [{"http": {"url": format!("{base}/hook/${{topic(2)}}"),
                "confirmationUrl": format!("{base}/hook"),
                "headers": [{"key": "x-device", "value": "${clientid()}"}]}}],
        }),
    );
    publish(&server, "meter-3", "telemetry/m3", r#"{"kwh": 12.5}"#);
    let post = wait(&requests);
    assert_eq!(post.path, "/hook/m3");
    assert_eq!(post.header("x-device"), Some("meter-3"));
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&post.body).unwrap(),
        json!({"kwh": 12.5})
    );

    // An endpoint that answers 500 is tried three times, then the errorAction hears of it.
    create_rule(
        &server,
        "to_failing_web",
        &json!({
            "sql": "SELECT * FROM 'failing/+'",
            "actions": [{"http": {"url": format!("{base}/fail")}}],
            "errorAction": {"republish": {"topic": "rule-errors/${topic(2)}", "roleArn": "r"}},
        }),
    );
    let (mut sub, mut out) = listen(&server, "error-watcher", &["rule-errors/#"]);
    publish(&server, "meter-4", "failing/m4", r#"{"kwh": 1}"#);
    for _ in 0..3 {
        assert_eq!(wait(&requests).path, "/fail");
    }
    let line = next_line(&mut out);
    let (topic, payload) = line.trim_end().split_once(' ').unwrap();
    assert_eq!(topic, "rule-errors/m4");
    let error: Value = serde_json::from_str(payload).unwrap();
    assert_eq!(error["ruleName"], "to_failing_web");
    assert_eq!(error["topic"], "failing/m4");
    assert_eq!(error["clientId"], "meter-4");
    assert_eq!(error["failures"][0]["failedAction"], "HttpAction");
    let message = error["failures"][0]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("HTTP 500") && message.contains("3 tries"),
        "{message}"
    );
    let _ = sub.kill();
}

#[test]
fn basic_ingest_reaches_its_rule_and_no_subscriber() {
    let (_dir, server) = start(&[]);
    create_rule(
        &server,
        "ingest",
        &json!({"sql": "SELECT *, topic() AS t FROM 'ingest/unused'",
            "actions": [{"republish": {"topic": "ingested/out", "roleArn": "r"}}]}),
    );
    let (mut sub, mut out) = listen(&server, "everything", &["#", "$aws/rules/#"]);
    publish(&server, "dev-1", "$aws/rules/ingest/site/9", r#"{"v": 1}"#);
    publish(&server, "dev-1", "plain/after", "done");
    let first = next_line(&mut out);
    assert!(first.starts_with("ingested/out "), "{first}");
    let republished: Value =
        serde_json::from_str(first.trim_end().split_once(' ').unwrap().1).unwrap();
    assert_eq!(republished, json!({"v": 1, "t": "site/9"}));
    let second = next_line(&mut out);
    assert!(
        second.starts_with("plain/after"),
        "the Basic Ingest publish reached a subscriber: {second}"
    );
    let _ = sub.kill();
}

#[test]
fn an_action_tether_does_not_run_is_reported_as_not_executed() {
    let (_dir, server) = start(&[]);
    create_rule(
        &server,
        "to_dynamo",
        &json!({"sql": "SELECT * FROM 'readings/#'",
            "actions": [{"dynamoDBv2": {"roleArn": "arn:aws:iam::123456789012:role/r",
                "putItem": {"tableName": "Readings"}}}],
            "errorAction": {"republish": {"topic": "rule-errors", "roleArn": "r"}}}),
    );
    let (mut sub, mut out) = listen(&server, "error-watcher", &["rule-errors"]);
    publish(&server, "dev-2", "readings/1", r#"{"t": 1}"#);
    let line = next_line(&mut out);
    let error: Value = serde_json::from_str(line.trim_end().split_once(' ').unwrap().1).unwrap();
    assert_eq!(error["failures"][0]["failedAction"], "DynamoDBv2Action");
    assert_eq!(error["failures"][0]["failedResource"], "Readings");
    let message = error["failures"][0]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("not executed") && message.contains("[rules.lambda]"),
        "{message}"
    );
    server.wait_for_log("NOT EXECUTED", LOG_WAIT).unwrap();
    // The worker counts its batch after logging it: read until the count shows.
    let api = server.addr("api").to_string();
    let deadline = std::time::Instant::now() + LOG_WAIT;
    let mut metrics = http_get(&api, "/metrics");
    while !metrics.contains("tether_rules_actions_not_executed_total 1")
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
        metrics = http_get(&api, "/metrics");
    }
    assert!(
        metrics.contains("tether_rules_actions_not_executed_total 1"),
        "{metrics}"
    );
    let _ = sub.kill();
}

#[test]
fn sql_that_does_not_parse_is_refused_by_the_aws_cli_with_its_position() {
    let (_dir, server) = start(&[]);
    let out = aws_raw(
        &server,
        "test",
        &[
            "iot",
            "create-topic-rule",
            "--rule-name",
            "bad",
            "--topic-rule-payload",
            r#"{"sql": "SELECT temp FRM 'a'", "actions": []}"#,
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SqlParseException") && stderr.contains("line 1, column"),
        "{stderr}"
    );
}

#[test]
fn rules_test_evaluates_a_statement_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let payload = dir.path().join("reading.json");
    std::fs::write(&payload, r#"{"temp": 41, "unit": "C"}"#).unwrap();
    let sql = "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30";
    let payload_arg = payload.display().to_string();
    let fired = run(&[
        "rules",
        "test",
        "--sql",
        sql,
        "--topic",
        "sensors/d1/data",
        "--payload",
        &payload_arg,
    ]);
    assert!(fired.status.success(), "{}", text(&fired));
    let output: Value = serde_json::from_slice(&fired.stdout).unwrap();
    assert_eq!(output, json!({"temp": 41, "device": "d1"}));
    let missed = run(&[
        "rules",
        "test",
        "--sql",
        sql,
        "--topic",
        "sensors/d1/status",
        "--payload",
        &payload_arg,
    ]);
    assert_eq!(missed.status.code(), Some(1));
    assert!(
        text(&missed).contains("does not match"),
        "{}",
        text(&missed)
    );
}

#[test]
fn rules_list_and_show_read_a_running_server() {
    let (_dir, server) = start(&[]);
    create_rule(
        &server,
        "shown",
        &json!({"sql": "SELECT * FROM 'x/#'", "actions": [{"republish": {"topic": "y", "roleArn": "r"}}]}),
    );
    let api = crate::support::api_url(&server);
    let listed = run(&["rules", "--endpoint-url", &api, "list"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["rules"][0]["ruleName"], "shown");
    let shown = run(&["rules", "--endpoint-url", &api, "show", "shown"]);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown["rule"]["sql"], "SELECT * FROM 'x/#'");
}

#[test]
fn a_lambda_action_reaches_its_local_target_and_an_unmapped_one_is_not_executed() {
    let (addr, requests) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tether.toml");
    std::fs::write(
        &config,
        format!("[rules.lambda]\nprocess_reading = {{ url = \"http://{addr}/invoke\" }}\n"),
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let (_data, server) = start(&["--config", &config_arg]);
    create_rule(
        &server,
        "to_lambda",
        &json!({"sql": "SELECT temp * 2 AS doubled FROM 'lambda/in'",
            "actions": [
                {"lambda": {"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:process_reading"}},
                {"lambda": {"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:unmapped"}},
            ],
            "errorAction": {"republish": {"topic": "rule-errors", "roleArn": "r"}}}),
    );
    let (mut sub, mut out) = listen(&server, "error-watcher", &["rule-errors"]);
    publish(&server, "dev-5", "lambda/in", r#"{"temp": 21}"#);
    let invoked = wait(&requests);
    assert_eq!(invoked.path, "/invoke");
    assert_eq!(
        serde_json::from_slice::<Value>(&invoked.body).unwrap(),
        json!({"doubled": 42})
    );
    let line = next_line(&mut out);
    let error: Value = serde_json::from_str(line.trim_end().split_once(' ').unwrap().1).unwrap();
    assert_eq!(error["failures"].as_array().unwrap().len(), 1, "{error}");
    assert_eq!(error["failures"][0]["failedAction"], "LambdaAction");
    let message = error["failures"][0]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("not executed") && message.contains("unmapped"),
        "{message}"
    );
    let _ = sub.kill();
}
