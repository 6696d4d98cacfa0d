//! The AWS IoT Jobs control plane (botocore's `iot` model): CreateJob (`PUT /jobs/{jobId}`),
//! DescribeJob, ListJobs, UpdateJob, CancelJob, DeleteJob, AssociateTargetsWithJob,
//! GetJobDocument, DescribeJobExecution, ListJobExecutionsForJob, ListJobExecutionsForThing,
//! CancelJobExecution, DeleteJobExecution and Create/Describe/List/DeleteJobTemplate, as the
//! AWS CLI and boto3 call them. Each runs the service's function on the services worker, like
//! the device side's MQTT form, and answers once its change is committed; what it changes
//! notifies the things concerned. Thing group membership changes reach continuous jobs
//! through [`membership_changed`]. A `documentSource` is read here
//! (a `file://` path, or an `http://` URL on loopback), because reading is IO the services
//! layer does not do. The `iot-jobs-data` routes share these paths and are told apart by the
//! signature's service name (`jobs_data.rs`).

use std::time::Duration;

use axum::http::{Method, StatusCode};
use iot_services::Services;
use iot_services::jobs::{
    self, DocumentInput, ErrorCode, ExecutionStatus, JobsError, Plane, SourceLocation,
};
use serde_json::Value;
use store::{JobFilter, Order, ServiceTx};
use tokio::sync::oneshot;

use super::{Api, ApiError, Request};
use crate::services::Call;

/// The largest page of the Jobs lists (`LaserMaxResults`: 250).
const MAX_PAGE: i64 = 250;

/// How long reading a `documentSource` over HTTP may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `req` is a Jobs route; dispatches it (the device plane when signed for
/// `iot-jobs-data`).
pub(super) async fn route(api: &Api, req: &Request) -> Option<Result<Value, ApiError>> {
    if req.service == "iot-jobs-data" {
        return super::jobs_data::route(api, req).await;
    }
    let segments: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let m = &req.method;
    let answer = match segments.as_slice() {
        ["jobs"] if m == Method::GET => list_jobs(api, req).await,
        ["jobs", job] => match *m {
            Method::PUT => create_job(api, req, job).await,
            Method::GET => {
                let job = (*job).to_owned();
                run(api, Plane::Control, move |tx, s, _| {
                    jobs::describe_job(tx, &s.config().jobs, &job).map(quiet)
                })
                .await
            }
            Method::PATCH => update_job(api, req, job).await,
            Method::DELETE => {
                let (job, force) = ((*job).to_owned(), force(req));
                run(api, Plane::Control, move |tx, _, now| {
                    jobs::delete_job(tx, &job, force?, now)
                })
                .await
            }
            _ => return None,
        },
        ["jobs", job, "cancel"] if m == Method::PUT => cancel_job(api, req, job).await,
        ["jobs", job, "targets"] if m == Method::POST => associate_targets(api, req, job).await,
        ["job-templates"] if m == Method::GET => {
            let page = match req.page("nextToken", "maxResults", MAX_PAGE, Order::Ascending) {
                Ok(page) => page,
                Err(e) => return Some(Err(e)),
            };
            run(api, Plane::Control, move |tx, s, _| {
                jobs::list_templates(tx, &s.config().jobs, &page).map(quiet)
            })
            .await
        }
        ["job-templates", id] => {
            let id = (*id).to_owned();
            match *m {
                Method::PUT => create_template(api, req, &id).await,
                Method::GET => {
                    run(api, Plane::Control, move |tx, s, _| {
                        jobs::describe_template(tx, &s.config().jobs, &id).map(quiet)
                    })
                    .await
                }
                Method::DELETE => {
                    run(api, Plane::Control, move |tx, _, _| {
                        jobs::delete_template(tx, &id).map(quiet)
                    })
                    .await
                }
                _ => return None,
            }
        }
        ["jobs", job, "job-document"] if m == Method::GET => {
            let job = (*job).to_owned();
            run(api, Plane::Control, move |tx, _, _| {
                jobs::job_document(tx, &job).map(quiet)
            })
            .await
        }
        ["jobs", job, "things"] if m == Method::GET => executions_for_job(api, req, job).await,
        ["things", thing, "jobs"] if m == Method::GET => {
            executions_for_thing(api, req, thing).await
        }
        ["things", thing, "jobs", job] if m == Method::GET => {
            let (job, thing) = ((*job).to_owned(), (*thing).to_owned());
            let number = req.query_int("executionNumber", 1, i64::MAX);
            run(api, Plane::Control, move |tx, s, now| {
                let number = number.map_err(invalid)?;
                jobs::describe_execution(tx, &s.config().jobs, &job, &thing, number, now).map(quiet)
            })
            .await
        }
        ["things", thing, "jobs", job, "cancel"] if m == Method::PUT => {
            cancel_execution(api, req, thing, job).await
        }
        ["things", thing, "jobs", job, "executionNumber", number] if m == Method::DELETE => {
            let (job, thing, force) = ((*job).to_owned(), (*thing).to_owned(), force(req));
            let number = number.parse::<i64>().map_err(|_| {
                JobsError::invalid_request(format!("executionNumber {number:?} is not a number"))
            });
            run(api, Plane::Control, move |tx, _, now| {
                jobs::delete_execution(tx, &job, &thing, number?, force?, now)
            })
            .await
        }
        _ => return None,
    };
    Some(answer)
}

