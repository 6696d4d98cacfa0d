//! `tether serve --ephemeral`, `--ready-file` and `--exit-with-parent`, as a test suite or CI
//! script uses them: the readiness record names endpoints and files that real clients (the AWS
//! CLI, mosquitto_pub) use as they are; SIGTERM removes the data directory and the record;
//! `--keep` keeps the directory; killing the process that started the server ends it. Waits
//! are for lines, exits and EOF, each with a deadline.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use serde_json::Value;

use crate::support::{LOG_WAIT, read_until, tether, venv_bin};

/// A `tether serve` started by a test, its stdout read up to the ready line.
struct Served {
    child: Child,
    // Kept open so that the server's later prints do not fail.
    _stdout: BufReader<ChildStdout>,
    ready_line: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Served {
    let mut child = Command::new(tether())
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let ready_line = read_until(&mut stdout, "tether ready");
    Served {
        child,
        _stdout: stdout,
        ready_line,
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn path(value: &Value) -> PathBuf {
    PathBuf::from(value.as_str().unwrap())
}

/// SIGTERM, then the exit status (within the deadline).
fn terminate(served: &mut Served) -> ExitStatus {
    let pid = served.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_with_deadline(&mut served.child)
}

/// Waits for `child` to exit: a helper thread blocks in `wait`, this one waits on a channel
/// with the deadline.
fn wait_with_deadline(child: &mut Child) -> ExitStatus {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let _ = tx.send(child.wait());
        });
        match rx.recv_timeout(LOG_WAIT) {
            Ok(status) => status.unwrap(),
            Err(_) => {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                panic!("tether (pid {pid}) did not exit within {LOG_WAIT:?}");
            }
        }
    })
}

#[test]
fn the_ready_file_is_what_clients_need_and_sigterm_removes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let ready_file = dir.path().join("ready.json");
    let mut served = serve(&["--ephemeral", "--ready-file", ready_file.to_str().unwrap()]);
    let ready = read_json(&ready_file);

    assert_eq!(ready["format"], 1);
    assert_eq!(ready["pid"], served.child.id());
    assert_eq!(ready["ephemeral"], true);
    let mqtts = &ready["endpoints"]["mqtts"];
    let address = mqtts["address"].as_str().unwrap();
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    assert_ne!(mqtts["port"], 8883, "ephemeral listeners take free ports");
    assert!(served.ready_line.contains(&format!("mqtts={address}")));
    let api_url = ready["api_url"].as_str().unwrap();
    assert!(served.ready_line.contains(&format!("api={api_url}")));
    assert!(!api_url.ends_with(":4580"));
    let data_dir = path(&ready["data_dir"]);
    assert!(
        data_dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("tether-ephemeral-")
    );
    assert!(path(&ready["root_ca"]).starts_with(&data_dir));
    assert_eq!(ready["demo_device"]["thing_name"], "demo-device");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&ready_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the record may hold a secret");
    }

    // The AWS CLI with the endpoint, credential and region from the record.
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(venv_bin().join("aws"))
        .args(["iot", "describe-thing", "--thing-name", "demo-device"])
        .args(["--endpoint-url", api_url])
        .args(["--region", ready["region"].as_str().unwrap()])
        .env(
            "AWS_ACCESS_KEY_ID",
            ready["credentials"]["access_key_id"].as_str().unwrap(),
        )
        .env(
            "AWS_SECRET_ACCESS_KEY",
            ready["credentials"]["secret_access_key"].as_str().unwrap(),
        )
        .env("AWS_CONFIG_FILE", home.path().join("config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("demo-device"));

    // mosquitto_pub with the demo device's files and the host and port from the record.
    let demo = &ready["demo_device"];
    let out = Command::new("mosquitto_pub")
        .args(["--cafile", demo["root_ca"].as_str().unwrap()])
        .args(["--cert", demo["certificate"].as_str().unwrap()])
        .args(["--key", demo["private_key"].as_str().unwrap()])
        .args(["-h", mqtts["host"].as_str().unwrap()])
        .args(["-p", &mqtts["port"].to_string()])
        .args(["-i", demo["client_id"].as_str().unwrap()])
        .args(["-q", "1", "-t", "ready/file", "-m", "hello"])
        .output()
        .expect("mosquitto_pub is installed by scripts/setup");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert!(terminate(&mut served).success());
    assert!(!data_dir.exists(), "{} is left behind", data_dir.display());
    assert!(!ready_file.exists(), "the record outlived the server");
}

#[test]
fn keep_leaves_the_ephemeral_directory_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let ready_file = dir.path().join("ready.json");
    let mut served = serve(&[
        "--ephemeral",
        "--keep",
        "--ready-file",
        ready_file.to_str().unwrap(),
    ]);
    let data_dir = path(&read_json(&ready_file)["data_dir"]);
    assert!(terminate(&mut served).success());
    assert!(data_dir.join("tether.db").exists());
    std::fs::remove_dir_all(&data_dir).unwrap();
}

