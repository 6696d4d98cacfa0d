//! CA certificates: RegisterCACertificate (with the registration-code verification
//! certificate, or SNI_ONLY mode), Describe/Update/Delete/ListCACertificates and
//! GetRegistrationCode. The checks shared with device certificates live in `certificates.rs`;
//! the store applies the status and delete rules. A `registrationConfig` template body is
//! checked here; auto-registration itself (JITR/JITP on a device's first connection) is
//! `mqtt/auto_registration.rs`.

use serde_json::{Map, Value, json};
use store::{CaCertificate, CaCertificateStatus, CertificateMode, NewCaCertificate};

use super::certificates::{
    check_validity, common_name, hex, load_certificate, order, pem_text, signed_by,
};
use super::{Api, ApiError, Request, put_opt, required_str, str_member, timestamp};

/// GetRegistrationCode: a stable code per account and region (64 hex digits).
pub(super) fn registration_code(api: &Api) -> Value {
    json!({ "registrationCode": registration_code_of(api) })
}

fn registration_code_of(api: &Api) -> String {
    let seed = format!(
        "tether registration code/{}/{}",
        api.arns.account, api.arns.region
    );
    hex(&openssl::sha::sha256(seed.as_bytes()))
}

/// RegisterCACertificate: `POST /cacertificate?setAsActive=&allowAutoRegistration=`.
pub(super) fn register_ca(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let body = req.json()?;
    let ca = load_certificate(required_str(&body, "caCertificate")?, "caCertificate")?;
    let summary =
        pki::summarize(&ca).map_err(|e| ApiError::certificate_validation(e.to_string()))?;
    if !summary.is_ca {
        return Err(ApiError::certificate_validation(
            "caCertificate is not a CA certificate (basicConstraints CA:TRUE is missing)",
        ));
    }
    check_validity(summary.not_before, summary.not_after, "caCertificate")?;
    let mode = match str_member(&body, "certificateMode")? {
        None => CertificateMode::Default,
        Some(text) => CertificateMode::parse(text).ok_or_else(|| {
            ApiError::invalid_request(format!(
                "certificateMode {text:?} is not DEFAULT or SNI_ONLY"
            ))
        })?,
    };
    if mode == CertificateMode::Default {
        let verification = load_certificate(
            str_member(&body, "verificationCertificate")?.ok_or_else(|| {
                ApiError::invalid_request(
                    "verificationCertificate is required in DEFAULT mode: sign a certificate \
                     whose common name is the GetRegistrationCode code with the CA key, or use \
                     certificateMode SNI_ONLY",
                )
            })?,
            "verificationCertificate",
        )?;
        let code = registration_code_of(api);
        if common_name(&verification).as_deref() != Some(code.as_str()) {
            return Err(ApiError::certificate_validation(format!(
                "the verification certificate's common name must be the registration code \
                 {code} (GetRegistrationCode)"
            )));
        }
        if !signed_by(&verification, &ca) {
            return Err(ApiError::certificate_validation(
                "the verification certificate is not signed by the CA certificate's key",
            ));
        }
    }
    let registration_config = registration_config(&body)?;
    let id = summary.id.as_str().to_owned();
    let new = NewCaCertificate {
        id,
        pem: pem_text(&ca)?,
        status: if req.query_bool("setAsActive")? == Some(true) {
            CaCertificateStatus::Active
        } else {
            CaCertificateStatus::Inactive
        },
        auto_registration: req.query_bool("allowAutoRegistration")? == Some(true),
        mode,
        owned_by: api.arns.account.clone(),
        registration_config,
        not_before_ms: summary.not_before.saturating_mul(1000),
        not_after_ms: summary.not_after.saturating_mul(1000),
    };
    let stored = api.registry(|s| s.register_ca_certificate(&new, super::now_ms()))?;
    Ok(json!({
        "certificateArn": api.arns.cacert(&stored.id),
        "certificateId": stored.id,
    }))
}

/// DescribeCACertificate: `GET /cacertificate/{caCertificateId}`.
pub(super) fn describe_ca(api: &Api, id: &str) -> Result<Value, ApiError> {
    let ca = api
        .registry(|s| s.ca_certificate(id))?
        .ok_or_else(|| ApiError::not_found(format!("CA certificate {id} does not exist")))?;
    let mut out = Map::new();
    out.insert("certificateDescription".into(), ca_description(api, &ca));
    if let Some(config) = &ca.registration_config
        && let Ok(value) = serde_json::from_str::<Value>(config)
    {
        out.insert("registrationConfig".into(), value);
    }
    Ok(Value::Object(out))
}

