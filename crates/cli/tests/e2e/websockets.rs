//! MQTT over WebSockets with SigV4 and custom authorizers, end to end, with the clients people
//! use: the AWS IoT Device SDK v2's websocket builder (credentials from the environment),
//! MQTT.js under Node with a presigned URL, the same page a README reader opens, in headless
//! Chromium, `tether pub/sub --wss`, mosquitto on ALPN `mqtt` with a custom authorizer, and the
//! AWS CLI for the authorizers' control plane. Refusals (expired signature, skewed clock, wrong
//! secret, missing token, an authorizer's refusal and its timeout) are checked in the log, the
//! refusal record and `tether doctor recent`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use openssl::ssl::{SslConnector, SslMethod};
use test_support::process::Tether;

use crate::support::{
    LOG_WAIT, aws, aws_raw, read_until, run, start, stdout_stderr, subscriber, venv_bin,
};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The npm packages scripts/setup installed (`$TETHER_NODE`, else `.node`).
fn node_modules() -> PathBuf {
    let dir = std::env::var_os("TETHER_NODE").map_or_else(|| root().join(".node"), PathBuf::from);
    let modules = dir.join("node_modules");
    assert!(
        modules.join("mqtt/dist/mqtt.min.js").exists(),
        "no MQTT.js in {}: run scripts/setup (or set TETHER_NODE)",
        modules.display()
    );
    modules
}

/// A command with the development credential in the environment and no AWS configuration of
/// the machine.
fn with_dev_credential(command: &mut Command, home: &Path) {
    command
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
}

/// Runs a command to completion and insists on success, showing its output and the server's.
fn succeeds(server: &Tether, command: &mut Command, what: &str) -> String {
    let out = command.output().unwrap();
    let (stdout, stderr) = stdout_stderr(&out);
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        server.logs().join("\n")
    );
    stdout
}

