//! The device's side of fleet provisioning over MQTT (fleet-provision-api.md):
//! CreateKeysAndCertificate, CreateCertificateFromCsr and RegisterThing, in JSON or CBOR,
//! answered on the request topic's `/accepted` or `/rejected` to the requesting connection alone
//! (AWS answers "through the same MQTT connection"). A new certificate is `PENDING_ACTIVATION`
//! with a certificate ownership token bound to it; RegisterThing proves ownership with the token,
//! runs the template's pre-provisioning hook when it has one (a second step, [`resume`], once
//! the server has its answer), and provisions everything in one savepoint.
//!
//! Where AWS is silent: a token is single-use (deleted once RegisterThing succeeds); a template
//! must be of type `FLEET_PROVISIONING` and enabled. A temporary claim certificate that expires
//! loses its connection (the registry watcher closes connections of certificates no longer
//! registered) and cannot connect again; a request that still arrives from it is refused
//! `AccessDenied`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use store::{CertificateStatus, OwnershipToken, ServiceTx};

use super::apply::{self, Context};
use super::error::ProvisioningError;
use super::hook::{self, HookCall, Resume};
use super::manage::{TYPE_FLEET, load_template};
use super::settings::{ProvisioningSettings, certificate_fields};
use super::template::{Template, Use};
use super::topic::{self, Format, Operation};
use crate::{OutMessage, Output};

/// A claimed publish, as the service needs it.
#[derive(Debug, Clone, Copy)]
pub struct Publish<'a> {
    pub conn: Option<u64>,
    pub client_id: Option<&'a str>,
    /// The publisher's certificate id.
    pub principal: Option<&'a str>,
    pub topic: &'a str,
    pub payload: &'a [u8],
}

/// Handles a request publish: its answer, or the hook to call before answering.
pub fn handle_publish(
    tx: &ServiceTx<'_>,
    settings: &ProvisioningSettings,
    request: &Publish<'_>,
    now_ms: i64,
) -> (Output, Option<HookCall>) {
    let (Some((operation, format)), Some(conn)) = (topic::parse(request.topic), request.conn)
    else {
        return (Output::default(), None);
    };
    let result = apply::atomically(tx, "fleet provisioning request", |tx| {
        run(tx, settings, request, conn, &operation, format, now_ms)
    });
    match result {
        Ok(Step::Answer(body)) => (answer(conn, request.topic, format, Ok(body)), None),
        Ok(Step::Hook(call)) => (Output::default(), Some(call)),
        Err(e) => {
            log(request.topic, &e);
            (answer(conn, request.topic, format, Err(e)), None)
        }
    }
}

fn log(topic: &str, e: &ProvisioningError) {
    if e.status >= 500 {
        tracing::error!("fleet provisioning on {topic}: {e}");
    } else {
        tracing::info!("fleet provisioning on {topic} rejected: {e}");
    }
}

/// What a request's batch answers when it cannot be committed: 500 on `/rejected`.
pub fn failed(conn: Option<u64>, topic: &str) -> Option<Output> {
    let (_, format) = topic::parse(topic)?;
    Some(answer(
        conn?,
        topic,
        format,
        Err(ProvisioningError::internal(
            "the request could not be committed; try again",
        )),
    ))
}

/// The second step of a RegisterThing whose template has a hook: `outcome` is the hook's
/// answer, or why calling it failed.
pub fn resume(
    tx: &ServiceTx<'_>,
    settings: &ProvisioningSettings,
    resume: Resume,
    outcome: Result<Value, String>,
    now_ms: i64,
) -> Output {
    let result = outcome
        .map_err(|e| {
            ProvisioningError::access_denied(format!("the pre-provisioning hook failed: {e}"))
        })
        .and_then(|answer| hook::answer(&answer))
        .and_then(|overrides| {
            let mut parameters = resume.parameters.clone();
            parameters.extend(overrides);
            apply::atomically(tx, "register thing", |tx| {
                register_thing(
                    tx,
                    settings,
                    &resume.template,
                    &resume.token,
                    &parameters,
                    now_ms,
                )
            })
        });
    if let Err(e) = &result {
        log(&resume.topic, e);
    }
    answer(resume.conn, &resume.topic, resume.format, result)
}

/// A request answered at once, or waiting for a hook.
enum Step {
    Answer(Value),
    Hook(HookCall),
}