fn ca_description(api: &Api, ca: &CaCertificate) -> Value {
    json!({
        "certificateArn": api.arns.cacert(&ca.id),
        "certificateId": ca.id,
        "status": ca.status.as_str(),
        "certificatePem": ca.pem,
        "ownedBy": ca.owned_by,
        "creationDate": timestamp(ca.created_ms),
        "autoRegistrationStatus": if ca.auto_registration { "ENABLE" } else { "DISABLE" },
        "lastModifiedDate": timestamp(ca.modified_ms),
        "customerVersion": ca.generation,
        "generationId": ca.generation.to_string(),
        "validity": {
            "notBefore": timestamp(ca.not_before_ms),
            "notAfter": timestamp(ca.not_after_ms),
        },
        "certificateMode": ca.mode.as_str(),
    })
}

/// ListCACertificates: `GET /cacertificates?pageSize=&marker=&isAscendingOrder=`.
pub(super) fn list_ca(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let page = req.page("marker", "pageSize", 250, order(req)?)?;
    let result = api.registry(|s| s.list_ca_certificates(&page))?;
    let certificates: Vec<Value> = result
        .items
        .iter()
        .map(|c| {
            json!({
                "certificateArn": api.arns.cacert(&c.id),
                "certificateId": c.id,
                "status": c.status.as_str(),
                "creationDate": timestamp(c.created_ms),
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("certificates".into(), Value::Array(certificates));
    put_opt(&mut out, "nextMarker", result.next_token.map(Value::String));
    Ok(Value::Object(out))
}

/// UpdateCACertificate: `PUT /cacertificate/{caCertificateId}?newStatus=&
/// newAutoRegistrationStatus=` with an optional body `{"registrationConfig",
/// "removeAutoRegistration"}`.
pub(super) fn update_ca(api: &Api, req: &Request, id: &str) -> Result<Value, ApiError> {
    let status = match req.query("newStatus") {
        None => None,
        Some(text) => Some(match CaCertificateStatus::parse(text) {
            Some(status) => status,
            None => {
                return Err(ApiError::invalid_request(format!(
                    "newStatus {text:?} is not ACTIVE or INACTIVE"
                )));
            }
        }),
    };
    let mut auto_registration = match req.query("newAutoRegistrationStatus") {
        None => None,
        Some("ENABLE") => Some(true),
        Some("DISABLE") => Some(false),
        Some(other) => {
            return Err(ApiError::invalid_request(format!(
                "newAutoRegistrationStatus {other:?} is not ENABLE or DISABLE"
            )));
        }
    };
    let body = req.json()?;
    if body.get("removeAutoRegistration").and_then(Value::as_bool) == Some(true) {
        auto_registration = Some(false);
    }
    let registration_config = registration_config(&body)?;
    api.registry(|s| {
        s.update_ca_certificate(
            id,
            status,
            auto_registration,
            registration_config.as_deref(),
            super::now_ms(),
        )
    })?;
    Ok(json!({}))
}

/// DeleteCACertificate: `DELETE /cacertificate/{caCertificateId}` (refused while ACTIVE).
pub(super) fn delete_ca(api: &Api, id: &str) -> Result<Value, ApiError> {
    api.registry(|s| s.delete_ca_certificate(id))?;
    Ok(json!({}))
}

/// `registrationConfig`, kept as the caller's JSON text. A `templateBody` must be a valid
/// just-in-time provisioning template, refused now rather than at a device's first connection.
fn registration_config(body: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    match body.get("registrationConfig") {
        None | Some(Value::Null) => Ok(None),
        Some(config @ Value::Object(map)) => {
            match map.get("templateBody") {
                None | Some(Value::Null) => {}
                Some(Value::String(template)) => {
                    iot_services::provisioning::Template::parse(
                        template,
                        iot_services::provisioning::Use::Jitp,
                    )
                    .map_err(|e| {
                        ApiError::invalid_request(format!(
                            "registrationConfig.templateBody is invalid: {e}"
                        ))
                    })?;
                }
                Some(_) => {
                    return Err(ApiError::invalid_request(
                        "registrationConfig.templateBody must be a string (the template as JSON text)",
                    ));
                }
            }
            if let Some(Value::String(name)) = map.get("templateName") {
                iot_services::provisioning::check_template_name(name)
                    .map_err(|e| ApiError::invalid_request(e.message))?;
            }
            Ok(Some(config.to_string()))
        }
        Some(_) => Err(ApiError::invalid_request(
            "registrationConfig must be an object",
        )),
    }
}