#[test]
fn a_ready_file_also_describes_a_server_on_its_own_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ready_file = dir.path().join("ready.json");
    let mut served = serve(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--mqtts",
        "127.0.0.1:0",
        "--api",
        "127.0.0.1:0",
        "--api-credential",
        "AKIDEXAMPLE:s3cret",
        "--ready-file",
        ready_file.to_str().unwrap(),
    ]);
    let ready = read_json(&ready_file);
    assert_eq!(ready["ephemeral"], false);
    assert_eq!(path(&ready["data_dir"]), data);
    assert_eq!(ready["credentials"]["access_key_id"], "AKIDEXAMPLE");
    assert!(terminate(&mut served).success());
    assert!(
        data.join("tether.db").exists(),
        "a named data directory stays"
    );
    assert!(!ready_file.exists());
}

#[test]
fn ephemeral_refuses_a_data_directory_and_keep_needs_ephemeral() {
    let out = crate::support::run(&["serve", "--ephemeral", "--data-dir", "/tmp/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data-dir"));
    let out = crate::support::run(&["serve", "--keep"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ephemeral"));
}

#[test]
fn an_unwritable_ready_file_stops_the_server_with_its_name() {
    let out = Command::new(tether())
        .args([
            "serve",
            "--ephemeral",
            "--ready-file",
            "/nonexistent/ready.json",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/ready.json"), "{stderr}");
}

/// Whether `pid` is gone: no /proc entry, or a zombie (it has exited; collecting its status is
/// the job of whoever adopted it, here PID 1).
#[cfg(target_os = "linux")]
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

#[cfg(target_os = "linux")]
#[test]
fn killing_the_parent_of_an_exit_with_parent_server_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let ready_file = dir.path().join("ready.json");
    // A parent process (a shell) starts the server in the background and waits; the test
    // kills the shell, as a crashed test runner dies, and the server must follow it.
    let script = format!(
        "'{}' serve --ephemeral --exit-with-parent --ready-file '{}' 2>&1 & wait",
        tether().display(),
        ready_file.display()
    );
    let mut parent = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(parent.stdout.take().unwrap());
    read_until(&mut out, "tether ready");
    let ready = read_json(&ready_file);
    let pid = u32::try_from(ready["pid"].as_u64().unwrap()).unwrap();
    let data_dir = path(&ready["data_dir"]);
    assert_ne!(
        pid,
        parent.id(),
        "the server is the shell's child, not the shell"
    );
    assert!(!exited(pid));

    parent.kill().unwrap();
    parent.wait().unwrap();

    // The server held the other end of this pipe: EOF means it has exited (or closed its
    // output on the way out). Its log, read to the end, says why it stopped.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest);
        let _ = tx.send(rest);
    });
    let log = rx.recv_timeout(LOG_WAIT).unwrap_or_else(|_| {
        panic!("tether (pid {pid}) still runs {LOG_WAIT:?} after its parent died")
    });
    assert!(log.contains("exited (--exit-with-parent)"), "{log}");
    let deadline = Instant::now() + LOG_WAIT;
    while !exited(pid) {
        assert!(
            Instant::now() < deadline,
            "tether (pid {pid}) is still alive"
        );
        std::thread::yield_now();
    }
    assert!(
        !data_dir.exists(),
        "a clean exit removes {}",
        data_dir.display()
    );
    assert!(!ready_file.exists());
}