/// `things` joined or left thing groups (committed already): continuous jobs follow, on the
/// services worker, before any later Jobs request is served. Nothing waits for the answer; a
/// failure is logged.
pub(super) fn membership_changed(api: &Api, things: Vec<String>) {
    let Some(link) = api.services.as_ref() else {
        return;
    };
    if things.is_empty() {
        return;
    }
    let call: Call = Box::new(move |tx, services, now| {
        let output = jobs::membership_changed(tx, &services.config().jobs, &things, now)
            .unwrap_or_else(|e| {
                tracing::warn!(
                    things = ?things,
                    error = %e.message,
                    "continuous jobs could not follow a thing group membership change"
                );
                iot_services::Output::default()
            });
        (output, Box::new(|_| ()) as Box<dyn FnOnce(bool) + Send>)
    });
    if !link.call(call) {
        tracing::warn!("the services worker has stopped; continuous jobs miss a membership change");
    }
}

/// An answer that publishes nothing.
fn quiet(body: Value) -> (Value, iot_services::Output) {
    (body, iot_services::Output::default())
}

/// A malformed query parameter as the service's refusal.
fn invalid(e: ApiError) -> JobsError {
    JobsError::invalid_request(e.message)
}

fn force(req: &Request) -> Result<bool, JobsError> {
    Ok(req.query_bool("force").map_err(invalid)?.unwrap_or(false))
}

fn status(req: &Request) -> Result<Option<ExecutionStatus>, JobsError> {
    req.query("status")
        .map(|text| {
            ExecutionStatus::parse(text).ok_or_else(|| {
                JobsError::invalid_request(format!("status {text:?} is not a job execution status"))
            })
        })
        .transpose()
}

/// CreateJob: the body is checked, a `documentSource` read, then the job is created.
async fn create_job(api: &Api, req: &Request, job_id: &str) -> Result<Value, ApiError> {
    let body = req.json()?;
    let settings = api_settings(api);
    let create = jobs::parse_create_job(job_id, &body, &settings)
        .map_err(|e| jobs_error(&e, Plane::Control))?;
    let (document, source) = resolve(&create.document).await?;
    let job_id = job_id.to_owned();
    run(api, Plane::Control, move |tx, s, now| {
        let document = document.as_deref();
        jobs::create_job(
            tx,
            &s.config().jobs,
            &create,
            document,
            source.as_deref(),
            now,
        )
    })
    .await
    .map_err(|mut e| {
        if e.kind == "ResourceAlreadyExistsException" {
            e.resource_arn = Some(settings.job_arn(&job_id));
            e.resource_id = Some(job_id);
        }
        e
    })
}

/// AssociateTargetsWithJob: `{"targets": [thing group ARNs], "comment"}`.
async fn associate_targets(api: &Api, req: &Request, job_id: &str) -> Result<Value, ApiError> {
    let body = req.json()?;
    let targets = match body.get("targets") {
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| ApiError::invalid_request("targets must be a list of ARN strings"))?,
        _ => {
            return Err(ApiError::invalid_request(
                "targets is required: a list of at least one thing group ARN",
            ));
        }
    };
    let comment = super::str_member(&body, "comment")?.map(str::to_owned);
    let job_id = job_id.to_owned();
    run(api, Plane::Control, move |tx, s, now| {
        jobs::associate_targets(
            tx,
            &s.config().jobs,
            &job_id,
            &targets,
            comment.as_deref(),
            now,
        )
    })
    .await
}

