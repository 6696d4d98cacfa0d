//! End-to-end tests of the AWS-compatible API with the real clients: the AWS CLI v1 and boto3
//! from the test venv (scripts/setup creates it; `$TETHER_VENV` or `<repo>/.venv`), pointed at
//! `tether serve` with `--endpoint-url`, provisioning a device that `mosquitto_pub` then
//! connects with; and `tether device`, which makes the same signed calls. No test skips when a
//! client is missing: it fails and says to run scripts/setup.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use test_support::process::Tether;

use crate::support::{
    LOG_WAIT, api_url, aws, aws_raw, mosquitto_pub, read_until, start, tether, text, venv_bin,
};

#[test]
fn an_aws_cli_provisioning_script_provisions_a_device_that_mosquitto_pub_connects_with() {
    let (dir, server) = start(&[]);
    let endpoint = aws(
        &server,
        &[
            "iot",
            "describe-endpoint",
            "--endpoint-type",
            "iot:Data-ATS",
        ],
    );
    let host = endpoint["endpointAddress"].as_str().unwrap().to_owned();
    assert_eq!(host, "localhost");

    let thing = aws(
        &server,
        &["iot", "create-thing", "--thing-name", "sensor-1"],
    );
    assert_eq!(
        thing["thingArn"],
        "arn:aws:iot:us-east-1:123456789012:thing/sensor-1"
    );
    let keys = aws(
        &server,
        &["iot", "create-keys-and-certificate", "--set-as-active"],
    );
    let cert_arn = keys["certificateArn"].as_str().unwrap();
    let cert_id = keys["certificateId"].as_str().unwrap();
    assert!(cert_arn.ends_with(&format!(":cert/{cert_id}")));
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect","iot:Publish"],"Resource":"*"}]}"#;
    aws(
        &server,
        &[
            "iot",
            "create-policy",
            "--policy-name",
            "sensor-policy",
            "--policy-document",
            policy,
        ],
    );
    aws(
        &server,
        &[
            "iot",
            "attach-policy",
            "--policy-name",
            "sensor-policy",
            "--target",
            cert_arn,
        ],
    );
    aws(
        &server,
        &[
            "iot",
            "attach-thing-principal",
            "--thing-name",
            "sensor-1",
            "--principal",
            cert_arn,
        ],
    );
    let principals = aws(
        &server,
        &["iot", "list-thing-principals", "--thing-name", "sensor-1"],
    );
    assert_eq!(principals["principals"][0], cert_arn);
    let described = aws(
        &server,
        &["iot", "describe-certificate", "--certificate-id", cert_id],
    );
    assert_eq!(described["certificateDescription"]["status"], "ACTIVE");

    // The files a provisioning script writes, then the seed-style mosquitto_pub command.
    let cert = dir.path().join("sensor-1.cert.pem");
    let key = dir.path().join("sensor-1.private.key");
    std::fs::write(&cert, keys["certificatePem"].as_str().unwrap()).unwrap();
    std::fs::write(&key, keys["keyPair"]["PrivateKey"].as_str().unwrap()).unwrap();
    let port = server.addr("mqtts").port().to_string();
    let args: Vec<String> = [
        "--cafile",
        &server.demo_file("root-ca.pem").display().to_string(),
        "--cert",
        &cert.display().to_string(),
        "--key",
        &key.display().to_string(),
        "-h",
        &host,
        "-p",
        &port,
        "-q",
        "1",
        "-d",
        "-t",
        "sensors/sensor-1",
        "-i",
        "sensor-1",
        "-m",
        "hello world",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let out = mosquitto_pub(&args, &[]);
    let log = text(&out);
    assert!(out.status.success(), "mosquitto_pub failed: {log}");
    assert!(log.contains("received CONNACK (0)"), "{log}");
    assert!(log.contains("received PUBACK"), "{log}");

    // The same certificate, made INACTIVE through the API, no longer connects.
    aws(
        &server,
        &[
            "iot",
            "update-certificate",
            "--certificate-id",
            cert_id,
            "--new-status",
            "INACTIVE",
        ],
    );
    let refused = mosquitto_pub(&args, &[]);
    assert!(!refused.status.success(), "{}", text(&refused));
    server
        .wait_for_log(&cert_id[..10], LOG_WAIT)
        .expect("the refusal names the certificate");
}

#[test]
fn the_aws_cli_gets_aws_error_shapes() {
    let (_dir, server) = start(&[]);
    let wrong = aws_raw(&server, "not-the-secret", &["iot", "list-things"]);
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("(InvalidSignatureException)"),
        "a wrong secret: {stderr}"
    );
    let missing = aws_raw(
        &server,
        "test",
        &["iot", "describe-thing", "--thing-name", "nope"],
    );
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("(ResourceNotFoundException)"), "{stderr}");
    let bad = aws_raw(
        &server,
        "test",
        &[
            "iot",
            "create-policy",
            "--policy-name",
            "p",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect"}]}"#,
        ],
    );
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("(MalformedPolicyException)"), "{stderr}");
    assert!(
        stderr.contains("Statement[0]"),
        "the message names the statement: {stderr}"
    );
}

