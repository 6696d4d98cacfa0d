//! One rule firing for one message: the statement decides (WHERE) and builds the output
//! (SELECT); each action then runs on that output with its substitution templates rendered
//! against the original message. `republish` becomes a message for the broker, `http` and
//! `lambda` become network calls, and an action tether does not execute becomes a failure that
//! says so (never a silent success). Also the errorAction, run on AWS's error message. Pure:
//! the engine queues what this returns.

use base64::Engine as _;
use iot_sql::{Context, Output as SqlOutput, Payload, Template};
use serde_json::Value;
use store::ServiceTx;

use super::action::{Action, ActionKind, Headers, Http, Republish};
use super::engine::Engine;
use super::env::RuleEnv;
use super::network::{Call, ErrorContext, Failure, HttpCall, LambdaCall, NetworkBatch};
use super::rule::TopicRule;
use crate::{MessageHeaders, OutMessage, Output};

/// What a rule did with a message.
#[derive(Debug)]
pub(super) enum Firing {
    /// WHERE did not hold.
    NotFired,
    /// The statement failed (logged).
    Failed,
    /// It fired.
    Fired(Box<Fired>),
}

/// A rule that fired.
#[derive(Debug)]
pub(super) struct Fired {
    pub(super) publish: Vec<OutMessage>,
    pub(super) network: Option<NetworkBatch>,
    pub(super) failures: Vec<Failure>,
    pub(super) context: ErrorContext,
    /// Actions of a type tether does not execute.
    pub(super) not_executed: u64,
}

/// What actions produced, gathered.
#[derive(Debug, Default)]
struct Results {
    publish: Vec<OutMessage>,
    calls: Vec<Call>,
    failures: Vec<Failure>,
    not_executed: u64,
}

/// Evaluates `rule` for one message and runs its actions. Not fired when WHERE did not hold or
/// the statement failed (logged and counted: AWS reports SQL problems to its log, not to the
/// errorAction, rule-error-handling.md).
pub(super) fn fire(
    engine: &Engine,
    rule: &TopicRule,
    ctx: &Context<'_>,
    payload: &Payload<'_>,
    context: ErrorContext,
) -> Firing {
    let output = match rule.statement.evaluate(ctx, payload) {
        Ok(Some(output)) => output,
        Ok(None) => return Firing::NotFired,
        Err(e) => {
            tracing::warn!(
                "rule {}: the statement failed for a message on {}: {e}",
                rule.name,
                context.topic
            );
            return Firing::Failed;
        }
    };
    let mut results = Results::default();
    for action in &rule.actions {
        run_action(
            engine,
            action,
            ctx,
            payload,
            &output,
            context.hops,
            &mut results,
        );
    }
    let network = (!results.calls.is_empty()).then(|| NetworkBatch {
        calls: results.calls,
        failures: Vec::new(),
        on_error: Some(context.clone()),
    });
    Firing::Fired(Box::new(Fired {
        publish: results.publish,
        network,
        failures: results.failures,
        context,
        not_executed: results.not_executed,
    }))
}

/// Runs an errorAction on AWS's error message `message` for the original message of
/// `context`: templates see the original message; the output is the error message. Returns
/// what to publish, the network work, and the errorAction's own failures (only logged).
pub(super) fn run_error_action(
    engine: &Engine,
    tx: &ServiceTx<'_>,
    action: &Action,
    context: &ErrorContext,
    message: &Value,
    now_ms: i64,
) -> (Output, Option<NetworkBatch>, Vec<Failure>) {
    let env = RuleEnv::new(tx, &engine.rng, now_ms);
    let topic = iot_sql::basic_ingest_topic(&context.topic).map_or(context.topic.as_str(), |t| t.1);
    let ctx = Context {
        topic,
        client_id: context.client_id.as_deref(),
        principal: context.principal.as_deref(),
        source_ip: None,
        trace_id: None,
        account_id: &engine.config.account_id,
        timestamp_ms: context.timestamp_ms,
        environment: &env,
    };
    let payload = Payload::new(&context.payload);
    let mut results = Results::default();
    let output = SqlOutput::Json(message.clone());
    run_action(
        engine,
        action,
        &ctx,
        &payload,
        &output,
        context.hops,
        &mut results,
    );
    let network = (!results.calls.is_empty()).then(|| NetworkBatch {
        calls: results.calls,
        failures: Vec::new(),
        on_error: None,
    });
    (
        Output {
            publish: results.publish,
            direct: Vec::new(),
        },
        network,
        results.failures,
    )
}