/// A document given inline or read from its source, with the source's URL; `None` when it
/// comes from a job template.
async fn resolve(input: &DocumentInput) -> Result<(Option<String>, Option<String>), ApiError> {
    match input {
        DocumentInput::Inline(text) => Ok((Some(text.clone()), None)),
        DocumentInput::Source(location) => Ok((
            Some(
                read_source(location)
                    .await
                    .map_err(|e| jobs_error(&e, Plane::Control))?,
            ),
            Some(location.url().to_owned()),
        )),
        DocumentInput::Template => Ok((None, None)),
    }
}

/// CreateJobTemplate: from a document, a `documentSource` (read now) or a job.
async fn create_template(api: &Api, req: &Request, template_id: &str) -> Result<Value, ApiError> {
    let body = req.json()?;
    let create = jobs::parse_create_template(template_id, &body, &api_settings(api))
        .map_err(|e| jobs_error(&e, Plane::Control))?;
    let resolved = match &create.document {
        Some(input) => Some(resolve(input).await?),
        None => None,
    };
    run(api, Plane::Control, move |tx, s, now| {
        let document = resolved
            .as_ref()
            .and_then(|(text, source)| Some((text.as_deref()?, source.as_deref())));
        jobs::create_template(tx, &s.config().jobs, &create, document, now).map(quiet)
    })
    .await
}

/// The Jobs settings the API knows (its ARNs match the worker's).
fn api_settings(api: &Api) -> jobs::JobsSettings {
    jobs::JobsSettings {
        account: api.config.account_id.clone(),
        region: api.config.region.clone(),
        ..jobs::JobsSettings::default()
    }
}

/// Reads a `documentSource` and checks it is a job document.
async fn read_source(location: &SourceLocation) -> Result<String, JobsError> {
    let refused = |why: String| {
        JobsError::invalid_request(format!("documentSource {}: {why}", location.url()))
    };
    let bytes = match location {
        SourceLocation::File { path, .. } => tokio::fs::read(path)
            .await
            .map_err(|e| refused(format!("tether cannot read {path}: {e}")))?,
        SourceLocation::Http { url } => {
            let url = url.clone();
            tokio::task::spawn_blocking(move || fetch(&url))
                .await
                .map_err(|e| refused(format!("the download stopped: {e}")))?
                .map_err(refused)?
        }
    };
    let text = String::from_utf8(bytes).map_err(|_| refused("it is not UTF-8 text".into()))?;
    jobs::check_document(&text).map_err(|e| refused(e.message))?;
    Ok(text)
}

/// GETs a loopback URL, at most one byte more than a job document may hold.
fn fetch(url: &str) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(FETCH_TIMEOUT))
        .build()
        .into();
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| format!("tether cannot download it: {e}"))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(format!("the server answered HTTP {status}"));
    }
    let limit = u64::try_from(jobs::MAX_DOCUMENT_BYTES).unwrap_or(u64::MAX) + 1;
    response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| format!("reading it failed (a job document is at most 32768 bytes): {e}"))
}

async fn list_jobs(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let page = req.page("nextToken", "maxResults", MAX_PAGE, Order::Descending)?;
    let selection = req.query("targetSelection").map(str::to_owned);
    let status = req.query("status").map(str::to_owned);
    let group_name = req.query("thingGroupName").map(str::to_owned);
    let group_id = req.query("thingGroupId").map(str::to_owned);
    if req.query("namespaceId").is_some() {
        return Err(jobs_error(
            &JobsError::invalid_request(
                "namespaceId is not supported by tether: customer-managed job namespaces are \
                 not implemented",
            ),
            Plane::Control,
        ));
    }
    run(api, Plane::Control, move |tx, s, _| {
        if let Some(text) = &status
            && jobs::JobStatus::parse(text).is_none()
        {
            return Err(JobsError::invalid_request(format!(
                "status {text:?} must be IN_PROGRESS, CANCELED, COMPLETED, DELETION_IN_PROGRESS \
                 or SCHEDULED"
            )));
        }
        if let Some(text) = &selection
            && jobs::TargetSelection::parse(text).is_none()
        {
            return Err(JobsError::invalid_request(format!(
                "targetSelection {text:?} must be SNAPSHOT or CONTINUOUS"
            )));
        }
        let thing_group = match (group_name, group_id) {
            (Some(name), _) => Some(name),
            (None, Some(id)) => match tx.thing_group_named_by_id(&id) {
                Ok(Some(name)) => Some(name),
                // No group has this id, so no job targets it.
                Ok(None) => return Ok(quiet(serde_json::json!({ "jobs": [] }))),
                Err(e) => {
                    tracing::error!("jobs store: {e}");
                    return Err(JobsError::internal());
                }
            },
            (None, None) => None,
        };
        let filter = JobFilter {
            status,
            target_selection: selection,
            thing_group,
        };
        jobs::list_jobs(tx, &s.config().jobs, &filter, &page).map(quiet)
    })
    .await
}

