//! The README's commands, run as printed: every ```sh block of README.md, in order, one shell
//! command at a time, against a fresh data directory. What a reader's machine supplies is
//! substituted, and only that: the binary cargo built for `cargo run --release --` and
//! `tether`; the free ports of the `tether serve` the quick start starts (with `--wss` added,
//! for the WebSocket example) for 8883, 4580 and 8443 (in place where a command spells them,
//! else through the flag or environment variable that sets them); the data directory for `DIR`
//! and `~/.local/share/tether`; the reader's own input files (a root CA, a device certificate
//! and key, a serial log, a job document, a message and a topic rule) in the working directory.
//! A command commented `# refused: WHY` must fail and say WHY; one commented `# Ctrl-C to stop`
//! must print and keep running (it is stopped after its first line). `scripts/test` (this
//! test's own runner) and `bench/compare` (it installs brokers, runs for minutes and rewrites
//! docs/benchmarks.md) are not run; any other command this file does not know fails the test,
//! so a new README example cannot go unchecked.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use test_support::process::Tether;

use crate::support::{tether, text, venv_bin};

/// Commands named in the README that this test does not run, with why.
const NOT_RUN: [(&str, &str); 2] = [
    ("scripts/test", "the test command itself"),
    (
        "bench/compare",
        "installs brokers, runs for minutes and rewrites docs/benchmarks.md",
    ),
];

/// One command of a ```sh block, continuation lines joined, its comment apart.
#[derive(Debug)]
struct Example {
    line: String,
    comment: String,
}

/// The commands of every ```sh block of `readme`, in order.
fn examples(readme: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block && line.trim() == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        let trimmed = line.trim();
        if let Some(head) = trimmed.strip_suffix('\\') {
            pending.push_str(head);
            continue;
        }
        pending.push_str(trimmed);
        let whole = std::mem::take(&mut pending);
        if whole.is_empty() {
            continue;
        }
        let (command, comment) = match whole.find(" #") {
            Some(at) => (whole[..at].trim(), whole[at + 2..].trim()),
            None => (whole.trim(), ""),
        };
        out.push(Example {
            line: command.split_whitespace().collect::<Vec<_>>().join(" "),
            comment: comment.to_owned(),
        });
    }
    out
}

/// The reader's input files the examples name, made from the repository's test data.
fn inputs(work: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = root.join("crates/device-image/tests/data");
    for (from, to) in [
        (data.join("root_ca.pem"), "AmazonRootCA1.pem"),
        (data.join("device_rsa.crt"), "xxxx-certificate.pem.crt"),
        (data.join("device_rsa.key"), "xxxx-private.pem.key"),
        (
            root.join("crates/doctor/tests/fixtures/nonos_mbedtls_alert.log"),
            "serial.log",
        ),
    ] {
        std::fs::copy(&from, work.join(to)).unwrap();
    }
    // A job document of the reader's.
    std::fs::write(
        work.join("fw-2.json"),
        r#"{"operation":"update","url":"http://updates.example/fw-2.bin"}"#,
    )
    .unwrap();
    // A message and a topic rule of the reader's (the README says what they hold).
    std::fs::write(work.join("reading.json"), r#"{"temp": 35}"#).unwrap();
    std::fs::write(
        work.join("hot-rule.json"),
        r#"{"sql": "SELECT temp, topic(2) AS device FROM 'sensors/+/data' WHERE temp > 30",
            "actions": [{"republish": {"topic": "alerts/${topic(2)}", "qos": 1,
                "roleArn": "arn:aws:iam::123456789012:role/republish"}}]}"#,
    )
    .unwrap();
}

/// What the README's commands run with.
struct Reader {
    work: tempfile::TempDir,
    data: tempfile::TempDir,
    env: BTreeMap<String, String>,
    server: Option<Tether>,
}

impl Reader {
    /// Substitutes what the reader's machine supplies into `line`.
    fn substitute(&self, line: &str) -> String {
        let data = self.data.path().display().to_string();
        let mut line = line
            .replace("cargo run --release -- ", "tether ")
            .replace("~/.local/share/tether", &data)
            .replace("DIR/", &format!("{data}/"));
        if let Some(server) = &self.server {
            let mqtts = server.addr("mqtts").port().to_string();
            let api = server.addr("api").port().to_string();
            let wss = server.addr("wss").port().to_string();
            line = line
                .replace("8883", &mqtts)
                .replace("4580", &api)
                .replace("8443", &wss);
            // Commands that rely on the default port get it through their flag.
            if line.starts_with("tether bench ") && !line.contains(" -p ") {
                line.push_str(&format!(" -p {mqtts}"));
            }
        }
        line
    }

