//! The Device Shadow routes of the `iot-data` plane: GetThingShadow, UpdateThingShadow and
//! DeleteThingShadow (`/things/{thingName}/shadow[?name=]`) and ListNamedShadowsForThing
//! (`/api/things/shadow/ListNamedShadowsForThing/{thingName}?nextToken=&pageSize=`), as the AWS
//! CLI and boto3 call them. Each runs the same service function as the MQTT form, on the
//! services worker, and answers once its change is committed; updates and deletes publish
//! their notifications as in AWS. A shadow error becomes the HTTP error AWS's model names.

use axum::http::StatusCode;
use iot_services::Services;
use iot_services::shadow::{self, ShadowError, ShadowId};
use serde_json::Value;
use store::ServiceTx;
use tokio::sync::oneshot;

use super::routes::ShadowOp;
use super::{Api, ApiError, Request};
use crate::services::Call;

/// AWS's default and largest page of ListNamedShadowsForThing.
const MAX_PAGE: i64 = 100;

/// Runs a shadow route: `labels` holds the thing name.
pub(super) async fn run(
    api: &Api,
    req: &Request,
    op: ShadowOp,
    labels: &[String],
) -> Result<Value, ApiError> {
    let thing = labels.first().cloned().unwrap_or_default();
    let id = ShadowId {
        thing: thing.clone(),
        name: req.query("name").map(str::to_owned),
    };
    match op {
        ShadowOp::Get => run_simple(api, move |tx, _, now| shadow::get(tx, &id, None, now)).await,
        ShadowOp::Update => {
            let body = req.body.to_vec();
            run_publishing(api, move |tx, services, now| {
                let limits = &services.config().shadow;
                shadow::update(tx, &id, &body, limits, now).map(|u| (u.body, u.output))
            })
            .await
        }
        ShadowOp::Delete => {
            run_publishing(api, move |tx, _, now| {
                shadow::delete(tx, &id, None, now).map(|d| (d.body, d.output))
            })
            .await
        }
        ShadowOp::ListNamed => {
            let size = req.query_int("pageSize", 1, MAX_PAGE)?.unwrap_or(MAX_PAGE);
            let size = usize::try_from(size).unwrap_or(1);
            let token = req.query("nextToken").map(str::to_owned);
            run_simple(api, move |tx, _, now| {
                shadow::list_named(tx, &thing, size, token, now)
            })
            .await
        }
    }
}

/// Runs a shadow operation that publishes nothing.
async fn run_simple(
    api: &Api,
    operation: impl FnOnce(&ServiceTx<'_>, &Services, i64) -> Result<Value, ShadowError>
    + Send
    + 'static,
) -> Result<Value, ApiError> {
    run_publishing(api, move |tx, services, now| {
        operation(tx, services, now).map(|body| (body, iot_services::Output::default()))
    })
    .await
}

/// Runs a shadow operation on the services worker and waits for its commit.
async fn run_publishing(
    api: &Api,
    operation: impl FnOnce(
        &ServiceTx<'_>,
        &Services,
        i64,
    ) -> Result<(Value, iot_services::Output), ShadowError>
    + Send
    + 'static,
) -> Result<Value, ApiError> {
    let Some(link) = api.services.as_ref() else {
        return Err(ApiError::not_found(
            "Device Shadows are served under the aws profile only (tether serve --profile aws)",
        ));
    };
    let (reply, answer) = oneshot::channel();
    let call: Call = Box::new(move |tx, services, now| {
        let (result, output) = match operation(tx, services, now) {
            Ok((body, output)) => (Ok(body), output),
            Err(e) => (Err(e), iot_services::Output::default()),
        };
        let done = Box::new(move |committed: bool| {
            let result = if committed {
                result
            } else {
                Err(ShadowError::internal_failure())
            };
            let _ = reply.send(result);
        });
        (output, done as Box<dyn FnOnce(bool) + Send>)
    });
    if !link.call(call) {
        return Err(ApiError::internal("the services worker has stopped"));
    }
    answer
        .await
        .map_err(|_| ApiError::internal("the services worker stopped before answering"))?
        .map_err(shadow_error)
}

/// A shadow error as the HTTP error the `iot-data` model gives its status.
fn shadow_error(e: ShadowError) -> ApiError {
    let status = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = match e.code {
        400 => "InvalidRequestException",
        401 => "UnauthorizedException",
        404 => "ResourceNotFoundException",
        405 => "MethodNotAllowedException",
        409 => "ConflictException",
        413 => "RequestEntityTooLargeException",
        415 => "UnsupportedDocumentEncodingException",
        429 => "ThrottlingException",
        503 => "ServiceUnavailableException",
        _ => "InternalFailureException",
    };
    ApiError::with_status(status, kind, e.message)
}