async fn update_job(api: &Api, req: &Request, job_id: &str) -> Result<Value, ApiError> {
    let body = req.json()?;
    let update = jobs::parse_update_job(&body).map_err(|e| jobs_error(&e, Plane::Control))?;
    let job_id = job_id.to_owned();
    run(api, Plane::Control, move |tx, _, now| {
        jobs::update_job(tx, &job_id, &update, now).map(quiet)
    })
    .await
}

async fn cancel_job(api: &Api, req: &Request, job_id: &str) -> Result<Value, ApiError> {
    let body = req.json()?;
    let cancel = jobs::parse_cancel_job(&body).map_err(|e| jobs_error(&e, Plane::Control))?;
    let (job_id, force) = (job_id.to_owned(), force(req));
    run(api, Plane::Control, move |tx, s, now| {
        jobs::cancel_job(tx, &s.config().jobs, &job_id, force?, &cancel, now)
    })
    .await
}

async fn cancel_execution(
    api: &Api,
    req: &Request,
    thing: &str,
    job_id: &str,
) -> Result<Value, ApiError> {
    let body = req.json()?;
    let cancel = jobs::parse_cancel_execution(&body).map_err(|e| jobs_error(&e, Plane::Control))?;
    let (job_id, thing, force) = (job_id.to_owned(), thing.to_owned(), force(req));
    run(api, Plane::Control, move |tx, _, now| {
        jobs::cancel_execution(tx, &job_id, &thing, force?, &cancel, now)
    })
    .await
}

async fn executions_for_job(api: &Api, req: &Request, job_id: &str) -> Result<Value, ApiError> {
    let page = req.page("nextToken", "maxResults", MAX_PAGE, Order::Ascending)?;
    let (job_id, status) = (job_id.to_owned(), status(req));
    run(api, Plane::Control, move |tx, s, _| {
        jobs::list_executions_for_job(tx, &s.config().jobs, &job_id, status?, &page).map(quiet)
    })
    .await
}

async fn executions_for_thing(api: &Api, req: &Request, thing: &str) -> Result<Value, ApiError> {
    let page = req.page("nextToken", "maxResults", MAX_PAGE, Order::Ascending)?;
    let (thing, status) = (thing.to_owned(), status(req));
    let job_id = req.query("jobId").map(str::to_owned);
    run(api, Plane::Control, move |tx, _, _| {
        jobs::list_executions_for_thing(tx, &thing, status?, job_id.as_deref(), &page).map(quiet)
    })
    .await
}

/// Runs a Jobs operation on the services worker and waits for its commit; what it publishes
/// goes out after the commit.
pub(super) async fn run(
    api: &Api,
    plane: Plane,
    operation: impl FnOnce(
        &ServiceTx<'_>,
        &Services,
        i64,
    ) -> Result<(Value, iot_services::Output), JobsError>
    + Send
    + 'static,
) -> Result<Value, ApiError> {
    let Some(link) = api.services.as_ref() else {
        return Err(ApiError::not_found(
            "AWS IoT Jobs is served under the aws profile only (tether serve --profile aws)",
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
                Err(JobsError::internal())
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
        .map_err(|e| jobs_error(&e, plane))
}

/// A Jobs error as the HTTP error the model of `plane` gives it.
pub(super) fn jobs_error(e: &JobsError, plane: Plane) -> ApiError {
    let (status, kind) = e.exception(plane);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if e.code == ErrorCode::InternalError {
        tracing::error!("jobs: {}", e.message);
    }
    ApiError::with_status(status, kind, e.message.clone())
}
