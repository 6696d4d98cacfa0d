//! The AWS IoT Jobs device plane over HTTP (botocore's `iot-jobs-data` model, requests signed
//! for `iot-jobs-data`): GetPendingJobExecutions (`GET /things/{thingName}/jobs`),
//! DescribeJobExecution (`GET /things/{thingName}/jobs/{jobId}`, `$next` allowed),
//! StartNextPendingJobExecution (`PUT /things/{thingName}/jobs/$next`) and UpdateJobExecution
//! (`POST /things/{thingName}/jobs/{jobId}`). The bodies are the MQTT API's payloads, parsed
//! the same way; the answers are the MQTT answers without `timestamp` and `clientToken`, the
//! job document as a string. StartCommandExecution is not served.

use axum::http::Method;
use iot_services::jobs::{self, Describe, DocumentForm, JobsError, Plane};
use serde_json::Value;

use super::jobs::{jobs_error, run};
use super::{Api, ApiError, Request};

/// Whether `req` is a device-plane Jobs route; dispatches it.
pub(super) async fn route(api: &Api, req: &Request) -> Option<Result<Value, ApiError>> {
    let segments: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let answer = match (segments.as_slice(), &req.method) {
        (["things", thing, "jobs"], &Method::GET) => {
            let thing = (*thing).to_owned();
            run(api, Plane::Device, move |tx, _, _| {
                jobs::check_thing_name(&thing)?;
                Ok((
                    Value::Object(jobs::get_pending(tx, &thing)?),
                    Default::default(),
                ))
            })
            .await
        }
        (["things", thing, "jobs", job], &Method::GET) => {
            let (thing, job) = ((*thing).to_owned(), (*job).to_owned());
            let describe = describe_query(req);
            run(api, Plane::Device, move |tx, _, now| {
                jobs::check_thing_name(&thing)?;
                let body = jobs::describe(tx, &thing, &job, &describe?, DocumentForm::Text, now)?;
                Ok((Value::Object(body), Default::default()))
            })
            .await
        }
        (["things", thing, "jobs", next], &Method::PUT) if *next == jobs::NEXT => {
            let thing = (*thing).to_owned();
            let start = body(req).and_then(|map| jobs::parse_start_next(&map));
            run(api, Plane::Device, move |tx, s, now| {
                jobs::check_thing_name(&thing)?;
                let (body, notes) = jobs::start_next(
                    tx,
                    &s.config().jobs,
                    &thing,
                    &start?,
                    DocumentForm::Text,
                    now,
                )?;
                Ok((Value::Object(body), published(notes)))
            })
            .await
        }
        (["things", thing, "jobs", job], &Method::POST) => {
            let (thing, job) = ((*thing).to_owned(), (*job).to_owned());
            let update = body(req).and_then(|map| jobs::parse_update(&map));
            run(api, Plane::Device, move |tx, s, now| {
                jobs::check_thing_name(&thing)?;
                let (body, notes) = jobs::update(
                    tx,
                    &s.config().jobs,
                    &thing,
                    &job,
                    &update?,
                    DocumentForm::Text,
                    now,
                )?;
                Ok((Value::Object(body), published(notes)))
            })
            .await
        }
        (["command-executions"], &Method::POST) => Err(jobs_error(
            &JobsError::invalid_request(
                "StartCommandExecution is not supported by tether: AWS IoT commands are not \
                 implemented; use a job",
            ),
            Plane::Device,
        )),
        _ => return None,
    };
    Some(answer)
}

fn published(notes: Vec<iot_services::OutMessage>) -> iot_services::Output {
    iot_services::Output {
        publish: notes,
        direct: Vec::new(),
    }
}

/// The request body as the MQTT API's payload object.
fn body(req: &Request) -> Result<serde_json::Map<String, Value>, JobsError> {
    jobs::request_object(&req.body)
}

/// DescribeJobExecution's query: `includeJobDocument` (default true) and `executionNumber`.
fn describe_query(req: &Request) -> Result<Describe, JobsError> {
    let invalid = |e: ApiError| JobsError::invalid_request(e.message);
    Ok(Describe {
        execution_number: req
            .query_int("executionNumber", 1, i64::MAX)
            .map_err(invalid)?,
        include_job_document: req
            .query_bool("includeJobDocument")
            .map_err(invalid)?
            .unwrap_or(true),
    })
}
