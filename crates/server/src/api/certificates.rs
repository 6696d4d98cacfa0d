//! Certificates: CreateKeysAndCertificate and CreateCertificateFromCsr (issued by the data
//! directory's local CA, valid until 2049-12-31 like AWS-issued ones), RegisterCertificate,
//! RegisterCertificateWithoutCA, RegisterCACertificate (with the registration-code
//! verification certificate), Describe/Update/Delete/ListCertificates, Describe/ListCA
//! certificates and GetRegistrationCode. Checks what AWS checks at registration (format,
//! validity period, RSA ≥ 2048 or NIST EC keys, the issuing CA); the store applies the status
//! and delete rules. It does not transfer certificates between accounts.

use openssl::nid::Nid;
use pki::{KeyAlgorithm, KeyDescription, LeafProfile, Validity, X509, X509Ref};
use serde_json::{Map, Value, json};
use store::{
    CaCertificate, CaCertificateStatus, Certificate, CertificateMode, CertificateStatus,
    NewCaCertificate, NewCertificate, Order, Page,
};

use super::{Api, ApiError, Request, put_opt, required_str, str_member, timestamp};

/// AWS-issued certificates expire at 2049-12-31T23:59:59Z.
const AWS_ISSUED_NOT_AFTER: i64 = 2_524_607_999;

/// Subject of certificates made by CreateKeysAndCertificate.
const GENERATED_SUBJECT: &str = "AWS IoT Certificate";

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

/// CreateKeysAndCertificate: `POST /keys-and-certificate?setAsActive=`.
pub(super) fn create_keys_and_certificate(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let status = set_as_active(req)?;
    let key = pki::generate_key(KeyAlgorithm::Rsa2048).map_err(ApiError::internal)?;
    let certificate = api
        .ca
        .issue_client(GENERATED_SUBJECT, &key, aws_issued_validity())
        .map_err(ApiError::internal)?;
    let private_pem =
        pki::private_key_pem(&key, pki::traditional_format(&key)).map_err(ApiError::internal)?;
    let public_pem = pki::public_key_pem(&key).map_err(ApiError::internal)?;
    let stored = store_certificate(api, &certificate, status, None, CertificateMode::Default)?;
    Ok(json!({
        "certificateArn": api.arns.cert(&stored.id),
        "certificateId": stored.id,
        "certificatePem": stored.pem,
        "keyPair": {
            "PublicKey": String::from_utf8_lossy(&public_pem),
            "PrivateKey": String::from_utf8_lossy(&private_pem),
        },
    }))
}

/// CreateCertificateFromCsr: `POST /certificates?setAsActive=`; the CSR's subject is kept.
pub(super) fn create_from_csr(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let status = set_as_active(req)?;
    let body = req.json()?;
    let csr_pem = required_str(&body, "certificateSigningRequest")?;
    let csr = pki::load_csr(csr_pem.as_bytes(), "certificateSigningRequest")
        .map_err(|e| ApiError::invalid_request(e.to_string()))?;
    let public_key = csr.request.public_key().map_err(|e| {
        ApiError::invalid_request(format!("the CSR's public key cannot be read: {e}"))
    })?;
    check_key(&pki::describe_key(&public_key), "the CSR's key")
        .map_err(ApiError::invalid_request)?;
    let certificate = api
        .ca
        .sign_csr(&csr.request, &LeafProfile::Client, aws_issued_validity())
        .map_err(|e| ApiError::invalid_request(e.to_string()))?;
    let stored = store_certificate(api, &certificate, status, None, CertificateMode::Default)?;
    Ok(json!({
        "certificateArn": api.arns.cert(&stored.id),
        "certificateId": stored.id,
        "certificatePem": stored.pem,
    }))
}