/// Sends a WebSocket upgrade for `target` with `headers` to the listener `listener` and returns
/// the server's answer: up to its close for a refusal, the head alone for a 101.
fn upgrade(server: &Tether, listener: &str, target: &str, headers: &[(&str, &str)]) -> String {
    let mut builder = SslConnector::builder(SslMethod::tls_client()).unwrap();
    builder
        .set_ca_file(server.demo_file("root-ca.pem"))
        .unwrap();
    let port = server.addr(listener).port();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(LOG_WAIT)).unwrap();
    let mut tls = builder.build().connect("localhost", tcp).unwrap();
    let mut request = format!(
        "GET {target} HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: mqtt\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    tls.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tls.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
        // A switched connection stays open for MQTT: its head is the whole answer.
        if answer.starts_with(b"HTTP/1.1 101") && answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// A presigned target for the development credential with `secret`, signed at `time`.
fn presigned(
    server: &Tether,
    listener: &str,
    secret: &str,
    time: SystemTime,
    expires: u64,
) -> String {
    let host = format!("localhost:{}", server.addr(listener).port());
    let key = sigv4::SigningKey::new("test", secret, "us-east-1", "iotdevicegateway");
    sigv4::presign_url(
        &key,
        "GET",
        &host,
        "/mqtt",
        Duration::from_secs(expires),
        time,
    )
    .unwrap()
}

#[test]
fn the_aws_iot_device_sdk_websocket_builder_publishes_and_receives_at_qos_1() {
    let (_dir, server) = start(&["--wss", "127.0.0.1:0"]);
    // Lifecycle events name a SigV4 client's access key as its principal.
    let mut args = server.demo_tls_args();
    args.extend(["-i".into(), "watcher".into(), "-V".into(), "mqttv5".into()]);
    let (mut events, mut out) = subscriber(
        &args,
        &[
            "-t",
            "$aws/events/presence/connected/ws-pub",
            "-C",
            "1",
            "-W",
            "30",
        ],
    );
    let home = tempfile::tempdir().unwrap();
    let port = server.addr("wss").port().to_string();
    let mut sdk = Command::new(venv_bin().join("python"));
    sdk.arg(root().join("tests/python/websocket_sdk.py"))
        .arg(format!("localhost:{port}"))
        .arg(server.demo_file("root-ca.pem"))
        .arg("us-east-1");
    with_dev_credential(&mut sdk, home.path());
    let stdout = succeeds(&server, &mut sdk, "the awsiotsdk websocket builder");
    assert!(stdout.contains("8 checks passed"), "{stdout}");
    let event = read_until(&mut out, "principalIdentifier");
    assert!(
        event.contains("\"principalIdentifier\":\"test\""),
        "{event}"
    );
    assert!(events.wait().unwrap().success());
}

#[test]
fn mqtt_js_connects_from_node_and_from_a_page_in_headless_chromium() {
    let (_dir, server) = start(&["--https-443", "127.0.0.1:0", "--wss", "127.0.0.1:0"]);
    let modules = node_modules();
    let home = tempfile::tempdir().unwrap();

    // Node, through the port-443 listener (no ALPN: HTTP, so WebSockets).
    let mut node = Command::new("node");
    node.arg(root().join("tests/node/presigned_wss.js"))
        .arg(server.addr("https-443").to_string())
        .arg(server.demo_file("root-ca.pem"))
        .env("NODE_PATH", &modules);
    with_dev_credential(&mut node, home.path());
    let stdout = succeeds(&server, &mut node, "MQTT.js under Node");
    assert!(stdout.contains("6 checks passed"), "{stdout}");

    // The README's page, as a reader would put it together: index.html, the presigner and
    // MQTT.js's browser bundle side by side.
    let page = tempfile::tempdir().unwrap();
    for file in ["index.html", "sigv4-presign.js"] {
        std::fs::copy(
            root().join("docs/examples/browser").join(file),
            page.path().join(file),
        )
        .unwrap();
    }
    std::fs::copy(
        modules.join("mqtt/dist/mqtt.min.js"),
        page.path().join("mqtt.min.js"),
    )
    .unwrap();
    let url = format!(
        "file://{}/index.html#host=localhost:{}&topic=browser/%23&clientId=page",
        page.path().display(),
        server.addr("wss").port()
    );
    // A device publishes over mutual TLS; the page receives it over WebSockets.
    let mqtts = server.addr("mqtts");
    let mut browser = Command::new(venv_bin().join("python"));
    browser
        .arg(root().join("tests/python/browser_page.py"))
        .arg(&url)
        .arg(server.data_dir())
        .arg("--")
        .args(["mosquitto_pub", "--cafile"])
        .arg(server.demo_file("root-ca.pem"))
        .arg("--cert")
        .arg(server.demo_file("certificate.pem.crt"))
        .arg("--key")
        .arg(server.demo_file("private.pem.key"))
        .args(["-h", "localhost", "-p", &mqtts.port().to_string()])
        .args([
            "-q",
            "1",
            "-t",
            "browser/hello",
            "-m",
            "hello page",
            "-i",
            "device-1",
        ]);
    let stdout = succeeds(&server, &mut browser, "the page in headless Chromium");
    assert!(
        stdout.contains("the page shows the message: 'browser/hello: hello page'"),
        "{stdout}"
    );
}

#[test]
fn the_port_443_listener_serves_the_api_over_https_by_alpn_or_without() {
    let (_dir, server) = start(&["--https-443", "127.0.0.1:0"]);
    let port = server.addr("https-443").port();
    // The AWS CLI over HTTPS (it offers no ALPN of AWS's): the API, SigV4-verified as on --api.
    let home = tempfile::tempdir().unwrap();
    let mut cli = Command::new(venv_bin().join("aws"));
    cli.args(["--endpoint-url", &format!("https://localhost:{port}")])
        .args([
            "--region",
            "us-east-1",
            "--output",
            "json",
            "iot",
            "list-things",
        ])
        .env("AWS_CA_BUNDLE", server.demo_file("root-ca.pem"));
    with_dev_credential(&mut cli, home.path());
    let stdout = succeeds(&server, &mut cli, "aws iot list-things over port 443");
    assert!(stdout.contains("demo-device"), "{stdout}");
    // ALPN x-amzn-http-ca, as AWS's HTTPS devices offer it.
    let mut builder = SslConnector::builder(SslMethod::tls_client()).unwrap();
    builder
        .set_ca_file(server.demo_file("root-ca.pem"))
        .unwrap();
    builder.set_alpn_protos(b"\x0ex-amzn-http-ca").unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(LOG_WAIT)).unwrap();
    let mut tls = builder.build().connect("localhost", tcp).unwrap();
    assert_eq!(
        tls.ssl().selected_alpn_protocol(),
        Some(&b"x-amzn-http-ca"[..])
    );
    tls.write_all(
        b"GET /_tether/root-ca.pem HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    let _ = tls.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("BEGIN CERTIFICATE"), "{answer}");
}

#[test]
fn tether_pub_and_sub_sign_with_the_environments_credentials() {
    let (_dir, server) = start(&["--wss", "127.0.0.1:0"]);
    let home = tempfile::tempdir().unwrap();
    let port = server.addr("wss").port().to_string();
    let ca = server.demo_file("root-ca.pem").display().to_string();
    let common = [
        "--wss",
        "--cafile",
        &ca,
        "-h",
        "localhost",
        "-p",
        &port,
        "-q",
        "1",
    ];
    let mut sub = Command::new(crate::support::tether());
    sub.arg("sub")
        .args(common)
        .args([
            "-t", "cli/#", "-C", "1", "-W", "20", "-i", "cli-sub", "-V", "mqttv5", "-d",
        ])
        .stdout(std::process::Stdio::piped());
    with_dev_credential(&mut sub, home.path());
    let mut sub = sub.spawn().unwrap();
    let mut out = std::io::BufReader::new(sub.stdout.take().unwrap());
    read_until(&mut out, "received SUBACK");
    let mut publish = Command::new(crate::support::tether());
    publish
        .arg("pub")
        .args(common)
        .args(["-t", "cli/x", "-m", "over wss", "-i", "cli-pub"]);
    with_dev_credential(&mut publish, home.path());
    succeeds(&server, &mut publish, "tether pub --wss");
    read_until(&mut out, "over wss");
    assert!(sub.wait().unwrap().success());

    let mut wrong = Command::new(crate::support::tether());
    wrong
        .arg("pub")
        .args(common)
        .args(["-t", "cli/x", "-m", "x"]);
    with_dev_credential(&mut wrong, home.path());
    wrong.env("AWS_SECRET_ACCESS_KEY", "not-the-secret");
    let out = wrong.output().unwrap();
    let (_, err) = stdout_stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("HTTP 403"), "{err}");
    assert!(err.contains("does not match"), "{err}");
}

