//! What the rules engine hands the server to do over the network, as plain data: the HTTP
//! requests of `http` actions, the invocations of `lambda` actions and the confirmation requests
//! of topic rule destinations, grouped per rule firing with the failures already known, so the
//! server can run them off the services worker and report every failure of one firing to the
//! rule's `errorAction` in one message, as AWS does ("A single message is generated per rule and
//! message", rule-error-handling.md). Also that message's shape. Nothing here does IO.

use base64::Engine as _;
use serde_json::{Value, json};

/// The network work of one rule firing, or of one destination confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkBatch {
    /// The calls, run concurrently.
    pub calls: Vec<Call>,
    /// Failures of the same firing already known (actions that failed without the network).
    pub failures: Vec<Failure>,
    /// Where failures go: the rule's errorAction for the original message; `None` for the
    /// errorAction's own calls and for confirmations, whose failures are only logged.
    pub on_error: Option<ErrorContext>,
}

/// One call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// An `http` action's POST.
    Http(HttpCall),
    /// A `lambda` action's invocation.
    Lambda(LambdaCall),
    /// A topic rule destination's confirmation request.
    Confirm(ConfirmCall),
}

/// An `http` action's request: POST `body` to `url` with `headers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCall {
    /// The URL, templates rendered.
    pub url: String,
    /// Headers, values rendered; includes the content type.
    pub headers: Vec<(String, String)>,
    /// The SELECT output.
    pub body: Vec<u8>,
}

/// A `lambda` action's invocation: the event is the SELECT output (AWS invokes the function
/// asynchronously with the message data as its event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaCall {
    /// The function ARN as the rule names it.
    pub function_arn: String,
    /// The event.
    pub event: Vec<u8>,
}

impl LambdaCall {
    /// The function's name: the `function:NAME[:qualifier]` part of its ARN, or the ARN itself
    /// when it is a bare name.
    pub fn function_name(&self) -> &str {
        function_name(&self.function_arn)
    }
}

/// The name of a function from its ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:ALIAS]`).
pub fn function_name(arn: &str) -> &str {
    match arn.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _, "lambda", _, _, "function", name, ..] => name,
        _ => arn,
    }
}

/// A destination's confirmation request (http-action-destination.md): `POST
/// {confirmationUrl}/?confirmationToken={token}` with the message type and ARN headers and a
/// JSON body that carries the token and the `enableUrl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmCall {
    /// The destination's ARN.
    pub arn: String,
    /// The URL to POST to, token included.
    pub url: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl ConfirmCall {
    /// The confirmation request of destination `arn` at `confirmation_url`.
    pub fn new(arn: &str, confirmation_url: &str, token: &str, enable_url: &str) -> ConfirmCall {
        let separator = if confirmation_url.ends_with('/') {
            "?"
        } else {
            "/?"
        };
        let body = json!({
            "arn": arn,
            "confirmationToken": token,
            "enableUrl": enable_url,
            "messageType": "DestinationConfirmation",
        });
        ConfirmCall {
            arn: arn.to_owned(),
            url: format!("{confirmation_url}{separator}confirmationToken={token}"),
            headers: vec![
                (
                    "x-amz-rules-engine-message-type".into(),
                    "DestinationConfirmation".into(),
                ),
                ("x-amz-rules-engine-destination-arn".into(), arn.to_owned()),
                ("content-type".into(), "application/json".into()),
            ],
            body: body.to_string().into_bytes(),
        }
    }
}

/// One failed action, as the errorAction message lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// AWS's action name, e.g. `HttpAction`.
    pub failed_action: String,
    /// The resource the action names (URL, topic, table...).
    pub failed_resource: String,
    /// What went wrong.
    pub error_message: String,
}

/// The message a firing was for, kept so that its errorAction can run after network failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorContext {
    /// The rule.
    pub rule: String,
    /// The topic as published.
    pub topic: String,
    /// The publisher's client id.
    pub client_id: Option<String>,
    /// The publisher's certificate id.
    pub principal: Option<String>,
    /// The payload as published.
    pub payload: Vec<u8>,
    /// When the rules engine saw it.
    pub timestamp_ms: i64,
    /// Republish hops the message had behind it.
    pub hops: u8,
    /// The `cloudwatchTraceId` of the errorAction message.
    pub trace_id: String,
}

impl ErrorContext {
    /// AWS's errorAction message (rule-error-handling.md, "Error action message format").
    pub fn error_message(&self, failures: &[Failure]) -> Value {
        json!({
            "ruleName": self.rule,
            "topic": self.topic,
            "cloudwatchTraceId": self.trace_id,
            "clientId": self.client_id.as_deref().unwrap_or("n/a"),
            "base64OriginalPayload": base64::engine::general_purpose::STANDARD.encode(&self.payload),
            "failures": failures.iter().map(|f| json!({
                "failedAction": f.failed_action,
                "failedResource": f.failed_resource,
                "errorMessage": f.error_message,
            })).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_message_has_awss_fields() {
        let ctx = ErrorContext {
            rule: "r1".into(),
            topic: "a/b".into(),
            client_id: Some("dev".into()),
            principal: None,
            payload: b"{}".to_vec(),
            timestamp_ms: 1,
            hops: 0,
            trace_id: "t".into(),
        };
        let failure = Failure {
            failed_action: "HttpAction".into(),
            failed_resource: "https://h/x".into(),
            error_message: "boom".into(),
        };
        assert_eq!(
            ctx.error_message(&[failure]),
            json!({"ruleName": "r1", "topic": "a/b", "cloudwatchTraceId": "t", "clientId": "dev",
                "base64OriginalPayload": "e30=", "failures": [{"failedAction": "HttpAction",
                "failedResource": "https://h/x", "errorMessage": "boom"}]})
        );
    }

    #[test]
    fn confirmation_requests_follow_awss_format() {
        let c = ConfirmCall::new(
            "arn:d",
            "https://h/confirm",
            "tok",
            "http://api/confirmdestination/tok",
        );
        assert_eq!(c.url, "https://h/confirm/?confirmationToken=tok");
        let body: Value = serde_json::from_slice(&c.body).unwrap();
        assert_eq!(body["messageType"], "DestinationConfirmation");
        assert_eq!(body["enableUrl"], "http://api/confirmdestination/tok");
        assert_eq!(
            ConfirmCall::new("a", "https://h/", "t", "e").url,
            "https://h/?confirmationToken=t"
        );
    }

    #[test]
    fn function_names_come_from_arns() {
        assert_eq!(function_name("arn:aws:lambda:us-east-1:1:function:f"), "f");
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:f:prod"),
            "f"
        );
        assert_eq!(function_name("plain"), "plain");
    }
}