fn run_action(
    engine: &Engine,
    action: &Action,
    ctx: &Context<'_>,
    payload: &Payload<'_>,
    output: &SqlOutput,
    hops: u8,
    results: &mut Results,
) {
    let failure = |resource: &str, message: String| Failure {
        failed_action: action.aws_name().to_owned(),
        failed_resource: resource.to_owned(),
        error_message: message,
    };
    match &action.kind {
        ActionKind::Republish(r) => match republish(r, ctx, payload, output, hops) {
            Ok(message) => results.publish.push(message),
            Err((resource, e)) => results.failures.push(failure(&resource, e)),
        },
        ActionKind::Http(h) => match http(engine, h, ctx, payload, output) {
            Ok(call) => results.calls.push(Call::Http(call)),
            Err((resource, e)) => results.failures.push(failure(&resource, e)),
        },
        ActionKind::Lambda { function_arn } => results.calls.push(Call::Lambda(LambdaCall {
            function_arn: function_arn.clone(),
            event: output.to_bytes().into_owned(),
        })),
        ActionKind::NotExecuted {
            member, resource, ..
        } => {
            tracing::warn!(
                "rule action {member} on {resource:?} NOT EXECUTED for a message on {}: tether \
                 does not run {member} actions locally (counted in \
                 tether_rules_actions_not_executed_total)",
                ctx.topic
            );
            results.not_executed += 1;
            results.failures.push(failure(
                resource,
                format!(
                    "Action not executed: tether does not run {member} actions locally, so \
                     nothing was written to {resource:?}. To see this data on the desk, add a \
                     republish or http action to the rule, or a lambda action mapped to a local \
                     URL or command in the [rules.lambda] section of tether's config file"
                ),
            ));
        }
    }
}

type Refusal = (String, String);

fn render(
    template: &Template,
    ctx: &Context<'_>,
    payload: &Payload<'_>,
) -> Result<String, Refusal> {
    template.render(ctx, payload).map_err(|e| {
        (
            template.to_string(),
            format!("substitution template {template}: {e}"),
        )
    })
}

fn republish(
    r: &Republish,
    ctx: &Context<'_>,
    payload: &Payload<'_>,
    output: &SqlOutput,
    hops: u8,
) -> Result<OutMessage, Refusal> {
    let topic = render(&r.topic, ctx, payload)?;
    check_topic(&topic).map_err(|e| (topic.clone(), e))?;
    if topic.starts_with("$aws/things/") && topic.split('/').nth(3) == Some("jobs") {
        return Err((
            topic,
            "Republishing to reserved job topics is not supported (republish-rule-action)".into(),
        ));
    }
    let headers = match &r.headers {
        Some(h) => Some(Box::new(
            headers(h, ctx, payload).map_err(|e| (topic.clone(), e))?,
        )),
        None => None,
    };
    Ok(OutMessage {
        topic,
        payload: output.to_bytes().into_owned(),
        qos: r.qos,
        headers,
        hops: hops.saturating_add(1),
    })
}

/// A topic name the broker accepts: not empty, no wildcards, no NUL.
fn check_topic(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        Err("the republish topic rendered to an empty topic".into())
    } else if topic.contains(['+', '#', '\0']) {
        Err(format!(
            "the republish topic {topic:?} contains a wildcard or NUL, which a topic name cannot"
        ))
    } else {
        Ok(())
    }
}