fn run(
    tx: &ServiceTx<'_>,
    settings: &ProvisioningSettings,
    request: &Publish<'_>,
    conn: u64,
    operation: &Operation,
    format: Format,
    now_ms: i64,
) -> Result<Step, ProvisioningError> {
    let body = format.decode(request.payload)?;
    check_claim(tx, request.principal)?;
    match operation {
        Operation::CreateKeysAndCertificate => {
            let issued = settings.issue_with_key(now_ms, None)?;
            let token = register_pending(tx, settings, &issued, now_ms)?;
            Ok(Step::Answer(json!({
                "certificateId": issued.id,
                "certificatePem": issued.pem,
                "privateKey": issued.private_key.unwrap_or_default(),
                "certificateOwnershipToken": token,
            })))
        }
        Operation::CreateCertificateFromCsr => {
            let csr = match body.get("certificateSigningRequest") {
                Some(Value::String(csr)) if !csr.is_empty() => csr,
                _ => {
                    return Err(ProvisioningError::invalid_request(
                        "certificateSigningRequest is required: the CSR in PEM format",
                    ));
                }
            };
            let issued = settings.issue_from_csr(csr, now_ms)?;
            let token = register_pending(tx, settings, &issued, now_ms)?;
            Ok(Step::Answer(json!({
                "certificateOwnershipToken": token,
                "certificateId": issued.id,
                "certificatePem": issued.pem,
            })))
        }
        Operation::RegisterThing { template } => {
            let token = match body.get("certificateOwnershipToken") {
                None | Some(Value::Null) => "",
                Some(Value::String(t)) => t.as_str(),
                Some(_) => {
                    return Err(ProvisioningError::invalid_token(
                        "Certificate ownership token must be a string.",
                    ));
                }
            };
            let parameters = parameters(&body)?;
            let (stored, _) = load_fleet_template(tx, template)?;
            let owned = valid_token(tx, token, now_ms)?;
            if let Some(hook) = stored
                .pre_provisioning_hook
                .as_deref()
                .and_then(|h| serde_json::from_str::<Value>(h).ok())
                && let Some(target) = hook.get("targetArn").and_then(Value::as_str)
            {
                let pem = tx
                    .certificate(&owned.certificate_id)?
                    .map(|c| c.pem)
                    .unwrap_or_default();
                let event = hook::event(
                    request.principal.unwrap_or_default(),
                    &owned.certificate_id,
                    &pem,
                    &settings.template_arn(template),
                    request.client_id.unwrap_or_default(),
                    &parameters,
                );
                return Ok(Step::Hook(HookCall {
                    target_arn: target.to_owned(),
                    event,
                    resume: Resume {
                        conn,
                        topic: request.topic.to_owned(),
                        format,
                        template: template.clone(),
                        token: token.to_owned(),
                        parameters,
                    },
                }));
            }
            register_thing(tx, settings, template, token, &parameters, now_ms).map(Step::Answer)
        }
    }
}

/// A request from a temporary claim certificate whose record is gone (it expired) is refused.
fn check_claim(tx: &ServiceTx<'_>, principal: Option<&str>) -> Result<(), ProvisioningError> {
    let Some(id) = principal else {
        return Ok(());
    };
    if tx.certificate(id)?.is_none() && tx.claim(id)?.is_none() {
        return Err(ProvisioningError::access_denied(format!(
            "certificate {id} is no longer valid: a provisioning claim expires five minutes after \
             CreateProvisioningClaim"
        )));
    }
    Ok(())
}

fn parameters(body: &Map<String, Value>) -> Result<BTreeMap<String, String>, ProvisioningError> {
    match body.get("parameters") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(ProvisioningError::invalid_payload(format!(
                    "parameters.{k} must be a string"
                ))),
            })
            .collect(),
        Some(_) => Err(ProvisioningError::invalid_payload(
            "parameters must be an object of strings",
        )),
    }
}

/// Registers an issued certificate as `PENDING_ACTIVATION` and hands out its token.
fn register_pending(
    tx: &ServiceTx<'_>,
    settings: &ProvisioningSettings,
    issued: &super::settings::Issued,
    now_ms: i64,
) -> Result<String, ProvisioningError> {
    tx.register_certificate(
        &settings.new_certificate(issued, CertificateStatus::PendingActivation),
        now_ms,
    )?;
    let bytes = pki::random_bytes::<48>()
        .map_err(|e| ProvisioningError::internal(format!("drawing a token failed: {e}")))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    tx.put_ownership_token(&OwnershipToken {
        token: token.clone(),
        certificate_id: issued.id.clone(),
        created_ms: now_ms,
        expires_ms: now_ms.saturating_add(settings.token_lifetime_ms),
    })?;
    Ok(token)
}