#[test]
fn boto3_drives_registry_pagination_data_plane_and_errors() {
    let (dir, server) = start(&[]);
    let work = dir.path().join("boto3");
    std::fs::create_dir_all(&work).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/boto3_flow.py");
    let out = Command::new(venv_bin().join("python"))
        .arg(&script)
        .arg(api_url(&server))
        .arg(server.addr("mqtts").to_string())
        .arg(&work)
        .env("AWS_CONFIG_FILE", work.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", work.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("the venv's python runs");
    let log = text(&out);
    assert!(
        out.status.success(),
        "boto3 flow failed:\n{log}\nserver log:\n{}",
        server.logs().join("\n")
    );
    assert!(log.contains("boto3 flow: 29 checks passed"), "{log}");
}

#[test]
fn boto3_drives_the_rest_of_the_registry_with_awss_shapes_and_errors() {
    let (dir, server) = start(&[]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/registry_ops.py");
    let out = Command::new(venv_bin().join("python"))
        .arg(&script)
        .arg(api_url(&server))
        .arg(dir.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("the venv's python runs");
    let log = text(&out);
    assert!(
        out.status.success(),
        "registry_ops.py failed:\n{log}\nserver log:\n{}",
        server.logs().join("\n")
    );
    assert!(log.contains("checks passed"), "{log}");
}

#[test]
fn certificates_of_a_registered_ca_and_without_ca_are_registered_and_connect() {
    let (dir, server) = start(&[]);
    let path = |name: &str| dir.path().join(name);
    let write = |name: &str, pem: Vec<u8>| {
        std::fs::write(path(name), pem).unwrap();
        format!("file://{}", path(name).display())
    };
    let validity = pki::Validity::days_from_now(30);
    let ca = pki::CertificateAuthority::generate("fleet CA", pki::KeyAlgorithm::Rsa2048, validity)
        .unwrap();
    let code = aws(&server, &["iot", "get-registration-code"]);
    let code = code["registrationCode"].as_str().unwrap();
    assert_eq!(code.len(), 64);
    let verification_key = pki::generate_key(pki::KeyAlgorithm::EcP256).unwrap();
    let verification = ca.issue_client(code, &verification_key, validity).unwrap();
    let ca_file = write("ca.pem", pki::certificate_pem(ca.certificate()).unwrap());
    let verification_file = write(
        "verification.pem",
        pki::certificate_pem(&verification).unwrap(),
    );
    let registered = aws(
        &server,
        &[
            "iot",
            "register-ca-certificate",
            "--ca-certificate",
            &ca_file,
            "--verification-certificate",
            &verification_file,
            "--set-as-active",
        ],
    );
    let ca_id = registered["certificateId"].as_str().unwrap();
    let described = aws(
        &server,
        &["iot", "describe-ca-certificate", "--certificate-id", ca_id],
    );
    assert_eq!(described["certificateDescription"]["status"], "ACTIVE");

    // A device certificate of that CA: RegisterCertificate finds the CA itself.
    let key = pki::generate_key(pki::KeyAlgorithm::EcP256).unwrap();
    let device_cert = ca.issue_client("fleet-1", &key, validity).unwrap();
    let cert_file = write("fleet-1.pem", pki::certificate_pem(&device_cert).unwrap());
    write(
        "fleet-1.key",
        pki::private_key_pem(&key, pki::traditional_format(&key)).unwrap(),
    );
    let device = aws(
        &server,
        &[
            "iot",
            "register-certificate",
            "--certificate-pem",
            &cert_file,
            "--set-as-active",
        ],
    );
    let cert_arn = device["certificateArn"].as_str().unwrap();
    let described = aws(
        &server,
        &[
            "iot",
            "describe-certificate",
            "--certificate-id",
            device["certificateId"].as_str().unwrap(),
        ],
    );
    assert_eq!(
        described["certificateDescription"]["caCertificateId"],
        ca_id
    );
    aws(
        &server,
        &[
            "iot",
            "attach-policy",
            "--policy-name",
            "tether-dev-allow-all",
            "--target",
            cert_arn,
        ],
    );
    let port = server.addr("mqtts").port().to_string();
    let args: Vec<String> = [
        "--cafile",
        &server.demo_file("root-ca.pem").display().to_string(),
        "--cert",
        &path("fleet-1.pem").display().to_string(),
        "--key",
        &path("fleet-1.key").display().to_string(),
        "-h",
        "localhost",
        "-p",
        &port,
        "-q",
        "1",
        "-d",
        "-t",
        "fleet/1",
        "-i",
        "fleet-1",
        "-m",
        "registered",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let out = mosquitto_pub(&args, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("received PUBACK"), "{}", text(&out));

    // A certificate of an unregistered CA: refused by RegisterCertificate, accepted without CA.
    let other =
        pki::CertificateAuthority::generate("other CA", pki::KeyAlgorithm::EcP256, validity)
            .unwrap();
    let stray = other.issue_client("stray", &key, validity).unwrap();
    let stray_file = write("stray.pem", pki::certificate_pem(&stray).unwrap());
    let refused = aws_raw(
        &server,
        "test",
        &[
            "iot",
            "register-certificate",
            "--certificate-pem",
            &stray_file,
        ],
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("(CertificateValidationException)"),
        "{stderr}"
    );
    let without = aws(
        &server,
        &[
            "iot",
            "register-certificate-without-ca",
            "--certificate-pem",
            &stray_file,
            "--status",
            "ACTIVE",
        ],
    );
    let described = aws(
        &server,
        &[
            "iot",
            "describe-certificate",
            "--certificate-id",
            without["certificateId"].as_str().unwrap(),
        ],
    );
    assert_eq!(
        described["certificateDescription"]["certificateMode"],
        "SNI_ONLY"
    );
    let again = aws_raw(
        &server,
        "test",
        &[
            "iot",
            "register-certificate-without-ca",
            "--certificate-pem",
            &stray_file,
        ],
    );
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("(ResourceAlreadyExistsException)"),
        "{stderr}"
    );
}

/// `tether device …` against the server; returns stdout, asserting success.
fn device(server: &Tether, args: &[&str]) -> String {
    let out = Command::new(tether())
        .arg("device")
        .args(["--endpoint-url", &api_url(server)])
        .args(["--data-dir", &server.data_dir().display().to_string()])
        .args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_IOT")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tether device {} failed: {}",
        args.join(" "),
        text(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn sh(command: &str) -> Output {
    Command::new("sh").args(["-c", command]).output().unwrap()
}

#[test]
fn tether_device_creates_devices_whose_printed_commands_work_and_revokes_them() {
    let (_dir, server) = start(&[]);
    for (name, key_type) in [("dev-rsa", "rsa2048"), ("dev-ec", "ec-p256")] {
        let created: Value = serde_json::from_str(&device(
            &server,
            &[
                "create",
                name,
                "--key-type",
                key_type,
                "--policy",
                "tether-dev-allow-all",
                "--json",
            ],
        ))
        .unwrap();
        let key = PathBuf::from(created["files"]["privateKey"].as_str().unwrap());
        assert_eq!(
            key,
            server
                .data_dir()
                .join("devices")
                .join(name)
                .join("private.pem.key")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let command = created["commands"]["mosquitto_pub"].as_str().unwrap();
        let out = sh(command);
        assert!(out.status.success(), "{command}\n{}", text(&out));
        assert!(text(&out).contains("received PUBACK"), "{}", text(&out));
        // The printed `tether pub` command too, with this build's tether first on PATH.
        let command = created["commands"]["tether_pub"].as_str().unwrap();
        let path = format!(
            "{}:{}",
            tether().parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("sh")
            .args(["-c", command])
            .env("PATH", path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{command}\n{}", text(&out));
    }
    let listed = device(&server, &["list"]);
    assert!(
        listed.contains("dev-rsa") && listed.contains("dev-ec"),
        "{listed}"
    );
    let refused = Command::new(tether())
        .args([
            "device",
            "--endpoint-url",
            &api_url(&server),
            "create",
            "dev-x",
        ])
        .args(["--policy", "no-such-policy", "--out"])
        .arg(server.data_dir().join("x"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("ResourceNotFoundException"),
        "{}",
        text(&refused)
    );
    assert!(
        !device(&server, &["list"]).contains("dev-x"),
        "nothing was created"
    );
    let shown = device(&server, &["show", "dev-ec"]);
    assert!(
        shown.contains("ACTIVE") && shown.contains("tether-dev-allow-all"),
        "{shown}"
    );

    // A live subscriber of dev-rsa is cut when the device is revoked.
    let files = server.data_dir().join("devices/dev-rsa");
    let port = server.addr("mqtts").port().to_string();
    let mut sub = Command::new("stdbuf")
        .args(["-oL", "mosquitto_sub", "-d", "-h", "localhost", "-p", &port])
        .arg("--cafile")
        .arg(files.join("root-ca.pem"))
        .arg("--cert")
        .arg(files.join("certificate.pem.crt"))
        .arg("--key")
        .arg(files.join("private.pem.key"))
        .args(["-i", "dev-rsa", "-t", "devices/dev-rsa/in", "-q", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_sub is installed by scripts/setup");
    let mut out = BufReader::new(sub.stdout.take().unwrap());
    // A watchdog, not a synchronisation: if the subscriber is never cut, kill it so the read
    // below ends (and fails) instead of hanging.
    let (done, watchdog) = std::sync::mpsc::channel::<()>();
    let pid = sub.id().to_string();
    let guard = std::thread::spawn(move || {
        if watchdog.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = Command::new("kill").arg(&pid).status();
        }
    });
    read_until(&mut out, "received SUBACK");
    let revoked = device(&server, &["revoke", "dev-rsa"]);
    assert!(revoked.contains("Revoked certificate"), "{revoked}");
    // The broker closes the live connection: mosquitto_sub reports it and tries to reconnect
    // (which the broker refuses).
    read_until(&mut out, "sending CONNECT");
    done.send(()).unwrap();
    guard.join().unwrap();
    let _ = sub.kill();
    let _ = sub.wait();

    device(&server, &["delete", "dev-rsa"]);
    let listed = device(&server, &["list"]);
    assert!(
        !listed.contains("dev-rsa") && listed.contains("dev-ec"),
        "{listed}"
    );
}

/// Runs `tether device …` and returns the whole output, whatever the exit code.
fn device_raw(server: &Tether, args: &[&str]) -> Output {
    Command::new(tether())
        .arg("device")
        .args(["--endpoint-url", &api_url(server)])
        .args(["--data-dir", &server.data_dir().display().to_string()])
        .args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap()
}

/// The line of `text` that starts (after indentation) with `prefix`.
fn line_starting<'t>(text: &'t str, prefix: &str) -> &'t str {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{text}"))
}

#[test]
fn a_device_without_a_policy_is_told_a_fix_that_works_and_existing_things_are_named() {
    let (_dir, server) = start(&[]);
    let created = device(&server, &["create", "nopol"]);
    assert!(created.contains("Created thing nopol"), "{created}");
    assert!(created.contains("No policy is attached"), "{created}");
    let files = server.data_dir().join("devices/nopol");
    let connect = |id: &str| {
        let port = server.addr("mqtts").port().to_string();
        Command::new("mosquitto_pub")
            .args([
                "-h",
                "localhost",
                "-p",
                &port,
                "-i",
                id,
                "-t",
                "t",
                "-m",
                "x",
            ])
            .arg("--cafile")
            .arg(files.join("root-ca.pem"))
            .arg("--cert")
            .arg(files.join("certificate.pem.crt"))
            .arg("--key")
            .arg(files.join("private.pem.key"))
            .output()
            .unwrap()
    };
    // Refused (CONNACK 5) until a policy allows it.
    assert_eq!(connect("nopol").status.code(), Some(5));

    // Running create again, as the old advice said, is refused and says what to run instead.
    for again in [
        vec!["create", "nopol"],
        vec!["create", "nopol", "--policy", "tether-dev-allow-all"],
    ] {
        let out = device_raw(&server, &again);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let said = text(&out);
        assert!(!said.contains("Created thing"), "{said}");
        assert!(said.contains("thing nopol already exists"), "{said}");
        assert!(said.contains("attach-policy nopol --policy"), "{said}");
    }

    // The printed fix, run as printed, lets the device connect.
    let fix = line_starting(&created, "tether device ");
    assert!(fix.contains("attach-policy nopol"), "{fix}");
    let path = format!(
        "{}:{}",
        tether().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .args(["-c", fix])
        .env("PATH", &path)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{fix}\n{}", text(&out));
    assert!(
        text(&out).contains("Attached policy tether-dev-allow-all"),
        "{}",
        text(&out)
    );
    let published = connect("nopol");
    assert!(published.status.success(), "{}", text(&published));

    // The AWS CLI form of the fix works as printed too (with the README's credentials).
    let other = device(&server, &["create", "nopol-aws"]);
    let fix = line_starting(&other, "aws ");
    let path = format!(
        "{}:{}",
        venv_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let home = tempfile::tempdir().unwrap();
    let out = Command::new("sh")
        .args(["-c", fix])
        .env("PATH", &path)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{fix}\n{}", text(&out));
    let shown = device(&server, &["show", "nopol-aws"]);
    assert!(shown.contains("tether-dev-allow-all"), "{shown}");

    // A thing made elsewhere is named as existing, not as created.
    aws(
        &server,
        &["iot", "create-thing", "--thing-name", "made-by-aws"],
    );
    let out = device(
        &server,
        &["create", "made-by-aws", "--policy", "tether-dev-allow-all"],
    );
    assert!(
        out.contains("Thing made-by-aws already existed; created a new ACTIVE certificate"),
        "{out}"
    );
}
