//! `lambda` actions on the desk: the function a rule names is mapped (config file section
//! `[rules.lambda]`) to a local HTTP URL, which gets the event as a JSON POST, or to a command,
//! which gets it on standard input with `AWS_LAMBDA_FUNCTION_NAME` set. AWS invokes the function
//! asynchronously with the SELECT output as its event; likewise an invocation that cannot be made
//! (no mapping, nothing listening, command not found) is the action's failure, while what the
//! function itself does (its exit status) is only logged.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::http;
use crate::rules::LambdaTarget;

/// How long a mapped command may run before it is killed (AWS's default function timeout is
/// 3 seconds; a local handler gets more room).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// What came of an invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Invoked {
    /// The function got the event.
    Done,
    /// No local target is configured for the function.
    NotConfigured,
    /// The invocation could not be made.
    Failed(String),
}

/// Invokes `function` (its name) at `target` with `event`.
pub(crate) async fn invoke(function: &str, target: Option<&LambdaTarget>, event: &[u8]) -> Invoked {
    match target {
        None => Invoked::NotConfigured,
        Some(LambdaTarget::Url(url)) => {
            let headers = [
                ("content-type".to_owned(), "application/json".to_owned()),
                ("x-amz-invocation-type".to_owned(), "Event".to_owned()),
            ];
            match http::post(url, &headers, event).await {
                Ok(a) if (200..300).contains(&a.status) => Invoked::Done,
                Ok(a) => Invoked::Failed(format!(
                    "the local handler of function {function} at {url} answered HTTP {}",
                    a.status
                )),
                Err(e) => Invoked::Failed(format!(
                    "the local handler of function {function} at {url}: {e}"
                )),
            }
        }
        Some(LambdaTarget::Command(argv)) => run(function, argv, event).await,
    }
}

async fn run(function: &str, argv: &[String], event: &[u8]) -> Invoked {
    let Some((program, args)) = argv.split_first() else {
        return Invoked::Failed(format!("the command of function {function} is empty"));
    };
    let child = tokio::process::Command::new(program)
        .args(args)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            return Invoked::Failed(format!(
                "cannot start {program:?}, the command of function {function}: {e}"
            ));
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(event).await;
    }
    match tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(out)) if out.status.success() => {}
        Ok(Ok(out)) => tracing::warn!(
            "function {function} ({program}) exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Ok(Err(e)) => tracing::warn!("function {function} ({program}): {e}"),
        Err(_) => tracing::warn!(
            "function {function} ({program}) ran longer than {} s and was stopped",
            COMMAND_TIMEOUT.as_secs()
        ),
    }
    Invoked::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_command_gets_the_event_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("event.json");
        let script = format!("cat > {}", out.display());
        let target = LambdaTarget::Command(vec!["sh".into(), "-c".into(), script]);
        assert_eq!(
            invoke("f", Some(&target), br#"{"a":1}"#).await,
            Invoked::Done
        );
        assert_eq!(std::fs::read(&out).unwrap(), br#"{"a":1}"#);
    }

    #[tokio::test]
    async fn a_missing_mapping_or_program_is_reported() {
        assert_eq!(invoke("f", None, b"{}").await, Invoked::NotConfigured);
        let target = LambdaTarget::Command(vec!["/no/such/program".into()]);
        let Invoked::Failed(e) = invoke("f", Some(&target), b"{}").await else {
            panic!()
        };
        assert!(e.contains("/no/such/program"), "{e}");
    }
}
