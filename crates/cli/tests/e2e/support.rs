//! Helpers shared by the end-to-end tests: the built `tether` binary, `tether serve` on port-0
//! listeners, running the binary to completion, output as text, waiting for a line, the
//! mosquitto clients, the AWS CLI and Python from the test venv, and a real mosquitto broker
//! (`support/mosquitto.rs`). They start, run and
//! read; what a test asserts stays in the test.

pub mod mosquitto;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslStream};
use serde_json::Value;
use test_support::process::Tether;

/// How long a test waits for a log line or a packet it expects.
pub const LOG_WAIT: Duration = Duration::from_secs(10);

/// The `tether` binary cargo built for these tests.
pub fn tether() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_tether"))
}

/// Starts `tether serve ARGS…` on port-0 listeners with a fresh data directory, which lives as
/// long as the returned `TempDir`.
pub fn start(args: &[&str]) -> (tempfile::TempDir, Tether) {
    let dir = tempfile::tempdir().unwrap();
    let server = Tether::serve(tether(), dir.path(), args).unwrap();
    (dir, server)
}

/// Runs `tether ARGS…` to completion, with nothing on its standard input.
pub fn run(args: &[impl AsRef<OsStr>]) -> Output {
    Command::new(tether()).args(args).output().unwrap()
}

/// Runs `tether ARGS…` to completion with `stdin` as its standard input.
pub fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(tether())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// Bytes as text, invalid UTF-8 replaced.
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Standard output and standard error, each as text.
pub fn stdout_stderr(output: &Output) -> (String, String) {
    (lossy(&output.stdout), lossy(&output.stderr))
}

/// Standard output followed by standard error, as one text.
pub fn text(output: &Output) -> String {
    let (stdout, stderr) = stdout_stderr(output);
    stdout + &stderr
}

pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// Reads lines until one contains `needle`; returns everything read.
pub fn read_until(out: &mut impl BufRead, needle: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = out.read_line(&mut line).unwrap();
        assert!(n > 0, "stream ended before {needle:?}; got:\n{seen}");
        seen.push_str(&line);
        if line.contains(needle) {
            return seen;
        }
    }
}

/// Runs `mosquitto_pub ARGS… EXTRA…` to completion.
pub fn mosquitto_pub(args: &[String], extra: &[&str]) -> Output {
    Command::new("mosquitto_pub")
        .args(args)
        .args(extra)
        .output()
        .expect("mosquitto_pub is installed by scripts/setup")
}

/// Runs `mosquitto_sub ARGS… EXTRA…` to completion.
pub fn mosquitto_sub(args: &[String], extra: &[&str]) -> Output {
    Command::new("mosquitto_sub")
        .args(args)
        .args(extra)
        .output()
        .expect("mosquitto_sub is installed by scripts/setup")
}

/// The venv's bin directory; fails (does not skip) when scripts/setup has not made it.
pub fn venv_bin() -> PathBuf {
    let venv = std::env::var_os("TETHER_VENV").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"),
        PathBuf::from,
    );
    let bin = venv.join("bin");
    assert!(
        bin.join("python").exists() && bin.join("aws").exists(),
        "no Python venv with boto3 and the AWS CLI at {}: run scripts/setup (or set TETHER_VENV)",
        venv.display()
    );
    bin
}

pub fn api_url(server: &Tether) -> String {
    server.ready_value("api").unwrap().to_owned()
}