/// RegisterCertificate: `POST /certificate/register`. The issuer must be a registered CA
/// certificate (or the local CA that issues tether's own certificates).
pub(super) fn register(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let body = req.json()?;
    let certificate = device_certificate(required_str(&body, "certificatePem")?)?;
    let mut status = status_member(&body)?;
    if req.query_bool("setAsActive")? == Some(true) {
        status = Some(CertificateStatus::Active);
    }
    let (ca_id, mode) = match str_member(&body, "caCertificatePem")? {
        Some(ca_pem) => {
            let ca = load_certificate(ca_pem, "caCertificatePem")?;
            let ca_id = id_of(&ca)?;
            let registered = api
                .store()?
                .ca_certificate(&ca_id)
                .map_err(|e| api.store_error(e))?
                .ok_or_else(|| {
                    ApiError::not_found(format!(
                        "CA certificate {ca_id} is not registered; register it with \
                         RegisterCACertificate first"
                    ))
                })?;
            if !signed_by(&certificate, &ca) {
                return Err(ApiError::certificate_validation(format!(
                    "the certificate was not issued by CA certificate {ca_id}"
                )));
            }
            (Some(registered.id), registered.mode)
        }
        None => issuing_ca(api, &certificate)?,
    };
    let stored = store_certificate(
        api,
        &certificate,
        status.unwrap_or(CertificateStatus::Inactive),
        ca_id,
        mode,
    )?;
    Ok(json!({
        "certificateArn": api.arns.cert(&stored.id),
        "certificateId": stored.id,
    }))
}

/// RegisterCertificateWithoutCA: `POST /certificate/register-no-ca` (mode SNI_ONLY).
pub(super) fn register_without_ca(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let body = req.json()?;
    let certificate = device_certificate(required_str(&body, "certificatePem")?)?;
    let status = status_member(&body)?.unwrap_or(CertificateStatus::Inactive);
    let stored = store_certificate(api, &certificate, status, None, CertificateMode::SniOnly)?;
    Ok(json!({
        "certificateArn": api.arns.cert(&stored.id),
        "certificateId": stored.id,
    }))
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
    let registration_config = match body.get("registrationConfig") {
        None | Some(Value::Null) => None,
        Some(config @ Value::Object(_)) => Some(config.to_string()),
        Some(_) => {
            return Err(ApiError::invalid_request(
                "registrationConfig must be an object",
            ));
        }
    };
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
    let stored = api
        .store()?
        .register_ca_certificate(&new, super::now_ms())
        .map_err(|e| api.store_error(e))?;
    Ok(json!({
        "certificateArn": api.arns.cacert(&stored.id),
        "certificateId": stored.id,
    }))
}

/// DescribeCertificate: `GET /certificates/{certificateId}`.
pub(super) fn describe(api: &Api, id: &str) -> Result<Value, ApiError> {
    let cert = api
        .store()?
        .certificate(id)
        .map_err(|e| api.store_error(e))?
        .ok_or_else(|| ApiError::not_found(format!("certificate {id} does not exist")))?;
    Ok(json!({ "certificateDescription": description(api, &cert) }))
}

fn description(api: &Api, c: &Certificate) -> Value {
    let mut out = Map::new();
    out.insert("certificateArn".into(), json!(api.arns.cert(&c.id)));
    out.insert("certificateId".into(), json!(c.id));
    put_opt(
        &mut out,
        "caCertificateId",
        c.ca_certificate_id.clone().map(Value::String),
    );
    out.insert("status".into(), json!(c.status.as_str()));
    out.insert("certificatePem".into(), json!(c.pem));
    out.insert("ownedBy".into(), json!(c.owned_by));
    put_opt(
        &mut out,
        "previousOwnedBy",
        c.previous_owned_by.clone().map(Value::String),
    );
    out.insert("creationDate".into(), timestamp(c.created_ms));
    out.insert("lastModifiedDate".into(), timestamp(c.modified_ms));
    out.insert("customerVersion".into(), json!(c.generation));
    out.insert("transferData".into(), json!({}));
    out.insert("generationId".into(), json!(c.generation.to_string()));
    out.insert(
        "validity".into(),
        json!({
            "notBefore": timestamp(c.not_before_ms),
            "notAfter": timestamp(c.not_after_ms),
        }),
    );
    out.insert("certificateMode".into(), json!(c.mode.as_str()));
    Value::Object(out)
}

/// ListCertificates: `GET /certificates?pageSize=&marker=&isAscendingOrder=` (newest first
/// unless ascending is asked for).
pub(super) fn list(api: &Api, req: &Request) -> Result<Value, ApiError> {
    let page = req.page("marker", "pageSize", 250, order(req)?)?;
    let result = api
        .store()?
        .list_certificates(&page)
        .map_err(|e| api.store_error(e))?;
    Ok(certificate_page(api, result))
}