    fn run(&mut self, example: &Example) {
        if let Some((_, why)) = NOT_RUN
            .iter()
            .find(|(name, _)| example.line.starts_with(name))
        {
            eprintln!("not run ({why}): {}", example.line);
            return;
        }
        if let Some(exports) = example.line.strip_prefix("export ") {
            for pair in exports.split_whitespace() {
                let (k, v) = pair.split_once('=').unwrap();
                self.env.insert(k.to_owned(), v.to_owned());
            }
            return;
        }
        let line = self.substitute(&example.line);
        if line == "tether serve" {
            // With the WebSocket listener the README's `--wss` example needs.
            let server =
                Tether::serve(tether(), self.data.path(), &["--wss", "127.0.0.1:0"]).unwrap();
            let api = crate::support::api_url(&server);
            // `tether device` finds the API as the AWS tools do.
            self.env.insert("AWS_ENDPOINT_URL".to_owned(), api);
            self.server = Some(server);
            return;
        }
        let known = ["tether ", "mosquitto_pub ", "mosquitto_sub ", "aws "];
        // The command after any leading `NAME=value` environment assignments.
        let command = line
            .split_whitespace()
            .skip_while(|word| word.contains('=') && !word.starts_with('-'))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            known.iter().any(|k| command.starts_with(k)),
            "README command this test does not know how to run: {}\n(add it to NOT_RUN with \
             the reason, or teach the test to run it)",
            example.line
        );
        let path = format!(
            "{}:{}:{}",
            tether().parent().unwrap().display(),
            venv_bin().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let home = self.work.path().join("home");
        let mut command = Command::new("sh");
        command
            .args(["-c", &format!("exec env {line}")])
            .current_dir(self.work.path())
            .envs(&self.env)
            .env("PATH", path)
            .env("TETHER_DATA_DIR", self.data.path())
            .env("HOME", &home)
            .env("AWS_CONFIG_FILE", home.join("aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("aws-credentials"));
        if example.comment.contains("Ctrl-C to stop") {
            follows(command, &line);
            return;
        }
        let out = command.output().unwrap();
        let said = text(&out);
        let code = out.status.code();
        if let Some(why) = example.comment.strip_prefix("refused:") {
            assert!(
                !out.status.success(),
                "README says this is refused, and it was not: {line}\n{said}"
            );
            let said_lower = said.to_lowercase();
            for word in why.split_whitespace() {
                assert!(
                    said_lower.contains(&word.to_lowercase()),
                    "README says it is refused for {why:?}, but the output does not say \
                     {word:?}: {line}\n{said}"
                );
            }
        } else if line.starts_with("tether doctor explain ") {
            // 1: it ran and found the problem the log shows (README: doctor's exit codes).
            assert!(matches!(code, Some(0 | 1)), "{line}\n{said}");
            assert!(said.contains("fix:"), "{line}\n{said}");
        } else {
            assert!(
                out.status.success(),
                "README command failed: {line}\n{said}"
            );
        }
    }
}

/// A command that runs until stopped (`# Ctrl-C to stop`): it must print its first line within
/// a deadline and still be running or have exited successfully; then it is stopped.
fn follows(mut command: Command, line: &str) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = tx.send(first);
    });
    let first = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    let exited = child.try_wait().unwrap();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        !first.trim().is_empty() && exited.is_none_or(|status| status.success()),
        "README command that follows until Ctrl-C printed nothing or failed: {line}\n{}",
        text(&out)
    );
}

#[test]
fn every_readme_example_works_as_printed() {
    let readme_path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let examples = examples(&readme);
    assert!(examples.len() > 10, "{examples:#?}");
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("home")).unwrap();
    inputs(work.path());
    let mut reader = Reader {
        work,
        data: tempfile::tempdir().unwrap(),
        env: BTreeMap::new(),
        server: None,
    };
    for example in &examples {
        reader.run(example);
    }
    // Both halves of the quick start ran: the server, and the mosquitto_pub it prints.
    assert!(
        reader.server.is_some(),
        "the quick start starts tether serve"
    );
    assert!(
        examples
            .iter()
            .any(|e| e.line.starts_with("mosquitto_pub ")),
        "{examples:#?}"
    );
}

#[test]
fn commands_are_read_from_sh_blocks_with_continuations_and_comments() {
    let readme = "text\n```sh\ntether a \\\n    --b c   # refused: why\n\nx y\n```\n\
                  ```toml\nnot = 1\n```\n";
    let examples = examples(readme);
    assert_eq!(examples.len(), 2, "{examples:#?}");
    assert_eq!(examples[0].line, "tether a --b c");
    assert_eq!(examples[0].comment, "refused: why");
    assert_eq!(examples[1].line, "x y");
}