/// Runs `aws --endpoint-url API --region us-east-1 ARGS…` with the dev credential (or
/// `secret`), isolated from any AWS configuration of the machine.
pub fn aws_raw(server: &Tether, secret: &str, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(venv_bin().join("aws"))
        .args(["--endpoint-url", &api_url(server), "--region", "us-east-1"])
        .args(["--output", "json"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .expect("the AWS CLI in the venv runs")
}

/// `aws …` that must succeed; its JSON output (`{}` when it prints nothing).
pub fn aws(server: &Tether, args: &[&str]) -> Value {
    let out = aws_raw(server, "test", args);
    assert!(
        out.status.success(),
        "aws {} failed: {}\nserver log:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr),
        server.logs().join("\n")
    );
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Value::Object(serde_json::Map::new());
    }
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Starts mosquitto_sub with -d and waits until it has its SUBACK. `stdbuf -oL` makes its
/// stdout line-buffered, or the SUBACK line would only arrive when it exits.
pub fn subscriber(args: &[String], extra: &[&str]) -> (Child, BufReader<ChildStdout>) {
    let mut child = Command::new("stdbuf")
        .args(["-oL", "mosquitto_sub"])
        .args(args)
        .args(["-d"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_sub is installed by scripts/setup");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    read_until(&mut out, "received SUBACK");
    (child, out)
}

/// An OpenSSL client set up with the demo device's credentials and the server's CA.
pub fn demo_connector(server: &Tether) -> openssl::ssl::SslConnectorBuilder {
    let mut builder = SslConnector::builder(SslMethod::tls_client()).unwrap();
    builder
        .set_ca_file(server.demo_file("root-ca.pem"))
        .unwrap();
    builder
        .set_certificate_chain_file(server.demo_file("certificate.pem.crt"))
        .unwrap();
    builder
        .set_private_key_file(server.demo_file("private.pem.key"), SslFiletype::PEM)
        .unwrap();
    builder
}

/// A blocking TLS connection with the demo device's credentials.
pub fn demo_tls(server: &Tether) -> SslStream<TcpStream> {
    let connector = demo_connector(server).build();
    let tcp = TcpStream::connect(server.addr("mqtts")).unwrap();
    tcp.set_read_timeout(Some(LOG_WAIT)).unwrap();
    connector.connect("localhost", tcp).unwrap()
}

/// Reads one MQTT packet; `None` when the server closed the connection.
pub fn read_packet(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut first = [0u8; 1];
    if stream.read_exact(&mut first).is_err() {
        return None;
    }
    let mut packet = vec![first[0]];
    let mut len = 0usize;
    for shift in 0..4 {
        let mut b = [0u8; 1];
        stream.read_exact(&mut b).ok()?;
        packet.push(b[0]);
        len |= usize::from(b[0] & 0x7F) << (7 * shift);
        if b[0] & 0x80 == 0 {
            break;
        }
    }
    let start = packet.len();
    packet.resize(start + len, 0);
    stream.read_exact(&mut packet[start..]).ok()?;
    Some(packet)
}

/// A long-running subscriber (tether sub or mosquitto_sub through stdbuf) whose stdout is
/// read line by line; it has already received its SUBACK when this returns.
pub struct Subscriber {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Subscriber {
    pub fn tether(args: &[String]) -> Subscriber {
        let mut command = Command::new(tether());
        command.arg("sub").args(args).arg("-d");
        Subscriber::start(command, "Subscribed (mid:")
    }

    pub fn mosquitto(args: &[String]) -> Subscriber {
        let mut command = Command::new("stdbuf");
        command.args(["-oL", "mosquitto_sub"]).args(args).arg("-d");
        Subscriber::start(command, "received SUBACK")
    }

    pub fn start(command: Command, ready: &str) -> Subscriber {
        Subscriber::start_reading(command, ready).0
    }

    /// As [`Subscriber::start`], also returning what it read up to the ready line.
    pub fn start_reading(mut command: Command, ready: &str) -> (Subscriber, String) {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut sub = Subscriber { child, out };
        let seen = sub.read_until(ready);
        (sub, seen)
    }

    /// Reads lines until one contains `needle`; returns everything read.
    pub fn read_until(&mut self, needle: &str) -> String {
        let mut seen = String::new();
        loop {
            let mut line = String::new();
            if self.out.read_line(&mut line).unwrap() == 0 {
                let mut err = String::new();
                if let Some(mut stderr) = self.child.stderr.take() {
                    std::io::Read::read_to_string(&mut stderr, &mut err).unwrap();
                }
                panic!("subscriber ended before {needle:?}; stdout:\n{seen}\nstderr:\n{err}");
            }
            seen.push_str(&line);
            if line.contains(needle) {
                return seen;
            }
        }
    }

    /// Waits for the exit; returns the exit code and the rest of stdout and stderr.
    pub fn finish(mut self) -> (Option<i32>, String, String) {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.out, &mut rest).unwrap();
        let mut err = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            std::io::Read::read_to_string(&mut stderr, &mut err).unwrap();
        }
        let status = self.child.wait().unwrap();
        (status.code(), rest, err)
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A device certificate and key written to `dir`, valid from `not_before` to `not_after` (Unix
/// seconds): issued by the server's own CA (data dir `ca/`), or by a CA nobody registered.
pub struct DatedDevice {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub id: String,
}

impl DatedDevice {
    pub fn issue(
        server: &Tether,
        dir: &Path,
        name: &str,
        by_server_ca: bool,
        (not_before, not_after): (i64, i64),
    ) -> DatedDevice {
        let ca = if by_server_ca {
            let root = server.data_dir().join("ca");
            let cert = pki::load_certificate(
                &std::fs::read(root.join("root-ca.pem")).unwrap(),
                "root-ca.pem",
            )
            .unwrap();
            let key = pki::load_private_key(
                &std::fs::read(root.join("root-ca.key")).unwrap(),
                "root-ca.key",
            )
            .unwrap();
            pki::CertificateAuthority::from_parts(cert.certificate, key.key).unwrap()
        } else {
            pki::CertificateAuthority::generate(
                "nobody's CA",
                pki::KeyAlgorithm::EcP256,
                pki::Validity::days_from_now(1),
            )
            .unwrap()
        };
        let key = pki::generate_key(pki::KeyAlgorithm::EcP256).unwrap();
        let validity = pki::Validity {
            not_before,
            not_after,
        };
        let cert = ca.issue_client(name, &key, validity).unwrap();
        let cert_path = dir.join(format!("{name}.crt"));
        let key_path = dir.join(format!("{name}.key"));
        pki::write_public_file(&cert_path, &pki::certificate_pem(&cert).unwrap()).unwrap();
        pki::write_private_key(
            &key_path,
            &pki::private_key_pem(&key, pki::KeyFormat::Pkcs8).unwrap(),
        )
        .unwrap();
        DatedDevice {
            cert: cert_path,
            key: key_path,
            id: pki::CertificateId::of(&cert).unwrap().as_str().to_owned(),
        }
    }

    /// The server's mutual-TLS flags with this certificate and key in place of the demo's.
    pub fn args(&self, server: &Tether) -> Vec<String> {
        let mut args = server.demo_tls_args();
        args[3] = self.cert.display().to_string();
        args[5] = self.key.display().to_string();
        args
    }
}

/// `base` followed by `extra`.
pub fn with(base: &[String], extra: &[&str]) -> Vec<String> {
    let mut args = base.to_vec();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

/// Runs `tether sub BASE… EXTRA…` to completion.
pub fn tether_sub(base: &[String], extra: &[&str]) -> Output {
    let mut args = vec!["sub".to_owned()];
    args.extend(with(base, extra));
    run(&args)
}

/// Runs `tether pub BASE… EXTRA…` to completion.
pub fn tether_pub(base: &[String], extra: &[&str]) -> Output {
    let mut args = vec!["pub".to_owned()];
    args.extend(with(base, extra));
    run(&args)
}

/// tether's exit code against mosquitto's for a TLS failure whose code mosquitto picks by
/// timing: it exits 1 ("Protocol error", "Unable to connect (A TLS error occurred.)") when the
/// failure happens while it is still in its connect call, and 7 ("The connection was lost") or
/// 8 ("A TLS error occurred.") when it happens in its network loop. tether's must be `code`,
/// mosquitto's usual answer; mosquitto's must be `code` or `other` in each of up to five runs,
/// which stop at the first `code`. On a busy machine mosquitto may also still be writing when
/// the close arrives and report the write's error ("Broken pipe", "Connection reset by peer")
/// with its errno exit code: the same close seen at a third moment, counted as `other`.
/// Returns tether's stderr.
pub fn agree_racy(ours: &Output, code: i32, other: i32, theirs: impl Fn() -> Output) -> String {
    for _ in 0..5 {
        let out = theirs();
        let got = out.status.code();
        let said = text(&out);
        let write_failed =
            said.contains("Error: Broken pipe") || said.contains("Error: Connection reset by peer");
        assert!(
            got == Some(code) || got == Some(other) || (got.is_some() && write_failed),
            "mosquitto: {said}"
        );
        if got == Some(code) {
            break;
        }
    }
    assert_eq!(ours.status.code(), Some(code), "tether: {}", text(ours));
    lossy(&ours.stderr)
}

/// Runs `tests/python/SCRIPT ARGS…`; fails with its output and the server's log.
pub fn python(server: &Tether, script: &str, args: &[String]) -> Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/python")
        .join(script);
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(venv_bin().join("python"))
        .arg(&path)
        .args(args)
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
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