fn certificate_page(api: &Api, page: Page<Certificate>) -> Value {
    let certificates: Vec<Value> = page
        .items
        .iter()
        .map(|c| {
            json!({
                "certificateArn": api.arns.cert(&c.id),
                "certificateId": c.id,
                "status": c.status.as_str(),
                "certificateMode": c.mode.as_str(),
                "creationDate": timestamp(c.created_ms),
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert("certificates".into(), Value::Array(certificates));
    put_opt(&mut out, "nextMarker", page.next_token.map(Value::String));
    Value::Object(out)
}

/// UpdateCertificate: `PUT /certificates/{certificateId}?newStatus=`.
pub(super) fn update(api: &Api, req: &Request, id: &str) -> Result<Value, ApiError> {
    let text = req
        .query("newStatus")
        .ok_or_else(|| ApiError::invalid_request("query parameter newStatus is required"))?;
    let status = parse_status(text)?;
    api.store()?
        .update_certificate_status(id, status, super::now_ms())
        .map_err(|e| api.store_error(e))?;
    Ok(json!({}))
}

/// DeleteCertificate: `DELETE /certificates/{certificateId}?forceDelete=`.
pub(super) fn delete(api: &Api, req: &Request, id: &str) -> Result<Value, ApiError> {
    let force = req.query_bool("forceDelete")?.unwrap_or(false);
    api.store()?
        .delete_certificate(id, force)
        .map_err(|e| api.store_error(e))?;
    Ok(json!({}))
}

/// DescribeCACertificate: `GET /cacertificate/{caCertificateId}`.
pub(super) fn describe_ca(api: &Api, id: &str) -> Result<Value, ApiError> {
    let ca = api
        .store()?
        .ca_certificate(id)
        .map_err(|e| api.store_error(e))?
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
    let result = api
        .store()?
        .list_ca_certificates(&page)
        .map_err(|e| api.store_error(e))?;
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

fn order(req: &Request) -> Result<Order, ApiError> {
    Ok(match req.query_bool("isAscendingOrder")? {
        Some(true) => Order::Ascending,
        _ => Order::Descending,
    })
}

fn set_as_active(req: &Request) -> Result<CertificateStatus, ApiError> {
    Ok(match req.query_bool("setAsActive")? {
        Some(true) => CertificateStatus::Active,
        _ => CertificateStatus::Inactive,
    })
}

fn status_member(body: &Map<String, Value>) -> Result<Option<CertificateStatus>, ApiError> {
    str_member(body, "status")?.map(parse_status).transpose()
}

fn parse_status(text: &str) -> Result<CertificateStatus, ApiError> {
    CertificateStatus::parse(text).ok_or_else(|| {
        ApiError::invalid_request(format!(
            "{text:?} is not a certificate status: use ACTIVE, INACTIVE or REVOKED"
        ))
    })
}

fn aws_issued_validity() -> Validity {
    let now = super::now_ms() / 1000;
    Validity {
        not_before: now.saturating_sub(3600),
        not_after: AWS_ISSUED_NOT_AFTER.max(now.saturating_add(86_400)),
    }
}

fn load_certificate(pem: &str, member: &str) -> Result<X509, ApiError> {
    pki::load_certificate(pem.as_bytes(), member)
        .map(|c| c.certificate)
        .map_err(|e| ApiError::certificate_validation(e.to_string()))
}

/// A device certificate as AWS accepts it at registration: parseable, inside its validity
/// period, with an RSA ≥ 2048 or NIST EC key.
fn device_certificate(pem: &str) -> Result<X509, ApiError> {
    let certificate = load_certificate(pem, "certificatePem")?;
    let summary = pki::summarize(&certificate)
        .map_err(|e| ApiError::certificate_validation(e.to_string()))?;
    check_validity(summary.not_before, summary.not_after, "certificatePem")?;
    check_key(&summary.key, "The key in the certificate")
        .map_err(ApiError::certificate_validation)?;
    Ok(certificate)
}

fn check_validity(not_before: i64, not_after: i64, what: &str) -> Result<(), ApiError> {
    let now = super::now_ms() / 1000;
    if now < not_before || now > not_after {
        return Err(ApiError::certificate_validation(format!(
            "{what} is outside its validity period ({} to {})",
            pki::rfc3339(not_before),
            pki::rfc3339(not_after)
        )));
    }
    Ok(())
}

/// AWS accepts RSA keys of at least 2048 bits and EC keys on P-256, P-384 and P-521.
fn check_key(key: &KeyDescription, what: &str) -> Result<(), String> {
    match key {
        KeyDescription::Rsa { bits } if *bits >= 2048 => Ok(()),
        KeyDescription::Ec { curve } if ["P-256", "P-384", "P-521"].contains(&curve.as_str()) => {
            Ok(())
        }
        other => Err(format!(
            "{what} is not valid: {other} is not accepted; use RSA with at least 2048 bits or \
             EC P-256, P-384 or P-521"
        )),
    }
}

/// The registered CA that issued `certificate`, or the local CA (`None` id), or an error.
fn issuing_ca(
    api: &Api,
    certificate: &X509Ref,
) -> Result<(Option<String>, CertificateMode), ApiError> {
    if signed_by(certificate, api.ca.certificate()) {
        return Ok((None, CertificateMode::Default));
    }
    let store = api.store()?;
    let mut page = store::PageRequest::first(store::MAX_PAGE_SIZE);
    loop {
        let result = store
            .list_ca_certificates(&page)
            .map_err(|e| api.store_error(e))?;
        for ca in &result.items {
            if let Ok(loaded) = pki::load_certificate(ca.pem.as_bytes(), &ca.id)
                && signed_by(certificate, &loaded.certificate)
            {
                return Ok((Some(ca.id.clone()), ca.mode));
            }
        }
        match page.after(&result) {
            Some(next) => page = next,
            None => break,
        }
    }
    Err(ApiError::certificate_validation(
        "the certificate was not issued by a registered CA certificate: register its CA with \
         RegisterCACertificate, pass caCertificatePem, or use RegisterCertificateWithoutCA",
    ))
}

/// True when `issuer` issued `certificate` (names match and the signature verifies).
fn signed_by(certificate: &X509Ref, issuer: &X509Ref) -> bool {
    let names_match = match (
        certificate.issuer_name().to_der(),
        issuer.subject_name().to_der(),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    names_match
        && issuer
            .public_key()
            .and_then(|key| certificate.verify(&key))
            .unwrap_or(false)
}

fn common_name(certificate: &X509Ref) -> Option<String> {
    certificate
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
}

fn id_of(certificate: &X509Ref) -> Result<String, ApiError> {
    pki::CertificateId::of(certificate)
        .map(|id| id.as_str().to_owned())
        .map_err(|e| ApiError::certificate_validation(e.to_string()))
}

fn pem_text(certificate: &X509Ref) -> Result<String, ApiError> {
    let pem = pki::certificate_pem(certificate).map_err(ApiError::internal)?;
    String::from_utf8(pem).map_err(ApiError::internal)
}

fn store_certificate(
    api: &Api,
    certificate: &X509Ref,
    status: CertificateStatus,
    ca_certificate_id: Option<String>,
    mode: CertificateMode,
) -> Result<Certificate, ApiError> {
    let summary = pki::summarize(certificate).map_err(ApiError::internal)?;
    let new = NewCertificate {
        id: summary.id.as_str().to_owned(),
        pem: pem_text(certificate)?,
        status,
        ca_certificate_id,
        mode,
        owned_by: api.arns.account.clone(),
        not_before_ms: summary.not_before.saturating_mul(1000),
        not_after_ms: summary.not_after.saturating_mul(1000),
    };
    api.store()?
        .register_certificate(&new, super::now_ms())
        .map_err(|e| api.store_error(e))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rules_follow_aws() {
        assert!(check_key(&KeyDescription::Rsa { bits: 2048 }, "k").is_ok());
        assert!(
            check_key(
                &KeyDescription::Ec {
                    curve: "P-384".into()
                },
                "k"
            )
            .is_ok()
        );
        let e = check_key(&KeyDescription::Rsa { bits: 1024 }, "The key").unwrap_err();
        assert!(e.contains("RSA-1024"), "{e}");
        assert!(check_key(&KeyDescription::Ed25519, "k").is_err());
    }

    #[test]
    fn signed_by_checks_name_and_signature() {
        let validity = Validity::days_from_now(1);
        let ca =
            pki::CertificateAuthority::generate("ca one", KeyAlgorithm::EcP256, validity).unwrap();
        let other =
            pki::CertificateAuthority::generate("ca one", KeyAlgorithm::EcP256, validity).unwrap();
        let key = pki::generate_key(KeyAlgorithm::EcP256).unwrap();
        let leaf = ca.issue_client("dev", &key, validity).unwrap();
        assert!(signed_by(&leaf, ca.certificate()));
        // Same name, different key: refused.
        assert!(!signed_by(&leaf, other.certificate()));
        assert_eq!(common_name(&leaf).as_deref(), Some("dev"));
    }
}
