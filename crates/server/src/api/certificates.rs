//! Device certificates: CreateKeysAndCertificate and CreateCertificateFromCsr (issued by the
//! data directory's local CA, valid until 2049-12-31 like AWS-issued ones), RegisterCertificate,
//! RegisterCertificateWithoutCA, Describe/Update/Delete/ListCertificates and
//! ListCertificatesByCA; plus the certificate checks CA registration shares
//! (`ca_certificates.rs`). Checks what AWS checks at registration (format, validity period,
//! RSA ≥ 2048 or NIST EC keys, the issuing CA); the store applies the status and delete rules.
//! It does not transfer certificates between accounts.

use openssl::nid::Nid;
use pki::{KeyAlgorithm, KeyDescription, LeafProfile, Validity, X509, X509Ref};
use serde_json::{Map, Value, json};
use store::{Certificate, CertificateMode, CertificateStatus, NewCertificate, Order, Page};

use super::{Api, ApiError, Request, put_opt, required_str, str_member, timestamp};

/// AWS-issued certificates expire at 2049-12-31T23:59:59Z.
const AWS_ISSUED_NOT_AFTER: i64 = 2_524_607_999;

/// Subject of certificates made by CreateKeysAndCertificate.
const GENERATED_SUBJECT: &str = "AWS IoT Certificate";

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
    let (ca, mode) = match str_member(&body, "caCertificatePem")? {
        Some(ca_pem) => {
            let ca = load_certificate(ca_pem, "caCertificatePem")?;
            let ca_id = id_of(&ca)?;
            let registered = api.registry(|s| s.ca_certificate(&ca_id))?.ok_or_else(|| {
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
            let mode = registered.mode;
            (Some(registered), mode)
        }
        None => issuing_ca(api, &certificate)?,
    };
    if let Some(ca) = &ca {
        ca_accepts_registrations(ca)?;
    }
    let ca_id = ca.map(|ca| ca.id);
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

/// DescribeCertificate: `GET /certificates/{certificateId}`.
pub(super) fn describe(api: &Api, id: &str) -> Result<Value, ApiError> {
    let cert = api
        .registry(|s| s.certificate(id))?
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
    let result = api.registry(|s| s.list_certificates(&page))?;
    Ok(certificate_page(api, result))
}

/// ListCertificatesByCA: `GET /certificates-by-ca/{caCertificateId}?pageSize=&marker=&
/// isAscendingOrder=`.
pub(super) fn list_by_ca(api: &Api, req: &Request, ca_id: &str) -> Result<Value, ApiError> {
    let page = req.page("marker", "pageSize", 250, order(req)?)?;
    let result = api.registry(|s| s.list_certificates_by_ca(ca_id, &page))?;
    Ok(certificate_page(api, result))
}

pub(super) fn certificate_page(api: &Api, page: Page<Certificate>) -> Value {
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
    api.registry(|s| s.update_certificate_status(id, status, super::now_ms()))?;
    Ok(json!({}))
}

/// DeleteCertificate: `DELETE /certificates/{certificateId}?forceDelete=`.
pub(super) fn delete(api: &Api, req: &Request, id: &str) -> Result<Value, ApiError> {
    let force = req.query_bool("forceDelete")?.unwrap_or(false);
    api.registry(|s| s.delete_certificate(id, force))?;
    Ok(json!({}))
}

pub(super) fn order(req: &Request) -> Result<Order, ApiError> {
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

pub(super) fn load_certificate(pem: &str, member: &str) -> Result<X509, ApiError> {
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

pub(super) fn check_validity(not_before: i64, not_after: i64, what: &str) -> Result<(), ApiError> {
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
) -> Result<(Option<store::CaCertificate>, CertificateMode), ApiError> {
    if signed_by(certificate, api.ca.certificate()) {
        return Ok((None, CertificateMode::Default));
    }
    let mut page = store::PageRequest::first(store::MAX_PAGE_SIZE);
    loop {
        let result = api.registry(|s| s.list_ca_certificates(&page))?;
        for ca in &result.items {
            if let Ok(loaded) = pki::load_certificate(ca.pem.as_bytes(), &ca.id)
                && signed_by(certificate, &loaded.certificate)
            {
                return Ok((Some(ca.clone()), ca.mode));
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

/// Refuses registering a certificate whose CA is INACTIVE. AWS's guide ("Deactivate a CA
/// certificate") says an INACTIVE CA's certificates are not allowed to be registered, without
/// naming the error; RegisterCertificate's own list has CertificateStateException (406, "The
/// certificate operation is not allowed"), which is the one chosen. Certificates registered
/// before the CA was deactivated keep working, as that page says.
fn ca_accepts_registrations(ca: &store::CaCertificate) -> Result<(), ApiError> {
    if ca.status == store::CaCertificateStatus::Active {
        return Ok(());
    }
    Err(ApiError::with_status(
        axum::http::StatusCode::NOT_ACCEPTABLE,
        "CertificateStateException",
        format!(
            "the certificate's CA certificate {} is {}: set it ACTIVE with UpdateCACertificate \
             before registering certificates it issued",
            ca.id,
            ca.status.as_str()
        ),
    ))
}

/// True when `issuer` issued `certificate` (names match and the signature verifies).
pub(super) fn signed_by(certificate: &X509Ref, issuer: &X509Ref) -> bool {
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

pub(super) fn common_name(certificate: &X509Ref) -> Option<String> {
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

pub(super) fn pem_text(certificate: &X509Ref) -> Result<String, ApiError> {
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
    api.registry(|s| s.register_certificate(&new, super::now_ms()))
}

pub(super) fn hex(bytes: &[u8]) -> String {
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
