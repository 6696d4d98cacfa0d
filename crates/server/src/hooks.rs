//! Pre-provisioning hooks, run for the services worker: AWS calls the Lambda function a
//! template's `preProvisioningHook.targetArn` names; tether calls the local HTTP URL or command
//! configured for that ARN (`[[provisioning.hook]]` in the config file, docs/configuration.md)
//! with AWS's event as JSON, and reads AWS's answer (`allowProvisioning`, `parameterOverrides`).
//! A hook has AWS's 5 seconds. It runs on an async task so that the worker never waits for it;
//! its answer goes back to the worker as a call that finishes the provisioning. It does not
//! interpret the answer (`iot_services::provisioning::hook` does).

use std::process::Stdio;
use std::time::Duration;

use iot_services::provisioning::HookCall;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::services::Link;

/// "The Lambda function must finish running and return within 5 seconds" (pre-provisioning-hook.md).
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// What a hook is locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookTarget {
    /// POST the event as JSON; the response body is the answer.
    Url(String),
    /// Run the program with its arguments, the event on standard input; standard output is the
    /// answer.
    Command(Vec<String>),
}

/// A configured hook: the Lambda ARN templates name and what runs in its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningHook {
    /// The `targetArn` it stands for.
    pub target_arn: String,
    /// What runs.
    pub target: HookTarget,
}

/// Calls `call`'s hook on the runtime and hands its answer to the worker through `link`.
pub(crate) fn spawn(
    runtime: &tokio::runtime::Handle,
    hooks: &[ProvisioningHook],
    call: HookCall,
    link: Link,
) {
    let target = hooks
        .iter()
        .find(|h| h.target_arn == call.target_arn)
        .map(|h| h.target.clone());
    runtime.spawn(async move {
        let outcome = match target {
            None => Err(format!(
                "no local hook is configured for {}; add a [[provisioning.hook]] with this \
                 target_arn and a url or command to the config file",
                call.target_arn
            )),
            Some(target) => {
                match tokio::time::timeout(HOOK_TIMEOUT, run(&target, &call.event)).await {
                    Ok(result) => result,
                    Err(_) => Err(format!(
                        "it did not answer within {} seconds",
                        HOOK_TIMEOUT.as_secs()
                    )),
                }
            }
        };
        if let Err(e) = &outcome {
            tracing::warn!("pre-provisioning hook {}: {e}", call.target_arn);
        }
        let resume = call.resume;
        let finish: crate::services::Call = Box::new(move |tx, services, now| {
            let output = services.resume_hook(tx, resume, outcome, now);
            (output, Box::new(|_| {}) as Box<dyn FnOnce(bool) + Send>)
        });
        if !link.call(finish) {
            tracing::warn!("the services worker stopped before a hook's answer arrived");
        }
    });
}

async fn run(target: &HookTarget, event: &Value) -> Result<Value, String> {
    let answer = match target {
        HookTarget::Url(url) => {
            let url = url.clone();
            let body = event.to_string();
            tokio::task::spawn_blocking(move || post(&url, &body))
                .await
                .map_err(|e| format!("the call stopped: {e}"))??
        }
        HookTarget::Command(argv) => command(argv, event).await?,
    };
    serde_json::from_slice(&answer).map_err(|e| format!("its answer is not JSON: {e}"))
}

fn post(url: &str, body: &str) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(HOOK_TIMEOUT))
        .build()
        .into();
    let mut response = agent
        .post(url)
        .header("content-type", "application/json")
        .send(body)
        .map_err(|e| format!("POST {url} failed: {e}"))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("POST {url} answered HTTP {status}"));
    }
    response
        .body_mut()
        .with_config()
        .limit(1024 * 1024)
        .read_to_vec()
        .map_err(|e| format!("reading the answer of {url} failed: {e}"))
}

async fn command(argv: &[String], event: &Value) -> Result<Vec<u8>, String> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| "the hook's command is empty".to_owned())?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(event.to_string().as_bytes())
            .await
            .map_err(|e| format!("writing the event to {program} failed: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| format!("{program} failed: {e}"))?;
    if !output.status.success() {
        return Err(format!("{program} exited with {}", output.status));
    }
    Ok(output.stdout)
}
