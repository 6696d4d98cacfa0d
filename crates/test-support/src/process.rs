//! Starting the real `tether` binary for end-to-end tests: spawn `tether serve` with port-0
//! listeners, wait for its ready line on stdout (never a sleep), collect its log lines from
//! stderr so tests can wait for a specific explanation, and stop it with SIGTERM or SIGKILL.
//! The child is killed when the handle drops, so a failing test leaves no broker behind.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long a broker may take to print its ready line (first start generates RSA keys).
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `tether serve`.
#[derive(Debug)]
pub struct Tether {
    child: Child,
    ready: HashMap<String, String>,
    logs: Arc<(Mutex<Vec<String>>, Condvar)>,
    data_dir: PathBuf,
}

impl Tether {
    /// Starts `bin serve --data-dir DATA_DIR --mqtts 127.0.0.1:0 --api 127.0.0.1:0 ARGS…` and
    /// waits for its ready line. Later flags in `args` override the defaults.
    pub fn serve(bin: &Path, data_dir: &Path, args: &[&str]) -> Result<Tether, String> {
        Tether::serve_with_env(bin, data_dir, args, &[])
    }

    /// [`Tether::serve`] with `env` added to the server's environment (e.g. the AWS credentials
    /// a SigV4 bridge signs with).
    pub fn serve_with_env(
        bin: &Path,
        data_dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Tether, String> {
        let mut command = Command::new(bin);
        command.envs(env.iter().copied());
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--mqtts", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if !args.contains(&"--api") && !args.contains(&"--no-api") {
            command.args(["--api", "127.0.0.1:0"]);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let logs: Arc<(Mutex<Vec<String>>, Condvar)> = Arc::default();
        if let Some(stderr) = child.stderr.take() {
            let logs = Arc::clone(&logs);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let (lines, changed) = &*logs;
                    if let Ok(mut lines) = lines.lock() {
                        lines.push(strip_ansi(&line));
                    }
                    changed.notify_all();
                }
            });
        }
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut sent = false;
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if !sent && line.starts_with("tether ready") {
                        sent = ready_tx.send(line).is_ok();
                    }
                }
            });
        }
        let mut tether = Tether {
            child,
            ready: HashMap::new(),
            logs,
            data_dir: data_dir.to_owned(),
        };
        let line = ready_rx.recv_timeout(READY_TIMEOUT).map_err(|_| {
            format!(
                "tether serve printed no ready line within {} s; its log:\n{}",
                READY_TIMEOUT.as_secs(),
                tether.logs().join("\n")
            )
        })?;
        tether.ready = parse_ready(&line);
        Ok(tether)
    }

    /// A `key=value` of the ready line, e.g. `mqtts` or `api`.
    pub fn ready_value(&self, key: &str) -> Option<&str> {
        self.ready.get(key).map(String::as_str)
    }

    /// The address of a listener named in the ready line (`mqtts`, `mqtt`, `mqtts-alpn`).
    pub fn addr(&self, key: &str) -> SocketAddr {
        self.ready_value(key)
            .and_then(|v| v.trim_start_matches("http://").parse().ok())
            .unwrap_or_else(|| ([127, 0, 0, 1], 0).into())
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The demo device's file `name` (certificate.pem.crt, private.pem.key, root-ca.pem).
    pub fn demo_file(&self, name: &str) -> PathBuf {
        self.data_dir.join("devices/demo-device").join(name)
    }

    /// mosquitto_pub/mosquitto_sub (and `tether pub`/`sub`) flags that connect the demo device
    /// to the mutual-TLS listener: `--cafile --cert --key -h -p`.
    pub fn demo_tls_args(&self) -> Vec<String> {
        let addr = self.addr("mqtts");
        let file = |name: &str| self.demo_file(name).display().to_string();
        vec![
            "--cafile".into(),
            file("root-ca.pem"),
            "--cert".into(),
            file("certificate.pem.crt"),
            "--key".into(),
            file("private.pem.key"),
            "-h".into(),
            addr.ip().to_string(),
            "-p".into(),
            addr.port().to_string(),
        ]
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.0.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits until a log line contains `needle` and returns it.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        let (lines, changed) = &*self.logs;
        let mut guard = lines.lock().map_err(|_| "log lock poisoned".to_owned())?;
        loop {
            if let Some(line) = guard.iter().find(|l| l.contains(needle)) {
                return Ok(line.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "no log line containing {needle:?} within {} s; the log:\n{}",
                    timeout.as_secs(),
                    guard.join("\n")
                ));
            }
            guard = changed
                .wait_timeout(guard, deadline - now)
                .map_err(|_| "log lock poisoned".to_owned())?
                .0;
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(mut self) -> Result<ExitStatus, String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map_err(|e| format!("cannot run kill: {e}"))?;
        if !status.success() {
            return Err("kill -TERM failed".to_owned());
        }
        self.child.wait().map_err(|e| e.to_string())
    }

    /// Sends SIGTERM and waits at most `deadline` for the process to exit; past it, kills it
    /// and says so.
    pub fn terminate_within(mut self, deadline: Duration) -> Result<ExitStatus, String> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map_err(|e| format!("cannot run kill: {e}"))?;
        if !status.success() {
            return Err("kill -TERM failed".to_owned());
        }
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok(status);
            }
            if started.elapsed() > deadline {
                return Err(format!("still running {deadline:?} after SIGTERM"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process with SIGKILL (no chance to flush anything) and reaps it.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Tether {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_ready(line: &str) -> HashMap<String, String> {
    line.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Removes terminal colour codes from a log line.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_pairs() {
        let ready = parse_ready("tether ready mqtts=127.0.0.1:8883 api=http://127.0.0.1:4580");
        assert_eq!(
            ready.get("mqtts").map(String::as_str),
            Some("127.0.0.1:8883")
        );
        assert_eq!(
            ready.get("api").map(String::as_str),
            Some("http://127.0.0.1:4580")
        );
    }

    #[test]
    fn ansi_codes_are_removed() {
        assert_eq!(
            strip_ansi("\u{1b}[33m WARN\u{1b}[0m refused"),
            " WARN refused"
        );
    }
}