fn headers(
    h: &Headers,
    ctx: &Context<'_>,
    payload: &Payload<'_>,
) -> Result<MessageHeaders, String> {
    let field = |t: &Option<Template>| -> Result<Option<String>, String> {
        t.as_ref()
            .map(|t| render(t, ctx, payload).map_err(|(_, e)| e))
            .transpose()
    };
    let payload_format_indicator = match field(&h.payload_format_indicator)?.as_deref() {
        None => None,
        Some("UTF8_DATA") => Some(1),
        Some("UNSPECIFIED_BYTES") => Some(0),
        Some(other) => {
            return Err(format!(
                "headers.payloadFormatIndicator is {other:?}; use UTF8_DATA or UNSPECIFIED_BYTES"
            ));
        }
    };
    let message_expiry = match field(&h.message_expiry)? {
        None => None,
        Some(text) => Some(text.trim().parse::<u32>().map_err(|_| {
            format!("headers.messageExpiry is {text:?}; it must be a number of seconds")
        })?),
    };
    let correlation_data = match field(&h.correlation_data)? {
        None => None,
        Some(text) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| {
                    format!("headers.correlationData {text:?} is not base64 (AWS requires it): {e}")
                })?,
        ),
    };
    let response_topic = field(&h.response_topic)?;
    if let Some(t) = &response_topic {
        check_topic(t)?;
    }
    let mut user_properties = Vec::new();
    for (k, v) in &h.user_properties {
        let key = render(k, ctx, payload).map_err(|(_, e)| e)?;
        let value = render(v, ctx, payload).map_err(|(_, e)| e)?;
        user_properties.push((key, value));
    }
    Ok(MessageHeaders {
        payload_format_indicator,
        content_type: field(&h.content_type)?,
        response_topic,
        correlation_data,
        message_expiry,
        user_properties,
    })
}

fn http(
    engine: &Engine,
    h: &Http,
    ctx: &Context<'_>,
    payload: &Payload<'_>,
    output: &SqlOutput,
) -> Result<HttpCall, Refusal> {
    let url = render(&h.url, ctx, payload)?;
    let confirmation = match &h.confirmation_url {
        Some(t) => render(t, ctx, payload)?,
        None => url.clone(),
    };
    if !url.starts_with(&confirmation) {
        return Err((
            url.clone(),
            format!("the URL {url:?} does not begin with its confirmation URL {confirmation:?}"),
        ));
    }
    match engine.destinations.get(&confirmation) {
        Some(d) if d.status == "ENABLED" => {}
        Some(d) => {
            return Err((
                url,
                format!(
                    "HttpAction failed: the topic rule destination {} for {confirmation:?} is \
                     {}, not ENABLED: confirm it (its enableUrl, or ConfirmTopicRuleDestination \
                     with the token sent to the URL) or enable it with \
                     UpdateTopicRuleDestination",
                    d.arn, d.status
                ),
            ));
        }
        None => {
            return Err((
                url,
                format!(
                    "HttpAction failed: there is no topic rule destination for the confirmation \
                     URL {confirmation:?}: create one with CreateTopicRuleDestination and \
                     confirm it before the rule can send to it"
                ),
            ));
        }
    }
    let mut headers = Vec::new();
    for (key, value) in &h.headers {
        headers.push((key.clone(), render(value, ctx, payload)?));
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        // https-rule-action.md: "The default content type is application/json when the payload
        // is in JSON format. Otherwise, it is application/octet-stream."
        let content_type = match output {
            SqlOutput::Json(_) => "application/json",
            SqlOutput::Bytes(_) => "application/octet-stream",
        };
        headers.push(("content-type".into(), content_type.into()));
    }
    Ok(HttpCall {
        url,
        headers,
        body: output.to_bytes().into_owned(),
    })
}
