//! The topic rule routes of the `iot` control plane: CreateTopicRule, GetTopicRule,
//! ListTopicRules, ReplaceTopicRule, DeleteTopicRule, EnableTopicRule, DisableTopicRule and the
//! topic rule destination operations, as the AWS CLI and boto3 call them. Each runs the rules
//! engine's operation (`iot_services::rules`) on the services worker, where the engine lives,
//! and answers once its change is committed (the worker has then replaced the broker's routes).
//! ConfirmTopicRuleDestination (`GET /confirmdestination/{token}`) is also the `enableUrl` a
//! destination's owner browses to, so it needs no signature: the token is the credential, as in
//! AWS. A rules error becomes the exception botocore's model names.

use axum::http::StatusCode;
use iot_services::Services;
use iot_services::rules::{self, RuleError};
use serde_json::Value;
use store::{Order, ServiceTx, StoreError};
use tokio::sync::oneshot;

use super::{Api, ApiError, Request};
use crate::services::Call;

/// The topic rule operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RuleOp {
    Create,
    Get,
    List,
    Replace,
    Delete,
    Enable,
    Disable,
    CreateDestination,
    GetDestination,
    ListDestinations,
    UpdateDestination,
    DeleteDestination,
    ConfirmDestination,
}

/// 32 random bytes for destination ids and confirmation tokens.
fn fresh() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    if openssl::rand::rand_bytes(&mut bytes).is_err() {
        // The OpenSSL RNG does not fail once seeded; fall back to the request ids' material.
        let (a, b) = (super::random_16(), super::random_16());
        for (byte, source) in bytes.iter_mut().zip(a.iter().chain(b.iter())) {
            *byte = *source;
        }
    }
    bytes
}

/// Runs a rule route: `labels` holds the rule name, destination ARN or token.
pub(super) async fn run(
    api: &Api,
    req: &Request,
    op: RuleOp,
    labels: &[String],
) -> Result<Value, ApiError> {
    let label = labels.first().cloned().unwrap_or_default();
    match op {
        RuleOp::Create | RuleOp::Replace => {
            let payload = body(req)?;
            let material = fresh();
            on_worker(api, move |tx, services, now| {
                let engine = services.rules();
                if op == RuleOp::Create {
                    rules::create_rule(tx, engine, &label, &payload, now, material)
                } else {
                    rules::replace_rule(tx, engine, &label, &payload, now, material)
                }
            })
            .await
        }
        RuleOp::Get => on_worker(api, move |_, s, _| rules::get_rule(s.rules(), &label)).await,
        RuleOp::List => {
            let topic = req.query("topic").map(str::to_owned);
            let disabled = req.query_bool("ruleDisabled")?;
            let page = req.page("nextToken", "maxResults", 10_000, Order::Ascending)?;
            on_worker(api, move |tx, s, _| {
                rules::list_rules(tx, s.rules(), topic.as_deref(), disabled, &page)
            })
            .await
        }
        RuleOp::Delete => {
            on_worker(api, move |tx, s, _| {
                rules::delete_rule(tx, s.rules(), &label)
            })
            .await
        }
        RuleOp::Enable | RuleOp::Disable => {
            let enabled = op == RuleOp::Enable;
            on_worker(api, move |tx, s, _| {
                rules::set_rule_enabled(tx, s.rules(), &label, enabled)
            })
            .await
        }
        RuleOp::CreateDestination => {
            let body = body(req)?;
            let configuration = body
                .get("destinationConfiguration")
                .cloned()
                .ok_or_else(|| ApiError::invalid_request("destinationConfiguration is required"))?;
            let material = fresh();
            on_worker(api, move |tx, s, now| {
                rules::create_destination(tx, s.rules(), &configuration, now, material)
            })
            .await
        }
        RuleOp::GetDestination => {
            on_worker(api, move |tx, _, _| rules::get_destination(tx, &label)).await
        }
        RuleOp::ListDestinations => {
            let page = req.page("nextToken", "maxResults", 1000, Order::Ascending)?;
            on_worker(api, move |tx, _, _| rules::list_destinations(tx, &page)).await
        }
        RuleOp::UpdateDestination => {
            let body = req.json()?;
            let arn = super::required_str(&body, "arn")?.to_owned();
            let status = super::required_str(&body, "status")?.to_owned();
            on_worker(api, move |tx, s, now| {
                rules::update_destination(tx, s.rules(), &arn, &status, now)
            })
            .await
        }
        RuleOp::DeleteDestination => {
            on_worker(api, move |tx, s, _| {
                rules::delete_destination(tx, s.rules(), &label)
            })
            .await
        }
        RuleOp::ConfirmDestination => {
            on_worker(api, move |tx, s, now| {
                rules::confirm_destination(tx, s.rules(), &label, now)
            })
            .await
        }
    }
}

/// The JSON body (the TopicRulePayload of Create/ReplaceTopicRule).
fn body(req: &Request) -> Result<Value, ApiError> {
    req.json().map(Value::Object)
}

/// Runs a rules operation on the services worker and waits for its commit.
async fn on_worker(
    api: &Api,
    operation: impl FnOnce(&ServiceTx<'_>, &mut Services, i64) -> Result<Value, RuleError>
    + Send
    + 'static,
) -> Result<Value, ApiError> {
    let Some(link) = api.services.as_ref() else {
        return Err(ApiError::not_found(
            "topic rules are served under the aws profile only (tether serve --profile aws)",
        ));
    };
    let (reply, answer) = oneshot::channel();
    let call: Call = Box::new(move |tx, services, now| {
        // A refused operation is rolled back alone, like any request of the batch.
        let mut refused = None;
        let result = tx
            .request("topic rule operation", |tx| {
                operation(tx, services, now).map_err(|e| {
                    refused = Some(e);
                    StoreError::InvalidRequest("refused".into())
                })
            })
            .map_err(|e| refused.take().unwrap_or_else(|| RuleError::from(e)));
        let done = Box::new(move |committed: bool| {
            let result = if committed {
                result
            } else {
                Err(RuleError::internal(
                    "the change could not be committed to the database; see tether's log",
                ))
            };
            let _ = reply.send(result);
        });
        (
            iot_services::Output::default(),
            done as Box<dyn FnOnce(bool) + Send>,
        )
    });
    if !link.call(call) {
        return Err(ApiError::internal("the services worker has stopped"));
    }
    answer
        .await
        .map_err(|_| ApiError::internal("the services worker stopped before answering"))?
        .map_err(rule_error)
}

fn rule_error(e: RuleError) -> ApiError {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    ApiError::with_status(status, e.exception, e.message)
}
