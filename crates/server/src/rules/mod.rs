//! The rules engine's network side: the services worker evaluates rules and hands over what
//! must wait on the network (`iot_services::rules::NetworkBatch`: `http` posts, `lambda`
//! invocations, destination confirmations) after its batch commits; the dispatcher runs each
//! batch on its own async task, so no service and no connection waits for an endpoint. Failures
//! go back to the worker, which runs the rule's errorAction with all of one firing's failures in
//! one message. `http.rs` is the client and AWS's retries, `lambda.rs` the local mapping of
//! functions. It evaluates no rule itself.

mod http;
mod lambda;

use std::sync::{Arc, Mutex};

use iot_services::rules::{self as engine, Call, Failure, NetworkBatch};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;
use crate::services::Link;

/// Where a `lambda` action's function runs on the desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LambdaTarget {
    /// POST the event to this URL.
    Url(String),
    /// Run this command (program and arguments) with the event on standard input.
    Command(Vec<String>),
}

/// The rules engine's settings (`[rules]` in the config file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesSettings {
    /// Function name (or full ARN) → where it runs.
    pub lambda: Vec<(String, LambdaTarget)>,
}

impl RulesSettings {
    /// The target of `function_arn`: the entry for the ARN itself, else for its name.
    fn target(&self, function_arn: &str) -> Option<&LambdaTarget> {
        let name = engine::function_name(function_arn);
        self.lambda
            .iter()
            .find(|(key, _)| key == function_arn)
            .or_else(|| self.lambda.iter().find(|(key, _)| key == name))
            .map(|(_, target)| target)
    }
}

/// The worker's way to the dispatcher.
pub(crate) type Outbox = mpsc::UnboundedSender<NetworkBatch>;

/// The way back to the worker, shared by the dispatcher's tasks; emptied at shutdown so the
/// worker can stop while calls are still out.
type Back = Arc<Mutex<Option<Link>>>;

/// The running dispatcher.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    back: Back,
    task: JoinHandle<()>,
}

impl Dispatcher {
    /// Stops taking work and lets go of the worker.
    pub(crate) fn stop(self) {
        self.task.abort();
        if let Ok(mut back) = self.back.lock() {
            back.take();
        }
    }
}

/// The channel the worker sends batches into, and its receiving end for [`start`].
pub(crate) fn channel() -> (Outbox, mpsc::UnboundedReceiver<NetworkBatch>) {
    mpsc::unbounded_channel()
}

/// Starts the dispatcher on the current runtime.
pub(crate) fn start(
    settings: RulesSettings,
    mut batches: mpsc::UnboundedReceiver<NetworkBatch>,
    worker: Link,
    metrics: Arc<Metrics>,
) -> Dispatcher {
    let back: Back = Arc::new(Mutex::new(Some(worker)));
    let settings = Arc::new(settings);
    let shared = Arc::clone(&back);
    let task = tokio::spawn(async move {
        while let Some(batch) = batches.recv().await {
            let settings = Arc::clone(&settings);
            let back = Arc::clone(&shared);
            let metrics = Arc::clone(&metrics);
            tokio::spawn(run(batch, settings, back, metrics));
        }
    });
    Dispatcher { back, task }
}

/// Runs a batch's calls concurrently, then reports its failures.
async fn run(batch: NetworkBatch, settings: Arc<RulesSettings>, back: Back, metrics: Arc<Metrics>) {
    let NetworkBatch {
        calls,
        mut failures,
        on_error,
    } = batch;
    let mut tasks = Vec::new();
    for call in calls {
        let settings = Arc::clone(&settings);
        let back = Arc::clone(&back);
        let metrics = Arc::clone(&metrics);
        tasks.push(tokio::spawn(async move {
            one(call, &settings, &back, &metrics).await
        }));
    }
    for task in tasks {
        if let Ok(Some(failure)) = task.await {
            metrics.rules.action_failures.inc();
            failures.push(failure);
        }
    }
    if failures.is_empty() {
        return;
    }
    let Some(context) = on_error else {
        for f in &failures {
            tracing::warn!(
                "{} on {} failed: {}",
                f.failed_action,
                f.failed_resource,
                f.error_message
            );
        }
        return;
    };
    report(&back, move |services, tx, now| {
        services.rules().failed(tx, context, &failures, now)
    });
}

/// Runs `f` on the worker (the rules engine lives there) and publishes what it returns.
fn report(
    back: &Back,
    f: impl FnOnce(&mut iot_services::Services, &store::ServiceTx<'_>, i64) -> iot_services::Output
    + Send
    + 'static,
) {
    let link = back.lock().ok().and_then(|l| l.clone());
    let Some(link) = link else {
        return;
    };
    let delivered = link.call(Box::new(move |tx, services, now| {
        let output = f(services, tx, now);
        (output, Box::new(|_| {}) as Box<dyn FnOnce(bool) + Send>)
    }));
    if !delivered {
        tracing::warn!("the services worker has stopped; a rule failure was not reported");
    }
}

/// One call; `Some` failure when it failed.
async fn one(
    call: Call,
    settings: &RulesSettings,
    back: &Back,
    metrics: &Metrics,
) -> Option<Failure> {
    match call {
        Call::Http(c) => http::post_with_retries(&c.url, &c.headers, &c.body)
            .await
            .err()
            .map(|e| Failure {
                failed_action: "HttpAction".into(),
                failed_resource: c.url.clone(),
                error_message: e,
            }),
        Call::Lambda(c) => {
            let name = c.function_name().to_owned();
            match lambda::invoke(&name, settings.target(&c.function_arn), &c.event).await {
                lambda::Invoked::Done => None,
                lambda::Invoked::NotConfigured => {
                    metrics.rules.actions_not_executed.inc();
                    tracing::warn!(
                        "lambda action for function {name} NOT EXECUTED: no local target; map \
                         it in the [rules.lambda] section of the config file"
                    );
                    Some(Failure {
                        failed_action: "LambdaAction".into(),
                        failed_resource: c.function_arn.clone(),
                        error_message: format!(
                            "Action not executed: tether has no local target for function \
                             {name}. Map it to a URL or a command in the [rules.lambda] section \
                             of tether's config file, e.g. {name} = {{ url = \
                             \"http://127.0.0.1:9000/\" }}"
                        ),
                    })
                }
                lambda::Invoked::Failed(e) => Some(Failure {
                    failed_action: "LambdaAction".into(),
                    failed_resource: c.function_arn.clone(),
                    error_message: format!("LambdaAction failed to invoke the function: {e}"),
                }),
            }
        }
        Call::Confirm(c) => {
            let outcome = match http::post(&c.url, &c.headers, &c.body).await {
                Ok(a) if (200..300).contains(&a.status) => Ok(()),
                Ok(a) => Err(format!("the confirmation URL answered HTTP {}", a.status)),
                Err(e) => Err(format!("the confirmation request failed: {e}")),
            };
            match outcome {
                Ok(()) => tracing::info!(
                    "sent the confirmation request of topic rule destination {} to {}",
                    c.arn,
                    c.url
                ),
                Err(reason) => {
                    tracing::warn!("topic rule destination {}: {reason}", c.arn);
                    let arn = c.arn.clone();
                    report(back, move |services, tx, now| {
                        if let Err(e) =
                            engine::confirmation_failed(tx, services.rules(), &arn, &reason, now)
                        {
                            tracing::error!("cannot record the failed confirmation of {arn}: {e}");
                        }
                        iot_services::Output::default()
                    });
                }
            }
            None
        }
    }
}