fn load_fleet_template(
    tx: &ServiceTx<'_>,
    name: &str,
) -> Result<(store::StoredTemplate, String), ProvisioningError> {
    let (stored, body) = load_template(tx, name)?;
    if !stored.enabled {
        return Err(ProvisioningError::invalid_request(format!(
            "The provisioning template {name} is disabled; enable it with \
             UpdateProvisioningTemplate --enabled"
        )));
    }
    if stored.template_type != TYPE_FLEET {
        return Err(ProvisioningError::invalid_request(format!(
            "The provisioning template {name} is of type {}; RegisterThing over MQTT needs a \
             FLEET_PROVISIONING template",
            stored.template_type
        )));
    }
    Ok((stored, body))
}

fn valid_token(
    tx: &ServiceTx<'_>,
    token: &str,
    now_ms: i64,
) -> Result<OwnershipToken, ProvisioningError> {
    if token.is_empty() {
        return Err(ProvisioningError::invalid_token(
            "Certificate ownership token cannot be empty.",
        ));
    }
    match tx.ownership_token(token)? {
        Some(t) if t.expires_ms > now_ms => Ok(t),
        Some(_) => Err(ProvisioningError::invalid_token(
            "Certificate ownership token has expired: call CreateKeysAndCertificate or \
             CreateCertificateFromCsr again for a new certificate and token",
        )),
        None => Err(ProvisioningError::invalid_token(
            "Certificate ownership token is invalid: use the token of the \
             CreateKeysAndCertificate or CreateCertificateFromCsr answer",
        )),
    }
}

/// RegisterThing with a checked request: the template provisions the token's certificate.
fn register_thing(
    tx: &ServiceTx<'_>,
    settings: &ProvisioningSettings,
    template: &str,
    token: &str,
    parameters: &BTreeMap<String, String>,
    now_ms: i64,
) -> Result<Value, ProvisioningError> {
    let (_, body) = load_fleet_template(tx, template)?;
    let owned = valid_token(tx, token, now_ms)?;
    let cert = tx.certificate(&owned.certificate_id)?.ok_or_else(|| {
        ProvisioningError::invalid_token(format!(
            "the certificate of this ownership token ({}) was deleted",
            owned.certificate_id
        ))
    })?;
    let fields = pki::load_certificate(cert.pem.as_bytes(), &cert.id)
        .map(|loaded| certificate_fields(&cert.id, &loaded.certificate))
        .map_err(|e| ProvisioningError::internal(e.to_string()))?;
    let parsed =
        Template::parse(&body, Use::Fleet).map_err(|e| ProvisioningError::from_template(&e))?;
    let plan = parsed
        .evaluate(parameters, Some(&fields))
        .map_err(|e| ProvisioningError::from_template(&e))?;
    let ctx = Context {
        settings,
        bound_certificate: Some(&cert.id),
    };
    let applied = apply::apply(tx, &ctx, &plan, now_ms)?;
    tx.delete_ownership_token(token)?;
    let mut accepted = Map::new();
    accepted.insert(
        "deviceConfiguration".into(),
        json!(plan.device_configuration),
    );
    if let Some(thing) = applied.thing_name {
        accepted.insert("thingName".into(), Value::String(thing));
    }
    Ok(Value::Object(accepted))
}

/// The answer to connection `conn` on `/accepted` or `/rejected`.
fn answer(
    conn: u64,
    topic: &str,
    format: Format,
    result: Result<Value, ProvisioningError>,
) -> Output {
    let (suffix, body) = match result {
        Ok(body) => ("accepted", body),
        Err(e) => (
            "rejected",
            json!({
                "statusCode": e.status,
                "errorCode": e.code,
                "errorMessage": e.message,
            }),
        ),
    };
    Output {
        publish: Vec::new(),
        direct: vec![(
            conn,
            OutMessage {
                topic: format!("{topic}/{suffix}"),
                payload: format.encode(&body),
                qos: 0,
                headers: None,
                hops: 0,
            },
        )],
    }
}