#[test]
fn bad_signatures_are_refused_with_the_skew_or_the_mismatch_named() {
    let (dir, server) = start(&["--wss", "127.0.0.1:0"]);
    let now = SystemTime::now();
    let expired = presigned(&server, "wss", "test", now - Duration::from_secs(600), 60);
    let answer = upgrade(&server, "wss", &expired, &[]);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("Signature expired"), "{answer}");
    let line = server
        .wait_for_log("(signature_expired)", LOG_WAIT)
        .unwrap();
    assert!(
        line.contains("signed 600 s ago") || line.contains("signed 601 s ago"),
        "{line}"
    );

    let skewed = presigned(&server, "wss", "test", now + Duration::from_secs(3600), 300);
    let answer = upgrade(&server, "wss", &skewed, &[]);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    let line = server
        .wait_for_log("Signature not yet current", LOG_WAIT)
        .unwrap();
    assert!(line.contains("s ahead of the server's"), "{line}");

    let wrong = presigned(&server, "wss", "not-the-secret", now, 300);
    let answer = upgrade(&server, "wss", &wrong, &[]);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    let line = server
        .wait_for_log("(signature_mismatch)", LOG_WAIT)
        .unwrap();
    assert!(line.contains("InvalidSignatureException"), "{line}");

    let good = presigned(&server, "wss", "test", now, 300);
    let answer = upgrade(&server, "wss", &good.replacen("/mqtt", "/other", 1), &[]);
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");

    let recent = run(&[
        "doctor",
        "recent",
        "--data-dir",
        &dir.path().display().to_string(),
    ]);
    let (text, _) = stdout_stderr(&recent);
    // Listing refusals is what was asked: the doctor exits 0, as for TLS refusals.
    assert_eq!(recent.status.code(), Some(0), "{text}");
    for words in [
        "signature_expired",
        "signature_mismatch",
        "set the client's clock (NTP)",
        "check the secret key",
    ] {
        assert!(text.contains(words), "{words} missing from:\n{text}");
    }
}

/// An RSA key for token signing: the private key and the PEM public key.
fn token_key() -> (PKey<openssl::pkey::Private>, String) {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let public = String::from_utf8(key.public_key_to_pem().unwrap()).unwrap();
    (key, public)
}

