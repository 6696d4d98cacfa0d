//! The fleet provisioning control plane (botocore's `iot` model): Create, Describe, List, Update
//! and DeleteProvisioningTemplate, Create, Describe, List and DeleteProvisioningTemplateVersion,
//! CreateProvisioningClaim and RegisterThing (`POST /things`), as the AWS CLI and boto3 call
//! them. Each runs the service's function on the services worker, like the MQTT form, and
//! answers once its change is committed; a provisioning error becomes the exception AWS's model
//! names for it.

use axum::http::StatusCode;
use iot_services::Services;
use iot_services::provisioning::{self, ProvisioningError};
use serde_json::Value;
use store::{Order, ServiceTx};
use tokio::sync::oneshot;

use super::{Api, ApiError, Request};
use crate::services::Call;

/// The largest page of ListProvisioningTemplates (`MaxResults`: 250).
const MAX_PAGE: i64 = 250;

/// The provisioning operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProvisioningOp {
    CreateTemplate,
    ListTemplates,
    DescribeTemplate,
    UpdateTemplate,
    DeleteTemplate,
    CreateVersion,
    ListVersions,
    DescribeVersion,
    DeleteVersion,
    CreateClaim,
    RegisterThing,
}

/// Runs a provisioning route; `labels` are the template name and version id, as the route has.
pub(super) async fn run(
    api: &Api,
    req: &Request,
    op: ProvisioningOp,
    labels: &[String],
) -> Result<Value, ApiError> {
    let name = labels.first().cloned().unwrap_or_default();
    let version = match labels.get(1) {
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            ApiError::invalid_request(format!("versionId {text:?} is not a number"))
        })?),
        None => None,
    };
    let version = version.unwrap_or_default();
    match op {
        ProvisioningOp::CreateTemplate => {
            let body = req.json()?;
            let id = store::thing_id_from_bytes(super::random_16());
            on_worker(api, move |tx, s, now| {
                provisioning::create_template(tx, settings(s), &body, id, now)
            })
            .await
        }
        ProvisioningOp::ListTemplates => {
            let page = req.page("nextToken", "maxResults", MAX_PAGE, Order::Ascending)?;
            on_worker(api, move |tx, s, _| {
                provisioning::list_templates(tx, settings(s), &page)
            })
            .await
        }
        ProvisioningOp::DescribeTemplate => {
            on_worker(api, move |tx, s, _| {
                provisioning::describe_template(tx, settings(s), &name)
            })
            .await
        }
        ProvisioningOp::UpdateTemplate => {
            let body = req.json()?;
            on_worker(api, move |tx, _, now| {
                provisioning::update_template(tx, &name, &body, now)
            })
            .await
        }
        ProvisioningOp::DeleteTemplate => {
            on_worker(api, move |tx, _, _| {
                provisioning::delete_template(tx, &name)
            })
            .await
        }
        ProvisioningOp::CreateVersion => {
            let body = req.json()?;
            let set_as_default = req.query_bool("setAsDefault")?.unwrap_or(false);
            on_worker(api, move |tx, s, now| {
                provisioning::create_version(tx, settings(s), &name, &body, set_as_default, now)
            })
            .await
        }
        ProvisioningOp::ListVersions => {
            on_worker(api, move |tx, _, _| provisioning::list_versions(tx, &name)).await
        }
        ProvisioningOp::DescribeVersion => {
            on_worker(api, move |tx, _, _| {
                provisioning::describe_version(tx, &name, version)
            })
            .await
        }
        ProvisioningOp::DeleteVersion => {
            on_worker(api, move |tx, _, _| {
                provisioning::delete_version(tx, &name, version)
            })
            .await
        }
        ProvisioningOp::CreateClaim => {
            on_worker(api, move |tx, s, now| {
                provisioning::create_claim(tx, settings(s), &name, now)
            })
            .await
        }
        ProvisioningOp::RegisterThing => {
            let body = req.json()?;
            on_worker(api, move |tx, s, now| {
                provisioning::register_thing(tx, settings(s), &body, now)
            })
            .await
        }
    }
}

fn settings(services: &Services) -> &provisioning::ProvisioningSettings {
    &services.config().provisioning
}

/// Runs a provisioning operation on the services worker and waits for its commit.
async fn on_worker(
    api: &Api,
    operation: impl FnOnce(&ServiceTx<'_>, &Services, i64) -> Result<Value, ProvisioningError>
    + Send
    + 'static,
) -> Result<Value, ApiError> {
    let Some(link) = api.services.as_ref() else {
        return Err(ApiError::not_found(
            "fleet provisioning is served under the aws profile only (tether serve --profile aws)",
        ));
    };
    let (reply, answer) = oneshot::channel();
    let call: Call = Box::new(move |tx, services, now| {
        let result = provisioning::atomically(tx, "provisioning request", |tx| {
            operation(tx, services, now)
        });
        let done = Box::new(move |committed: bool| {
            let result = if committed {
                result
            } else {
                Err(ProvisioningError::internal(
                    "the change could not be committed; try again",
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
        .map_err(|e| {
            let status =
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            ApiError::with_status(status, e.exception, e.message)
        })
}