/// base64(RSA-SHA256(token)), URL-encoded as the AWS IoT Device SDKs send it.
fn sign_token(key: &PKey<openssl::pkey::Private>, token: &str) -> String {
    let mut signer = Signer::new(MessageDigest::sha256(), key).unwrap();
    signer.update(token.as_bytes()).unwrap();
    let signature = openssl::base64::encode_block(&signer.sign_to_vec().unwrap());
    signature
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[test]
fn custom_authorizers_admit_refuse_and_time_out_as_aws_describes() {
    let config_dir = tempfile::tempdir().unwrap();
    let events = config_dir.path().join("events.jsonl");
    let config = config_dir.path().join("tether.toml");
    let python = venv_bin().join("python");
    std::fs::write(
        &config,
        format!(
            "authorizer-timeout-ms = 1000\n\
             [[authorizer-functions]]\n\
             function = \"arn:aws:lambda:us-east-1:123456789012:function:token-auth\"\n\
             command = [\"env\", \"TETHER_AUTHORIZER_EVENTS={}\", \"{}\", \"{}\"]\n\
             [[authorizer-functions]]\n\
             function = \"slow-auth\"\n\
             command = [\"sleep\", \"5\"]\n",
            events.display(),
            python.display(),
            root().join("tests/python/authorizer.py").display()
        ),
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let (dir, server) = start(&[
        "--config",
        &config_arg,
        "--https-443",
        "127.0.0.1:0",
        "--wss",
        "127.0.0.1:0",
    ]);
    let (key, public) = token_key();
    let keys = format!("k1={public}");
    aws(
        &server,
        &[
            "iot",
            "create-authorizer",
            "--authorizer-name",
            "signed",
            "--authorizer-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:token-auth",
            "--token-key-name",
            "tok",
            "--token-signing-public-keys",
            &keys,
        ],
    );
    aws(
        &server,
        &[
            "iot",
            "create-authorizer",
            "--authorizer-name",
            "slow",
            "--authorizer-function-arn",
            "slow-auth",
            "--signing-disabled",
        ],
    );
    let listed = aws(&server, &["iot", "list-authorizers"]);
    assert_eq!(
        listed["authorizers"].as_array().unwrap().len(),
        2,
        "{listed}"
    );
    let described = aws(
        &server,
        &["iot", "describe-authorizer", "--authorizer-name", "signed"],
    );
    assert_eq!(described["authorizerDescription"]["tokenKeyName"], "tok");
    let tested = aws(
        &server,
        &[
            "iot",
            "test-invoke-authorizer",
            "--authorizer-name",
            "signed",
            "--token",
            "allow-bob",
            "--token-signature",
            &openssl::base64::encode_block(&{
                let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
                s.update(b"allow-bob").unwrap();
                s.sign_to_vec().unwrap()
            }),
        ],
    );
    assert_eq!(tested["isAuthenticated"], true, "{tested}");
    assert_eq!(tested["principalId"], "bob");

    // MQTT with ALPN mqtt: the token and signature in the user name, as AWS documents it.
    let port = server.addr("https-443").port().to_string();
    let ca = server.demo_file("root-ca.pem").display().to_string();
    let username = |token: &str| {
        format!(
            "dev?x-amz-customauthorizer-name=signed&x-amz-customauthorizer-signature={}&tok={token}",
            sign_token(&key, token)
        )
    };
    let mqtt = |user: &str, topic: &str, id: &str| {
        Command::new("mosquitto_pub")
            .args([
                "--cafile",
                &ca,
                "-h",
                "localhost",
                "-p",
                &port,
                "--tls-alpn",
                "mqtt",
            ])
            .args([
                "-u", user, "-P", "secret", "-i", id, "-t", topic, "-m", "hi", "-q", "1",
            ])
            .args(["-V", "mqttv5"])
            .output()
            .unwrap()
    };
    let allowed = mqtt(&username("allow-alice"), "custom/a", "alice-1");
    assert!(
        allowed.status.success(),
        "{:?}\n{}",
        stdout_stderr(&allowed),
        server.logs().join("\n")
    );
    let event = std::fs::read_to_string(&events).unwrap();
    assert!(event.contains("\"signatureVerified\": true"), "{event}");
    assert!(event.contains("\"clientId\": \"alice-1\""), "{event}");
    assert!(event.contains("\"password\": \"c2VjcmV0\""), "{event}");
    // The policy it returned allows custom/* only.
    mqtt(&username("allow-alice"), "other/a", "alice-2");
    let line = server
        .wait_for_log(
            "the policies authorizer signed returned for principal alice",
            LOG_WAIT,
        )
        .unwrap();
    assert!(line.contains("IMPLICIT_DENY iot:Publish"), "{line}");
    assert!(line.contains("topic/other/a"), "{line}");
    let denied = mqtt(&username("deny"), "custom/a", "eve");
    let (_, err) = stdout_stderr(&denied);
    assert!(!denied.status.success());
    assert!(err.contains("Bad User Name or Password"), "{err}");
    server
        .wait_for_log("(authorizer_denied)", LOG_WAIT)
        .unwrap();

    // The AWS IoT Device SDK's builders: over WebSockets and over ALPN mqtt, the credentials
    // in the CONNECT's user name.
    let signature = openssl::base64::encode_block(&{
        let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
        s.update(b"allow-sdk").unwrap();
        s.sign_to_vec().unwrap()
    });
    let mut sdk = Command::new(&python);
    sdk.arg(root().join("tests/python/custom_auth_sdk.py"))
        .arg(format!("localhost:{}", server.addr("wss").port()))
        .arg(format!("localhost:{port}"))
        .arg(&ca)
        .args(["signed", "tok", "allow-sdk", &signature]);
    let stdout = succeeds(
        &server,
        &mut sdk,
        "the awsiotsdk custom-authorizer builders",
    );
    assert!(stdout.contains("6 checks passed"), "{stdout}");

    // Over WebSockets, the credentials in the upgrade's headers.
    let answer = upgrade(
        &server,
        "wss",
        "/mqtt",
        &[("x-amz-customauthorizer-name", "signed")],
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    let line = server
        .wait_for_log("(authorizer_token_missing)", LOG_WAIT)
        .unwrap();
    assert!(line.contains("no token tok"), "{line}");
    let signature = sign_token(&key, "deny")
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    let answer = upgrade(
        &server,
        "wss",
        "/mqtt",
        &[
            ("x-amz-customauthorizer-name", "signed"),
            ("tok", "deny"),
            ("x-amz-customauthorizer-signature", &signature),
        ],
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    let answer = upgrade(
        &server,
        "wss",
        "/mqtt",
        &[
            ("x-amz-customauthorizer-name", "signed"),
            ("tok", "allow-mallory"),
            ("x-amz-customauthorizer-signature", &signature),
        ],
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    server
        .wait_for_log("(authorizer_token_signature)", LOG_WAIT)
        .unwrap();
    let allowed_signature = sign_token(&key, "allow-carol")
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    let answer = upgrade(
        &server,
        "wss",
        "/mqtt?x-amz-customauthorizer-name=signed&tok=allow-carol",
        &[("x-amz-customauthorizer-signature", &allowed_signature)],
    );
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("sec-websocket-protocol: mqtt"),
        "{answer}"
    );

    let started = std::time::Instant::now();
    let answer = upgrade(
        &server,
        "wss",
        "/mqtt",
        &[("x-amz-customauthorizer-name", "slow")],
    );
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let line = server
        .wait_for_log("(authorizer_timeout)", LOG_WAIT)
        .unwrap();
    assert!(line.contains("within 1000 ms"), "{line}");

    let recent = run(&[
        "doctor",
        "recent",
        "--data-dir",
        &dir.path().display().to_string(),
    ]);
    let (text, _) = stdout_stderr(&recent);
    for kind in [
        "authorizer_denied",
        "authorizer_token_missing",
        "authorizer_token_signature",
        "authorizer_timeout",
    ] {
        assert!(text.contains(kind), "{kind} missing from:\n{text}");
    }
    let refused = aws_raw(
        &server,
        "test",
        &["iot", "delete-authorizer", "--authorizer-name", "signed"],
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("DeleteConflictException"));

    // The default authorizer answers a CONNECT that names none.
    aws(
        &server,
        &[
            "iot",
            "set-default-authorizer",
            "--authorizer-name",
            "signed",
        ],
    );
    let default = aws(&server, &["iot", "describe-default-authorizer"]);
    assert_eq!(default["authorizerDescription"]["authorizerName"], "signed");
    let unnamed = format!(
        "dev?x-amz-customauthorizer-signature={}&tok=allow-dora",
        sign_token(&key, "allow-dora")
    );
    let allowed = mqtt(&unnamed, "custom/d", "dora");
    assert!(allowed.status.success(), "{:?}", stdout_stderr(&allowed));
    aws(&server, &["iot", "clear-default-authorizer"]);
    let refused = mqtt(&unnamed, "custom/d", "dora");
    assert!(!refused.status.success());
    server
        .wait_for_log("(missing_credentials)", LOG_WAIT)
        .unwrap();
    aws(
        &server,
        &[
            "iot",
            "update-authorizer",
            "--authorizer-name",
            "slow",
            "--status",
            "INACTIVE",
        ],
    );
    aws(
        &server,
        &["iot", "delete-authorizer", "--authorizer-name", "slow"],
    );
    let listed = aws(&server, &["iot", "list-authorizers"]);
    assert_eq!(
        listed["authorizers"].as_array().unwrap().len(),
        1,
        "{listed}"
    );
}
